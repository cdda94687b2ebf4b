//! For graders and benchmarks: the check kit and the benchmark helpers.
pub mod bench;
pub mod check;
