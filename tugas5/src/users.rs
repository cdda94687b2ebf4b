//! Who can log in: the course's three built-in users, or a JSON users file.
//!
//! A users file is a JSON list of objects with `username`, `password`,
//! `name` and `country` (the course's `nama`/`negara` work too):
//!
//! ```json
//! [
//!   {"username": "messi", "password": "surabaya", "name": "Lionel Messi", "country": "Argentina"},
//!   {"username": "henderson", "password": "surabaya", "name": "Jordan Henderson", "country": "Inggris"}
//! ]
//! ```

use std::collections::HashSet;
use std::path::Path;

use common::chat::UserRecord;
use common::error::{io_cause, AppError};

/// The course's users (`chat.py`): all with the password `surabaya`.
pub fn builtin_users() -> Vec<UserRecord> {
    vec![
        UserRecord::new("messi", "surabaya", "Lionel Messi", "Argentina"),
        UserRecord::new("henderson", "surabaya", "Jordan Henderson", "Inggris"),
        UserRecord::new("lineker", "surabaya", "Gary Lineker", "Inggris"),
    ]
}

/// Checks a list of users: at least one; usernames and passwords are one
/// word each (the protocol splits on spaces) and usernames are unique.
///
/// # Errors
/// A sentence naming the first bad entry (1-based).
pub fn validate(users: &[UserRecord]) -> Result<(), String> {
    if users.is_empty() {
        return Err("the list of users is empty".to_string());
    }
    let mut seen = HashSet::new();
    for (i, u) in users.iter().enumerate() {
        let n = i + 1;
        if !is_word(&u.username) {
            return Err(format!(
                "user {n}: username {:?} must be one word without spaces",
                u.username
            ));
        }
        if !is_word(&u.password) {
            return Err(format!(
                "user {n} ({}): password must be one word without spaces",
                u.username
            ));
        }
        if !seen.insert(u.username.as_str()) {
            return Err(format!("user {n}: username {:?} appears twice", u.username));
        }
    }
    Ok(())
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Parses and checks the text of a users file.
///
/// # Errors
/// The JSON error (with line and column) or the [`validate`] error.
pub fn parse_users(text: &str) -> Result<Vec<UserRecord>, String> {
    let users: Vec<UserRecord> = serde_json::from_str(text).map_err(|e| {
        format!(
            "{e} (expected a JSON list of {{\"username\", \"password\", \"name\", \"country\"}})"
        )
    })?;
    validate(&users)?;
    Ok(users)
}

/// Reads a users file.
///
/// # Errors
/// An [`AppError`] naming the file: cannot be read, not JSON of the right
/// shape, or a bad entry.
pub fn load_users(path: &Path) -> Result<Vec<UserRecord>, AppError> {
    let what = format!("cannot load users from {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| AppError::new(&what, io_cause(&e)))?;
    parse_users(&text).map_err(|e| AppError::new(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_users_are_valid() {
        let users = builtin_users();
        validate(&users).unwrap();
        assert_eq!(users[0].name, "Lionel Messi");
        assert!(users.iter().all(|u| u.password == "surabaya"));
    }

    #[test]
    fn bad_lists_are_explained() {
        let cases = [
            ("[]", "empty"),
            ("{}", "expected a JSON list"),
            ("[{\"username\": \"a\"}]", "missing field `password`"),
            (
                r#"[{"username":"a b","password":"x","name":"A","country":"C"}]"#,
                "must be one word",
            ),
            (
                r#"[{"username":"a","password":"","name":"A","country":"C"}]"#,
                "password must be one word",
            ),
            (
                r#"[{"username":"a","password":"x","name":"A","country":"C"},
                   {"username":"a","password":"y","name":"B","country":"C"}]"#,
                "user 2: username \"a\" appears twice",
            ),
            ("[{", "EOF while parsing"),
        ];
        for (text, want) in cases {
            let err = parse_users(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn missing_file_names_the_file() {
        let err = load_users(Path::new("/nonexistent/users.json")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot load users from /nonexistent/users.json: no such file or directory"
        );
    }
}
