//! syscage's eBPF program: on every syscall entry (`raw_syscalls:sys_enter`, attached as a
//! BTF-typed raw tracepoint, which costs less than a classic tracepoint and lets the
//! program read the saved registers with plain loads), note the syscall number for the caller's
//! cgroup if userspace is watching that cgroup.
//!
//! It must stay cheap for everyone else on the node: a task entering syscalls in a row finds
//! its cgroup id in a per-CPU cache and compares it with at most eight watched ids (under
//! `record --all`, finds its cgroup's slot, or that it is ignored, in the same cache), with no
//! helper call at all (a helper call costs more than the rest of that path; see cgroup_id.rs
//! and tracer/src/ebpf/kernel_btf.rs). A watched 64-bit syscall makes no helper call either (see
//! [`syscall_abi`]). It must never lose a sighting: outside `--all` it only writes into array
//! slots userspace set up beforehand, and it uses no perf or ring buffer for the syscall set.
//! Under `--all` a cgroup met for the first time takes a free slot, and a cgroup that cannot
//! get one is counted.
#![no_std]
#![no_main]
// The bin target links the (empty) lib target of the same crate, and the entry point must be
// `pub` and unmangled for the loader to find it by name.
#![allow(unused_crate_dependencies, unreachable_pub)]

/// The task's cgroup id, through a per-CPU cache (and the programs that void it).
mod cgroup_id;
/// The reference programs `cargo xtask bench` measures the recorder against.
mod empty;
/// What a watched cgroup needed besides syscalls (capabilities, ids, root writes, set-id execs).
mod security;

use core::ffi::c_void;

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{bpf_get_current_cgroup_id, bpf_ktime_get_ns, bpf_probe_read_kernel},
    macros::{btf_tracepoint, map, raw_tracepoint},
    maps::{Array, HashMap, PerCpuArray, Queue},
    programs::{BtfTracePointContext, RawTracePointContext},
    EbpfContext as _,
};
use aya_log_ebpf::info;
use cgroup_id::{
    cache_entry, cache_holds, cached_cgroup_id, current_task, fill_cgroup_cache,
    fill_cgroup_cache_with_slot, kernel_offset, NOT_CACHED, SYSCAGE_KERNEL_OFFSETS,
};
use tracer_common::{
    abi, phase, CgroupKey, SlotIds, SyscallCounts, SyscallSet, ARG_CAPTURES, ARG_VALUES,
    DEFAULT_MAX_WATCHED, MAX_SLOTS, MAX_SYSCALLS, SLOT_IGNORED, STATS_LEN, STAT_WATCH_FULL,
};

/// The cgroups watched by slot (every mode but `--all`), set by userspace at load time.
/// Read-only: the program reads them as constants, with no map lookup.
#[unsafe(no_mangle)]
static SYSCAGE_SLOTS: SlotIds = SlotIds::EMPTY;

/// slot -> syscalls seen (and when first). Userspace sizes it at load time (under `--all`, to
/// `--max-cgroups`).
#[map(name = "SLOT_SETS")]
static SLOT_SETS: Array<SyscallSet> = Array::with_max_entries(MAX_SLOTS as u32, 0);

/// slot -> per-CPU call counters.
#[map(name = "SLOT_COUNTS")]
static SLOT_COUNTS: PerCpuArray<SyscallCounts> = PerCpuArray::with_max_entries(MAX_SLOTS as u32, 0);

/// `--all`: cgroup id -> its slot, or'ed with `SLOT_IGNORED` when it is not recorded.
/// Userspace sizes it at load time.
#[map(name = "CGROUP_SLOTS")]
static CGROUP_SLOTS: HashMap<CgroupKey, u32> = HashMap::with_max_entries(DEFAULT_MAX_WATCHED, 0);

/// `--all`: the slots no cgroup holds, zeroed (userspace fills it and gives slots back).
#[map(name = "FREE_SLOTS")]
static FREE_SLOTS: Queue<u32> = Queue::with_max_entries(DEFAULT_MAX_WATCHED, 0);

