//! Helpers of the reliability suite (stress.rs, faults.rs, errors.rs, artifacts.rs), on top of
//! `common`: the ground-truth programs, cgroups made directly under the cgroup2 mount the way
//! runc makes a container's, a recorder of every container, unwatched machine load, small
//! tmpfs mounts, and reading what the kernel says about a process.
//!
//! Every guard undoes what it did in `Drop`, so a failed assertion leaves no process, cgroup or
//! mount behind.

#![allow(
    dead_code,
    reason = "each test binary uses its own subset of these helpers"
)]

use std::{
    collections::BTreeSet,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::common::{self, cgroup2_mount, describe, wait_for, Outcome};

/// The fault prober (`tests/src/bin/fault-prober.rs`).
pub(crate) fn fault_prober() -> &'static str {
    env!("CARGO_BIN_EXE_fault-prober")
}

/// The stress prober (`tests/src/bin/stress-prober.rs`).
pub(crate) fn stress_prober() -> &'static str {
    env!("CARGO_BIN_EXE_stress-prober")
}

/// Rare syscalls that tell cgroups apart: each is made by the fault prober only when asked, and
/// by neither the Rust runtime, glibc, `sh` nor syscage's own child setup.
pub(crate) const DISTINCTIVE: [&str; 8] = [
    "getcpu",
    "sysinfo",
    "times",
    "getresuid",
    "sched_getscheduler",
    "capget",
    "getitimer",
    "uname",
];

/// The lines of stderr that are not warnings (`syscage: warning: ...`, which a recording may
/// print about what it recorded before an error).
pub(crate) fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| !l.starts_with("syscage: warning: "))
        .collect()
}

/// Asserts `outcome` failed with `code` and said why in exactly one `syscage: ...` line
/// (warnings aside).
#[track_caller]
pub(crate) fn assert_one_line_error(outcome: &Outcome, code: i32) {
    outcome.assert_code(code);
    let lines = error_lines(&outcome.stderr);
    assert!(
        lines.len() == 1 && lines[0].starts_with("syscage: ") && lines[0].len() > 20,
        "expected exactly one `syscage: ...` error line on stderr\n{outcome}"
    );
}

/// Every name a profile allows, for all arguments or for some (see
/// [`common::profile_names_in_order`], which also checks the profile's shape).
#[track_caller]
pub(crate) fn allowed_names(profile: &Value) -> BTreeSet<String> {
    common::profile_names(profile)
}

/// Newer syscalls a profile may answer with ENOSYS although they were recorded, because libcs
/// then use the older one, which the profile checks (README, `generate --help`): (newer, older).
pub(crate) const ENOSYS_FALLBACKS: [(&str, &str); 6] = [
    ("clone3", "clone"),
    ("faccessat2", "faccessat"),
    ("fchmodat2", "fchmodat"),
    ("statx", "newfstatat"),
    ("preadv2", "preadv"),
    ("pwritev2", "pwritev"),
];

/// The names a profile answers with ENOSYS (errnoRet 38).
fn enosys_names(profile: &Value) -> BTreeSet<String> {
    profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["action"] == "SCMP_ACT_ERRNO" && rule["errnoRet"] == 38)
        .flat_map(|rule| rule["names"].as_array().into_iter().flatten())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// Asserts a profile lets every syscall its recording holds work: allowed (for some arguments
/// or all), or a newer syscall answered with ENOSYS whose older fallback is allowed.
#[track_caller]
pub(crate) fn assert_profile_covers_recording(profile: &Value, recording: &Value, context: &str) {
    let mut allowed = allowed_names(profile);
    let enosys = enosys_names(profile);
    for (newer, older) in ENOSYS_FALLBACKS {
        if enosys.contains(newer) && allowed.contains(older) {
            allowed.insert(newer.to_owned());
        }
    }
    let recorded = common::recording_names(recording);
    let lost: Vec<_> = recorded.difference(&allowed).collect();
    assert!(
        lost.is_empty(),
        "the profile lost syscalls its recording has: {lost:?}\n{context}\nprofile:\n{}",
        serde_json::to_string_pretty(profile).unwrap_or_default()
    );
}

