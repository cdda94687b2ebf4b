//! Files outside a served folder, for the checks' traversal probes on any
//! OS: a server that serves any path must be caught whether it runs on
//! Linux, macOS or Windows.
//!
//! The probes, in this order (the checking machine's own OS first):
//!
//! - a system file every machine of an OS has: `/etc/passwd` on Unix,
//!   `C:\Windows\win.ini` on Windows, each asked for with `../` and as an
//!   absolute path;
//! - a file this check plants in the system's temp folder (unique bytes,
//!   removed when the probes are dropped), asked for the same two ways:
//!   found when the server runs on the checking machine, whatever its OS
//!   and wherever its folder is.
//!
//! [`Probes::describe`] says what was probed, for the report's notes.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Enough `..` to climb from any folder a student serves to the root
/// (more at the root stay at the root).
const UP: usize = 16;

/// One file outside the served folder and the names that reach it.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The file, as the report names it (`/etc/passwd`).
    pub file: String,
    /// Names for it as a download request takes them: with `..`, and
    /// absolute.
    pub names: Vec<String>,
    /// Path segments from the root to it (`["etc", "passwd"]`), for URLs.
    pub segments: Vec<String>,
    /// Its drive on Windows (`C:`).
    pub drive: Option<String>,
    /// How many `..` its relative names climb.
    pub up: usize,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Passwd,
    WinIni,
    Planted(String),
}

impl Probe {
    /// Whether `body` is this file's content (a server answering an error
    /// page or its index instead is no traversal).
    pub fn matches(&self, body: &[u8]) -> bool {
        let text = String::from_utf8_lossy(body);
        match &self.kind {
            Kind::Passwd => looks_like_passwd(&text),
            Kind::WinIni => {
                // Windows: "; for 16-bit app support", [fonts], ... [Mail];
                // Wine: [mail] alone.
                let t = text.to_ascii_lowercase();
                ["[fonts]", "[mail]", "for 16-bit app support"]
                    .iter()
                    .any(|m| t.contains(m))
            }
            Kind::Planted(nonce) => text.contains(nonce.as_str()),
        }
    }

    /// URL paths for it: `..` as is, as `%2e%2e`, with encoded slashes
    /// (`..%2f`), and the absolute path after the first `/`.
    pub fn url_paths(&self) -> Vec<String> {
        let up = self.up;
        let rest = self
            .segments
            .iter()
            .map(|s| percent_encode(s))
            .collect::<Vec<_>>();
        let mut paths = vec![
            format!("/{}{}", "../".repeat(up), rest.join("/")),
            format!("/{}{}", "%2e%2e/".repeat(up), rest.join("/")),
            format!("/{}{}", "..%2f".repeat(up), rest.join("%2f")),
        ];
        // `/C:/Windows/win.ini`, `//etc/passwd`: a server that joins the
        // path after its first `/` onto the folder gets an absolute path.
        match &self.drive {
            Some(d) => paths.push(format!("/{d}/{}", rest.join("/"))),
            None => paths.push(format!("//{}", rest.join("/"))),
        }
        paths
    }
}

/// The probes of one check run; the planted file is removed on drop.
#[derive(Debug)]
pub struct Probes {
    /// In order: this OS's system file, the other OS's, the planted file.
    pub list: Vec<Probe>,
    planted: Option<PathBuf>,
}

