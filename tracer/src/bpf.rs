//! Loads syscage's eBPF object, attaches it to `sys_enter`, and reads what it recorded.
//!
//! The object is built by `build.rs` from the `tracer-ebpf` crate and embedded in the binary, so
//! the single `syscage` file is all a user installs.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, Context as _, Result};
use aya::{
    maps::{HashMap, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues},
    programs::RawTracePoint,
    util::nr_cpus,
    Ebpf, EbpfLoader,
};
use tracer_common::{
    abi, phase, CgroupKey, SyscallCounts, SyscallSet, ARG_CAPTURES, COUNTS_MAP,
    COUNTS_TEMPLATE_MAP, EXEC_PROGRAM_NAME, EXEC_TRACEPOINT, MAX_SYSCALLS, NAMES_ONLY_GLOBAL,
    PROGRAM_NAME, SET_TEMPLATE_MAP, STATS_MAP, STAT_WATCH_FULL, TRACEPOINT, WATCHED_MAP,
    WATCH_NEW_GLOBAL,
};

/// The compiled eBPF object. aya needs it 8-byte aligned to parse it in place.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/syscage-ebpf"));

/// What the kernel side saw for one cgroup.
#[derive(Debug, Default, Clone)]
pub(crate) struct CgroupSyscalls {
    /// By (ABI, number): tracer_common::abi::NATIVE or COMPAT.
    pub(crate) seen: BTreeMap<(usize, u32), SeenSyscall>,
    pub(crate) out_of_range: u64,
    /// The cgroup's phase now (see tracer_common::phase).
    pub(crate) phase: u32,
    /// CLOCK_MONOTONIC ns of the seccomp filter load and the entrypoint exec (0: not seen).
    pub(crate) filter_loaded_ns: u64,
    pub(crate) exec_ns: u64,
}

impl CgroupSyscalls {
    /// Adds another cgroup's sightings (a container's sub-cgroup) to these.
    pub(crate) fn absorb(&mut self, other: &Self) {
        for (&key, s) in &other.seen {
            match self.seen.entry(key) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(s.clone());
                }
                std::collections::btree_map::Entry::Occupied(slot) => {
                    let mine = slot.into_mut();
                    mine.count += s.count;
                    mine.first_seen_ns = mine.first_seen_ns.min(s.first_seen_ns);
                    mine.phases |= s.phases;
                    match (&mut mine.args, &s.args) {
                        (Some((values, overflow)), Some((more, more_overflow))) => {
                            values.extend(more.iter().copied());
                            *overflow |= *more_overflow;
                        }
                        (mine_args @ None, Some(theirs)) => *mine_args = Some(theirs.clone()),
                        (_, None) => {}
                    }
                }
            }
        }
        self.out_of_range += other.out_of_range;
        self.phase = self.phase.max(other.phase);
        let earliest = |a: u64, b: u64| match (a, b) {
            (0, x) | (x, 0) => x,
            (a, b) => a.min(b),
        };
        self.filter_loaded_ns = earliest(self.filter_loaded_ns, other.filter_loaded_ns);
        self.exec_ns = earliest(self.exec_ns, other.exec_ns);
    }
}

/// One syscall number of a cgroup.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SeenSyscall {
    pub(crate) count: u64,
    /// CLOCK_MONOTONIC ns of the first sighting.
    pub(crate) first_seen_ns: u64,
    /// Bit `p` set: seen in phase `p`.
    pub(crate) phases: u8,
    /// For captured syscalls (tracer_common::ARG_CAPTURES): the distinct packed values seen on
    /// all CPUs, and whether any CPU ran out of room for them.
    pub(crate) args: Option<(BTreeSet<u64>, bool)>,
}

/// The union over CPUs of the argument values captured for native syscall `nr`, if it is one
/// whose arguments are captured on this architecture.
fn captured_args(
    per_cpu: &PerCpuValues<SyscallCounts>,
    nr: usize,
) -> Option<(BTreeSet<u64>, bool)> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let slot = ARG_CAPTURES
        .iter()
        .position(|c| c.x86_64_nr as usize == nr)?;
    let mut values = BTreeSet::new();
    let mut overflow = false;
    for cpu in per_cpu.iter() {
        let captured = &cpu.args[slot];
        let len = (captured.len as usize).min(captured.values.len());
        values.extend(captured.values[..len].iter().copied());
        overflow |= captured.overflow != 0;
    }
    Some((values, overflow))
}

/// How to load the program.
pub(crate) struct AttachOptions {
    /// Capacity of the per-cgroup maps.
    pub(crate) max_watched: u32,
    /// aya-log level for the eBPF side ([`ebpf_log_level`]).
    pub(crate) log_level: u8,
    /// Start watching every cgroup the program has not seen yet (`record --all`).
    pub(crate) watch_new: bool,
    /// Record names only: no ABI check, no argument capture (the benchmark's baseline).
    pub(crate) names_only: bool,
}

