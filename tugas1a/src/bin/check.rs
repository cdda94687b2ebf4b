//! Tugas 1a grader's check: `cargo run -p tugas1a --bin check -- --host HOST --port 31100`
//! tests anyone's upload server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas1a::check::CHECK, |c, _m| {
        tugas1a::check::run(c);
        Ok(())
    })
}
