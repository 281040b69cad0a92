//! Helpers shared by the end-to-end tests: where the binaries are, running a command with a
//! deadline, reading profiles and recordings, and the cgroup2 mount.
//!
//! Everything here panics with context instead of returning errors, so a failing test shows what
//! syscage printed and keeps its backtrace.

#![allow(
    dead_code,
    reason = "each test binary uses its own subset of these helpers"
)]

use std::{
    collections::BTreeSet,
    ffi::OsStr,
    fmt, fs,
    os::unix::process::{CommandExt as _, ExitStatusExt as _},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

pub(crate) mod containers;

/// How long any single syscage invocation may take before the test calls it hung.
pub(crate) const DEADLINE: Duration = Duration::from_secs(120);

/// The syscage binary under test: `SYSCAGE_BIN`, else the workspace's release build.
pub(crate) fn syscage_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SYSCAGE_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "SYSCAGE_BIN={} is not a file", bin.display());
        return bin;
    }
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/syscage");
    assert!(
        bin.is_file(),
        "no syscage binary: set SYSCAGE_BIN, or build {} first; `cargo xtask test` does both",
        bin.display()
    );
    bin
}

/// The ground-truth program (this package's `syscall-exerciser` binary).
pub(crate) fn exerciser() -> &'static str {
    env!("CARGO_BIN_EXE_syscall-exerciser")
}

/// Fails the test (it never skips) when not running as root: recording loads eBPF and creates
/// cgroups, and several tests switch users.
pub(crate) fn require_root() {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the end-to-end tests must run as root (euid is {euid}); run them with `cargo xtask test`"
    );
}

/// A fresh temporary directory, removed when dropped.
pub(crate) fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("syscage-e2e-")
        .tempdir()
        .expect("creating a temporary directory")
}

/// `syscage ARGS...`, ready to run, as root and without sudo's variables: under `sudo cargo
/// test` SUDO_UID would make syscage run every workload as the invoking user, which could not
/// write into the root-owned temporary directories. Tests that want sudo's behaviour set them.
pub(crate) fn syscage<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    require_root();
    let mut cmd = Command::new(syscage_bin());
    cmd.args(args)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .env_remove("SUDO_USER")
        .env_remove("SUDO_COMMAND")
        .env_remove("SYSCAGE_LOG");
    // Start syscage the way an interactive shell would: default SIGINT/SIGTERM dispositions
    // and nothing blocked, whatever the test harness inherited (a background job of a
    // non-interactive shell ignores SIGINT, and an ignored signal survives exec).
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    cmd
}

/// What a finished command did. `Display` prints everything, for assertion messages.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) command: String,
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Outcome {
    /// The exit code as a shell reports it: the code, or 128 + the signal that killed it.
    pub(crate) fn code(&self) -> i32 {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => unreachable!("a finished process has a code or a signal"),
        }
    }

    /// Panics unless the command exited with `code`.
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit status\n{self}");
        self
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "status: {}", self.status)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// Runs `cmd` to its end with stdin closed and stdout/stderr captured; panics if it takes longer
/// than [`DEADLINE`] (after killing it).
#[track_caller]
pub(crate) fn run(cmd: &mut Command) -> Outcome {
    let child = spawn(cmd);
    wait(child, describe(cmd), DEADLINE)
}

/// Starts `cmd` with stdin closed and stdout/stderr piped.
#[track_caller]
pub(crate) fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", describe(cmd)))
}

/// Waits up to `deadline` for a child from [`spawn`], collecting whatever is left of its output.
#[track_caller]
pub(crate) fn wait(mut child: Child, command: String, deadline: Duration) -> Outcome {
    let stdout = child.stdout.take().map(read_in_background);
    let stderr = child.stderr.take().map(read_in_background);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            break status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = stdout
                .map(|t| t.join().unwrap_or_default())
                .unwrap_or_default();
            let stderr = stderr
                .map(|t| t.join().unwrap_or_default())
                .unwrap_or_default();
            panic!(
                "{command} did not finish within {deadline:?}; killed it\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    let join = |t: Option<thread::JoinHandle<String>>| {
        t.map(|t| t.join().expect("reader thread panicked"))
            .unwrap_or_default()
    };
    Outcome {
        command,
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    }
}

