//! The benchmark: N clients at once doing `send` + `inbox` round trips
//! against an in-process chat server, next to a baseline server that
//! answers every line with a fixed response over the same framing (so the
//! difference is the chat logic and its lock, not TCP).
//!
//! With `--compare HOST:PORT` it also runs the same round trips against any
//! chat server already running there (the course's Python
//! `server_thread_chat.py`, a student's), logged in as the users of
//! `--compare-users`, and prints its figures and ours/its ratio beside ours.
//! Answers from that server are read leniently ([`chat::Reply`]): only an
//! `ERROR` or a missing answer fails the run.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::chat::{self, msg, Request, Response, UserRecord};
use common::cli::{CliError, Matches};
use common::error::{io_cause, AppError};
use common::framing;
use common::net as cnet;
use common::stop::{Running, Shutdown};

use crate::server::{self, ChatServer};
use crate::Config;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Client counts to try, e.g. 1, 10, 100.
    pub clients: Vec<usize>,
    /// `send` + `inbox` pairs per run, split evenly between the clients.
    pub pairs: usize,
    /// Runs per setting; the median is reported.
    pub runs: usize,
    /// Another chat server to measure beside ours (`--compare HOST:PORT`).
    pub compare: Option<String>,
    /// The users to log in as on that server, shared in turn by the
    /// clients (`--compare-users USER:PASSWORD,...`).
    pub compare_users: Vec<(String, String)>,
}

impl BenchConfig {
    /// The benchmark's settings from its flags.
    ///
    /// # Errors
    /// A `--clients` list that is not positive numbers, or a bad count.
    pub fn from_matches(m: &Matches) -> Result<BenchConfig, CliError> {
        let raw = m.value("clients");
        let clients: Vec<usize> = raw
            .split(',')
            .map(|s| s.trim().parse::<usize>().ok().filter(|&n| (1..=1000).contains(&n)))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid value '{raw}' for --clients: expected numbers from 1 to 1000 separated by commas"
                ))
            })?;
        let pairs: usize = m.parse("pairs")?;
        let runs: usize = m.parse("runs")?;
        if pairs == 0 || runs == 0 {
            return Err(CliError::Usage(
                "--pairs and --runs must be at least 1".to_string(),
            ));
        }
        let compare = m.value("compare");
        let raw_users = m.value("compare-users");
        let compare_users: Vec<(String, String)> = raw_users
            .split(',')
            .map(|pair| {
                pair.trim()
                    .split_once(':')
                    .filter(|(u, p)| !u.is_empty() && !p.is_empty())
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid value '{raw_users}' for --compare-users: expected USER:PASSWORD separated by commas"
                ))
            })?;
        Ok(BenchConfig {
            clients,
            pairs,
            runs,
            compare: (!compare.is_empty()).then(|| compare.to_string()),
            compare_users,
        })
    }
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Requests answered per second (each request is one round trip).
    pub round_trips_per_sec: f64,
    /// 99th percentile of one request's round-trip time.
    pub p99: Duration,
}

/// Which server a run talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The chat server.
    Chat,
    /// The fixed-response baseline.
    Baseline,
    /// Another chat server (`--compare`): answers only need to be `OK`.
    Other,
}

/// Who each client logs in as on an [`Target::Other`] server: client `i`
/// uses entry `i % len`.
pub type Logins = Arc<Vec<(String, String)>>;

const PASSWORD: &str = "bench";

/// Starts the two servers on `127.0.0.1:0`: the chat server with one user
/// per client (`b0`, `b1`, ...) and the baseline. Both stop when the
/// returned values are dropped.
///
/// # Errors
/// If a socket cannot be bound.
pub fn start_servers(max_clients: usize) -> Result<(Running, Running), AppError> {
    let users = (0..max_clients.max(1))
        .map(|i| UserRecord::new(&format!("b{i}"), PASSWORD, &format!("Bench {i}"), "Lab"))
        .collect();
    let chat = Arc::new(ChatServer::new(users).map_err(|e| AppError::new("bench users", e))?);
    let config = Config::default();
    let l1 = cnet::bind("127.0.0.1", 0)?;
    let chat_server = server::start_server(l1, chat, config.clone())
        .map_err(|e| AppError::io("cannot start the chat server", &e))?;
    let l2 = cnet::bind("127.0.0.1", 0)?;
    let baseline = start_baseline(l2, config)
        .map_err(|e| AppError::io("cannot start the baseline server", &e))?;
    Ok((chat_server, baseline))
}

