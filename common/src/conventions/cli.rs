//! Command-line flags without a parser crate.
//!
//! Every program in the workspace declares its flags once, as a [`Command`]
//! with a list of [`Flag`]s. The same table gives the `--help` text (with
//! each flag's default) and the parser, so the two never disagree.
//!
//! ```
//! use common::cli::{Command, Flag};
//!
//! const CMD: Command = Command {
//!     name: "server",
//!     about: "echo server",
//!     args: "",
//!     flags: &[
//!         Flag::value("host", "HOST", "0.0.0.0", "address to bind"),
//!         Flag::value("port", "PORT", "31000", "port to listen on (0 = any free port)"),
//!         Flag::switch("verbose", "print more"),
//!     ],
//! };
//!
//! let m = CMD.parse(["--port", "0", "--verbose"].map(String::from)).unwrap();
//! assert_eq!(m.parse::<u16>("port").unwrap(), 0);
//! assert_eq!(m.value("host"), "0.0.0.0"); // the default
//! assert!(m.is_set("verbose"));
//! ```
//!
//! Accepted spellings: `--port 31000`, `--port=31000`; a flag given twice
//! keeps both values ([`Matches::values`]) and [`Matches::value`] returns the
//! last. `--` ends the flags; everything after it is positional.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One flag a program accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// Long name without the dashes: `port` for `--port`.
    pub name: &'static str,
    /// Placeholder shown in the help for the value (`PORT`); `None` for a switch.
    pub metavar: Option<&'static str>,
    /// The value used when the flag is not given (shown in `--help`); empty = none.
    pub default: &'static str,
    /// One line of help.
    pub help: &'static str,
}

impl Flag {
    /// A flag that takes a value, with the default used when it is absent.
    pub const fn value(
        name: &'static str,
        metavar: &'static str,
        default: &'static str,
        help: &'static str,
    ) -> Flag {
        Flag {
            name,
            metavar: Some(metavar),
            default,
            help,
        }
    }

    /// A flag without a value: present or not.
    pub const fn switch(name: &'static str, help: &'static str) -> Flag {
        Flag {
            name,
            metavar: None,
            default: "",
            help,
        }
    }
}

/// `--host HOST`, the address a server binds or a client connects to.
pub const fn host(default: &'static str) -> Flag {
    Flag::value("host", "HOST", default, "IP address or host name")
}

/// `--port PORT`; for servers 0 means "any free port".
pub const fn port(default: &'static str) -> Flag {
    Flag::value("port", "PORT", default, "TCP/UDP port (0 = any free port)")
}

/// `--timeout SECS`: read/write timeout for one connection.
pub const TIMEOUT: Flag = Flag::value(
    "timeout",
    "SECS",
    "30",
    "give up on a silent peer after this many seconds",
);

