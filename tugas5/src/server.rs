//! The chat server: who is logged in, who has which messages waiting, and
//! the read-a-line, answer-a-response loop of each connection.
//!
//! All mutable state (sessions and inboxes) sits behind one [`Mutex`]. A
//! request takes the lock, changes or copies what it needs, and lets go
//! before anything is written to a socket, so a slow client can never hold
//! up the others. The user list itself never changes after start-up and is
//! read without the lock.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use common::chat::{
    msg, Inbox, InboxMessage, Request, Response, UserInfo, UserRecord, MAX_REQUEST_LINE,
};
use common::framing::{self, DeadlineReader, FrameError};
use common::net;
use common::stop::{Running, Shutdown};

use crate::token::new_token;
use crate::users;
use crate::Config;

/// Sessions one user may hold at once; logging in again past this ends
/// that user's oldest session (so repeated `auth` cannot fill memory).
pub const MAX_SESSIONS_PER_USER: usize = 1024;

/// Unread messages one user's inbox holds; `send` past this is refused
/// with "Inbox Penuh" until the receiver reads.
pub const MAX_INBOX_MESSAGES: usize = 10_000;

/// Unread message text one user's inbox holds, in bytes.
pub const MAX_INBOX_BYTES: usize = 4 * 1024 * 1024;

/// Unread message text the whole server holds, in bytes.
pub const MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

/// The chat service's state. Share it between connections with an [`Arc`].
#[derive(Debug)]
pub struct ChatServer {
    /// Never changes after [`ChatServer::new`]; read without the lock.
    users: Vec<UserRecord>,
    index: HashMap<String, usize>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// token -> user index
    sessions: HashMap<String, usize>,
    /// One per user, same order as `ChatServer::users`.
    per_user: Vec<UserState>,
    pending_bytes: usize,
}

#[derive(Debug, Default)]
struct UserState {
    /// This user's tokens, oldest first.
    tokens: VecDeque<String>,
    /// Unread messages by sender index, senders in the order they first
    /// wrote. A sender stays listed (with nothing) after the inbox is read,
    /// as in the course's server.
    inbox: Vec<(usize, VecDeque<String>)>,
    inbox_count: usize,
    inbox_bytes: usize,
}

