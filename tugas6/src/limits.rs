//! Raising the open-files limit, so one process can hold thousands of
//! connections.
//!
//! Every connection is a file descriptor. Many systems start programs with
//! a soft limit of 1024 open files, which a load test at `-c 1000` (plus
//! the listener, stdio and the test's own sockets) goes past: `accept`
//! then fails with "too many open files". The soft limit may be raised up
//! to the hard limit without privileges, as `ulimit -n $(ulimit -Hn)` does
//! in a shell; this does it from inside the program.

/// Raises the soft limit on open files to the hard limit (capped at
/// 1 048 576) and returns the new soft limit, or `None` if it could not be
/// read or changed (then nothing changed).
pub fn raise_open_files_limit() -> Option<u64> {
    imp::raise()
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
mod imp {
    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }

    #[cfg(target_os = "linux")]
    const RLIMIT_NOFILE: i32 = 7;
    #[cfg(target_os = "macos")]
    const RLIMIT_NOFILE: i32 = 8;

    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    }

    pub fn raise() -> Option<u64> {
        let mut lim = RLimit { cur: 0, max: 0 };
        // SAFETY: getrlimit writes one rlimit struct (two 64-bit unsigned
        // integers on Linux and macOS, which `RLimit` matches) into memory
        // we own.
        if unsafe { getrlimit(RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        // macOS reports an "infinite" hard limit but refuses values above
        // its own per-process cap; 1 Mi descriptors is more than enough.
        let want = lim.max.min(1 << 20);
        if want <= lim.cur {
            return Some(lim.cur);
        }
        let new = RLimit {
            cur: want,
            max: lim.max,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { setrlimit(RLIMIT_NOFILE, &new) } != 0 {
            return None;
        }
        Some(want)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod imp {
    pub fn raise() -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limit_is_at_least_what_it_was() {
        // Calling twice gives the same answer: the first call already
        // raised it to the hard limit.
        let first = super::raise_open_files_limit();
        assert!(first.is_some());
        assert_eq!(super::raise_open_files_limit(), first);
    }
}
