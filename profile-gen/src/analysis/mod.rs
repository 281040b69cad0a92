//! Reports about profiles: release and baseline diffs, the risk of a syscall, names of
//! argument values.

pub mod arg_names;
pub mod diff;
pub mod risk;
pub mod security_diff;
