//! File helpers: names from the network kept inside a folder, files written
//! whole or not at all, and transfer progress.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Write};

use crate::framing::FrameError;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Buffer size for streaming file transfers: large enough that a loopback
/// copy is not limited by system-call overhead, small enough to not matter.
pub const COPY_BUF: usize = 256 * 1024;

/// Sends exactly `len` bytes of `file` into `writer` in [`COPY_BUF`]
/// blocks, calling `on_progress(done)` after each; with `stall`, a peer
/// that takes longer than that for one block is given up on (see
/// [`crate::framing::copy_exact_paced`]).
///
/// # Errors
/// [`FrameError::Truncated`] if the file is shorter than `len` (it shrank
/// while being sent); [`FrameError::Io`] if reading or writing fails or
/// the peer is too slow.
pub fn send_file_bytes<W: Write + ?Sized>(
    file: &mut File,
    writer: &mut W,
    len: u64,
    stall: Option<Duration>,
    on_progress: impl FnMut(u64),
) -> Result<u64, FrameError> {
    let n = crate::framing::copy_exact_paced(file, writer, len, COPY_BUF, stall, on_progress)?;
    writer.flush()?;
    Ok(n)
}

/// Why a requested name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Empty, or only dots/slashes.
    Empty,
    /// An absolute path (`/etc/passwd`, `C:\x`, `\\server\x`).
    Absolute,
    /// Contains `..` or otherwise climbs out of the folder.
    Traversal,
    /// Contains a control character (NUL, a line break, ...) or one of
    /// `< > : " | ? *`, which Windows cannot store in a name.
    BadCharacter,
    /// A device name on Windows (`CON`, `PRN`, `AUX`, `NUL`, `COM1`..,
    /// `LPT1`..), with or without an extension (`nul.txt`).
    Reserved,
    /// Ends in a dot or a space, which Windows silently drops.
    TrailingDotOrSpace,
    /// Has folders in it where only a plain file name is allowed.
    NotPlainName,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::Empty => "empty file name",
            NameError::Absolute => "absolute paths are not allowed",
            NameError::Traversal => "'..' is not allowed in a file name",
            NameError::BadCharacter => {
                "file name contains a control character or one of < > : \" | ? * \
                 (not allowed on Windows)"
            }
            NameError::Reserved => {
                "CON, PRN, AUX, NUL, COM1-9 and LPT1-9 are device names on Windows, \
                 with or without an extension"
            }
            NameError::TrailingDotOrSpace => {
                "a name ending in '.' or ' ' cannot be stored on Windows"
            }
            NameError::NotPlainName => "folders are not allowed in the file name",
        })
    }
}

impl std::error::Error for NameError {}

/// Checks a name that came from the network and returns it as a relative
/// path made only of ordinary components. Both `/` and `\` count as
/// separators, whatever the OS, so a name cannot climb out on any platform.
///
/// The same rule holds on every OS: every part must be a name Windows can
/// store (see [`windows_name_problem`]), so a server on Linux never accepts
/// a file that a grader on Windows could not check out or download.
///
/// # Errors
/// [`NameError`] for empty names, absolute paths, `..`, control
/// characters, and names Windows cannot store.
pub fn check_relative(name: &str) -> Result<PathBuf, NameError> {
    if name.contains(char::is_control) {
        return Err(NameError::BadCharacter);
    }
    if name.starts_with(['/', '\\']) || name.chars().nth(1) == Some(':') {
        return Err(NameError::Absolute);
    }
    let mut out = PathBuf::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => continue,
            ".." => return Err(NameError::Traversal),
            p => {
                if let Some(why) = windows_name_problem(p) {
                    return Err(why);
                }
                // Let the OS's own parser agree that this is one plain part.
                let mut comps = Path::new(p).components();
                match (comps.next(), comps.next()) {
                    (Some(Component::Normal(_)), None) => out.push(p),
                    _ => return Err(NameError::Absolute),
                }
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(NameError::Empty);
    }
    Ok(out)
}