/// Tracer statistics, per CPU (see tracer_common::STAT_*).
#[map(name = "STATS")]
static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STATS_LEN, 0);

/// 1: `record --all`, watch cgroups through `CGROUP_SLOTS` and give any cgroup not in it yet a
/// slot; 0: watch the cgroups in `SYSCAGE_SLOTS`. Userspace sets it at load time; it is read-only
/// afterwards, so the verifier drops the path not taken.
#[unsafe(no_mangle)]
static SYSCAGE_WATCH_NEW: u8 = 0;

/// 1: names only, no ABI check and no argument capture (the benchmark's baseline for what those
/// cost). Read-only: with 0 the verifier keeps only the full path.
#[unsafe(no_mangle)]
static SYSCAGE_NAMES_ONLY: u8 = 0;

/// Syscalls that load a seccomp filter, with the argument that says so. Only x86_64's numbers
/// are wired up; other architectures never leave RUNTIME_SETUP through a filter load (the
/// profile then keeps the runtime's setup syscalls: looser, never broken).
#[cfg(bpf_target_arch = "x86_64")]
mod nr {
    pub(crate) const SECCOMP: u64 = 317;
    pub(crate) const PRCTL: u64 = 157;
}
#[cfg(not(bpf_target_arch = "x86_64"))]
mod nr {
    pub(crate) const SECCOMP: u64 = u64::MAX;
    pub(crate) const PRCTL: u64 = u64::MAX;
}
const SECCOMP_SET_MODE_FILTER: u64 = 1;
const PR_SET_SECCOMP: u64 = 22;
const SECCOMP_MODE_FILTER: u64 = 2;

#[btf_tracepoint(function = "sys_enter")]
pub fn syscage_sys_enter(ctx: BtfTracePointContext) -> i32 {
    // The path of a task whose cgroup is cached and not watched (almost every syscall on a
    // node) calls nothing. Recording is inlined here rather than a function of its own: every
    // return from a BPF function goes through the kernel's return thunk (the SRSO "Safe RET"
    // mitigation on AMD CPUs), which made the call cost every watched syscall measurably,
    // while the registers the JIT then saves on every run did not measurably cost the
    // unwatched path (bpf_stats).
    let (cgroup_id, slot) = if watching_all() {
        // One cache lookup gives the cgroup's slot, or that it is ignored: a watched cgroup's
        // syscalls then take the path they take outside --all, and an ignored one's return here.
        let Some(entry) = cache_entry() else {
            return 0;
        };
        if !cache_holds(entry, &ctx) {
            uncached_slot(ctx.as_ptr());
        }
        // SAFETY: this CPU's copy of a live per-CPU map value (just refilled if it was another
        // task's).
        unsafe {
            (
                core::ptr::read_volatile(&(*entry).cgroup_id),
                core::ptr::read_volatile(&(*entry).slot),
            )
        }
    } else {
        let cgroup_id = match cached_cgroup_id(&ctx) {
            Some(cgroup_id) => cgroup_id,
            None => uncached_cgroup_id(ctx.as_ptr()),
        };
        if !may_be_watched(cgroup_id) {
            return 0;
        }
        (cgroup_id, slot_of_id(cgroup_id))
    };
    if slot < SLOT_IGNORED {
        record(&ctx, cgroup_id, slot);
    }
    0
}

/// Whether the program runs for `record --all`.
#[inline(always)]
fn watching_all() -> bool {
    // SAFETY: reading a read-only global; volatile so that the value set at load time is read
    // rather than the one compiled in.
    unsafe { core::ptr::read_volatile(&SYSCAGE_WATCH_NEW) != 0 }
}

/// Whether cgroup `cgroup_id` may be watched: false is certain; true needs [`watched_cgroup`].
#[inline(always)]
fn may_be_watched(cgroup_id: u64) -> bool {
    // SAFETY (both reads): read-only globals; volatile so that the values set at load time are
    // read rather than the ones compiled in.
    unsafe {
        core::ptr::read_volatile(&SYSCAGE_WATCH_NEW) != 0
            || core::ptr::read_volatile(&SYSCAGE_SLOTS.filter) & SlotIds::filter_bit(cgroup_id) != 0
    }
}

