//! Sends "ini angka 1", "ini angka 2", ... to 127.0.0.1:5005 once a second.
//! Watch them with `cargo run -p tugas2 --bin udp_server`, or in Wireshark
//! on interface `lo` with the display filter `udp.port == 5005`.
use std::process::ExitCode;

use tugas2::app::{self, SimpleConfig, UDP_SIMPLE};

fn main() -> ExitCode {
    common::error::run_main(&UDP_SIMPLE, |m| {
        app::run_udp_simple(&SimpleConfig::from_matches(&m)?)
    })
}
