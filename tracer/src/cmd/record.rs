//! `syscage record`: record a command in a fresh cgroup, or an existing cgroup, process or
//! container, or every container on the node; write recordings and seccomp profiles.

use std::{ffi::OsString, path::PathBuf, time::Duration};

use anyhow::Result;
use clap::{ArgGroup, Args};

use crate::{
    recorder::{
        all::record_all,
        command::record_command,
        existing::{record_existing, Existing},
        options::RecordOptions,
    },
    shared_args::{UserArg, WorkloadFilterArgs},
};

/// Record the syscalls of a command, a cgroup, a process, a container or every container, and
/// write the seccomp profile that allows exactly those.
///
/// With a COMMAND, syscage runs it in a fresh cgroup: the eBPF recorder is attached and the
/// cgroup watched before the command starts, so its first syscall after exec is seen; threads,
/// children and grandchildren inherit the cgroup and are recorded too. The command's
/// stdin/stdout/stderr pass through and its exit status becomes syscage's. SIGTERM/SIGINT sent
/// to syscage are passed on to the command, and the profile is still written when it ends that
/// way; a command that has not ended 10 seconds later (or at a second SIGTERM/SIGINT) gets
/// SIGKILL.
///
/// With --cgroup, --pid or --container, syscage records what that running cgroup does from now
/// on, until Ctrl-C, --duration, or the cgroup is empty or removed. With --all it records every
/// container on the node at once and writes one profile per container into --output-dir.
/// An empty cgroup is waited for: recording starts with its first process. Sub-cgroups that
/// exist when recording starts are recorded with it (up to 8 cgroups in all); sub-cgroups made
/// later, and processes that move out, are reported, not recorded. When the COMMAND exits but
/// leaves processes in its cgroup (a daemon), they are recorded until they exit too, or until
/// Ctrl-C or --duration, which send them SIGTERM. A recording without a single syscall writes
/// nothing and exits 122, unless --allow-empty.
///
/// A live view on stderr (on a terminal, without --quiet) shows syscalls as they first appear
/// and the time since the last new one: a workload has likely converged once that grows long.
/// -v also relays the eBPF program's own log lines (each syscall's first sighting, a seccomp
/// filter load, a container's entrypoint exec).
///
/// Needs root (loading eBPF, creating or reading cgroups).
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("target").required(true).args(["cgroup", "pid", "container", "all", "command"])),
    after_help = "Examples:\n  sudo syscage record --output app.json -- ./my-server --port 8080\n  \
    sudo syscage run --profile app.json -- ./my-server --port 8080\n  \
    sudo syscage record --container 3f1e0bd0a3c5 --duration 10m --output web.json\n  \
    sudo syscage record --all --output-dir profiles/\n  \
    sudo syscage record --all --namespace shop --workload web --output-dir profiles/"
)]
pub(crate) struct RecordArgs {
    /// Where to write the seccomp profile (OCI runtime-spec JSON, usable as a Kubernetes
    /// Localhost profile); `-` is stdout. Required except with --all (which refuses it).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// Where to write the recording (the raw facts: every syscall with number, name, count and
    /// first appearance; command; times; kernel); `-` is stdout. Default: next to the profile,
    /// `NAME.recording.json`; with `-o -`, none.
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub(crate) recording: Option<PathBuf>,

    /// Record this existing cgroup v2 (absolute, or relative to the cgroup2 mount).
    #[arg(long, value_name = "PATH")]
    pub(crate) cgroup: Option<PathBuf>,

    /// Record the cgroup this process is in.
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Option<u32>,

    /// Record this container (full id or a unique prefix) of runc, crun, containerd, Docker,
    /// Podman, CRI-O or Kubernetes, found by its cgroup.
    #[arg(long, value_name = "ID")]
    pub(crate) container: Option<String>,

    /// Record every container on the node, each from its first syscall if it starts while
    /// recording; writes DIR/<container id>.json and .recording.json per container, and a
    /// Kubernetes container's (one whose OCI bundle carries the CRI runtime's annotations)
    /// under DIR/<namespace>/<workload>/<container>/. Pod sandbox (pause) containers are not
    /// recorded.
    #[arg(long)]
    pub(crate) all: bool,

    #[command(flatten)]
    pub(crate) workload_filter: WorkloadFilterArgs,

    /// With --all: the directory for the per-container outputs.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "all")]
    pub(crate) output_dir: PathBuf,

    /// With --all: how many cgroups the recorder can hold at once (every cgroup that makes a
    /// syscall takes one until it is removed).
    #[arg(long, value_name = "N", default_value_t = 1024, requires = "all",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_cgroups: u32,

    /// Stop after this long (e.g. `30s`, `10m`; more than zero, at most 3650 days); a COMMAND
    /// and whatever it left running in its cgroup get SIGTERM then, and SIGKILL if the command
    /// has not ended 10 seconds later.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,

    /// Write the profile and recording even if no syscall was recorded (an idle or empty
    /// target); without it, such a recording is refused with exit status 122.
    #[arg(long)]
    pub(crate) allow_empty: bool,

    /// With --all: create FILE once recording has started (the eBPF program attached, the
    /// running containers adopted) and remove it when recording stops; a FILE left by an earlier
    /// run is removed first. `syscage ready FILE` is the matching readiness probe.
    #[arg(long, value_name = "FILE", requires = "all")]
    pub(crate) ready_file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) user: UserArg,

    /// The command to record, with its arguments.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

/// The longest `--duration`: far beyond any recording, and far from where adding it to a clock
/// could overflow.
const MAX_DURATION: Duration = Duration::from_secs(3650 * 24 * 3600);

/// A `--duration`, checked here so that a bad one stops syscage before anything starts: longer
/// than zero (a zero duration would stop before anything could be recorded) and at most
/// [`MAX_DURATION`].
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("a duration must be longer than zero (e.g. 30s, 10m)".to_owned());
    }
    if duration > MAX_DURATION {
        return Err(format!("{text} is too long: at most 3650 days"));
    }
    Ok(duration)
}

pub(crate) fn run(args: RecordArgs, verbosity: u8, quiet: bool) -> Result<u8> {
    anyhow::ensure!(
        args.all || args.ready_file.is_none(),
        "--ready-file marks --all's recording as started: expected --all with it"
    );
    let options = RecordOptions {
        output: args.output,
        recording: args.recording,
        duration: args.duration,
        allow_empty: args.allow_empty,
        ready_file: args.ready_file,
        verbosity,
        quiet,
        workloads: args.workload_filter.into_filter(args.all)?,
    };
    if let Some(path) = &args.cgroup {
        record_existing(&options, Existing::Cgroup(path))
    } else if let Some(pid) = args.pid {
        record_existing(&options, Existing::Pid(pid))
    } else if let Some(id) = &args.container {
        record_existing(&options, Existing::Container(id))
    } else if args.all {
        record_all(&options, &args.output_dir, args.max_cgroups)
    } else {
        anyhow::ensure!(
            !args.command.is_empty(),
            "record: give a COMMAND or one of --cgroup, --pid, --container, --all"
        );
        record_command(&options, &args.command, args.user.user.as_deref())
    }
}
