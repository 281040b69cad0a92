//! `syscage bench-attach` (hidden from `--help`): attaches an eBPF program to `sys_enter` the
//! way `record` does and holds it until SIGINT/SIGTERM, so that `cargo xtask bench` can time a
//! workload with it attached. It prints `ready <ms>` on stdout once attached (milliseconds since
//! this process started: load, verifier and attach), and on the way out, per watched cgroup,
//! `cgroup <id>: <distinct> distinct syscalls, <calls> calls` so the bench can check that the
//! recorder saw the workload.

use std::{
    io::Write as _,
    path::PathBuf,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use tracer_common::phase;

use crate::{bpf, cgroup, cmd::record::stop_on_signals, preflight, session::Session};

/// Attach an eBPF program and wait for SIGINT/SIGTERM (for `cargo xtask bench`).
#[derive(Debug, Args)]
pub(crate) struct BenchAttachArgs {
    /// `empty`: a program that returns at once (the cost floor of any recorder on this hook);
    /// `recorder`: syscage's own, as `record` loads it.
    #[arg(long, value_enum)]
    program: Program,

    /// With `recorder`: watch this cgroup v2 (absolute, or relative to the cgroup2 mount).
    #[arg(long, value_name = "PATH")]
    watch_cgroup: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Program {
    Empty,
    Recorder,
}

pub(crate) fn run(args: BenchAttachArgs, verbosity: u8) -> Result<u8> {
    let started = Instant::now();
    preflight::check_privileges()?;
    anyhow::ensure!(
        args.program == Program::Recorder || args.watch_cgroup.is_empty(),
        "bench-attach: --watch-cgroup needs --program recorder"
    );
    let stop = stop_on_signals()?;
    let mount = cgroup::cgroup2_mount()?;
    let ids = args
        .watch_cgroup
        .iter()
        .map(|path| cgroup::cgroup_id(&cgroup::resolve_cgroup_arg(&mount, path)?))
        .collect::<Result<Vec<u64>>>()?;

    // Whichever is attached stays attached until these are dropped at the end.
    let mut session = None;
    let mut _empty = None;
    match args.program {
        Program::Empty => _empty = Some(bpf::attach_empty()?),
        Program::Recorder => {
            let capacity = u32::try_from(ids.len()).unwrap_or(u32::MAX).max(1);
            session = Some(Session::start(capacity, false, verbosity, |tracer| {
                ids.iter()
                    .try_for_each(|&id| tracer.watch(id, phase::WORKLOAD))
            })?);
        }
    }
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "ready {:.3}",
        started.elapsed().as_secs_f64() * 1000.0
    )
    .and_then(|()| stdout.flush())
    .context("writing to stdout")?;

    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(session) = &mut session {
        for &id in &ids {
            let seen = session.tracer.read(id)?;
            let calls: u64 = seen.seen.values().map(|s| s.count).sum();
            writeln!(
                stdout,
                "cgroup {id}: {} distinct syscalls, {calls} calls",
                seen.seen.len()
            )
            .context("writing to stdout")?;
            session.tracer.unwatch(id);
        }
    }
    Ok(0)
}
