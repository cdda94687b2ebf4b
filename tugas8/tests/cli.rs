//! The `server` program's flags and exit codes, through the library (the
//! binary is a thin wrapper; see SPEC on binary-name collisions).

use std::process::ExitCode;
use std::time::Duration;

use common::cli::CliError;
use common::error::{exit_code, MainError};
use tugas8::{Config, SERVER_CMD};

fn parse(args: &[&str]) -> Result<common::cli::Matches, CliError> {
    SERVER_CMD.parse(args.iter().map(|s| s.to_string()))
}

#[test]
fn help_lists_every_flag_with_its_default() {
    let Err(CliError::Help(text)) = parse(&["--help"]) else {
        panic!("--help must give the help text");
    };
    for needle in [
        "usage: server [FLAGS]",
        "--host HOST",
        "[default: 127.0.0.1]",
        "--port PORT",
        "[default: 10002]",
        "--dir DIR",
        "[default: www]",
        "--max-body BYTES",
        "[default: 1048576]",
        "--timeout SECS",
        "[default: 30]",
    ] {
        assert!(text.contains(needle), "help lacks {needle:?}:\n{text}");
    }
    assert_eq!(
        exit_code(Err(CliError::Help(text).into())),
        ExitCode::SUCCESS
    );
}

#[test]
fn defaults_are_the_assignments() {
    let m = parse(&[]).unwrap();
    assert_eq!(m.value("host"), "127.0.0.1");
    assert_eq!(m.parse::<u16>("port").unwrap(), 10002);
    let c = Config::from_matches(&m).unwrap();
    assert_eq!(c.timeout, Duration::from_secs(30));
    assert_eq!(c.max_body, 1 << 20);
    assert_eq!(c.max_head, common::http::MAX_HEAD);
    // Tests run inside tugas8/, where ./www exists; from the workspace
    // root the crate's own www/ is used. Either way it holds the form.
    assert!(c.dir.join("sending.html").is_file(), "{}", c.dir.display());
    assert!(tugas8::crate_www().join("sending.html").is_file());
}

#[test]
fn bad_flags_are_usage_errors_exit_2() {
    for args in [
        &["--bogus"][..],
        &["--port"],
        &["--port", "99999"],
        &["--max-body", "lots"],
        &["--timeout", "0"],
    ] {
        let outcome: Result<(), MainError> = parse(args).map_err(MainError::from).and_then(|m| {
            let _: u16 = m.parse("port")?;
            Config::from_matches(&m).map(drop)
        });
        assert!(
            matches!(&outcome, Err(MainError::Cli(CliError::Usage(_)))),
            "{args:?}: {outcome:?}"
        );
        assert_eq!(exit_code(outcome), ExitCode::from(2), "{args:?}");
    }
}

#[test]
fn missing_folder_is_a_runtime_error_exit_1() {
    let m = parse(&["--dir", "/no/such/folder/tugas8"]).unwrap();
    let err = Config::from_matches(&m).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot serve folder /no/such/folder/tugas8: no such folder (give the folder with --dir)"
    );
    assert_eq!(exit_code(Err(err)), ExitCode::from(1));
}

#[test]
fn flags_are_applied() {
    let m = parse(&[
        "--dir",
        "www/images",
        "--max-body",
        "10",
        "--timeout",
        "1.5",
        "--port",
        "0",
    ])
    .unwrap();
    let c = Config::from_matches(&m).unwrap();
    assert!(c.dir.ends_with("www/images"));
    assert_eq!(c.max_body, 10);
    assert_eq!(c.timeout, Duration::from_millis(1500));
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_program_exits_0_when_stopped_2_for_stray_arguments_1_for_a_taken_port() {
    use common::stop::Shutdown;
    // Stopped (what Ctrl-C does) before it starts: it binds, sees the
    // signal and returns normally.
    let stopped = Shutdown::new();
    stopped.stop();
    let done = tugas8::main_with_args(args(&["--port", "0"]), &stopped);
    assert!(done.is_ok(), "{done:?}");
    assert_eq!(exit_code(done), ExitCode::SUCCESS);

    let shutdown = Shutdown::new();
    let err = tugas8::main_with_args(args(&["--port", "0", "10002"]), &shutdown).unwrap_err();
    assert!(
        matches!(&err, MainError::Cli(CliError::Usage(m)) if m.contains("10002")),
        "{err:?}"
    );
    assert_eq!(exit_code(Err(err)), ExitCode::from(2));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let err = tugas8::main_with_args(args(&["--port", &port]), &shutdown).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cannot listen on 127.0.0.1:") && text.contains("is another server running"),
        "{text}"
    );
    assert_eq!(exit_code(Err(err)), ExitCode::from(1));
}
