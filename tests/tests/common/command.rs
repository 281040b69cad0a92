//! Starting syscage and the ground-truth programs, and waiting for them with a deadline.

use std::{
    ffi::OsStr,
    fmt,
    os::unix::process::{CommandExt as _, ExitStatusExt as _},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

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

/// A name unique to this test process, for containers, images and cgroups:
/// `syscage-e2e-<pid>-<n>-<tag>`.
pub(crate) fn unique_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("syscage-e2e-{}-{n}-{tag}", std::process::id())
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

/// Waits for `child` up to `deadline` without touching its pipes; kills it and panics after
/// that.
#[track_caller]
pub(crate) fn wait_status(child: &mut Child, deadline: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {deadline:?}; killed it");
        }
        thread::sleep(Duration::from_millis(20));
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

/// `syscage record --output DIR/p.json` of a command that would leave a mark: asserts syscage
/// failed with `code` in one line before the command ran (no mark).
#[track_caller]
pub(crate) fn assert_record_fails_before_the_command_runs(dir: &Path, code: i32) {
    let marks = temp_dir();
    let marker = marks.path().join("the-command-ran");
    let (outcome, _) = record(
        dir,
        "p",
        &[exerciser().as_ref(), "mkdir".as_ref(), marker.as_os_str()],
    );
    assert_one_line_error(&outcome, code);
    assert!(
        !marker.exists(),
        "the command ran although its outputs could not be written\n{outcome}"
    );
}
