//! Loads syscage's eBPF object, attaches it to `sys_enter`, and reads what it recorded.
//!
//! The object is built by `build.rs` from the `tracer-ebpf` crate and embedded in the binary, so
//! the single `syscage` file is all a user installs.

use std::path::Path;

use anyhow::{anyhow, Context as _, Result};
use aya::{
    maps::{Array, HashMap, MapData, PerCpuArray, PerCpuValues, Queue},
    programs::Program,
    util::nr_cpus,
    Btf, Ebpf, EbpfLoader, Endianness,
};
use tracer_common::security::{SecurityOffsets, NOAUDIT_RANGES_GLOBAL, SECURITY_OFFSETS_GLOBAL};
use tracer_common::{
    phase, CgroupKey, KernelOffsets, SlotIds, SyscallCounts, SyscallSet, CGROUP_MOVE_PROGRAM_NAME,
    CGROUP_MOVE_TRACEPOINT, CGROUP_SLOTS_MAP, EXEC_PROGRAM_NAME, EXEC_TRACEPOINT,
    FORK_PROGRAM_NAME, FORK_TRACEPOINT, FREE_SLOTS_MAP, KERNEL_OFFSETS_GLOBAL, MAX_SLOTS,
    NAMES_ONLY_GLOBAL, NO_SLOT, PROGRAM_NAME, SLOT_COUNTS_MAP, SLOT_IDS_GLOBAL, SLOT_IGNORED,
    SLOT_SETS_MAP, STATS_MAP, STAT_WATCH_FULL, TRACEPOINT, WATCH_NEW_GLOBAL,
};

use profile_gen::Phase;

use crate::ebpf::{
    decode::{phase_number, CgroupSyscalls},
    kernel_btf::{typedef_stand_in, KernelBtf, VMLINUX_BTF},
    log::init_ebpf_logger,
    security::{self, SecurityMaps},
};

/// The compiled eBPF object. aya needs it 8-byte aligned to parse it in place.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/syscage-ebpf"));

/// Which cgroups the program records.
pub(crate) enum Watching {
    /// These cgroups (at most [`MAX_SLOTS`]), each from the given phase.
    /// They are fixed when the program is loaded.
    Cgroups(Vec<(u64, Phase)>),
    /// Every cgroup the program meets (`record --all`), up to this many at once.
    All { max_cgroups: u32 },
}

/// How to load the program.
pub(crate) struct AttachOptions {
    pub(crate) watching: Watching,
    /// aya-log level for the eBPF side ([`crate::ebpf::log::ebpf_log_level`]).
    pub(crate) log_level: u8,
    /// Record names only: no ABI check, no argument capture (the benchmark's baseline).
    pub(crate) names_only: bool,
    /// Also record syscalls at their exit when they failed (`run`): the only place where the
    /// calls a seccomp filter refused can be seen, as seccomp runs before `sys_enter`.
    pub(crate) failed_exits: bool,
}

/// The program that sees failed syscalls at their exit (see [`AttachOptions::failed_exits`]).
const FAILED_EXIT_PROGRAM: (&str, &str) = ("syscage_sys_exit", "sys_exit");

/// Where the program keeps what it records, per the mode it was loaded in.
/// (One per process: the size difference between the variants does not matter.)
#[allow(clippy::large_enum_variant)]
enum Watches {
    /// Every mode but `--all`: a few cgroups, each in the slot it was given at load time.
    Slots {
        ids: SlotIds,
        sets: Array<MapData, SyscallSet>,
        counts: PerCpuArray<MapData, SyscallCounts>,
    },
    /// `record --all`: any number of cgroups, which the program gives slots itself.
    Hashed {
        /// cgroup id -> slot, or'ed with `SLOT_IGNORED` when not recorded.
        slot_of: HashMap<MapData, CgroupKey, u32>,
        /// The slots no cgroup holds.
        free: Queue<MapData, u32>,
        sets: Array<MapData, SyscallSet>,
        counts: PerCpuArray<MapData, SyscallCounts>,
    },
}