fn read_in_background(mut pipe: impl std::io::Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// `syscage record --output DIR/NAME.json -- COMMAND...`; returns the outcome and the profile's
/// path (the recording is `DIR/NAME.recording.json`).
#[track_caller]
pub(crate) fn record<S: AsRef<OsStr>>(dir: &Path, name: &str, command: &[S]) -> (Outcome, PathBuf) {
    let profile = dir.join(format!("{name}.json"));
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(&profile).arg("--").args(command);
    (run(&mut cmd), profile)
}

/// `syscage run --profile PROFILE -- COMMAND...`.
#[track_caller]
pub(crate) fn run_with_profile<S: AsRef<OsStr>>(profile: &Path, command: &[S]) -> Outcome {
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(profile).arg("--").args(command);
    run(&mut cmd)
}

/// The recording written next to `profile` when `--recording` is not given.
pub(crate) fn default_recording_path(profile: &Path) -> PathBuf {
    let stem = profile
        .file_stem()
        .expect("profile path has a file name")
        .to_string_lossy();
    profile.with_file_name(format!("{stem}.recording.json"))
}

/// Parses a JSON file, panicking with its path and contents if it is missing or not JSON.
#[track_caller]
pub(crate) fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}\n{text}", path.display()))
}

#[track_caller]
pub(crate) fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("serialising JSON");
    fs::write(path, text + "\n").unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The names a syscage profile allows (outright or for some arguments), in file order, after
/// checking its overall shape: a default that denies with an errno, ALLOW rules first (one
/// without conditions, then any with argument conditions), then at most rules that answer
/// ENOSYS (newer syscalls whose older fallback was recorded, so libc falls back).
#[track_caller]
pub(crate) fn profile_names_in_order(profile: &Value) -> Vec<String> {
    let pretty = || serde_json::to_string_pretty(profile).unwrap_or_default();
    assert_eq!(
        profile["defaultAction"],
        "SCMP_ACT_ERRNO",
        "profile:\n{}",
        pretty()
    );
    let rules = profile["syscalls"]
        .as_array()
        .unwrap_or_else(|| panic!("no syscalls array:\n{}", pretty()));
    assert!(
        rules
            .first()
            .is_some_and(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none()),
        "expected an unconditional ALLOW rule first:\n{}",
        pretty()
    );
    let mut names = Vec::new();
    let mut in_allow_rules = true;
    for rule in rules {
        if rule["action"] == "SCMP_ACT_ALLOW" {
            assert!(
                in_allow_rules,
                "ALLOW rule after an ENOSYS rule:\n{}",
                pretty()
            );
            for n in rule["names"]
                .as_array()
                .unwrap_or_else(|| panic!("rule without names:\n{}", pretty()))
            {
                let n = n
                    .as_str()
                    .unwrap_or_else(|| panic!("non-string name {n}"))
                    .to_owned();
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        } else {
            in_allow_rules = false;
            assert_eq!(
                (&rule["action"], &rule["errnoRet"]),
                (&json!("SCMP_ACT_ERRNO"), &json!(38)),
                "rules after the ALLOW rules may only answer ENOSYS:\n{}",
                pretty()
            );
        }
    }
    names
}

/// Checks that a profile allows exactly the recorded names plus what every process needs to end
/// (`exit`, `exit_group`, `rt_sigreturn`, `restart_syscall`: a short recording may miss them,
/// and a process that cannot exit loops forever), minus what it answers with ENOSYS on purpose: `clone3` when
/// `clone` has argument conditions (seccomp cannot see clone3's flags; libc falls back to clone).
#[track_caller]
pub(crate) fn assert_profile_allows_recorded(
    profile: &Value,
    recorded: &BTreeSet<String>,
    context: &dyn fmt::Display,
) {
    let enosys: BTreeSet<String> = profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == "SCMP_ACT_ERRNO" && r["errnoRet"] == 38)
        .flat_map(|r| r["names"].as_array().into_iter().flatten())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect();
    let mut expected: BTreeSet<String> = recorded.difference(&enosys).cloned().collect();
    expected.extend(["exit", "exit_group", "restart_syscall", "rt_sigreturn"].map(String::from));
    assert_eq!(
        profile_names(profile),
        expected,
        "profile names differ from the recording's\n{context}"
    );
    for name in recorded.intersection(&enosys) {
        assert_eq!(
            name, "clone3",
            "only clone3 may be recorded and answered with ENOSYS\n{context}"
        );
    }
}

