//! Tugas 8 grader's check: `cargo run -p tugas8 --bin check -- --host HOST --port 10002`
//! tests anyone's HTTP POST server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas8::check::CHECK, |c, m| {
        tugas8::check::run(c, &tugas8::check::Setup::from_matches(m));
        Ok(())
    })
}
