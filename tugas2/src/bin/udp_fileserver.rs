//! Receives files from `udp_fileclient` on 127.0.0.1:5005 and saves each
//! complete one to `data.out` (`--output`). Try
//! `cargo run -p tugas2 --bin udp_fileclient -- --file bart.png`.
use std::process::ExitCode;

use common::error::AppError;
use common::stop::Shutdown;
use tugas2::app::{self, FileServerConfig, UDP_FILESERVER};

fn main() -> ExitCode {
    common::error::run_main(&UDP_FILESERVER, |m| {
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        app::run_udp_fileserver(&FileServerConfig::from_matches(&m)?, &shutdown)
    })
}