/// Why Windows could not store `part` (one part of a path, no separators)
/// as a file or folder name, whatever OS this runs on: a control character
/// or one of `< > : " | ? *`, a trailing `.` or space, or a device name
/// (`CON`, `PRN`, `AUX`, `NUL`, `COM0`-`COM9`, `LPT0`-`LPT9`, also
/// `COM¹`..`LPT³`, `CONIN$`, `CONOUT$`) in any case, alone or followed by
/// an extension (`nul.txt`, `Com1.tar.gz`, `con .txt`).
pub fn windows_name_problem(part: &str) -> Option<NameError> {
    if part.contains(|c: char| c.is_control() || "<>:\"|?*".contains(c)) {
        return Some(NameError::BadCharacter);
    }
    if part.ends_with(['.', ' ']) {
        return Some(NameError::TrailingDotOrSpace);
    }
    // Windows ignores the extension and the spaces before it.
    let base = part.split('.').next().unwrap_or("").trim_end_matches(' ');
    let upper = base.to_uppercase();
    let reserved = match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => match (upper.get(..3), upper.get(3..)) {
            (Some("COM" | "LPT"), Some(n)) => {
                let mut digits = n.chars();
                matches!(
                    (digits.next(), digits.next()),
                    (Some('0'..='9' | '¹' | '²' | '³'), None)
                )
            }
            _ => false,
        },
    };
    reserved.then_some(NameError::Reserved)
}

/// Checks that `name` is a single plain file name (no folders at all).
///
/// # Errors
/// As [`check_relative`] (names Windows cannot store included), plus
/// [`NameError::NotPlainName`] for `a/b`.
pub fn check_plain_name(name: &str) -> Result<&str, NameError> {
    let rel = check_relative(name)?;
    if rel.components().count() != 1 || name.contains(['/', '\\']) {
        return Err(NameError::NotPlainName);
    }
    Ok(name)
}

/// Why a file inside a served folder could not be opened.
#[derive(Debug)]
pub enum ServeError {
    /// The name itself was refused.
    Name(NameError),
    /// No such file (or it is a folder).
    NotFound,
    /// The name resolves (through a symlink) to somewhere outside the folder.
    Outside,
    /// Another I/O failure.
    Io(io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Name(e) => e.fmt(f),
            ServeError::NotFound => f.write_str("file not found"),
            ServeError::Outside => f.write_str("file is outside the served folder"),
            ServeError::Io(e) => f.write_str(&crate::error::io_cause(e)),
        }
    }
}

impl std::error::Error for ServeError {}

/// Resolves `name` to an existing regular file strictly inside `dir`,
/// following symlinks only if they stay inside.
///
/// # Errors
/// [`ServeError`] for a refused name, a missing file, a folder, or a
/// symlink that leads out of `dir`.
pub fn resolve_in_dir(dir: &Path, name: &str) -> Result<PathBuf, ServeError> {
    let rel = check_relative(name).map_err(ServeError::Name)?;
    let root = dir.canonicalize().map_err(ServeError::Io)?;
    let full = match root.join(rel).canonicalize() {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ServeError::NotFound),
        Err(e) => return Err(ServeError::Io(e)),
    };
    if !full.starts_with(&root) {
        return Err(ServeError::Outside);
    }
    if !full.is_file() {
        return Err(ServeError::NotFound);
    }
    Ok(full)
}

/// The folder a server is told to serve (`--dir`), as an absolute path.
///
/// # Errors
/// An [`AppError`](crate::error::AppError) when it does not exist or is not a folder.
pub fn served_dir(dir: &str) -> Result<PathBuf, crate::error::AppError> {
    let what = format!("cannot serve {dir}");
    let full = Path::new(dir)
        .canonicalize()
        .map_err(|e| crate::error::AppError::io(&what, &e))?;
    if !full.is_dir() {
        return Err(crate::error::AppError::new(what, "not a folder"));
    }
    Ok(full)
}

