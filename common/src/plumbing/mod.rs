//! Plumbing: sockets, framing and files, the same for every assignment.
pub mod files;
pub mod framing;
pub mod net;
pub mod stop;
pub(crate) mod sys;
