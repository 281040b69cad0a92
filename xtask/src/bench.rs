//! `cargo xtask bench`: what recording costs, measured side by side in one run.
//!
//! Syscall overhead: two syscall-heavy workloads (`dd` of one-byte reads and writes, and a tight
//! `getppid` loop built here from C) are timed untraced and under each setup below, by the CPU
//! time (user plus system) of the workload's process tree: an in-kernel recorder's cost is
//! kernel time in the workload's own syscalls, and CPU time leaves out the time the workload
//! waited while something else had the CPU, the main noise on these shared 2-CPU VMs. The
//! setups alternate within every repetition (in a rotating order, so none always runs first),
//! each starts once the previous one's BPF programs are freed (see [`ProgramSettle`]), and each
//! ratio is a setup's time over the untraced time of the same repetition; the table shows the
//! median and the range over the repetitions. The workload always runs in the same cgroup of
//! its own, created here; "watched" means the tracer is told to record that cgroup,
//! "unwatched" that it records another (empty) cgroup, which is what every other process on a
//! node pays while syscage records something.
//!
//! - untraced;
//! - the cost floor: an empty eBPF program on the recorder's attachment (`sys_enter` as a
//!   BTF-typed raw tracepoint, `syscage bench-attach --program empty`);
//! - a program that reads the caller's cgroup id on every call, as the recorder does only when
//!   its per-CPU cache misses (`--program cgroup-id`): what a task pays that does not make
//!   syscalls in a row;
//! - syscage's recorder (`syscage bench-attach --program recorder --watch-cgroup ...`),
//!   unwatched and watched; and `syscage record -- WORKLOAD` end to end (it runs the workload in
//!   a cgroup of its own, so it includes loading, attaching and writing the profile);
//! - the bpftrace one-liner an engineer would write instead (a classic tracepoint with a cgroup
//!   filter and a count map), unwatched and watched;
//! - `strace -f -c`, on a run `--strace-divisor` times shorter, scaled to the full length.
//!
//! The programs' body times per call, from the kernel's BPF statistics, are measured too; the
//! overhead targets are judged both by CPU time and by those (see [`write_targets`]).
//!
//! The watched runs must have seen at least the workload's syscalls (checked from the
//! recorder's and bpftrace's own counts), so a tracer that silently recorded nothing cannot
//! look cheap.
//!
//! Also: attach time (from starting `syscage bench-attach` to its "ready" line, and `syscage
//! record -- true` against `true`), the collector's peak RSS, and `generate`, `diff` and `merge`
//! on 1,000 recordings (clones with variations of a few real recordings made here).
//!
//! Needs root (cgroups, eBPF); installs bpftrace, strace and gcc; mounts tracefs for bpftrace if
//! it is not mounted (and unmounts it afterwards).

use std::{
    fmt::Write as _,
    fs,
    io::{BufRead as _, BufReader},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context as _, Result};
use serde_json::Value;

use crate::{setup, shell::is_root};

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Repetitions of every measurement; medians are reported.
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// dd's count: one-byte reads and writes, two syscalls each.
    #[arg(long, default_value_t = 2_000_000)]
    dd_count: u64,
    /// getppid calls of the loop workload.
    #[arg(long, default_value_t = 4_000_000)]
    getppid_count: u64,
    /// strace runs workloads this many times shorter (it costs about 170 µs per syscall).
    #[arg(long, default_value_t = 200)]
    strace_divisor: u64,
    /// How many recordings `generate`, `diff` and `merge` are timed on.
    #[arg(long, default_value_t = 1000)]
    recordings: usize,
    /// Also write the Markdown report here (default: target/bench/report.md).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

const PACKAGES: &[&str] = &["bpftrace", "strace", "gcc", "libc6-dev"];

/// How long a tracer may take to say it is attached (bpftrace compiles its program first).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

const GETPPID_C: &str = r"
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return 0;
}
";

