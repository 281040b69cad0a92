//! The cost floors for `cargo xtask bench`: programs on the same attachment as the recorder
//! (`sys_enter` raw tracepoint) that do (almost) nothing. `record` never loads them
//! (`syscage bench-attach --program empty|cgroup-floor` does).
//!
//! - `syscage_empty` returns at once: what a syscall pays with it attached is the kernel's price
//!   of calling any program there, which no recorder on this hook can go below.
//! - `syscage_cgroup_floor` reads the caller's cgroup id and compares it with a constant, the
//!   least any recorder keyed by cgroup does for an unwatched task (the recorder adds its
//!   `WATCHED` hash lookup to this).

use aya_ebpf::{
    helpers::bpf_get_current_cgroup_id, macros::raw_tracepoint, programs::RawTracePointContext,
};

// The names are tracer_common::EMPTY_PROGRAM_NAME and CGROUP_FLOOR_PROGRAM_NAME.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscage_empty(_ctx: RawTracePointContext) -> i32 {
    0
}

#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscage_cgroup_floor(_ctx: RawTracePointContext) -> i32 {
    // SAFETY: a helper without arguments, available to tracing programs.
    let id = unsafe { bpf_get_current_cgroup_id() };
    // No cgroup has id 0: never taken, but the comparison keeps the helper call and its result.
    i32::from(id == 0)
}