/// A file written under a temporary name next to its final place and
/// renamed into place by [`AtomicFile::commit`]. Dropped without a commit
/// (an error, a cut connection), the temporary file is removed: a reader
/// never sees a partial file under the final name.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<io::BufWriter<File>>,
    temp: PathBuf,
    dest: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl AtomicFile {
    /// Creates the temporary file for `dest`, making `dest`'s folder if
    /// needed. The temporary name starts with `.` and ends in `.part`.
    ///
    /// # Errors
    /// If the folder cannot be made or the file cannot be created.
    pub fn create(dest: impl Into<PathBuf>) -> io::Result<AtomicFile> {
        let dest = dest.into();
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)?;
        let base = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".to_string());
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = parent.join(format!(".{base}.{}-{n}.part", std::process::id()));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(AtomicFile {
            file: Some(io::BufWriter::with_capacity(COPY_BUF, file)),
            temp,
            dest,
        })
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path being written.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes and renames the file into place, replacing any old file.
    ///
    /// # Errors
    /// If the last write or the rename fails; the temporary file is removed.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let writer = self.file.take().expect("file present until commit");
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        drop(file);
        fs::rename(&self.temp, &self.dest)?;
        Ok(std::mem::take(&mut self.dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() || self.temp.exists() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Removes the temporary files that an [`AtomicFile`] of a process that
/// no longer runs left in `dir` (a server killed mid-transfer): only names
/// of the form `.NAME.PID-N.part`, only directly in `dir`, and only when
/// process PID is gone (or is this process, which has made none yet when
/// a server calls this at start-up). Where it cannot be told whether a
/// process runs (not Unix), only files untouched for a day are removed.
/// Logs one line when it removed anything; returns how many files and
/// bytes it removed.
///
/// # Errors
/// If `dir` cannot be read (a missing folder is not an error: nothing to do).
pub fn remove_stale_temp_files(dir: &Path) -> io::Result<(usize, u64)> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e),
    };
    let (mut files, mut bytes) = (0, 0);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let stale = match super::sys::process_alive(pid) {
            _ if pid == std::process::id() => true,
            Some(alive) => !alive,
            None => meta
                .modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600)),
        };
        if stale && fs::remove_file(entry.path()).is_ok() {
            files += 1;
            bytes += meta.len();
        }
    }
    if files > 0 {
        log::info!(
            "removed {files} temporary file(s) ({}) left in {} by an interrupted transfer",
            human_bytes(bytes),
            dir.display()
        );
    }
    Ok((files, bytes))
}

/// The PID in an [`AtomicFile`] temporary name `.NAME.PID-N.part`.
fn temp_owner(name: &str) -> Option<u32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".part")?;
    let (_, tail) = inner.rsplit_once('.')?;
    let (pid, n) = tail.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Progress of one transfer: a live line on stderr when stderr is a
/// terminal (bytes, %, speed; about 5 updates a second), nothing otherwise;
/// and a [`Summary`] at the end.
///
/// The live line is redrawn in place with a carriage return. Where the
/// terminal does ANSI escapes (see [`ansi_terminal`]) the rest of the old
/// line is erased with `ESC [K`; elsewhere (the Windows console, `TERM=dumb`)
/// it is overwritten with spaces, so no escape code ever shows as `←[K`.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: Option<u64>,
    start: Instant,
    last_draw: Instant,
    live: bool,
    line: LiveLine,
    drawn: bool,
    shared: Option<Arc<Tracker>>,
}

/// Whether stderr's terminal understands ANSI escapes: on Unix when `TERM`
/// is set and not `dumb`; never on Windows (its console shows them as text
/// unless a program turns them on, which this one does not).
pub fn ansi_terminal() -> bool {
    !cfg!(windows) && std::env::var_os("TERM").is_some_and(|t| !t.is_empty() && t != "dumb")
}

/// One status line redrawn in place on a terminal (what [`Progress`] and
/// Tugas 3's board of downloads draw), with or without ANSI escapes.
#[derive(Debug, Clone)]
pub struct LiveLine {
    ansi: bool,
    /// Widest line drawn so far, in characters (what spaces must cover).
    width: usize,
}

impl LiveLine {
    /// For stderr's terminal ([`ansi_terminal`]).
    pub fn new() -> LiveLine {
        LiveLine::with_ansi(ansi_terminal())
    }

    /// With or without escapes.
    pub fn with_ansi(ansi: bool) -> LiveLine {
        LiveLine { ansi, width: 0 }
    }

    /// The bytes that redraw the line as `line`: `\r`, the line, then the
    /// erase-to-end escape, or enough spaces to cover the widest line drawn
    /// before.
    pub fn redraw(&mut self, line: &str) -> String {
        let n = line.chars().count();
        let out = if self.ansi {
            format!("\r{line}\x1b[K")
        } else {
            format!("\r{line}{}", " ".repeat(self.width.saturating_sub(n)))
        };
        self.width = self.width.max(n);
        out
    }