/// The set of names a profile allows (see [`profile_names_in_order`]).
#[track_caller]
pub(crate) fn profile_names(profile: &Value) -> BTreeSet<String> {
    profile_names_in_order(profile).into_iter().collect()
}

/// The recording's syscall entries, in file order.
#[track_caller]
pub(crate) fn recording_syscalls(recording: &Value) -> &Vec<Value> {
    recording["syscalls"].as_array().unwrap_or_else(|| {
        panic!(
            "recording without a syscalls array:\n{}",
            serde_json::to_string_pretty(recording).unwrap_or_default()
        )
    })
}

/// The set of syscall names in a recording.
#[track_caller]
pub(crate) fn recording_names(recording: &Value) -> BTreeSet<String> {
    recording_syscalls(recording)
        .iter()
        .map(|s| {
            s["name"]
                .as_str()
                .unwrap_or_else(|| panic!("entry without a name: {s}"))
                .to_owned()
        })
        .collect()
}

/// Copies `profile` to `dest` with `remove` taken out of its allowed names; panics if one of
/// them was not allowed in the first place (the test would then prove nothing).
#[track_caller]
pub(crate) fn profile_without(profile: &Path, remove: &[&str], dest: &Path) {
    let mut value = read_json(profile);
    let names = value["syscalls"][0]["names"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("{}: no syscalls[0].names array", profile.display()));
    for name in remove {
        let before = names.len();
        names.retain(|n| n != name);
        assert_eq!(
            names.len(),
            before - 1,
            "{} does not allow {name}: {names:?}",
            profile.display()
        );
    }
    write_json(dest, &value);
}

/// Where cgroup2 is mounted, from /proc/self/mountinfo (`/sys/fs/cgroup/unified` on hybrid
/// hosts). The shortest mount point wins, as a bind mount inside it is not the canonical one.
#[track_caller]
pub(crate) fn cgroup2_mount() -> PathBuf {
    let mountinfo =
        fs::read_to_string("/proc/self/mountinfo").expect("reading /proc/self/mountinfo");
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2").then(|| left.split_whitespace().nth(4))?
        })
        .min_by_key(|mount| mount.len())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no cgroup2 filesystem in /proc/self/mountinfo; syscage needs cgroup v2:\n{mountinfo}"))
}

/// The leaf cgroups syscage process `pid` created (`<cgroup2>/syscage/<pid>-<n>`).
pub(crate) fn leaves_of(pid: u32) -> Vec<PathBuf> {
    let parent = cgroup2_mount().join("syscage");
    let prefix = format!("{pid}-");
    let Ok(entries) = fs::read_dir(&parent) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Polls `condition` every 20 ms until it returns `Some`, or panics after `timeout` with `what`.
#[track_caller]
pub(crate) fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut condition: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            start.elapsed() < timeout,
            "gave up after {timeout:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Files in `dir`, by name (hidden ones included).
pub(crate) fn dir_listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| {
            e.expect("reading a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}
