//! Tugas 1 echo server. Try it: `cargo run -p tugas1 --bin server -- --port 31000 --port 31001`,
//! then `nc 127.0.0.1 31000` and type a line.
use std::process::ExitCode;

use common::error::{run_main, AppError};
use common::net::{self, ServeOptions};

fn main() -> ExitCode {
    run_main(&tugas1::SERVER, |m| {
        let host = m.value("host").to_string();
        let ports: Vec<u16> = m.parse_all("port")?;
        let opts = ServeOptions {
            timeout: m.timeout()?,
            ..ServeOptions::default()
        };
        let mut listeners = Vec::new();
        for port in ports {
            let listener = net::bind(&host, port)?;
            net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
            listeners.push(listener);
        }
        tugas1::run_server(listeners, opts);
        Ok(())
    })
}
