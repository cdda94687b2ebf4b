//! Tugas 4 grading of a whole class: `cargo run -p tugas4 --bin grade -- --run 'CMD' STUDENT_DIR...`
//! starts each student's server, runs the check, stops it, writes a gradebook.
use std::process::ExitCode;

use common::grade::{Assignment, Transport};

fn main() -> ExitCode {
    common::grade::main(&Assignment {
        name: "tugas4",
        check: &tugas4::check::CHECK,
        transport: Transport::Tcp,
        run: |c, _m| {
            tugas4::check::run(c);
            Ok(())
        },
    })
}
