//! Types and constants shared by syscage's eBPF program (`tracer-ebpf`) and its userspace
//! collector (`tracer`).
//!
//! Everything here is `#[repr(C)]` with explicit, zeroed padding so both sides agree on the
//! byte layout of map keys and values: the kernel compares keys byte for byte, so an
//! uninitialised padding byte in a key silently creates a different key. Map names and sizes
//! live here once instead of being kept "in sync" by comment.
//!
//! This crate must stay `no_std` and dependency-free on the eBPF side; the `user` feature only
//! adds `aya::Pod` impls.
#![no_std]

/// The security programs' maps: capabilities, identities, root filesystem writes, privilege gain.
pub mod security;

/// Syscall numbers at or above this are not kept in the per-syscall tables; the tracer counts
/// them in [`SyscallCounts::out_of_range`] instead so they are reported, never lost. 512 covers
/// every syscall table libseccomp knows for the 64-bit architectures we target (x86_64 ends at
/// 46x, aarch64 and riscv64 at 46x as of Linux 6.18) with room to grow.
pub const MAX_SYSCALLS: usize = 512;

/// Name of the read-only global ([`SlotIds`]) holding the cgroups watched by `record`, the OCI
/// hook and the benchmark, which all know their few targets before the program is loaded.
/// Checking a cgroup against it is a few loads of constants, where a hash lookup would cost a
/// helper call on every syscall of every task on the node.
pub const SLOT_IDS_GLOBAL: &str = "SYSCAGE_SLOTS";
/// Name of the array `slot -> SyscallSet` of the cgroups in [`SLOT_IDS_GLOBAL`].
pub const SLOT_SETS_MAP: &str = "SLOT_SETS";
/// Name of the per-CPU array `slot -> SyscallCounts` of the cgroups in [`SLOT_IDS_GLOBAL`].
pub const SLOT_COUNTS_MAP: &str = "SLOT_COUNTS";
/// How many cgroups can be watched by slot.
pub const MAX_SLOTS: usize = 8;