pub(crate) fn run(root: &Path, syscage: &Path, args: &BenchArgs) -> Result<()> {
    ensure!(
        is_root(),
        "the benchmark loads eBPF programs and creates cgroups: run it as root \
         (`sudo -E cargo xtask bench`)"
    );
    ensure!(args.reps >= 1, "--reps must be at least 1");
    ensure!(
        args.strace_divisor >= 1,
        "--strace-divisor must be at least 1"
    );
    setup::debian_packages(PACKAGES)?;
    let env = BenchEnv::new(root)?;

    let getppid = env.tmp.join("getppid-loop");
    let source = env.tmp.join("getppid-loop.c");
    fs::write(&source, GETPPID_C).with_context(|| format!("writing {}", source.display()))?;
    let built = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&getppid)
        .arg(&source)
        .status()
        .context("running gcc")?;
    ensure!(built.success(), "gcc failed to build the getppid loop");

    let workloads = [
        Workload::new(
            "dd",
            format!("dd bs=1 count={}", si(args.dd_count)),
            |n| {
                vec![
                    "dd".into(),
                    "if=/dev/zero".into(),
                    "of=/dev/null".into(),
                    "bs=1".into(),
                    format!("count={n}"),
                    "status=none".into(),
                ]
            },
            args.dd_count,
            2,
        ),
        Workload::new(
            "getppid",
            format!("getppid loop x{}", si(args.getppid_count)),
            {
                let bin = getppid.display().to_string();
                move |n| vec![bin.clone(), n.to_string()]
            },
            args.getppid_count,
            1,
        ),
    ];

    let mut report = String::new();
    let machine = machine_description();
    writeln!(
        report,
        "### syscage benchmark: {machine}\n\nMeasured by `cargo xtask bench` ({} repetitions, \
         setups alternating within each; time = CPU time (user + system) of the workload's process \
         tree; ratio = time / untraced time of the same repetition, median [min-max]).\n",
        args.reps
    )?;
    eprintln!("xtask: bench on {machine}");

    let load_before = load_average();
    let overhead = measure_overhead(&env, syscage, &workloads, args)?;
    overhead.write_table(&mut report, &workloads)?;
    writeln!(
        report,
        "- load average before / after the overhead runs: {load_before} / {}",
        load_average()
    )?;
    writeln!(
        report,
        "- each measurement started once the BPF programs of the one before were freed (a \
         tracer's detach leaves work on the CPUs for about 300 ms here){}",
        if overhead.unsettled == 0 {
            String::new()
        } else {
            format!(
                "; **{} started after waiting {} s without that** (another process keeps \
                 programs)",
                overhead.unsettled,
                SETTLE_CAP.as_secs()
            )
        }
    )?;
    if overhead.disturbed.is_empty() {
        writeln!(
            report,
            "- no other process had a program on sys_enter during the {} measurements",
            overhead.measurements
        )?;
    } else {
        writeln!(
            report,
            "- **{} of {} measurements ran while another process had a program on sys_enter** \
             (it taxes every setup, the untraced one too): {}",
            overhead.disturbed.len(),
            overhead.measurements,
            overhead.disturbed.join("; ")
        )?;
    }

    let bodies = write_prog_costs(&mut report, &env, syscage, &workloads[1])?;

    let attach = measure_attach(&env, syscage, args.reps.max(5))?;
    let rss = overhead.rss_kb.iter().copied().max().unwrap_or(0);
    let record_rss = overhead.record_rss_kb.iter().copied().max().unwrap_or(0);
    writeln!(
        report,
        "\n| attach and memory | median | runs |\n|---|---|---|"
    )?;
    writeln!(
        report,
        "| `syscage bench-attach --program empty`: start to attached | {:.1} ms | {} |",
        median(&overhead.ready_empty_ms),
        overhead.ready_empty_ms.len()
    )?;
    writeln!(
        report,
        "| `syscage bench-attach --program recorder`: start to attached (and watching) | {:.1} \
         ms | {} |",
        median(&overhead.ready_recorder_ms),
        overhead.ready_recorder_ms.len()
    )?;
    let steps: Vec<String> = ["checks", "load", "watch", "attach"]
        .iter()
        .filter_map(|step| {
            let ms = overhead.ready_recorder_steps.get(*step)?;
            Some(format!("{step} {:.1}", median(ms)))
        })
        .collect();
    writeln!(
        report,
        "| of which after `main` started (ms: {}) | {:.1} ms | {} |",
        steps.join(", "),
        median(&overhead.ready_recorder_inner_ms),
        overhead.ready_recorder_inner_ms.len()
    )?;
    writeln!(
        report,
        "| `syscage record -- true` minus `true` (end to end: cgroup, load, attach, run, read, \
         write two files, clean up) | {:.1} ms | {} |",
        attach.record_minus_true_ms, attach.runs
    )?;
    writeln!(
        report,
        "| collector peak RSS (VmHWM of `bench-attach --program recorder` after a watched run; \
         max) | {:.1} MB | {} |",
        rss as f64 / 1024.0,
        overhead.rss_kb.len()
    )?;
    writeln!(
        report,
        "| `syscage record -- WORKLOAD` peak RSS (wait4 ru_maxrss; max) | {:.1} MB | {} |",
        record_rss as f64 / 1024.0,
        overhead.record_rss_kb.len()
    )?;

    let tools = measure_tools(&env, syscage, &getppid, args)?;
    tools.write_table(&mut report, args.recordings)?;

    write_targets(&mut report, &overhead, &bodies, &attach, rss)?;

    let output = args
        .output
        .clone()
        .unwrap_or_else(|| root.join("target/bench/report.md"));
    if let Some(dir) = output.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(&output, &report).with_context(|| format!("writing {}", output.display()))?;
    println!("{report}");
    eprintln!("xtask: report written to {}", output.display());
    Ok(())
}