/// The cache missed: find the cgroup id the slow way (and cache it). A function of its own, so
/// that its helper call and walk stay off the straight path. It gets the raw context pointer,
/// not a reference to the wrapper, which would make the wrapper live on the caller's stack.
#[inline(never)]
fn uncached_cgroup_id(raw_ctx: *mut c_void) -> u64 {
    fill_cgroup_cache(&BtfTracePointContext::new(raw_ctx))
}

/// `record --all`, the cache missed: find the cgroup id the slow way, and its slot (giving it one
/// if it is new), and cache both. Off the straight path for the same reasons as
/// [`uncached_cgroup_id`].
#[inline(never)]
fn uncached_slot(raw_ctx: *mut c_void) {
    fill_cgroup_cache_with_slot(&BtfTracePointContext::new(raw_ctx), |cgroup_id| {
        let key = CgroupKey { cgroup_id };
        match CGROUP_SLOTS.get_ptr(&key) {
            // SAFETY: live map value.
            Some(slot) => Some(unsafe { *slot }),
            None => start_watching(&key),
        }
    });
}

/// sched_process_exec fires after an exec succeeded: the first one in a watched cgroup that is
/// still in a runtime phase is the container's entrypoint.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn syscage_sched_process_exec(ctx: RawTracePointContext) -> i32 {
    // Once per exec, so the helper's cost does not matter, while walking the fields here too
    // would make the verifier look up the walk's BTF types again (milliseconds of load time).
    // SAFETY: a helper without arguments, available to tracing programs.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if let Some(watched) = watched_cgroup(cgroup_id) {
        let set = watched.set;
        // SAFETY: live map value.
        unsafe {
            if (*set).phase < phase::WORKLOAD {
                (*set).exec_ns = bpf_ktime_get_ns();
                (*set).phase = phase::WORKLOAD;
                info!(&ctx, "cgroup {} exec'd its entrypoint", watched.cgroup_id);
            }
        }
    }
    0
}

/// `syscage run` only (userspace attaches it on request): the exit of a failed syscall. A
/// seccomp filter refuses a syscall before the `sys_enter` tracepoint fires, so the calls a
/// profile refused reach [`syscage_sys_enter`] never, and this program with their error. It
/// records them like `sys_enter` does, 64-bit ones only (the compat check needs a BTF-typed
/// context), with their argument values; a call that failed on its own is seen twice, which
/// changes nothing but its count.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn syscage_sys_exit(ctx: RawTracePointContext) -> i32 {
    // TP_PROTO(struct pt_regs *regs, long ret)
    let ret: i64 = ctx.arg(1);
    if !(-4095..0).contains(&ret) {
        return 0;
    }
    // SAFETY: a helper without arguments, available to tracing programs.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if !may_be_watched(cgroup_id) {
        return 0;
    }
    let Some(Watched { set, counts, .. }) = watched_cgroup(cgroup_id) else {
        return 0;
    };
    let regs_at: *const SavedRegs = ctx.arg(0);
    // SAFETY: a checked copy of the saved registers the tracepoint points at.
    let Ok(regs) = (unsafe { bpf_probe_read_kernel(regs_at) }) else {
        return 0;
    };
    if !entered_by_syscall_instruction(&regs) {
        return 0;
    }
    // SAFETY: live map value.
    let current_phase = unsafe { (*set).phase } as usize;
    let nr = orig_syscall_nr(&regs);
    if current_phase >= phase::COUNT || nr >= MAX_SYSCALLS as u64 {
        return 0;
    }
    let nr = nr as usize;
    // SAFETY: as in `record`: live map values, indexes checked above.
    unsafe {
        let seen = (*set)
            .seen
            .get_unchecked_mut(abi::NATIVE)
            .get_unchecked_mut(current_phase)
            .get_unchecked_mut(nr);
        if *seen == 0 {
            let first = (*set)
                .first_seen_ns
                .get_unchecked_mut(abi::NATIVE)
                .get_unchecked_mut(nr);
            if *first == 0 {
                *first = bpf_ktime_get_ns();
            }
            *seen = 1;
        }
        if let Some(counts) = counts {
            *(*counts)
                .count
                .get_unchecked_mut(abi::NATIVE)
                .get_unchecked_mut(nr) += 1;
            capture_args(&regs, nr as u32, &mut *counts);
        }
    }
    0
}