/// The loaded and attached program with its maps. Dropping it detaches the program and frees
/// the maps (aya closes the link and map fds).
pub(crate) struct Tracer {
    /// Owns the programs and their links (and the log ring buffer); maps are taken out below.
    ebpf: Ebpf,
    watched: HashMap<MapData, CgroupKey, SyscallSet>,
    counts: PerCpuHashMap<MapData, CgroupKey, SyscallCounts>,
    stats: PerCpuArray<MapData, u64>,
    nr_cpus: usize,
}

/// aya-log level for the eBPF side's messages (`AYA_LOG_LEVEL`): 0 keeps it silent so that no
/// ring-buffer write happens at all unless the user asked for `-v`.
pub(crate) fn ebpf_log_level(verbosity: u8) -> u8 {
    // aya-log-common's `Level` is Error = 1, Warn, Info = 3, Debug, Trace = 5.
    const INFO: u8 = 3;
    if verbosity >= 1 {
        INFO
    } else {
        0
    }
}

impl Tracer {
    /// Loads the object and its programs into the kernel without attaching them (see
    /// [`Tracer::attach`]): maps can be filled before anything is recorded. The logger is
    /// returned when `log_level > 0`; its lines must be pumped by the caller.
    pub(crate) fn load(
        opts: &AttachOptions,
    ) -> Result<(Self, Option<aya_log::EbpfLogger<&'static dyn log::Log>>)> {
        let watch_new = u8::from(opts.watch_new);
        let names_only = u8::from(opts.names_only);
        let mut ebpf = EbpfLoader::new()
            .map_max_entries(WATCHED_MAP, opts.max_watched)
            .map_max_entries(COUNTS_MAP, opts.max_watched)
            .override_global("AYA_LOG_LEVEL", &opts.log_level, true)
            .override_global(WATCH_NEW_GLOBAL, &watch_new, true)
            .override_global(NAMES_ONLY_GLOBAL, &names_only, true)
            .load(EBPF_OBJECT)
            .map_err(|e| anyhow!("loading the eBPF object into the kernel: {e:#}"))?;

        let logger = if opts.log_level > 0 {
            match aya_log::EbpfLogger::init(&mut ebpf) {
                Ok(logger) => Some(logger),
                Err(e) => {
                    log::warn!("eBPF log messages unavailable: {e}");
                    None
                }
            }
        } else {
            None
        };

        for name in [EXEC_PROGRAM_NAME, PROGRAM_NAME] {
            load_program(&mut ebpf, name)?;
        }
        let watched = HashMap::try_from(
            ebpf.take_map(WATCHED_MAP)
                .with_context(|| format!("eBPF object has no map {WATCHED_MAP}"))?,
        )?;
        let counts = PerCpuHashMap::try_from(
            ebpf.take_map(COUNTS_MAP)
                .with_context(|| format!("eBPF object has no map {COUNTS_MAP}"))?,
        )?;
        let stats = PerCpuArray::try_from(
            ebpf.take_map(STATS_MAP)
                .with_context(|| format!("eBPF object has no map {STATS_MAP}"))?,
        )?;
        for template in [SET_TEMPLATE_MAP, COUNTS_TEMPLATE_MAP] {
            anyhow::ensure!(
                ebpf.map(template).is_some(),
                "eBPF object has no map {template}"
            );
        }
        let nr_cpus = nr_cpus().map_err(|(path, e)| anyhow!("reading {path}: {e}"))?;
        Ok((
            Self {
                ebpf,
                watched,
                counts,
                stats,
                nr_cpus,
            },
            logger,
        ))
    }

    /// Attaches the programs: recording starts.
    pub(crate) fn attach(&mut self) -> Result<()> {
        // The exec marker goes first so that no exec can slip between the two attachments.
        for (name, tracepoint) in [
            (EXEC_PROGRAM_NAME, EXEC_TRACEPOINT),
            (PROGRAM_NAME, TRACEPOINT),
        ] {
            attach_program(&mut self.ebpf, name, tracepoint)?;
        }
        Ok(())
    }

    /// Starts recording a cgroup in `start_phase`: creates its zeroed entries so the eBPF side
    /// only ever writes.
    pub(crate) fn watch(&mut self, cgroup_id: u64, start_phase: u32) -> Result<()> {
        let key = CgroupKey { cgroup_id };
        let zeroed = PerCpuValues::try_from(vec![SyscallCounts::ZERO; self.nr_cpus])?;
        self.counts
            .insert(key, zeroed, 0)
            .with_context(|| format!("adding cgroup {cgroup_id} to map {COUNTS_MAP}"))?;
        // The set goes in last: it is what turns recording on for the cgroup.
        self.watched
            .insert(key, SyscallSet::starting_in(start_phase), 0)
            .with_context(|| format!("adding cgroup {cgroup_id} to map {WATCHED_MAP}"))?;
        log::debug!("watching cgroup id {cgroup_id}");
        Ok(())
    }

