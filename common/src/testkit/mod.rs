//! Test-only tooling, behind the `testkit` feature: crates enable it only
//! under `[dev-dependencies]`, so a normal build never compiles it.
//!
//! - [`check`]: fake servers and helpers for testing a check program.
//! - [`netns`]: two "computers" as Linux network namespaces.
//! - [`process`]: run a real program and wait for its `listening on` line.
//! - [`telnet`]: drive a real telnet client in tmux.
//! - [`temp_dir`]: a fresh folder for one test.

use std::path::PathBuf;

pub mod check;
pub mod netns;
pub mod process;
pub mod telnet;

/// A fresh, empty folder under the system's temp folder, unique to this
/// process and call, for tests (`tag` names its purpose).
///
/// # Panics
/// If the folder cannot be made: a test cannot go on without it.
pub fn temp_dir(tag: &str) -> PathBuf {
    crate::bench::scratch_dir(tag)
        .unwrap_or_else(|e| panic!("cannot make a temp folder for {tag}: {e}"))
}