/// A program's name, one-line description, positional arguments and flags.
#[derive(Debug, Clone, Copy)]
pub struct Command {
    /// Program name as the user types it (`server`, `client`).
    pub name: &'static str,
    /// What the program does, one sentence.
    pub about: &'static str,
    /// Positional arguments as shown in the usage line, e.g. `FILE...`; empty = none.
    pub args: &'static str,
    /// The flags, in the order `--help` lists them. `--help` itself is implicit.
    pub flags: &'static [Flag],
}

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// `--help` was given: print this text to stdout and exit 0.
    Help(String),
    /// A bad flag or value: print `error: <this>` on one line and exit 2.
    Usage(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help(text) => f.write_str(text),
            CliError::Usage(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CliError {}

/// The parsed command line.
#[derive(Debug, Clone)]
pub struct Matches {
    flags: &'static [Flag],
    given: Vec<(&'static str, String)>,
    positionals: Vec<String>,
}

impl Command {
    /// The `--help` text: usage line, description, every flag with its default.
    pub fn help(&self) -> String {
        let mut out = format!("{}\n\nusage: {} [FLAGS]", self.about, self.name);
        if !self.args.is_empty() {
            out.push(' ');
            out.push_str(self.args);
        }
        out.push_str("\n\nflags:\n");
        let left: Vec<String> = self
            .flags
            .iter()
            .map(|f| match f.metavar {
                Some(m) => format!("--{} {}", f.name, m),
                None => format!("--{}", f.name),
            })
            .collect();
        let width = left.iter().map(String::len).max().unwrap_or(0).max(6);
        for (flag, l) in self.flags.iter().zip(&left) {
            out.push_str(&format!("  {l:width$}  {}", flag.help));
            if !flag.default.is_empty() {
                out.push_str(&format!(" [default: {}]", flag.default));
            }
            out.push('\n');
        }
        out.push_str(&format!("  {:width$}  print this help\n", "--help"));
        out
    }

    /// Parses the arguments after the program name.
    ///
    /// # Errors
    /// [`CliError::Help`] for `--help`/`-h`; [`CliError::Usage`] for an unknown
    /// flag, a missing value, a value given to a switch, or an argument
    /// that is no flag when the command takes none ([`Command::args`] empty).
    pub fn parse<I>(&self, args: I) -> Result<Matches, CliError>
    where
        I: IntoIterator<Item = String>,
    {
        let mut given = Vec::new();
        let mut positionals = Vec::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                positionals.extend(args.by_ref());
                break;
            }
            if arg == "--help" || arg == "-h" {
                return Err(CliError::Help(self.help()));
            }
            let Some(body) = arg.strip_prefix("--") else {
                if arg.starts_with('-') && arg.len() > 1 {
                    return Err(self.usage_error(format!("unrecognized flag {arg}")));
                }
                positionals.push(arg);
                continue;
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let Some(flag) = self.flags.iter().find(|f| f.name == name) else {
                return Err(self.usage_error(format!("unrecognized flag --{name}")));
            };
            let value = match (flag.metavar, inline) {
                (None, None) => String::new(),
                (None, Some(_)) => {
                    return Err(self.usage_error(format!("flag --{name} takes no value")))
                }
                (Some(_), Some(v)) => v,
                (Some(m), None) => args
                    .next()
                    .ok_or_else(|| self.usage_error(format!("flag --{name} needs a value {m}")))?,
            };
            given.push((flag.name, value));
        }
        if let (true, Some(stray)) = (self.args.is_empty(), positionals.first()) {
            return Err(self.usage_error(format!("unexpected argument {stray:?}")));
        }
        Ok(Matches {
            flags: self.flags,
            given,
            positionals,
        })
    }

    fn usage_error(&self, msg: String) -> CliError {
        CliError::Usage(format!("{msg} (try: {} --help)", self.name))
    }
}

impl Matches {
    /// A copy with `from` replaced by `to` in every given value (the grade
    /// program's `{dir}` in a check flag such as `--output-file`).
    pub fn replace_in_values(&self, from: &str, to: &str) -> Matches {
        let mut m = self.clone();
        for (_, v) in &mut m.given {
            *v = v.replace(from, to);
        }
        m
    }

    /// The flag's last given value, or its default. Panics if `name` is not
    /// one of the command's flags (a programming error, not a user error).
    pub fn value(&self, name: &str) -> &str {
        self.given
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| self.flag(name).default)
    }

    /// Every value given for a repeatable flag, in order; the default alone
    /// when the flag was not given (nothing if the default is empty).
    pub fn values(&self, name: &str) -> Vec<&str> {
        let given: Vec<&str> = self
            .given
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        if !given.is_empty() {
            return given;
        }
        let default = self.flag(name).default;
        if default.is_empty() {
            Vec::new()
        } else {
            vec![default]
        }
    }

    /// Whether the flag appeared on the command line.
    pub fn is_set(&self, name: &str) -> bool {
        self.flag(name);
        self.given.iter().any(|(n, _)| *n == name)
    }

    /// The value parsed as `T`.
    ///
    /// # Errors
    /// [`CliError::Usage`] naming the flag and the bad value.
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<T, CliError> {
        parse_value(name, self.value(name))
    }

    /// Every value of a repeatable flag parsed as `T` (see [`Matches::values`]).
    ///
    /// # Errors
    /// [`CliError::Usage`] naming the flag and the first bad value.
    pub fn parse_all<T: FromStr>(&self, name: &str) -> Result<Vec<T>, CliError> {
        self.values(name)
            .into_iter()
            .map(|v| parse_value(name, v))
            .collect()
    }

    /// `--timeout SECS` as a [`Duration`]; must be a positive number.
    ///
    /// # Errors
    /// [`CliError::Usage`] for a value that is not a positive number of seconds.
    pub fn timeout(&self) -> Result<Duration, CliError> {
        let raw = self.value("timeout");
        match raw.parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Duration::from_secs_f64(s)),
            _ => Err(CliError::Usage(format!(
                "invalid value '{raw}' for --timeout: expected a positive number of seconds"
            ))),
        }
    }

    /// Arguments that are not flags, in order.
    pub fn positionals(&self) -> &[String] {
        &self.positionals
    }

    fn flag(&self, name: &str) -> &Flag {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("program asked for undeclared flag --{name}"))
    }
}

