//! Sends a file (default `bart.png`) to `udp_fileserver` on 127.0.0.1:5005
//! in datagrams of at most 1024 payload bytes, with acks and retransmission.
use std::process::ExitCode;

use tugas2::app::{self, FileClientConfig, UDP_FILECLIENT};

fn main() -> ExitCode {
    common::error::run_main(&UDP_FILECLIENT, |m| {
        app::run_udp_fileclient(&FileClientConfig::from_matches(&m)?)
    })
}
