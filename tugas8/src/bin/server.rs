//! Tugas 8 HTTP server. Open http://127.0.0.1:10002/sending.html in a
//! browser, or: `curl -d kirim=ISILAH http://127.0.0.1:10002/sending.html`.
//! Ctrl-C stops it.
use std::process::ExitCode;

use common::error::{exit_code, AppError, MainError};
use common::stop::Shutdown;

fn main() -> ExitCode {
    // First, before any thread starts.
    let shutdown = Shutdown::new();
    let ctrl_c = shutdown.on_ctrl_c();
    common::logging::init();
    exit_code(
        ctrl_c
            .map_err(|e| MainError::from(AppError::io("cannot watch for Ctrl-C", &e)))
            .and_then(|()| tugas8::main_with_args(std::env::args().skip(1), &shutdown)),
    )
}
