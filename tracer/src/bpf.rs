//! Loads syscage's eBPF object, attaches it to `sys_enter`, and reads what it recorded.
//!
//! The object is built by `build.rs` from the `tracer-ebpf` crate and embedded in the binary, so
//! the single `syscage` file is all a user installs.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _, Result};
use aya::{
    maps::{HashMap, MapData, PerCpuHashMap, PerCpuValues},
    programs::RawTracePoint,
    util::nr_cpus,
    Ebpf, EbpfLoader,
};
use tracer_common::{
    CgroupKey, SyscallCounts, SyscallSet, COUNTS_MAP, MAX_SYSCALLS, PROGRAM_NAME, TRACEPOINT,
    WATCHED_MAP,
};

/// The compiled eBPF object. aya needs it 8-byte aligned to parse it in place.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/syscage-ebpf"));

/// What the kernel side saw for one cgroup: per syscall number, how often and when first.
#[derive(Debug, Default)]
pub(crate) struct CgroupSyscalls {
    /// nr -> (count, first_seen monotonic ns)
    pub(crate) seen: BTreeMap<u32, (u64, u64)>,
    pub(crate) out_of_range: u64,
}

/// The loaded and attached program with its maps. Dropping it detaches the program and frees
/// the maps (aya closes the link and map fds).
pub(crate) struct Tracer {
    /// Kept alive for the link and the log ring buffer; maps are taken out below.
    _ebpf: Ebpf,
    watched: HashMap<MapData, CgroupKey, SyscallSet>,
    counts: PerCpuHashMap<MapData, CgroupKey, SyscallCounts>,
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
    /// Loads the object with room for `max_watched` cgroups and attaches it. `on_log` receives
    /// the aya-log logger for the eBPF side's messages when `log_level > 0`.
    pub(crate) fn attach(
        max_watched: u32,
        log_level: u8,
    ) -> Result<(Self, Option<aya_log::EbpfLogger<&'static dyn log::Log>>)> {
        let mut ebpf = EbpfLoader::new()
            .map_max_entries(WATCHED_MAP, max_watched)
            .map_max_entries(COUNTS_MAP, max_watched)
            .override_global("AYA_LOG_LEVEL", &log_level, true)
            .load(EBPF_OBJECT)
            .map_err(|e| anyhow!("loading the eBPF object into the kernel: {e:#}"))?;

        let logger = if log_level > 0 {
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

        let program: &mut RawTracePoint = ebpf
            .program_mut(PROGRAM_NAME)
            .with_context(|| format!("eBPF object has no program {PROGRAM_NAME}"))?
            .try_into()?;
        // A verifier rejection carries the verifier's log in the error's Display.
        program
            .load()
            .map_err(|e| anyhow!("the kernel refused the eBPF program: {e:#}"))?;
        program
            .attach(TRACEPOINT)
            .map_err(|e| anyhow!("attaching to raw tracepoint {TRACEPOINT}: {e:#}"))?;
        log::info!("attached {PROGRAM_NAME} to raw tracepoint {TRACEPOINT}");

        let watched = HashMap::try_from(
            ebpf.take_map(WATCHED_MAP)
                .with_context(|| format!("eBPF object has no map {WATCHED_MAP}"))?,
        )?;
        let counts = PerCpuHashMap::try_from(
            ebpf.take_map(COUNTS_MAP)
                .with_context(|| format!("eBPF object has no map {COUNTS_MAP}"))?,
        )?;
        let nr_cpus = nr_cpus().map_err(|(path, e)| anyhow!("reading {path}: {e}"))?;
        Ok((
            Self {
                _ebpf: ebpf,
                watched,
                counts,
                nr_cpus,
            },
            logger,
        ))
    }

    /// Starts recording a cgroup: creates its zeroed entries so the eBPF side only ever writes.
    pub(crate) fn watch(&mut self, cgroup_id: u64) -> Result<()> {
        let key = CgroupKey { cgroup_id };
        let zeroed = PerCpuValues::try_from(vec![SyscallCounts::ZERO; self.nr_cpus])?;
        self.counts
            .insert(key, zeroed, 0)
            .with_context(|| format!("adding cgroup {cgroup_id} to map {COUNTS_MAP}"))?;
        // The set goes in last: it is what turns recording on for the cgroup.
        self.watched
            .insert(key, SyscallSet::ZERO, 0)
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
        let mut out = CgroupSyscalls::default();
        for cpu in per_cpu.iter() {
            out.out_of_range += cpu.out_of_range;
        }
        for nr in 0..MAX_SYSCALLS {
            if set.seen[nr] == 0 {
                continue;
            }
            let count: u64 = per_cpu.iter().map(|cpu| cpu.count[nr]).sum();
            out.seen.insert(nr as u32, (count, set.first_seen_ns[nr]));
        }
        Ok(out)
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
