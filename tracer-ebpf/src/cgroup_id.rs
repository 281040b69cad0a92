//! Which cgroup the task entering a syscall is in, cheaply: a helper call costs more than the
//! rest of the unwatched path together, and `bpf_get_current_cgroup_id()` makes three (README,
//! "Performance", has the figures). A task entering syscalls in a row finds its cgroup id in a
//! per-CPU cache with no helper call at all; otherwise the id is walked to from the task
//! pointer with plain loads at offsets userspace read from the kernel's BTF.

use aya_ebpf::{
    helpers::bpf_ktime_get_ns,
    macros::{map, raw_tracepoint},
    maps::PerCpuArray,
    programs::{BtfTracePointContext, RawTracePointContext},
};
use tracer_common::KernelOffsets;

/// Which cgroup the task that last entered a syscall on this CPU is in, so that a task making
/// syscalls in a row (the common case, and the one that costs) pays neither for fetching its
/// task pointer (a helper call), nor for walking to its cgroup.
///
/// The key is the `pt_regs` pointer `sys_enter` passes: it sits at the top of the task's own
/// kernel stack, so live tasks never share it and it comes free with the tracepoint. An entry
/// holds only while `CACHE_GENERATION` is unchanged: that moves on every fork (the new task may
/// get a dead task's stack) and every cgroup migration (the task is elsewhere now).
#[map(name = "CGROUP_CACHE")]
static CGROUP_CACHE: PerCpuArray<CgroupCacheEntry> = PerCpuArray::with_max_entries(1, 0);

/// When the cache was last invalidated (`bpf_ktime_get_ns()`; 0: never). A writable global
/// rather than a map: the program reads it on every syscall, and a global is one load where a
/// map lookup is ten instructions.
static mut CACHE_GENERATION: u64 = 0;

/// One CPU's cached answer. Its fields are written by one run of the program at a time: the
/// kernel never starts a run on a CPU where one is in progress (it skips it and counts a
/// recursion miss, which `syscage` reports), so no entry is ever half one task's and half
/// another's.
#[repr(C)]
pub(crate) struct CgroupCacheEntry {
    regs: u64,
    generation: u64,
    pub(crate) cgroup_id: u64,
    /// `record --all` only: the cgroup's value in `CGROUP_SLOTS` (its slot, or that it is
    /// ignored), so that a task making syscalls in a row looks it up once.
    pub(crate) slot: u32,
    _pad: u32,
}

/// Where this kernel keeps the fields the program reads through the task pointer. Userspace
/// sets it from the kernel's BTF at load time; being read-only, the verifier sees constants and
/// checks each load against the same BTF.
#[unsafe(no_mangle)]
pub(crate) static SYSCAGE_KERNEL_OFFSETS: KernelOffsets = KernelOffsets {
    task_cgroups: 0,
    css_set_dfl_cgrp: 0,
    cgroup_kn: 0,
    kernfs_node_id: 0,
    task_status: 0,
    _pad: 0,
};

/// A new task may be given the kernel stack (and so the `pt_regs` address) of one that died:
/// the cache's entries from before are void. Runs before the new task can run.
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn syscage_sched_process_fork(_ctx: RawTracePointContext) -> i32 {
    invalidate_cgroup_cache();
    0
}

/// A task changed cgroup (this fires once the move is done): entries from before are void.
#[raw_tracepoint(tracepoint = "cgroup_attach_task")]
pub fn syscage_cgroup_attach_task(_ctx: RawTracePointContext) -> i32 {
    invalidate_cgroup_cache();
    0
}

/// Moves the cache generation on. A timestamp rather than a counter: two CPUs racing here may
/// leave either one's value, but never one that an entry computed before both events carries
/// (no atomic add is needed).
#[inline(always)]
fn invalidate_cgroup_cache() {
    // SAFETY: a plain aligned 8-byte store to the program's global data.
    unsafe { core::ptr::write_volatile(&raw mut CACHE_GENERATION, bpf_ktime_get_ns()) };
}

/// The cgroup v2 id of the task entering a syscall, if this CPU's cache holds it for that task
/// (`sys_enter`'s `pt_regs` pointer). No helper call: that would cost more than the rest of an
/// unwatched task's path together.
#[inline(always)]
pub(crate) fn cached_cgroup_id(ctx: &BtfTracePointContext) -> Option<u64> {
    // The lookup first: to the compiler it is a call, and values read before it would have to
    // be kept in registers the JIT then saves on every run.
    let entry = CGROUP_CACHE.get_ptr(0)?;
    // sys_enter's TP_PROTO is (struct pt_regs *regs, long id).
    let regs: u64 = ctx.arg(0);
    // SAFETY: a plain aligned 8-byte load of the program's global data.
    let generation = unsafe { core::ptr::read_volatile(&raw const CACHE_GENERATION) };
    // SAFETY: this CPU's copy of a live per-CPU map value.
    unsafe {
        ((*entry).regs == regs && (*entry).generation == generation).then(|| (*entry).cgroup_id)
    }
}