/// The recorder's programs and their tracepoints, in attach order: the recorder goes last, so
/// that no exec, fork or cgroup move it depends on can slip by unseen. Whether each is a plain
/// or a BTF-typed raw tracepoint program is in the object (its ELF section).
const PROGRAMS: [(&str, &str); 4] = [
    (EXEC_PROGRAM_NAME, EXEC_TRACEPOINT),
    (FORK_PROGRAM_NAME, FORK_TRACEPOINT),
    (CGROUP_MOVE_PROGRAM_NAME, CGROUP_MOVE_TRACEPOINT),
    (PROGRAM_NAME, TRACEPOINT),
];

/// The loaded and attached program with its maps. Dropping it detaches the program and frees
/// the maps (aya closes the link and map fds).
pub(crate) struct Tracer {
    /// Owns the programs and their links (and the log ring buffer); maps are taken out below.
    ebpf: Ebpf,
    watches: Watches,
    stats: PerCpuArray<MapData, u64>,
    nr_cpus: usize,
    /// [`AttachOptions::failed_exits`].
    failed_exits: bool,
    /// The security programs' maps, when the kernel took those programs.
    security: Option<SecurityMaps>,
}

/// What loading the programs takes from the running kernel's BTF.
struct KernelFacts {
    /// The offsets of the fields the program reads.
    offsets: KernelOffsets,
    /// What aya looks the `sys_enter` tracepoint's BTF id up in (see [`typedef_stand_in`]).
    sys_enter_btf: Btf,
    /// The offsets the security programs read.
    security_offsets: SecurityOffsets,
}

impl KernelFacts {
    fn read() -> Result<Self> {
        let started = std::time::Instant::now();
        let kernel_btf = KernelBtf::read(Path::new(VMLINUX_BTF))?;
        let offsets = kernel_btf.kernel_offsets()?;
        let security_offsets = kernel_btf.security_offsets()?;
        let sys_enter_id = kernel_btf.raw_tracepoint_type_id(TRACEPOINT)?;
        let typedef = format!("btf_trace_{TRACEPOINT}");
        let sys_enter_btf = Btf::parse(
            &typedef_stand_in(sys_enter_id, &typedef),
            Endianness::default(),
        )
        .map_err(|e| anyhow!("building the BTF stand-in for {typedef}: {e}"))?;
        log::debug!(
            "kernel field offsets {offsets:?}, {typedef} is BTF type {sys_enter_id}; read in {:?}",
            started.elapsed()
        );
        Ok(Self {
            offsets,
            sys_enter_btf,
            security_offsets,
        })
    }
}

/// Takes map `name` out of the object as a typed map.
fn take_map<M>(ebpf: &mut Ebpf, name: &str) -> Result<M>
where
    M: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .with_context(|| format!("eBPF object has no map {name}"))?;
    M::try_from(map).with_context(|| format!("eBPF map {name} has an unexpected type"))
}

/// How the maps are sized and the program configured for a [`Watching`].
struct MapLayout {
    /// 1: the program inserts the cgroups it meets (`--all`).
    watch_new: u8,
    slot_ids: SlotIds,
    /// Entries of the slot maps and of the hashed maps. The maps of the mode not taken keep one
    /// entry: the kernel refuses empty maps.
    slots: u32,
    hashed: u32,
}

impl MapLayout {
    fn of(watching: &Watching) -> Result<Self> {
        Ok(match watching {
            Watching::Cgroups(cgroups) => {
                let ids: Vec<u64> = cgroups.iter().map(|&(id, _)| id).collect();
                let slot_ids = SlotIds::new(&ids).with_context(|| {
                    format!(
                        "syscage watches at most {MAX_SLOTS} cgroups at once outside --all \
                         ({} asked)",
                        ids.len()
                    )
                })?;
                Self {
                    watch_new: 0,
                    slot_ids,
                    slots: cgroups.len().max(1) as u32,
                    hashed: 1,
                }
            }
            Watching::All { max_cgroups } => Self {
                watch_new: 1,
                slot_ids: SlotIds::EMPTY,
                slots: (*max_cgroups).max(1),
                hashed: (*max_cgroups).max(1),
            },
        })
    }
}

