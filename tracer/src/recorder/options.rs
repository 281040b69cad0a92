//! What the user asked of a recording (`record`'s flags, whatever is recorded), and the checks
//! that follow from them.

use std::{path::PathBuf, time::Duration};

use anyhow::Result;

use crate::{
    ebpf::decode::CgroupSyscalls,
    recorder::workloads::WorkloadFilter,
    sys::exit::{ExitCodeExt as _, EXIT_NO_TARGET},
};

pub(crate) struct RecordOptions {
    /// `--output`: the profile.
    pub(crate) output: Option<PathBuf>,
    /// `--recording`.
    pub(crate) recording: Option<PathBuf>,
    pub(crate) duration: Option<Duration>,
    pub(crate) allow_empty: bool,
    /// `--ready-file` (with `--all`).
    pub(crate) ready_file: Option<PathBuf>,
    pub(crate) verbosity: u8,
    pub(crate) quiet: bool,
    /// `--namespace`, `--workload` (`--all` only).
    pub(crate) workloads: WorkloadFilter,
}

impl RecordOptions {
    pub(crate) fn required_output(&self) -> Result<PathBuf> {
        self.output.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "record: --output FILE is required (only --all writes into --output-dir)"
            )
        })
    }

    /// A recording without a single syscall says nothing about the workload; its profile would
    /// only break it. Refused unless `--allow-empty`.
    pub(crate) fn refuse_empty(&self, seen: &CgroupSyscalls, label: &str) -> Result<()> {
        if seen.seen.is_empty() && seen.out_of_range == 0 && !self.allow_empty {
            return Err(anyhow::anyhow!(
                "{label}: no syscall was recorded (no process ran in the cgroup while recording): \
                 no profile written; pass --allow-empty to write one anyway"
            ))
            .exit_code(EXIT_NO_TARGET);
        }
        Ok(())
    }
}
