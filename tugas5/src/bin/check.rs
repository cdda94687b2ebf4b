//! Tugas 5 grader's check: `cargo run -p tugas5 --bin check -- --host HOST --port 8889`
//! tests anyone's chat server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas5::check::CHECK, |c, m| {
        tugas5::check::run(c, &tugas5::check::Setup::from_matches(m));
        Ok(())
    })
}