    /// The bytes that clear the line (before a summary is printed there).
    pub fn clear(&self) -> String {
        if self.ansi {
            "\r\x1b[K".to_string()
        } else {
            format!("\r{}\r", " ".repeat(self.width))
        }
    }
}

impl Default for LiveLine {
    fn default() -> Self {
        LiveLine::new()
    }
}

/// Counters another thread can read while a transfer runs (Tugas 3 shows
/// several downloads on one status line this way).
#[derive(Debug, Default)]
pub struct Tracker {
    /// Bytes through so far.
    pub done: AtomicU64,
    /// Total bytes, once known (0 = not known yet).
    pub total: AtomicU64,
}

impl Progress {
    /// Starts timing a transfer of `total` bytes (if known) named `label`.
    pub fn new(label: impl Into<String>, total: Option<u64>) -> Progress {
        Progress::with_live(label, total, io::stderr().is_terminal())
    }

    /// As [`Progress::new`], choosing whether to draw the live line.
    pub fn with_live(label: impl Into<String>, total: Option<u64>, live: bool) -> Progress {
        let now = Instant::now();
        Progress {
            label: label.into(),
            total,
            start: now,
            last_draw: now,
            live,
            line: LiveLine::new(),
            drawn: false,
            shared: None,
        }
    }

    /// Also publishes every update to `tracker`.
    pub fn tracked(mut self, tracker: Arc<Tracker>) -> Progress {
        if let Some(total) = self.total {
            tracker.total.store(total, Ordering::Relaxed);
        }
        self.shared = Some(tracker);
        self
    }

    /// Sets the total once it is known (a download learns it from the server).
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        if let Some(t) = &self.shared {
            t.total.store(total, Ordering::Relaxed);
        }
    }

    /// Records that `done` bytes are through; redraws at most 5 times a second.
    pub fn update(&mut self, done: u64) {
        if let Some(t) = &self.shared {
            t.done.store(done, Ordering::Relaxed);
        }
        if !self.live || self.last_draw.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last_draw = Instant::now();
        self.drawn = true;
        let secs = self.start.elapsed().as_secs_f64();
        let mut line = format!("{}: {}", self.label, human_bytes(done));
        if let Some(total) = self.total.filter(|t| *t > 0) {
            line.push_str(&format!(
                " of {} ({:.0}%)",
                human_bytes(total),
                done as f64 * 100.0 / total as f64
            ));
        }
        line.push_str(&format!(", {:.1} MB/s", mb_per_s(done, secs)));
        eprint!("{}", self.line.redraw(&line));
        let _ = io::stderr().flush();
    }

    /// Ends the live line and returns the summary for `bytes`.
    pub fn finish(self, bytes: u64) -> Summary {
        if self.drawn {
            eprint!("{}", self.line.clear());
        }
        Summary {
            label: self.label,
            bytes,
            elapsed: self.start.elapsed(),
        }
    }
}

/// What a finished transfer moved, and how fast.
#[derive(Debug, Clone)]
pub struct Summary {
    /// What was transferred (usually the file name).
    pub label: String,
    /// Bytes moved.
    pub bytes: u64,
    /// Time from start to finish.
    pub elapsed: Duration,
}

impl Summary {
    /// Megabytes (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        mb_per_s(self.bytes, self.elapsed.as_secs_f64())
    }
}

impl fmt::Display for Summary {
    /// `file.txt: 1048576 bytes in 0.012 s (87.4 MB/s)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} bytes in {:.3} s ({:.1} MB/s)",
            self.label,
            self.bytes,
            self.elapsed.as_secs_f64(),
            self.mb_per_s()
        )
    }
}

/// Megabytes (10^6 bytes) per second; 0 for a zero duration.
pub fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    if secs <= 0.0 {
        0.0
    } else {
        bytes as f64 / 1e6 / secs
    }
}

