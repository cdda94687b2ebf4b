//! Tugas 3 grading of a whole class: `cargo run -p tugas3 --bin grade -- --run 'CMD' STUDENT_DIR...`
//! starts each student's server, runs the check, stops it, writes a gradebook.
use std::process::ExitCode;

use common::grade::{Assignment, Transport};

fn main() -> ExitCode {
    common::grade::main(&Assignment {
        name: "tugas3",
        check: &tugas3::check::CHECK,
        transport: Transport::Tcp,
        run: |c, m| {
            tugas3::check::run(c, &tugas3::check::Target::from_matches(m)?);
            Ok(())
        },
    })
}
