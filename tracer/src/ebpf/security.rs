//! The security programs (tracer-ebpf/src/security.rs): loading and attaching them, reading
//! one cgroup's entries, and judging what the counts mean ([`SecuritySightings::facts`]).
//!
//! They are optional: a kernel that refuses them records syscalls as before, with a warning,
//! and the recording then has no `security` object.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, Context as _, Result};
use aya::{
    maps::{HashMap, MapData, PerCpuHashMap},
    programs::Program,
    Ebpf,
};
// Capability names in the kernel's numbering (include/uapi/linux/capability.h).
use profile_gen::formats::docker::ALL_CAPS as CAPABILITY_NAMES;
use profile_gen::{
    CapabilityUse, Identity, PrivilegeGain, PrivilegeGainKind, RootFilesystemWrites, SecurityFacts,
};
use tracer_common::security::{
    CapabilityCounts, CapabilityKey, IdentityKey, NoauditRanges, PathKey, RootWrites, WriteKey,
    CAPABILITY_MAP, CAPABILITY_PROGRAM, EXEC_SECURITY_PROGRAM, EXIT_IDENTITY_PROGRAM,
    GAIN_FILE_CAPABILITIES, GAIN_SETGID, GAIN_SETUID, IDENTITY_MAP, ID_GID, ID_UID,
    INODE_DIRTY_PROGRAM, NOAUDIT_RANGES, PRIVILEGE_GAIN_MAP, ROOT_WRITES_MAP, ROOT_WRITE_PATHS_MAP,
};

/// The security programs and their raw tracepoints, in attach order.
const PROGRAMS: [(&str, &str); 4] = [
    CAPABILITY_PROGRAM,
    EXEC_SECURITY_PROGRAM,
    EXIT_IDENTITY_PROGRAM,
    INODE_DIRTY_PROGRAM,
];

/// The capability module's check (where the tracepoint is) and the LSM entry most checks come
/// through; the caller past them tells a probe apart.
const CAP_CAPABLE: &str = "cap_capable";
const CAPABLE: &str = "security_capable";

/// The functions that call it with `CAP_OPT_NOAUDIT` (probes whose result only tunes
/// behaviour): the `*_noaudit` helpers, and the memory-accounting paths whose overcommit check
/// asks for CAP_SYS_ADMIN (`security_vm_enough_memory_mm`, inlined into its callers on some
/// kernels). Their out-of-line `.cold` parts count too; names a kernel lacks are skipped.
const NOAUDIT_CALLERS: [&str; 17] = [
    "ns_capable_noaudit",
    "has_ns_capability_noaudit",
    "has_capability_noaudit",
    "cap_vm_enough_memory",
    "__vm_enough_memory",
    "security_vm_enough_memory_mm",
    "__mmap_region",
    "mmap_region",
    "do_brk_flags",
    "insert_vm_struct",
    "expand_downwards",
    "expand_upwards",
    "acct_stack_growth",
    "mprotect_fixup",
    "vrm_charge",
    "vma_to_resize",
    "shmem_acct_size",
];

/// The text ranges of [`CAP_CAPABLE`], [`CAPABLE`] and [`NOAUDIT_CALLERS`] in the running kernel, from
/// /proc/kallsyms (each function ends where the next symbol starts). Empty, with a warning,
/// when they cannot be read: probes then count as ordinary checks.
pub(crate) fn noaudit_ranges() -> NoauditRanges {
    let text = match std::fs::read_to_string("/proc/kallsyms") {
        Ok(text) => text,
        Err(e) => {
            log::warn!("reading /proc/kallsyms: {e}; capability probes count as needs");
            return NoauditRanges::EMPTY;
        }
    };
    let ranges = noaudit_ranges_in(&text);
    if ranges.ranges[..3].contains(&[0, 0]) {
        log::warn!(
            "/proc/kallsyms names no {CAP_CAPABLE}, no {CAPABLE} or none of \
             {NOAUDIT_CALLERS:?} (or hides addresses); capability probes count as needs"
        );
    }
    ranges
}

