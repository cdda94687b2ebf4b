//! The server against a real outside client: GNU telnet, typed into a tmux
//! pane like a person would (telnet sends each Enter as `\r\n`).
//!
//! Needs `telnet` (Debian: inetutils-telnet) and `tmux`; run with
//! `cargo test -p tugas5 -- --include-ignored`.

mod support;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// How long to wait for anything to appear on the screen.
const LIMIT: Duration = Duration::from_secs(15);

fn require(tool: &str, version_flag: &str, package: &str) {
    let ok = Command::new(tool)
        .arg(version_flag)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "this test needs {tool}: apt-get install {package}");
}

/// A private tmux server (its own socket name) with one pane; killed on drop.
struct Tmux {
    socket: String,
    socket_path: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let mut t = Tmux {
            socket: format!("tugas5-telnet-{}", std::process::id()),
            socket_path: String::new(),
        };
        t.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "200",
            "-y",
            "50",
            command,
        ]);
        t.socket_path = t
            .run(&["display", "-p", "#{socket_path}"])
            .trim()
            .to_string();
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .env("TERM", "xterm")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", "t"])
    }

    fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", "--", text]);
        self.run(&["send-keys", "-t", "t", "Enter"]);
    }

    /// Waits until the screen shows `text` `times` times (polling the
    /// screen; fails after [`LIMIT`]).
    fn wait_for(&self, text: &str, times: usize) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.matches(text).count() >= times {
                return s;
            }
            assert!(
                start.elapsed() < LIMIT,
                "telnet: {text:?} not on the screen after {LIMIT:?}:\n{s}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        if !self.socket_path.is_empty() {
            let _ = std::fs::remove_file(&self.socket_path);
        }
    }
}

#[test]
#[ignore = "needs telnet"]
fn a_person_typing_in_telnet_can_chat() {
    require("telnet", "--version", "inetutils-telnet");
    require("tmux", "-V", "tmux");
    let addr = support::start();
    let tmux = Tmux::start(&format!("exec telnet {} {}", addr.ip(), addr.port()));
    tmux.wait_for("Escape character is", 1);

    tmux.type_line("auth messi surabaya");
    let screen = tmux.wait_for("{\"status\": \"OK\", \"tokenid\": \"", 1);
    let token: String = screen
        .split("\"tokenid\": \"")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|&c| c != '"')
        .collect();
    assert!(tugas5::token::looks_like_token(&token), "{token}");

    tmux.type_line(&format!("send {token} messi halo dari telnet"));
    tmux.wait_for("{\"status\": \"OK\", \"message\": \"Message Sent\"}", 1);
    tmux.type_line(&format!("inbox {token}"));
    tmux.wait_for(
        "{\"status\": \"OK\", \"messages\": {\"messi\": [{\"msg_from\": \"Lionel Messi\", \
         \"msg_to\": \"Lionel Messi\", \"msg\": \"halo dari telnet\"}]}}",
        1,
    );
    tmux.type_line("bogus");
    tmux.wait_for(
        "{\"status\": \"ERROR\", \"message\": \"Protocol Tidak Benar\"}",
        1,
    );
    tmux.type_line(&format!("logout {token}"));
    tmux.wait_for("{\"status\": \"OK\", \"message\": \"Logout Berhasil\"}", 1);
    tmux.type_line(&format!("inbox {token}"));
    tmux.wait_for(
        "{\"status\": \"ERROR\", \"message\": \"Session Tidak Ditemukan\"}",
        1,
    );
}
