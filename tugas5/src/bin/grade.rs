//! Tugas 5 grading of a whole class: `cargo run -p tugas5 --bin grade -- --run 'CMD' STUDENT_DIR...`
//! starts each student's server, runs the check, stops it, writes a gradebook.
use std::process::ExitCode;

use common::grade::{Assignment, Transport};

fn main() -> ExitCode {
    common::grade::main(&Assignment {
        name: "tugas5",
        check: &tugas5::check::CHECK,
        transport: Transport::Tcp,
        run: |c, m| {
            tugas5::check::run(c, &tugas5::check::Setup::from_matches(m));
            Ok(())
        },
    })
}
