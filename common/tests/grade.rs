//! `grade` over a small fake class, written by the test into a temp
//! folder: a correct echo server, a broken one (wrong answer), one that
//! never starts (an import error on stderr), one that hangs (accepts and
//! never answers), one that never listens, and a folder that is missing.
//! The gradebook must have the right rows, every server and its children
//! must be gone afterwards, and the run must stay within its bound.
#![cfg(unix)]

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::check::{self, Checker, Failure};
use common::cli::{Command, Matches};
use common::error::MainError;
use common::grade::{self, Assignment, GradeOptions, RowState, Transport};

const CHECK: Command = Command {
    name: "check",
    about: "Tugas 1 grader's check: tests an echo server.",
    args: "",
    flags: &[
        check::host(),
        check::port("31000"),
        check::TIMEOUT,
        check::JSON,
    ],
};

const MESSAGE: &[u8] = b"PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA";

fn run(c: &mut Checker, _m: &Matches) -> Result<(), MainError> {
    c.require(
        "echo",
        "the server sends back \"PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\"",
        "Jalankan program client.py untuk konek ke server yang jalan pada poin sebelumnya dan mengirimkan string \u{201c}PEMROGRAMAN JARINGAN TEKNIK INFORMATIKA\u{201d}",
        |o| {
            let mut conn = o.connect()?;
            conn.send(MESSAGE, "the message")?;
            let back = conn.recv_exact(MESSAGE.len(), "the echo")?;
            match check::difference(MESSAGE, &back) {
                None => Ok(()),
                Some(d) => Err(conn.fail(format!("the echo {d}"))),
            }
        },
    );
    c.extra("two-clients", "two clients at once", |o| {
        let mut first = o.connect()?;
        let mut second = o.connect()?;
        for conn in [&mut second, &mut first] {
            conn.send(b"x", "a byte")?;
            if conn.recv_exact(1, "its echo")? != b"x" {
                return Err(Failure::new("wrong echo"));
            }
        }
        Ok(())
    });
    Ok(())
}

const TUGAS: Assignment = Assignment {
    name: "tugas1",
    check: &CHECK,
    transport: Transport::Tcp,
    run,
};

const ECHO: &str = r#"
import os, socket, subprocess, sys, threading
port = int(sys.argv[1])
# A child the server leaves behind: grading must stop it too.
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open("child.pid", "w").write(str(child.pid))
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(8)
print("server listening on", port)
def serve(c):
    with c:
        while True:
            d = c.recv(4096)
            if not d:
                break
            c.sendall(TRANSFORM(d))
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

const HANG: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
"#;

const NO_START: &str = "import tugas_modul_yang_tidak_ada\n";