impl Watches {
    /// Takes the slot maps and sets up each cgroup's slot, in the order of `cgroups`.
    fn slots(
        ebpf: &mut Ebpf,
        ids: SlotIds,
        cgroups: &[(u64, Phase)],
        nr_cpus: usize,
    ) -> Result<Self> {
        let mut sets: Array<MapData, SyscallSet> = take_map(ebpf, SLOT_SETS_MAP)?;
        let mut counts: PerCpuArray<MapData, SyscallCounts> = take_map(ebpf, SLOT_COUNTS_MAP)?;
        for (slot, &(cgroup_id, start_phase)) in (0u32..).zip(cgroups) {
            let zeroed = PerCpuValues::try_from(vec![SyscallCounts::ZERO; nr_cpus])?;
            counts
                .set(slot, zeroed, 0)
                .with_context(|| format!("setting up slot {slot} of {SLOT_COUNTS_MAP}"))?;
            sets.set(slot, SyscallSet::starting_in(phase_number(start_phase)), 0)
                .with_context(|| format!("setting up slot {slot} of {SLOT_SETS_MAP}"))?;
            log::debug!("watching cgroup id {cgroup_id} in slot {slot}");
        }
        Ok(Self::Slots { ids, sets, counts })
    }

    /// Takes the maps of `--all` and puts every slot in the free queue.
    fn hashed(ebpf: &mut Ebpf, slots: u32) -> Result<Self> {
        let mut free: Queue<MapData, u32> = take_map(ebpf, FREE_SLOTS_MAP)?;
        for slot in 0..slots {
            free.push(slot, 0)
                .with_context(|| format!("adding slot {slot} to map {FREE_SLOTS_MAP}"))?;
        }
        Ok(Self::Hashed {
            slot_of: take_map(ebpf, CGROUP_SLOTS_MAP)?,
            free,
            sets: take_map(ebpf, SLOT_SETS_MAP)?,
            counts: take_map(ebpf, SLOT_COUNTS_MAP)?,
        })
    }
}

impl Tracer {
    /// Loads the object and its programs into the kernel without attaching them (see
    /// [`Tracer::attach`]); with [`Watching::Cgroups`], the cgroups' map entries are set up too.
    /// The logger is returned when `log_level > 0`; its lines must be pumped by the caller.
    pub(crate) fn load(
        opts: &AttachOptions,
    ) -> Result<(Self, Option<aya_log::EbpfLogger<&'static dyn log::Log>>)> {
        let kernel = KernelFacts::read()?;
        let layout = MapLayout::of(&opts.watching)?;
        let names_only = u8::from(opts.names_only);
        let mut ebpf = EbpfLoader::new()
            // The object has no CO-RE relocations: aya's own copy of the kernel's BTF is unused.
            .btf(None)
            .map_max_entries(SLOT_SETS_MAP, layout.slots)
            .map_max_entries(SLOT_COUNTS_MAP, layout.slots)
            .map_max_entries(CGROUP_SLOTS_MAP, layout.hashed)
            .map_max_entries(FREE_SLOTS_MAP, layout.slots)
            .override_global("AYA_LOG_LEVEL", &opts.log_level, true)
            .override_global(WATCH_NEW_GLOBAL, &layout.watch_new, true)
            .override_global(NAMES_ONLY_GLOBAL, &names_only, true)
            .override_global(KERNEL_OFFSETS_GLOBAL, &kernel.offsets, true)
            .override_global(SECURITY_OFFSETS_GLOBAL, &kernel.security_offsets, true)
            .override_global(NOAUDIT_RANGES_GLOBAL, &security::noaudit_ranges(), true)
            .override_global(SLOT_IDS_GLOBAL, &layout.slot_ids, true)
            .load(EBPF_OBJECT)
            .map_err(|e| anyhow!("loading the eBPF object into the kernel: {e:#}"))?;
        let logger = init_ebpf_logger(&mut ebpf, opts.log_level);

        for (name, tracepoint) in PROGRAMS {
            load_program(&mut ebpf, name, tracepoint, &kernel)?;
        }
        if opts.failed_exits {
            let (name, tracepoint) = FAILED_EXIT_PROGRAM;
            load_program(&mut ebpf, name, tracepoint, &kernel)?;
        }
        let nr_cpus = nr_cpus().map_err(|(path, e)| anyhow!("reading {path}: {e}"))?;
        let watches = match &opts.watching {
            Watching::Cgroups(cgroups) => {
                Watches::slots(&mut ebpf, layout.slot_ids, cgroups, nr_cpus)?
            }
            Watching::All { .. } => Watches::hashed(&mut ebpf, layout.slots)?,
        };
        let stats = take_map(&mut ebpf, STATS_MAP)?;
        let security = match security::load(&mut ebpf) {
            Ok(()) => Some(SecurityMaps::take(&mut ebpf)?),
            Err(e) => {
                log::warn!(
                    "{e:#}; recording syscalls without capabilities, identities, root \
                     filesystem writes or privilege gain"
                );
                None
            }
        };
        Ok((
            Self {
                ebpf,
                watches,
                stats,
                nr_cpus,
                failed_exits: opts.failed_exits,
                security,
            },
            logger,
        ))
    }

