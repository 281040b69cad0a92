//! Processes as the kernel shows them: whether one runs, its memory, the BPF objects it holds,
//! and load that runs outside every cgroup syscage watches.

use std::{
    fs,
    process::{Child, Command, Stdio},
    thread,
    time::Duration,
};

use super::{cgroup_of, wait_for};

/// A field of `/proc/<pid>/status` in kB (VmRSS, VmHWM).
#[track_caller]
pub(crate) fn status_kb(pid: i32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status:\n{status}"))
}

/// Whether `pid` runs (exists and is not a zombie).
pub(crate) fn is_running(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    })
}

/// SIGKILLs `pid` and waits until it no longer runs (it may be another process's child, so it
/// is not reaped here).
pub(crate) fn kill_and_wait_gone(pid: i32) {
    // SAFETY: plain kill(2).
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_for(Duration::from_secs(10), "a killed process to end", || {
        (!is_running(pid)).then_some(())
    });
}

/// Load that keeps every CPU busy outside any recorded cgroup: per CPU, a `dd` copying one byte
/// at a time (two syscalls per byte, each through syscage's program as an unwatched task) and
/// a shell busy loop (no syscalls at all). Killed on drop.
pub(crate) struct UnwatchedLoad {
    children: Vec<Child>,
}

impl UnwatchedLoad {
    #[track_caller]
    pub(crate) fn start() -> Self {
        let cpus = thread::available_parallelism().map_or(2, usize::from);
        let mut children = Vec::new();
        for _ in 0..cpus {
            for (program, args) in [
                ("dd", &["if=/dev/zero", "of=/dev/null", "bs=1"][..]),
                ("sh", &["-c", "while :; do :; done"][..]),
            ] {
                let child = Command::new(program)
                    .args(args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("starting {program} as load: {e}"));
                children.push(child);
            }
        }
        Self { children }
    }

    /// Panics unless every load process still runs, outside syscage's cgroups.
    #[track_caller]
    pub(crate) fn assert_running(&self) {
        for child in &self.children {
            let pid = child.id();
            assert!(
                is_running(i32::try_from(pid).expect("pid fits in pid_t")),
                "load process {pid} is not running"
            );
            let cgroup = cgroup_of(pid);
            assert!(
                !cgroup.starts_with("/syscage"),
                "load process {pid} is in {cgroup}, which syscage watches"
            );
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.children.len()
    }
}

impl Drop for UnwatchedLoad {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The ids of the BPF programs and links a process holds, from /proc/<pid>/fdinfo.
pub(crate) fn bpf_ids(pid: u32) -> Vec<(&'static str, u32)> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for fd in fds.filter_map(Result::ok) {
        let info = fs::read_to_string(fd.path()).unwrap_or_default();
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse::<u32>().ok())
        };
        if let Some(id) = field("link_id:") {
            ids.push(("link", id));
        } else if let Some(id) = field("prog_id:") {
            ids.push(("prog", id));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}
