//! Tugas 5 chat server. Try it: `cargo run -p tugas5 --bin server`, then
//! `cargo run -p tugas5 --bin chat-cli`, or `nc 127.0.0.1 8889` and type
//! `auth messi surabaya`.
use std::process::ExitCode;
use std::sync::Arc;

use common::error::{run_main, AppError};
use common::net;

fn main() -> ExitCode {
    run_main(&tugas5::SERVER, |m| {
        let chat = tugas5::server_from_flags(&m)?;
        let port: u16 = m.parse("port")?;
        let opts = tugas5::server::serve_options(m.timeout()?);
        let listener = net::bind(m.value("host"), port)?;
        net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        tugas5::run_server(listener, Arc::new(chat), opts);
        Ok(())
    })
}
