//! Tugas 3 grader's check: `cargo run -p tugas3 --bin check -- --host HOST --port 31300 --file contoh.txt`
//! tests anyone's threaded file server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas3::check::CHECK, |c, m| {
        let target = tugas3::check::Target::from_matches(m)?;
        tugas3::check::run(c, &target);
        Ok(())
    })
}