    /// Attaches the programs: recording starts.
    pub(crate) fn attach(&mut self) -> Result<()> {
        // Before the recorder: a failed call is then never seen at its entry alone.
        if self.failed_exits {
            let (name, tracepoint) = FAILED_EXIT_PROGRAM;
            attach_program(&mut self.ebpf, name, tracepoint)?;
        }
        for (name, tracepoint) in PROGRAMS {
            attach_program(&mut self.ebpf, name, tracepoint)?;
        }
        // After the exec program, which marks a container's entrypoint: its own exec then
        // counts as the workload's.
        if self.security.is_some() {
            if let Err(e) = security::attach(&mut self.ebpf) {
                log::warn!("{e:#}; recording syscalls without the security facts");
                self.security = None;
            }
        }
        Ok(())
    }

    /// `record --all`: starts recording a cgroup in `start_phase`, giving it a slot (the program
    /// would give it one itself on the cgroup's next syscall, in the runtime-setup phase).
    pub(crate) fn watch(&mut self, cgroup_id: u64, start_phase: Phase) -> Result<()> {
        let nr_cpus = self.nr_cpus;
        let Watches::Hashed {
            slot_of,
            free,
            sets,
            counts,
        } = &mut self.watches
        else {
            anyhow::bail!(
                "internal error: outside --all, cgroups are given when the program is loaded"
            );
        };
        let key = CgroupKey { cgroup_id };
        let slot = match slot_of.get(&key, 0).ok().map(|v| v & !SLOT_IGNORED) {
            Some(slot) if slot != NO_SLOT => slot,
            _ => free.pop(0).with_context(|| {
                format!("no free slot in map {FREE_SLOTS_MAP} for cgroup {cgroup_id}")
            })?,
        };
        let zeroed = PerCpuValues::try_from(vec![SyscallCounts::ZERO; nr_cpus])?;
        counts
            .set(slot, zeroed, 0)
            .with_context(|| format!("setting up slot {slot} of {SLOT_COUNTS_MAP}"))?;
        sets.set(slot, SyscallSet::starting_in(phase_number(start_phase)), 0)
            .with_context(|| format!("setting up slot {slot} of {SLOT_SETS_MAP}"))?;
        // The cgroup's entry goes in last: it is what turns recording on for the cgroup.
        slot_of
            .insert(key, slot, 0)
            .with_context(|| format!("adding cgroup {cgroup_id} to map {CGROUP_SLOTS_MAP}"))?;
        log::debug!("watching cgroup id {cgroup_id} in slot {slot}");
        Ok(())
    }

    /// Reads what a watched cgroup did so far.
    pub(crate) fn read(&self, cgroup_id: u64) -> Result<CgroupSyscalls> {
        let (set, per_cpu) = match &self.watches {
            Watches::Slots {
                sets, counts, ids, ..
            } => {
                let slot = slot_of(ids, cgroup_id)
                    .with_context(|| format!("cgroup {cgroup_id} is not watched"))?;
                let set = sets
                    .get(&slot, 0)
                    .with_context(|| format!("reading slot {slot} of {SLOT_SETS_MAP}"))?;
                let per_cpu = counts
                    .get(&slot, 0)
                    .with_context(|| format!("reading slot {slot} of {SLOT_COUNTS_MAP}"))?;
                (set, per_cpu)
            }
            Watches::Hashed {
                slot_of,
                sets,
                counts,
                ..
            } => {
                let slot = slot_of.get(&CgroupKey { cgroup_id }, 0).with_context(|| {
                    format!("reading cgroup {cgroup_id} from map {CGROUP_SLOTS_MAP}")
                })? & !SLOT_IGNORED;
                anyhow::ensure!(slot != NO_SLOT, "cgroup {cgroup_id} is not watched");
                let set = sets
                    .get(&slot, 0)
                    .with_context(|| format!("reading slot {slot} of {SLOT_SETS_MAP}"))?;
                let per_cpu = counts
                    .get(&slot, 0)
                    .with_context(|| format!("reading slot {slot} of {SLOT_COUNTS_MAP}"))?;
                (set, per_cpu)
            }
        };
        let mut seen = CgroupSyscalls::from_maps(&set, &per_cpu);
        if let Some(maps) = &self.security {
            seen.security = maps.read(cgroup_id);
        }
        Ok(seen)
    }

