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

/// Syscall numbers at or above this are not kept in the per-syscall tables; the tracer counts
/// them in [`SyscallCounts::out_of_range`] instead so they are reported, never lost. 512 covers
/// every syscall table libseccomp knows for the 64-bit architectures we target (x86_64 ends at
/// 46x, aarch64 and riscv64 at 46x as of Linux 6.18) with room to grow.
pub const MAX_SYSCALLS: usize = 512;

/// Name of the hash map `cgroup id -> SyscallSet`. A cgroup is watched exactly when it has an
/// entry here; userspace inserts zeroed entries before the workload starts, so the eBPF side
/// never inserts and can never fail for lack of room.
pub const WATCHED_MAP: &str = "WATCHED";
/// Name of the per-CPU hash map `cgroup id -> SyscallCounts`.
pub const COUNTS_MAP: &str = "COUNTS";
/// Name of the eBPF program attached to the `sys_enter` raw tracepoint.
pub const PROGRAM_NAME: &str = "syscage_sys_enter";
/// The raw tracepoint the program attaches to (`raw_syscalls:sys_enter`).
pub const TRACEPOINT: &str = "sys_enter";
/// Name of the eBPF program that marks a cgroup's first completed exec (the entrypoint).
pub const EXEC_PROGRAM_NAME: &str = "syscage_sched_process_exec";
/// The raw tracepoint it attaches to (`sched:sched_process_exec`).
pub const EXEC_TRACEPOINT: &str = "sched_process_exec";
/// Name of the read-only global (`u8`) that, when 1, makes the program start watching every
/// cgroup it has not seen yet (`record --all`). Being read-only, the verifier prunes the insert
/// path entirely when it is 0.
pub const WATCH_NEW_GLOBAL: &str = "SYSCAGE_WATCH_NEW";
/// Name of the one-entry arrays holding zeroed values the program copies when it inserts a new
/// cgroup (a 5 KiB value cannot live on the 512-byte eBPF stack).
pub const SET_TEMPLATE_MAP: &str = "SET_TEMPLATE";
pub const COUNTS_TEMPLATE_MAP: &str = "COUNTS_TEMPLATE";
/// Name of the per-CPU array of tracer statistics, indexed by the `STAT_*` constants.
pub const STATS_MAP: &str = "STATS";
/// Cgroups `--all` could not start watching because the maps were full.
pub const STAT_WATCH_FULL: u32 = 0;
/// Number of entries in [`STATS_MAP`].
pub const STATS_LEN: u32 = 1;
/// Default capacity of both maps when userspace does not size them at load time.
pub const DEFAULT_MAX_WATCHED: u32 = 64;

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
    /// The cgroup is in the map only so that `--all` does not re-insert it: record nothing.
    pub const IGNORED: u32 = 0xff;
}

/// What one watched cgroup has done, shared by all CPUs.
///
/// `seen` is a byte per (phase, syscall number) rather than a bit: racing CPUs only ever store
/// `1`, so no atomic read-modify-write is needed and no sighting can be lost (a bit set by two
/// CPUs at once with plain load/or/store could lose one of them).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SyscallSet {
    /// `seen[phase][nr]` is `1` once the syscall was entered by a task of the cgroup in `phase`.
    pub seen: [[u8; MAX_SYSCALLS]; phase::COUNT],
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) of the first sighting in any phase; written just
    /// before `seen` is set. Two CPUs racing on a first sighting leave one of their timestamps.
    pub first_seen_ns: [u64; MAX_SYSCALLS],
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
        seen: [[0; MAX_SYSCALLS]; phase::COUNT],
        first_seen_ns: [0; MAX_SYSCALLS],
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

/// Per-CPU call counters of one watched cgroup. Each CPU increments only its own copy, so
/// CPUs never race; userspace sums the copies.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SyscallCounts {
    pub count: [u64; MAX_SYSCALLS],
    /// Syscalls whose number was `>= MAX_SYSCALLS` (or negative).
    pub out_of_range: u64,
}

impl SyscallCounts {
    pub const ZERO: Self = Self {
        count: [0; MAX_SYSCALLS],
        out_of_range: 0,
    };
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data: repr(C), only integer arrays/fields, no padding (checked below).
    unsafe impl aya::Pod for super::CgroupKey {}
    unsafe impl aya::Pod for super::SyscallSet {}
    unsafe impl aya::Pod for super::SyscallCounts {}
}

// The layouts must have no implicit padding: a padded key would carry garbage bytes.
const _: () = assert!(core::mem::size_of::<CgroupKey>() == 8);
const _: () = assert!(
    core::mem::size_of::<SyscallSet>() == MAX_SYSCALLS * (phase::COUNT + 8) + 4 + 4 + 8 + 8
);
const _: () = assert!(core::mem::size_of::<SyscallCounts>() == MAX_SYSCALLS * 8 + 8);