/// The syscall number the task asked for (`orig_ax`: `ax` holds the result by now).
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn orig_syscall_nr(regs: &SavedRegs) -> u64 {
    regs.orig_rax
}

#[cfg(not(bpf_target_arch = "x86_64"))]
#[inline(always)]
fn orig_syscall_nr(_regs: &SavedRegs) -> u64 {
    u64::MAX
}

/// See [`syscall_abi`]: a 64-bit `syscall` instruction leaves these marks.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn entered_by_syscall_instruction(regs: &SavedRegs) -> bool {
    regs.cs & 0xffff == 0x33 && regs.rcx == regs.rip && regs.r11 == regs.eflags
}

#[cfg(not(bpf_target_arch = "x86_64"))]
#[inline(always)]
fn entered_by_syscall_instruction(_regs: &SavedRegs) -> bool {
    false
}

/// A watched cgroup's map values.
struct Watched {
    cgroup_id: u64,
    set: *mut SyscallSet,
    /// This CPU's counters (absent only if a map entry was removed under us).
    counts: Option<*mut SyscallCounts>,
}

/// Where the current task's cgroup records, if it is watched (for the programs that do not
/// keep the cache).
#[inline(always)]
fn watched_cgroup(cgroup_id: u64) -> Option<Watched> {
    let slot = if watching_all() {
        // SAFETY: live map value.
        unsafe { *CGROUP_SLOTS.get_ptr(&CgroupKey { cgroup_id })? }
    } else {
        slot_of_id(cgroup_id)
    };
    watched_slot(cgroup_id, slot)
}

/// The slot of cgroup `cgroup_id` among the ones fixed at load time (not under `--all`), or
/// [`NOT_CACHED`].
#[inline(always)]
fn slot_of_id(cgroup_id: u64) -> u32 {
    let slots = &SYSCAGE_SLOTS;
    // Compare with every slot, then branch once: one copy of the recording path, and one path
    // for the verifier to walk.
    let mut found = NOT_CACHED;
    for (slot, id) in slots.ids.iter().enumerate() {
        // SAFETY: a read-only global, read as set at load time.
        if unsafe { core::ptr::read_volatile(id) } == cgroup_id {
            found = slot as u32;
        }
    }
    if cgroup_id == 0 {
        return NOT_CACHED;
    }
    found
}

/// The map values of slot `slot` (none at or above `SLOT_IGNORED`).
#[inline(always)]
fn watched_slot(cgroup_id: u64, slot: u32) -> Option<Watched> {
    if slot >= SLOT_IGNORED {
        return None;
    }
    Some(Watched {
        cgroup_id,
        set: SLOT_SETS.get_ptr_mut(slot)?,
        counts: SLOT_COUNTS.get_ptr_mut(slot),
    })
}

