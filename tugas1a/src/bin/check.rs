//! Tugas 1a grader's check: `cargo run -p tugas1a --bin check -- --host HOST --port 31100 --output-file PATH`
//! tests anyone's upload server and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas1a::check::CHECK, |c, m| {
        tugas1a::check::run_with(c, tugas1a::check::output_file(m));
        Ok(())
    })
}
