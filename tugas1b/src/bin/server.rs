//! Tugas 1b server: `cargo run -p tugas1b --bin server -- --dir tugas1b/files`,
//! then `printf 'GET contoh.txt\n' | nc 127.0.0.1 31200`.
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas1b::SERVER, |m| {
        let dir = common::files::served_dir(m.value("dir"))?;
        let (listener, opts) = common::net::listen(&m)?;
        log::info!("serving files from {}", dir.display());
        tugas1b::run_server(listener, opts, dir);
        Ok(())
    })
}
