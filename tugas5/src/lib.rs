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
//! - [`server`]: the state (sessions, inboxes) behind one lock, the
//!   per-connection line loop, and the accept loop (a thread per
//!   connection, stopped by a [`common::stop::Shutdown`]).
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

use std::path::PathBuf;
use std::time::Duration;

use common::cli::{self as flags, CliError, Command, Flag, Matches};
use common::error::AppError;

pub use server::{handle_connection, run_server, start_server, ChatServer};

/// The course's port.
pub const DEFAULT_PORT: u16 = common::chat::DEFAULT_PORT;

/// The server's default bind address: every address of the machine.
pub const DEFAULT_HOST: &str = "0.0.0.0";

/// A connection silent this long is closed, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

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
        Flag::value(
            "compare",
            "HOST:PORT",
            "",
            "also measure the chat server running there (e.g. the course's server_thread_chat.py)",
        ),
        Flag::value(
            "compare-users",
            "LIST",
            "messi:surabaya,henderson:surabaya,lineker:surabaya",
            "USER:PASSWORD,... to log in as on the --compare server, shared in turn by the clients",
        ),
    ],
};

/// The server's settings, from its flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Address to bind (`--host`).
    pub host: String,
    /// Port to listen on (`--port`).
    pub port: u16,
    /// Read and write timeout of every connection (`--timeout`): an idle
    /// client is closed after this long.
    pub timeout: Duration,
    /// Users to load instead of the built-in ones (`--users FILE`).
    pub users: Option<PathBuf>,
}

impl Default for Config {
    /// [`DEFAULT_HOST`], [`DEFAULT_PORT`], [`DEFAULT_TIMEOUT`], built-in users.
    fn default() -> Self {
        Config {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            timeout: DEFAULT_TIMEOUT,
            users: None,
        }
    }
}

impl Config {
    /// The settings of a parsed `server` command line.
    ///
    /// # Errors
    /// A bad `--port` or `--timeout`.
    pub fn from_matches(m: &Matches) -> Result<Config, CliError> {
        let users = m.value("users");
        Ok(Config {
            host: m.value("host").to_string(),
            port: m.parse("port")?,
            timeout: m.timeout()?,
            users: (!users.is_empty()).then(|| PathBuf::from(users)),
        })
    }

    /// The chat state these settings ask for: the built-in users, or those
    /// of the `--users` file.
    ///
    /// # Errors
    /// The users file cannot be read or is not a valid list of users.
    pub fn chat_server(&self) -> Result<ChatServer, AppError> {
        let Some(path) = &self.users else {
            return Ok(ChatServer::with_builtin_users());
        };
        let list = users::load_users(path)?;
        let count = list.len();
        let server = ChatServer::new(list)
            .map_err(|e| AppError::new(format!("cannot load users from {}", path.display()), e))?;
        log::info!("{count} users loaded from {}", path.display());
        Ok(server)
    }
}
