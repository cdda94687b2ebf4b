//! Tugas 6 HTTP server. Try it: `cargo run -p tugas6 --release --bin server`,
//! then `telnet 127.0.0.1 10001`, type `GET / HTTP/1.0` and press Enter twice;
//! or open http://127.0.0.1:10001/ in a browser.
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::net;

fn main() -> ExitCode {
    run_main(&tugas6::SERVER, |m| {
        let (opts, engine) = tugas6::serve_options(&m)?;
        let host = m.value("host").to_string();
        let port: u16 = m.parse("port")?;
        // Thousands of connections at once need thousands of descriptors.
        if let Some(n) = tugas6::limits::raise_open_files_limit() {
            log::debug!("open files limit: {n}");
        }
        let listener = net::bind(&host, port)?;
        net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        log::debug!("engine: {}", engine.name());
        tugas6::run_server(listener, opts, engine)
            .map_err(|e| AppError::io("cannot start the server", &e))?;
        Ok(())
    })
}
