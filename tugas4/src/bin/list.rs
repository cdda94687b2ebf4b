//! Tugas 4 `list` client: `cargo run -p tugas4 --bin list` (server running).
use std::process::ExitCode;

fn main() -> ExitCode {
    tugas4::programs::client_main(&tugas4::programs::LIST, tugas4::programs::list)
}