impl Probes {
    /// The probes, planting the temp file (skipped, and said so in
    /// [`Probes::describe`], if the temp folder cannot be written).
    pub fn new() -> Probes {
        let passwd = Probe {
            file: "/etc/passwd".into(),
            names: vec![
                format!("{}etc/passwd", "../".repeat(8)),
                "/etc/passwd".into(),
            ],
            segments: vec!["etc".into(), "passwd".into()],
            drive: None,
            up: 8,
            kind: Kind::Passwd,
        };
        let win_ini = Probe {
            file: r"C:\Windows\win.ini".into(),
            names: vec![
                format!(r"{}Windows\win.ini", r"..\".repeat(UP)),
                format!("{}Windows/win.ini", "../".repeat(UP)),
                r"C:\Windows\win.ini".into(),
            ],
            segments: vec!["Windows".into(), "win.ini".into()],
            drive: Some("C:".into()),
            up: UP,
            kind: Kind::WinIni,
        };
        let mut list = if cfg!(windows) {
            vec![win_ini, passwd]
        } else {
            vec![passwd, win_ini]
        };
        let planted = plant();
        if let Some((path, nonce)) = &planted {
            let segments = segments(path);
            let abs = path.display().to_string();
            let drive = has_drive(&abs).then(|| abs[..2].to_string());
            list.push(Probe {
                file: format!("{abs} (planted by this check)"),
                names: vec![format!("{}{}", "../".repeat(UP), segments.join("/")), abs],
                segments,
                drive,
                up: UP,
                kind: Kind::Planted(nonce.clone()),
            });
        }
        Probes {
            list,
            planted: planted.map(|(p, _)| p),
        }
    }

    /// What the probes ask for, for the report's notes.
    pub fn describe(&self) -> String {
        let files: Vec<&str> = self.list.iter().map(|p| p.file.as_str()).collect();
        let mut s = format!(
            "traversal probes ask for files outside the served folder, with ../ and as absolute paths: {}",
            files.join(", ")
        );
        if self.planted.is_none() {
            s.push_str(" (no file could be planted in the temp folder)");
        } else {
            s.push_str("; the planted file is found only by a server on this machine");
        }
        s
    }
}

impl Default for Probes {
    fn default() -> Self {
        Probes::new()
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        if let Some(p) = &self.planted {
            let _ = fs::remove_file(p);
        }
    }
}

/// Whether `body` looks like a Unix password file (`root:x:0:0:`).
pub fn looks_like_passwd(body: &str) -> bool {
    body.lines().any(|l| {
        let fields: Vec<&str> = l.split(':').collect();
        fields.len() >= 6 && fields[0].ends_with("root") && fields[2] == "0" && fields[3] == "0"
    })
}

/// Writes a file into the temp folder; returns its path and a random token
/// that only its content has (not its name: an error page may quote the
/// name it was asked for).
fn plant() -> Option<(PathBuf, String)> {
    use std::hash::{BuildHasher, Hasher};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(nanos);
    let token = format!("pj-secret-{:016x}", h.finish());
    let dir = std::env::temp_dir().canonicalize().ok()?;
    let path = strip_verbatim(dir.join(format!(
        "pj-check-outside-{}-{nanos}.txt",
        std::process::id()
    )));
    fs::write(
        &path,
        format!("{token}: a file outside the served folder; a server must not serve it\n"),
    )
    .ok()?;
    Some((path, token))
}

/// `\\?\C:\x` (what canonicalize gives on Windows) as `C:\x`.
fn strip_verbatim(p: PathBuf) -> PathBuf {
    match p.to_str().and_then(|s| s.strip_prefix(r"\\?\")) {
        Some(rest) if has_drive(rest) => PathBuf::from(rest),
        _ => p,
    }
}

/// The path's parts after its root (and drive): `/tmp/x` gives `tmp`, `x`.
fn segments(p: &Path) -> Vec<String> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

fn has_drive(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// A path segment for a URL: unreserved bytes as they are, the rest `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_name_the_files_and_recognise_them() {
        let probes = Probes::new();
        let first = &probes.list[0];
        if cfg!(windows) {
            assert_eq!(first.file, r"C:\Windows\win.ini");
        } else {
            assert_eq!(first.file, "/etc/passwd");
            assert_eq!(first.names[0], "../../../../../../../../etc/passwd");
        }
        let planted = probes.list.last().unwrap();
        assert!(planted.file.ends_with("(planted by this check)"));
        let abs = planted.names.last().unwrap();
        let on_disk = fs::read(abs).unwrap();
        assert!(planted.matches(&on_disk));
        // An error page that quotes the name is no match.
        assert!(!planted.matches(format!("no file {abs} here").as_bytes()));
        assert!(!probes.list[0].matches(&on_disk));
        assert!(probes.describe().contains(&planted.file));
        // The ../ name reaches the same file from a folder of any depth.
        let deep = crate::testkit::temp_dir("outside-probe").join("a/b/c");
        fs::create_dir_all(&deep).unwrap();
        assert_eq!(fs::read(deep.join(&planted.names[0])).unwrap(), on_disk);
        fs::remove_dir_all(deep.parent().unwrap().parent().unwrap().parent().unwrap()).unwrap();
        let path = PathBuf::from(abs);
        drop(probes);
        assert!(!path.exists(), "the planted file is removed");
    }

    #[test]
    fn contents_are_recognised() {
        let p = Probes::new();
        let passwd = p.list.iter().find(|p| p.file == "/etc/passwd").unwrap();
        let ini = p.list.iter().find(|p| p.file.ends_with("win.ini")).unwrap();
        assert!(passwd.matches(b"root:x:0:0:root:/root:/bin/bash\n"));
        assert!(!passwd.matches(b"<h1>404 Not Found</h1>"));
        assert!(ini.matches(b"; for 16-bit app support\r\n[fonts]\r\n[extensions]\r\n"));
        assert!(ini.matches(b"[mail]\r\nmapi=1\r\n"));
        assert!(!ini.matches(b"<h1>SERVER HTTP</h1>"));
    }

    #[test]
    fn url_paths_climb_encode_and_go_absolute() {
        let p = Probes::new();
        let passwd = p.list.iter().find(|p| p.file == "/etc/passwd").unwrap();
        let mut two = passwd.clone();
        two.up = 2;
        assert_eq!(
            two.url_paths(),
            [
                "/../../etc/passwd",
                "/%2e%2e/%2e%2e/etc/passwd",
                "/..%2f..%2fetc%2fpasswd",
                "//etc/passwd",
            ]
        );
        let ini = p.list.iter().find(|p| p.file.ends_with("win.ini")).unwrap();
        assert_eq!(ini.url_paths()[3], "/C:/Windows/win.ini");
        assert_eq!(percent_encode("a b%"), "a%20b%25");
    }
}