/// Records the syscall being entered by cgroup `cgroup_id` (the caller's), which records in
/// slot `slot`.
#[inline(always)]
fn record(ctx: &BtfTracePointContext, cgroup_id: u64, slot: u32) {
    let Some(Watched {
        cgroup_id,
        set,
        counts,
    }) = watched_slot(cgroup_id, slot)
    else {
        return;
    };
    // SAFETY: live map value.
    let current_phase = unsafe { (*set).phase };
    if current_phase as usize >= phase::COUNT {
        return; // IGNORED
    }

    // sys_enter's TP_PROTO is (struct pt_regs *regs, long id). A negative id becomes huge here
    // and lands in the out-of-range counter with the too-large ones.
    let regs: *const SavedRegs = ctx.arg(0);
    let id: i64 = ctx.arg(1);
    let nr = id as u64;

    if nr >= MAX_SYSCALLS as u64 {
        if let Some(counts) = counts {
            // SAFETY: map value pointer of this CPU's copy, valid for the program's run.
            unsafe { (*counts).out_of_range += 1 };
        }
        return;
    }
    // SAFETY: reading a read-only global.
    let names_only = unsafe { core::ptr::read_volatile(&SYSCAGE_NAMES_ONLY) } != 0;
    let abi = if names_only {
        abi::NATIVE
    } else {
        syscall_abi(regs)
    };
    if abi == abi::NATIVE && current_phase == phase::RUNTIME_SETUP && loads_seccomp_filter(regs, nr)
    {
        // SAFETY: live map value. The filter applies after this call returns, so the call
        // itself still counts as setup.
        unsafe {
            (*set).filter_loaded_ns = bpf_ktime_get_ns();
            (*set).phase = phase::RUNTIME_AFTER_FILTER;
        }
        info!(ctx, "cgroup {} loads a seccomp filter", cgroup_id);
    }
    let nr = nr as usize;
    let p = current_phase as usize;
    // SAFETY: `set` and `counts` point at live map values; `nr < MAX_SYSCALLS`,
    // `p < phase::COUNT` and `abi < abi::COUNT` hold (unchecked indexing: a bounds-check panic
    // path would not pass the verifier).
    unsafe {
        let seen = (*set)
            .seen
            .get_unchecked_mut(abi)
            .get_unchecked_mut(p)
            .get_unchecked_mut(nr);
        if *seen == 0 {
            let first = (*set)
                .first_seen_ns
                .get_unchecked_mut(abi)
                .get_unchecked_mut(nr);
            if *first == 0 {
                *first = bpf_ktime_get_ns();
            }
            *seen = 1;
            // Once per (cgroup, ABI, phase, syscall): off the hot path. Shown with `syscage -v`.
            info!(
                ctx,
                "cgroup {} first entered syscall {} (abi {}, phase {})", cgroup_id, nr, abi, p
            );
        }
        if let Some(counts) = counts {
            *(*counts).count.get_unchecked_mut(abi).get_unchecked_mut(nr) += 1;
            if abi == abi::NATIVE && !names_only {
                capture_args(regs, nr as u32, &mut *counts);
            }
        }
    }
}

/// Notes the argument values of the syscalls in ARG_CAPTURES, in this CPU's copy (no races
/// between CPUs). Only those few syscalls pay for reading registers.
#[inline(always)]
fn capture_args(regs: *const SavedRegs, nr: u32, counts: &mut SyscallCounts) {
    // Compared against constants rather than by a loop over the table in read-only data: every
    // watched syscall passes here, and only a handful are captured.
    const NR: [u32; 8] = [
        ARG_CAPTURES[0].x86_64_nr,
        ARG_CAPTURES[1].x86_64_nr,
        ARG_CAPTURES[2].x86_64_nr,
        ARG_CAPTURES[3].x86_64_nr,
        ARG_CAPTURES[4].x86_64_nr,
        ARG_CAPTURES[5].x86_64_nr,
        ARG_CAPTURES[6].x86_64_nr,
        ARG_CAPTURES[7].x86_64_nr,
    ];
    let slot = match nr {
        n if n == NR[0] => 0,
        n if n == NR[1] => 1,
        n if n == NR[2] => 2,
        n if n == NR[3] => 3,
        n if n == NR[4] => 4,
        n if n == NR[5] => 5,
        n if n == NR[6] => 6,
        n if n == NR[7] => 7,
        _ => return,
    };
    if !cfg!(bpf_target_arch = "x86_64") {
        return;
    }
    let Some(args) = syscall_args(regs) else {
        return;
    };
    let capture = ARG_CAPTURES[slot];
    let [a, b] = capture.indexes;
    let value = if capture.arity == 2 {
        (args[a as usize % 3] << 32) | (args[b as usize % 3] & 0xffff_ffff)
    } else {
        args[a as usize % 3]
    };
    // SAFETY: `slot < ARG_CAPTURES.len()` was checked above.
    let slot = unsafe { counts.args.get_unchecked_mut(slot) };
    let len = slot.len as usize;
    let mut j = 0;
    while j < ARG_VALUES && j < len {
        // SAFETY: j < ARG_VALUES.
        if unsafe { *slot.values.get_unchecked(j) } == value {
            return;
        }
        j += 1;
    }
    if len < ARG_VALUES {
        // SAFETY: len < ARG_VALUES.
        unsafe { *slot.values.get_unchecked_mut(len) = value };
        slot.len = len as u32 + 1;
    } else {
        slot.overflow = 1;
    }
}