/// The baseline: the chat server's accept loop, but each connection reads
/// request lines and answers each with the same small JSON response, no
/// state, no lock.
fn start_baseline(listener: TcpListener, config: Config) -> std::io::Result<Running> {
    let reply = Response::Message(msg::MESSAGE_SENT.to_string()).to_bytes();
    Running::spawn(listener, Shutdown::new(), move |listener, shutdown| {
        server::accept_loop(listener, &config, &shutdown, move |stream, _| {
            let mut reader = BufReader::new(stream.try_clone()?);
            let mut writer = stream;
            while framing::read_line(&mut reader, chat::MAX_REQUEST_LINE)?.is_some() {
                writer.write_all(&reply)?;
            }
            Ok(())
        })
    })
}

/// One run: `clients` connections, each logged in as its own user, each
/// doing `pairs / clients` rounds of `send` to itself then `inbox`.
///
/// # Errors
/// A failed connection or request, or an answer that is not the expected
/// one (the chat server must hand back exactly the message just sent).
pub fn run_once(
    addr: SocketAddr,
    target: Target,
    clients: usize,
    pairs: usize,
) -> Result<Sample, AppError> {
    run_once_as(addr, target, clients, pairs, &Arc::new(Vec::new()))
}

/// [`run_once`], logging in on a [`Target::Other`] server as `logins`.
///
/// # Errors
/// As [`run_once`]; for [`Target::Other`], an `ERROR` answer or no logins.
pub fn run_once_as(
    addr: SocketAddr,
    target: Target,
    clients: usize,
    pairs: usize,
    logins: &Logins,
) -> Result<Sample, AppError> {
    if target == Target::Other && logins.is_empty() {
        return Err(AppError::new(
            "bench",
            "no users to log in as on the other server",
        ));
    }
    let per_client = (pairs / clients).max(1);
    // Connect and log in one client at a time before the clock starts: a
    // server with a short listen backlog (the course's `listen(1)`) would
    // otherwise drop connections of a crowd arriving at once.
    let mut sessions = Vec::with_capacity(clients);
    for i in 0..clients {
        let login = logins.get(i % logins.len().max(1)).cloned();
        let me = match &login {
            Some((user, _)) if target == Target::Other => user.clone(),
            _ => format!("b{i}"),
        };
        sessions.push((me, connect_and_login(addr, target, i, login)?));
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut handles = Vec::with_capacity(clients);
    for (i, (me, session)) in sessions.into_iter().enumerate() {
        let barrier = Arc::clone(&barrier);
        handles.push(thread::spawn(move || {
            client_loop(target, i, &me, session, per_client, &barrier)
        }));
    }
    barrier.wait();
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(clients * per_client * 2);
    let mut first_error = None;
    for h in handles {
        match h.join() {
            Ok(Ok(mut l)) => latencies.append(&mut l),
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(_) => first_error = first_error.or(Some(AppError::new("bench client", "panicked"))),
        }
    }
    let elapsed = start.elapsed();
    if let Some(e) = first_error {
        return Err(e);
    }
    latencies.sort_unstable();
    let p99 = percentile(&latencies, 0.99);
    Ok(Sample {
        round_trips_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p99,
    })
}

fn client_loop(
    target: Target,
    i: usize,
    me: &str,
    session: LoggedIn,
    rounds: usize,
    barrier: &Barrier,
) -> Result<Vec<Duration>, AppError> {
    barrier.wait();
    let (mut reader, mut writer, token) = session;
    let me = me.to_string();
    let mut latencies = Vec::with_capacity(rounds * 2);
    let mut exchange = |req: &Request| -> Result<Response, AppError> {
        let t = Instant::now();
        writer
            .write_all(req.to_line().as_bytes())
            .map_err(|e| AppError::io("bench send", &e))?;
        let r = chat::read_reply(&mut reader)
            .map_err(|e| AppError::new("bench read", e))?
            .ok_or_else(|| AppError::new("bench read", "server closed"))?;
        latencies.push(t.elapsed());
        if !r.ok {
            return Err(AppError::new(
                "bench",
                format!("client {i}: {} answered {}", req.command(), r.value),
            ));
        }
        // Another server's shape need not be ours: OK is enough there.
        Ok(r.response.unwrap_or(Response::Message(String::new())))
    };
    for n in 0..rounds {
        let text = format!("pesan nomor {n}");
        let sent = exchange(&Request::Send {
            tokenid: token.clone(),
            to: me.clone(),
            message: text.clone(),
        })?;
        let inbox = exchange(&Request::Inbox {
            tokenid: token.clone(),
        })?;
        if target == Target::Chat {
            let ok = sent.is_ok()
                && matches!(&inbox, Response::Inbox(b) if b.len() == 1
                    && b.iter().next().map(|(_, m)| m.msg.as_str()) == Some(text.as_str()));
            if !ok {
                return Err(AppError::new(
                    "bench check",
                    format!("client {i} round {n}: unexpected answers {sent:?} / {inbox:?}"),
                ));
            }
        }
    }
    Ok(latencies)
}

type LoggedIn = (BufReader<TcpStream>, TcpStream, String);

fn connect_and_login(
    addr: SocketAddr,
    target: Target,
    i: usize,
    login: Option<(String, String)>,
) -> Result<LoggedIn, AppError> {
    let stream =
        TcpStream::connect(addr).map_err(|e| AppError::io(format!("connect {addr}"), &e))?;
    stream
        .set_nodelay(true)
        .and_then(|()| cnet::set_timeouts(&stream, Duration::from_secs(30)))
        .map_err(|e| AppError::new("socket options", io_cause(&e)))?;
    let mut reader = BufReader::new(
        stream
            .try_clone()
            .map_err(|e| AppError::io("clone socket", &e))?,
    );
    let mut writer = stream;
    if target == Target::Baseline {
        return Ok((reader, writer, "baseline-token".to_string()));
    }
    let (username, password) = match login {
        Some(login) if target == Target::Other => login,
        _ => (format!("b{i}"), PASSWORD.to_string()),
    };
    let auth = Request::Auth { username, password };
    writer
        .write_all(auth.to_line().as_bytes())
        .map_err(|e| AppError::io("bench auth", &e))?;
    match chat::read_reply(&mut reader) {
        Ok(Some(chat::Reply {
            ok: true,
            response: Some(Response::Token(t)),
            ..
        })) => Ok((reader, writer, t)),
        other => Err(AppError::new("bench auth", format!("{other:?}"))),
    }
}

/// The address of `--compare HOST:PORT`.
fn resolve(given: &str) -> Result<SocketAddr, AppError> {
    use std::net::ToSocketAddrs;
    given
        .to_socket_addrs()
        .map_err(|e| AppError::io(format!("cannot resolve --compare {given}"), &e))?
        .next()
        .ok_or_else(|| AppError::new(format!("cannot resolve --compare {given}"), "no address"))
}

/// The value below which `q` (0..1) of the sorted samples fall.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of a few numbers.
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The machine's load averages, where the OS tells them (Linux).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Runs every setting `runs` times for both servers and prints a table.
///
/// # Errors
/// A failed run, or output that cannot be written.
pub fn run_bench<W: Write>(cfg: &BenchConfig, mut out: W) -> Result<(), AppError> {
    let max = cfg.clients.iter().copied().max().unwrap_or(1);
    let (chat_server, baseline) = start_servers(max)?;
    let (chat_addr, base_addr) = (chat_server.addr(), baseline.addr());
    let other = match &cfg.compare {
        Some(given) => Some(resolve(given)?),
        None => None,
    };
    let logins: Logins = Arc::new(cfg.compare_users.clone());
    let cores = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let w = |out: &mut W, s: String| {
        writeln!(out, "{s}")
            .and_then(|()| out.flush())
            .map_err(|e| AppError::io("cannot write the output", &e))
    };
    w(
        &mut out,
        format!(
            "tugas5 bench: {} send+inbox pairs per run, split between the clients; median of {} runs",
            cfg.pairs, cfg.runs
        ),
    )?;
    w(
        &mut out,
        format!("load average before: {} ({cores} cores)", load_average()),
    )?;
    w(
        &mut out,
        "round trip = one request and its response; baseline = same framing, fixed answer, no chat logic".to_string(),
    )?;
    if let (Some(given), Some(addr)) = (&cfg.compare, other) {
        w(
            &mut out,
            format!(
                "other = the chat server at {given} ({addr}), logged in as {}",
                cfg.compare_users
                    .iter()
                    .map(|(u, _)| u.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )?;
    }
    w(&mut out, String::new())?;
    let mut header = format!(
        "{:>7}  {:>12}  {:>12}  {:>14}  {:>14}",
        "clients", "chat rt/s", "chat p99 ms", "baseline rt/s", "baseline p99 ms"
    );
    if other.is_some() {
        header.push_str(&format!(
            "  {:>12}  {:>13}  {:>11}",
            "other rt/s", "other p99 ms", "chat/other"
        ));
    }
    w(&mut out, header)?;
    for &n in &cfg.clients {
        let mut targets = vec![(Target::Chat, chat_addr), (Target::Baseline, base_addr)];
        if let Some(addr) = other {
            targets.push((Target::Other, addr));
        }
        let mut figures = Vec::new();
        for (target, addr) in targets {
            let mut rates = Vec::new();
            let mut p99s = Vec::new();
            for _ in 0..cfg.runs.max(1) {
                let s = run_once_as(addr, target, n, cfg.pairs, &logins)?;
                rates.push(s.round_trips_per_sec);
                p99s.push(s.p99.as_secs_f64() * 1000.0);
            }
            figures.push((median(rates), median(p99s)));
        }
        let mut row = format!(
            "{:>7}  {:>12.0}  {:>12.3}  {:>14.0}  {:>14.3}",
            n, figures[0].0, figures[0].1, figures[1].0, figures[1].1
        );
        if let Some(&(rate, p99)) = figures.get(2) {
            let ratio = figures[0].0 / rate.max(f64::MIN_POSITIVE);
            row.push_str(&format!("  {rate:>12.0}  {p99:>13.3}  {ratio:>10.1}x"));
        }
        w(&mut out, row)?;
    }
    w(&mut out, String::new())?;
    w(&mut out, format!("load average after: {}", load_average()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_and_median() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&d, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.99), Duration::ZERO);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn a_small_run_checks_every_answer() {
        let (chat, base) = start_servers(3).unwrap();
        let s = run_once(chat.addr(), Target::Chat, 3, 30).unwrap();
        assert!(s.round_trips_per_sec > 0.0 && s.p99 > Duration::ZERO);
        let s = run_once(base.addr(), Target::Baseline, 2, 10).unwrap();
        assert!(s.round_trips_per_sec > 0.0);
        chat.stop();
        base.stop();
    }

    #[test]
    fn another_server_is_measured_as_the_given_users() {
        // Any chat server with the course's users: here ours, built-in users.
        let chat = Arc::new(ChatServer::with_builtin_users());
        let other =
            server::start_server(cnet::bind("127.0.0.1", 0).unwrap(), chat, Config::default())
                .unwrap();
        let logins: Logins = Arc::new(
            ["messi", "henderson", "lineker"]
                .map(|u| (u.to_string(), "surabaya".to_string()))
                .to_vec(),
        );
        let s = run_once_as(other.addr(), Target::Other, 5, 50, &logins).unwrap();
        assert!(s.round_trips_per_sec > 0.0 && s.p99 > Duration::ZERO);
        // A wrong password is an ERROR answer: the run fails, saying so.
        let wrong: Logins = Arc::new(vec![("messi".to_string(), "x".to_string())]);
        let e = run_once_as(other.addr(), Target::Other, 1, 2, &wrong).unwrap_err();
        assert!(e.to_string().contains("Password Salah"), "{e}");
        other.stop();
    }
}
