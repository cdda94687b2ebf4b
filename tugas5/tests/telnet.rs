//! The server against a real outside client: GNU telnet, typed into a tmux
//! pane like a person would (telnet sends each Enter as `\r\n`), driven by
//! `common::testkit::telnet`.
//!
//! Needs `telnet` (Debian: inetutils-telnet) and `tmux`; run with
//! `cargo test -p tugas5 -- --include-ignored`.

mod support;

use std::time::Duration;

use common::testkit::telnet::Telnet;

/// How long to wait for anything to appear on the screen.
const LIMIT: Duration = Duration::from_secs(15);

#[test]
#[ignore = "needs telnet"]
fn a_person_typing_in_telnet_can_chat() {
    let server = support::start();
    let addr = server.addr();
    let telnet = Telnet::start(addr).unwrap();
    let wait_for = |text: &str| telnet.wait_for_text(text, LIMIT).unwrap();
    let type_line = |text: &str| telnet.type_line(text).unwrap();
    wait_for("Escape character is");

    type_line("auth messi surabaya");
    let screen = wait_for("{\"status\": \"OK\", \"tokenid\": \"");
    let token: String = screen
        .split("\"tokenid\": \"")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(|&c| c != '"')
        .collect();
    assert!(tugas5::token::looks_like_token(&token), "{token}");

    type_line(&format!("send {token} messi halo dari telnet"));
    wait_for("{\"status\": \"OK\", \"message\": \"Message Sent\"}");
    type_line(&format!("inbox {token}"));
    wait_for(
        "{\"status\": \"OK\", \"messages\": {\"messi\": [{\"msg_from\": \"Lionel Messi\", \
         \"msg_to\": \"Lionel Messi\", \"msg\": \"halo dari telnet\"}]}}",
    );
    type_line("bogus");
    wait_for("{\"status\": \"ERROR\", \"message\": \"Protocol Tidak Benar\"}");
    type_line(&format!("logout {token}"));
    wait_for("{\"status\": \"OK\", \"message\": \"Logout Berhasil\"}");
    type_line(&format!("inbox {token}"));
    wait_for("{\"status\": \"ERROR\", \"message\": \"Session Tidak Ditemukan\"}");
}
