//! Tugas 1 echo client: `cargo run -p tugas1 --bin client -- --port 31000 --port 31001 --port 31002`.
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas1::CLIENT, |m| {
        let targets = tugas1::targets_from(&m)?;
        let timeout = m.timeout()?;
        tugas1::run_client(
            &targets,
            m.value("message"),
            timeout,
            &mut std::io::stdout(),
        )?;
        Ok(())
    })
}