    /// The ids of every watched cgroup (with `--all`, those the program started watching on its
    /// own too).
    pub(crate) fn watched_ids(&self) -> Vec<u64> {
        match &self.watches {
            Watches::Slots { ids, .. } => ids.ids.iter().copied().filter(|&id| id != 0).collect(),
            Watches::Hashed { slot_of, .. } => slot_of
                .keys()
                .filter_map(Result::ok)
                .map(|k| k.cgroup_id)
                .collect(),
        }
    }

    /// Stops recording a cgroup but keeps it in the map, so that `--all` does not give it a slot
    /// again on its next syscall, and its tasks return at once once their CPU's cache has them.
    /// Under `--all` it keeps its slot, if it has one, until [`Tracer::unwatch`]: a CPU's cache
    /// may still send a task of it there, where nothing is recorded now.
    pub(crate) fn ignore(&mut self, cgroup_id: u64) {
        let ignored = SyscallSet::starting_in(phase::IGNORED);
        let result = match &mut self.watches {
            Watches::Slots { sets, ids, .. } => match slot_of(ids, cgroup_id) {
                Some(slot) => sets.set(slot, ignored, 0),
                None => return,
            },
            Watches::Hashed { slot_of, sets, .. } => {
                let key = CgroupKey { cgroup_id };
                let slot = match slot_of.get(&key, 0) {
                    Ok(value) => value & !SLOT_IGNORED,
                    Err(_) => NO_SLOT,
                };
                // The slot stops recording first, then the cgroup's entry says so.
                let marked = if slot == NO_SLOT {
                    Ok(())
                } else {
                    sets.set(slot, ignored, 0)
                };
                marked.and_then(|()| slot_of.insert(key, slot | SLOT_IGNORED, 0))
            }
        };
        if let Err(e) = result {
            log::warn!("marking cgroup {cgroup_id} ignored: {e}");
        }
    }

    /// How many times the kernel skipped the `sys_enter` program because a run would have nested
    /// in another on the same CPU (the program's `recursion_misses`): syscalls nobody recorded.
    /// The program is written so that this cannot happen; it is checked all the same.
    pub(crate) fn sys_enter_runs_skipped(&self) -> Option<u64> {
        use std::os::fd::{AsFd as _, AsRawFd as _};

        let fd = self
            .ebpf
            .program(PROGRAM_NAME)?
            .fd()
            .ok()?
            .as_fd()
            .as_raw_fd();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
        info.lines()
            .find_map(|line| line.strip_prefix("recursion_misses:")?.trim().parse().ok())
    }

    /// How many syscalls `--all` could not record because their cgroup did not fit in the maps.
    pub(crate) fn syscalls_lost_to_full_maps(&self) -> u64 {
        self.stats
            .get(&STAT_WATCH_FULL, 0)
            .map_or(0, |per_cpu| per_cpu.iter().sum())
    }

