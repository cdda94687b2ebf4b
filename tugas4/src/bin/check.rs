//! Tugas 4 grader's check: `cargo run -p tugas4 --bin check -- --host HOST --port 6666`
//! tests anyone's JSON file server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas4::check::CHECK, |c, _m| {
        tugas4::check::run(c);
        Ok(())
    })
}
