//! Tugas 1b client: `cargo run -p tugas1b --bin client` asks "nama file: ",
//! or `-- --file gambar.png`; saves into downloads/.
use std::io::{self, IsTerminal};
use std::process::ExitCode;

use common::error::run_main;
use tugas1b::{run_client, ClientConfig, CLIENT};

fn main() -> ExitCode {
    run_main(&CLIENT, |m| {
        let config = ClientConfig::from_matches(&m)?;
        let stdin = io::stdin();
        // Piped input is echoed after the prompt, so the console reads as typed.
        let echo = !stdin.is_terminal();
        let (dest, summary) = run_client(&config, &mut stdin.lock(), &mut io::stdout(), echo)?;
        println!("received {summary}");
        println!("saved to {}", dest.display());
        Ok(())
    })
}
