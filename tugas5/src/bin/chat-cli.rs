//! Tugas 5 chat client, like the course's `chat-cli.py`:
//! `cargo run -p tugas5 --bin chat-cli`, then `auth messi surabaya`.
//! Also scriptable: `printf 'auth messi surabaya\nusers\n' | chat-cli`.
use std::io::{self, IsTerminal};
use std::process::ExitCode;

use common::error::run_main;

fn main() -> ExitCode {
    run_main(&tugas5::CHAT_CLI, |m| {
        let stdin = io::stdin();
        let config = tugas5::cli_config_from_flags(&m, stdin.is_terminal())?;
        tugas5::cli::run_cli(stdin.lock(), io::stdout().lock(), &config)?;
        Ok(())
    })
}
