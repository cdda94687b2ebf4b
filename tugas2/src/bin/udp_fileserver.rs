//! Receives files from `udp_fileclient` on 127.0.0.1:5005 and saves each
//! complete one to `data.out` (`--output`). Try
//! `cargo run -p tugas2 --bin udp_fileclient -- --file bart.png`.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::error::run_main(&tugas2::app::UDP_FILESERVER, |m| {
        tugas2::app::run_udp_fileserver(&m)
    })
}