/// [`noaudit_ranges`] of a kallsyms text.
fn noaudit_ranges_in(kallsyms: &str) -> NoauditRanges {
    let mut symbols: Vec<(u64, &str)> = kallsyms
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = u64::from_str_radix(fields.next()?, 16).ok()?;
            let _kind = fields.next()?;
            Some((address, fields.next()?))
        })
        .filter(|&(address, _)| address != 0)
        .collect();
    symbols.sort_unstable();
    let range_of = |i: usize| -> Option<[u64; 2]> {
        let start = symbols[i].0;
        let end = symbols[i + 1..]
            .iter()
            .map(|&(address, _)| address)
            .find(|&address| address > start)?;
        Some([start, end])
    };
    let mut ranges = NoauditRanges::EMPTY;
    let mut next = 2;
    for (i, &(_, name)) in symbols.iter().enumerate() {
        if name == CAP_CAPABLE {
            ranges.ranges[0] = range_of(i).unwrap_or([0, 0]);
            continue;
        }
        if name == CAPABLE {
            ranges.ranges[1] = range_of(i).unwrap_or([0, 0]);
            continue;
        }
        let base = name.strip_suffix(".cold").unwrap_or(name);
        if next < NOAUDIT_RANGES && NOAUDIT_CALLERS.contains(&base) {
            if let Some(range) = range_of(i) {
                ranges.ranges[next] = range;
                next += 1;
            }
        }
    }
    ranges
}

/// Loads the security programs. An error means the kernel refused one: the caller records
/// without them.
pub(crate) fn load(ebpf: &mut Ebpf) -> Result<()> {
    for (name, tracepoint) in PROGRAMS {
        let Some(Program::RawTracePoint(program)) = ebpf.program_mut(name) else {
            anyhow::bail!("internal error: eBPF object has no raw tracepoint program {name}");
        };
        program.load().map_err(|e| {
            anyhow!("the kernel refused the eBPF program {name} for {tracepoint}: {e:#}")
        })?;
    }
    Ok(())
}

/// Attaches the loaded security programs.
pub(crate) fn attach(ebpf: &mut Ebpf) -> Result<()> {
    for (name, tracepoint) in PROGRAMS {
        let Some(Program::RawTracePoint(program)) = ebpf.program_mut(name) else {
            anyhow::bail!("internal error: eBPF object has no raw tracepoint program {name}");
        };
        program
            .attach(tracepoint)
            .map_err(|e| anyhow!("attaching {name} to tracepoint {tracepoint}: {e:#}"))?;
        log::info!("attached {name} to tracepoint {tracepoint}");
    }
    Ok(())
}

/// The security programs' maps.
pub(crate) struct SecurityMaps {
    capabilities: PerCpuHashMap<MapData, CapabilityKey, CapabilityCounts>,
    identities: HashMap<MapData, IdentityKey, u8>,
    root_writes: PerCpuHashMap<MapData, u64, RootWrites>,
    root_write_paths: HashMap<MapData, WriteKey, u8>,
    privilege_gain: HashMap<MapData, PathKey, u32>,
}

fn take<M>(ebpf: &mut Ebpf, name: &str) -> Result<M>
where
    M: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .with_context(|| format!("eBPF object has no map {name}"))?;
    M::try_from(map).with_context(|| format!("eBPF map {name} has an unexpected type"))
}

impl SecurityMaps {
    pub(crate) fn take(ebpf: &mut Ebpf) -> Result<Self> {
        Ok(Self {
            capabilities: take(ebpf, CAPABILITY_MAP)?,
            identities: take(ebpf, IDENTITY_MAP)?,
            root_writes: take(ebpf, ROOT_WRITES_MAP)?,
            root_write_paths: take(ebpf, ROOT_WRITE_PATHS_MAP)?,
            privilege_gain: take(ebpf, PRIVILEGE_GAIN_MAP)?,
        })
    }

