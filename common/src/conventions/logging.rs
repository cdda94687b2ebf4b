//! Logging set-up shared by every binary.

/// Starts env_logger on stderr at level `info` unless `RUST_LOG` says
/// otherwise. Safe to call more than once (later calls do nothing).
pub fn init() {
    let env = env_logger::Env::default().default_filter_or("info");
    let _ = env_logger::Builder::from_env(env)
        .format_timestamp_millis()
        .try_init();
}

/// For tests: logs through the test harness so output shows only on failure.
pub fn init_for_tests() {
    let _ = env_logger::builder().is_test(true).try_init();
}
