//! Ground truth for the reliability tests: workloads that make a known rare syscall and then end
//! badly, outlive their parent, or wait to be told to stop.
//!
//! ```text
//! fault-prober call NAME [MILLIS]     makes NAME, prints `made NAME`, sleeps MILLIS (default 0)
//! fault-prober hold NAME [AFTER]      makes NAME, prints `made NAME`, waits for EOF on stdin,
//!                                     makes AFTER (default: NAME again), exits 0
//! fault-prober spin NAME              makes NAME every 10 ms forever; prints `spinning` first
//! fault-prober busy NAME FLAG         prints `busy`, makes getppid in a tight loop (checking
//!                                     with access(2) every 4096 calls whether file FLAG
//!                                     exists) until FLAG exists, then makes NAME from that same
//!                                     single thread, prints `made NAME` and exits 0
//! fault-prober segv NAME              makes NAME, prints `made NAME`, writes through a null
//!                                     pointer (SIGSEGV)
//! fault-prober daemon PARENT DAEMON   forks a daemon (new session, stdio on /dev/null) that
//!                                     makes DAEMON and sleeps 60 s; once the daemon made it,
//!                                     prints `daemon <pid>`, makes PARENT and exits 0
//! fault-prober names                  every NAME it knows, one per line
//! ```
//! NAME is one of the rare syscalls in `rare.rs`. Output is flushed line by line, so a test
//! reading it through syscage knows how far the workload got.

#[path = "../rare.rs"]
mod rare;

use std::{
    io::{Read as _, Write as _},
    process::ExitCode,
    thread,
    time::Duration,
};

// `cargo clippy --all-targets` checks this binary as a test target, with the package's
// dev-dependencies, which only the integration tests use.
#[cfg(test)]
use {serde_json as _, tempfile as _};

const USAGE: &str =
    "usage: fault-prober call NAME [MILLIS] | hold NAME [AFTER] | spin NAME | busy NAME FLAG | \
                     segv NAME | daemon PARENT DAEMON | names";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["call", name] => made(name),
        ["call", name, millis] => {
            made(name);
            thread::sleep(Duration::from_millis(parse(millis)));
            ExitCode::SUCCESS
        }
        ["hold", name] => hold(name, name),
        ["hold", name, after] => hold(name, after),
        ["spin", name] => {
            say("spinning");
            loop {
                rare::call(name);
                thread::sleep(Duration::from_millis(10));
            }
        }
        ["busy", name, flag] => busy_until_flag(name, flag),
        ["segv", name] => {
            made(name);
            // SAFETY: none; this is the crash the test wants.
            unsafe { std::ptr::null_mut::<u64>().write_volatile(1) };
            ExitCode::from(3)
        }
        ["daemon", parent, daemon] => daemonize(parent, daemon),
        ["names"] => {
            for name in rare::NAMES {
                say(name);
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse<T: std::str::FromStr>(s: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| panic!("not a number: {s:?}\n{USAGE}"))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("writing stdout");
    out.flush().expect("flushing stdout");
}

fn made(name: &str) -> ExitCode {
    rare::call(name);
    say(&format!("made {name}"));
    ExitCode::SUCCESS
}

fn hold(name: &str, after: &str) -> ExitCode {
    made(name);
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    rare::call(after);
    ExitCode::SUCCESS
}

/// Keeps its only thread entering syscalls back to back (so the recorder's per-CPU cache holds
/// its cgroup) until `flag` exists, then makes `name`. Nothing else in the process makes a
/// syscall meanwhile: the test's finding must not depend on another task passing by.
fn busy_until_flag(name: &str, flag: &str) -> ExitCode {
    let flag = std::ffi::CString::new(flag).expect("FLAG has no NUL byte");
    say("busy");
    loop {
        for _ in 0..4096 {
            // SAFETY: getppid has no arguments and cannot fail.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
        // SAFETY: a valid NUL-terminated path.
        if unsafe { libc::access(flag.as_ptr(), libc::F_OK) } == 0 {
            return made(name);
        }
    }
}

/// Forks a daemon that makes `daemon` and outlives us; makes `parent` once the daemon made its.
fn daemonize(parent: &str, daemon: &str) -> ExitCode {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) with a valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let [read_end, write_end] = fds;
    // SAFETY: single-threaded here; the child only makes raw syscalls until it sleeps.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: plain syscalls on descriptors this process owns.
        unsafe {
            libc::close(read_end);
            libc::setsid();
            // Like any daemon: let go of the terminal and of syscage's pipes.
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
            rare::call(daemon);
            let me = libc::getpid().to_ne_bytes();
            libc::write(write_end, me.as_ptr().cast(), me.len());
            libc::close(write_end);
        }
        thread::sleep(Duration::from_secs(60));
        // SAFETY: plain _exit.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: plain close.
    unsafe { libc::close(write_end) };
    let mut reader = {
        use std::os::fd::FromRawFd as _;
        // SAFETY: the read end is ours and open; the File takes ownership.
        unsafe { std::fs::File::from_raw_fd(read_end) }
    };
    let mut pid_bytes = [0u8; 4];
    reader
        .read_exact(&mut pid_bytes)
        .expect("the daemon did not report (it made its syscall first)");
    say(&format!("daemon {}", i32::from_ne_bytes(pid_bytes)));
    rare::call(parent);
    ExitCode::SUCCESS
}