/// Name of the hash map `cgroup id -> u32` used by `record --all`, which watches cgroups it
/// does not know in advance: a cgroup's slot in [`SLOT_SETS_MAP`] and [`SLOT_COUNTS_MAP`]
/// (which `--all` sizes to its `--max-cgroups`), or'ed with [`SLOT_IGNORED`] once userspace
/// decided not to record it. The program gives a cgroup it meets for the first time a slot
/// from [`FREE_SLOTS_MAP`]; it looks a cgroup up here only when its per-CPU cache misses, so a
/// watched cgroup's syscalls then cost what they cost outside `--all`, and an ignored one's
/// what an unwatched one's do.
pub const CGROUP_SLOTS_MAP: &str = "CGROUP_SLOTS";
/// Name of the queue of the free slots (`u32`) of `--all`: userspace fills it at load time and
/// gives a slot back once it zeroed it; the program takes one for each new cgroup.
pub const FREE_SLOTS_MAP: &str = "FREE_SLOTS";
/// In a [`CGROUP_SLOTS_MAP`] value: seen, and not to be recorded.
pub const SLOT_IGNORED: u32 = 1 << 31;
/// In a [`CGROUP_SLOTS_MAP`] value, under [`SLOT_IGNORED`]: the cgroup holds no slot (it was
/// ignored before the program met it).
pub const NO_SLOT: u32 = SLOT_IGNORED - 1;
/// Name of the eBPF program attached to `sys_enter` (a BTF-typed raw tracepoint program, so
/// that it can read the saved registers with plain loads).
pub const PROGRAM_NAME: &str = "syscage_sys_enter";
/// The tracepoint the program attaches to (`raw_syscalls:sys_enter`).
pub const TRACEPOINT: &str = "sys_enter";
/// Name of the eBPF program that marks a cgroup's first completed exec (the entrypoint).
pub const EXEC_PROGRAM_NAME: &str = "syscage_sched_process_exec";
/// The raw tracepoint it attaches to (`sched:sched_process_exec`).
pub const EXEC_TRACEPOINT: &str = "sched_process_exec";
/// Names of the programs that invalidate the program's per-CPU cache of "which cgroup is the
/// task on this CPU in", and the raw tracepoints they attach to: a new task may reuse a dead
/// one's kernel stack (the cache's key), and a task moved to another cgroup is in a new one.
pub const FORK_PROGRAM_NAME: &str = "syscage_sched_process_fork";
pub const FORK_TRACEPOINT: &str = "sched_process_fork";
pub const CGROUP_MOVE_PROGRAM_NAME: &str = "syscage_cgroup_attach_task";
pub const CGROUP_MOVE_TRACEPOINT: &str = "cgroup_attach_task";
/// Name of the empty program on the same attachment as [`PROGRAM_NAME`]: the cost floor
/// `cargo xtask bench` compares the recorder with. `record` never loads it.
pub const EMPTY_PROGRAM_NAME: &str = "syscage_empty";
/// Name of the program that reads the caller's cgroup id on every call, without the recorder's
/// per-CPU cache (a helper call for the task pointer, then four loads), for `cargo xtask bench`:
/// what the cache saves. `record` never loads it.
pub const CGROUP_ID_PROGRAM_NAME: &str = "syscage_cgroup_id";
/// Name of the read-only global (`u8`) that, when 1, makes the program start watching every
/// cgroup it has not seen yet (`record --all`). Being read-only, the verifier prunes the insert
/// path entirely when it is 0.
pub const WATCH_NEW_GLOBAL: &str = "SYSCAGE_WATCH_NEW";
/// Name of the read-only global (`u8`) that, when 1, records names only: no ABI check and no
/// argument capture (the names-only baseline the benchmark compares argument capture with).
pub const NAMES_ONLY_GLOBAL: &str = "SYSCAGE_NAMES_ONLY";
/// Name of the read-only global ([`KernelOffsets`]) that tells the program where the fields it
/// walks sit in this kernel's structs; userspace reads them from the kernel's BTF at load time.
pub const KERNEL_OFFSETS_GLOBAL: &str = "SYSCAGE_KERNEL_OFFSETS";
/// Name of the per-CPU array of tracer statistics, indexed by the `STAT_*` constants.
pub const STATS_MAP: &str = "STATS";
/// Syscalls `--all` could not record because their cgroup could not be given a slot: the maps
/// were full. (Counted per syscall: telling cgroups apart would need room in a map, which is what ran
/// out.)
pub const STAT_WATCH_FULL: u32 = 0;
/// Number of entries in [`STATS_MAP`].
pub const STATS_LEN: u32 = 1;
/// Default capacity of the per-cgroup maps when userspace does not size them at load time.
pub const DEFAULT_MAX_WATCHED: u32 = 64;

/// The cgroup ids of the watched slots, fixed when the program is loaded; `0` (no cgroup has
/// id 0) marks an unused slot. `filter` has bit `id % 64` set for each of them, so that almost
/// every unwatched task is turned away by one test instead of eight comparisons.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotIds {
    pub ids: [u64; MAX_SLOTS],
    pub filter: u64,
}

impl SlotIds {
    pub const EMPTY: Self = Self {
        ids: [0; MAX_SLOTS],
        filter: 0,
    };

    /// Slots for `ids`, in order; `None` if there are more than [`MAX_SLOTS`] or one is 0.
    pub fn new(ids: &[u64]) -> Option<Self> {
        if ids.len() > MAX_SLOTS {
            return None;
        }
        let mut slots = Self::EMPTY;
        for (slot, &id) in slots.ids.iter_mut().zip(ids) {
            if id == 0 {
                return None;
            }
            *slot = id;
            slots.filter |= Self::filter_bit(id);
        }
        Some(slots)
    }

    /// The bit of `filter` that cgroup `id` sets.
    #[inline(always)]
    pub const fn filter_bit(id: u64) -> u64 {
        1 << (id % 64)
    }
}

/// Byte offsets, in the running kernel, of the fields the program reads through the current
/// task pointer: `task->cgroups->dfl_cgrp->kn->id` is the caller's cgroup v2 id (what
/// `bpf_get_current_cgroup_id()` returns, for a fraction of its cost), and `task_status` is
/// `task->thread_info.status` (x86's TS_COMPAT flag).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_id: u32,
    pub task_status: u32,
    /// Explicit padding, always zero.
    pub _pad: u32,
}

