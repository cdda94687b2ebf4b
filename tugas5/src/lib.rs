//! Tugas 5: the course's chat service, wire-compatible with its Python
//! `chat.py` server and `chat-cli.py` client, with the two features the
//! assignment asks for added: list the other users, and log out.
//!
//! The assignment: run the chat server, talk to it with `chat-cli`, write
//! the protocol down (`PROTOCOL.md`, in the course's format: NAMA SERVICE,
//! DESKRIPSI, FORMAT DATA, DAFTAR FITUR), then add "show the other users"
//! and "log the active user out".
//!
//! # Wire format
//!
//! One request per line, words separated by spaces, ending in `\r\n`; one
//! JSON object per response, ending in `\r\n\r\n` (written like Python's
//! `json.dumps`, so the bytes match the course's server):
//!
//! ```text
//! > auth messi surabaya
//! < {"status": "OK", "tokenid": "5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18"}
//! > send 5b1f0c3e-8a47-4d2b-9e61-0c7f3a2d4b18 henderson halo apa kabar
//! < {"status": "OK", "message": "Message Sent"}
//! > inbox <henderson's token>
//! < {"status": "OK", "messages": {"messi": [{"msg_from": "Lionel Messi", "msg_to": "Jordan Henderson", "msg": "halo apa kabar"}]}}
//! > users <token>
//! < {"status": "OK", "users": [{"username": "henderson", "name": "Jordan Henderson", "country": "Inggris", "online": true}, ...]}
//! > logout <token>
//! < {"status": "OK", "message": "Logout Berhasil"}
//! ```
//!
//! Errors are `{"status": "ERROR", "message": "..."}` with the course's
//! words: "User Tidak Ada", "Password Salah", "Session Tidak Ditemukan",
//! "User Tidak Ditemukan", "Protocol Tidak Benar". The request and
//! response types live in [`common::chat`].
//!
//! # Run
//!
//! ```text
//! cargo run -p tugas5 --bin server                      # 0.0.0.0:8889
//! cargo run -p tugas5 --bin chat-cli                    # in another terminal
//! cargo run -p tugas5 --bin server -- --users users.example.json
//! cargo run -p tugas5 --release --bin bench
//! cargo run -p tugas5 --bin check -- --host HOST --port 8889   # grade a server
//! ```
//!
//! # Modules
//!
//! - [`server`]: the state (sessions, inboxes) behind one lock, and the
//!   per-connection line loop.
//! - [`users`]: the built-in users and the `--users FILE` loader.
//! - [`token`]: session tokens from the OS's randomness.
//! - [`client`]: one connection, request in, response out.
//! - [`cli`]: the interactive `chat-cli`.
//! - [`check`]: the grader's check of any chat server (`--bin check`).
//! - [`bench`](mod@bench): round trips per second and p99 latency for 1, 10, 100 clients.
#![deny(missing_docs)]

pub mod bench;
pub mod check;
pub mod cli;
pub mod client;
pub mod server;
pub mod token;
pub mod users;

use common::cli::{self as flags, Command, Flag};

pub use server::{handle_connection, run_server, spawn_server, ChatServer};

/// The course's port.
pub const DEFAULT_PORT: u16 = common::chat::DEFAULT_PORT;

/// The server's flags.
pub const SERVER: Command = Command {
    name: "server",
    about: "Tugas 5 chat server: auth, send, inbox, users, logout (the course's chat protocol).",
    args: "",
    flags: &[
        flags::host("0.0.0.0"),
        flags::port("8889"),
        Flag::value(
            "users",
            "FILE",
            "",
            "JSON list of users to load instead of the built-in messi, henderson, lineker",
        ),
        flags::TIMEOUT,
    ],
};

/// `chat-cli`'s flags.
pub const CHAT_CLI: Command = Command {
    name: "chat-cli",
    about: "Tugas 5 chat client: type auth, send, inbox, users, logout, quit (help lists them).",
    args: "",
    flags: &[
        flags::host("127.0.0.1"),
        flags::port("8889"),
        flags::TIMEOUT,
    ],
};

/// The benchmark's flags.
pub const BENCH: Command = Command {
    name: "bench",
    about: "Tugas 5 benchmark: send+inbox round trips per second and p99 latency, chat server vs a fixed-answer baseline.",
    args: "",
    flags: &[
        Flag::value(
            "clients",
            "N",
            "1,10,100",
            "comma-separated numbers of concurrent clients",
        ),
        Flag::value(
            "pairs",
            "N",
            "20000",
            "send+inbox pairs per run, split between the clients",
        ),
        Flag::value("runs", "N", "3", "runs per setting (the median is shown)"),
    ],
};

/// The chat state a `server` command line asks for: the built-in users, or
/// those of `--users FILE`.
///
/// # Errors
/// The users file cannot be read or is not a valid list of users.
pub fn server_from_flags(m: &flags::Matches) -> Result<ChatServer, common::error::AppError> {
    let path = m.value("users");
    if path.is_empty() {
        return Ok(ChatServer::with_builtin_users());
    }
    let list = users::load_users(std::path::Path::new(path))?;
    let count = list.len();
    let server = ChatServer::new(list)
        .map_err(|e| common::error::AppError::new(format!("cannot load users from {path}"), e))?;
    log::info!("{count} users loaded from {path}");
    Ok(server)
}

/// `chat-cli`'s settings from its flags.
///
/// # Errors
/// A bad `--port` or `--timeout`.
pub fn cli_config_from_flags(
    m: &flags::Matches,
    interactive: bool,
) -> Result<cli::CliConfig, flags::CliError> {
    Ok(cli::CliConfig {
        host: m.value("host").to_string(),
        port: m.parse("port")?,
        timeout: m.timeout()?,
        interactive,
    })
}

/// The benchmark's settings from its flags.
///
/// # Errors
/// A `--clients` list that is not positive numbers, or a bad count.
pub fn bench_config_from_flags(m: &flags::Matches) -> Result<bench::BenchConfig, flags::CliError> {
    let raw = m.value("clients");
    let clients: Vec<usize> = raw
        .split(',')
        .map(|s| s.trim().parse::<usize>().ok().filter(|&n| (1..=1000).contains(&n)))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            flags::CliError::Usage(format!(
                "invalid value '{raw}' for --clients: expected numbers from 1 to 1000 separated by commas"
            ))
        })?;
    let pairs: usize = m.parse("pairs")?;
    let runs: usize = m.parse("runs")?;
    if pairs == 0 || runs == 0 {
        return Err(flags::CliError::Usage(
            "--pairs and --runs must be at least 1".to_string(),
        ));
    }
    Ok(bench::BenchConfig {
        clients,
        pairs,
        runs,
    })
}