    /// Stops recording a cgroup and frees its entries (outside `--all`, where the cgroups are
    /// fixed at load time: marks its slot ignored, so the program stops writing there, and
    /// forgets it).
    pub(crate) fn unwatch(&mut self, cgroup_id: u64) {
        if let Some(security) = &mut self.security {
            security.forget(cgroup_id);
        }
        match &mut self.watches {
            Watches::Slots { sets, ids, .. } => {
                let Some(slot) = slot_of(ids, cgroup_id) else {
                    return;
                };
                if let Err(e) = sets.set(slot, SyscallSet::starting_in(phase::IGNORED), 0) {
                    log::warn!("marking slot {slot} of {SLOT_SETS_MAP} ignored: {e}");
                }
                ids.ids[slot as usize] = 0;
            }
            Watches::Hashed {
                slot_of,
                free,
                sets,
                counts,
            } => {
                let key = CgroupKey { cgroup_id };
                let Ok(value) = slot_of.get(&key, 0) else {
                    return;
                };
                if let Err(e) = slot_of.remove(&key) {
                    log::warn!("removing cgroup {cgroup_id} from map {CGROUP_SLOTS_MAP}: {e}");
                }
                let slot = value & !SLOT_IGNORED;
                if slot == NO_SLOT {
                    return;
                }
                // Zeroed and marked ignored before it is free: the program starts the next
                // cgroup there from its runtime-setup phase, and a task of this one that a
                // CPU's cache still sends there records nothing meanwhile.
                let freed = sets
                    .set(slot, SyscallSet::starting_in(phase::IGNORED), 0)
                    .map_err(anyhow::Error::from)
                    .and_then(|()| {
                        let zeroed = vec![SyscallCounts::ZERO; self.nr_cpus];
                        Ok(counts.set(slot, PerCpuValues::try_from(zeroed)?, 0)?)
                    })
                    .and_then(|()| Ok(free.push(slot, 0)?));
                if let Err(e) = freed {
                    // The slot stays taken: the maps hold one cgroup fewer from now on.
                    log::warn!("freeing slot {slot} of cgroup {cgroup_id}: {e:#}");
                }
            }
        }
    }
}

/// The slot watching `cgroup_id`.
fn slot_of(ids: &SlotIds, cgroup_id: u64) -> Option<u32> {
    (cgroup_id != 0)
        .then(|| ids.ids.iter().position(|&id| id == cgroup_id))
        .flatten()
        .map(|slot| slot as u32)
}

/// Loads the object and attaches only the program `name`, one of the cost floors in
/// `tracer-ebpf/src/empty.rs`, to the recorder's tracepoint, for `cargo xtask bench`. The
/// returned object holds the link; dropping it detaches the program.
pub(crate) fn attach_floor(name: &str) -> Result<Ebpf> {
    let kernel = KernelFacts::read()?;
    let mut ebpf = EbpfLoader::new()
        .btf(None)
        .override_global(KERNEL_OFFSETS_GLOBAL, &kernel.offsets, true)
        .load(EBPF_OBJECT)
        .map_err(|e| anyhow!("loading the eBPF object into the kernel: {e:#}"))?;
    load_program(&mut ebpf, name, TRACEPOINT, &kernel)?;
    attach_program(&mut ebpf, name, TRACEPOINT)?;
    Ok(ebpf)
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Program> {
    ebpf.program_mut(name)
        .with_context(|| format!("eBPF object has no program {name}"))
}

/// Loads one program, for `tracepoint`, into the kernel. A verifier rejection carries the
/// verifier's log in the error's Display, so it is shown.
fn load_program(ebpf: &mut Ebpf, name: &str, tracepoint: &str, kernel: &KernelFacts) -> Result<()> {
    let loaded = match program(ebpf, name)? {
        Program::RawTracePoint(program) => program.load(),
        Program::BtfTracePoint(program) if tracepoint == TRACEPOINT => {
            program.load(tracepoint, &kernel.sys_enter_btf)
        }
        other => anyhow::bail!(
            "internal error: eBPF program {name} is a {:?} program for {tracepoint}, which \
             syscage does not load",
            other.prog_type()
        ),
    };
    loaded.map_err(|e| anyhow!("the kernel refused the eBPF program {name}: {e:#}"))
}

fn attach_program(ebpf: &mut Ebpf, name: &str, tracepoint: &str) -> Result<()> {
    let attached = match program(ebpf, name)? {
        Program::RawTracePoint(program) => program.attach(tracepoint).map(drop),
        // Loaded for its tracepoint already (by BTF id).
        Program::BtfTracePoint(program) => program.attach().map(drop),
        other => anyhow::bail!(
            "internal error: eBPF program {name} is a {:?} program",
            other.prog_type()
        ),
    };
    attached.map_err(|e| anyhow!("attaching {name} to tracepoint {tracepoint}: {e:#}"))?;
    log::info!("attached {name} to tracepoint {tracepoint}");
    Ok(())
}
