//! Tugas 1a server: `cargo run -p tugas1a --bin server` then send it a file
//! with the client; it prints the file and writes `hasil.txt`.
use std::path::PathBuf;
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas1a::SERVER, |m| {
        let output = PathBuf::from(m.value("output"));
        let (listener, opts) = common::net::listen(&m)?;
        log::info!("saving received files as {}", output.display());
        tugas1a::run_server(listener, opts, output, tugas1a::stdout_console());
        Ok(())
    })
}