    /// What the programs recorded for one cgroup so far.
    pub(crate) fn read(&self, cgroup_id: u64) -> SecuritySightings {
        let mut seen = SecuritySightings {
            recorded: true,
            ..SecuritySightings::default()
        };
        for (key, per_cpu) in self.capabilities.iter().filter_map(Result::ok) {
            if key.cgroup_id != cgroup_id {
                continue;
            }
            let counts = seen.capabilities.entry(key.capability).or_default();
            for cpu in per_cpu.iter() {
                add_counts(counts, cpu);
            }
        }
        for key in self.identities.keys().filter_map(Result::ok) {
            if key.cgroup_id != cgroup_id {
                continue;
            }
            match key.kind {
                ID_UID => seen.uids.insert(key.id),
                ID_GID => seen.gids.insert(key.id),
                _ => false,
            };
        }
        if let Ok(per_cpu) = self.root_writes.get(&cgroup_id, 0) {
            for cpu in per_cpu.iter() {
                seen.root_writes += cpu.count;
                seen.root_write_paths_dropped += cpu.paths_dropped;
            }
        }
        for key in self.root_write_paths.keys().filter_map(Result::ok) {
            if key.cgroup_id == cgroup_id {
                seen.root_write_paths.insert(write_path(&key));
            }
        }
        for (key, kind) in self.privilege_gain.iter().filter_map(Result::ok) {
            if key.cgroup_id == cgroup_id {
                *seen.privilege_gain.entry(path_text(&key)).or_default() |= kind;
            }
        }
        seen
    }
}

impl SecurityMaps {
    /// Frees a cgroup's entries (`record --all` watches cgroups come and go; the maps are
    /// shared by all of them).
    pub(crate) fn forget(&mut self, cgroup_id: u64) {
        fn remove_all<K: aya::Pod, V: aya::Pod>(
            map: &mut HashMap<MapData, K, V>,
            of_cgroup: impl Fn(&K) -> bool,
        ) {
            let keys: Vec<K> = map
                .keys()
                .filter_map(Result::ok)
                .filter(of_cgroup)
                .collect();
            for key in keys {
                let _ = map.remove(&key);
            }
        }
        let keys: Vec<CapabilityKey> = self
            .capabilities
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.cgroup_id == cgroup_id)
            .collect();
        for key in keys {
            let _ = self.capabilities.remove(&key);
        }
        let _ = self.root_writes.remove(&cgroup_id);
        remove_all(&mut self.identities, |k| k.cgroup_id == cgroup_id);
        remove_all(&mut self.root_write_paths, |k| k.cgroup_id == cgroup_id);
        remove_all(&mut self.privilege_gain, |k| k.cgroup_id == cgroup_id);
    }
}

fn add_counts(sum: &mut CapabilityCounts, more: &CapabilityCounts) {
    sum.granted += more.granted;
    sum.denied += more.denied;
    sum.noaudit += more.noaudit;
    sum.made_up += more.made_up;
    sum.as_fallback += more.as_fallback;
    sum.granted_as_root += more.granted_as_root;
}

/// NUL-terminated bytes as text (lossy: paths are bytes).
fn c_text(bytes: &[u8]) -> String {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

/// The NUL-terminated path of a key.
fn path_text(key: &PathKey) -> String {
    c_text(&key.path)
}

/// The path of a written file from its names, innermost first: absolute when the walk reached
/// the task's root, else starting with `...`.
fn write_path(key: &WriteKey) -> String {
    let depth = (key.depth as usize).min(key.names.len());
    let names = key.names[..depth].iter().rev().map(|name| c_text(name));
    let joined: Vec<String> = names.collect();
    if key.complete != 0 {
        format!("/{}", joined.join("/"))
    } else {
        format!(".../{}", joined.join("/"))
    }
}

/// What the security programs saw for one cgroup (or several, absorbed).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SecuritySightings {
    /// Whether the programs were attached at all (else there is nothing to say).
    pub(crate) recorded: bool,
    /// Capability number -> counts over all CPUs.
    pub(crate) capabilities: BTreeMap<u32, CapabilityCounts>,
    pub(crate) uids: BTreeSet<u32>,
    pub(crate) gids: BTreeSet<u32>,
    pub(crate) root_writes: u64,
    pub(crate) root_write_paths: BTreeSet<String>,
    /// Writes whose path the kernel did not keep (past its limit, or too long).
    pub(crate) root_write_paths_dropped: u64,
    /// Path -> GAIN_* bits.
    pub(crate) privilege_gain: BTreeMap<String, u32>,
}

impl SecuritySightings {
    /// Adds another cgroup's sightings (a container with sub-cgroups).
    pub(crate) fn absorb(&mut self, other: &Self) {
        self.recorded |= other.recorded;
        for (&cap, counts) in &other.capabilities {
            add_counts(self.capabilities.entry(cap).or_default(), counts);
        }
        self.uids.extend(&other.uids);
        self.gids.extend(&other.gids);
        self.root_writes += other.root_writes;
        self.root_write_paths_dropped += other.root_write_paths_dropped;
        self.root_write_paths
            .extend(other.root_write_paths.iter().cloned());
        for (path, &kind) in &other.privilege_gain {
            *self.privilege_gain.entry(path.clone()).or_default() |= kind;
        }
    }

