//! Tugas 8 grading of a whole class: `cargo run -p tugas8 --bin grade -- --run 'CMD' STUDENT_DIR...`
//! starts each student's server, runs the check, stops it, writes a gradebook.
use std::process::ExitCode;

use common::grade::{Assignment, Transport};

fn main() -> ExitCode {
    common::grade::main(&Assignment {
        name: "tugas8",
        check: &tugas8::check::CHECK,
        transport: Transport::Tcp,
        run: |c, m| {
            tugas8::check::run(c, &tugas8::check::Setup::from_matches(m));
            Ok(())
        },
    })
}
