//! The course's plain file transfer, as `udp_fileserver --plain` receives it.
//!
//! The course's `udp_fileclient.py` sends the file's bytes as bare
//! datagrams (one byte per datagram, even), with no header: no name, no
//! size, no sequence number, no end marker. The receiver can only append
//! what arrives, in the order it arrives, and guess that the file is over
//! when the sender has been silent for a while (the idle timeout), or when
//! it sends an empty datagram. Nothing is acknowledged, so a lost, doubled
//! or reordered datagram goes unnoticed: fine on one computer, not across a
//! lossy Wi-Fi. That is what this crate's own protocol adds.
//!
//! Each sender address gets its own temporary file; it is renamed to the
//! output name when that sender has been idle for the timeout.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::error::io_cause;
use common::files::{AtomicFile, Summary};

/// One sender's file in progress.
struct PlainFile {
    file: AtomicFile,
    bytes: u64,
    datagrams: u64,
    started: Instant,
    last_heard: Instant,
}

/// The files being received in plain mode, one per sender address.
#[derive(Default)]
pub struct PlainFiles {
    files: HashMap<SocketAddr, PlainFile>,
}

/// What one plain-mode event did, for the receiver's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Bytes appended (or nothing to do).
    Going,
    /// A file was saved.
    Saved,
    /// A file could not be written or saved.
    Failed,
}

impl PlainFiles {
    /// Files in progress.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file is in progress.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Appends `bytes` to `peer`'s file (opening it on the first datagram);
    /// an empty datagram ends the file at once. `max` files at most are in
    /// progress: a datagram of a new sender past that is dropped.
    ///
    /// # Errors
    /// Only when `out` cannot be written.
    pub fn on_datagram(
        &mut self,
        peer: SocketAddr,
        bytes: &[u8],
        output: &Path,
        max: usize,
        out: &mut dyn Write,
    ) -> io::Result<Outcome> {
        if bytes.is_empty() {
            return match self.files.contains_key(&peer) {
                true => self.finish(peer, output, out),
                false => Ok(Outcome::Going),
            };
        }
        if !self.files.contains_key(&peer) {
            if self.files.len() >= max {
                log::warn!("{peer}: plain datagram dropped: {max} files in progress");
                return Ok(Outcome::Going);
            }
            let file = match AtomicFile::create(output) {
                Ok(f) => f,
                Err(e) => {
                    writeln!(
                        out,
                        "plain transfer from {peer} refused: cannot write {}: {}",
                        output.display(),
                        io_cause(&e)
                    )?;
                    return Ok(Outcome::Failed);
                }
            };
            writeln!(out, "receiving plain datagrams from {peer} (no header: the file ends after the sender is idle)")?;
            let now = Instant::now();
            self.files.insert(
                peer,
                PlainFile {
                    file,
                    bytes: 0,
                    datagrams: 0,
                    started: now,
                    last_heard: now,
                },
            );
        }
        let f = self.files.get_mut(&peer).expect("inserted above");
        f.last_heard = Instant::now();
        f.datagrams += 1;
        f.bytes += bytes.len() as u64;
        if let Err(e) = f.file.write_all(bytes) {
            self.files.remove(&peer);
            writeln!(
                out,
                "plain transfer from {peer} failed: cannot write {}: {}",
                output.display(),
                io_cause(&e)
            )?;
            return Ok(Outcome::Failed);
        }
        Ok(Outcome::Going)
    }

    /// Saves the file of every sender silent for `idle`; returns how many
    /// were saved and how many failed.
    ///
    /// # Errors
    /// Only when `out` cannot be written.
    pub fn expire(
        &mut self,
        idle: Duration,
        output: &Path,
        out: &mut dyn Write,
    ) -> io::Result<(u64, u64)> {
        let quiet: Vec<SocketAddr> = self
            .files
            .iter()
            .filter(|(_, f)| f.last_heard.elapsed() >= idle)
            .map(|(p, _)| *p)
            .collect();
        let (mut saved, mut failed) = (0, 0);
        for peer in quiet {
            match self.finish(peer, output, out)? {
                Outcome::Saved => saved += 1,
                Outcome::Failed => failed += 1,
                Outcome::Going => {}
            }
        }
        Ok((saved, failed))
    }

    fn finish(
        &mut self,
        peer: SocketAddr,
        output: &Path,
        out: &mut dyn Write,
    ) -> io::Result<Outcome> {
        let f = self.files.remove(&peer).expect("a file in progress");
        let elapsed = f.last_heard.duration_since(f.started);
        match f.file.commit() {
            Ok(path) => {
                let summary = Summary {
                    label: path.display().to_string(),
                    bytes: f.bytes,
                    elapsed,
                };
                writeln!(
                    out,
                    "saved {summary} ({} plain datagrams from {peer})",
                    f.datagrams
                )?;
                Ok(Outcome::Saved)
            }
            Err(e) => {
                writeln!(
                    out,
                    "plain transfer from {peer} failed: cannot save {}: {}",
                    output.display(),
                    io_cause(&e)
                )?;
                Ok(Outcome::Failed)
            }
        }
    }
}
