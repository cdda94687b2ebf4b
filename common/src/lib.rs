//! Shared pieces of the Network Programming course workspace.
//!
//! Every assignment crate (`tugas1`, `tugas1a`, ...) builds on these so the
//! conventions are written once:
//!
//! - [`chat`]: the chat protocol of Tugas 5 (request lines, JSON responses
//!   written like Python's `json.dumps`, inbox and user types).
//! - [`check`]: conformance checkers that test anyone's server against an
//!   assignment (`PASS`/`FAIL` per requirement, bounded reads, `--json`).
//! - [`bench`](mod@bench): reference speed, peak memory and medians for the benchmark programs.
//! - [`cli`]: flags (`--help`, `--host`, `--port`, `--timeout`, ...) with
//!   defaults shown in the help; no parser crate.
//! - [`error`]: `error: <what>: <cause> (hint)` messages, exit codes 0/1/2,
//!   and [`error::run_main`], the body of every `main`.
//! - [`logging`]: env_logger on stderr, level `info` by default.
//! - [`net`]: bind (large backlog, helpful errors), the `listening on
//!   IP:PORT` line, an accept loop with a thread and timeouts per
//!   connection, connect with a helpful error.
//! - [`framing`]: read one message up to a delimiter or one line, with a
//!   size cap; copy exactly N bytes and notice a short stream.
//! - [`http`]: read an HTTP/1.x request head (size cap, any segmentation),
//!   write a whole response with `Date`, `Content-Length`, `Connection`.
//! - [`files`]: names from the network kept inside a folder, files written
//!   under a temporary name and renamed when complete, progress and speed.
//! - [`fileproto`]: the JSON file protocol of Tugas 4 (requests, responses,
//!   `\r\n\r\n` framing with a size cap, file-name rules).
//! - [`netns`]: two "computers" as Linux network namespaces, for tests.
//! - [`process`]: run a real server binary from a test and wait for its
//!   `listening on` line.
//! - [`telnet`]: drive a real telnet client in tmux, for tests and demos.
//! - [`transfer`]: the `FILE`/`GET`/`OK`/`ERROR` file-transfer format of
//!   Tugas 1a, 1b and 3.
//!
//! To use this crate in your own repository, copy the `common/` folder next
//! to the assignment folder: each assignment depends on it by
//! `path = "../common"`.
#![deny(missing_docs)]

pub mod bench;
pub mod chat;
pub mod check;
pub mod cli;
pub mod error;
pub mod fileproto;
pub mod files;
pub mod framing;
pub mod http;
pub mod logging;
pub mod net;
pub mod netns;
pub mod process;
pub mod telnet;
pub mod transfer;
