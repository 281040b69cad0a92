//! The kernel's audit netlink socket: the read-only multicast group that receives a copy of
//! every audit record, and the audit status (its `lost` counter).
//!
//! The multicast group (`AUDIT_NLGRP_READLOG`, Linux 3.16) is for readers besides auditd: it
//! needs CAP_AUDIT_READ, takes nothing from auditd when one runs, and needs none. The kernel
//! sends it each record once; a reader whose receive buffer is full misses records, and netlink
//! tells it so with ENOBUFS on its next read (counted here as an overrun, since the kernel does
//! not say how many).

use std::{
    io,
    mem::size_of,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    time::Duration,
};

use anyhow::{Context as _, Result};

use crate::sys::exit::{ExitCodeExt as _, EXIT_NO_KERNEL_SUPPORT, EXIT_NO_PRIVILEGE};

/// `include/uapi/linux/audit.h`.
const AUDIT_GET: u16 = 1000;
const AUDIT_NLGRP_READLOG: u32 = 1;
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;

/// What one read of the group brought.
pub(crate) enum Received {
    /// Records: their audit type and text.
    Records(Vec<(u16, String)>),
    /// Nothing before the read timeout.
    Nothing,
    /// The receive buffer overflowed: records were dropped before this read.
    Overrun,
}

/// A socket bound to the audit multicast group.
pub(crate) struct AuditReader {
    fd: OwnedFd,
    buf: Vec<u8>,
}

/// A netlink audit socket, bound to `groups`.
fn audit_socket(groups: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked and owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_AUDIT,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a new descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: an all-zero sockaddr_nl is valid; the kernel picks the port id.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = groups;
    // SAFETY: `addr` is a valid sockaddr_nl of the size given.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::from_ref(&addr).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

fn set_option<T>(fd: &OwnedFd, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points at a live T of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            std::ptr::from_ref(value).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(d.subsec_micros()),
    }
}

/// What binding or asking the audit socket failed with, as one line with the exit code of its
/// kind.
fn explain(err: io::Error, what: &str, capability: &str) -> anyhow::Error {
    let code = match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => EXIT_NO_PRIVILEGE,
        _ => EXIT_NO_KERNEL_SUPPORT,
    };
    let hint = match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => format!(" (needs root or {capability})"),
        Some(libc::EPROTONOSUPPORT) => " (the kernel was built without audit)".to_owned(),
        Some(libc::ECONNREFUSED) => {
            " (audit answers only in the initial user and pid namespaces)".to_owned()
        }
        _ => String::new(),
    };
    Err::<(), _>(err)
        .with_context(|| format!("{what}{hint}"))
        .exit_code(code)
        .unwrap_err()
}

impl AuditReader {
    /// Joins the multicast group. `receive_buffer` is the socket's buffer in bytes (the kernel
    /// doubles it); reads wait at most `timeout`.
    pub(crate) fn open(receive_buffer: usize, timeout: Duration) -> Result<Self> {
        let fd = audit_socket(1 << (AUDIT_NLGRP_READLOG - 1)).map_err(|e| {
            explain(
                e,
                "joining the audit netlink multicast group",
                "CAP_AUDIT_READ",
            )
        })?;
        let size = libc::c_int::try_from(receive_buffer).unwrap_or(libc::c_int::MAX);
        // SO_RCVBUFFORCE passes the net.core.rmem_max limit (root); SO_RCVBUF is capped by it.
        set_option(&fd, libc::SO_RCVBUFFORCE, &size)
            .or_else(|_| set_option(&fd, libc::SO_RCVBUF, &size))
            .context("setting the audit socket's receive buffer")?;
        set_option(&fd, libc::SO_RCVTIMEO, &timeval(timeout))
            .context("setting the audit socket's timeout")?;
        Ok(Self {
            fd,
            buf: vec![0; 1 << 16],
        })
    }

    /// Reads what arrived (waiting at most the timeout).
    pub(crate) fn receive(&mut self) -> Result<Received> {
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
            let err = io::Error::last_os_error();
            return match err.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(Received::Nothing),
                Some(libc::ENOBUFS) => Ok(Received::Overrun),
                _ => Err(err).context("reading the audit netlink group"),
            };
        }
        let data = &self.buf[..n.unsigned_abs()];
        Ok(Received::Records(
            messages(data)
                .map(|(kind, payload)| (kind, String::from_utf8_lossy(payload).into_owned()))
                .collect(),
        ))
    }
}

