//! Flags and start-up errors, through the library's command tables (the
//! binaries are thin wrappers over these).

use std::path::PathBuf;

use common::cli::CliError;
use common::error::{exit_code, MainError};
use tugas5::bench::BenchConfig;
use tugas5::cli::CliConfig;
use tugas5::{ChatServer, Config, BENCH, CHAT_CLI, SERVER};

fn server_from_flags(m: &common::cli::Matches) -> Result<ChatServer, common::error::AppError> {
    Config::from_matches(m).unwrap().chat_server()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn help_lists_every_flag_with_its_default() {
    for (cmd, needles) in [
        (
            &SERVER,
            &[
                "--host HOST",
                "[default: 0.0.0.0]",
                "--port PORT",
                "[default: 8889]",
                "--users FILE",
                "--timeout SECS",
                "[default: 30]",
            ][..],
        ),
        (
            &CHAT_CLI,
            &[
                "--host HOST",
                "[default: 127.0.0.1]",
                "[default: 8889]",
                "--timeout SECS",
            ][..],
        ),
        (
            &BENCH,
            &[
                "--clients N",
                "[default: 1,10,100]",
                "--pairs N",
                "--runs N",
            ][..],
        ),
    ] {
        let Err(CliError::Help(text)) = cmd.parse(args(&["--help"])) else {
            panic!("{} --help", cmd.name)
        };
        for n in needles {
            assert!(text.contains(n), "{} help lacks {n}:\n{text}", cmd.name);
        }
        assert_eq!(
            exit_code(Err(MainError::Cli(CliError::Help(text)))),
            std::process::ExitCode::SUCCESS
        );
    }
}

#[test]
fn bad_flags_are_usage_errors_with_exit_2() {
    for (cmd, a) in [
        (&SERVER, &["--bogus"][..]),
        (&SERVER, &["--port"][..]),
        (&CHAT_CLI, &["-x"][..]),
    ] {
        let err = cmd.parse(args(a)).unwrap_err();
        assert!(matches!(err, CliError::Usage(_)), "{a:?}");
        assert_eq!(exit_code(Err(err.into())), std::process::ExitCode::from(2));
    }
    let m = CHAT_CLI.parse(args(&["--port", "99999"])).unwrap();
    assert!(
        matches!(CliConfig::from_matches(&m, false), Err(CliError::Usage(s)) if s.contains("--port"))
    );
    let m = CHAT_CLI.parse(args(&["--timeout", "0"])).unwrap();
    assert!(CliConfig::from_matches(&m, false).is_err());
    for bad in ["0", "1,x", "", "1,,2", "5000"] {
        let m = BENCH.parse(args(&["--clients", bad])).unwrap();
        assert!(
            matches!(BenchConfig::from_matches(&m), Err(CliError::Usage(s)) if s.contains("--clients")),
            "{bad:?}"
        );
    }
    let m = BENCH
        .parse(args(&["--clients", "2, 4", "--pairs", "10", "--runs", "1"]))
        .unwrap();
    let cfg = BenchConfig::from_matches(&m).unwrap();
    assert_eq!((cfg.clients, cfg.pairs, cfg.runs), (vec![2, 4], 10, 1));
}

#[test]
fn defaults_are_the_courses() {
    let m = SERVER.parse(args(&[])).unwrap();
    assert_eq!((m.value("host"), m.value("port")), ("0.0.0.0", "8889"));
    let chat = server_from_flags(&m).unwrap();
    let names: Vec<&str> = chat.users().iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["messi", "henderson", "lineker"]);
    let m = CHAT_CLI.parse(args(&[])).unwrap();
    let cfg = CliConfig::from_matches(&m, true).unwrap();
    assert_eq!((cfg.host.as_str(), cfg.port), ("127.0.0.1", 8889));
}

#[test]
fn the_example_users_file_loads() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("users.example.json");
    let m = SERVER
        .parse(args(&["--users", path.to_str().unwrap()]))
        .unwrap();
    let chat = server_from_flags(&m).unwrap();
    let budi = chat.users().iter().find(|u| u.username == "budi").unwrap();
    assert_eq!(
        (budi.name.as_str(), budi.country.as_str()),
        ("Budi Santoso", "Indonesia")
    );
}

#[test]
fn a_bad_users_file_is_one_clear_error() {
    let dir = std::env::temp_dir().join(format!("tugas5-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        ("broken.json", "[{\"username\": \"a\",", "EOF while parsing"),
        (
            "dup.json",
            r#"[{"username":"a","password":"x","name":"A","country":"C"},{"username":"a","password":"x","name":"A","country":"C"}]"#,
            "appears twice",
        ),
        ("empty.json", "[]", "the list of users is empty"),
        (
            "spaces.json",
            r#"[{"username":"a b","password":"x","name":"A","country":"C"}]"#,
            "one word",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let m = SERVER
            .parse(args(&["--users", path.to_str().unwrap()]))
            .unwrap();
        let err = server_from_flags(&m).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot load users from {}: ", path.display())),
            "{err}"
        );
        assert!(err.contains(want), "{name}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    let m = SERVER
        .parse(args(&[
            "--users",
            dir.join("missing.json").to_str().unwrap(),
        ]))
        .unwrap();
    let err = server_from_flags(&m).unwrap_err().to_string();
    assert!(
        err.ends_with("missing.json: no such file or directory"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stray_argument_is_refused_with_one_error_line() {
    let err = SERVER.parse(args(&["--port", "0", "31001"])).unwrap_err();
    assert!(matches!(err, CliError::Usage(_)), "{err:?}");
    let line = format!("error: {err}");
    assert!(line.contains("31001") && !line.contains('\n'), "{line}");
    assert_eq!(
        exit_code(Err(MainError::from(err))),
        std::process::ExitCode::from(2)
    );
    for cmd in [&CHAT_CLI, &BENCH] {
        assert!(
            matches!(cmd.parse(args(&["31001"])), Err(CliError::Usage(m)) if m.contains("31001"))
        );
    }
}

#[test]
fn the_config_holds_the_flags_typed() {
    let m = SERVER.parse(args(&[])).unwrap();
    assert_eq!(Config::from_matches(&m).unwrap(), Config::default());
    assert_eq!(Config::default().port, tugas5::DEFAULT_PORT);
    let m = SERVER
        .parse(args(&[
            "--port",
            "0",
            "--timeout",
            "2",
            "--users",
            "u.json",
        ]))
        .unwrap();
    let c = Config::from_matches(&m).unwrap();
    assert_eq!(
        (c.port, c.timeout.as_secs(), c.users.unwrap()),
        (0, 2, PathBuf::from("u.json"))
    );
}