/// A cgroup made directly under the cgroup2 mount, `/syscage-e2e-<pid>-<n>-<tag>`, the way runc
/// makes a container's (syscage takes a top-level leaf for a runc/crun container named after
/// it). Dropping it kills what is left inside and removes it.
pub(crate) struct TopCgroup {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    /// Its cgroup id (the directory's inode number), as syscage's messages name it.
    pub(crate) id: u64,
}

impl TopCgroup {
    #[track_caller]
    pub(crate) fn create(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("syscage-e2e-{}-{n}-{tag}", std::process::id());
        let dir = cgroup2_mount().join(&name);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating cgroup {}: {e}", dir.display()));
        let id = std::os::unix::fs::MetadataExt::ino(
            &fs::metadata(&dir).unwrap_or_else(|e| panic!("stat {}: {e}", dir.display())),
        );
        Self { name, dir, id }
    }

    /// Starts `program args...` inside: a shell moves itself in (`echo $$ > cgroup.procs`) and
    /// execs the program, as a runtime's init does. stdin is piped (the fault prober's `hold`
    /// waits for its EOF), stdout is piped.
    #[track_caller]
    pub(crate) fn spawn(&self, program: &str, args: &[&str]) -> Child {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", r#"echo $$ > "$0/cgroup.procs" && exec "$@""#])
            .arg(&self.dir)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd.spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", describe(&cmd)))
    }

