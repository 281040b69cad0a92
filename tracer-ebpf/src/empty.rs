//! The reference programs of `cargo xtask bench`, on the same attachment as the recorder
//! (`sys_enter` as a BTF-typed raw tracepoint). `record` never loads them (`syscage
//! bench-attach --program empty|cgroup-id` does).
//!
//! - `syscage_empty` returns at once: what a syscall pays with it attached is the kernel's price
//!   of calling any program there, the cost floor no recorder on this hook can go below.
//! - `syscage_cgroup_id` reads the caller's cgroup id on every call, the way the recorder does
//!   when its per-CPU cache misses (a helper call for the task pointer, then four loads), and
//!   compares it with a constant: what the recorder's cache saves an unwatched task.

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};

// The names are tracer_common::EMPTY_PROGRAM_NAME and CGROUP_ID_PROGRAM_NAME.
#[btf_tracepoint(function = "sys_enter")]
pub fn syscage_empty(_ctx: BtfTracePointContext) -> i32 {
    0
}

#[btf_tracepoint(function = "sys_enter")]
pub fn syscage_cgroup_id(_ctx: BtfTracePointContext) -> i32 {
    let id = crate::cgroup_id::cgroup_id_of(crate::cgroup_id::current_task());
    // No cgroup has id 0: never taken, but the comparison keeps the loads and their result.
    i32::from(id == 0)
}
