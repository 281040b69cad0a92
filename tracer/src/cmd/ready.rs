//! `syscage ready`: the node agent's readiness probe (the image has no shell for `test -f`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::sys::ready_file::is_ready;

/// Exit status of `ready` when the agent is not recording (yet).
pub(crate) const EXIT_NOT_READY: u8 = 1;

/// Say whether `record --all --ready-file FILE` is recording: exit 0 while FILE exists, 1
/// otherwise. Made for a Kubernetes exec readinessProbe in the node agent's image.
#[derive(Debug, Args)]
#[command(after_help = "Example (the DaemonSet's probe):\n  \
    syscage ready /run/syscage/ready")]
pub(crate) struct ReadyArgs {
    /// The file `record --ready-file` creates.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
}

pub(crate) fn run(args: ReadyArgs, quiet: bool) -> Result<u8> {
    if is_ready(&args.file) {
        return Ok(0);
    }
    if !quiet {
        eprintln!(
            "syscage: not ready: {} does not exist (record --all has not started recording)",
            args.file.display()
        );
    }
    Ok(EXIT_NOT_READY)
}
