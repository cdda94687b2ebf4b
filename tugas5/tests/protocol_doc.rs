//! PROTOCOL.md's examples, sent to a real server in document order.
//!
//! Every `>>> request` line is sent as it is written (plus `\r\n`); the
//! answer must equal the `<<< response` line below it byte for byte. The
//! only thing that differs between runs is a token: the first time the
//! document shows a `tokenid`, the real one is noted, and from then on the
//! document's token is replaced by the real one in requests and answers.

mod support;

use std::collections::HashMap;

use common::chat::{msg, Response};
use support::{start, Conn};
use tugas5::token::looks_like_token;

const DOC: &str = include_str!("../PROTOCOL.md");

fn examples() -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut pending: Option<String> = None;
    for (i, line) in DOC.lines().enumerate() {
        if let Some(req) = line.strip_prefix(">>> ") {
            assert!(pending.is_none(), "line {}: two requests in a row", i + 1);
            pending = Some(req.to_string());
        } else if let Some(resp) = line.strip_prefix("<<< ") {
            let req = pending
                .take()
                .unwrap_or_else(|| panic!("line {}: a response without a request", i + 1));
            pairs.push((req, resp.to_string()));
        }
    }
    assert!(pending.is_none(), "the last request has no response");
    pairs
}

fn replace_all(text: &str, tokens: &HashMap<String, String>) -> String {
    tokens
        .iter()
        .fold(text.to_string(), |t, (doc, real)| t.replace(doc, real))
}

#[test]
fn every_documented_example_is_what_the_server_answers() {
    let pairs = examples();
    assert!(pairs.len() >= 20, "only {} examples", pairs.len());
    let server = start();
    let addr = server.addr();
    let mut c = Conn::open(addr);
    let mut tokens: HashMap<String, String> = HashMap::new();
    for (req, doc_resp) in &pairs {
        let real_resp = c.raw(&replace_all(req, &tokens));
        let real_resp = real_resp.strip_suffix("\r\n\r\n").unwrap().to_string();
        // A new token: learn it from the documented and the real answer.
        if let (Ok(Response::Token(doc_t)), Ok(Response::Token(real_t))) = (
            Response::from_slice(doc_resp.as_bytes()),
            Response::from_slice(real_resp.as_bytes()),
        ) {
            assert!(looks_like_token(&doc_t), "documented token {doc_t}");
            assert!(looks_like_token(&real_t), "real token {real_t}");
            assert!(!tokens.contains_key(&doc_t), "{doc_t} shown twice as new");
            tokens.insert(doc_t, real_t);
        }
        assert_eq!(
            real_resp,
            replace_all(doc_resp, &tokens),
            "request {req:?} got a different answer than PROTOCOL.md shows"
        );
    }
}

#[test]
fn the_document_has_the_assignments_format_and_covers_everything() {
    for heading in ["NAMA SERVICE", "DESKRIPSI", "FORMAT DATA", "DAFTAR FITUR"] {
        assert!(DOC.contains(&format!("## {heading}")), "missing {heading}");
    }
    for part in [
        "**Nama fitur:**",
        "**Deskripsi dan tujuan:**",
        "**Parameter input:**",
        "**Hasil keluaran, penjelasan status keluaran:**",
        "**Contoh message input dan keluaran:**",
    ] {
        assert!(
            DOC.matches(part).count() >= 6,
            "{part} not in every feature"
        );
    }
    let pairs = examples();
    for cmd in ["auth", "send", "inbox", "users", "logout"] {
        assert!(
            pairs.iter().any(|(r, _)| r.starts_with(&format!("{cmd} "))),
            "no example of {cmd}"
        );
    }
    for m in [
        msg::USER_TIDAK_ADA,
        msg::PASSWORD_SALAH,
        msg::SESSION_TIDAK_DITEMUKAN,
        msg::USER_TIDAK_DITEMUKAN,
        msg::PROTOCOL_TIDAK_BENAR,
        msg::MESSAGE_SENT,
        msg::LOGOUT_BERHASIL,
    ] {
        assert!(
            pairs
                .iter()
                .any(|(_, resp)| resp.contains(&format!("\"{m}\""))),
            "no example answer with {m:?}"
        );
    }
    // Errors without a one-line example are still documented.
    for m in [
        msg::INBOX_PENUH,
        msg::PESAN_TERLALU_PANJANG,
        msg::WAKTU_HABIS,
        msg::TERLALU_BANYAK_PERCOBAAN,
    ] {
        assert!(DOC.contains(&format!("\"{m}\"")), "{m} not documented");
    }
}
