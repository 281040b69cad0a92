//! `syscage audit`: what loaded seccomp profiles logged (would deny, or denied), per container,
//! as recordings that `merge` folds back into the profile.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{ArgGroup, Args};

use crate::{
    audit::session::{audit, AuditOptions, AuditTarget},
    shared_args::WorkloadFilterArgs,
};

/// Listen for the kernel's seccomp log records and write, per target, a recording of the
/// syscalls a profile logged: the calls a LOG-mode profile (`generate --format log`) would have
/// denied, or the denials of a filter loaded with SECCOMP_FILTER_FLAG_LOG (`run --log-denials`).
///
/// syscage reads the audit netlink multicast group (needs CAP_AUDIT_READ; it takes nothing
/// from auditd, and needs none). Each record is attributed to its cgroup as it arrives, so a
/// process that exits at once is still counted for its container; a record that cannot be
/// attributed is reported, never guessed. Calls are named by the record's own architecture
/// (a 32-bit call on a 64-bit kernel gets its i386 name).
///
/// The recordings have `"source": "seccomp-log"`, each syscall's count, first and last time
/// and the action(s) that logged it. `merge` adds them to the recording the profile came from
/// (the widened profile); `diff` shows them as additions.
///
/// When the kernel or syscage dropped records (the audit `lost` counter rose, the receive
/// buffer overflowed) or some could not be attributed, syscage says so and exits 119: the
/// recordings are written but incomplete.
///
/// With --cgroup, --pid or --container, syscage stops at Ctrl-C, --duration, or when the cgroup
/// is empty or removed. With --all it listens until Ctrl-C or --duration.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("target").required(true).args(["cgroup", "pid", "container", "all"])),
    after_help = "Examples:\n  sudo syscage audit --all --output-dir denials/\n  \
    sudo syscage audit --all --namespace shop --output-dir denials/\n  \
    sudo syscage audit --container 3f1e0b --duration 1h --output web.denials.json\n  \
    syscage merge web.recording.json web.denials.json --output web"
)]
pub(crate) struct AuditArgs {
    /// Where to write the recording; `-` is stdout. Required except with --all.
    #[arg(short, long, value_name = "FILE", conflicts_with = "all")]
    pub(crate) output: Option<PathBuf>,

    /// Audit this cgroup v2 and its sub-cgroups (absolute, or relative to the cgroup2 mount).
    #[arg(long, value_name = "PATH")]
    pub(crate) cgroup: Option<PathBuf>,

    /// Audit the cgroup this process is in.
    #[arg(long, value_name = "PID")]
    pub(crate) pid: Option<u32>,

    /// Audit this container (full id or a unique prefix), found by its cgroup.
    #[arg(long, value_name = "ID")]
    pub(crate) container: Option<String>,

    /// Audit every container; writes DIR/<container id>.denials.json per container that had
    /// a record, and a Kubernetes container's (one whose OCI bundle carries the CRI runtime's
    /// annotations) under DIR/<namespace>/<workload>/<container>/, where `record --all` writes
    /// its recordings. Pod sandbox (pause) containers are not audited.
    #[arg(long)]
    pub(crate) all: bool,

    #[command(flatten)]
    pub(crate) workload_filter: WorkloadFilterArgs,

    /// With --all: the directory for the per-container recordings.
    #[arg(long, value_name = "DIR", default_value = ".", requires = "all")]
    pub(crate) output_dir: PathBuf,

    /// Stop after this long (e.g. `30s`, `1h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,

    /// The netlink socket's receive buffer in bytes: records that arrive faster than syscage
    /// reads them wait there, and are dropped (and reported) when it is full.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20,
          value_parser = clap::value_parser!(u32).range(1024..))]
    pub(crate) receive_buffer: u32,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("a duration must be longer than zero (e.g. 30s, 10m)".to_owned());
    }
    Ok(duration)
}

pub(crate) fn run(args: AuditArgs, quiet: bool) -> Result<u8> {
    let target = if let Some(path) = &args.cgroup {
        AuditTarget::Cgroup(path)
    } else if let Some(pid) = args.pid {
        AuditTarget::Pid(pid)
    } else if let Some(id) = &args.container {
        AuditTarget::Container(id)
    } else {
        AuditTarget::All
    };
    audit(&AuditOptions {
        target,
        output: args.output,
        output_dir: args.output_dir,
        workloads: args.workload_filter.into_filter(args.all)?,
        duration: args.duration,
        receive_buffer: args.receive_buffer as usize,
        quiet,
    })
}
