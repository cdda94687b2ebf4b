//! Conventions: what every program of the workspace does the same way.
pub mod cli;
pub mod error;
pub mod logging;
