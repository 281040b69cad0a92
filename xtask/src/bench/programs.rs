//! The kernel's view of BPF programs: other processes' programs on `sys_enter`, programs not yet
//! freed, and a program's run statistics. All read from /proc and bpf(2), never changed.

use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

/// How long to wait for the previous measurement's programs to be freed.
pub(super) const SETTLE_CAP: Duration = Duration::from_secs(5);

/// How long to wait for other processes' programs on `sys_enter` to go.
const QUIET_CAP: Duration = Duration::from_secs(60);

/// Other processes' programs on `sys_enter` (`record --all` of another user of the machine, a
/// bpftrace): they would tax the untraced runs too. Found by their links' fdinfo
/// (`tp_name: sys_enter`); classic-tracepoint perf events are not seen this way.
pub(super) fn foreign_sys_enter_tracers() -> Vec<String> {
    let own = std::process::id().to_string();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in procs.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if fdinfos(&entry.path()).any(|info| links_sys_enter(&info)) {
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            found.push(format!("{pid} ({})", comm.trim()));
        }
    }
    found
}

/// Waits up to [`QUIET_CAP`] for other sys_enter tracers to go; returns those still there.
pub(super) fn wait_for_quiet() -> Vec<String> {
    let deadline = Instant::now() + QUIET_CAP;
    loop {
        let found = foreign_sys_enter_tracers();
        if found.is_empty() || Instant::now() >= deadline {
            return found;
        }
        eprintln!(
            "xtask: waiting for other programs on sys_enter to go: {}",
            found.join(", ")
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Waits, before each measurement, until the BPF programs the previous one loaded are freed.
///
/// Detaching a program from `sys_enter` (a faultable tracepoint since Linux 6.10) waits for an
/// RCU tasks-trace grace period, whose work lands on the CPUs the next workload runs on: a run
/// that started right after another tracer stopped measured more CPU time than the same run
/// after a pause (`empty` then `empty` again, both ways round). Freed programs are the sign that
/// the grace period is over.
pub(super) struct ProgramSettle {
    /// The newest program id when the previous measurement started.
    newest: u32,
    /// Measurements that started while newer programs were still alive after [`SETTLE_CAP`]
    /// (another process on the machine keeps programs of its own).
    pub(super) gave_up: usize,
}

impl ProgramSettle {
    pub(super) fn new() -> Self {
        Self {
            newest: newest_bpf_prog_id(),
            gave_up: 0,
        }
    }

    /// Waits until no program newer than the previous measurement's start is alive, then notes
    /// the newest id for the next one.
    pub(super) fn wait(&mut self) {
        let deadline = Instant::now() + SETTLE_CAP;
        while newest_bpf_prog_id() > self.newest {
            if Instant::now() >= deadline {
                self.gave_up += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.newest = newest_bpf_prog_id();
    }
}

/// The highest id of a BPF program alive now (0: none), by `BPF_PROG_GET_NEXT_ID`.
fn newest_bpf_prog_id() -> u32 {
    const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
    let mut newest = 0;
    loop {
        // bpf_attr for *_GET_NEXT_ID: start_id, next_id, open_flags.
        let mut attr = [newest, 0u32, 0u32];
        // SAFETY: bpf(2) reads and writes `attr`, whose size it is told.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_GET_NEXT_ID,
                attr.as_mut_ptr(),
                std::mem::size_of_val(&attr),
            )
        };
        if ret != 0 {
            return newest; // ENOENT: no program after `newest`
        }
        newest = attr[1];
    }
}

/// (run_time_ns, run_cnt) of the process's BPF program that ran most often (with
/// `kernel.bpf_stats_enabled` on; the counters stay 0 otherwise).
pub(super) fn busiest_prog_stats(pid: libc::pid_t) -> Option<(u64, u64)> {
    let mut best: Option<(u64, u64)> = None;
    for info in fdinfos(Path::new(&format!("/proc/{pid}"))) {
        let (Some(time), Some(count)) = (field(&info, "run_time_ns:"), field(&info, "run_cnt:"))
        else {
            continue;
        };
        if count > best.map_or(0, |b| b.1) {
            best = Some((time, count));
        }
    }
    best
}

/// The fdinfo text of each of a process's open files (`proc_dir` is `/proc/<pid>`); none when
/// the process is gone or not ours to read.
fn fdinfos(proc_dir: &Path) -> impl Iterator<Item = String> {
    fs::read_dir(proc_dir.join("fdinfo"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| fs::read_to_string(fd.path()).ok())
}

/// Whether an fdinfo is a BPF link on the `sys_enter` tracepoint.
fn links_sys_enter(info: &str) -> bool {
    info.lines().any(|l| {
        l.strip_prefix("tp_name:")
            .is_some_and(|name| name.trim() == "sys_enter")
    })
}

/// A numeric `name:` line of an fdinfo.
fn field(info: &str, name: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK_INFO: &str = "pos:\t0\nflags:\t02000002\nmnt_id:\t16\nino:\t2081\n\
        link_type:\traw_tracepoint\nlink_id:\t7\nprog_tag:\t0000000000000000\nprog_id:\t42\n\
        tp_name:\tsys_enter\n";

    const PROG_INFO: &str = "pos:\t0\nflags:\t02000002\nprog_type:\t17\nprog_jited:\t1\n\
        prog_id:\t42\nrun_time_ns:\t1234\nrun_cnt:\t56\n";

    #[test]
    fn a_sys_enter_link_is_recognised() {
        assert!(links_sys_enter(LINK_INFO));
        assert!(!links_sys_enter(
            &LINK_INFO.replace("sys_enter", "sys_exit")
        ));
        assert!(!links_sys_enter(PROG_INFO));
    }

    #[test]
    fn run_statistics_are_read_from_fdinfo() {
        assert_eq!(field(PROG_INFO, "run_time_ns:"), Some(1234));
        assert_eq!(field(PROG_INFO, "run_cnt:"), Some(56));
        assert_eq!(field(LINK_INFO, "run_cnt:"), None);
    }
}
