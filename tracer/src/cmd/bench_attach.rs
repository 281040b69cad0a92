//! `syscage bench-attach` (hidden from `--help`): attaches an eBPF program to `sys_enter` the
//! way `record` does and holds it until SIGINT/SIGTERM, so that `cargo xtask bench` can time a
//! workload with it attached. It prints `ready <ms>` on stdout once attached (milliseconds since
//! this process started), for the recorder followed by the steps' shares (`checks=`
//! privileges and cgroups, `load=` object, maps, verifier and the watched cgroups' entries, `attach=`),
//! and on the way out, per watched cgroup,
//! `cgroup <id>: <distinct> distinct syscalls, <calls> calls` so the bench can check that the
//! recorder saw the workload. With `--all` the recorder is loaded as `record --all` loads it
//! (every cgroup it meets gets an entry), the `--watch-cgroup`s recorded and the
//! `--ignore-cgroup`s marked ignored before it is attached, as `record --all` does with the
//! containers and the other cgroups it finds.

use std::{
    io::Write as _,
    path::PathBuf,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use profile_gen::Phase;

use crate::{
    ebpf::log::ebpf_log_level,
    ebpf::tracer::{attach_floor, AttachOptions, Tracer, Watching},
    recorder::stop::stop_on_signals,
    sys::cgroup,
    sys::preflight,
};

/// Attach an eBPF program and wait for SIGINT/SIGTERM (for `cargo xtask bench`).
#[derive(Debug, Args)]
pub(crate) struct BenchAttachArgs {
    /// `empty`: a program that returns at once (the cost floor of any recorder on this hook);
    /// `cgroup-id`: one that reads the caller's cgroup id on every call, as the recorder does when
    /// its per-CPU cache misses (what the cache saves); `recorder`: syscage's own, as `record`
    /// loads it.
    #[arg(long, value_enum)]
    program: Program,

    /// With `recorder`: watch this cgroup v2 (absolute, or relative to the cgroup2 mount).
    #[arg(long, value_name = "PATH")]
    watch_cgroup: Vec<PathBuf>,

    /// With `recorder`: load it as `record --all` does (every cgroup it meets gets an entry).
    #[arg(long)]
    all: bool,

    /// With `--all`: mark this cgroup v2 seen and not recorded, as `record --all` does with a
    /// cgroup that is not a container.
    #[arg(long, value_name = "PATH", requires = "all")]
    ignore_cgroup: Vec<PathBuf>,
}

/// How many cgroups `--all` holds at once here (`record --all`'s default `--max-cgroups`).
const ALL_MAX_CGROUPS: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Program {
    Empty,
    CgroupId,
    Recorder,
    /// The recorder without the ABI check and argument capture.
    RecorderNamesOnly,
}

pub(crate) fn run(args: BenchAttachArgs, verbosity: u8) -> Result<u8> {
    let started = Instant::now();
    preflight::check_privileges()?;
    anyhow::ensure!(
        matches!(args.program, Program::Recorder | Program::RecorderNamesOnly)
            || (args.watch_cgroup.is_empty() && !args.all),
        "bench-attach: --watch-cgroup and --all need --program recorder"
    );
    let stop = stop_on_signals()?;
    let mount = cgroup::cgroup2_mount()?;
    let ids_of = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|path| cgroup::cgroup_id(&cgroup::resolve_cgroup_arg(&mount, path)?))
            .collect::<Result<Vec<u64>>>()
    };
    let ids = ids_of(&args.watch_cgroup)?;
    let ignored_ids = ids_of(&args.ignore_cgroup)?;

    // Whichever is attached stays attached until these are dropped at the end.
    let mut tracer = None;
    let mut _floor = None;
    let mut steps = String::new();
    match args.program {
        Program::Empty => _floor = Some(attach_floor(tracer_common::EMPTY_PROGRAM_NAME)?),
        Program::CgroupId => {
            _floor = Some(attach_floor(tracer_common::CGROUP_ID_PROGRAM_NAME)?);
        }
        Program::Recorder | Program::RecorderNamesOnly => {
            // What Session::start does, with a clock on each step.
            let watching = if args.all {
                Watching::All {
                    max_cgroups: ALL_MAX_CGROUPS,
                }
            } else {
                Watching::Cgroups(ids.iter().map(|&id| (id, Phase::Workload)).collect())
            };
            let opts = AttachOptions {
                watching,
                log_level: ebpf_log_level(verbosity),
                names_only: args.program == Program::RecorderNamesOnly,
                failed_exits: false,
            };
            let t0 = Instant::now();
            let (mut loaded, _logger) = Tracer::load(&opts)?;
            if args.all {
                for &id in &ids {
                    loaded.watch(id, Phase::Workload)?;
                }
                for &id in &ignored_ids {
                    loaded.ignore(id);
                }
            }
            let t1 = Instant::now();
            loaded.attach()?;
            let t2 = Instant::now();
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
            steps = format!(
                " checks={:.3} load={:.3} attach={:.3}",
                ms(started, t0),
                ms(t0, t1),
                ms(t1, t2)
            );
            tracer = Some(loaded);
        }
    }
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "ready {:.3}{steps}",
        started.elapsed().as_secs_f64() * 1000.0
    )
    .and_then(|()| stdout.flush())
    .context("writing to stdout")?;

    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(tracer) = &mut tracer {
        for &id in &ids {
            let seen = tracer.read(id)?;
            let calls: u64 = seen.seen.values().map(|s| s.count).sum();
            writeln!(
                stdout,
                "cgroup {id}: {} distinct syscalls, {calls} calls",
                seen.seen.len()
            )
            .context("writing to stdout")?;
            tracer.unwatch(id);
        }
    }
    Ok(0)
}
