//! Ground truth for argument capture: makes syscalls with chosen argument values and prints, for
//! each, `ok` or the errno's name, so a test can check both what was recorded and what a
//! profile lets through.
//!
//! ```text
//! arg-prober clone FLAGS          clone(FLAGS | SIGCHLD) without a new stack; the child exits
//! arg-prober socket DOMAIN TYPE   socket(DOMAIN, TYPE, 0)
//! arg-prober personality VALUE    personality(VALUE)
//! arg-prober int80 NR             the i386 syscall NR (no arguments) by `int $0x80`, from this
//!                                 64-bit program
//! arg-prober int80-as-syscall NR  the same, with rcx and r11 set the way the `syscall`
//!                                 instruction leaves them (the case syscage records as the
//!                                 64-bit syscall NR: README, Limitations)
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
            ("int80", [nr]) => int80(*nr, false),
            ("int80-as-syscall", [nr]) => int80(*nr, true),
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

/// The i386 syscall `nr`, without arguments, through `int $0x80`. With `disguised`, rcx holds
/// the address after the instruction and r11 the flags, as after a `syscall` instruction;
/// otherwise rcx is 0. Returns the raw result (negative errno on failure), as a C long.
#[cfg(target_arch = "x86_64")]
fn int80(nr: u64, disguised: bool) -> libc::c_long {
    let ret: i64;
    // SAFETY: a syscall without pointer arguments; every register the kernel may change is
    // declared clobbered, and the flags are only copied.
    unsafe {
        if disguised {
            std::arch::asm!(
                "lea rcx, [rip + 2f]",
                "pushfq",
                "pop r11",
                "int 0x80",
                "2:",
                inlateout("rax") nr as i64 => ret,
                clobber_abi("C"),
            );
        } else {
            std::arch::asm!(
                "int 0x80",
                inlateout("rax") nr as i64 => ret,
                inlateout("rcx") 0u64 => _,
                clobber_abi("C"),
            );
        }
    }
    if ret < 0 {
        // The raw errno, the way libc's syscall() reports it.
        // SAFETY: writing this thread's errno.
        unsafe { *libc::__errno_location() = -ret as i32 };
        -1
    } else {
        ret as libc::c_long
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn int80(_nr: u64, _disguised: bool) -> libc::c_long {
    eprintln!("arg-prober: int $0x80 exists on x86_64 only");
    std::process::exit(2)
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
