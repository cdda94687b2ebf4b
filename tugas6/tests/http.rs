//! The Tugas 6 server over real sockets: exact bytes, every status,
//! segmentation, keep-alive, many clients at once; every case for each
//! engine (tests/cases/http.rs), then the flags.

mod support;

use common::cli::CliError;
use common::error::{exit_code, MainError};

/// Every case against the event-loop engine (the default on Linux).
#[cfg(target_os = "linux")]
mod epoll {
    const ENGINE: tugas6::Engine = tugas6::Engine::EventLoop;
    include!("cases/http.rs");
}

/// Every case against the thread-per-connection engine.
mod threads {
    const ENGINE: tugas6::Engine = tugas6::Engine::Threads;
    include!("cases/http.rs");
}

#[test]
fn server_flags_defaults_help_and_errors() {
    let m = tugas6::SERVER.parse(Vec::<String>::new()).unwrap();
    assert_eq!(m.value("host"), "127.0.0.1");
    assert_eq!(m.parse::<u16>("port").unwrap(), 10001);
    let config = tugas6::Config::from_matches(&m).unwrap();
    assert_eq!(config, tugas6::Config::default());
    assert_eq!(config.timeout, std::time::Duration::from_secs(30));
    assert_eq!(config.max_connections, 10_000);
    assert_eq!((config.host.as_str(), config.port), ("127.0.0.1", 10001));
    let engine = config.engine;
    assert_eq!(engine, support::default_engine());
    #[cfg(target_os = "linux")]
    assert_eq!(engine, tugas6::Engine::EventLoop);
    for &engine in tugas6::Engine::ALL {
        let m = tugas6::SERVER
            .parse(["--engine".into(), engine.name().into()])
            .unwrap();
        assert_eq!(tugas6::Config::from_matches(&m).unwrap().engine, engine);
    }
    let m = tugas6::SERVER
        .parse(["--engine".into(), "select".into()])
        .unwrap();
    assert!(tugas6::Config::from_matches(&m).is_err());

    let Err(CliError::Help(help)) = tugas6::SERVER.parse(["--help".to_string()]) else {
        panic!("--help should give the help text");
    };
    for flag in [
        "--host HOST",
        "--port PORT",
        "--timeout SECS",
        "--max-connections N",
        "--engine NAME",
    ] {
        assert!(help.contains(flag), "{help}");
    }
    assert!(help.contains("[default: 10001]") && help.contains("[default: 127.0.0.1]"));
    let err = tugas6::SERVER
        .parse(["--prot".to_string(), "1".to_string()])
        .unwrap_err();
    assert!(matches!(&err, CliError::Usage(m) if m.contains("unrecognized flag --prot")));
    assert_eq!(
        exit_code(Err(MainError::Cli(err))),
        std::process::ExitCode::from(2)
    );
    let m = tugas6::SERVER
        .parse(["--timeout".into(), "0".into()])
        .unwrap();
    assert!(tugas6::Config::from_matches(&m).is_err());
}

#[test]
fn bench_flags() {
    use tugas6::bench::{BenchConfig, BENCH};
    let parse = |args: &[&str]| {
        BENCH
            .parse(args.iter().map(|s| s.to_string()))
            .map_err(MainError::from)
            .and_then(|m| BenchConfig::from_matches(&m).map_err(MainError::from))
    };
    let c = parse(&[]).unwrap();
    assert_eq!(c.levels, [1, 10, 100, 1000]);
    assert_eq!((c.requests, c.runs), (50_000, 3));
    assert!(c.compare.is_empty());
    assert_eq!(c.output, "bench.svg");
    #[cfg(target_os = "linux")]
    assert_eq!(
        c.engines,
        [tugas6::Engine::EventLoop, tugas6::Engine::Threads]
    );
    assert_eq!(
        parse(&["--engines", "threads"]).unwrap().engines,
        [tugas6::Engine::Threads]
    );
    let c = parse(&[
        "--compare",
        "nginx=http://127.0.0.1:8080/",
        "--compare",
        "http://127.0.0.1:8000/x",
        "--concurrency",
        "2, 4",
    ])
    .unwrap();
    assert_eq!(
        c.compare,
        [
            ("nginx".to_string(), "http://127.0.0.1:8080/".to_string()),
            (
                "127.0.0.1:8000".to_string(),
                "http://127.0.0.1:8000/x".to_string()
            ),
        ]
    );
    assert_eq!(c.levels, [2, 4]);
    for bad in [
        &["--compare", "https://x/"][..],
        &["--concurrency", "1,x"],
        &["--concurrency", "0"],
        &["--requests", "10", "--concurrency", "100"],
        &["--runs", "0"],
        &["--engines", "threads,nope"],
    ] {
        assert!(
            matches!(parse(bad), Err(MainError::Cli(CliError::Usage(_)))),
            "{bad:?}"
        );
    }
}
