//! The maps' raw values decoded, once, into typed ones: which syscall under which ABI, in which
//! phases, how often, with which argument values.

use std::collections::{btree_map::Entry, BTreeMap, BTreeSet};

use aya::maps::PerCpuValues;
use profile_gen::{ArgsSeen, Phase};
use tracer_common::{abi, phase, SyscallCounts, SyscallSet, ARG_CAPTURES, MAX_SYSCALLS};

use crate::ebpf::security::SecuritySightings;

/// The syscall table a call went through. Numbers are per ABI: i386's 20 is `getpid`, x86_64's
/// 20 is `writev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Abi {
    /// The kernel's own ABI (x86_64, aarch64, ...).
    Native,
    /// The 32-bit compat ABI (ia32 processes on x86_64).
    Compat,
}

impl Abi {
    /// In the order of the maps' per-ABI tables.
    const ALL: [Self; abi::COUNT] = [Self::Native, Self::Compat];

    /// The index of this ABI's tables in the maps.
    fn index(self) -> usize {
        match self {
            Self::Native => abi::NATIVE,
            Self::Compat => abi::COMPAT,
        }
    }
}

/// A syscall as the kernel numbered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SyscallKey {
    pub(crate) abi: Abi,
    pub(crate) nr: u32,
}

/// The maps' number for `phase` (tracer_common::phase).
pub(crate) fn phase_number(phase: Phase) -> u32 {
    match phase {
        Phase::RuntimeSetup => phase::RUNTIME_SETUP,
        Phase::RuntimeAfterFilter => phase::RUNTIME_AFTER_FILTER,
        Phase::Workload => phase::WORKLOAD,
    }
}

/// The phases in the order of the maps' per-phase tables.
const PHASES: [Phase; phase::COUNT] = [
    Phase::RuntimeSetup,
    Phase::RuntimeAfterFilter,
    Phase::Workload,
];

/// What the kernel side saw for one cgroup.
#[derive(Debug, Default, Clone)]
pub(crate) struct CgroupSyscalls {
    pub(crate) seen: BTreeMap<SyscallKey, SeenSyscall>,
    pub(crate) out_of_range: u64,
    /// CLOCK_MONOTONIC ns of the seccomp filter load and the entrypoint exec (0: not seen).
    pub(crate) filter_loaded_ns: u64,
    pub(crate) exec_ns: u64,
    /// What the security programs saw (capabilities, ids, root writes, privilege gain).
    pub(crate) security: SecuritySightings,
}

/// One syscall of a cgroup.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SeenSyscall {
    pub(crate) count: u64,
    /// CLOCK_MONOTONIC ns of the first sighting.
    pub(crate) first_seen_ns: u64,
    pub(crate) phases: BTreeSet<Phase>,
    /// For captured syscalls (tracer_common::ARG_CAPTURES): the distinct values seen on all
    /// CPUs, and whether any CPU ran out of room for them.
    pub(crate) args: Option<ArgsSeen>,
}

impl CgroupSyscalls {
    /// Decodes one cgroup's map values: its set and every CPU's counters.
    pub(crate) fn from_maps(set: &SyscallSet, per_cpu: &PerCpuValues<SyscallCounts>) -> Self {
        let mut out = Self {
            filter_loaded_ns: set.filter_loaded_ns,
            exec_ns: set.exec_ns,
            out_of_range: per_cpu.iter().map(|cpu| cpu.out_of_range).sum(),
            ..Default::default()
        };
        let mut args = captured_args(per_cpu);
        for abi in Abi::ALL {
            let tables = &set.seen[abi.index()];
            let first_seen = &set.first_seen_ns[abi.index()];
            for nr in 0..MAX_SYSCALLS {
                let phases: BTreeSet<Phase> = PHASES
                    .into_iter()
                    .zip(tables)
                    .filter(|(_, seen)| seen[nr] != 0)
                    .map(|(phase, _)| phase)
                    .collect();
                if phases.is_empty() {
                    continue;
                }
                let nr = nr as u32;
                let count = per_cpu
                    .iter()
                    .map(|cpu| cpu.count[abi.index()][nr as usize])
                    .sum();
                let args = match abi {
                    Abi::Native => args.remove(&nr),
                    Abi::Compat => None,
                };
                out.seen.insert(
                    SyscallKey { abi, nr },
                    SeenSyscall {
                        count,
                        first_seen_ns: first_seen[nr as usize],
                        phases,
                        args,
                    },
                );
            }
        }
        out
    }

    /// Adds another cgroup's sightings (a container's sub-cgroup) to these.
    pub(crate) fn absorb(&mut self, other: &Self) {
        for (&key, s) in &other.seen {
            match self.seen.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(s.clone());
                }
                Entry::Occupied(slot) => {
                    let mine = slot.into_mut();
                    mine.count += s.count;
                    mine.first_seen_ns = mine.first_seen_ns.min(s.first_seen_ns);
                    mine.phases.extend(&s.phases);
                    match (&mut mine.args, &s.args) {
                        (Some(mine), Some(theirs)) => unite_args(mine, theirs),
                        (mine @ None, Some(theirs)) => *mine = Some(theirs.clone()),
                        (_, None) => {}
                    }
                }
            }
        }
        self.out_of_range += other.out_of_range;
        let earliest = |a: u64, b: u64| match (a, b) {
            (0, x) | (x, 0) => x,
            (a, b) => a.min(b),
        };
        self.filter_loaded_ns = earliest(self.filter_loaded_ns, other.filter_loaded_ns);
        self.exec_ns = earliest(self.exec_ns, other.exec_ns);
        self.security.absorb(&other.security);
    }
}

/// The argument values captured on all CPUs, by native syscall number: one entry per
/// [`ARG_CAPTURES`] slot, unpacked into tuples (see tracer_common::ArgCapture). Its numbers are
/// x86_64's: elsewhere nothing is captured.
fn captured_args(per_cpu: &PerCpuValues<SyscallCounts>) -> BTreeMap<u32, ArgsSeen> {
    if !cfg!(target_arch = "x86_64") {
        return BTreeMap::new();
    }
    ARG_CAPTURES
        .iter()
        .enumerate()
        .map(|(slot, capture)| {
            let mut packed = BTreeSet::new();
            let mut overflow = false;
            for cpu in per_cpu.iter() {
                let captured = &cpu.args[slot];
                let len = (captured.len as usize).min(captured.values.len());
                packed.extend(captured.values[..len].iter().copied());
                overflow |= captured.overflow != 0;
            }
            let values: BTreeSet<Vec<u64>> = packed
                .into_iter()
                .map(|v| match capture.arity {
                    2 => vec![v >> 32, v & 0xffff_ffff],
                    _ => vec![v],
                })
                .collect();
            let args = ArgsSeen {
                indexes: capture.arg_indexes().to_vec(),
                values: values.into_iter().collect(),
                overflow,
            };
            (capture.x86_64_nr, args)
        })
        .collect()
}

/// Adds `theirs`' values to `mine`'s (both of the same syscall, so of the same indexes).
fn unite_args(mine: &mut ArgsSeen, theirs: &ArgsSeen) {
    let values: BTreeSet<Vec<u64>> = mine
        .values
        .drain(..)
        .chain(theirs.values.iter().cloned())
        .collect();
    mine.values = values.into_iter().collect();
    mine.overflow |= theirs.overflow;
}
