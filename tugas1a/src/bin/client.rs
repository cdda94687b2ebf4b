//! Tugas 1a client: `cargo run -p tugas1a --bin client -- --file file.txt`.
use std::process::ExitCode;

use common::error::run_main;
use tugas1a::{run_client, ClientConfig, CLIENT};

fn main() -> ExitCode {
    run_main(&CLIENT, |m| {
        let config = ClientConfig::from_matches(&m)?;
        let (reply, summary) = run_client(&config)?;
        println!("sent {summary}");
        println!("server: {reply}");
        Ok(())
    })
}