/// The cgroup v2 id of the task entering a syscall, walked to from the task pointer, and kept
/// in this CPU's cache for the task's next syscalls.
#[inline(always)]
pub(crate) fn fill_cgroup_cache(ctx: &BtfTracePointContext) -> u64 {
    let regs: u64 = ctx.arg(0);
    // The generation is read before walking: an invalidation that lands while walking leaves
    // an entry with the old generation, which the next call then recomputes.
    // SAFETY: a plain aligned 8-byte load of the program's global data.
    let generation = unsafe { core::ptr::read_volatile(&raw const CACHE_GENERATION) };
    let cgroup_id = cgroup_id_of(current_task());
    // (A lookup of index 0 of an array: it never fails, but without it there is no cache.)
    if let Some(entry) = CGROUP_CACHE.get_ptr_mut(0) {
        // SAFETY: this CPU's copy of a live per-CPU map value.
        unsafe {
            *entry = CgroupCacheEntry {
                regs,
                generation,
                cgroup_id,
                slot: 0,
                _pad: 0,
            };
        }
    }
    cgroup_id
}

/// `record --all`: this CPU's cache entry, which holds the cgroup and the slot of the task
/// entering a syscall when [`cache_holds`] says so. The lookup of index 0 of an array never
/// fails; `None` only to please the verifier.
#[inline(always)]
pub(crate) fn cache_entry() -> Option<*mut CgroupCacheEntry> {
    CGROUP_CACHE.get_ptr_mut(0)
}

/// Whether `entry` is this task's (see [`cached_cgroup_id`]).
#[inline(always)]
pub(crate) fn cache_holds(entry: *const CgroupCacheEntry, ctx: &BtfTracePointContext) -> bool {
    let regs: u64 = ctx.arg(0);
    // SAFETY: a plain aligned 8-byte load of the program's global data, and this CPU's copy of
    // a live per-CPU map value.
    unsafe {
        let generation = core::ptr::read_volatile(&raw const CACHE_GENERATION);
        core::ptr::read_volatile(&(*entry).regs) == regs
            && core::ptr::read_volatile(&(*entry).generation) == generation
    }
}

/// `record --all`: walks to the task's cgroup id, asks `slot_of` for its slot, and keeps both in
/// this CPU's cache entry. `slot_of` answers `None` when the cgroup got no slot (the maps are
/// full): the entry then holds [`NOT_CACHED`] and no task's `pt_regs`, so the next syscall
/// asks again (and is counted as lost again).
#[inline(always)]
pub(crate) fn fill_cgroup_cache_with_slot(
    ctx: &BtfTracePointContext,
    slot_of: impl FnOnce(u64) -> Option<u32>,
) {
    let regs: u64 = ctx.arg(0);
    // SAFETY: as in `fill_cgroup_cache`.
    let generation = unsafe { core::ptr::read_volatile(&raw const CACHE_GENERATION) };
    let cgroup_id = cgroup_id_of(current_task());
    let (regs, slot) = match slot_of(cgroup_id) {
        Some(slot) => (regs, slot),
        None => (0, NOT_CACHED),
    };
    if let Some(entry) = CGROUP_CACHE.get_ptr_mut(0) {
        // SAFETY: this CPU's copy of a live per-CPU map value.
        unsafe {
            *entry = CgroupCacheEntry {
                regs,
                generation,
                cgroup_id,
                slot,
                _pad: 0,
            };
        }
    }
}

/// The slot of an entry for a cgroup that got none: at or above `SLOT_IGNORED`, so nothing is
/// recorded.
pub(crate) const NOT_CACHED: u32 = u32::MAX;

/// The current task, as the BTF-typed pointer the verifier lets the program read fields of.
#[inline(always)]
pub(crate) fn current_task() -> *const u8 {
    // SAFETY: a helper without arguments; never null in a tracing program.
    unsafe { aya_ebpf::helpers::generated::bpf_get_current_task_btf() as *const u8 }
}

/// Reads a `u32` of the read-only offsets (a constant to the verifier).
#[inline(always)]
pub(crate) fn kernel_offset(field: &u32) -> usize {
    // SAFETY: reading a read-only global; volatile so the value set at load time is read rather
    // than the zero compiled in.
    unsafe { core::ptr::read_volatile(field) as usize }
}

/// The task's cgroup v2 id: `task->cgroups->dfl_cgrp->kn->id`, what
/// `bpf_get_current_cgroup_id()` returns without its two out-of-line RCU calls (the program
/// already runs under the tracepoint's RCU read lock). 0 if a pointer is unexpectedly null.
#[inline(always)]
pub(crate) fn cgroup_id_of(task: *const u8) -> u64 {
    let offsets = &SYSCAGE_KERNEL_OFFSETS;
    // SAFETY: every load goes through a BTF-typed pointer at an offset the verifier checks
    // against the kernel's BTF (a faulting load of an untrusted pointer reads as 0).
    unsafe {
        let css_set = core::ptr::read_volatile(
            task.wrapping_add(kernel_offset(&offsets.task_cgroups)) as *const *const u8,
        );
        if css_set.is_null() {
            return 0;
        }
        let cgroup = core::ptr::read_volatile(
            css_set.wrapping_add(kernel_offset(&offsets.css_set_dfl_cgrp)) as *const *const u8,
        );
        if cgroup.is_null() {
            return 0;
        }
        let kernfs_node = core::ptr::read_volatile(
            cgroup.wrapping_add(kernel_offset(&offsets.cgroup_kn)) as *const *const u8,
        );
        if kernfs_node.is_null() {
            return 0;
        }
        core::ptr::read_volatile(
            kernfs_node.wrapping_add(kernel_offset(&offsets.kernfs_node_id)) as *const u64,
        )
    }
}
