//! The processes the benchmark starts: a timed workload that runs to its end, and a tracer that
//! runs in the background until it is stopped.

use std::{
    fs,
    io::{BufRead as _, BufReader},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, ChildStdout, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context as _, Result};

/// How long a tracer may take to say it is attached (bpftrace compiles its program first).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A finished process: how long it ran and its peak RSS (with its waited-for children).
pub(super) struct Ran {
    pub(super) elapsed: Duration,
    /// User plus system CPU time of the process and the children it waited for (wait4's
    /// rusage): what the syscalls cost the workload, without the time it waited for a CPU
    /// while something else ran (the main noise on a shared machine; with paravirtual steal
    /// accounting, the host's steal is left out too).
    pub(super) cpu_seconds: f64,
    pub(super) max_rss_kb: u64,
}

/// Runs `argv` (in `cgroup` if given), timing it from spawn to exit; it must succeed.
pub(super) fn run_timed(argv: &[String], cgroup: Option<&Path>) -> Result<Ran> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let Some(cgroup) = cgroup else {
        return spawn_wait(cmd, argv);
    };
    let procs = fs::OpenOptions::new()
        .write(true)
        .open(cgroup.join("cgroup.procs"))
        .with_context(|| format!("opening {}/cgroup.procs", cgroup.display()))?;
    // SAFETY: only write(2) between fork and exec; `procs` outlives the spawn.
    unsafe {
        use std::os::fd::AsRawFd as _;
        let fd = procs.as_raw_fd();
        cmd.pre_exec(move || {
            if libc::write(fd, b"0".as_ptr().cast(), 1) == 1 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    spawn_wait(cmd, argv)
}

fn spawn_wait(mut cmd: Command, argv: &[String]) -> Result<Ran> {
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {}", argv.join(" ")))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 rather than Child::wait: it also gives this child's peak RSS.
    // SAFETY: valid out-pointers; `pid` is our unwaited child.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    ensure!(
        waited == pid,
        "waiting for {}: {}",
        argv.join(" "),
        std::io::Error::last_os_error()
    );
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "`{}` failed (wait status {status})",
        argv.join(" ")
    );
    drop(child);
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Ran {
        elapsed,
        cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        max_rss_kb: u64::try_from(usage.ru_maxrss).unwrap_or(0),
    })
}

/// A tracer running in the background: started, ready, then stopped with SIGINT.
pub(super) struct Tracer {
    child: Child,
    /// Its stderr (bpftrace warns about RLIMIT_MEMLOCK on every start), shown on failure.
    log: PathBuf,
    lines: mpsc::Receiver<String>,
    /// From spawn to the ready line.
    pub(super) ready_after: Duration,
    /// The ready line.
    pub(super) ready_line: String,
}

impl Tracer {
    /// Starts `argv` and waits for its line that starts with "ready".
    pub(super) fn start(argv: &[String], log: &Path) -> Result<Self> {
        let stderr =
            fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let started = Instant::now();
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", argv[0]))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut tracer = Self {
            child,
            log: log.to_owned(),
            lines: read_lines(stdout),
            ready_after: Duration::ZERO,
            ready_line: String::new(),
        };
        tracer.wait_ready(argv, started)?;
        Ok(tracer)
    }

    fn wait_ready(&mut self, argv: &[String], started: Instant) -> Result<()> {
        loop {
            let left = READY_TIMEOUT.saturating_sub(started.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("ready") => {
                    self.ready_after = started.elapsed();
                    self.ready_line = line;
                    return Ok(());
                }
                Ok(_) => {}
                Err(_) => bail!(
                    "`{}` did not say it was attached within {} s; its stderr: {}",
                    argv.join(" "),
                    READY_TIMEOUT.as_secs(),
                    self.stderr()
                ),
            }
        }
    }

    pub(super) fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Peak RSS so far, from /proc.
    pub(super) fn vm_hwm_kb(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGINT, wait, and return what it printed after the ready line.
    pub(super) fn stop(mut self) -> Result<Vec<String>> {
        // SAFETY: kill(2) of our own child.
        unsafe { libc::kill(self.pid(), libc::SIGINT) };
        let status = self.child.wait().context("waiting for a tracer")?;
        let lines: Vec<String> = self.lines.iter().collect();
        ensure!(
            status.success(),
            "tracer exited with {status}; it printed: {lines:?}; its stderr: {}",
            self.stderr()
        );
        Ok(lines)
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        // Only still running after an error: do not leave a program attached.
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) of our own child.
            unsafe { libc::kill(self.pid(), libc::SIGTERM) };
            let _ = self.child.wait();
        }
    }
}

/// The tracer's stdout, line by line, from a thread of its own (so waiting can time out).
fn read_lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}
