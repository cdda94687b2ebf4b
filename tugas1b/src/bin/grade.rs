//! Tugas 1b grading of a whole class: `cargo run -p tugas1b --bin grade -- --run 'CMD' STUDENT_DIR...`
//! starts each student's server, runs the check, stops it, writes a gradebook.
use std::process::ExitCode;

use common::grade::{Assignment, Transport};

fn main() -> ExitCode {
    common::grade::main(&Assignment {
        name: "tugas1b",
        check: &tugas1b::check::CHECK,
        transport: Transport::Tcp,
        run: |c, m| {
            tugas1b::check::run(c, &tugas1b::check::Target::from_matches(m)?);
            Ok(())
        },
    })
}
