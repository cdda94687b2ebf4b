//! Shared pieces of the Network Programming course workspace: what is no
//! assignment's subject, in layers (see `common/README.md`). Each
//! assignment's own flow (its accept loop, its threads, its transfer) lives
//! in its own crate.
//!
//! Conventions, used by every program:
//! - [`cli`]: flags (`--help`, `--host`, `--port`, `--timeout`, ...) with
//!   defaults shown in the help; no parser crate.
//! - [`error`]: `error: <what>: <cause> (hint)` messages, exit codes 0/1/2,
//!   and [`error::run_main`], the body of every `main`.
//! - [`logging`]: env_logger on stderr, level `info` by default.
//!
//! Plumbing, used by every server and client:
//! - [`net`]: bind (large backlog, helpful errors), the `listening on
//!   IP:PORT` line, connect with a helpful error, a lingering close.
//! - [`stop`]: the stop signal of a server (its accept loop, its
//!   connections, Ctrl-C) and a server running on its own thread.
//! - [`framing`]: read one message up to a delimiter or one line, with a
//!   size cap and a deadline for the whole message; copy exactly N bytes.
//! - [`files`]: names from the network kept inside a folder, files written
//!   under a temporary name and renamed when complete, progress and speed.
//!
//! Message formats, each behind the cargo feature of its name:
//! - `transfer`: the `FILE`/`GET`/`OK`/`ERROR` lines of Tugas 1a, 1b, 3.
//! - `fileproto`: the JSON file protocol of Tugas 4.
//! - `chat`: the chat protocol of Tugas 5.
//! - `http`: HTTP/1.x request heads and responses (Tugas 6 and 8).
//!
//! For graders and benchmarks:
//! - [`check`]: conformance checks that test anyone's server against an
//!   assignment (`PASS`/`FAIL` per requirement, bounded reads, `--json`).
//! - [`grade`]: a whole class in one command (start each student's
//!   server, run the check, stop it, write a gradebook).
//! - [`bench`](mod@bench): reference speeds, peak memory and medians.
//!
//! Test-only, behind the `testkit` feature: `testkit` (fake servers,
//! running a binary, telnet in tmux, network namespaces, temp folders).
//!
//! To use this crate in your own repository, copy the `common/` folder next
//! to the assignment folder: each assignment depends on it by
//! `path = "../common"`.
#![deny(missing_docs)]

mod conventions;
mod formats;
mod graders;
mod plumbing;

pub use conventions::{cli, error, logging};
pub use graders::{bench, check, grade};
pub use plumbing::{files, framing, net, stop};

#[cfg(feature = "chat")]
pub use formats::chat;
#[cfg(feature = "fileproto")]
pub use formats::fileproto;
#[cfg(feature = "http")]
pub use formats::http;
#[cfg(feature = "transfer")]
pub use formats::transfer;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
