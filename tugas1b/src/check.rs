//! The grader's check for Tugas 1b: tests any download server (Python,
//! Java, ours, ...) against the assignment.
//!
//! ```text
//! cargo run -p tugas1b --bin check                                   # 127.0.0.1:31200, contoh.txt
//! cargo run -p tugas1b --bin check -- --file gambar.png --expect-file tugas1b/files/gambar.png
//! ```
//!
//! `--file NAME` is a file that must exist in the server's folder
//! (default `contoh.txt`); `--expect-file PATH` is the grader's own copy
//! of it, to compare byte for byte. Requirements, in order of importance:
//!
//! 1. the server accepts a TCP connection;
//!
//! and, assuming this workspace's format (`GET <name>\n`, answered by
//! `OK <size>\n` and the bytes, or `ERROR <reason>\n`; `--skip-protocol`
//! skips these, for a student whose own request format differs):
//!
//! 2. `GET <file>` answers `OK <size>` and the whole file;
//! 3. with `--expect-file`, the file arrives byte for byte;
//! 4. a file that does not exist gives `ERROR`;
//! 5. names outside the served folder are refused (`../`, `/etc/passwd`);
//! 6. a malformed request gets `ERROR` or a close, and the server keeps
//!    serving.
//!
//! The requirements themselves live in [`common::check::transfer`], shared
//! with Tugas 3.

use common::check::{self, transfer, Checker};
use common::cli::Command;

/// The check program's flags.
pub const CHECK: Command = Command {
    name: "check",
    about: "Tugas 1b grader's check: tests a file-download server (any language).",
    args: "",
    flags: &[
        check::host(),
        check::port("31200"),
        transfer::FILE,
        transfer::EXPECT_FILE,
        check::TIMEOUT,
        check::JSON,
        check::SKIP_PROTOCOL,
    ],
};

/// Which file to ask for and, optionally, what it must contain.
pub type Target = transfer::Download;

/// Runs every Tugas 1b requirement against the server of `c`'s options.
pub fn run(c: &mut Checker, target: &Target) {
    transfer::download_checks(c, &target.file, target.expected());
}
