//! Tugas 1 grader's check: `cargo run -p tugas1 --bin check -- --host HOST --port 31000`
//! tests anyone's echo server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas1::check::CHECK, |c, _m| {
        tugas1::check::run(c);
        Ok(())
    })
}
