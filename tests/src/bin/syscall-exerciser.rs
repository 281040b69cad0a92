//! Ground truth for syscage's end-to-end tests: a program that makes a known set of syscalls.
//!
//! `all` makes rare syscalls (ones neither the Rust runtime nor glibc makes on its own) from the
//! main thread, from three threads (a different syscall in each), from a forked child and from
//! that child's own child, then prints the name of each one it made, one per line. A recorder
//! that misses threads, children or grandchildren misses a printed name. Every call goes
//! through `libc::syscall(SYS_...)`, so no libc wrapper can substitute a different syscall.
//!
//! The other modes are small commands the tests need: `mkdir PATH` (prints `ok` or the errno
//! name, such as `EPERM`), `sleep SECS`, `exit CODE`, `kill-self SIGNUM` and `whoami`.
//!
//! It must stay small and obvious: a test that fails should be a finding about syscage.

use std::{ffi::CString, io::Write as _, process::ExitCode, thread, time::Duration};

// `cargo clippy --all-targets` checks this binary as a test target, with the package's
// dev-dependencies, which only the integration tests use.
#[cfg(test)]
use {serde_json as _, tempfile as _};

const USAGE: &str = "usage: syscall-exerciser all | mkdir PATH | sleep SECS | exit CODE | kill-self SIGNUM | whoami";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["all"] => all(),
        ["mkdir", path] => mkdir(path),
        ["sleep", secs] => sleep(parse(secs)),
        ["exit", code] => ExitCode::from(parse::<u8>(code)),
        ["kill-self", signum] => kill_self(parse(signum)),
        ["whoami"] => whoami(),
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

/// The full ground-truth run; prints the names of the syscalls it deliberately made.
fn all() -> ExitCode {
    let mut made: Vec<&str> = Vec::new();

    // Main thread.
    let mut cpu = 0u32;
    let mut node = 0u32;
    // SAFETY (all raw syscalls below): the pointers are to live, correctly sized locals.
    check("getcpu", unsafe {
        libc::syscall(libc::SYS_getcpu, &mut cpu, &mut node, 0usize)
    });
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    check("sysinfo", unsafe {
        libc::syscall(libc::SYS_sysinfo, &mut info)
    });
    let mut tms: libc::tms = unsafe { std::mem::zeroed() };
    check("times", unsafe { libc::syscall(libc::SYS_times, &mut tms) });
    made.extend(["getcpu", "sysinfo", "times"]);

    // Three threads, one syscall each, all alive at the same time.
    let threads = [
        thread::spawn(|| {
            let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
            check("getresuid", unsafe {
                libc::syscall(libc::SYS_getresuid, &mut r, &mut e, &mut s)
            });
            "getresuid"
        }),
        thread::spawn(|| {
            check("sched_getscheduler", unsafe {
                libc::syscall(libc::SYS_sched_getscheduler, 0)
            });
            "sched_getscheduler"
        }),
        thread::spawn(|| {
            // struct __user_cap_header_struct { u32 version; int pid; } and two data structs.
            let mut header = [0x2008_0522u32 /* _LINUX_CAPABILITY_VERSION_3 */, 0];
            let mut data = [0u32; 6];
            check("capget", unsafe {
                libc::syscall(libc::SYS_capget, header.as_mut_ptr(), data.as_mut_ptr())
            });
            "capget"
        }),
    ];
    for t in threads {
        made.push(t.join().expect("exerciser thread panicked"));
    }

    // A child and a grandchild, forked once the threads are gone (so the child is a plain
    // single-threaded copy). They report success through their exit status only.
    made.extend(child_and_grandchild());

    let mut out = std::io::stdout().lock();
    for name in made {
        writeln!(out, "{name}").expect("writing stdout");
    }
    ExitCode::SUCCESS
}

