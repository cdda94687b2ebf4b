//! Sends "ini angka 1", "ini angka 2", ... to 127.0.0.1:5005 once a second.
//! Watch them with `cargo run -p tugas2 --bin udp_server`, or in Wireshark
//! on interface `lo` with the display filter `udp.port == 5005`.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::error::run_main(&tugas2::app::UDP_SIMPLE, |m| {
        tugas2::app::run_udp_simple(&m)
    })
}
