//! What syscage knows, independent of any file format: architectures, syscall names, the
//! recording, the merged recording and a profile regrouped per syscall.

pub mod arch;
pub mod arg_values;
pub mod host;
pub mod kubernetes;
pub mod merged;
pub mod merged_security;
pub mod policy;
pub mod recording;
pub mod seccomp_log;
pub mod security;
pub mod syscalls;
