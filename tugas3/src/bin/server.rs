//! Tugas 3 server: `cargo run -p tugas3 --bin server -- --dir tugas3/files`.
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::net;
use common::stop::Shutdown;
use tugas3::{run_server, Config, SERVER};

fn main() -> ExitCode {
    run_main(&SERVER, |m| {
        // Before any thread starts: Ctrl-C then stops the server cleanly.
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        let config = Config::from_matches(&m)?;
        let listener = net::bind(m.value("host"), m.parse("port")?)?;
        net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        log::info!(
            "serving files from {}, a thread per client",
            config.dir.display()
        );
        run_server(listener, &config, &shutdown).map_err(|e| AppError::io("server failed", &e))?;
        Ok(())
    })
}