/// Map key: a cgroup v2 id, as returned by `bpf_get_current_cgroup_id()` (equal to the inode
/// number of the cgroup's directory). A struct rather than a bare `u64` so that adding a field
/// later forces an explicit padding decision here.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CgroupKey {
    pub cgroup_id: u64,
}

/// Where a watched cgroup is in the life of a container. Syscalls are recorded per phase so
/// that a profile can leave out what the runtime did before the seccomp filter was loaded (that
/// never runs under the filter) and a user can see what their app needs versus the runtime.
pub mod phase {
    /// The runtime sets the container up; no seccomp filter is loaded yet.
    pub const RUNTIME_SETUP: u32 = 0;
    /// A task of the cgroup loaded a seccomp filter (the runtime, right before the entrypoint):
    /// from here on everything runs under the profile.
    pub const RUNTIME_AFTER_FILTER: u32 = 1;
    /// A task of the cgroup completed an exec: the entrypoint runs. `record -- CMD` and attaching
    /// to a running container start here.
    pub const WORKLOAD: u32 = 2;
    /// Number of phases with their own `seen` table.
    pub const COUNT: usize = 3;
    /// Record nothing: the slot of a cgroup `--all` ignores, or of no cgroup (a freed one).
    pub const IGNORED: u32 = 0xff;
}

/// The syscall ABIs a 64-bit kernel distinguishes. Numbers are per ABI: i386's 20 is `getpid`,
/// x86_64's 20 is `writev`, so sightings are kept apart by ABI.
pub mod abi {
    /// The kernel's own ABI (x86_64, aarch64, ...).
    pub const NATIVE: usize = 0;
    /// The 32-bit compat ABI (ia32 processes on x86_64).
    pub const COMPAT: usize = 1;
    /// Number of ABIs with their own tables.
    pub const COUNT: usize = 2;
}

/// What one watched cgroup has done, shared by all CPUs.
///
/// `seen` is a byte per (ABI, phase, syscall number) rather than a bit: racing CPUs only ever
/// store `1`, so no atomic read-modify-write is needed and no sighting can be lost (a bit set by
/// two CPUs at once with plain load/or/store could lose one of them).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SyscallSet {
    /// `seen[abi][phase][nr]` is `1` once a task of the cgroup entered the syscall.
    pub seen: [[[u8; MAX_SYSCALLS]; phase::COUNT]; abi::COUNT],
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) of the first sighting in any phase; written just
    /// before `seen` is set. Two CPUs racing on a first sighting leave one of their timestamps.
    pub first_seen_ns: [[u64; MAX_SYSCALLS]; abi::COUNT],
    /// One of [`phase`]'s values; only ever moves forward.
    pub phase: u32,
    /// Explicit padding, always zero.
    pub _pad: u32,
    /// When a seccomp filter load was first entered (0: never).
    pub filter_loaded_ns: u64,
    /// When the first exec completed (0: never, or the recording started in WORKLOAD).
    pub exec_ns: u64,
}

impl SyscallSet {
    pub const ZERO: Self = Self {
        seen: [[[0; MAX_SYSCALLS]; phase::COUNT]; abi::COUNT],
        first_seen_ns: [[0; MAX_SYSCALLS]; abi::COUNT],
        phase: phase::RUNTIME_SETUP,
        _pad: 0,
        filter_loaded_ns: 0,
        exec_ns: 0,
    };

    /// An empty set that starts recording in `phase`.
    pub const fn starting_in(phase: u32) -> Self {
        let mut set = Self::ZERO;
        set.phase = phase;
        set
    }
}

/// Distinct argument values kept per captured syscall, per CPU.
pub const ARG_VALUES: usize = 16;

/// A syscall whose arguments the tracer captures: plain integers seccomp can compare, chosen
/// because RuntimeDefault conditions them (namespace flags, socket families, personality) or
/// because they say something about risk (ioctl requests, executable mappings).
///
/// Plain integers only: the eBPF side reads this table from its read-only data, where a pointer
/// (a `&str` or a slice) would not be relocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgCapture {
    /// The syscall number on x86_64 (the only architecture whose numbers are wired up).
    pub x86_64_nr: u32,
    /// How many arguments are captured: 1, or 2 packed as `(first << 32) | (second & 0xffff_ffff)`.
    pub arity: u8,
    /// Which arguments (0-based; only the first `arity` entries count).
    pub indexes: [u8; 2],
}

