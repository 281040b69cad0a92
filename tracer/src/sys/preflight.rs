//! Checks that `record` can work here, before anything is changed, so that a missing privilege
//! gets one actionable line instead of a kernel errno from deep inside a load.

use anyhow::{anyhow, Result};

use crate::sys::exit::{Failure, EXIT_NO_PRIVILEGE};

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Loading a tracing eBPF program needs CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), and creating
/// a cgroup and moving a process into it needs write access to the cgroup tree (root).
pub(crate) fn check_privileges() -> Result<()> {
    let caps = effective_capabilities().unwrap_or(0);
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    let can_bpf = has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON));
    if !can_bpf || !nix::unistd::Uid::effective().is_root() {
        return Err(Failure::new(
            EXIT_NO_PRIVILEGE,
            anyhow!(
                "recording needs root (to load the eBPF program: CAP_BPF and CAP_PERFMON, and to \
                 create a cgroup): run it as `sudo syscage record ...`"
            ),
        )
        .into());
    }
    Ok(())
}

/// CapEff from /proc/self/status.
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    u64::from_str_radix(hex, 16).ok()
}
