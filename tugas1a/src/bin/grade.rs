//! Tugas 1a grading of a whole class: `cargo run -p tugas1a --bin grade -- --run 'CMD' STUDENT_DIR...`
//! starts each student's server, runs the check, stops it, writes a gradebook.
use std::process::ExitCode;

use common::grade::{Assignment, Transport};

fn main() -> ExitCode {
    common::grade::main(&Assignment {
        name: "tugas1a",
        check: &tugas1a::check::CHECK,
        transport: Transport::Tcp,
        run: |c, m| {
            tugas1a::check::run_with(c, tugas1a::check::output_file(m));
            Ok(())
        },
    })
}
