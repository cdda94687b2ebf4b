//! The few system calls the standard library lacks, through the `libc`
//! crate's declarations (its constants and struct layouts are right for
//! every target). Every `unsafe` of this crate is in this file.

#[cfg(unix)]
pub use unix::*;

/// Whether process `pid` runs: unknown (`None`) where this cannot be asked.
#[cfg(not(unix))]
pub fn process_alive(_pid: u32) -> Option<bool> {
    None
}

#[cfg(unix)]
mod unix {
    use std::io;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;

    /// Calls listen(2) again on a listening socket, which only changes its
    /// backlog (Linux, BSDs, macOS).
    pub fn set_backlog(listener: &TcpListener, backlog: i32) -> io::Result<()> {
        // SAFETY: the descriptor is a valid, open, listening socket owned by
        // `listener` for the duration of the call; listen() touches nothing else.
        let rc = unsafe { libc::listen(listener.as_raw_fd(), backlog) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Whether process `pid` runs (`kill(pid, 0)`: ESRCH means no such
    /// process; EPERM means it runs as another user).
    pub fn process_alive(pid: u32) -> Option<bool> {
        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: signal 0 sends nothing; kill() only checks the process exists.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return Some(true);
        }
        Some(io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH))
    }

    /// Sends SIGTERM (`hard` false) or SIGKILL (`hard` true) to every
    /// process of the process group `pgid` (a child started with
    /// `process_group(0)` leads a group whose id is its pid). A group that
    /// is already gone is no error.
    pub fn signal_process_group(pgid: u32, hard: bool) -> io::Result<()> {
        let Ok(pgid) = libc::pid_t::try_from(pgid) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad process group id",
            ));
        };
        if pgid <= 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad process group id",
            ));
        }
        let sig = if hard { libc::SIGKILL } else { libc::SIGTERM };
        // SAFETY: kill() with a negative pid only sends a signal to that
        // process group; pgid > 1, so never to "every process" (-1) or to
        // our own group (0).
        let rc = unsafe { libc::kill(-pgid, sig) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            Ok(())
        } else {
            Err(e)
        }
    }

    /// Moves the calling thread into the network namespace `ns` (an open
    /// `/var/run/netns/NAME` or `/proc/PID/ns/net`), for the testkit's two
    /// hosts.
    #[cfg(all(target_os = "linux", any(test, feature = "testkit")))]
    pub fn enter_network_namespace(ns: &std::fs::File) -> io::Result<()> {
        // SAFETY: `ns` is an open namespace file for the whole call; setns
        // only changes this thread's network namespace.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The set holding SIGINT (Ctrl-C) and SIGTERM (`kill`).
    fn stop_signals() -> libc::sigset_t {
        // SAFETY: sigemptyset fully initialises the zeroed set it is given,
        // and sigaddset only sets bits in it; both only fail for a bad
        // signal number, which these constants are not.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            set
        }
    }

    /// Blocks SIGINT and SIGTERM in the calling thread (and so in every
    /// thread it starts afterwards), so that only [`wait_stop_signal`]
    /// receives them.
    pub fn block_stop_signals() -> io::Result<()> {
        let set = stop_signals();
        // SAFETY: `set` is an initialised signal set; the old mask is not asked for.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }

    /// Waits until SIGINT or SIGTERM arrives (both must be blocked first,
    /// see [`block_stop_signals`]) and returns its number.
    pub fn wait_stop_signal() -> io::Result<i32> {
        let set = stop_signals();
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is initialised and `sig` is a valid place for the answer.
        let rc = unsafe { libc::sigwait(&set, &mut sig) };
        if rc == 0 {
            Ok(sig)
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }
}
