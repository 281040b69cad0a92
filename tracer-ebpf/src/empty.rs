//! The cost floor for `cargo xtask bench`: a program on the same attachment as the recorder
//! (`sys_enter` raw tracepoint) that does nothing. What a syscall pays with it attached is the
//! kernel's price of calling any program there, which no recorder on this hook can go below.
//! `syscage record` never loads it (`syscage bench-attach --program empty` does).

use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};

// The name is tracer_common::EMPTY_PROGRAM_NAME.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn syscage_empty(_ctx: RawTracePointContext) -> i32 {
    0
}