const NEVER_LISTENS: &str = "import time\nprint('starting...', flush=True)\ntime.sleep(600)\n";

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir = std::env::temp_dir().join(format!("grade-{tag}-{}-{nanos}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn student(class: &Path, name: &str, server: &str) -> PathBuf {
    let dir = class.join(name);
    fs::create_dir_all(dir.join("tugas1")).unwrap();
    fs::write(dir.join("tugas1").join("server.py"), server).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether process `pid` is gone (or only a zombie no one reaps).
fn gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

fn options(args: &[String]) -> GradeOptions {
    let cmd = grade::command(&TUGAS);
    let m = cmd.parse(args.iter().cloned()).unwrap();
    GradeOptions::from_matches(&TUGAS, &cmd, &m).unwrap()
}

#[test]
fn a_class_gets_one_right_row_per_student_within_its_bound() {
    let class = temp_dir("class");
    let good = student(&class, "alice", &ECHO.replace("TRANSFORM(d)", "d"));
    let broken = student(&class, "bob", &ECHO.replace("TRANSFORM(d)", "d.lower()"));
    let no_start = student(&class, "carol", NO_START);
    let hang = student(&class, "dave", HANG);
    let silent = student(&class, "erin", NEVER_LISTENS);
    let missing = class.join("frank");
    let list = class.join("class.txt");
    fs::write(
        &list,
        format!(
            "# the class\n{}\n{}\n\n{}\n",
            no_start.display(),
            hang.display(),
            silent.display()
        ),
    )
    .unwrap();
    let out = class.join("grades");
    let port = free_port();
    let args: Vec<String> = [
        "--run",
        "python3 {dir}/tugas1/server.py {port}",
        "--port",
        &port.to_string(),
        // Generous: a loaded CI machine may take seconds to start Python.
        "--timeout",
        "2",
        "--budget",
        "4",
        "--start-timeout",
        "10",
        "--out",
        out.to_str().unwrap(),
        "--list",
        list.to_str().unwrap(),
        good.to_str().unwrap(),
        broken.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let opts = options(&args);
    assert_eq!(opts.students.len(), 6);
    let bound = opts.bound_per_student();

    let started = Instant::now();
    let mut progress = Vec::new();
    let book = grade::grade_class(&TUGAS, &opts, &mut progress);
    let took = started.elapsed();
    book.write(&opts.out).unwrap();
    let progress = String::from_utf8(progress).unwrap();
    let table = book.table();
    println!("{progress}\n{table}");

    let names: Vec<&str> = book.rows.iter().map(|r| r.student.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "frank", "carol", "dave", "erin"]);
    let row = |name: &str| book.rows.iter().find(|r| r.student == name).unwrap();

    let alice = row("alice");
    assert_eq!(alice.state, RowState::Checked);
    assert_eq!((alice.required_passed, alice.required_total), (1, 1));
    assert_eq!((alice.extras_passed, alice.extras_total), (1, 1));
    assert_eq!(alice.exit_code, Some(0));
    assert_eq!(alice.first_failure, "");
    let log = fs::read_to_string(&alice.log).unwrap();
    assert!(
        log.contains(&format!("stdout| server listening on {port}")),
        "{log}"
    );

    let bob = row("bob");
    assert_eq!((bob.required_passed, bob.required_total), (0, 1));
    assert_eq!((bob.extras_passed, bob.extras_total), (1, 1));
    assert_eq!(bob.exit_code, Some(1));
    assert!(
        bob.first_failure
            .starts_with("the echo differs at byte 0 of 39 (expected \"P\", got \"p\")"),
        "{}",
        bob.first_failure
    );
    assert_eq!(bob.first_failure_id.as_deref(), Some("echo"));
    let bob_report = bob.report.as_ref().unwrap();
    assert_eq!(bob_report.assignment, "tugas1");

    let carol = row("carol");
    assert_eq!(carol.state, RowState::DidNotStart);
    assert_eq!(
        carol.first_failure,
        "did not start: ModuleNotFoundError: No module named 'tugas_modul_yang_tidak_ada'"
    );
    assert_eq!(carol.exit_code, None);

    let dave = row("dave");
    assert_eq!(dave.state, RowState::Checked);
    assert_eq!((dave.required_passed, dave.extras_passed), (0, 0));
    assert_eq!(
        dave.first_failure,
        "timed out after 2s waiting for the echo"
    );
    // The budget (4 s) ends the check: the extra gets what is left of it.
    assert!(dave.seconds < 9.0, "{}", dave.seconds);

    let erin = row("erin");
    assert_eq!(erin.state, RowState::DidNotStart);
    assert_eq!(
        erin.first_failure,
        format!(
            "did not start: nothing answered on 127.0.0.1:{port} within 10s (its last line: starting...)"
        )
    );

    assert_eq!(row("frank").state, RowState::NoFolder);

    // Bounded: each student within its bound, the class within the sum.
    for r in &book.rows {
        assert!(
            r.seconds <= bound.as_secs_f64(),
            "{} took {}",
            r.student,
            r.seconds
        );
    }
    assert!(took < Duration::from_secs(60), "{took:?}");

    // Every server is stopped, the child the good ones left behind too,
    // and the port is free again.
    for dir in [&good, &broken] {
        let pid: u32 = fs::read_to_string(dir.join("child.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid), "the server's child {pid} is still running");
    }
    assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());

    // The gradebook's files and the table.
    let csv = fs::read_to_string(out.join("grades.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7, "{csv}");
    assert!(lines[0].starts_with("student,required_passed,required_total,extras_passed,extras_total,exit_code,state,first_failure"));
    assert!(lines[1].starts_with("alice,1,1,1,1,0,checked,,"), "{csv}");
    assert!(
        lines[4].starts_with("carol,0,0,0,0,,did_not_start,,did not start: ModuleNotFoundError"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("grades.json")).unwrap()).unwrap();
    assert_eq!(json["assignment"], "tugas1");
    assert_eq!(json["rows"][0]["report"]["requirements"][0]["id"], "echo");
    assert_eq!(json["rows"][3]["state"], "did_not_start");
    assert!(
        table.starts_with("student  required  extras  first failure\n"),
        "{table}"
    );
    assert!(table.contains("\nalice         1/1     1/1\n"), "{table}");
    assert!(
        table.contains("\ncarol           -       -  did not start: ModuleNotFoundError"),
        "{table}"
    );
    assert!(
        table.ends_with("6 students, 1 passed every required requirement\n"),
        "{table}"
    );
    assert!(
        progress.contains("[1/6] alice: 1 of 1 required passed; 1 extra (1 passed) ("),
        "{progress}"
    );
    let _ = fs::remove_dir_all(&class);
}

#[test]
fn a_server_still_on_the_port_is_not_mistaken_for_the_student() {
    let class = temp_dir("busy");
    let alice = student(&class, "alice", &ECHO.replace("TRANSFORM(d)", "d"));
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = other.local_addr().unwrap().port();
    let args: Vec<String> = [
        "--run",
        "python3 {dir}/tugas1/server.py {port}",
        "--port",
        &port.to_string(),
        "--out",
        class.join("grades").to_str().unwrap(),
        alice.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let book = grade::grade_class(&TUGAS, &options(&args), &mut std::io::sink());
    assert_eq!(book.rows[0].state, RowState::PortBusy);
    assert_eq!(
        book.rows[0].first_failure,
        format!("not started: something already listens on 127.0.0.1:{port} (a server from before still running?)")
    );
    assert!(
        !alice.join("child.pid").exists(),
        "the student's server was started"
    );
    let _ = fs::remove_dir_all(&class);
}

#[test]
fn flags_need_a_command_and_students() {
    let cmd = grade::command(&TUGAS);
    let parse = |args: &[&str]| {
        let m = cmd.parse(args.iter().map(|s| s.to_string())).unwrap();
        GradeOptions::from_matches(&TUGAS, &cmd, &m).map(|_| ())
    };
    let err = parse(&["alice"]).unwrap_err().to_string();
    assert!(err.contains("--run CMD is needed"), "{err}");
    let err = parse(&["--run", "python3 server.py"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("no student folders"), "{err}");
    let err = parse(&["--run", "x", "--start-timeout", "0", "a"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("--start-timeout"), "{err}");
    // The check's flags and the kit's are there, --json is not.
    let names: Vec<&str> = cmd.flags.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "run",
            "list",
            "start-timeout",
            "out",
            "host",
            "port",
            "timeout",
            "strict",
            "budget"
        ]
    );
    let m = cmd.parse(["--run", "x", "a"].map(String::from)).unwrap();
    let o = GradeOptions::from_matches(&TUGAS, &cmd, &m).unwrap();
    assert_eq!(o.check.ports, [31000]);
    assert_eq!(o.check.budget, Duration::from_secs(30));
    assert_eq!(o.start_timeout, Duration::from_secs(10));
    assert_eq!(o.out, PathBuf::from("grades"));
}

fn run_on_each_port(c: &mut Checker, _m: &Matches) -> Result<(), MainError> {
    for port in c.options().ports.clone() {
        c.require(
            &format!("echo-{port}"),
            format!("the server on port {port} echoes"),
            "Jalankan program server.py di 3 port yang berbeda (31000, 31001, 31002)",
            |o| {
                let mut conn = o.connect_port(port)?;
                conn.send(MESSAGE, "the message")?;
                conn.recv_exact(MESSAGE.len(), "the echo").map(drop)
            },
        );
    }
    Ok(())
}

#[test]
fn a_server_started_once_per_port_is_waited_for_and_stopped_whole() {
    let class = temp_dir("ports");
    let alice = student(&class, "alice", &ECHO.replace("TRANSFORM(d)", "d"));
    let ports = [free_port(), free_port(), free_port()];
    let list = ports.map(|p| p.to_string()).join(",");
    let many = Assignment {
        run: run_on_each_port,
        ..TUGAS
    };
    let cmd = grade::command(&many);
    // The shell starts one server per port in the background; the last
    // one starts late, after a pause.
    let run = format!(
        "python3 {{dir}}/tugas1/server.py {} & python3 {{dir}}/tugas1/server.py {} & \
         sleep 0.5; exec python3 {{dir}}/tugas1/server.py {}",
        ports[0], ports[1], ports[2]
    );
    let args = [
        "--run",
        &run,
        "--port",
        &list,
        "--out",
        class.join("grades").to_str().unwrap(),
        alice.to_str().unwrap(),
    ]
    .map(String::from);
    let m = cmd.parse(args).unwrap();
    let opts = GradeOptions::from_matches(&many, &cmd, &m).unwrap();
    let book = grade::grade_class(&many, &opts, &mut std::io::sink());
    let row = &book.rows[0];
    assert_eq!(row.state, RowState::Checked, "{row:?}");
    assert_eq!((row.required_passed, row.required_total), (3, 3), "{row:?}");
    for p in ports {
        assert!(
            TcpListener::bind(("127.0.0.1", p)).is_ok(),
            "port {p} still taken after grading"
        );
    }
    let _ = fs::remove_dir_all(&class);
}

const CHECK_FILE: Command = Command {
    name: "check",
    about: "A check that reads a file the student's server writes.",
    args: "",
    flags: &[
        check::host(),
        check::port("31000"),
        check::TIMEOUT,
        check::JSON,
        common::cli::Flag::value("output-file", "PATH", "", "the file the server writes"),
    ],
};

fn run_file(c: &mut Checker, m: &Matches) -> Result<(), MainError> {
    let path = PathBuf::from(m.value("output-file"));
    c.require("file", "the server wrote its file", "", move |_| {
        fs::read_to_string(&path)
            .map(drop)
            .map_err(|e| Failure::new(format!("{}: {e}", path.display())))
    });
    Ok(())
}

#[test]
fn dir_in_a_check_flag_is_each_students_folder() {
    let file_check = Assignment {
        name: "tugas1a",
        check: &CHECK_FILE,
        transport: Transport::Tcp,
        run: run_file,
    };
    let class = temp_dir("dirflag");
    let alice = student(&class, "alice", &ECHO.replace("TRANSFORM(d)", "d"));
    let bob = student(&class, "bob", &ECHO.replace("TRANSFORM(d)", "d"));
    let port = free_port();
    let args: Vec<String> = [
        "--run",
        "python3 {dir}/tugas1/server.py {port}",
        "--port",
        &port.to_string(),
        "--output-file",
        "{dir}/child.pid",
        "--out",
        class.join("grades").to_str().unwrap(),
        alice.to_str().unwrap(),
        bob.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cmd = grade::command(&file_check);
    let m = cmd.parse(args.iter().cloned()).unwrap();
    let opts = GradeOptions::from_matches(&file_check, &cmd, &m).unwrap();
    let book = grade::grade_class(&file_check, &opts, &mut std::io::sink());
    for row in &book.rows {
        assert_eq!(row.state, RowState::Checked, "{row:?}");
        assert!(row.first_failure.is_empty(), "{row:?}");
    }
    assert_eq!(book.rows.len(), 2);
    let _ = fs::remove_dir_all(&class);
}
