//! A recording session: the attached tracer, its log relay, and the clock that turns the
//! kernel's timestamps into a recording's microseconds.

use std::{collections::BTreeSet, time::SystemTime};

use anyhow::{Context as _, Result};
use profile_gen::{
    arch_name, host_info, native_arch, ArgsSeen, ExitInfo, Phase, PhaseTimes, Recording, ScmpArch,
    SyscallRecord, Target,
};
use tracer_common::{abi, phase, ARG_CAPTURES};

use crate::{
    ebpf::log::{spawn_log_pump, LogPump},
    ebpf::tracer::{ebpf_log_level, AttachOptions, CgroupSyscalls, Tracer, Watching},
    sys::exit::{ExitCodeExt as _, EXIT_NO_KERNEL_SUPPORT},
};

pub(crate) struct Session {
    pub(crate) tracer: Tracer,
    /// Declared after the tracer: dropped after it, so the last log lines are still relayed.
    _log_pump: Option<LogPump>,
}

impl Session {
    /// Loads the tracer for `watching`, lets `before_attach` fill its maps, then attaches it.
    pub(crate) fn start(
        watching: Watching,
        verbosity: u8,
        before_attach: impl FnOnce(&mut Tracer) -> Result<()>,
    ) -> Result<Self> {
        Self::start_with(watching, verbosity, false, before_attach)
    }

    /// [`Session::start`], also seeing failed syscalls at their exit when `failed_exits`
    /// (`run`: the calls a seccomp filter refused are seen nowhere else).
    pub(crate) fn start_with(
        watching: Watching,
        verbosity: u8,
        failed_exits: bool,
        before_attach: impl FnOnce(&mut Tracer) -> Result<()>,
    ) -> Result<Self> {
        let opts = AttachOptions {
            watching,
            log_level: ebpf_log_level(verbosity),
            names_only: false,
            failed_exits,
        };
        let (mut tracer, logger) = Tracer::load(&opts).exit_code(EXIT_NO_KERNEL_SUPPORT)?;
        let log_pump = logger.map(spawn_log_pump);
        before_attach(&mut tracer)?;
        tracer.attach().exit_code(EXIT_NO_KERNEL_SUPPORT)?;
        Ok(Self {
            tracer,
            _log_pump: log_pump,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let skipped = self.tracer.sys_enter_runs_skipped();
        log::debug!("runs of the sys_enter program the kernel skipped: {skipped:?}");
        if let Some(skipped) = skipped.filter(|&n| n > 0) {
            log::error!(
                "the kernel skipped syscage's eBPF program {skipped} times (a run nested on one \
                 CPU): those syscalls are missing from the recordings"
            );
        }
    }
}

/// When a recording started, on both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Start {
    pub(crate) wall: SystemTime,
    pub(crate) monotonic_ns: u64,
    /// The phase the cgroup was watched from (tracer_common::phase).
    pub(crate) phase: u32,
}

impl Start {
    pub(crate) fn now(phase: u32) -> Self {
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
        .filter_map(|(&(abi_index, nr), s)| {
            let first_seen_us = start.micros_since(s.first_seen_ns);
            let mut record = if abi_index == abi::NATIVE {
                SyscallRecord::new(arch, nr, s.count, first_seen_us)
            } else {
                let Some(compat) = compat else {
                    log::warn!(
                        "compat syscall {nr} on an architecture without a compat table: left out"
                    );
                    return None;
                };
                let mut record = SyscallRecord::new(compat, nr, s.count, first_seen_us);
                record.arch = Some(arch_name(compat));
                record
            };
            if with_phases {
                record.phases = phases_of(s.phases);
            }
            record.args = s
                .args
                .as_ref()
                .and_then(|(values, overflow)| args_seen(nr, values, *overflow));
            Some(record)
        })
        .collect();
    recording.out_of_range_count = seen.out_of_range;
    if with_phases {
        let at = |ns: u64| (ns != 0).then(|| start.micros_since(ns));
        recording.phases = Some(PhaseTimes {
            started_in: phase_name(start.phase),
            filter_loaded_us: at(seen.filter_loaded_ns),
            entrypoint_exec_us: at(seen.exec_ns),
        });
    }
    recording.sort_syscalls();
    Ok(recording)
}

/// The 32-bit table a 64-bit kernel also serves (libseccomp's sub-architecture names).
fn compat_arch(native: ScmpArch) -> Option<ScmpArch> {
    match native {
        ScmpArch::X8664 => Some(ScmpArch::X86),
        ScmpArch::Aarch64 => Some(ScmpArch::Arm),
        _ => None,
    }
}

/// Unpacks the tracer's argument values (see tracer_common::ArgCapture) into tuples.
fn args_seen(nr: u32, packed: &BTreeSet<u64>, overflow: bool) -> Option<ArgsSeen> {
    let capture = ARG_CAPTURES.iter().find(|c| c.x86_64_nr == nr)?;
    let values = packed
        .iter()
        .map(|&v| match capture.arity {
            2 => vec![v >> 32, v & 0xffff_ffff],
            _ => vec![v],
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Some(ArgsSeen {
        indexes: capture.arg_indexes().to_vec(),
        values,
        overflow,
    })
}

fn phases_of(bits: u8) -> Vec<Phase> {
    (0..phase::COUNT as u32)
        .filter(|p| bits & (1 << p) != 0)
        .map(phase_name)
        .collect()
}

fn phase_name(p: u32) -> Phase {
    match p {
        phase::RUNTIME_SETUP => Phase::RuntimeSetup,
        phase::RUNTIME_AFTER_FILTER => Phase::RuntimeAfterFilter,
        _ => Phase::Workload,
    }
}

/// CLOCK_MONOTONIC in ns: the clock `bpf_ktime_get_ns()` stamps sightings with.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_MONOTONIC cannot fail on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