impl ChatServer {
    /// A server for these users.
    ///
    /// # Errors
    /// The [`users::validate`] message for an empty list, a username or
    /// password that is not one word, or a username given twice.
    pub fn new(users: Vec<UserRecord>) -> Result<ChatServer, String> {
        users::validate(&users)?;
        let index = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.username.clone(), i))
            .collect();
        let per_user = users.iter().map(|_| UserState::default()).collect();
        Ok(ChatServer {
            users,
            index,
            state: Mutex::new(State {
                per_user,
                ..State::default()
            }),
        })
    }

    /// A server with the course's three users (messi, henderson, lineker).
    pub fn with_builtin_users() -> ChatServer {
        match ChatServer::new(users::builtin_users()) {
            Ok(server) => server,
            Err(e) => unreachable!("built-in users are valid: {e}"),
        }
    }

    /// The users, in the order given.
    pub fn users(&self) -> &[UserRecord] {
        &self.users
    }

    /// Answers one request line (without or with its line end).
    pub fn handle_line(&self, line: &str) -> Response {
        match Request::parse(line) {
            Ok(req) => self.handle(&req),
            Err(e) => {
                log::warn!("protocol error: {e}");
                Response::error(msg::PROTOCOL_TIDAK_BENAR)
            }
        }
    }

    /// Answers one request.
    pub fn handle(&self, req: &Request) -> Response {
        match req {
            Request::Auth { username, password } => self.auth(username, password),
            Request::Send {
                tokenid,
                to,
                message,
            } => self.send(tokenid, to, message),
            Request::Inbox { tokenid } => self.inbox(tokenid),
            Request::Users { tokenid } => self.list_users(tokenid),
            Request::Logout { tokenid } => self.logout(tokenid),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No code panics while holding the lock; if it ever did, the state
        // is still consistent enough to keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn auth(&self, username: &str, password: &str) -> Response {
        let Some(&uid) = self.index.get(username) else {
            log::info!("auth {username}: {}", msg::USER_TIDAK_ADA);
            return Response::error(msg::USER_TIDAK_ADA);
        };
        if self.users[uid].password != password {
            log::info!("auth {username}: {}", msg::PASSWORD_SALAH);
            return Response::error(msg::PASSWORD_SALAH);
        }
        let token = match new_token() {
            Ok(t) => t,
            Err(e) => {
                log::error!("auth {username}: {e}");
                return Response::error("Server Error");
            }
        };
        let count = {
            let mut guard = self.lock();
            let state = &mut *guard;
            let tokens = &mut state.per_user[uid].tokens;
            tokens.push_back(token.clone());
            if tokens.len() > MAX_SESSIONS_PER_USER {
                if let Some(old) = tokens.pop_front() {
                    state.sessions.remove(&old);
                    log::info!("{username}: too many sessions, oldest one ended");
                }
            }
            state.sessions.insert(token.clone(), uid);
            tokens.len()
        };
        log::info!(
            "auth {username}: OK, session {} ({count} open)",
            short(&token)
        );
        Response::Token(token)
    }

    fn send(&self, tokenid: &str, to: &str, message: &str) -> Response {
        let mut state = self.lock();
        let Some(&from) = state.sessions.get(tokenid) else {
            return Response::error(msg::SESSION_TIDAK_DITEMUKAN);
        };
        let Some(&dest) = self.index.get(to) else {
            drop(state);
            log::info!(
                "send {} -> {to}: {}",
                self.users[from].username,
                msg::USER_TIDAK_DITEMUKAN
            );
            return Response::error(msg::USER_TIDAK_DITEMUKAN);
        };
        let len = message.len();
        let full = {
            let inbox = &state.per_user[dest];
            inbox.inbox_count >= MAX_INBOX_MESSAGES
                || inbox.inbox_bytes + len > MAX_INBOX_BYTES
                || state.pending_bytes + len > MAX_PENDING_BYTES
        };
        if full {
            drop(state);
            log::warn!(
                "send {} -> {to}: {}",
                self.users[from].username,
                msg::INBOX_PENUH
            );
            return Response::error(msg::INBOX_PENUH);
        }
        state.pending_bytes += len;
        let inbox = &mut state.per_user[dest];
        inbox.inbox_count += 1;
        inbox.inbox_bytes += len;
        match inbox.inbox.iter_mut().find(|(sender, _)| *sender == from) {
            Some((_, queue)) => queue.push_back(message.to_string()),
            None => inbox
                .inbox
                .push((from, VecDeque::from([message.to_string()]))),
        }
        drop(state);
        log::info!("send {} -> {to}: {len} bytes", self.users[from].username);
        Response::Message(msg::MESSAGE_SENT.to_string())
    }

    fn inbox(&self, tokenid: &str) -> Response {
        let mut state = self.lock();
        let Some(&uid) = state.sessions.get(tokenid) else {
            return Response::error(msg::SESSION_TIDAK_DITEMUKAN);
        };
        let user = &mut state.per_user[uid];
        let taken: Vec<(usize, Vec<String>)> = user
            .inbox
            .iter_mut()
            .map(|(sender, queue)| (*sender, queue.drain(..).collect()))
            .collect();
        let bytes = std::mem::take(&mut user.inbox_bytes);
        let count = std::mem::take(&mut user.inbox_count);
        state.pending_bytes -= bytes;
        drop(state);
        // Names come from the user list, which needs no lock.
        let me = &self.users[uid];
        let inbox = taken
            .into_iter()
            .map(|(sender, texts)| {
                let from = &self.users[sender];
                let list = texts
                    .into_iter()
                    .map(|text| InboxMessage {
                        msg_from: from.name.clone(),
                        msg_to: me.name.clone(),
                        msg: text,
                    })
                    .collect();
                (from.username.clone(), list)
            })
            .collect();
        log::info!(
            "inbox {}: {count} message{} taken",
            me.username,
            if count == 1 { "" } else { "s" }
        );
        Response::Inbox(Inbox(inbox))
    }

    fn list_users(&self, tokenid: &str) -> Response {
        let state = self.lock();
        let Some(&uid) = state.sessions.get(tokenid) else {
            return Response::error(msg::SESSION_TIDAK_DITEMUKAN);
        };
        let online: Vec<bool> = state
            .per_user
            .iter()
            .map(|u| !u.tokens.is_empty())
            .collect();
        drop(state);
        let list = self
            .users
            .iter()
            .zip(online)
            .enumerate()
            .filter(|(i, _)| *i != uid)
            .map(|(_, (u, online))| UserInfo {
                username: u.username.clone(),
                name: u.name.clone(),
                country: u.country.clone(),
                online,
            })
            .collect();
        log::info!("users {}", self.users[uid].username);
        Response::Users(list)
    }

    fn logout(&self, tokenid: &str) -> Response {
        let mut state = self.lock();
        let Some(uid) = state.sessions.remove(tokenid) else {
            return Response::error(msg::SESSION_TIDAK_DITEMUKAN);
        };
        let tokens = &mut state.per_user[uid].tokens;
        tokens.retain(|t| t != tokenid);
        let left = tokens.len();
        drop(state);
        log::info!(
            "logout {}: session {} ended ({left} still open)",
            self.users[uid].username,
            short(tokenid)
        );
        Response::Message(msg::LOGOUT_BERHASIL.to_string())
    }
}

