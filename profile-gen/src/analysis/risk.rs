//! How risky it is to allow a syscall, with a one-line reason.
//!
//! The ranking serves reviews: a release that starts to need `bpf` or `mount` deserves a look a
//! new `getrandom` does not. The levels follow what the runtimes' default profiles deny and why
//! (kernel attack surface, escape paths out of a container, host-wide effects); everything not
//! listed is [`Risk::Low`], an ordinary syscall.

use serde::Serialize;

/// A risk level; the order is the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// An ordinary syscall.
    Low,
    /// Worth a look: affects other processes or the host in limited ways.
    Medium,
    /// Large kernel attack surface or a known container-escape ingredient.
    High,
    /// Changes the kernel or the host itself.
    Critical,
}

impl Risk {
    /// `low`, `medium`, `high`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Whether this level counts as dangerous (`--fail-on risky`, "dangerous" lists).
    pub fn is_dangerous(self) -> bool {
        self >= Self::High
    }
}

/// The risk of allowing `name`, and why.
pub fn risk_of(name: &str) -> (Risk, &'static str) {
    use Risk::{Critical, High, Low, Medium};
    match name {
        "kexec_load" | "kexec_file_load" => (Critical, "replaces the running kernel"),
        "init_module" | "finit_module" | "create_module" => {
            (Critical, "loads code into the kernel")
        }
        "delete_module" => (Critical, "unloads kernel modules"),
        "reboot" => (Critical, "reboots or halts the host"),
        "iopl" | "ioperm" => (Critical, "gives direct access to hardware I/O ports"),
        "swapon" | "swapoff" => (High, "changes the host's swap devices"),
        "bpf" => (
            High,
            "loads programs into the kernel; a large, often exploited attack surface",
        ),
        "perf_event_open" => (
            High,
            "kernel performance monitoring; frequent vulnerabilities and information leaks",
        ),
        "ptrace" => (
            High,
            "reads and writes other processes' memory and registers; bypasses seccomp before \
             Linux 4.8",
        ),
        "process_vm_readv" | "process_vm_writev" => {
            (High, "reads or writes another process's memory")
        }
        "mount" | "umount" | "umount2" | "move_mount" | "mount_setattr" | "open_tree"
        | "fsopen" | "fsmount" | "fsconfig" | "fspick" | "pivot_root" => (
            High,
            "changes the mount table; a classic container escape path",
        ),
        "unshare" | "setns" => (
            High,
            "creates or enters namespaces, exposing kernel code otherwise reachable by root only",
        ),
        "keyctl" | "add_key" | "request_key" => (
            High,
            "the kernel keyring is not namespaced; shared with the host",
        ),
        "userfaultfd" => (
            High,
            "stalls kernel page faults at will, a common exploit primitive",
        ),
        "io_uring_setup" | "io_uring_enter" | "io_uring_register" => (
            High,
            "large, often exploited kernel surface whose operations seccomp cannot see",
        ),
        "open_by_handle_at" => (
            High,
            "opens files by handle, bypassing path checks (the \"shocker\" escape)",
        ),
        "clone3" => (
            Medium,
            "seccomp cannot inspect its flags, so namespace creation cannot be filtered",
        ),
        "lookup_dcookie" | "quotactl" | "quotactl_fd" | "nfsservctl" | "_sysctl" | "uselib"
        | "sysfs" | "ustat" => (Medium, "obsolete or host-wide administration interface"),
        "syslog" => (Medium, "reads the kernel log, which leaks kernel addresses"),
        "acct" => (Medium, "switches host-wide process accounting"),
        "settimeofday" | "stime" | "clock_settime" | "clock_settime64" | "adjtimex"
        | "clock_adjtime" | "clock_adjtime64" => (Medium, "can change the host's clock"),
        "sethostname" | "setdomainname" => {
            (Medium, "changes the host name outside a UTS namespace")
        }
        "chroot" => (Medium, "changes the root directory; part of escape chains"),
        "personality" => (
            Medium,
            "can switch execution domains and turn off address-space randomisation",
        ),
        "modify_ldt" | "vm86" | "vm86old" => (
            Medium,
            "legacy x86 memory segmentation, a history of kernel bugs",
        ),
        "kcmp" | "pidfd_getfd" | "process_madvise" => {
            (Medium, "inspects or acts on other processes' resources")
        }
        "mbind"
        | "set_mempolicy"
        | "set_mempolicy_home_node"
        | "migrate_pages"
        | "move_pages"
        | "get_mempolicy" => (Medium, "NUMA memory placement, can affect other processes"),
        "fanotify_init" => (Medium, "watches file access across mounts"),
        "name_to_handle_at" => (Medium, "produces handles for open_by_handle_at"),
        "vhangup" => (Medium, "hangs up the controlling terminal"),
        "memfd_secret" => (Medium, "memory hidden from the kernel's own direct map"),
        "execveat" => (Low, "runs a program from a file descriptor"),
        _ => (Low, "ordinary syscall"),
    }
}

