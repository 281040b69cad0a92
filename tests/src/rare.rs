//! Rare syscalls with harmless arguments, shared by the ground-truth programs (included with
//! `#[path]`): syscalls neither the Rust runtime nor glibc makes on its own, so a recording that
//! holds one saw the prober make it.

/// Every name [`call`] knows.
#[allow(dead_code, reason = "not every prober lists them")]
pub(crate) const NAMES: [&str; 32] = [
    "getpriority",
    "getcpu",
    "sysinfo",
    "times",
    "getresuid",
    "getresgid",
    "sched_getscheduler",
    "sched_get_priority_max",
    "capget",
    "getitimer",
    "getrusage",
    "umask",
    "getpgid",
    "getsid",
    "sched_getparam",
    "ioprio_get",
    "sched_get_priority_min",
    "sched_rr_get_interval",
    "clock_getres",
    "getgroups",
    "membarrier",
    "sched_getattr",
    "get_robust_list",
    "rt_sigpending",
    "mincore",
    "getcwd",
    "statfs",
    "pidfd_open",
    "uname",
    "personality",
    "getrlimit",
    "fstatfs",
];

/// Makes syscall `name` (one of [`NAMES`]) with harmless arguments; returns what it returned,
/// which does not matter to a recorder: `sys_enter` sees the call either way.
pub(crate) fn call(name: &str) -> libc::c_long {
    // Buffers large enough for any of the structures below.
    let mut buf = [0u64; 64];
    let p = buf.as_mut_ptr();
    let root = c"/".as_ptr();
    // SAFETY (every call): raw syscalls whose pointer arguments point into `buf` (512 bytes,
    // more than any structure written here) or at a NUL-terminated string; none changes the
    // process's state that matters (umask: the prober creates no files).
    unsafe {
        match name {
            "getpriority" => libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0),
            "getcpu" => libc::syscall(libc::SYS_getcpu, p, p.add(1), 0usize),
            "sysinfo" => libc::syscall(libc::SYS_sysinfo, p),
            "times" => libc::syscall(libc::SYS_times, p),
            "getresuid" => libc::syscall(libc::SYS_getresuid, p, p.add(1), p.add(2)),
            "getresgid" => libc::syscall(libc::SYS_getresgid, p, p.add(1), p.add(2)),
            "sched_getscheduler" => libc::syscall(libc::SYS_sched_getscheduler, 0),
            "sched_get_priority_max" => {
                libc::syscall(libc::SYS_sched_get_priority_max, libc::SCHED_FIFO)
            }
            "capget" => {
                let header = p.cast::<u32>();
                *header = 0x2008_0522; // _LINUX_CAPABILITY_VERSION_3
                *header.add(1) = 0;
                libc::syscall(libc::SYS_capget, header, p.add(2))
            }
            "getitimer" => libc::syscall(libc::SYS_getitimer, libc::ITIMER_REAL, p),
            "getrusage" => libc::syscall(libc::SYS_getrusage, libc::RUSAGE_SELF, p),
            // The prober creates no files: its umask does not matter.
            "umask" => libc::syscall(libc::SYS_umask, 0o022),
            "getpgid" => libc::syscall(libc::SYS_getpgid, 0),
            "getsid" => libc::syscall(libc::SYS_getsid, 0),
            "sched_getparam" => libc::syscall(libc::SYS_sched_getparam, 0, p),
            "ioprio_get" => libc::syscall(libc::SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0),
            "sched_get_priority_min" => {
                libc::syscall(libc::SYS_sched_get_priority_min, libc::SCHED_FIFO)
            }
            "sched_rr_get_interval" => libc::syscall(libc::SYS_sched_rr_get_interval, 0, p),
            "clock_getres" => libc::syscall(libc::SYS_clock_getres, libc::CLOCK_MONOTONIC, p),
            "getgroups" => libc::syscall(libc::SYS_getgroups, 0, p),
            "membarrier" => libc::syscall(libc::SYS_membarrier, 0 /* CMD_QUERY */, 0),
            "sched_getattr" => libc::syscall(libc::SYS_sched_getattr, 0, p, 56u32, 0u32),
            "get_robust_list" => libc::syscall(libc::SYS_get_robust_list, 0, p, p.add(1)),
            "rt_sigpending" => libc::syscall(libc::SYS_rt_sigpending, p, 8usize),
            "mincore" => {
                let page = (p as usize) & !4095;
                libc::syscall(libc::SYS_mincore, page, 1usize, p)
            }
            "getcwd" => libc::syscall(libc::SYS_getcwd, p, 512usize),
            "statfs" => libc::syscall(libc::SYS_statfs, root, p),
            "pidfd_open" => {
                let fd = libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0);
                if fd >= 0 {
                    libc::close(fd as i32);
                }
                fd
            }
            "uname" => libc::syscall(libc::SYS_uname, p),
            "personality" => libc::syscall(libc::SYS_personality, 0xffff_ffffu64),
            "getrlimit" => libc::syscall(libc::SYS_getrlimit, libc::RLIMIT_NOFILE, p),
            "fstatfs" => libc::syscall(libc::SYS_fstatfs, 0, p),
            other => panic!("no rare syscall named {other}"),
        }
    }
}