/// The user registers the kernel saved on entry (`struct pt_regs`): `sys_enter`'s first
/// argument, which the verifier lets a BTF-typed program read with plain loads.
type SavedRegs = aya_ebpf::bindings::pt_regs;

/// Which syscall table the call goes through.
///
/// The exact answer is TS_COMPAT in `thread_info.status`, which x86_64 sets for a syscall that
/// entered through a 32-bit compat entry point (any call of an ia32 process, or `int 0x80` from
/// a 64-bit one). Reaching it takes the task pointer, a helper call on every watched syscall,
/// so the common case is first told apart by the saved registers: the
/// `syscall` instruction copies the return address into rcx and the flags into r11, and the
/// 64-bit entry saves them as they are, so a 64-bit `syscall` always arrives with rcx == rip,
/// r11 == rflags and the 64-bit user code segment. No compat entry shows that unless a
/// program sets rcx to the address after its own `int 0x80` and r11 to its own flags on
/// purpose; such a call is recorded as the 64-bit syscall of the same number (README,
/// Limitations). Everything else is decided by TS_COMPAT.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn syscall_abi(regs: *const SavedRegs) -> usize {
    // __USER_CS, fixed by the x86_64 ABI. Only the low 16 bits hold the selector.
    const USER_CS: u64 = 0x33;
    const TS_COMPAT: u32 = 0x0002;
    // SAFETY: loads through sys_enter's BTF-typed `pt_regs` pointer, checked by the verifier.
    let entered_by_syscall_instruction = unsafe {
        core::ptr::read_volatile(&(*regs).cs) & 0xffff == USER_CS
            && core::ptr::read_volatile(&(*regs).rcx) == core::ptr::read_volatile(&(*regs).rip)
            && core::ptr::read_volatile(&(*regs).r11) == core::ptr::read_volatile(&(*regs).eflags)
    };
    if entered_by_syscall_instruction {
        return abi::NATIVE;
    }
    let status_at = kernel_offset(&SYSCAGE_KERNEL_OFFSETS.task_status);
    let task = current_task();
    // SAFETY: a load the verifier checks against task_struct's BTF.
    let status = unsafe { core::ptr::read_volatile(task.wrapping_add(status_at) as *const u32) };
    if status & TS_COMPAT != 0 {
        abi::COMPAT
    } else {
        abi::NATIVE
    }
}

#[cfg(not(bpf_target_arch = "x86_64"))]
#[inline(always)]
fn syscall_abi(_regs: *const SavedRegs) -> usize {
    abi::NATIVE
}

/// `record --all`: gives a cgroup seen for the first time a free slot, recording from the
/// runtime-setup phase on. No slot left (or no room in `CGROUP_SLOTS`) is counted in STATS
/// (userspace reports it loudly), never ignored silently.
#[inline(always)]
fn start_watching(key: &CgroupKey) -> Option<u32> {
    let Ok(Some(slot)) = FREE_SLOTS.pop() else {
        count_full();
        return None;
    };
    // A free slot is zeroed but marked ignored (a task that still had the slot's previous cgroup
    // in a CPU's cache must not record into it): it records before any CPU can find it.
    if let Some(set) = SLOT_SETS.get_ptr_mut(slot) {
        // SAFETY: live map value.
        unsafe { (*set).phase = phase::RUNTIME_SETUP };
    }
    if CGROUP_SLOTS.insert(key, &slot, BPF_NOEXIST as u64).is_ok() {
        return Some(slot);
    }
    // Another CPU gave the cgroup a slot first (or the map is full): this one goes back.
    let _ = FREE_SLOTS.push(slot, 0);
    match CGROUP_SLOTS.get_ptr(key) {
        // SAFETY: live map value.
        Some(slot) => Some(unsafe { *slot }),
        None => {
            count_full();
            None
        }
    }
}