    /// The recording's `security` object, with each capability judged: needed when a check
    /// that was not a NOAUDIT probe granted it, except the grants that only stood in for a
    /// capability denied just before (then that one would have sufficed, and is what is
    /// needed). A denial a fallback made up for is not counted as a denial.
    pub(crate) fn facts(&self) -> Option<SecurityFacts> {
        if !self.recorded {
            return None;
        }
        let mut capabilities = Vec::new();
        let mut root_used = false;
        for (&cap, counts) in &self.capabilities {
            let Some(name) = CAPABILITY_NAMES.get(cap as usize) else {
                log::warn!("capability number {cap} has no name here: left out");
                continue;
            };
            let own_grants = counts.granted.saturating_sub(counts.as_fallback);
            // A denial made up for by the fallback: the fallback's grant was really this
            // capability's need.
            let needed = own_grants > 0 || counts.made_up > 0;
            // Grants count audited checks only: each was a need, of this capability or of the
            // one it stood in for.
            root_used |= counts.granted_as_root > 0;
            capabilities.push(CapabilityUse {
                name: (*name).to_owned(),
                granted: counts.granted,
                denied: counts.denied.saturating_sub(counts.made_up),
                noaudit: counts.noaudit,
                needed,
            });
        }
        capabilities.sort_by(|a, b| a.name.cmp(&b.name));
        let paths: Vec<String> = self
            .root_write_paths
            .iter()
            .take(profile_gen::model::security::MAX_ROOT_FILESYSTEM_PATHS)
            .cloned()
            .collect();
        let truncated =
            self.root_write_paths.len() > paths.len() || self.root_write_paths_dropped > 0;
        let mut privilege_gain: Vec<PrivilegeGain> = self
            .privilege_gain
            .iter()
            .flat_map(|(path, &bits)| {
                [
                    (GAIN_SETUID, PrivilegeGainKind::Setuid),
                    (GAIN_SETGID, PrivilegeGainKind::Setgid),
                    (GAIN_FILE_CAPABILITIES, PrivilegeGainKind::FileCapabilities),
                ]
                .into_iter()
                .filter(move |&(bit, _)| bits & bit != 0)
                .map(|(_, kind)| PrivilegeGain {
                    path: path.clone(),
                    kind,
                })
            })
            .collect();
        privilege_gain.sort();
        Some(SecurityFacts {
            capabilities,
            identity: Identity {
                uids: self.uids.iter().copied().collect(),
                gids: self.gids.iter().copied().collect(),
                root_used,
            },
            root_filesystem_writes: RootFilesystemWrites {
                count: self.root_writes.max(paths.len() as u64),
                paths,
                truncated,
                unobserved: None,
            },
            privilege_gain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(granted: u64, denied: u64, noaudit: u64) -> CapabilityCounts {
        CapabilityCounts {
            granted,
            denied,
            noaudit,
            ..CapabilityCounts::default()
        }
    }

    fn sightings(capabilities: &[(u32, CapabilityCounts)]) -> SecuritySightings {
        SecuritySightings {
            recorded: true,
            capabilities: capabilities.iter().copied().collect(),
            ..SecuritySightings::default()
        }
    }

    fn verdicts(facts: &SecurityFacts) -> Vec<(&str, u64, bool)> {
        facts
            .capabilities
            .iter()
            .map(|c| (c.name.as_str(), c.denied, c.needed))
            .collect()
    }

    #[test]
    fn probes_and_denials_are_not_needs_and_grants_as_root_use_root() {
        let mut bind = counts(1, 0, 0);
        bind.granted_as_root = 1;
        let facts = sightings(&[(10, bind), (21, counts(0, 0, 35)), (12, counts(0, 2, 0))])
            .facts()
            .expect("recorded");
        assert_eq!(
            verdicts(&facts),
            [
                ("CAP_NET_ADMIN", 2, false),
                ("CAP_NET_BIND_SERVICE", 0, true),
                ("CAP_SYS_ADMIN", 0, false),
            ]
        );
        assert!(facts.identity.root_used);
        assert_eq!(facts.check(), Ok(()));
    }

    #[test]
    fn a_denial_made_up_for_by_its_fallback_is_the_need_and_no_denial() {
        // PERFMON denied, then SYS_ADMIN granted for it.
        let mut perfmon = counts(0, 1, 0);
        perfmon.made_up = 1;
        let mut sys_admin = counts(1, 0, 0);
        sys_admin.as_fallback = 1;
        let facts = sightings(&[(38, perfmon), (21, sys_admin)])
            .facts()
            .expect("recorded");
        assert_eq!(
            verdicts(&facts),
            [("CAP_PERFMON", 0, true), ("CAP_SYS_ADMIN", 0, false)]
        );
        assert!(!facts.identity.root_used, "no grant was made as root");
    }

    #[test]
    fn a_grant_as_non_root_is_a_need_without_using_root() {
        let facts = sightings(&[(10, counts(1, 0, 0))])
            .facts()
            .expect("recorded");
        assert!(!facts.identity.root_used);
        assert_eq!(verdicts(&facts), [("CAP_NET_BIND_SERVICE", 0, true)]);
    }

    #[test]
    fn without_the_programs_there_are_no_facts() {
        assert_eq!(SecuritySightings::default().facts(), None);
    }

    #[test]
    fn root_writes_keep_sixteen_sorted_paths_and_say_when_there_were_more() {
        let mut seen = sightings(&[]);
        seen.root_writes = 40;
        seen.root_write_paths = (0..20).map(|i| format!("/var/cache/f{i:02}")).collect();
        let facts = seen.facts().expect("recorded");
        let writes = &facts.root_filesystem_writes;
        assert_eq!(writes.paths.len(), 16);
        assert_eq!(writes.paths[0], "/var/cache/f00");
        assert!(writes.truncated);
        assert_eq!(writes.count, 40);
        assert_eq!(facts.check(), Ok(()));
    }

    #[test]
    fn written_files_are_named_from_the_root_or_marked_partial() {
        let mut key = WriteKey::ZERO;
        for (slot, name) in ["state.db", "app", "cache", "var"].iter().enumerate() {
            key.names[slot][..name.len()].copy_from_slice(name.as_bytes());
        }
        key.depth = 4;
        key.complete = 1;
        assert_eq!(write_path(&key), "/var/cache/app/state.db");
        key.complete = 0;
        assert_eq!(write_path(&key), ".../var/cache/app/state.db");
    }

    #[test]
    fn setuid_and_setgid_execs_become_one_entry_per_kind() {
        let mut seen = sightings(&[]);
        seen.privilege_gain
            .insert("/usr/bin/newgrp".into(), GAIN_SETUID | GAIN_SETGID);
        let facts = seen.facts().expect("recorded");
        assert_eq!(
            facts.privilege_gain,
            [
                PrivilegeGain {
                    path: "/usr/bin/newgrp".into(),
                    kind: PrivilegeGainKind::Setuid
                },
                PrivilegeGain {
                    path: "/usr/bin/newgrp".into(),
                    kind: PrivilegeGainKind::Setgid
                },
            ]
        );
    }

    #[test]
    fn noaudit_ranges_end_at_the_next_symbol() {
        let kallsyms = "\
ffffffff81000000 T cap_capable
ffffffff81000100 T cap_vm_enough_memory
ffffffff81000180 t ns_capable_noaudit.cold
ffffffff810001a0 T security_capable
ffffffff81000300 T security_quotactl
ffffffff81000400 T ns_capable_noaudit
ffffffff81000480 T ns_capable
";
        let ranges = noaudit_ranges_in(kallsyms);
        assert_eq!(ranges.ranges[0], [0xffffffff81000000, 0xffffffff81000100]);
        assert_eq!(ranges.ranges[1], [0xffffffff810001a0, 0xffffffff81000300]);
        let callers: Vec<[u64; 2]> = ranges.ranges[2..]
            .iter()
            .copied()
            .filter(|r| *r != [0, 0])
            .collect();
        assert_eq!(
            callers,
            [
                [0xffffffff81000100, 0xffffffff81000180],
                [0xffffffff81000180, 0xffffffff810001a0],
                [0xffffffff81000400, 0xffffffff81000480],
            ]
        );
    }
}
