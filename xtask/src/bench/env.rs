//! The benchmark's surroundings: its cgroups, its scratch directory and tracefs, all undone on
//! drop.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{ensure, Context as _, Result};

/// Where bpftrace's tracepoints are found.
const TRACEFS: &str = "/sys/kernel/tracing";

/// The cgroups, the scratch directory and tracefs; undone on drop.
pub(super) struct BenchEnv {
    /// `<cgroup2>/syscage-bench-<pid>`, with `work` (the workload runs here) and `other` (what
    /// unwatched tracers watch instead).
    cgroup_root: PathBuf,
    pub(super) work: PathBuf,
    pub(super) other: PathBuf,
    pub(super) tmp: PathBuf,
    unmount_tracefs: bool,
}

impl BenchEnv {
    pub(super) fn new(root: &Path) -> Result<Self> {
        let tmp = root.join(format!("target/bench/tmp-{}", std::process::id()));
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let cgroup_root = cgroup2_mount()?.join(format!("syscage-bench-{}", std::process::id()));
        let mut env = Self {
            work: cgroup_root.join("work"),
            other: cgroup_root.join("other"),
            cgroup_root,
            tmp,
            unmount_tracefs: false,
        };
        for dir in [&env.cgroup_root, &env.work, &env.other] {
            fs::create_dir(dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
        }
        env.unmount_tracefs = mount_tracefs()?;
        Ok(env)
    }
}

impl Drop for BenchEnv {
    fn drop(&mut self) {
        for dir in [&self.work, &self.other, &self.cgroup_root] {
            if let Err(e) = fs::remove_dir(dir) {
                eprintln!("xtask: warning: removing cgroup {}: {e}", dir.display());
            }
        }
        let _ = fs::remove_dir_all(&self.tmp);
        if self.unmount_tracefs {
            let _ = Command::new("umount").arg(TRACEFS).status();
        }
    }
}

/// Mounts tracefs unless it is there already; true when it mounted it.
///
/// bpftrace's tracepoints need tracefs (syscage's raw tracepoints do not).
fn mount_tracefs() -> Result<bool> {
    let tracefs = Path::new(TRACEFS);
    if tracefs.join("events").is_dir() {
        return Ok(false);
    }
    let status = Command::new("mount")
        .args(["-t", "tracefs", "nodev"])
        .arg(tracefs)
        .status()
        .context("running mount")?;
    ensure!(
        status.success(),
        "mounting tracefs on {}",
        tracefs.display()
    );
    eprintln!(
        "xtask: mounted tracefs on {} for bpftrace",
        tracefs.display()
    );
    Ok(true)
}

/// Where the cgroup v2 hierarchy is mounted, from this process's mountinfo. The shortest mount
/// point wins, as syscage's own lookup does: a bind mount inside it is not the canonical one.
pub(super) fn cgroup2_mount() -> Result<PathBuf> {
    let mounts = procfs::process::Process::myself()
        .and_then(|me| me.mountinfo())
        .context("reading /proc/self/mountinfo")?;
    mounts
        .into_iter()
        .filter(|mount| mount.fs_type == "cgroup2")
        .map(|mount| mount.mount_point)
        .min_by_key(|point| point.as_os_str().len())
        .context("no cgroup2 mount in /proc/self/mountinfo")
}

/// A cgroup's id, as BPF programs see it: the inode of its directory.
pub(super) fn cgroup_id(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt as _;
    Ok(fs::metadata(dir)
        .with_context(|| format!("stat {}", dir.display()))?
        .ino())
}