/// `1.5 MiB`, `12 B`: a size for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_are_checked() {
        assert_eq!(check_relative("a.txt").unwrap(), PathBuf::from("a.txt"));
        assert_eq!(
            check_relative("./sub//b.png").unwrap(),
            PathBuf::from("sub/b.png")
        );
        for (bad, why) in [
            ("", NameError::Empty),
            ("./", NameError::Empty),
            ("../secret", NameError::Traversal),
            ("a/../../b", NameError::Traversal),
            ("..\\win", NameError::Traversal),
            ("/etc/passwd", NameError::Absolute),
            ("\\\\server\\share", NameError::Absolute),
            ("C:\\Windows", NameError::Absolute),
            ("a\0b", NameError::BadCharacter),
            ("a\nb", NameError::BadCharacter),
        ] {
            assert_eq!(check_relative(bad), Err(why), "{bad:?}");
        }
        assert_eq!(check_plain_name("a/b"), Err(NameError::NotPlainName));
        assert_eq!(check_plain_name("bart.png"), Ok("bart.png"));
    }

    /// Names Windows cannot store are refused on every OS, in every part
    /// of a path; names that merely look like them are fine.
    #[test]
    fn names_windows_cannot_store_are_refused_everywhere() {
        for (bad, why) in [
            ("CON", NameError::Reserved),
            ("con", NameError::Reserved),
            ("nul.txt", NameError::Reserved),
            ("Com1.tar.gz", NameError::Reserved),
            ("LPT9", NameError::Reserved),
            ("lpt0.log", NameError::Reserved),
            ("COM\u{b9}", NameError::Reserved),
            ("AUX", NameError::Reserved),
            ("PRN.md", NameError::Reserved),
            ("con .txt", NameError::Reserved),
            ("CONOUT$", NameError::Reserved),
            ("sub/NUL", NameError::Reserved),
            ("aux/x.txt", NameError::Reserved),
            ("a:b", NameError::Absolute), // a drive-relative path on Windows
            ("x/a:b", NameError::BadCharacter),
            ("ab:c", NameError::BadCharacter),
            ("a<b", NameError::BadCharacter),
            ("a>b", NameError::BadCharacter),
            ("a\"b", NameError::BadCharacter),
            ("a|b", NameError::BadCharacter),
            ("what?", NameError::BadCharacter),
            ("*.txt", NameError::BadCharacter),
            ("tab\there", NameError::BadCharacter),
            ("bell\u{7}", NameError::BadCharacter),
            ("del\u{7f}", NameError::BadCharacter),
            ("trailing.", NameError::TrailingDotOrSpace),
            ("trailing ", NameError::TrailingDotOrSpace),
            ("dir./x", NameError::TrailingDotOrSpace),
            ("...", NameError::TrailingDotOrSpace),
        ] {
            assert_eq!(check_relative(bad), Err(why.clone()), "{bad:?}");
            assert!(check_plain_name(bad).is_err(), "{bad:?}");
        }
        for good in [
            "console.txt",
            "CONFIG",
            "nully",
            "COM10",
            "LPT",
            "com1x.txt",
            "a.b.c",
            " leading",
            "con_txt",
            "Gambar Baru.png",
            "b\u{e4}r.txt",
        ] {
            assert!(check_relative(good).is_ok(), "{good:?}");
            assert_eq!(check_plain_name(good), Ok(good));
        }
        assert!(NameError::Reserved
            .to_string()
            .contains("device names on Windows"));
    }

    #[test]
    fn resolve_stays_inside_the_folder() {
        let root = crate::testkit::temp_dir("common-files-root");
        let served = root.join("served");
        fs::create_dir_all(served.join("sub")).unwrap();
        fs::write(served.join("ok.txt"), b"ok").unwrap();
        fs::write(served.join("sub/in.txt"), b"in").unwrap();
        fs::write(root.join("secret.txt"), b"secret").unwrap();
        assert!(resolve_in_dir(&served, "ok.txt")
            .unwrap()
            .ends_with("ok.txt"));
        assert!(resolve_in_dir(&served, "sub/in.txt").is_ok());
        assert!(matches!(
            resolve_in_dir(&served, "nope.txt"),
            Err(ServeError::NotFound)
        ));
        assert!(matches!(
            resolve_in_dir(&served, "sub"),
            Err(ServeError::NotFound)
        ));
        assert!(matches!(
            resolve_in_dir(&served, "../secret.txt"),
            Err(ServeError::Name(NameError::Traversal))
        ));
        let abs = root.join("secret.txt");
        assert!(matches!(
            resolve_in_dir(&served, abs.to_str().unwrap()),
            Err(ServeError::Name(NameError::Absolute))
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("secret.txt"), served.join("link.txt")).unwrap();
            assert!(matches!(
                resolve_in_dir(&served, "link.txt"),
                Err(ServeError::Outside)
            ));
        }
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn atomic_file_appears_only_on_commit() {
        let dir = crate::testkit::temp_dir("common-files-atomic");
        let dest = dir.join("out/hasil.txt");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"half").unwrap();
        let temp = f.temp_path().to_path_buf();
        assert!(temp.exists());
        assert!(!dest.exists());
        drop(f);
        assert!(!temp.exists(), "temp file left behind");
        assert!(!dest.exists());

        let mut f = AtomicFile::create(&dest).unwrap();
        f.write_all(b"whole").unwrap();
        let temp = f.temp_path().to_path_buf();
        assert_eq!(f.commit().unwrap(), dest);
        assert_eq!(fs::read(&dest).unwrap(), b"whole");
        assert!(!temp.exists());
        assert_eq!(fs::read_dir(dest.parent().unwrap()).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn summary_line() {
        let s = Summary {
            label: "f".into(),
            bytes: 2_000_000,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(s.to_string(), "f: 2000000 bytes in 2.000 s (1.0 MB/s)");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
        let p = Progress::with_live("x", Some(10), false);
        assert_eq!(p.finish(10).bytes, 10);
    }

    #[test]
    fn temp_names_give_their_owner() {
        assert_eq!(temp_owner(".hasil.txt.4242-0.part"), Some(4242));
        assert_eq!(temp_owner(".a.b.7-12.part"), Some(7));
        for other in [
            "hasil.txt",
            ".hasil.txt",
            ".x.part",
            ".x.12.part",
            ".x.ab-1.part",
            "x.1-2.part",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temp_files_go_and_everything_else_stays() {
        let dir = crate::testkit::temp_dir("common-files-stale");
        // A process that has ended: a child we waited for.
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--list")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.join(format!(".big.bin.{dead}-3.part"));
        fs::write(&stale, vec![0u8; 1000]).unwrap();
        // Another process that runs (our parent): its file stays.
        #[cfg(unix)]
        let running = dir.join(format!(
            ".up.bin.{}-0.part",
            std::os::unix::process::parent_id()
        ));
        #[cfg(unix)]
        fs::write(&running, b"busy").unwrap();
        // This process's own: a server calls this at start-up, before it
        // made any, so one with its PID is an earlier process's (PID reused).
        let ours = dir.join(format!(".old.txt.{}-9.part", std::process::id()));
        fs::write(&ours, b"half").unwrap();
        fs::write(dir.join("keep.txt"), b"final").unwrap();
        fs::write(dir.join(".notes"), b"not ours").unwrap();
        let removed = remove_stale_temp_files(&dir).unwrap();
        assert!(!ours.exists());
        assert!(dir.join("keep.txt").exists() && dir.join(".notes").exists());
        #[cfg(unix)]
        {
            assert!(!stale.exists());
            assert!(running.exists());
            assert_eq!(removed, (2, 1004));
        }
        #[cfg(not(unix))]
        assert_eq!(removed, (1, 4)); // the dead child's file is too new to judge
        assert_eq!(
            remove_stale_temp_files(&dir.join("missing")).unwrap(),
            (0, 0)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Without ANSI escapes the live line is covered with spaces, and no
    /// escape byte is ever written; with them, `ESC [K` erases.
    #[test]
    fn live_line_with_and_without_escapes() {
        let mut plain = LiveLine::with_ansi(false);
        assert_eq!(plain.redraw("f: 10 B"), "\rf: 10 B");
        assert_eq!(plain.redraw("f: 1.5 KiB"), "\rf: 1.5 KiB");
        assert_eq!(plain.redraw("f: 9 B"), "\rf: 9 B    ");
        assert_eq!(plain.clear(), format!("\r{}\r", " ".repeat(10)));
        assert!(!plain.clear().contains('\x1b'));
        let mut ansi = LiveLine::with_ansi(true);
        assert_eq!(ansi.redraw("f: 9 B"), "\rf: 9 B\x1b[K");
        assert_eq!(ansi.clear(), "\r\x1b[K");
        if cfg!(windows) {
            assert!(!ansi_terminal());
        }
    }
}
