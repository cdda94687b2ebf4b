//! For graders and benchmarks: the check kit, grading a whole class, and
//! the benchmark helpers.
pub mod bench;
pub mod check;
pub mod grade;
