//! `syscage audit`: the kernel's seccomp log records, read from the audit netlink multicast
//! group (`netlink.rs`), attributed to their cgroup as they arrive (`attribute.rs`, helped by
//! the fork events of `forks.rs`), shown live (`live.rs`) and written as one `seccomp-log`
//! recording per target (`session.rs`). Reading and adding up the records is profile-gen's
//! (`model/seccomp_log.rs`).
//!
//! Why the netlink group and not an eBPF hook: `audit_seccomp()` is a plain kernel function
//! (no tracepoint), so a hook needs fentry or a kprobe; kprobes are ruled out, and fentry needs
//! the function in ftrace's list of traceable functions, which this project's kernels do not
//! expose (no `available_filter_functions` in tracefs, so nothing can say whether attaching is
//! allowed). The group is stable kernel ABI since 3.16 and needs only CAP_AUDIT_READ.

pub(crate) mod attribute;
pub(crate) mod forks;
pub(crate) mod live;
pub(crate) mod netlink;
pub(crate) mod session;
