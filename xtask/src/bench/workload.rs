//! The syscall-heavy workloads every setup is timed on: `dd` of one-byte reads and writes, a
//! tight `getppid` loop built here from C, and the same loop of `setuid(0)` calls, each of which
//! also makes a capability check (CAP_SETUID, as root): the recorder's capability program fires
//! on every one of them, while it never fires on the others.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{ensure, Context as _, Result};

const GETPPID_C: &str = r"
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < n; i++)
        syscall(SYS_getppid);
    return 0;
}
";

const SETUID_C: &str = r"
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < n; i++)
        syscall(SYS_setuid, 0);
    return 0;
}
";

/// A command whose length is counted in units of work, each a known number of syscalls.
pub(super) struct Workload {
    pub(super) key: &'static str,
    pub(super) label: String,
    /// The command line for a given number of units.
    pub(super) argv: Box<dyn Fn(u64) -> Vec<String>>,
    pub(super) units: u64,
    syscalls_per_unit: u64,
    /// Whether every call makes the kernel check a capability: then the security programs
    /// fire on each call, and the workload measures them rather than `sys_enter`.
    pub(super) checks_capabilities: bool,
}

impl Workload {
    /// `dd` of `count` one-byte reads and writes from /dev/zero to /dev/null.
    pub(super) fn dd(count: u64) -> Self {
        Self {
            key: "dd",
            label: format!("dd bs=1 count={}", si(count)),
            argv: Box::new(|n| {
                vec![
                    "dd".into(),
                    "if=/dev/zero".into(),
                    "of=/dev/null".into(),
                    "bs=1".into(),
                    format!("count={n}"),
                    "status=none".into(),
                ]
            }),
            units: count,
            syscalls_per_unit: 2,
            checks_capabilities: false,
        }
    }

    /// `count` getppid calls of the loop [`build_getppid_loop`] built.
    pub(super) fn getppid(binary: &Path, count: u64) -> Self {
        let bin = binary.display().to_string();
        Self {
            key: "getppid",
            label: format!("getppid loop x{}", si(count)),
            argv: Box::new(move |n| vec![bin.clone(), n.to_string()]),
            units: count,
            syscalls_per_unit: 1,
            checks_capabilities: false,
        }
    }

    /// `count` setuid(0) calls (capability checks) of the loop [`build_setuid_loop`] built.
    pub(super) fn setuid(binary: &Path, count: u64) -> Self {
        let bin = binary.display().to_string();
        Self {
            key: "setuid",
            label: format!("setuid(0) loop x{}", si(count)),
            argv: Box::new(move |n| vec![bin.clone(), n.to_string()]),
            units: count,
            syscalls_per_unit: 1,
            checks_capabilities: true,
        }
    }

    /// The command line of the full workload.
    pub(super) fn full_argv(&self) -> Vec<String> {
        (self.argv)(self.units)
    }

    pub(super) fn syscalls(&self) -> u64 {
        self.units * self.syscalls_per_unit
    }
}

/// Compiles the getppid loop into `dir` and returns the binary's path.
pub(super) fn build_getppid_loop(dir: &Path) -> Result<PathBuf> {
    build_loop(dir, "getppid-loop", GETPPID_C)
}

/// Compiles the setuid(0) loop into `dir` and returns the binary's path.
pub(super) fn build_setuid_loop(dir: &Path) -> Result<PathBuf> {
    build_loop(dir, "setuid-loop", SETUID_C)
}

fn build_loop(dir: &Path, name: &str, c_source: &str) -> Result<PathBuf> {
    let binary = dir.join(name);
    let source = dir.join(format!("{name}.c"));
    fs::write(&source, c_source).with_context(|| format!("writing {}", source.display()))?;
    let built = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .context("running gcc")?;
    ensure!(built.success(), "gcc failed to build {name}");
    Ok(binary)
}

/// 2000000 -> "2M".
fn si(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(100_000) {
        format!("{}M", n as f64 / 1e6)
    } else if n >= 1000 && n.is_multiple_of(100) {
        format!("{}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_shortens_round_counts() {
        assert_eq!(si(2_000_000), "2M");
        assert_eq!(si(2_500_000), "2.5M");
        assert_eq!(si(200_000), "200k");
        assert_eq!(si(1234), "1234");
    }

    #[test]
    fn dd_makes_two_syscalls_per_byte() {
        let dd = Workload::dd(200_000);
        assert_eq!(dd.label, "dd bs=1 count=200k");
        assert_eq!(dd.syscalls(), 400_000);
        assert!(dd.full_argv().contains(&"count=200000".to_owned()));
    }
}