/// Counts a syscall lost because its cgroup got no slot.
#[inline(always)]
fn count_full() {
    if let Some(full) = STATS.get_ptr_mut(STAT_WATCH_FULL) {
        // SAFETY: this CPU's slot of a per-CPU array.
        unsafe { *full += 1 };
    }
}

/// Whether syscall `nr` about to be entered installs a seccomp filter. Probes that pass a NULL
/// program (libseccomp and runc check for EFAULT to detect kernel support) do not count.
#[inline(always)]
fn loads_seccomp_filter(regs: *const SavedRegs, nr: u64) -> bool {
    if nr != nr::SECCOMP && nr != nr::PRCTL {
        return false;
    }
    let Some([a0, a1, a2]) = syscall_args(regs) else {
        return false;
    };
    if nr == nr::SECCOMP {
        a0 == SECCOMP_SET_MODE_FILTER && a2 != 0
    } else {
        a0 == PR_SET_SECCOMP && a1 == SECCOMP_MODE_FILTER && a2 != 0
    }
}

/// The first three syscall arguments from the saved user registers.
#[cfg(bpf_target_arch = "x86_64")]
#[inline(always)]
fn syscall_args(regs: *const SavedRegs) -> Option<[u64; 3]> {
    // SAFETY: loads through sys_enter's BTF-typed `pt_regs` pointer, checked by the verifier.
    unsafe {
        Some([
            core::ptr::read_volatile(&(*regs).rdi),
            core::ptr::read_volatile(&(*regs).rsi),
            core::ptr::read_volatile(&(*regs).rdx),
        ])
    }
}

#[cfg(not(bpf_target_arch = "x86_64"))]
#[inline(always)]
fn syscall_args(_regs: *const SavedRegs) -> Option<[u64; 3]> {
    None
}

/// Whether the caller's cgroup is watched and runs its workload (a container's runtime sets up
/// ids, capabilities and mounts before the entrypoint; that is not the workload's need). For
/// the security programs, which fire far less often than `sys_enter`.
#[inline(always)]
fn workload_cgroup() -> Option<u64> {
    // SAFETY: a helper without arguments, available to tracing programs.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if !may_be_watched(cgroup_id) {
        return None;
    }
    let watched = watched_cgroup(cgroup_id)?;
    // SAFETY: live map value.
    (unsafe { (*watched.set).phase } == phase::WORKLOAD).then_some(cgroup_id)
}

/// Every capability check, with the capability module's verdict.
#[raw_tracepoint(tracepoint = "cap_capable")]
pub fn syscage_cap_capable(ctx: RawTracePointContext) -> i32 {
    if let Some(cgroup_id) = workload_cgroup() {
        security::capability_checked(&ctx, cgroup_id);
    }
    0
}

/// After [`syscage_sched_process_exec`] (attached later, so a container's entrypoint counts):
/// the identity an exec left the task in, and privilege it gained.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub fn syscage_exec_security(ctx: RawTracePointContext) -> i32 {
    if let Some(cgroup_id) = workload_cgroup() {
        security::exec_completed(&ctx, cgroup_id);
    }
    0
}

/// A task exits: the identity it ended in (a server that dropped root may check no
/// capability and exec nothing afterwards).
#[raw_tracepoint(tracepoint = "sched_process_exit")]
pub fn syscage_exit_identity(_ctx: RawTracePointContext) -> i32 {
    if let Some(cgroup_id) = workload_cgroup() {
        security::task_exiting(cgroup_id);
    }
    0
}

/// A file gets dirty data (root filesystem writes).
#[raw_tracepoint(tracepoint = "writeback_mark_inode_dirty")]
pub fn syscage_inode_dirty(ctx: RawTracePointContext) -> i32 {
    if let Some(cgroup_id) = workload_cgroup() {
        security::inode_dirtied(&ctx, cgroup_id);
    }
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

// The GPL-compatible licence is what lets the program call bpf_get_current_task_btf and the
// tracing helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
