//! Command-line interface: one Args struct per subcommand; the doc comments are the help text.

use std::{ffi::OsString, path::PathBuf};

use clap::{ArgAction, Args, Parser, Subcommand};

const EXIT_STATUS_HELP: &str = "\
Exit status:
  record and run exit with the command's own status (128+N if signal N ended it).
  1    diff: --fail-on tripped (generate, diff and merge otherwise exit 0 on success)
  125  syscage itself failed (bad arguments or input, missing privileges, kernel support)
  126  the command could not be executed
  127  the command was not found";

/// Record the system calls a workload really makes (with eBPF) and turn them into the
/// tightest seccomp profile that still runs it.
#[derive(Debug, Parser)]
#[command(name = "syscage", version, after_help = EXIT_STATUS_HELP)]
pub(crate) struct Cli {
    /// Say more about what syscage does (-v: the steps, and the eBPF program's own log lines,
    /// such as each syscall's first sighting; -vv: details; -vvv: the libraries' debug output).
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
}

/// Run a command in a fresh cgroup while recording every syscall it and its children make,
/// then write a seccomp profile that allows exactly those.
///
/// The eBPF recorder is attached and the cgroup watched before the command starts, so its first
/// syscall after exec is seen; threads, children and grandchildren inherit the cgroup and are
/// recorded too. The command's stdin/stdout/stderr pass through and its exit status becomes
/// syscage's. SIGTERM/SIGINT sent to syscage are passed on to the command, and the profile is
/// still written when it ends that way. Needs root (loading eBPF, creating a cgroup).
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  sudo syscage record --output app.json -- ./my-server --port 8080\n  \
    sudo syscage run --profile app.json -- ./my-server --port 8080"
)]
pub(crate) struct RecordArgs {
    /// Where to write the seccomp profile (OCI runtime-spec JSON, usable as a Kubernetes
    /// Localhost profile).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: PathBuf,

    /// Where to write the recording (the raw facts: every syscall with number, name, count and
    /// first appearance; command; times; kernel). Default: next to the profile, `NAME.recording.json`.
    #[arg(long, value_name = "FILE")]
    pub(crate) recording: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) user: UserArg,

    /// The command to record, with its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

/// Run a command under a seccomp profile, to check a profile before shipping it.
///
/// The profile is validated (actions, architectures, syscall names), compiled with libseccomp
/// and loaded in the child with no_new_privs set, right before it executes the command, the way
/// an OCI runtime applies it. A syscall the profile does not allow fails with the profile's
/// errno (EPERM for profiles syscage writes).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  syscage run --profile app.json -- ./my-server --port 8080")]
pub(crate) struct RunArgs {
    /// The seccomp profile (OCI runtime-spec JSON).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) profile: PathBuf,

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
