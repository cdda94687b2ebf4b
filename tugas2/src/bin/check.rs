//! Tugas 2 grader's check: `cargo run -p tugas2 --bin check -- --host HOST --port 5005`
//! tests anyone's UDP receiver and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas2::check::CHECK, |c, m| {
        let count: u64 = m.parse("count")?;
        tugas2::check::run(c, count);
        Ok(())
    })
}
