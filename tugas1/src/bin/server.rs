//! Tugas 1 echo server. Try it: `cargo run -p tugas1 --bin server -- --port 31000 --port 31001`,
//! then `nc 127.0.0.1 31000` and type a line.
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::stop::Shutdown;
use tugas1::{Config, SERVER};

fn main() -> ExitCode {
    run_main(&SERVER, |m| {
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        let config = Config::from_matches(&m)?;
        let listeners = config.bind()?;
        tugas1::run_server(listeners, &config, &shutdown)
            .map_err(|e| AppError::io("the echo server failed", &e))?;
        Ok(())
    })
}
