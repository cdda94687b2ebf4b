//! Message formats: each one behind a cargo feature of the same name, so a
//! crate compiles only the format it speaks.
#[cfg(feature = "chat")]
pub mod chat;
#[cfg(feature = "fileproto")]
pub mod fileproto;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "transfer")]
pub mod transfer;
