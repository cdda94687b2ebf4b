//! Tugas 1b server: `cargo run -p tugas1b --bin server -- --dir tugas1b/files`,
//! then `printf 'GET contoh.txt\n' | nc 127.0.0.1 31200`.
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::net;
use common::stop::Shutdown;
use tugas1b::{run_server, Config, SERVER};

fn main() -> ExitCode {
    run_main(&SERVER, |m| {
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        let config = Config::from_matches(&m)?;
        let listener = net::bind(m.value("host"), m.parse("port")?)?;
        net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        log::info!("serving files from {}", config.dir.display());
        run_server(listener, &config, &shutdown).map_err(|e| AppError::io("server failed", &e))?;
        Ok(())
    })
}
