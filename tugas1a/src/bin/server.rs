//! Tugas 1a server: `cargo run -p tugas1a --bin server` then send it a file
//! with the client; it prints the file and writes `hasil.txt`.
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::net;
use common::stop::Shutdown;
use tugas1a::{run_server, Config, SERVER};

fn main() -> ExitCode {
    run_main(&SERVER, |m| {
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        let config = Config::from_matches(&m)?;
        let listener = net::bind(m.value("host"), m.parse("port")?)?;
        net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        log::info!("saving received files as {}", config.output.display());
        run_server(listener, &config, &shutdown).map_err(|e| AppError::io("server failed", &e))?;
        Ok(())
    })
}
