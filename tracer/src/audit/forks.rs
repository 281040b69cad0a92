//! The kernel's fork events (the proc connector, `CONFIG_PROC_EVENTS`), so a process is known
//! from its first instruction: the event is queued in `copy_process`, before the child runs, so
//! it is in this socket before any audit record the child causes.

use std::{
    io,
    mem::size_of,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use anyhow::{Context as _, Result};

/// `include/uapi/linux/connector.h` and `cn_proc.h`.
const NETLINK_CONNECTOR: libc::c_int = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_FORK: u32 = 1;
const NLMSG_HDRLEN: usize = 16;
/// `struct cn_msg`: idx, val, seq, ack (u32 each), len, flags (u16 each).
const CN_MSG_LEN: usize = 20;
/// `struct proc_event`'s header: what, cpu (u32), timestamp_ns (u64).
const EVENT_HEADER_LEN: usize = 16;

/// What the fork events brought since the last read.
pub(crate) enum Forks {
    /// (parent tgid, child tgid) of each new process, in order.
    Seen(Vec<(i32, i32)>),
    /// The socket's buffer overflowed: some forks were missed.
    Overrun,
}

pub(crate) struct ForkEvents {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl ForkEvents {
    /// Subscribes to the proc connector (needs CAP_NET_ADMIN).
    pub(crate) fn open() -> Result<Self> {
        let what = "subscribing to the kernel's fork events (proc connector)";
        // SAFETY: plain socket(2); the result is checked and owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                NETLINK_CONNECTOR,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error()).context(what);
        }
        // SAFETY: `raw` is a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size: libc::c_int = 8 << 20;
        // SAFETY: `size` is a live c_int. Failing leaves the default buffer, which still works.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                std::ptr::from_ref(&size).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        // SAFETY: an all-zero sockaddr_nl is valid.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = CN_IDX_PROC;
        // SAFETY: `addr` is a valid sockaddr_nl of the size given.
        if unsafe {
            libc::bind(
                fd.as_raw_fd(),
                std::ptr::from_ref(&addr).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        } != 0
        {
            return Err(io::Error::last_os_error()).context(what);
        }
        let mut message = Vec::with_capacity(NLMSG_HDRLEN + CN_MSG_LEN + 4);
        let len = (NLMSG_HDRLEN + CN_MSG_LEN + 4) as u32;
        message.extend_from_slice(&len.to_ne_bytes());
        message.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
        message.extend_from_slice(&[0; 10]);
        for word in [CN_IDX_PROC, CN_VAL_PROC, 0, 0] {
            message.extend_from_slice(&word.to_ne_bytes());
        }
        message.extend_from_slice(&4u16.to_ne_bytes());
        message.extend_from_slice(&0u16.to_ne_bytes());
        message.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
        // SAFETY: valid buffer of the length given.
        if unsafe { libc::send(fd.as_raw_fd(), message.as_ptr().cast(), message.len(), 0) } < 0 {
            return Err(io::Error::last_os_error()).context(what);
        }
        Ok(Self {
            fd,
            buf: vec![0; 1 << 16],
        })
    }

    /// Every fork event queued now (never waits).
    pub(crate) fn drain(&mut self) -> Forks {
        let mut seen = Vec::new();
        loop {
            // SAFETY: `buf` is writable for its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr().cast(),
                    self.buf.len(),
                    0,
                )
            };
            if n < 0 {
                return match io::Error::last_os_error().raw_os_error() {
                    Some(libc::ENOBUFS) => Forks::Overrun,
                    _ => Forks::Seen(seen),
                };
            }
            if let Some(fork) = fork_of(&self.buf[..n.unsigned_abs()]) {
                seen.push(fork);
            }
        }
    }
}

/// The (parent tgid, child tgid) of a fork event datagram; `None` for other events.
fn fork_of(data: &[u8]) -> Option<(i32, i32)> {
    let event = data.get(NLMSG_HDRLEN + CN_MSG_LEN..)?;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(event.get(at..at + 4)?.try_into().ok()?))
    };
    if word(0)? != PROC_EVENT_FORK {
        return None;
    }
    // struct fork_proc_event: parent_pid, parent_tgid, child_pid, child_tgid.
    let parent_tgid = word(EVENT_HEADER_LEN + 4)?;
    let child_pid = word(EVENT_HEADER_LEN + 8)?;
    let child_tgid = word(EVENT_HEADER_LEN + 12)?;
    // A new thread is not a new process: audit records name the thread group.
    (child_pid == child_tgid).then_some((parent_tgid as i32, child_tgid as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(what: u32, ids: [u32; 4]) -> Vec<u8> {
        let mut data = vec![0u8; NLMSG_HDRLEN + CN_MSG_LEN];
        data.extend_from_slice(&what.to_ne_bytes());
        data.extend_from_slice(&[0; 12]);
        for id in ids {
            data.extend_from_slice(&id.to_ne_bytes());
        }
        data
    }

    #[test]
    fn reads_process_forks_not_threads_or_other_events() {
        assert_eq!(
            fork_of(&event(PROC_EVENT_FORK, [10, 10, 11, 11])),
            Some((10, 11))
        );
        assert_eq!(fork_of(&event(PROC_EVENT_FORK, [10, 10, 12, 11])), None);
        assert_eq!(fork_of(&event(2, [10, 10, 11, 11])), None);
        assert_eq!(fork_of(&[0; 8]), None);
    }
}
