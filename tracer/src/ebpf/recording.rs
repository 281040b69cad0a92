//! A cgroup's decoded sightings turned into a recording: the clock that turns the kernel's
//! timestamps into a recording's microseconds, the compat ABI named by its architecture.

use std::time::SystemTime;

use anyhow::{Context as _, Result};
use profile_gen::{
    arch_name, sub_arches, host_info, native_arch, ExitInfo, Phase, PhaseTimes, Recording,
    ScmpArch, SyscallRecord, Target,
};

use crate::ebpf::decode::{Abi, CgroupSyscalls};

/// When a recording started, on both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    pub(crate) wall: SystemTime,
    pub(crate) monotonic_ns: u64,
    /// The phase the cgroup was watched from.
    pub(crate) phase: Phase,
}

impl Start {
    pub(crate) fn now(phase: Phase) -> Self {
        Self {
            wall: SystemTime::now(),
            monotonic_ns: monotonic_ns(),
            phase,
        }
    }

    fn micros_since(&self, ns: u64) -> u64 {
        ns.saturating_sub(self.monotonic_ns) / 1000
    }
}

/// What a recording is about, besides what the kernel saw.
pub(crate) struct Subject {
    pub(crate) command: Option<Vec<String>>,
    pub(crate) target: Option<Target>,
    pub(crate) exit: Option<ExitInfo>,
}

impl Subject {
    /// A command's recording: its arguments as text.
    pub(crate) fn command(
        argv: &[std::ffi::OsString],
        target: Option<Target>,
        exit: Option<ExitInfo>,
    ) -> Self {
        Self {
            command: Some(
                argv.iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            ),
            target,
            exit,
        }
    }
}

/// Builds the recording of one cgroup (or several merged, for a container with sub-cgroups).
pub(crate) fn build_recording(
    seen: &CgroupSyscalls,
    start: Start,
    subject: Subject,
) -> Result<Recording> {
    let arch = native_arch();
    let mut recording = Recording::new(
        arch,
        subject.command,
        start.wall,
        host_info().context("uname")?,
    );
    recording.finish(SystemTime::now(), subject.exit);
    // Commands start in the workload; containers carry their phases.
    let with_phases = subject.target.is_some();
    recording.target = subject.target;
    let compat = compat_arch(arch);
    recording.syscalls = seen
        .seen
        .iter()
        .filter_map(|(key, s)| {
            let nr = key.nr;
            let first_seen_us = start.micros_since(s.first_seen_ns);
            let mut record = match key.abi {
                Abi::Native => SyscallRecord::new(arch, nr, s.count, first_seen_us),
                Abi::Compat => {
                    let Some(compat) = compat else {
                        log::warn!(
                            "compat syscall {nr} on an architecture without a compat table: left \
                             out"
                        );
                        return None;
                    };
                    let mut record = SyscallRecord::new(compat, nr, s.count, first_seen_us);
                    record.arch = Some(arch_name(compat));
                    record
                }
            };
            if with_phases {
                record.phases = s.phases.iter().copied().collect();
            }
            record.args = s.args.clone();
            Some(record)
        })
        .collect();
    recording.out_of_range_count = seen.out_of_range;
    if with_phases {
        let at = |ns: u64| (ns != 0).then(|| start.micros_since(ns));
        recording.phases = Some(PhaseTimes {
            started_in: start.phase,
            filter_loaded_us: at(seen.filter_loaded_ns),
            entrypoint_exec_us: at(seen.exec_ns),
        });
    }
    recording.sort_syscalls();
    Ok(recording)
}

/// The 32-bit table a 64-bit kernel's compat entry serves: the first of its companion
/// architectures.
fn compat_arch(native: ScmpArch) -> Option<ScmpArch> {
    sub_arches(native).get(1).copied()
}

/// CLOCK_MONOTONIC in ns: the clock `bpf_ktime_get_ns()` stamps sightings with.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_MONOTONIC cannot fail on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compat_table_is_the_32_bit_companion() {
        assert_eq!(compat_arch(ScmpArch::X8664), Some(ScmpArch::X86));
        assert_eq!(compat_arch(ScmpArch::Aarch64), Some(ScmpArch::Arm));
        assert_eq!(compat_arch(ScmpArch::X86), None);
    }
}
