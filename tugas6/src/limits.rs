//! Raising the open-files limit, so one process can hold thousands of
//! connections.
//!
//! Every connection is a file descriptor. Many systems start programs with
//! a soft limit of 1024 open files (macOS: 256), which a load test at
//! `-c 1000` (plus the listener, stdio and the test's own sockets) goes
//! past: `accept` then fails with "too many open files". The soft limit may
//! be raised up to the hard limit without privileges, as `ulimit -n $(ulimit
//! -Hn)` does in a shell; this does it from inside the program.
//!
//! The system calls (`getrlimit`, `setrlimit`, and macOS's `sysctl`) come
//! from the `libc` crate; this module holds the crate's only `unsafe` for
//! them.

/// Most descriptors asked for, whatever the hard limit says: far more than
/// any test here needs.
pub const MAX_OPEN_FILES: u64 = 1 << 20;

/// Raises the soft limit on open files as far as the OS allows (the hard
/// limit; on macOS also `kern.maxfilesperproc`, since it refuses more even
/// when the hard limit is "unlimited"), capped at [`MAX_OPEN_FILES`], and
/// returns the new soft limit; `None` if it could not be read or changed
/// (then nothing changed), and always on Windows, which has no such limit.
pub fn raise_open_files_limit() -> Option<u64> {
    imp::raise()
}

#[cfg(unix)]
mod imp {
    use super::MAX_OPEN_FILES;

    pub fn raise() -> Option<u64> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one `rlimit` (libc's definition of the
        // C struct for this target) into memory we own and have initialised.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        // rlim_t is 64 bits here but 32 on some targets (32-bit glibc).
        #[allow(clippy::useless_conversion)]
        let (cur, max) = (u64::from(lim.rlim_cur), u64::from(lim.rlim_max));
        let want = max.min(os_cap()).min(MAX_OPEN_FILES);
        if want <= cur {
            return Some(cur);
        }
        let new = libc::rlimit {
            rlim_cur: libc::rlim_t::try_from(want).ok()?,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the `rlimit` we pass, which lives
        // for the whole call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) } != 0 {
            return None;
        }
        Some(want)
    }

    /// macOS: `kern.maxfilesperproc` (what `setrlimit` accepts at most).
    #[cfg(target_vendor = "apple")]
    fn os_cap() -> u64 {
        let mut mib = [libc::CTL_KERN, libc::KERN_MAXFILESPERPROC];
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>();
        // SAFETY: `mib` names a 2-level integer sysctl; `value` and `len`
        // are ours and `len` says how big `value` is; nothing is written
        // (null new value, length 0).
        let rc = unsafe {
            libc::sysctl(
                mib.as_mut_ptr(),
                2,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
                std::ptr::null_mut(),
                0,
            )
        };
        match u64::try_from(value) {
            Ok(n) if rc == 0 && n > 0 => n,
            _ => MAX_OPEN_FILES,
        }
    }

    #[cfg(not(target_vendor = "apple"))]
    fn os_cap() -> u64 {
        MAX_OPEN_FILES
    }
}

#[cfg(not(unix))]
mod imp {
    pub fn raise() -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs getrlimit/setrlimit (Unix only: Windows has no open-files limit to raise)"
    )]
    fn limit_is_at_least_what_it_was() {
        // Calling twice gives the same answer: the first call already
        // raised it as far as it goes.
        let first = super::raise_open_files_limit();
        assert!(first.is_some());
        assert_eq!(super::raise_open_files_limit(), first);
    }

    /// The new soft limit is what the OS now reports, and no more than
    /// the hard limit.
    #[test]
    #[cfg(unix)]
    fn the_os_reports_the_raised_limit() {
        let got = super::raise_open_files_limit().unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in `imp::raise`.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        #[allow(clippy::useless_conversion)]
        let (cur, max) = (u64::from(lim.rlim_cur), u64::from(lim.rlim_max));
        assert_eq!(cur, got);
        assert!(got <= max);
    }
}
