//! The kernel side's user half: load and attach the eBPF programs, decode their maps into typed
//! values and those into a recording, read the kernel's BTF, relay the programs' log lines.

pub(crate) mod decode;
pub(crate) mod kernel_btf;
pub(crate) mod log;
pub(crate) mod recording;
pub(crate) mod security;
pub(crate) mod tracer;
