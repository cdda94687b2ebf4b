//! Tugas 5 chat server. Try it: `cargo run -p tugas5 --bin server`, then
//! `cargo run -p tugas5 --bin chat-cli`, or `nc 127.0.0.1 8889` and type
//! `auth messi surabaya`.
use std::process::ExitCode;
use std::sync::Arc;

use common::error::{run_main, AppError};
use common::net;
use common::stop::Shutdown;
use tugas5::{Config, SERVER};

fn main() -> ExitCode {
    run_main(&SERVER, |m| {
        let shutdown = Shutdown::new();
        shutdown
            .on_ctrl_c()
            .map_err(|e| AppError::io("cannot watch for Ctrl-C", &e))?;
        let config = Config::from_matches(&m)?;
        let chat = config.chat_server()?;
        let listener = net::bind(&config.host, config.port)?;
        net::announce(&listener).map_err(|e| AppError::io("cannot write to stdout", &e))?;
        tugas5::run_server(listener, Arc::new(chat), &config, &shutdown)
            .map_err(|e| AppError::io("the chat server failed", &e))?;
        Ok(())
    })
}