impl ArgCapture {
    /// The captured argument indexes.
    pub fn arg_indexes(&self) -> &[u8] {
        &self.indexes[..usize::from(self.arity.min(2))]
    }
}

/// The captured syscalls (clone, unshare, socket, personality, prctl, ioctl, mmap, mprotect); a
/// capture's position here is its slot in [`SyscallCounts::args`].
pub const ARG_CAPTURES: [ArgCapture; 8] = [
    ArgCapture {
        x86_64_nr: 56,
        arity: 1,
        indexes: [0, 0],
    }, // clone(flags, ...)
    ArgCapture {
        x86_64_nr: 272,
        arity: 1,
        indexes: [0, 0],
    }, // unshare(flags)
    ArgCapture {
        x86_64_nr: 41,
        arity: 2,
        indexes: [0, 1],
    }, // socket(domain, type, ...)
    ArgCapture {
        x86_64_nr: 135,
        arity: 1,
        indexes: [0, 0],
    }, // personality(persona)
    ArgCapture {
        x86_64_nr: 157,
        arity: 1,
        indexes: [0, 0],
    }, // prctl(option, ...)
    ArgCapture {
        x86_64_nr: 16,
        arity: 1,
        indexes: [1, 0],
    }, // ioctl(fd, request, ...)
    ArgCapture {
        x86_64_nr: 9,
        arity: 1,
        indexes: [2, 0],
    }, // mmap(addr, len, prot, ...)
    ArgCapture {
        x86_64_nr: 10,
        arity: 1,
        indexes: [2, 0],
    }, // mprotect(addr, len, prot)
];

/// The distinct argument values one CPU saw for one captured syscall.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ArgSlot {
    pub values: [u64; ARG_VALUES],
    pub len: u32,
    /// 1 once a value did not fit: `values` is incomplete.
    pub overflow: u32,
}

impl ArgSlot {
    pub const ZERO: Self = Self {
        values: [0; ARG_VALUES],
        len: 0,
        overflow: 0,
    };
}

/// Per-CPU counters and argument values of one watched cgroup. Each CPU writes only its own
/// copy, so CPUs never race; userspace sums (and unites) the copies.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SyscallCounts {
    pub count: [[u64; MAX_SYSCALLS]; abi::COUNT],
    /// Syscalls whose number was `>= MAX_SYSCALLS` (or negative).
    pub out_of_range: u64,
    /// Argument values, by [`ARG_CAPTURES`] slot.
    pub args: [ArgSlot; ARG_CAPTURES.len()],
}

impl SyscallCounts {
    pub const ZERO: Self = Self {
        count: [[0; MAX_SYSCALLS]; abi::COUNT],
        out_of_range: 0,
        args: [ArgSlot::ZERO; ARG_CAPTURES.len()],
    };
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data: repr(C), only integer arrays/fields, no padding (checked below).
    unsafe impl aya::Pod for super::CgroupKey {}
    unsafe impl aya::Pod for super::SyscallSet {}
    unsafe impl aya::Pod for super::SyscallCounts {}
    unsafe impl aya::Pod for super::ArgSlot {}
    unsafe impl aya::Pod for super::SlotIds {}
    unsafe impl aya::Pod for super::KernelOffsets {}
}

// The layouts must have no implicit padding: a padded key would carry garbage bytes.
const _: () = assert!(core::mem::size_of::<CgroupKey>() == 8);
const _: () = assert!(core::mem::size_of::<SlotIds>() == MAX_SLOTS * 8 + 8);
const _: () = assert!(core::mem::size_of::<KernelOffsets>() == 6 * 4);
const _: () = assert!(
    core::mem::size_of::<SyscallSet>()
        == abi::COUNT * MAX_SYSCALLS * (phase::COUNT + 8) + 4 + 4 + 8 + 8
);
const _: () = assert!(core::mem::size_of::<ArgSlot>() == ARG_VALUES * 8 + 8);
const _: () = assert!(
    core::mem::size_of::<SyscallCounts>()
        == abi::COUNT * MAX_SYSCALLS * 8 + 8 + ARG_CAPTURES.len() * (ARG_VALUES * 8 + 8)
);
