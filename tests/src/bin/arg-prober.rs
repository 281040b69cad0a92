//! Ground truth for argument capture: makes syscalls with chosen argument values and prints, for
//! each, `ok` or the errno's name, so a test can check both what was recorded and what a
//! profile lets through.
//!
//! ```text
//! arg-prober clone FLAGS          clone(FLAGS | SIGCHLD) without a new stack; the child exits
//! arg-prober socket DOMAIN TYPE   socket(DOMAIN, TYPE, 0)
//! arg-prober personality VALUE    personality(VALUE)
//! arg-prober script               the fixed sequence the argument test records
//! ```
//! Numbers may be decimal or 0x-hex. Exit status 0 when every call succeeded, 1 otherwise.

use std::process::ExitCode;

// The crate's dev-dependencies are for its integration tests; `cargo test` builds this binary
// with them too.
#[cfg(test)]
use {serde_json as _, tempfile as _};

/// What `script` does; the test's expectations are written against this list.
const SCRIPT: &[(&str, &[u64])] = &[
    ("clone", &[0]),
    ("clone", &[libc::CLONE_NEWUSER as u64]),
    ("clone", &[(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64]),
    ("socket", &[libc::AF_UNIX as u64, libc::SOCK_STREAM as u64]),
    ("socket", &[libc::AF_INET as u64, libc::SOCK_DGRAM as u64]),
    ("personality", &[0xffff_ffff]),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("script") => SCRIPT.iter().all(|(call, values)| probe(call, values)),
        Some(call) => {
            let values: Vec<u64> = args[1..].iter().map(|a| parse(a)).collect();
            probe(call, &values)
        }
        None => usage(),
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn probe(call: &str, values: &[u64]) -> bool {
    // SAFETY: raw syscalls with integer arguments; clone without CLONE_VM and without a new stack
    // behaves like fork, and the child only calls _exit.
    let ret = unsafe {
        match (call, values) {
            ("clone", [flags]) => {
                let pid = libc::syscall(
                    libc::SYS_clone,
                    *flags | libc::SIGCHLD as u64,
                    0u64,
                    0u64,
                    0u64,
                    0u64,
                );
                if pid == 0 {
                    libc::_exit(0);
                }
                if pid > 0 {
                    libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
                }
                pid
            }
            ("socket", [domain, kind]) => {
                let fd = libc::syscall(libc::SYS_socket, *domain, *kind, 0u64);
                if fd >= 0 {
                    libc::close(fd as i32);
                }
                fd
            }
            ("personality", [value]) => libc::syscall(libc::SYS_personality, *value),
            _ => return usage(),
        }
    };
    let result = if ret >= 0 {
        "ok".to_owned()
    } else {
        errno_name()
    };
    println!("{call} {values:x?}: {result}");
    ret >= 0
}

fn errno_name() -> String {
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EPERM) => "EPERM".into(),
        Some(libc::EACCES) => "EACCES".into(),
        Some(libc::EINVAL) => "EINVAL".into(),
        Some(libc::ENOSYS) => "ENOSYS".into(),
        Some(libc::EAFNOSUPPORT) => "EAFNOSUPPORT".into(),
        Some(n) => format!("errno {n}"),
        None => "unknown error".into(),
    }
}

fn parse(s: &str) -> u64 {
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.unwrap_or_else(|_| {
        eprintln!("arg-prober: {s:?} is not a number");
        std::process::exit(2)
    })
}

fn usage() -> bool {
    eprintln!("usage: arg-prober script | clone FLAGS | socket DOMAIN TYPE | personality VALUE");
    std::process::exit(2)
}
