//! Tugas 4 benchmark: `cargo run -p tugas4 --release --bin bench` puts and
//! gets a 1 GiB file and prints MB/s and peak memory of each side.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::error::run_main(&tugas4::bench::BENCH, tugas4::bench::main)
}
