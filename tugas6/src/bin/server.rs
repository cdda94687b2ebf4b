//! Tugas 6 HTTP server. Try it: `cargo run -p tugas6 --release --bin server`,
//! then `telnet 127.0.0.1 10001`, type `GET / HTTP/1.0` and press Enter twice;
//! or open http://127.0.0.1:10001/ in a browser. Ctrl-C stops it.
use std::process::ExitCode;

use common::error::{exit_code, AppError, MainError};
use common::stop::Shutdown;

fn main() -> ExitCode {
    // First, before any thread starts. The cap on connections is
    // --max-connections, which the engines keep themselves.
    let shutdown = Shutdown::with_max_connections(usize::MAX);
    let ctrl_c = shutdown.on_ctrl_c();
    common::logging::init();
    exit_code(
        ctrl_c
            .map_err(|e| MainError::from(AppError::io("cannot watch for Ctrl-C", &e)))
            .and_then(|()| tugas6::main_with_args(std::env::args().skip(1), &shutdown)),
    )
}