/// 2000000 -> "2M".
fn si(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(100_000) {
        format!("{}M", n as f64 / 1e6)
    } else if n >= 1000 && n.is_multiple_of(100) {
        format!("{}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

struct Workload {
    key: &'static str,
    label: String,
    argv: Box<dyn Fn(u64) -> Vec<String>>,
    units: u64,
    syscalls_per_unit: u64,
}

impl Workload {
    fn new(
        key: &'static str,
        label: String,
        argv: impl Fn(u64) -> Vec<String> + 'static,
        units: u64,
        syscalls_per_unit: u64,
    ) -> Self {
        Self {
            key,
            label,
            argv: Box::new(argv),
            units,
            syscalls_per_unit,
        }
    }

    fn syscalls(&self) -> u64 {
        self.units * self.syscalls_per_unit
    }
}

/// The cgroups, the scratch directory and tracefs; undone on drop.
struct BenchEnv {
    /// `<cgroup2>/syscage-bench-<pid>`, with `work` (the workload runs here) and `other` (what
    /// unwatched tracers watch instead).
    cgroup_root: PathBuf,
    work: PathBuf,
    other: PathBuf,
    tmp: PathBuf,
    unmount_tracefs: bool,
}

impl BenchEnv {
    fn new(root: &Path) -> Result<Self> {
        let tmp = root.join(format!("target/bench/tmp-{}", std::process::id()));
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mount = cgroup2_mount()?;
        let cgroup_root = mount.join(format!("syscage-bench-{}", std::process::id()));
        let work = cgroup_root.join("work");
        let other = cgroup_root.join("other");
        let mut env = Self {
            cgroup_root,
            work,
            other,
            tmp,
            unmount_tracefs: false,
        };
        for dir in [&env.cgroup_root, &env.work, &env.other] {
            fs::create_dir(dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
        }
        // bpftrace's tracepoints need tracefs (syscage's raw tracepoints do not).
        let tracefs = Path::new("/sys/kernel/tracing");
        if !tracefs.join("events").is_dir() {
            let status = Command::new("mount")
                .args(["-t", "tracefs", "nodev"])
                .arg(tracefs)
                .status()
                .context("running mount")?;
            ensure!(
                status.success(),
                "mounting tracefs on {}",
                tracefs.display()
            );
            env.unmount_tracefs = true;
            eprintln!(
                "xtask: mounted tracefs on {} for bpftrace",
                tracefs.display()
            );
        }
        Ok(env)
    }
}

impl Drop for BenchEnv {
    fn drop(&mut self) {
        for dir in [&self.work, &self.other, &self.cgroup_root] {
            if let Err(e) = fs::remove_dir(dir) {
                eprintln!("xtask: warning: removing cgroup {}: {e}", dir.display());
            }
        }
        let _ = fs::remove_dir_all(&self.tmp);
        if self.unmount_tracefs {
            let _ = Command::new("umount").arg("/sys/kernel/tracing").status();
        }
    }
}

fn cgroup2_mount() -> Result<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").context("reading mountinfo")?;
    for line in info.lines() {
        // ... mount-point ... - fstype source options
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split_whitespace().next() == Some("cgroup2") {
            if let Some(point) = left.split_whitespace().nth(4) {
                return Ok(PathBuf::from(point));
            }
        }
    }
    bail!("no cgroup2 mount in /proc/self/mountinfo")
}

fn cgroup_id(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt as _;
    Ok(fs::metadata(dir)
        .with_context(|| format!("stat {}", dir.display()))?
        .ino())
}

/// A finished process: how long it ran and its peak RSS (with its waited-for children).
struct Ran {
    elapsed: Duration,
    /// User plus system CPU time of the process and the children it waited for (wait4's
    /// rusage): what the syscalls cost the workload, without the time it waited for a CPU
    /// while something else ran (the main noise on these shared VMs; with paravirtual steal
    /// accounting, the host's steal is left out too).
    cpu_seconds: f64,
    max_rss_kb: u64,
}

/// Runs `argv` (in `cgroup` if given), timing it from spawn to exit; it must succeed.
fn run_timed(argv: &[String], cgroup: Option<&Path>) -> Result<Ran> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let Some(cgroup) = cgroup {
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
        return spawn_wait(cmd, argv);
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
struct Tracer {
    child: Child,
    /// Its stderr (bpftrace warns about RLIMIT_MEMLOCK on every start), shown on failure.
    log: PathBuf,
    lines: mpsc::Receiver<String>,
    /// From spawn to the ready line.
    ready_after: Duration,
    /// The ready line.
    ready_line: String,
}

impl Tracer {
    fn start(argv: &[String], log: &Path) -> Result<Self> {
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
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut tracer = Self {
            child,
            log: log.to_owned(),
            lines,
            ready_after: Duration::ZERO,
            ready_line: String::new(),
        };
        loop {
            let left = READY_TIMEOUT.saturating_sub(started.elapsed());
            match tracer.lines.recv_timeout(left) {
                Ok(line) if line.starts_with("ready") => {
                    tracer.ready_after = started.elapsed();
                    tracer.ready_line = line;
                    return Ok(tracer);
                }
                Ok(_) => {}
                Err(_) => bail!(
                    "`{}` did not say it was attached within {} s; its stderr: {}",
                    argv.join(" "),
                    READY_TIMEOUT.as_secs(),
                    tracer.stderr()
                ),
            }
        }
    }

    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Peak RSS so far, from /proc.
    fn vm_hwm_kb(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// SIGINT, wait, and return what it printed after the ready line.
    fn stop(mut self) -> Result<Vec<String>> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Setup {
    Untraced,
    Empty,
    /// The empty program again, as a setup of its own: the two should be equal, so their
    /// ratio shows how far apart two measurements of the same thing land on this machine.
    EmptyAgain,
    CgroupId,
    SyscageUnwatched,
    SyscageWatched,
    SyscageWatchedNamesOnly,
    SyscageRecord,
    BpftraceUnwatched,
    BpftraceWatched,
    Strace,
}

impl Setup {
    const ALL: [Self; 11] = [
        Self::Untraced,
        Self::Empty,
        Self::EmptyAgain,
        Self::CgroupId,
        Self::SyscageUnwatched,
        Self::SyscageWatched,
        Self::SyscageWatchedNamesOnly,
        Self::SyscageRecord,
        Self::BpftraceUnwatched,
        Self::BpftraceWatched,
        Self::Strace,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Untraced => "untraced",
            Self::Empty => "cost floor: empty eBPF program on sys_enter (BTF-typed raw tracepoint)",
            Self::EmptyAgain => "the same empty program again (how far repeats land apart)",
            Self::CgroupId => "a program that reads the cgroup id on every call (no per-CPU cache)",
            Self::SyscageUnwatched => "syscage attached, workload not watched",
            Self::SyscageWatched => "syscage attached, workload watched",
            Self::SyscageWatchedNamesOnly => {
                "syscage attached, workload watched, names only (no ABI check, no argument capture)"
            }
            Self::SyscageRecord => "`syscage record -- WORKLOAD` (end to end)",
            Self::BpftraceUnwatched => "bpftrace one-liner, workload not watched",
            Self::BpftraceWatched => "bpftrace one-liner, workload watched",
            Self::Strace => "`strace -f -c` (shorter run, scaled; with strace's own CPU time)",
        }
    }
}

fn bpftrace_argv(cgroup: &Path) -> Vec<String> {
    vec![
        "bpftrace".into(),
        "-B".into(),
        "line".into(),
        "-e".into(),
        format!(
            "tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid(\"{}\")/ \
             {{ @[args->id] = count(); }} BEGIN {{ printf(\"ready\\n\"); }}",
            cgroup.display()
        ),
    ]
}

/// Per (setup, workload): the times and the ratios of each repetition.
struct Overhead {
    /// [setup][workload] -> seconds per repetition (scaled for strace).
    times: Vec<Vec<Vec<f64>>>,
    /// [setup][workload] -> time / untraced time of the same repetition.
    ratios: Vec<Vec<Vec<f64>>>,
    /// [workload] -> watched / empty and unwatched / empty of the same repetition.
    watched_vs_floor: Vec<Vec<f64>>,
    unwatched_vs_floor: Vec<Vec<f64>>,
    /// [workload] -> unwatched / the uncached cgroup-id program, same repetition.
    unwatched_vs_cgroup_id: Vec<Vec<f64>>,
    /// [workload] -> the empty program's second measurement / its first, same repetition.
    empty_again_vs_empty: Vec<Vec<f64>>,
    /// [workload] -> watched / watched names-only of the same repetition: what the ABI check and
    /// argument capture cost.
    capture_vs_names_only: Vec<Vec<f64>>,
    /// [workload] -> syscalls of the full workload.
    syscalls: Vec<u64>,
    ready_empty_ms: Vec<f64>,
    ready_recorder_ms: Vec<f64>,
    ready_recorder_inner_ms: Vec<f64>,
    /// The recorder's own steps (`load=12.3` on its ready line), in milliseconds.
    ready_recorder_steps: std::collections::BTreeMap<String, Vec<f64>>,
    rss_kb: Vec<u64>,
    record_rss_kb: Vec<u64>,
    /// Measurements during which another process had a program on sys_enter.
    disturbed: Vec<String>,
    measurements: usize,
    /// Measurements that started before the previous one's programs were freed.
    unsettled: usize,
}

fn measure_overhead(
    env: &BenchEnv,
    syscage: &Path,
    workloads: &[Workload],
    args: &BenchArgs,
) -> Result<Overhead> {
    let n_setups = Setup::ALL.len();
    let mut o = Overhead {
        times: vec![vec![Vec::new(); workloads.len()]; n_setups],
        ratios: vec![vec![Vec::new(); workloads.len()]; n_setups],
        watched_vs_floor: vec![Vec::new(); workloads.len()],
        unwatched_vs_floor: vec![Vec::new(); workloads.len()],
        unwatched_vs_cgroup_id: vec![Vec::new(); workloads.len()],
        empty_again_vs_empty: vec![Vec::new(); workloads.len()],
        capture_vs_names_only: vec![Vec::new(); workloads.len()],
        syscalls: workloads.iter().map(Workload::syscalls).collect(),
        ready_empty_ms: Vec::new(),
        ready_recorder_ms: Vec::new(),
        ready_recorder_inner_ms: Vec::new(),
        ready_recorder_steps: std::collections::BTreeMap::new(),
        rss_kb: Vec::new(),
        record_rss_kb: Vec::new(),
        disturbed: Vec::new(),
        unsettled: 0,
        measurements: 0,
    };
    let work_id = cgroup_id(&env.work)?;
    let record_out = env.tmp.join("record.json");
    let tracer_log = env.tmp.join("tracer.log");
    let mut settle = ProgramSettle::new();

    for rep in 0..args.reps {
        for (w, workload) in workloads.iter().enumerate() {
            let full = (workload.argv)(workload.units);
            let mut rep_time = vec![f64::NAN; n_setups];
            // Rotate the order so that no setup always runs first or right after another.
            let offset = (rep + w) % n_setups;
            for k in 0..n_setups {
                let s = (offset + k) % n_setups;
                let setup = Setup::ALL[s];
                eprintln!(
                    "xtask: bench rep {}/{} {}: {}",
                    rep + 1,
                    args.reps,
                    workload.key,
                    setup.label()
                );
                let foreign = wait_for_quiet();
                settle.wait();
                o.measurements += 1;
                if !foreign.is_empty() {
                    o.disturbed.push(format!(
                        "{} / {} (rep {}): {}",
                        workload.key,
                        setup.label(),
                        rep + 1,
                        foreign.join(", ")
                    ));
                }
                let seconds = match setup {
                    Setup::Untraced => run_timed(&full, Some(&env.work))?.cpu_seconds,
                    Setup::Empty | Setup::EmptyAgain | Setup::CgroupId => {
                        let program = if setup == Setup::CgroupId {
                            "cgroup-id"
                        } else {
                            "empty"
                        };
                        let tracer =
                            Tracer::start(&bench_attach_argv(syscage, program, None), &tracer_log)?;
                        if setup == Setup::Empty {
                            o.ready_empty_ms
                                .push(tracer.ready_after.as_secs_f64() * 1000.0);
                        }
                        let ran = run_timed(&full, Some(&env.work))?;
                        tracer.stop()?;
                        ran.cpu_seconds
                    }
                    Setup::SyscageUnwatched
                    | Setup::SyscageWatched
                    | Setup::SyscageWatchedNamesOnly => {
                        let watched = setup != Setup::SyscageUnwatched;
                        let cgroup = if watched { &env.work } else { &env.other };
                        let program = if setup == Setup::SyscageWatchedNamesOnly {
                            "recorder-names-only"
                        } else {
                            "recorder"
                        };
                        let tracer = Tracer::start(
                            &bench_attach_argv(syscage, program, Some(cgroup)),
                            &tracer_log,
                        )?;
                        o.ready_recorder_ms
                            .push(tracer.ready_after.as_secs_f64() * 1000.0);
                        let mut words = tracer.ready_line.split_whitespace().skip(1);
                        if let Some(inner) = words.next().and_then(|v| v.parse::<f64>().ok()) {
                            o.ready_recorder_inner_ms.push(inner);
                        }
                        for (step, ms) in words.filter_map(|w| w.split_once('=')) {
                            if let Ok(ms) = ms.parse::<f64>() {
                                o.ready_recorder_steps
                                    .entry(step.to_owned())
                                    .or_default()
                                    .push(ms);
                            }
                        }
                        let ran = run_timed(&full, Some(&env.work))?;
                        if watched {
                            if let Some(kb) = tracer.vm_hwm_kb() {
                                o.rss_kb.push(kb);
                            }
                        }
                        let lines = tracer.stop()?;
                        if watched {
                            let calls = syscage_calls(&lines, work_id)?;
                            ensure!(
                                calls >= workload.syscalls(),
                                "the watched recorder counted {calls} syscalls of `{}`, fewer \
                                 than its {}",
                                full.join(" "),
                                workload.syscalls()
                            );
                        }
                        ran.cpu_seconds
                    }
                    Setup::SyscageRecord => {
                        let argv = record_argv(syscage, &record_out, &full);
                        let ran = run_timed(&argv, None)?;
                        o.record_rss_kb.push(ran.max_rss_kb);
                        let recording = env.tmp.join("record.recording.json");
                        let calls = recording_calls(&recording)?;
                        ensure!(
                            calls >= workload.syscalls(),
                            "`syscage record` counted {calls} syscalls of `{}`, fewer than its {}",
                            full.join(" "),
                            workload.syscalls()
                        );
                        ran.cpu_seconds
                    }
                    Setup::BpftraceUnwatched | Setup::BpftraceWatched => {
                        let watched = setup == Setup::BpftraceWatched;
                        let cgroup = if watched { &env.work } else { &env.other };
                        let tracer = Tracer::start(&bpftrace_argv(cgroup), &tracer_log)?;
                        let ran = run_timed(&full, Some(&env.work))?;
                        let lines = tracer.stop()?;
                        if watched {
                            let calls = bpftrace_calls(&lines);
                            ensure!(
                                calls >= workload.syscalls(),
                                "bpftrace counted {calls} syscalls of `{}`, fewer than its {}",
                                full.join(" "),
                                workload.syscalls()
                            );
                        }
                        ran.cpu_seconds
                    }
                    Setup::Strace => {
                        let short = (workload.units / args.strace_divisor).max(1);
                        let mut argv = vec![
                            "strace".to_owned(),
                            "-f".into(),
                            "-c".into(),
                            "-o".into(),
                            env.tmp.join("strace.txt").display().to_string(),
                            "--".into(),
                        ];
                        argv.extend((workload.argv)(short));
                        let ran = run_timed(&argv, Some(&env.work))?;
                        // Scaled per unit of work to the full length.
                        ran.cpu_seconds * workload.units as f64 / short as f64
                    }
                };
                // One may have started while this ran, too.
                let during = foreign_sys_enter_tracers();
                if foreign.is_empty() && !during.is_empty() {
                    o.disturbed.push(format!(
                        "{} / {} (rep {}, after): {}",
                        workload.key,
                        setup.label(),
                        rep + 1,
                        during.join(", ")
                    ));
                }
                rep_time[s] = seconds;
                o.times[s][w].push(seconds);
            }
            let time = |setup: Setup| rep_time[setup as usize];
            let untraced = time(Setup::Untraced);
            for (ratios, time) in o.ratios.iter_mut().zip(&rep_time) {
                ratios[w].push(time / untraced);
            }
            let empty = time(Setup::Empty);
            o.unwatched_vs_floor[w].push(time(Setup::SyscageUnwatched) / empty);
            o.watched_vs_floor[w].push(time(Setup::SyscageWatched) / empty);
            o.capture_vs_names_only[w]
                .push(time(Setup::SyscageWatched) / time(Setup::SyscageWatchedNamesOnly));
            o.unwatched_vs_cgroup_id[w].push(time(Setup::SyscageUnwatched) / time(Setup::CgroupId));
            o.empty_again_vs_empty[w].push(time(Setup::EmptyAgain) / empty);
        }
    }
    o.unsettled = settle.gave_up;
    Ok(o)
}

/// Other processes' programs on `sys_enter` (`record --all` of another user of the machine, a
/// bpftrace): they would tax the untraced runs too. Found by their links' fdinfo
/// (`tp_name: sys_enter`); classic-tracepoint perf events are not seen this way.
fn foreign_sys_enter_tracers() -> Vec<String> {
    let own = std::process::id().to_string();
    let mut found = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in procs.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == own || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = fs::read_dir(entry.path().join("fdinfo")) else {
            continue;
        };
        let attached = fds.flatten().any(|fd| {
            fs::read_to_string(fd.path()).is_ok_and(|info| {
                info.lines().any(|l| {
                    l.strip_prefix("tp_name:")
                        .is_some_and(|name| name.trim() == "sys_enter")
                })
            })
        });
        if attached {
            let comm = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            found.push(format!("{pid} ({})", comm.trim()));
        }
    }
    found
}

/// Waits, before each measurement, until the BPF programs the previous one loaded are freed.
///
/// Detaching a program from `sys_enter` (a faultable tracepoint since Linux 6.10) waits for an
/// RCU tasks-trace grace period, about 300 ms here, whose work lands on the CPUs the next
/// workload runs on: a run that started right after another tracer stopped measured 5-6%
/// more CPU time than the same run after a one-second pause (`empty` then `empty` again, 10
/// pairs, three times each way). Freed programs are the sign that the grace period is over.
struct ProgramSettle {
    /// The newest program id when the previous measurement started.
    newest: u32,
    /// Measurements that started while newer programs were still alive after [`SETTLE_CAP`]
    /// (another process on the machine keeps programs of its own).
    gave_up: usize,
}

/// How long to wait for the previous measurement's programs to be freed.
const SETTLE_CAP: Duration = Duration::from_secs(5);

impl ProgramSettle {
    fn new() -> Self {
        Self {
            newest: newest_bpf_prog_id(),
            gave_up: 0,
        }
    }

    /// Waits until no program newer than the previous measurement's start is alive, then notes
    /// the newest id for the next one.
    fn wait(&mut self) {
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

/// Waits up to a minute for other sys_enter tracers to go; returns those still there.
fn wait_for_quiet() -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
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

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The call count `bench-attach` printed for cgroup `id`.
fn syscage_calls(lines: &[String], id: u64) -> Result<u64> {
    let prefix = format!("cgroup {id}: ");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|calls| calls.trim_end_matches(" calls").parse().ok())
        .with_context(|| format!("bench-attach printed no count for cgroup {id}: {lines:?}"))
}

/// The sum of bpftrace's `@[nr]: count` lines.
fn bpftrace_calls(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| l.starts_with("@["))
        .filter_map(|l| l.rsplit(": ").next()?.trim().parse::<u64>().ok())
        .sum()
}

/// The sum of a recording's call counts.
fn recording_calls(path: &Path) -> Result<u64> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(value["syscalls"]
        .as_array()
        .map(|calls| calls.iter().filter_map(|c| c["count"].as_u64()).sum())
        .unwrap_or(0))
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn ratio_cell(values: &[f64]) -> String {
    let (min, max) = range(values);
    format!("{:.2}x [{min:.2}-{max:.2}]", median(values))
}

impl Overhead {
    fn write_table(&self, out: &mut String, workloads: &[Workload]) -> Result<()> {
        write!(out, "| setup |")?;
        for w in workloads {
            write!(
                out,
                " {} ({:.1}M syscalls): CPU time | ratio | added per syscall |",
                w.label,
                w.syscalls() as f64 / 1e6
            )?;
        }
        write!(out, "\n|---|")?;
        for _ in workloads {
            write!(out, "---|---|---|")?;
        }
        writeln!(out)?;
        for (s, setup) in Setup::ALL.iter().enumerate() {
            write!(out, "| {} |", setup.label())?;
            for w in 0..workloads.len() {
                let time = median(&self.times[s][w]);
                let untraced = median(&self.times[0][w]);
                let added_ns = (time - untraced) / self.syscalls[w] as f64 * 1e9;
                let added = if s == 0 {
                    "-".to_owned()
                } else {
                    format!("{added_ns:.0} ns")
                };
                write!(
                    out,
                    " {time:.3} s | {} | {added} |",
                    ratio_cell(&self.ratios[s][w])
                )?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
        for (w, workload) in workloads.iter().enumerate() {
            writeln!(
                out,
                "- {}: syscage / empty program of the same repetition: unwatched {}, watched {}; \
                 the empty program measured twice (second / first): {}; unwatched / uncached \
                 cgroup-id program: {}; watched / watched names-only (the cost of the ABI check \
                 and argument capture): {}",
                workload.key,
                ratio_cell(&self.unwatched_vs_floor[w]),
                ratio_cell(&self.watched_vs_floor[w]),
                ratio_cell(&self.empty_again_vs_empty[w]),
                ratio_cell(&self.unwatched_vs_cgroup_id[w]),
                ratio_cell(&self.capture_vs_names_only[w])
            )?;
        }
        Ok(())
    }
}

struct Attach {
    record_minus_true_ms: f64,
    runs: usize,
}

/// `syscage record --quiet --user root --output OUT -- COMMAND...` (as root the workload
/// stays root, as in the other setups).
fn record_argv(syscage: &Path, out: &Path, command: &[impl AsRef<str>]) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        syscage.display().to_string(),
        "record".into(),
        "--quiet".into(),
        "--user".into(),
        "root".into(),
        "--output".into(),
        out.display().to_string(),
        "--".into(),
    ];
    argv.extend(command.iter().map(|word| word.as_ref().to_owned()));
    argv
}

/// `syscage bench-attach --program PROGRAM [--watch-cgroup CGROUP]`.
fn bench_attach_argv(syscage: &Path, program: &str, watch: Option<&Path>) -> Vec<String> {
    let mut argv = vec![
        syscage.display().to_string(),
        "bench-attach".into(),
        "--program".into(),
        program.to_owned(),
    ];
    if let Some(cgroup) = watch {
        argv.extend(["--watch-cgroup".into(), cgroup.display().to_string()]);
    }
    argv
}

/// `syscage record -- true` against `true`, alternating.
fn measure_attach(env: &BenchEnv, syscage: &Path, reps: usize) -> Result<Attach> {
    let out = env.tmp.join("true.json");
    let record = record_argv(syscage, &out, &["true"]);
    let plain = vec!["true".to_owned()];
    let mut diffs = Vec::new();
    for rep in 0..reps {
        eprintln!("xtask: bench attach {}/{reps}", rep + 1);
        let a = run_timed(&plain, None)?.elapsed.as_secs_f64();
        let b = run_timed(&record, None)?.elapsed.as_secs_f64();
        diffs.push((b - a) * 1000.0);
    }
    Ok(Attach {
        record_minus_true_ms: median(&diffs),
        runs: reps,
    })
}

struct Tools {
    generate_s: Vec<f64>,
    merge_s: Vec<f64>,
    diff_total_s: f64,
    diff_each_ms: Vec<f64>,
    diff_merged_ms: Vec<f64>,
}

/// `generate`, `merge` and `diff` on `args.recordings` recordings: clones with variations of a
/// few recordings of real commands.
fn measure_tools(
    env: &BenchEnv,
    syscage: &Path,
    getppid: &Path,
    args: &BenchArgs,
) -> Result<Tools> {
    let dir = env.tmp.join("recordings");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let commands: [&[&str]; 5] = [
        &["ls", "-l", "/"],
        &["sh", "-c", "echo hi | cat > /dev/null"],
        &[
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=1k",
            "count=10",
            "status=none",
        ],
        &["date"],
        &[&getppid.display().to_string(), "10"],
    ];
    let mut bases = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let out = dir.join(format!("base-{i}.json"));
        let argv = record_argv(syscage, &out, command);
        run_timed(&argv, None)?;
        let path = dir.join(format!("base-{i}.recording.json"));
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        bases.push(serde_json::from_str::<Value>(&text)?);
    }
    let files = clone_recordings(&bases, &dir, args.recordings)?;
    let s = syscage.display().to_string();
    let mut t = Tools {
        generate_s: Vec::new(),
        merge_s: Vec::new(),
        diff_total_s: 0.0,
        diff_each_ms: Vec::new(),
        diff_merged_ms: Vec::new(),
    };
    let reps = args.reps.clamp(1, 5);
    let merged = dir.join("merged");
    for rep in 0..reps {
        eprintln!(
            "xtask: bench generate/merge on {} recordings {}/{reps}",
            files.len(),
            rep + 1
        );
        let mut generate = vec![
            s.clone(),
            "--quiet".into(),
            "generate".into(),
            "--from".into(),
        ];
        generate.extend(files.iter().cloned());
        generate.extend([
            "-o".into(),
            dir.join("generated.json").display().to_string(),
        ]);
        t.generate_s
            .push(run_timed(&generate, None)?.elapsed.as_secs_f64());

        let mut merge = vec![s.clone(), "--quiet".into(), "merge".into()];
        merge.extend(files.iter().cloned());
        merge.extend(["--output".into(), merged.display().to_string()]);
        t.merge_s
            .push(run_timed(&merge, None)?.elapsed.as_secs_f64());

        let diff_merged = vec![
            s.clone(),
            "diff".into(),
            files[0].clone(),
            format!("{}.recording.json", merged.display()),
        ];
        t.diff_merged_ms
            .push(run_timed(&diff_merged, None)?.elapsed.as_secs_f64() * 1000.0);
    }
    eprintln!("xtask: bench diff of {} pairs", files.len() - 1);
    let started = Instant::now();
    for pair in files.windows(2) {
        let argv = vec![s.clone(), "diff".into(), pair[0].clone(), pair[1].clone()];
        t.diff_each_ms
            .push(run_timed(&argv, None)?.elapsed.as_secs_f64() * 1000.0);
    }
    t.diff_total_s = started.elapsed().as_secs_f64();
    Ok(t)
}

/// Writes `count` recordings: clone `i` is base `i % len` with a tenth of its syscalls dropped
/// (never execve), its counts scaled and its first sightings shifted, by a fixed pseudo-random
/// sequence, so the set differs between clones as replicas' do.
fn clone_recordings(bases: &[Value], dir: &Path, count: usize) -> Result<Vec<String>> {
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut files = Vec::with_capacity(count);
    for i in 0..count {
        let mut rec = bases[i % bases.len()].clone();
        if let Some(command) = rec["command"].as_array_mut() {
            command.push(Value::from(format!("--replica={i}")));
        }
        if let Some(syscalls) = rec["syscalls"].as_array_mut() {
            syscalls.retain_mut(|s| {
                if s["name"] != "execve" && next() % 10 == 0 {
                    return false;
                }
                let scale = 1 + next() % 5;
                let count = s["count"].as_u64().unwrap_or(1);
                s["count"] = Value::from(count * scale);
                let first = s["first_seen_us"].as_u64().unwrap_or(0);
                s["first_seen_us"] = Value::from(first + next() % 1000);
                true
            });
        }
        let path = dir.join(format!("r{i:04}.recording.json"));
        let text = serde_json::to_string_pretty(&rec)? + "\n";
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        files.push(path.display().to_string());
    }
    Ok(files)
}

impl Tools {
    fn write_table(&self, out: &mut String, count: usize) -> Result<()> {
        writeln!(
            out,
            "\n| on {count} recordings | median | runs |\n|---|---|---|"
        )?;
        writeln!(
            out,
            "| `syscage generate --from` all {count} | {:.3} s | {} |",
            median(&self.generate_s),
            self.generate_s.len()
        )?;
        writeln!(
            out,
            "| `syscage merge` all {count} | {:.3} s | {} |",
            median(&self.merge_s),
            self.merge_s.len()
        )?;
        writeln!(
            out,
            "| `syscage diff A B`, one pair | {:.1} ms | {} (all: {:.1} s) |",
            median(&self.diff_each_ms),
            self.diff_each_ms.len(),
            self.diff_total_s
        )?;
        writeln!(
            out,
            "| `syscage diff` one recording against the merge of all {count} | {:.1} ms | {} |",
            median(&self.diff_merged_ms),
            self.diff_merged_ms.len()
        )?;
        Ok(())
    }
}

/// The programs' own run time per call, from the kernel's BPF statistics
/// (`kernel.bpf_stats_enabled`, which adds two clock reads per run and so is off during the
/// timed runs above): what the program body costs, apart from the price of calling a program on
/// the tracepoint at all. Counted over every syscall on the machine while the workload runs.
/// The sys_enter programs' body time per call (median of [`BODY_ROUNDS`] runs each), by the
/// kernel's own statistics, for the overhead targets: what a recorder adds beyond the empty
/// program, without the noise of timing whole runs.
struct BodyCosts {
    /// (label, median ns per call, calls of all rounds), in table order.
    rows: Vec<(&'static str, f64, u64)>,
}

impl BodyCosts {
    const EMPTY: &'static str = "empty program";
    const UNWATCHED: &'static str = "syscage, workload not watched";
    const WATCHED: &'static str = "syscage, workload watched";

    fn ns(&self, label: &str) -> f64 {
        self.rows
            .iter()
            .find(|(l, ..)| *l == label)
            .map_or(f64::NAN, |&(_, ns, _)| ns)
    }
}

/// How many times each program's body time is measured (alternating between programs).
const BODY_ROUNDS: usize = 3;

fn write_prog_costs(
    out: &mut String,
    env: &BenchEnv,
    syscage: &Path,
    workload: &Workload,
) -> Result<BodyCosts> {
    let sysctl = Path::new("/proc/sys/kernel/bpf_stats_enabled");
    let before = fs::read_to_string(sysctl).context("reading kernel.bpf_stats_enabled")?;
    fs::write(sysctl, "1").context("enabling kernel.bpf_stats_enabled")?;
    let result = prog_costs(env, syscage, workload);
    fs::write(sysctl, before.trim()).context("restoring kernel.bpf_stats_enabled")?;
    let costs = result?;
    writeln!(
        out,
        "\n| program body, per call (kernel BPF stats, {}; median of {BODY_ROUNDS} runs) | run \
         time | calls |\n|---|---|---|",
        workload.label
    )?;
    for (label, ns, calls) in &costs.rows {
        writeln!(out, "| {label} | {ns:.1} ns | {calls} |")?;
    }
    Ok(costs)
}

fn prog_costs(env: &BenchEnv, syscage: &Path, workload: &Workload) -> Result<BodyCosts> {
    let log = env.tmp.join("stats.log");
    let full = (workload.argv)(workload.units);
    let bench_attach =
        |program: &str, watch: Option<&Path>| bench_attach_argv(syscage, program, watch);
    let programs = [
        (BodyCosts::EMPTY, bench_attach("empty", None)),
        (
            "cgroup id read on every call (no cache)",
            bench_attach("cgroup-id", None),
        ),
        (
            BodyCosts::UNWATCHED,
            bench_attach("recorder", Some(&env.other)),
        ),
        (
            BodyCosts::WATCHED,
            bench_attach("recorder", Some(&env.work)),
        ),
    ];
    let mut per_call = vec![Vec::new(); programs.len()];
    let mut calls = vec![0u64; programs.len()];
    let mut settle = ProgramSettle::new();
    for round in 0..BODY_ROUNDS {
        for (i, (label, argv)) in programs.iter().enumerate() {
            settle.wait();
            eprintln!(
                "xtask: bench BPF stats {}/{BODY_ROUNDS}: {label}",
                round + 1
            );
            let tracer = Tracer::start(argv, &log)?;
            run_timed(&full, Some(&env.work))?;
            // The sys_enter program is the tracer's program that ran most.
            let busiest = sys_enter_prog_stats(tracer.pid());
            tracer.stop()?;
            let (run_time_ns, run_cnt) =
                busiest.with_context(|| format!("no BPF program statistics for {label}"))?;
            per_call[i].push(run_time_ns as f64 / run_cnt as f64);
            calls[i] += run_cnt;
        }
    }
    Ok(BodyCosts {
        rows: programs
            .iter()
            .zip(per_call.iter().zip(calls))
            .map(|((label, _), (ns, calls))| (*label, median(ns), calls))
            .collect(),
    })
}

/// (run_time_ns, run_cnt) of the process's BPF program that ran most often.
fn sys_enter_prog_stats(pid: libc::pid_t) -> Option<(u64, u64)> {
    let fds = fs::read_dir(format!("/proc/{pid}/fdinfo")).ok()?;
    let mut best: Option<(u64, u64)> = None;
    for fd in fds.flatten() {
        let Ok(info) = fs::read_to_string(fd.path()) else {
            continue;
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let (Some(time), Some(count)) = (field("run_time_ns:"), field("run_cnt:")) {
            if count > best.map_or(0, |b| b.1) {
                best = Some((time, count));
            }
        }
    }
    best
}

/// The issue's targets, each with what was measured.
///
/// The overhead targets are judged two ways. By CPU time: the median ratio to the empty program
/// of the same repetition, which includes everything the program costs (caches too) but which
/// this machine cannot resolve below the gap between two measurements of the same empty
/// program. By program time: what the recorder's body adds to the empty program's (kernel BPF
/// statistics over millions of calls), as a share of a syscall's CPU time with the empty
/// program attached, taking the cheapest workload's syscall (the largest share).
fn write_targets(
    out: &mut String,
    o: &Overhead,
    bodies: &BodyCosts,
    attach: &Attach,
    rss_kb: u64,
) -> Result<()> {
    writeln!(out, "\n| target | measured | met |\n|---|---|---|")?;
    let yes = |ok: bool| if ok { "yes" } else { "**no**" };
    let worst_median = |values: &[Vec<f64>]| {
        values
            .iter()
            .map(|v| median(v) - 1.0)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    // What the CPU-time lines can resolve on this machine.
    let spread = o
        .empty_again_vs_empty
        .iter()
        .map(|v| (median(v) - 1.0).abs())
        .fold(0.0, f64::max);
    // CPU ns per syscall with the empty program attached, for the cheapest workload.
    let syscall_ns = (0..o.syscalls.len())
        .map(|w| median(&o.times[Setup::Empty as usize][w]) * 1e9 / o.syscalls[w] as f64)
        .fold(f64::INFINITY, f64::min);
    let empty_ns = bodies.ns(BodyCosts::EMPTY);
    for (what, cpu, body_label, target) in [
        (
            "unwatched within 5%",
            worst_median(&o.unwatched_vs_floor),
            BodyCosts::UNWATCHED,
            0.05,
        ),
        (
            "watched within 10%",
            worst_median(&o.watched_vs_floor),
            BodyCosts::WATCHED,
            0.10,
        ),
    ] {
        let added_ns = bodies.ns(body_label) - empty_ns;
        let body = added_ns / syscall_ns;
        let verdict = if cpu <= target && body <= target {
            "yes"
        } else if body <= target && cpu - target <= spread {
            "yes by program time; the CPU-time median is over by less than the resolution"
        } else {
            "**no**"
        };
        writeln!(
            out,
            "| {what} of the empty program | CPU time: up to {:+.1}%; program time: {added_ns:+.1} \
             ns per call, {:+.1}% of a {syscall_ns:.0} ns syscall | {verdict} |",
            cpu * 100.0,
            body * 100.0,
        )?;
    }
    writeln!(
        out,
        "| (resolution of CPU time: the empty program measured twice, medians apart by) | up to \
         {:.1}% | - |",
        spread * 100.0
    )?;
    // "Cheaper" compares what each tool adds to the untraced time; the total-time ratio is
    // shown too.
    let mut worst_added = f64::INFINITY;
    let mut worst_total = f64::INFINITY;
    for (sc, bt) in [
        (Setup::SyscageUnwatched, Setup::BpftraceUnwatched),
        (Setup::SyscageWatched, Setup::BpftraceWatched),
    ] {
        for w in 0..o.syscalls.len() {
            let sc_ratio = median(&o.ratios[sc as usize][w]);
            let bt_ratio = median(&o.ratios[bt as usize][w]);
            worst_added = worst_added.min((bt_ratio - 1.0) / (sc_ratio - 1.0));
            worst_total = worst_total.min(bt_ratio / sc_ratio);
        }
    }
    writeln!(
        out,
        "| at least 2x cheaper than the bpftrace one-liner (added time) | at least {worst_added:.1}x \
         less added time (total time: at least {worst_total:.2}x less) | {} |",
        yes(worst_added >= 2.0)
    )?;
    let attach_ms = median(&o.ready_recorder_ms);
    writeln!(
        out,
        "| attach under 50 ms | {attach_ms:.1} ms from process start to watching \
         ({:.1} ms in the process; `record -- true` costs {:.1} ms over `true`) | {} |",
        median(&o.ready_recorder_inner_ms),
        attach.record_minus_true_ms,
        yes(attach_ms < 50.0)
    )?;
    writeln!(
        out,
        "| collector RSS under 30 MB | {:.1} MB | {} |",
        rss_kb as f64 / 1024.0,
        yes(rss_kb > 0 && rss_kb < 30 * 1024)
    )?;
    Ok(())
}

/// `2026-11-26, Linux 6.18.44 x86_64, 2 CPUs (model name)`.
fn machine_description() -> String {
    let output = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let date = output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let kernel = output("uname", &["-rm"]);
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    format!("{date}, Linux {kernel}, {cpus} CPUs ({model})")
}
