//! syscage's eBPF program: on every syscall entry (`raw_syscalls:sys_enter`, attached as a raw
//! tracepoint, which costs about half of a classic tracepoint here), note the syscall number for
//! the caller's cgroup if userspace is watching that cgroup.
//!
//! It must stay cheap for everyone else on the node: the first thing it does is one hash lookup
//! of the current cgroup id, and unwatched tasks return right there. It must never lose a
//! sighting: it only writes into map entries userspace created beforehand (no in-kernel inserts
//! that could fail on a full map), and it uses no perf or ring buffer for the syscall set.
#![no_std]
#![no_main]
// The bin target links the (empty) lib target of the same crate, and the entry point must be
// `pub` and unmangled for the loader to find it by name.
#![allow(unused_crate_dependencies, unreachable_pub)]

use aya_ebpf::{
    helpers::{bpf_get_current_cgroup_id, bpf_ktime_get_ns},
    macros::{map, raw_tracepoint},
    maps::{HashMap, PerCpuHashMap},
    programs::RawTracePointContext,
};
use aya_log_ebpf::info;
use tracer_common::{CgroupKey, SyscallCounts, SyscallSet, DEFAULT_MAX_WATCHED, MAX_SYSCALLS};

/// cgroup id -> syscalls seen (and when first). Userspace sizes it at load time.
#[map(name = "WATCHED")]
static WATCHED: HashMap<CgroupKey, SyscallSet> = HashMap::with_max_entries(DEFAULT_MAX_WATCHED, 0);

/// cgroup id -> per-CPU call counters. Same keys as `WATCHED`.
#[map(name = "COUNTS")]
static COUNTS: PerCpuHashMap<CgroupKey, SyscallCounts> =
    PerCpuHashMap::with_max_entries(DEFAULT_MAX_WATCHED, 0);

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscage_sys_enter(ctx: RawTracePointContext) -> i32 {
    record(&ctx);
    0
}

#[inline(always)]
fn record(ctx: &RawTracePointContext) {
    // SAFETY: a helper without arguments, available to tracing programs.
    let key = CgroupKey {
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
    };
    let Some(set) = WATCHED.get_ptr_mut(&key) else {
        return; // not watched: the cost every other task on the node pays ends here
    };
    // sys_enter's TP_PROTO is (struct pt_regs *regs, long id). A negative id becomes huge here
    // and lands in the out-of-range counter with the too-large ones.
    let id: i64 = ctx.arg(1);
    let nr = id as u64;

    let counts = COUNTS.get_ptr_mut(&key);
    if nr >= MAX_SYSCALLS as u64 {
        if let Some(counts) = counts {
            // SAFETY: map value pointer of this CPU's copy, valid for the program's run.
            unsafe { (*counts).out_of_range += 1 };
        }
        return;
    }
    let nr = nr as usize;
    // SAFETY: `set` and `counts` point at live map values, and `nr < MAX_SYSCALLS` was checked
    // just above (unchecked indexing: a bounds-check panic path would not pass the verifier).
    unsafe {
        let seen = (*set).seen.get_unchecked_mut(nr);
        if *seen == 0 {
            *(*set).first_seen_ns.get_unchecked_mut(nr) = bpf_ktime_get_ns();
            *seen = 1;
            // Once per (cgroup, syscall): off the hot path. Shown with `syscage -v`.
            info!(ctx, "cgroup {} first entered syscall {}", key.cgroup_id, nr);
        }
        if let Some(counts) = counts {
            *(*counts).count.get_unchecked_mut(nr) += 1;
        }
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

// The GPL-compatible licence is what lets the program call bpf_get_current_cgroup_id and the
// tracing helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