fn child_and_grandchild() -> [&'static str; 4] {
    // SAFETY: the process is single-threaded here; the child only makes raw syscalls and _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork: {}", std::io::Error::last_os_error());
    if child == 0 {
        // SAFETY: raw syscalls in the forked child; PER_QUERY (0xffffffff) changes nothing.
        let ok = unsafe {
            libc::syscall(libc::SYS_getpgid, 0) >= 0
                && libc::syscall(libc::SYS_personality, 0xffff_ffffu64) >= 0
        };
        let grandchild = unsafe { libc::fork() };
        if grandchild == 0 {
            let mut value: libc::itimerval = unsafe { std::mem::zeroed() };
            let (mut r, mut e, mut s) = (0u32, 0u32, 0u32);
            let ok = unsafe {
                libc::syscall(libc::SYS_getitimer, libc::ITIMER_REAL, &mut value) == 0
                    && libc::syscall(libc::SYS_getresgid, &mut r, &mut e, &mut s) == 0
            };
            unsafe { libc::_exit(if ok { 0 } else { 11 }) };
        }
        let grandchild_ok = grandchild > 0 && wait_ok(grandchild);
        unsafe {
            libc::_exit(if !ok {
                10
            } else if grandchild_ok {
                0
            } else {
                12
            })
        };
    }
    assert!(
        wait_ok(child),
        "the forked child or grandchild failed (see its exit status above)"
    );
    ["getpgid", "personality", "getitimer", "getresgid"]
}

/// Waits for `pid`; true when it exited with status 0.
fn wait_ok(pid: libc::pid_t) -> bool {
    let mut status = 0;
    // SAFETY: plain waitpid with a valid out-pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    let ok = waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        eprintln!("syscall-exerciser: pid {pid} ended with wait status {status:#x}");
    }
    ok
}

fn check(name: &str, ret: libc::c_long) {
    assert!(ret != -1, "{name}: {}", std::io::Error::last_os_error());
}

/// `mkdir PATH`: prints `ok` and exits 0, or prints the errno's name and exits 1.
fn mkdir(path: &str) -> ExitCode {
    let c_path = CString::new(path).expect("path contains NUL");
    // SAFETY: valid NUL-terminated path.
    if unsafe { libc::syscall(libc::SYS_mkdir, c_path.as_ptr(), 0o755) } == 0 {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    println!("{}", errno_name(errno));
    ExitCode::from(1)
}

fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EACCES => "EACCES".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::EROFS => "EROFS".into(),
        libc::ENOSYS => "ENOSYS".into(),
        other => format!("errno {other}"),
    }
}

/// `sleep SECS`: says `sleeping` (so a test knows the sleep is about to start), sleeps, and says
/// `slept`.
fn sleep(secs: u64) -> ExitCode {
    println!("sleeping");
    std::io::stdout().flush().expect("flushing stdout");
    thread::sleep(Duration::from_secs(secs));
    println!("slept");
    ExitCode::SUCCESS
}

/// `kill-self SIGNUM`: sends itself the signal; exits 3 if it survives.
fn kill_self(signal: i32) -> ExitCode {
    // SAFETY: plain kill(2) to ourselves.
    unsafe { libc::kill(libc::getpid(), signal) };
    thread::sleep(Duration::from_secs(1));
    eprintln!("syscall-exerciser: survived signal {signal}");
    ExitCode::from(3)
}

/// `whoami`: prints `uid=U gid=G euid=U egid=G groups=A,B` (supplementary groups, sorted).
fn whoami() -> ExitCode {
    // SAFETY: identity queries cannot fail; getgroups gets a buffer of the size it reported.
    let (uid, gid, euid, egid) = unsafe {
        (
            libc::getuid(),
            libc::getgid(),
            libc::geteuid(),
            libc::getegid(),
        )
    };
    let count = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut groups = vec![0 as libc::gid_t; usize::try_from(count).expect("getgroups failed")];
    let count = unsafe { libc::getgroups(count, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(count).expect("getgroups failed"));
    groups.sort_unstable();
    let groups: Vec<String> = groups.iter().map(ToString::to_string).collect();
    println!(
        "uid={uid} gid={gid} euid={euid} egid={egid} groups={}",
        groups.join(",")
    );
    ExitCode::SUCCESS
}
