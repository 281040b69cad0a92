//! `cargo xtask bench`: what recording costs, measured side by side in one run.
//!
//! Syscall overhead: two syscall-heavy workloads (`dd` of one-byte reads and writes, and a tight
//! `getppid` loop built here from C) are timed untraced and under each setup below, by the CPU
//! time (user plus system) of the workload's process tree: an in-kernel recorder's cost is
//! kernel time in the workload's own syscalls, and CPU time leaves out the time the workload
//! waited while something else had the CPU, the main noise on a shared machine. The setups
//! alternate within every repetition (in a rotating order, so none always runs first), each
//! starts once the previous one's BPF programs are freed (see [`programs::ProgramSettle`]), and
//! each ratio is a setup's time over the untraced time of the same repetition; the table shows
//! the median and the range over the repetitions. The workload always runs in the same cgroup of
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
//! - `strace -f -c`, on a run `--strace-divisor` times shorter, scaled to the full length;
//! - the recorder as `record --all` loads it (`bench-attach --all`), with the workload's cgroup
//!   recorded, and seen and not recorded ("filtered out", as `--all` does with a cgroup that is
//!   not a container); with `--all-before SYSCAGE`, the same with another binary too.
//!
//! The programs' body times per call, from the kernel's BPF statistics, are measured too; the
//! overhead targets are judged both by CPU time and by those (see [`targets`]).
//!
//! The watched runs must have seen at least the workload's syscalls (checked from the
//! recorder's and bpftrace's own counts), so a tracer that silently recorded nothing cannot
//! look cheap.
//!
//! Also: attach time (from starting `syscage bench-attach` to its "ready" line, and `syscage
//! record -- true` against `true`), the collector's peak RSS, `record --all`'s CPU time and
//! peak RSS with `--scale-cgroups` more containers' cgroups than the machine has, and
//! `generate`, `diff` and `merge` on 1,000 recordings (clones with variations of a few real
//! recordings made here).
//!
//! Needs root (cgroups, eBPF); installs bpftrace, strace and gcc; mounts tracefs for bpftrace if
//! it is not mounted (and unmounts it afterwards).
//!
//! One file per job; each uses only files listed before it (this one uses them all):
//! - `stats`, `machine`, `report`, `env`, `process`, `programs`, `workload`, `syscage`, `peers`:
//!   leaves (medians and ranges; the machine; the report's heading and file; cgroups and
//!   tracefs; timed and background processes; the kernel's view of BPF programs; the
//!   workloads; syscage's and the peer tools' command lines and counts);
//! - `setups`: one workload under one setup (env, process, workload, syscage, peers);
//! - `overhead`: every workload under every setup, repeated (setups, env, programs, workload,
//!   stats);
//! - `bodies`: program body times by BPF statistics (env, process, programs, workload,
//!   syscage, stats);
//! - `attach`: `record -- true` against `true`, and the attach and memory table (the readings
//!   of setups, env, process, syscage, stats);
//! - `all_scale`: `record --all`'s CPU time and memory with many containers' cgroups (env,
//!   process);
//! - `profile_tools`: generate, merge and diff on many recordings (env, process, syscage, stats);
//! - `targets`: the targets table (overhead, bodies, attach, setups, stats).

mod all_scale;
mod attach;
mod bodies;
mod env;
pub(crate) mod machine;
mod overhead;
mod peers;
mod process;
mod profile_tools;
mod programs;
mod report;
mod setups;
mod stats;
mod syscage;
mod targets;
mod workload;

use std::path::{Path, PathBuf};

use anyhow::{ensure, Result};

use self::{env::BenchEnv, workload::Workload};
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
    /// setuid(0) calls (one capability check each) of the capability-checking loop.
    #[arg(long, default_value_t = 2_000_000)]
    setuid_count: u64,
    /// strace runs workloads this many times shorter (it stops the workload at every syscall).
    #[arg(long, default_value_t = 200)]
    strace_divisor: u64,
    /// How many recordings `generate`, `diff` and `merge` are timed on.
    #[arg(long, default_value_t = 1000)]
    recordings: usize,
    /// Extra containers' cgroups (a sleeping process each) `record --all` runs with for its
    /// own CPU time and memory.
    #[arg(long, default_value_t = 1000)]
    scale_cgroups: usize,
    /// How long each of those `record --all` runs records, in seconds.
    #[arg(long, default_value_t = 10)]
    scale_seconds: u64,
    /// Leave out the peer tools (bpftrace and strace): their setups and the bpftrace target.
    #[arg(long)]
    no_peers: bool,
    /// Another syscage binary (built from an earlier commit) whose `record --all` recorder is
    /// measured too, side by side in the same run.
    #[arg(long, value_name = "SYSCAGE")]
    all_before: Option<PathBuf>,
    /// Also write the Markdown report here (default: target/bench/report.md).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

const PACKAGES: &[&str] = &["bpftrace", "strace", "gcc", "libc6-dev"];

pub(crate) fn run(root: &Path, syscage: &Path, args: &BenchArgs) -> Result<()> {
    check(args)?;
    setup::debian_packages(PACKAGES)?;
    let env = BenchEnv::new(root)?;
    let getppid = workload::build_getppid_loop(&env.tmp)?;
    let setuid = workload::build_setuid_loop(&env.tmp)?;
    let workloads = [
        Workload::dd(args.dd_count),
        Workload::getppid(&getppid, args.getppid_count),
        Workload::setuid(&setuid, args.setuid_count),
    ];

    let machine = machine::description();
    let mut report = report::heading(&machine, args.reps)?;
    eprintln!("xtask: bench on {machine}");

    let load_before = machine::load_average();
    let before = args.all_before.as_deref();
    let overhead = overhead::measure(
        &env,
        syscage,
        before,
        args.no_peers,
        &workloads,
        args.reps,
        args.strace_divisor,
    )?;
    overhead.write_table(&mut report, &workloads)?;
    overhead.write_notes(&mut report, &load_before, &machine::load_average())?;

    let bodies = bodies::measure(&env, syscage, before, &workloads[1])?;
    bodies.write_table(&mut report, &workloads[1])?;

    let attach = attach::measure(&env, syscage, args.reps.max(5))?;
    attach.write_table(&mut report, &overhead.readings)?;

    let scale = all_scale::measure(
        &env,
        syscage,
        before,
        args.scale_cgroups,
        args.scale_seconds,
    )?;
    scale.write_table(&mut report)?;

    let tools = profile_tools::measure(&env, syscage, &getppid, args.reps, args.recordings)?;
    tools.write_table(&mut report, args.recordings)?;

    targets::write(&mut report, &overhead, &bodies, &attach)?;

    let output = args
        .output
        .clone()
        .unwrap_or_else(|| root.join("target/bench/report.md"));
    report::save(&report, &output)
}

fn check(args: &BenchArgs) -> Result<()> {
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
    Ok(())
}
