//! Tugas 4 `put` client: `cargo run -p tugas4 --bin put -- path/to/file` (server running).
use std::process::ExitCode;

fn main() -> ExitCode {
    tugas4::programs::client_main(&tugas4::programs::PUT, tugas4::programs::put)
}