    /// Pids inside.
    pub(crate) fn procs(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Removes it; it must be empty (waits a little for exiting tasks to leave).
    #[track_caller]
    pub(crate) fn remove(self) {
        let dir = self.dir.clone();
        wait_for(
            Duration::from_secs(10),
            "an empty cgroup to be removable",
            || match fs::remove_dir(&dir) {
                Ok(()) => Some(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(()),
                Err(_) => None,
            },
        );
        std::mem::forget(self);
    }
}

impl Drop for TopCgroup {
    fn drop(&mut self) {
        // cgroup.kill (Linux 5.14) SIGKILLs everything inside; then the directory can go.
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
        let start = Instant::now();
        while fs::remove_dir(&self.dir).is_err()
            && self.dir.exists()
            && start.elapsed() < Duration::from_secs(5)
        {
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads one line from a child's piped stdout (panics at EOF).
#[track_caller]
pub(crate) fn read_line(reader: &mut impl std::io::BufRead, what: &str) -> String {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("reading {what}: {e}"));
    assert!(!line.is_empty(), "EOF while waiting for {what}");
    line.trim_end().to_owned()
}

/// `syscage record --all -v --output-dir DIR [extra...]` in the background, its stderr in a file.
pub(crate) struct Recorder {
    child: Option<Child>,
    pub(crate) pid: i32,
    pub(crate) output_dir: PathBuf,
    log: PathBuf,
}

impl Recorder {
    /// Starts it and waits until it records (see [`common::containers::spawn_record_all`]).
    #[track_caller]
    pub(crate) fn start(work: &Path, extra: &[&str]) -> Self {
        let output_dir = work.join("profiles");
        let log = work.join("record-all.log");
        let child = common::containers::spawn_record_all(&output_dir, &log, extra);
        let pid = i32::try_from(child.id()).expect("pid fits in pid_t");
        Self {
            child: Some(child),
            pid,
            output_dir,
            log,
        }
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log without the eBPF program's per-syscall lines (`-v`), for messages.
    pub(crate) fn log_summary(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("first entered syscall"))
            .collect();
        let skip = lines.len().saturating_sub(60);
        lines[skip..].join("\n")
    }

    /// `DIR/<name>.json` and `.recording.json`, once the profile exists (bounded wait).
    #[track_caller]
    pub(crate) fn outputs_of(&self, name: &str, timeout: Duration) -> (Value, Value) {
        let profile = self.output_dir.join(format!("{name}.json"));
        let recording = self.output_dir.join(format!("{name}.recording.json"));
        let start = Instant::now();
        while !profile.exists() {
            if start.elapsed() > timeout {
                let log = self.log_text();
                let about: Vec<&str> = log
                    .lines()
                    .filter(|l| {
                        l.contains(name) || l.contains("disappeared") || l.contains("error")
                    })
                    .collect();
                panic!(
                    "no profile {} within {timeout:?} after its cgroup was removed\n--- what syscage's log says about it (and every error) ---\n{}\n--- syscage's log (end) ---\n{}",
                    profile.display(),
                    about.join("\n"),
                    self.log_summary()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        (common::read_json(&profile), common::read_json(&recording))
    }

    /// Waits until every cgroup in `names` has its profile, as long as syscage keeps writing
    /// profiles (it is given `stall` without a new one, and two minutes in all); returns the
    /// (profile, recording) of each that has one, and the names of those that have none.
    pub(crate) fn outputs_of_all<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str> + Clone,
        stall: Duration,
    ) -> (Vec<(&'a str, Value, Value)>, Vec<&'a str>) {
        let profile = |name: &str| self.output_dir.join(format!("{name}.json"));
        let start = Instant::now();
        let mut last_progress = Instant::now();
        let mut present = 0;
        loop {
            let now_present = names
                .clone()
                .into_iter()
                .filter(|n| profile(n).exists())
                .count();
            let all = names.clone().into_iter().count();
            if now_present == all
                || last_progress.elapsed() > stall
                || start.elapsed() > Duration::from_secs(120)
            {
                break;
            }
            if now_present > present {
                present = now_present;
                last_progress = Instant::now();
            }
            thread::sleep(Duration::from_millis(50));
        }
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            let path = profile(name);
            if path.exists() {
                let recording = common::default_recording_path(&path);
                found.push((
                    name,
                    common::read_json(&path),
                    common::read_json(&recording),
                ));
            } else {
                missing.push(name);
            }
        }
        (found, missing)
    }

    /// Stops it with SIGINT, as Ctrl-C would; returns its exit code and log.
    #[track_caller]
    pub(crate) fn stop(mut self) -> (i32, String) {
        let mut child = self.child.take().expect("stopped once");
        // SAFETY: plain kill(2) to our own child, which has not been reaped.
        let sent = unsafe { libc::kill(self.pid, libc::SIGINT) };
        assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for syscage") {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "syscage record --all did not stop within 60 s of SIGINT\n{}",
                    self.log_summary()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        let code = status.code().unwrap_or_else(|| {
            panic!(
                "syscage record --all died: {status}\n{}",
                self.log_summary()
            )
        });
        (code, self.log_text())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

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

/// The cgroup v2 path of `pid`, relative to the mount (`0::` line of /proc/<pid>/cgroup).
#[track_caller]
pub(crate) fn cgroup_of(pid: i32) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/cgroup: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("no cgroup v2 line in /proc/{pid}/cgroup:\n{text}"))
        .to_owned()
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
            let pid = i32::try_from(child.id()).expect("pid fits");
            assert!(is_running(pid), "load process {pid} is not running");
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

/// A tmpfs mounted on a fresh directory (`size` like `64k`, `ro` for a read-only one); unmounted
/// on drop.
pub(crate) struct Tmpfs {
    pub(crate) dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    #[track_caller]
    pub(crate) fn mount(options: &str) -> Self {
        let parent = common::temp_dir();
        let dir = parent.path().join("mnt");
        fs::create_dir(&dir).expect("creating a mount point");
        let outcome = common::run(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", options, "tmpfs"])
                .arg(&dir),
        );
        outcome.assert_code(0);
        Self {
            dir,
            _parent: parent,
        }
    }

    /// Fills it with `fill` until only `leave` bytes remain free (0: completely full); returns
    /// the free bytes the kernel reports afterwards.
    #[track_caller]
    pub(crate) fn fill_leaving(&self, leave: u64) -> u64 {
        let free = free_bytes(&self.dir);
        assert!(
            free >= leave,
            "only {free} bytes free in {}",
            self.dir.display()
        );
        let mut file = fs::File::create(self.dir.join("fill")).expect("creating the filler");
        let block = vec![0u8; 4096];
        let mut left = free - leave;
        while left > 0 {
            let n = usize::try_from(left.min(4096)).expect("small");
            match file.write(&block[..n]) {
                Ok(0) => break,
                Ok(written) => left -= written as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", self.dir.display()),
            }
        }
        drop(file);
        free_bytes(&self.dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Free bytes in the filesystem holding `dir` (statvfs).
#[track_caller]
pub(crate) fn free_bytes(dir: &Path) -> u64 {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: statvfs with a valid path and an out-struct of the right type.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    assert_eq!(
        rc,
        0,
        "statvfs {}: {}",
        dir.display(),
        std::io::Error::last_os_error()
    );
    st.f_bavail * st.f_frsize
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