fn parse_value<T: FromStr>(name: &str, raw: &str) -> Result<T, CliError> {
    raw.parse()
        .map_err(|_| CliError::Usage(format!("invalid value '{raw}' for --{name} (try --help)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMD: Command = Command {
        name: "prog",
        about: "test program",
        args: "[FILE...]",
        flags: &[
            host("127.0.0.1"),
            port("31000"),
            TIMEOUT,
            Flag::value("file", "PATH", "", "a file"),
            Flag::switch("sequential", "one at a time"),
        ],
    };

    fn parse(args: &[&str]) -> Result<Matches, CliError> {
        CMD.parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_apply_when_flags_are_absent() {
        let m = parse(&[]).unwrap();
        assert_eq!(m.value("host"), "127.0.0.1");
        assert_eq!(m.parse::<u16>("port").unwrap(), 31000);
        assert_eq!(m.timeout().unwrap(), Duration::from_secs(30));
        assert!(m.values("file").is_empty());
        assert!(!m.is_set("sequential"));
    }

    #[test]
    fn both_spellings_and_repeats() {
        let m = parse(&["--port=1", "--port", "2", "a", "--sequential", "b"]).unwrap();
        assert_eq!(m.parse_all::<u16>("port").unwrap(), vec![1, 2]);
        assert_eq!(m.value("port"), "2");
        assert!(m.is_set("sequential"));
        assert_eq!(m.positionals(), ["a", "b"]);
    }

    #[test]
    fn double_dash_ends_flags() {
        let m = parse(&["--", "--port", "-x"]).unwrap();
        assert_eq!(m.positionals(), ["--port", "-x"]);
        assert_eq!(m.value("port"), "31000");
    }

    #[test]
    fn help_lists_every_flag_with_default() {
        let Err(CliError::Help(text)) = parse(&["--port", "1", "--help"]) else {
            panic!("expected help");
        };
        for needle in [
            "usage: prog [FLAGS] [FILE...]",
            "--host HOST",
            "[default: 127.0.0.1]",
            "--port PORT",
            "[default: 31000]",
            "--timeout SECS",
            "[default: 30]",
            "--sequential",
            "--help",
        ] {
            assert!(text.contains(needle), "help lacks {needle:?}:\n{text}");
        }
    }

    #[test]
    fn usage_errors_name_the_problem() {
        let cases: &[(&[&str], &str)] = &[
            (&["--bogus"], "unrecognized flag --bogus"),
            (&["-x"], "unrecognized flag -x"),
            (&["--port"], "flag --port needs a value PORT"),
            (&["--sequential=yes"], "flag --sequential takes no value"),
        ];
        for (args, want) in cases {
            match parse(args) {
                Err(CliError::Usage(msg)) => assert!(msg.contains(want), "{msg:?} vs {want:?}"),
                other => panic!("{args:?} gave {other:?}"),
            }
        }
        let m = parse(&["--port", "70000", "--timeout", "-1"]).unwrap();
        assert!(
            matches!(m.parse::<u16>("port"), Err(CliError::Usage(s)) if s.contains("'70000' for --port"))
        );
        assert!(matches!(m.timeout(), Err(CliError::Usage(s)) if s.contains("--timeout")));
    }

    #[test]
    fn stray_arguments_are_refused_where_none_are_taken() {
        const SERVER: Command = Command {
            name: "server",
            about: "a server",
            args: "",
            flags: &[port("31000")],
        };
        let server = SERVER;
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let err = server.parse(args(&["--port", "0", "31001"])).unwrap_err();
        assert_eq!(
            err,
            CliError::Usage(r#"unexpected argument "31001" (try: server --help)"#.to_string())
        );
        // After `--` too: it ends the flags, it does not make arguments welcome.
        assert!(server.parse(args(&["--", "x"])).is_err());
        assert!(server.parse(args(&["--port", "0"])).is_ok());
    }
}
