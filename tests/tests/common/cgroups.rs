//! cgroup v2 as the kernel shows it: where it is mounted, which cgroup a process is in, the
//! leaves syscage makes, and cgroups a test makes itself.

use std::{
    fs,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use super::{describe, unique_name, wait_for};

/// This process's mounts, from /proc/self/mountinfo.
#[track_caller]
fn mounts() -> Vec<procfs::process::MountInfo> {
    procfs::process::Process::myself()
        .and_then(|me| me.mountinfo())
        .unwrap_or_else(|e| panic!("reading /proc/self/mountinfo: {e}"))
        .into_iter()
        .collect()
}

/// Where cgroup2 is mounted (`/sys/fs/cgroup/unified` on hybrid hosts). The shortest mount
/// point wins, as a bind mount inside it is not the canonical one.
#[track_caller]
pub(crate) fn cgroup2_mount() -> PathBuf {
    mounts()
        .into_iter()
        .filter(|mount| mount.fs_type == "cgroup2")
        .map(|mount| mount.mount_point)
        .min_by_key(|point| point.as_os_str().len())
        .unwrap_or_else(|| {
            panic!("no cgroup2 filesystem in /proc/self/mountinfo; syscage needs cgroup v2")
        })
}

/// Whether a cgroup v1 hierarchy has `controller` (hybrid hosts).
#[track_caller]
pub(crate) fn v1_hierarchy_has(controller: &str) -> bool {
    mounts()
        .iter()
        .any(|mount| mount.fs_type == "cgroup" && mount.super_options.contains_key(controller))
}

/// The cgroup v2 path (relative to the mount, starting with `/`) that process `pid` is in.
#[track_caller]
pub(crate) fn cgroup_of(pid: u32) -> String {
    let path = format!("/proc/{pid}/cgroup");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("{path} has no cgroup v2 line:\n{text}"))
        .to_owned()
}

/// The cgroup v2 directory process `pid` is in.
#[track_caller]
pub(crate) fn cgroup_dir_of(pid: u32) -> PathBuf {
    cgroup2_mount().join(cgroup_of(pid).trim_start_matches('/'))
}

/// The cgroup directory this test process runs in.
#[track_caller]
pub(crate) fn own_cgroup_dir() -> PathBuf {
    cgroup_dir_of(std::process::id())
}

/// The leaf cgroups syscage process `pid` created (`<cgroup2>/syscage/<pid>-<n>`).
pub(crate) fn leaves_of(pid: u32) -> Vec<PathBuf> {
    let parent = cgroup2_mount().join("syscage");
    let prefix = format!("{pid}-");
    let Ok(entries) = fs::read_dir(&parent) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Starts `program args...` in cgroup directory `dir`: a shell moves itself in (`echo $$ >
/// cgroup.procs`) and execs the program, as a runtime's init does. stdin is piped (the fault
/// prober's `hold` waits for its EOF), stdout is piped.
#[track_caller]
pub(crate) fn spawn_in_cgroup(dir: &Path, program: &str, args: &[&str]) -> Child {
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", r#"echo $$ > "$0/cgroup.procs" && exec "$@""#])
        .arg(dir)
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd.spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", describe(&cmd)))
}

/// A cgroup made directly under the cgroup2 mount, `/syscage-e2e-<pid>-<n>-<tag>`, the way runc
/// makes a container's (syscage takes a top-level leaf for a runc/crun container named after
/// it). Dropping it kills what is left inside and removes it.
pub(crate) struct TopCgroup {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    /// Its cgroup id (the directory's inode number), as syscage's messages name it.
    pub(crate) id: u64,
}

impl TopCgroup {
    #[track_caller]
    pub(crate) fn create(tag: &str) -> Self {
        let name = unique_name(tag);
        let dir = cgroup2_mount().join(&name);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating cgroup {}: {e}", dir.display()));
        let id = fs::metadata(&dir)
            .unwrap_or_else(|e| panic!("stat {}: {e}", dir.display()))
            .ino();
        Self { name, dir, id }
    }

    /// Starts `program args...` inside (see [`spawn_in_cgroup`]).
    #[track_caller]
    pub(crate) fn spawn(&self, program: &str, args: &[&str]) -> Child {
        spawn_in_cgroup(&self.dir, program, args)
    }

    /// Pids inside.
    pub(crate) fn procs(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Removes it; it must be empty (waits a little for exiting tasks to leave).
    #[track_caller]
    pub(crate) fn remove(self) {
        let dir = self.dir.clone();
        wait_for(
            Duration::from_secs(10),
            "an empty cgroup to be removable",
            || match fs::remove_dir(&dir) {
                Ok(()) => Some(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(()),
                Err(_) => None,
            },
        );
        std::mem::forget(self);
    }
}

impl Drop for TopCgroup {
    fn drop(&mut self) {
        // cgroup.kill (Linux 5.14) SIGKILLs everything inside; then the directory can go.
        let _ = fs::write(self.dir.join("cgroup.kill"), "1");
        let start = Instant::now();
        while fs::remove_dir(&self.dir).is_err()
            && self.dir.exists()
            && start.elapsed() < Duration::from_secs(5)
        {
            thread::sleep(Duration::from_millis(10));
        }
    }
}
