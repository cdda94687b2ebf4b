//! Tugas 4 `get` client: `cargo run -p tugas4 --bin get -- halo.txt` (server running).
use std::process::ExitCode;

fn main() -> ExitCode {
    tugas4::programs::client_main(&tugas4::programs::GET, tugas4::programs::get)
}
