//! Tugas 3 server: `cargo run -p tugas3 --bin server -- --dir tugas3/files`.
use std::path::PathBuf;
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::net::{self, ServeOptions};

fn main() -> ExitCode {
    run_main(&tugas3::SERVER, |m| {
        let port: u16 = m.parse("port")?;
        let opts = ServeOptions {
            timeout: m.timeout()?,
            ..ServeOptions::default()
        };
        let dir = PathBuf::from(m.value("dir"));
        let full = dir
            .canonicalize()
            .map_err(|e| AppError::io(format!("cannot serve {}", dir.display()), &e))?;
        let listener = net::bind(m.value("host"), port)?;
        net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        log::info!("serving files from {}, a thread per client", full.display());
        tugas3::run_server(listener, opts, full);
        Ok(())
    })
}
