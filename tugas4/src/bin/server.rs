//! Tugas 4 server: `cargo run -p tugas4 --bin server -- --dir files`; try it
//! by hand with `nc -C 127.0.0.1 6666`, typing `{"command":"LIST"}` and two
//! Enters (`-C` sends Enter as `\r\n`).
use std::process::ExitCode;

fn main() -> ExitCode {
    common::error::run_main(&tugas4::programs::SERVER, tugas4::programs::server)
}
