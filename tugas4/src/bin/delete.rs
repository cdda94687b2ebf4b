//! Tugas 4 `delete` client: `cargo run -p tugas4 --bin delete -- halo.txt` (server running).
use std::process::ExitCode;

fn main() -> ExitCode {
    tugas4::programs::client_main(&tugas4::programs::DELETE, tugas4::programs::delete)
}
