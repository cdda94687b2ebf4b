//! Tugas 6 grader's check: `cargo run -p tugas6 --bin check -- --host HOST --port 10001`
//! tests anyone's HTTP server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas6::check::CHECK, |c, _m| {
        tugas6::check::run(c);
        Ok(())
    })
}