/// The first group of a token, enough to tell sessions apart in the log
/// without writing the secret itself there.
fn short(token: &str) -> &str {
    token.split('-').next().unwrap_or(token)
}

/// Failed logins (wrong password or unknown user) one connection gets
/// answered at once; the next one ends the connection (see
/// [`BRAKE_PAUSE`]).
pub const MAX_FAILED_LOGINS: u32 = 5;

/// How long the server waits before it answers the failed login past
/// [`MAX_FAILED_LOGINS`] with "Terlalu Banyak Percobaan" and closes. Only
/// that connection's thread waits: other clients are not slowed.
pub const BRAKE_PAUSE: Duration = Duration::from_secs(1);

/// Serves one connection: reads request lines and answers each in turn
/// until the client closes.
///
/// Lines may arrive in pieces or several at once (one [`BufReader`] for
/// the whole connection keeps what was read ahead). A line that is not
/// UTF-8 is answered with "Protocol Tidak Benar" and the connection goes
/// on; a line longer than [`MAX_REQUEST_LINE`] is answered with
/// "Pesan Terlalu Panjang" and the connection is closed, since the rest of
/// that line cannot be told apart from the next request.
///
/// Between requests the connection may stay silent for `timeout` (then it
/// is closed quietly); once a line's first byte arrives, the whole line
/// must arrive within `timeout` ([`DeadlineReader`]), or the answer is
/// "Waktu Habis" and the connection is closed, so a client trickling a
/// byte now and then cannot hold a thread for ever.
///
/// Password guessing is braked: after [`MAX_FAILED_LOGINS`] failed `auth`
/// on this connection, the next failed one is answered with
/// "Terlalu Banyak Percobaan" after [`BRAKE_PAUSE`], and the connection
/// is closed.
///
/// # Errors
/// Socket failures other than the idle timeout and a close mid-line.
pub fn handle_connection(
    server: &ChatServer,
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
) -> io::Result<()> {
    log::info!("{peer}: connected");
    let mut reader = BufReader::new(DeadlineReader::new(&stream, Some(timeout))?);
    let mut writer = &stream;
    let mut failed_logins = 0u32;
    loop {
        // Between requests: wait for the first byte with the socket's own
        // timeout, then give the whole line `timeout` from now.
        reader.get_mut().clear();
        match reader.fill_buf() {
            Ok([]) => {
                log::info!("{peer}: closed");
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if framing::is_timeout(&e) => {
                log::info!("{peer}: idle too long; closed");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        reader.get_mut().start(timeout);
        let response = match framing::read_line(&mut reader, MAX_REQUEST_LINE) {
            Ok(Some(line)) => {
                log::debug!("{peer}: {:?}", redact(&line));
                server.handle_line(&line)
            }
            Ok(None) => {
                log::info!("{peer}: closed");
                return Ok(());
            }
            Err(FrameError::Malformed(why)) => {
                log::warn!("{peer}: {why}");
                Response::error(msg::PROTOCOL_TIDAK_BENAR)
            }
            Err(FrameError::TooLarge { limit }) => {
                log::warn!("{peer}: request line longer than {limit} bytes; closing");
                return close_with(&stream, &mut reader, msg::PESAN_TERLALU_PANJANG);
            }
            Err(FrameError::Truncated { got, .. }) => {
                log::info!("{peer}: closed in the middle of a line ({got} bytes dropped)");
                return Ok(());
            }
            Err(FrameError::Io(e)) if framing::is_timeout(&e) => {
                log::warn!(
                    "{peer}: no whole request line within {} s; closing",
                    timeout.as_secs_f64()
                );
                return close_with(&stream, &mut reader, msg::WAKTU_HABIS);
            }
            Err(FrameError::Io(e)) => return Err(e),
        };
        if is_failed_login(&response) {
            failed_logins += 1;
            if failed_logins > MAX_FAILED_LOGINS {
                log::warn!("{peer}: {failed_logins} failed logins; closing after a pause");
                thread::sleep(BRAKE_PAUSE);
                return close_with(&stream, &mut reader, msg::TERLALU_BANYAK_PERCOBAAN);
            }
        }
        writer.write_all(&response.to_bytes())?;
    }
}

/// Whether `auth` was refused (the answers a guesser gets).
fn is_failed_login(response: &Response) -> bool {
    matches!(response, Response::Error(m) if m == msg::PASSWORD_SALAH || m == msg::USER_TIDAK_ADA)
}

/// Answers `ERROR` with `message` and closes the connection (lingering,
/// so the answer is not lost to a reset).
fn close_with(
    stream: &TcpStream,
    reader: &mut BufReader<DeadlineReader<&TcpStream>>,
    message: &str,
) -> io::Result<()> {
    let mut writer = stream;
    writer.write_all(&Response::error(message).to_bytes())?;
    reader.get_mut().set_deadline(None);
    net::linger_close(stream, reader);
    Ok(())
}

/// The line as it may go to the log: an `auth` line's password hidden.
fn redact(line: &str) -> String {
    match Request::parse(line) {
        Ok(Request::Auth { username, .. }) => format!("auth {username} ***"),
        _ => line.chars().take(200).collect(),
    }
}

/// Serves chat connections on `listener` until `shutdown` is given: a
/// thread per connection, each running [`handle_connection`] on the shared
/// `chat` state. Returns once every connection's thread has ended
/// (stopping shuts their sockets down, so each sees its end at once).
///
/// # Errors
/// If the listener has no local address.
pub fn run_server(
    listener: TcpListener,
    chat: Arc<ChatServer>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let timeout = config.timeout;
    accept_loop(listener, config, shutdown, move |stream, peer| {
        handle_connection(&chat, stream, peer, timeout)
    })
}

/// Runs [`run_server`] on a thread of its own (tests, the benchmark);
/// stopping or dropping the returned [`Running`] stops and joins it.
///
/// # Errors
/// If the listener has no address or the thread cannot start.
pub fn start_server(
    listener: TcpListener,
    chat: Arc<ChatServer>,
    config: Config,
) -> io::Result<Running> {
    Running::spawn(listener, Shutdown::new(), move |listener, shutdown| {
        run_server(listener, chat, &config, &shutdown)
    })
}

/// The accept loop: each connection gets a place among the connections
/// `shutdown` admits and a thread of its own, which sets the timeouts of
/// `config` and TCP_NODELAY (one small answer per request, sent at once)
/// and runs `handle`; its error is logged with the peer's address and ends
/// only that connection. Returns once `shutdown` is given and every thread it started
/// has been joined. (The benchmark's baseline server uses it too.)
///
/// # Errors
/// If the listener has no local address.
pub fn accept_loop<H>(
    listener: TcpListener,
    config: &Config,
    shutdown: &Shutdown,
    handle: H,
) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr) -> io::Result<()> + Send + Sync + 'static,
{
    let handle = Arc::new(handle);
    shutdown.watch(&listener)?;
    let mut threads: Vec<thread::JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        // stop() connects to wake this loop: that connection is not a client.
        if shutdown.is_stopping() {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                net::accept_failed(&e);
                continue;
            }
        };
        let Some(admitted) = shutdown.admit(&stream) else {
            continue;
        };
        // The loop only accepts and starts the thread; the connection's
        // set-up happens on its own thread, so the next client is accepted
        // at once.
        let (handle, timeout) = (Arc::clone(&handle), config.timeout);
        let spawned = thread::Builder::new().spawn(move || {
            let _admitted = admitted; // counts the connection until it ends
            let Ok(peer) = stream.peer_addr() else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let served = net::set_timeouts(&stream, timeout).and_then(|()| handle(stream, peer));
            if let Err(e) = served {
                log::warn!("{peer}: {}", net::describe_io(&e));
            }
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => log::error!("cannot start a thread: {}", net::describe_io(&e)),
        }
        // Threads that already ended need no join: let them go.
        threads.retain(|t| !t.is_finished());
    }
    // stop() shut every connection's socket down, so each thread is ending.
    for t in threads {
        if t.join().is_err() {
            log::error!("a connection's thread panicked");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(r: Response) -> String {
        match r {
            Response::Token(t) => t,
            other => panic!("expected a token, got {other:?}"),
        }
    }

    #[test]
    fn inbox_keeps_order_and_python_empty_lists() {
        let s = ChatServer::with_builtin_users();
        let m = token(s.handle_line("auth messi surabaya"));
        let h = token(s.handle_line("auth henderson surabaya"));
        for i in 0..3 {
            let r = s.handle_line(&format!("send {m} henderson pesan {i}"));
            assert_eq!(r, Response::Message("Message Sent".into()));
        }
        let Response::Inbox(inbox) = s.handle_line(&format!("inbox {h}")) else {
            panic!()
        };
        let texts: Vec<&str> = inbox.iter().map(|(_, m)| m.msg.as_str()).collect();
        assert_eq!(texts, ["pesan 0", "pesan 1", "pesan 2"]);
        // Read again: the sender is still listed, with nothing, as chat.py does.
        let again = s.handle_line(&format!("inbox {h}"));
        assert_eq!(
            again,
            Response::Inbox(Inbox(vec![("messi".into(), vec![])]))
        );
        assert_eq!(s.lock().pending_bytes, 0);
    }

    #[test]
    fn full_inbox_refuses_and_recovers() {
        let s = ChatServer::with_builtin_users();
        let m = token(s.handle_line("auth messi surabaya"));
        let l = token(s.handle_line("auth lineker surabaya"));
        for _ in 0..MAX_INBOX_MESSAGES {
            assert!(s.handle_line(&format!("send {m} lineker x")).is_ok());
        }
        assert_eq!(
            s.handle_line(&format!("send {m} lineker x")),
            Response::error(msg::INBOX_PENUH)
        );
        let Response::Inbox(inbox) = s.handle_line(&format!("inbox {l}")) else {
            panic!()
        };
        assert_eq!(inbox.len(), MAX_INBOX_MESSAGES);
        assert!(s.handle_line(&format!("send {m} lineker x")).is_ok());
    }

    #[test]
    fn sessions_per_user_are_capped() {
        let s = ChatServer::with_builtin_users();
        let first = token(s.handle_line("auth messi surabaya"));
        for _ in 0..MAX_SESSIONS_PER_USER {
            token(s.handle_line("auth messi surabaya"));
        }
        assert_eq!(
            s.handle_line(&format!("inbox {first}")),
            Response::error(msg::SESSION_TIDAK_DITEMUKAN)
        );
        assert_eq!(s.lock().sessions.len(), MAX_SESSIONS_PER_USER);
    }

    #[test]
    fn passwords_stay_out_of_the_log() {
        assert_eq!(redact("auth messi surabaya"), "auth messi ***");
        assert_eq!(redact("inbox x"), "inbox x");
    }
}