/// The netlink messages in one datagram: type and payload.
fn messages(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = u32::from_ne_bytes(data[0..4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(data[4..6].try_into().ok()?);
        // The audit multicast copy sets nlmsg_len to the payload's length plus the header,
        // but some kernels leave the header length out: take what the datagram holds.
        let end = len.clamp(NLMSG_HDRLEN, data.len());
        let payload = &data[NLMSG_HDRLEN..end];
        // Messages are 4-byte aligned; the last one may not be padded.
        data = &data[((end + 3) & !3).min(data.len())..];
        Some((kind, payload))
    })
}

/// The kernel's audit status, the fields syscage reports (`struct audit_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuditStatus {
    /// Records the kernel dropped since boot: backlog full, rate limit, hold queue full.
    pub(crate) lost: u32,
    /// `audit_rate_limit`: records per second past which they are dropped (0: none).
    pub(crate) rate_limit: u32,
    /// `audit_backlog_limit`: records queued for kauditd before they are dropped (0: none).
    pub(crate) backlog_limit: u32,
}

/// Asks the kernel for its audit status (AUDIT_GET; needs CAP_AUDIT_CONTROL).
pub(crate) fn audit_status() -> Result<AuditStatus> {
    let what = "reading the kernel's audit status";
    let fd = audit_socket(0).map_err(|e| explain(e, what, "CAP_AUDIT_CONTROL"))?;
    set_option(&fd, libc::SO_RCVTIMEO, &timeval(Duration::from_secs(2))).context(what)?;
    let mut request = [0u8; NLMSG_HDRLEN];
    request[0..4].copy_from_slice(&(NLMSG_HDRLEN as u32).to_ne_bytes());
    request[4..6].copy_from_slice(&AUDIT_GET.to_ne_bytes());
    request[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    request[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: an all-zero sockaddr_nl addresses the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: valid buffer and address of the sizes given.
    let sent = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            request.as_ptr().cast(),
            request.len(),
            0,
            std::ptr::from_ref(&kernel).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(explain(
            io::Error::last_os_error(),
            what,
            "CAP_AUDIT_CONTROL",
        ));
    }
    let mut buf = vec![0u8; 8192];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(explain(
                io::Error::last_os_error(),
                what,
                "CAP_AUDIT_CONTROL",
            ));
        }
        for (kind, payload) in messages(&buf[..n.unsigned_abs()]) {
            match kind {
                AUDIT_GET => return parse_status(payload).context(what),
                NLMSG_ERROR => {
                    let errno = payload
                        .get(0..4)
                        .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])));
                    if errno != 0 {
                        return Err(explain(
                            io::Error::from_raw_os_error(-errno),
                            what,
                            "CAP_AUDIT_CONTROL",
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}

/// `struct audit_status`: u32 mask, enabled, failure, pid, rate_limit, backlog_limit, lost, ...
fn parse_status(payload: &[u8]) -> Result<AuditStatus> {
    let field = |index: usize| {
        payload
            .get(index * 4..index * 4 + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
            .ok_or_else(|| anyhow::anyhow!("the status is {} bytes, too short", payload.len()))
    };
    Ok(AuditStatus {
        rate_limit: field(4)?,
        backlog_limit: field(5)?,
        lost: field(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn splits_a_datagram_into_messages() {
        let mut data = message(1326, b"audit(1.0:1): pid=1");
        data.extend(message(1300, b"x"));
        let got: Vec<(u16, &[u8])> = messages(&data).collect();
        assert_eq!(
            got,
            [(1326, &b"audit(1.0:1): pid=1"[..]), (1300, &b"x"[..])]
        );
        // A truncated datagram ends the iteration instead of reading past it.
        assert_eq!(messages(&data[..10]).count(), 0);
        // A last message without padding (the multicast copy's) ends cleanly.
        let unpadded = message(1326, b"abcde");
        assert_eq!(
            messages(&unpadded[..NLMSG_HDRLEN + 5]).collect::<Vec<_>>(),
            [(1326, &b"abcde"[..])]
        );
    }

    #[test]
    fn reads_the_status_fields() {
        let words: Vec<u8> = [0u32, 1, 1, 0, 5, 64, 42, 0]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .collect();
        let status = parse_status(&words).unwrap();
        assert_eq!(
            status,
            AuditStatus {
                lost: 42,
                rate_limit: 5,
                backlog_limit: 64
            }
        );
        assert!(parse_status(&words[..8]).is_err());
    }
}
