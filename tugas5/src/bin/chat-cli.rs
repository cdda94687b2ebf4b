//! Tugas 5 chat client, like the course's `chat-cli.py`:
//! `cargo run -p tugas5 --bin chat-cli`, then `auth messi surabaya`.
//! Also scriptable: `printf 'auth messi surabaya\nusers\n' | chat-cli`.
use std::io::{self, IsTerminal};
use std::process::ExitCode;

use common::error::run_main;
use tugas5::cli::{run_client, CliConfig};

fn main() -> ExitCode {
    run_main(&tugas5::CHAT_CLI, |m| {
        let stdin = io::stdin();
        let config = CliConfig::from_matches(&m, stdin.is_terminal())?;
        run_client(stdin.lock(), io::stdout().lock(), &config)?;
        Ok(())
    })
}
