//! Sends a file (default `bart.png`) to `udp_fileserver` on 127.0.0.1:5005
//! in datagrams of at most 1024 payload bytes, with acks and retransmission.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::error::run_main(&tugas2::app::UDP_FILECLIENT, |m| {
        tugas2::app::run_udp_fileclient(&m)
    })
}
