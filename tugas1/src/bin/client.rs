//! Tugas 1 echo client: `cargo run -p tugas1 --bin client -- --port 31000 --port 31001 --port 31002`.
use std::process::ExitCode;

use common::error::run_main;
use tugas1::{ClientConfig, CLIENT};

fn main() -> ExitCode {
    run_main(&CLIENT, |m| {
        let c = ClientConfig::from_matches(&m)?;
        tugas1::run_client(&c.targets, &c.message, c.timeout, &mut std::io::stdout())?;
        Ok(())
    })
}
