//! Tugas 1b grader's check: `cargo run -p tugas1b --bin check -- --host HOST --port 31200 --file contoh.txt`
//! tests anyone's download server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas1b::check::CHECK, |c, m| {
        let target = tugas1b::check::Target::from_matches(m)?;
        tugas1b::check::run(c, &target);
        Ok(())
    })
}
