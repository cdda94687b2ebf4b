//! Tugas 2 grader's check: `cargo run -p tugas2 --bin check -- --host HOST --port 5005`
//! tests anyone's UDP receiver and prints PASS/FAIL per requirement.
use std::process::ExitCode;

fn main() -> ExitCode {
    common::check::main(&tugas2::check::CHECK, |c, m| {
        let count: u64 = m.parse("count")?;
        let output = m.value("output-file");
        let output = (!output.is_empty()).then(|| std::path::PathBuf::from(output));
        tugas2::check::run_with(c, count, output);
        Ok(())
    })
}
