//! Tugas 3 server: `cargo run -p tugas3 --bin server -- --dir tugas3/files`.
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas3::SERVER, |m| {
        let dir = common::files::served_dir(m.value("dir"))?;
        let (listener, opts) = common::net::listen(&m)?;
        log::info!("serving files from {}, a thread per client", dir.display());
        tugas3::run_server(listener, opts, dir);
        Ok(())
    })
}