    /// Reads what a watched cgroup did so far.
    pub(crate) fn read(&self, cgroup_id: u64) -> Result<CgroupSyscalls> {
        let key = CgroupKey { cgroup_id };
        let set = self
            .watched
            .get(&key, 0)
            .with_context(|| format!("reading cgroup {cgroup_id} from map {WATCHED_MAP}"))?;
        let per_cpu = self
            .counts
            .get(&key, 0)
            .with_context(|| format!("reading cgroup {cgroup_id} from map {COUNTS_MAP}"))?;
        let mut out = CgroupSyscalls {
            phase: set.phase,
            filter_loaded_ns: set.filter_loaded_ns,
            exec_ns: set.exec_ns,
            ..Default::default()
        };
        for cpu in per_cpu.iter() {
            out.out_of_range += cpu.out_of_range;
        }
        for (abi_index, (tables, first_seen)) in set.seen.iter().zip(&set.first_seen_ns).enumerate()
        {
            for nr in 0..MAX_SYSCALLS {
                let mut phases = 0u8;
                for (p, seen) in tables.iter().enumerate() {
                    if seen[nr] != 0 {
                        phases |= 1 << p;
                    }
                }
                if phases == 0 {
                    continue;
                }
                let count: u64 = per_cpu.iter().map(|cpu| cpu.count[abi_index][nr]).sum();
                let args = (abi_index == abi::NATIVE)
                    .then(|| captured_args(&per_cpu, nr))
                    .flatten();
                out.seen.insert(
                    (abi_index, nr as u32),
                    SeenSyscall {
                        count,
                        first_seen_ns: first_seen[nr],
                        phases,
                        args,
                    },
                );
            }
        }
        Ok(out)
    }

    /// The ids of every cgroup in the map (those `--all` started watching on its own too).
    pub(crate) fn watched_ids(&self) -> Vec<u64> {
        self.watched
            .keys()
            .filter_map(Result::ok)
            .map(|k| k.cgroup_id)
            .collect()
    }

    /// Stops recording a cgroup but keeps it in the map, so that `--all` does not insert it again
    /// on its next syscall.
    pub(crate) fn ignore(&mut self, cgroup_id: u64) {
        let key = CgroupKey { cgroup_id };
        if let Err(e) = self
            .watched
            .insert(key, SyscallSet::starting_in(phase::IGNORED), 0)
        {
            log::warn!("marking cgroup {cgroup_id} ignored in map {WATCHED_MAP}: {e}");
        }
    }

    /// How many syscalls `--all` could not record because their cgroup did not fit in the maps.
    pub(crate) fn syscalls_lost_to_full_maps(&self) -> u64 {
        self.stats
            .get(&STAT_WATCH_FULL, 0)
            .map_or(0, |per_cpu| per_cpu.iter().sum())
    }

    /// Stops recording a cgroup and frees its entries.
    pub(crate) fn unwatch(&mut self, cgroup_id: u64) {
        let key = CgroupKey { cgroup_id };
        // The set goes first: recording stops before the counters disappear.
        if let Err(e) = self.watched.remove(&key) {
            log::warn!("removing cgroup {cgroup_id} from map {WATCHED_MAP}: {e}");
        }
        if let Err(e) = self.counts.remove(&key) {
            log::warn!("removing cgroup {cgroup_id} from map {COUNTS_MAP}: {e}");
        }
    }
}

/// Loads the object and attaches only the program `name`, one of the cost floors in
/// `tracer-ebpf/src/empty.rs`, to the recorder's raw tracepoint, for `cargo xtask bench`. The
/// returned object holds the link; dropping it detaches the program.
pub(crate) fn attach_floor(name: &str) -> Result<Ebpf> {
    let mut ebpf = EbpfLoader::new()
        .load(EBPF_OBJECT)
        .map_err(|e| anyhow!("loading the eBPF object into the kernel: {e:#}"))?;
    load_program(&mut ebpf, name)?;
    attach_program(&mut ebpf, name, TRACEPOINT)?;
    Ok(ebpf)
}

fn raw_tracepoint<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut RawTracePoint> {
    Ok(ebpf
        .program_mut(name)
        .with_context(|| format!("eBPF object has no program {name}"))?
        .try_into()?)
}

/// Loads one program into the kernel. A verifier rejection carries the verifier's log in the
/// error's Display, so it is shown.
fn load_program(ebpf: &mut Ebpf, name: &str) -> Result<()> {
    raw_tracepoint(ebpf, name)?
        .load()
        .map_err(|e| anyhow!("the kernel refused the eBPF program {name}: {e:#}"))
}

fn attach_program(ebpf: &mut Ebpf, name: &str, tracepoint: &str) -> Result<()> {
    raw_tracepoint(ebpf, name)?
        .attach(tracepoint)
        .map_err(|e| anyhow!("attaching {name} to raw tracepoint {tracepoint}: {e:#}"))?;
    log::info!("attached {name} to raw tracepoint {tracepoint}");
    Ok(())
}
