//! Tugas 2 grading of a whole class: `cargo run -p tugas2 --bin grade -- --run 'CMD' STUDENT_DIR...`
//! starts each student's server, runs the check, stops it, writes a gradebook.
use std::process::ExitCode;

use common::grade::{Assignment, Transport};

fn main() -> ExitCode {
    common::grade::main(&Assignment {
        name: "tugas2",
        check: &tugas2::check::CHECK,
        transport: Transport::Udp,
        run: |c, m| {
            tugas2::check::run(c, m.parse("count")?);
            Ok(())
        },
    })
}
