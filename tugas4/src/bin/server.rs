//! Tugas 4 server: `cargo run -p tugas4 --bin server -- --dir files`; try it
//! by hand with `nc -C 127.0.0.1 6666`, typing `{"command":"LIST"}` and two
//! Enters (`-C` sends Enter as `\r\n`).
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::stop::Shutdown;
use tugas4::programs::{self, SERVER};
use tugas4::Config;

fn main() -> ExitCode {
    run_main(&SERVER, |m| {
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        let config = Config::from_matches(&m)?;
        programs::server(&config, &shutdown)
    })
}