/// The risk of a workload needing the capability `name` (`CAP_SYS_ADMIN`), and why; the
/// levels follow what each lets a process in a container do to the host.
pub fn capability_risk(name: &str) -> (Risk, &'static str) {
    use Risk::{Critical, High, Low, Medium};
    match name {
        "CAP_SYS_MODULE" => (Critical, "loads kernel modules"),
        "CAP_SYS_RAWIO" => (Critical, "raw access to devices, I/O ports and memory"),
        "CAP_SYS_BOOT" => (Critical, "reboots the host or loads a new kernel"),
        "CAP_SYS_ADMIN" => (
            High,
            "mounts, namespaces, BPF and much more: close to full root, the usual escape path",
        ),
        "CAP_SYS_PTRACE" => (High, "traces and reads the memory of other processes"),
        "CAP_DAC_READ_SEARCH" => (
            High,
            "reads any file and opens files by handle (the \"shocker\" escape)",
        ),
        "CAP_NET_ADMIN" => (High, "reconfigures interfaces, routes and firewalls"),
        "CAP_BPF" | "CAP_PERFMON" => (
            High,
            "loads BPF programs or monitors the kernel: a large attack surface",
        ),
        "CAP_MAC_ADMIN" | "CAP_MAC_OVERRIDE" => (High, "changes or bypasses LSM policy"),
        "CAP_SYSLOG" => (Medium, "reads the kernel log, which leaks kernel addresses"),
        "CAP_SYS_TIME" => (Medium, "sets the host's clock"),
        "CAP_SYS_CHROOT" => (Medium, "changes the root directory; part of escape chains"),
        "CAP_NET_RAW" => (Medium, "raw and packet sockets: spoofing and sniffing"),
        "CAP_SETUID" | "CAP_SETGID" => (Medium, "changes user or group ids"),
        "CAP_SETFCAP" | "CAP_SETPCAP" => (Medium, "grants capabilities to files or processes"),
        "CAP_DAC_OVERRIDE" | "CAP_FOWNER" => (Medium, "bypasses file permission checks"),
        "CAP_MKNOD" => (Medium, "creates device nodes"),
        "CAP_SYS_NICE" | "CAP_SYS_RESOURCE" => (Medium, "overrides scheduling or resource limits"),
        "CAP_IPC_OWNER" | "CAP_KILL" => (Medium, "acts on other users' processes or IPC"),
        _ => (Low, "ordinary capability"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_prone_capabilities_are_dangerous() {
        for name in [
            "CAP_SYS_ADMIN",
            "CAP_SYS_MODULE",
            "CAP_SYS_PTRACE",
            "CAP_NET_ADMIN",
        ] {
            assert!(capability_risk(name).0.is_dangerous(), "{name}");
        }
        for name in ["CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_CHOWN"] {
            assert!(!capability_risk(name).0.is_dangerous(), "{name}");
        }
    }

    #[test]
    fn the_dangerous_list_ranks_high() {
        for name in [
            "ptrace",
            "mount",
            "bpf",
            "unshare",
            "setns",
            "keyctl",
            "add_key",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "perf_event_open",
            "kexec_load",
            "kexec_file_load",
            "init_module",
        ] {
            assert!(risk_of(name).0.is_dangerous(), "{name}");
        }
        assert_eq!(risk_of("read"), (Risk::Low, "ordinary syscall"));
        assert!(Risk::Critical > Risk::High && Risk::Medium > Risk::Low);
        assert!(!Risk::Medium.is_dangerous());
    }
}
