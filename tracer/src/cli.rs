//! Command-line interface: one Args struct per subcommand; the doc comments are the help text.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Result;
use clap::{ArgAction, ArgGroup, Args, Parser, Subcommand};

const EXIT_STATUS_HELP: &str = "\
Exit status:
  record and run exit with the command's own status (128+N if signal N ended it).
  diff exits 1 when --fail-on trips.
  120  missing privileges (not root, no CAP_BPF/CAP_PERFMON)
  121  missing kernel support (no cgroup v2, the eBPF program refused)
  122  the target does not exist (container id, cgroup, process), or made no syscall while
       recorded (see record --allow-empty)
  123  an output cannot be written (directory missing or read-only, disk full; record then
       saves the recording to a file it names)
  124  an input file is unreadable or invalid (profile, recording)
  125  any other syscage failure (bad arguments, ...)
  126  the command could not be executed
  127  the command was not found";

/// Record the system calls a workload really makes (with eBPF) and turn them into the
/// tightest seccomp profile that still runs it.
#[derive(Debug, Parser)]
#[command(name = "syscage", version, after_help = EXIT_STATUS_HELP)]
pub(crate) struct Cli {
    /// Say more about what syscage does (-v: the steps; -vv: details; -vvv: the libraries' debug
    /// output).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Record(RecordArgs),
    Run(RunArgs),
    Generate(crate::cmd::generate::GenerateArgs),
    Diff(crate::cmd::diff::DiffArgs),
    Merge(crate::cmd::merge::MergeArgs),
    OciHook(OciHookArgs),
    /// For `cargo xtask bench` only.
    #[command(hide = true)]
    BenchAttach(crate::cmd::bench_attach::BenchAttachArgs),
}

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
    sudo syscage record --all --output-dir profiles/"
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
    /// recording; writes DIR/<container id>.json and .recording.json per container.
    #[arg(long)]
    pub(crate) all: bool,

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

/// What `record` records.
pub(crate) enum RecordTarget<'a> {
    Command(&'a [OsString]),
    Cgroup(&'a Path),
    Pid(u32),
    Container(&'a str),
    All,
}

impl RecordArgs {
    pub(crate) fn target(&self) -> Result<RecordTarget<'_>> {
        Ok(if let Some(path) = &self.cgroup {
            RecordTarget::Cgroup(path)
        } else if let Some(pid) = self.pid {
            RecordTarget::Pid(pid)
        } else if let Some(id) = &self.container {
            RecordTarget::Container(id)
        } else if self.all {
            RecordTarget::All
        } else {
            anyhow::ensure!(
                !self.command.is_empty(),
                "record: give a COMMAND or one of --cgroup, --pid, --container, --all"
            );
            RecordTarget::Command(&self.command)
        })
    }

    pub(crate) fn required_output(&self) -> Result<PathBuf> {
        self.output.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "record: --output FILE is required (only --all writes into --output-dir)"
            )
        })
    }
}

/// Run as an OCI runtime hook (`createRuntime`, or `prestart` for older runtimes): start
/// recording the container before its process runs user code, and write its profile when the
/// container stops.
///
/// The runtime passes the container's state (id, pid, bundle, annotations) on stdin. The hook
/// starts a recorder in the background, waits until it watches the container's cgroup, and
/// returns; the recorder writes the profile once the container's cgroup is empty. The output
/// is `--output-dir`/<id>.json, or the file the annotation `io.syscage.output` names inside
/// --output-dir (a file name or a relative path without `..`; anything else is refused).
///
/// For the tightest profile, give the container a permissive seccomp profile while recording
/// (e.g. defaultAction SCMP_ACT_LOG): syscage then sees where the runtime loads the filter and
/// leaves out the runtime's setup before it.
#[derive(Debug, Args)]
#[command(after_help = "Hook entry in config.json (runc, crun):\n  \
    \"hooks\": {\"createRuntime\": [{\"path\": \"/usr/local/bin/syscage\",\n    \
    \"args\": [\"syscage\", \"oci-hook\", \"--output-dir\", \"/var/lib/syscage\"]}]}")]
pub(crate) struct OciHookArgs {
    /// Directory for `<container id>.json` and `<container id>.recording.json`, or for the
    /// file the container's annotation `io.syscage.output` names (required).
    #[arg(long, value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,

    /// Append the background recorder's messages to this file (it has no terminal).
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
}

/// Run a command under a seccomp profile, to check a profile before shipping it.
///
/// The profile is validated (actions, architectures, syscall names), compiled with libseccomp
/// and loaded in the child with no_new_privs set, right before it executes the command, the way
/// an OCI runtime applies it. A syscall the profile does not allow fails with the profile's
/// errno (EPERM for profiles syscage writes). The command's exit status becomes syscage's;
/// SIGINT/SIGTERM reach it, and it gets SIGKILL if it has not ended 10 seconds after one (or at
/// a second one).
///
/// As root, syscage records the command meanwhile (eBPF, as `record` does) and, when the
/// command fails, lists the syscalls the profile refused, with the argument values where the
/// profile allows a syscall only for others (`ioctl(FIONBIO)`). Without root the command still
/// runs, without that list.
///
/// The profile may be any input `generate` reads: an OCI profile, a Docker-format profile
/// (evaluated for this machine), an SPO SeccompProfile, or a recording (run under the profile
/// `generate` makes of it). A deny-list (defaultAction SCMP_ACT_ALLOW) is run with a warning;
/// two rules giving one syscall different actions are refused.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  syscage run --profile app.json -- ./my-server --port 8080\n  \
    sudo syscage run --profile app.json --fix app-fixed.json -- ./my-server --port 8080"
)]
pub(crate) struct RunArgs {
    /// The seccomp profile (OCI runtime-spec JSON, or another input `generate` reads).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) profile: PathBuf,

    /// Also write the profile widened by every syscall the command made (needs root: the
    /// command is recorded with eBPF).
    #[arg(long, value_name = "OUT")]
    pub(crate) fix: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) user: UserArg,

    /// The command to run, with its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct UserArg {
    /// Run the command as this user (`name`, `uid`, `name:group` or `uid:gid`). Default: the
    /// user who invoked sudo (SUDO_UID/SUDO_GID), else syscage's own user. `--user root`
    /// keeps root.
    #[arg(short, long, value_name = "USER")]
    pub(crate) user: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn long_help(subcommand: &str) -> String {
        let mut cli = Cli::command();
        cli.build();
        cli.find_subcommand_mut(subcommand)
            .unwrap_or_else(|| panic!("no subcommand {subcommand}"))
            .render_long_help()
            .to_string()
            // The help is wrapped to the terminal: compare words, not lines.
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn only_commands_that_load_the_ebpf_program_mention_its_log_lines() {
        for subcommand in ["diff", "generate", "merge", "run"] {
            let help = long_help(subcommand);
            assert!(
                !help.contains("eBPF program's own log"),
                "`{subcommand} --help` talks about the eBPF program's log lines:\n{help}"
            );
        }
        assert!(long_help("record").contains("eBPF program's own log"));
    }

    #[test]
    fn a_zero_duration_is_refused_when_parsing() {
        let zero = Cli::try_parse_from([
            "syscage",
            "record",
            "-o",
            "x.json",
            "--duration",
            "0s",
            "--",
            "true",
        ]);
        let err = zero.expect_err("--duration 0s must be refused");
        assert!(err.to_string().contains("longer than zero"), "{err}");
        assert!(Cli::try_parse_from([
            "syscage",
            "record",
            "-o",
            "x.json",
            "--duration",
            "1s",
            "--",
            "true"
        ])
        .is_ok());
    }
}
