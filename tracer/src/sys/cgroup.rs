//! cgroup v2 discovery and the leaf cgroups `record` runs commands in.
//!
//! The eBPF side keys everything by cgroup v2 id, which is the inode number of the cgroup's
//! directory (that is what `bpf_get_current_cgroup_id()` returns), so a cgroup here is a
//! directory plus that inode number.

use std::{
    fs, io,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context as _, Result};
use procfs::process::MountInfo;

use crate::sys::exit::{ExitCodeExt as _, EXIT_NO_KERNEL_SUPPORT};

/// Directory under the cgroup2 root that holds syscage's own leaves, one per `record`.
const SYSCAGE_PARENT: &str = "syscage";

/// Finds the cgroup2 mount point from `/proc/self/mountinfo`: `/sys/fs/cgroup` on unified
/// hosts, `/sys/fs/cgroup/unified` on hybrid ones (systemd's layout), elsewhere where an admin
/// mounted it.
pub(crate) fn cgroup2_mount() -> Result<PathBuf> {
    let mounts = procfs::process::Process::myself()
        .and_then(|me| me.mountinfo())
        .context("reading /proc/self/mountinfo")?;
    mounts
        .into_iter()
        .filter_map(|mount| cgroup2_mount_point(&mount))
        // The shortest path: the canonical mount rather than a bind mount inside it.
        .min_by_key(|mount| mount.as_os_str().len())
        .context(
            "no cgroup v2 filesystem is mounted (looked in /proc/self/mountinfo); syscage needs \
         cgroup v2: mount it with `mount -t cgroup2 none /sys/fs/cgroup/unified` or boot with \
         systemd.unified_cgroup_hierarchy=1",
        )
        .exit_code(EXIT_NO_KERNEL_SUPPORT)
}

/// Where `mount` is mounted, if it is a cgroup2 filesystem. procfs leaves mountinfo's octal
/// escapes (`\040` for a space) in the mount point: they are undone here.
fn cgroup2_mount_point(mount: &MountInfo) -> Option<PathBuf> {
    (mount.fs_type == "cgroup2")
        .then(|| PathBuf::from(unescape_mountinfo(&mount.mount_point.to_string_lossy())))
}

/// mountinfo escapes space, tab, newline and backslash as octal `\ooo`.
pub(crate) fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        {
            let code =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(code);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 id of a cgroup directory: its inode number.
pub(crate) fn cgroup_id(dir: &Path) -> Result<u64> {
    Ok(fs::metadata(dir)
        .with_context(|| format!("reading cgroup {}", dir.display()))?
        .ino())
}

/// The cgroup2 directory a process is in, from `/proc/<pid>/cgroup` (the `0::<path>` line).
pub(crate) fn cgroup_of_pid(mount: &Path, pid: &str) -> Result<PathBuf> {
    let path = format!("/proc/{pid}/cgroup");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .with_context(|| format!("{path}: no cgroup v2 (`0::`) line"))?;
    Ok(mount.join(rel.trim_start_matches('/')))
}

/// `--cgroup PATH`: absolute (`/sys/fs/cgroup/...`, inside the mount) or relative to the cgroup2
/// mount (`/default/web`, `system.slice/x.service`).
pub(crate) fn resolve_cgroup_arg(mount: &Path, arg: &Path) -> Result<PathBuf> {
    let dir = if arg.starts_with(mount) {
        arg.to_path_buf()
    } else {
        mount.join(arg.strip_prefix("/").unwrap_or(arg))
    };
    anyhow::ensure!(
        dir.join("cgroup.procs").is_file(),
        "--cgroup {}: {} is not a cgroup v2 directory (cgroup2 is mounted at {})",
        arg.display(),
        dir.display(),
        mount.display()
    );
    Ok(dir)
}

/// The path of a cgroup directory relative to the mount, as `/a/b` (`/` for the root).
pub(crate) fn relative_path(mount: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(mount).unwrap_or(dir);
    format!("/{}", rel.to_string_lossy().trim_start_matches('/'))
}

/// Whether any process is in the cgroup or below it (`cgroup.events` `populated 1`); a removed
/// cgroup is not. The root cgroup has no `cgroup.events` (the kernel makes that file for
/// non-root cgroups only) and always holds processes.
pub(crate) fn is_populated(dir: &Path) -> bool {
    match fs::read_to_string(dir.join("cgroup.events")) {
        Ok(events) => events.lines().any(|l| l.trim() == "populated 1"),
        Err(_) => dir.join("cgroup.procs").is_file(),
    }
}

/// The processes directly in a cgroup (not in its sub-cgroups); none if it is gone.
pub(crate) fn procs_of(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Every cgroup below `dir` (not `dir` itself), parents before their children. Cgroups that
/// vanish during the walk are skipped.
pub(crate) fn descendants(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(parent) = stack.pop() {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        let mut children: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        children.sort();
        found.extend(children.iter().cloned());
        stack.extend(children.into_iter().rev());
    }
    found
}

/// Removes the cgroups below `dir`, deepest first, moving the processes still inside them to
/// `home` (a cgroup with processes or sub-cgroups cannot be removed).
fn remove_descendants(dir: &Path, home: &Path) -> Result<()> {
    for sub in descendants(dir).iter().rev() {
        for pid in procs_of(sub) {
            // A process may exit meanwhile (ESRCH): nothing to move then.
            let _ = fs::write(home.join("cgroup.procs"), pid.to_string());
        }
        match fs::remove_dir(sub) {
            Ok(()) => log::debug!("removed cgroup {}", sub.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing cgroup {}", sub.display())),
        }
    }
    Ok(())
}

/// Every cgroup directory below the mount, by id (inode). Cgroups that vanish during the walk
/// are skipped.
pub(crate) fn index_by_id(mount: &Path) -> std::collections::HashMap<u64, PathBuf> {
    let mut index = std::collections::HashMap::new();
    let mut stack = vec![mount.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(id) = cgroup_id(&dir) {
            index.insert(id, dir.clone());
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
    index
}

/// `--container ID`: the cgroup of the container whose id is ID or starts with it (a unique
/// prefix), found by the naming patterns of the runtimes (see `containers`).
pub(crate) fn find_container(mount: &Path, id: &str) -> Result<PathBuf> {
    anyhow::ensure!(!id.is_empty(), "--container: empty container id");
    let mut matches: Vec<(String, PathBuf)> = Vec::new();
    for dir in index_by_id(mount).into_values() {
        let rel = relative_path(mount, &dir);
        if let Some(c) = crate::sys::containers::classify(&rel) {
            // Only the container's own cgroup, not its sub-cgroups.
            if c.cgroup == rel && c.id.starts_with(id) {
                matches.push((c.id, dir));
            }
        }
    }
    matches.sort();
    matches.dedup_by(|a, b| a.1 == b.1);
    // An exact id wins over longer ids it is a prefix of.
    if let Some(exact) = matches.iter().find(|(cid, _)| cid == id) {
        return Ok(exact.1.clone());
    }
    match matches.as_slice() {
        [(_, dir)] => Ok(dir.clone()),
        [] => bail!(
            "--container {id}: no container cgroup with that id (or id prefix) under {}",
            mount.display()
        ),
        many => bail!(
            "--container {id}: the prefix is ambiguous, it matches {}",
            many.iter()
                .map(|(cid, _)| cid.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A fresh leaf cgroup that syscage owns; removed on drop, also on error paths. Processes
/// still inside (a daemon the command left behind) are moved back to syscage's own cgroup
/// first, because a cgroup with members cannot be removed.
#[derive(Debug)]
pub(crate) struct LeafCgroup {
    dir: PathBuf,
    id: u64,
    /// Where leftover processes go: the cgroup syscage itself runs in.
    home: PathBuf,
}

impl LeafCgroup {
    /// Creates `<mount>/syscage/<pid>-<n>`. The name carries our pid so that a later run can
    /// tell leftovers of a syscage that was killed (see [`remove_stale_leaves`]).
    pub(crate) fn create(mount: &Path) -> Result<Self> {
        let parent = mount.join(SYSCAGE_PARENT);
        match fs::create_dir(&parent) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating cgroup {}", parent.display()))
            }
        }
        let pid = std::process::id();
        let home = cgroup_of_pid(mount, "self")?;
        for n in 0..1000 {
            let dir = parent.join(format!("{pid}-{n}"));
            match fs::create_dir(&dir) {
                Ok(()) => {
                    let id = cgroup_id(&dir)?;
                    log::debug!("created cgroup {} (id {id})", dir.display());
                    return Ok(Self { dir, id, home });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("creating cgroup {}", dir.display()))
                }
            }
        }
        bail!("could not create a fresh cgroup under {}", parent.display())
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens `cgroup.procs` for writing. A process that writes `0` into it moves itself in;
    /// the permission check uses the opener's credentials (Linux >= 5.16), so a child that
    /// already dropped to an unprivileged user can still use this root-opened descriptor.
    pub(crate) fn open_procs(&self) -> Result<fs::File> {
        let path = self.dir.join("cgroup.procs");
        fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// Pids still inside the cgroup or in a sub-cgroup the command made.
    pub(crate) fn members(&self) -> Vec<i32> {
        let mut pids = procs_of(&self.dir);
        for sub in descendants(&self.dir) {
            pids.extend(procs_of(&sub));
        }
        pids
    }

    fn remove(&self) -> Result<()> {
        // Sub-cgroups the command made (a nested runtime, a systemd-like workload) go first.
        remove_descendants(&self.dir, &self.home)?;
        let leftovers: Vec<String> = procs_of(&self.dir).iter().map(i32::to_string).collect();
        if !leftovers.is_empty() {
            log::warn!(
                "moving {} process(es) the command left running ({}) out of {} so it can be removed",
                leftovers.len(),
                leftovers.join(" "),
                self.dir.display()
            );
            let home_procs = self.home.join("cgroup.procs");
            for pid in &leftovers {
                // A process may exit meanwhile (ESRCH): nothing to move then.
                let _ = fs::write(&home_procs, pid);
            }
        }
        match fs::remove_dir(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing cgroup {}", self.dir.display())),
        }
    }
}

impl Drop for LeafCgroup {
    fn drop(&mut self) {
        match self.remove() {
            Ok(()) => log::info!("removed cgroup {}", self.dir.display()),
            Err(e) => log::warn!("{e:#}"),
        }
    }
}

/// Removes leaves left behind by a syscage that was killed (SIGKILL gives it no chance to
/// clean up): leaves named after a pid that no longer runs and with no processes inside.
pub(crate) fn remove_stale_leaves(mount: &Path) {
    let parent = mount.join(SYSCAGE_PARENT);
    let Ok(entries) = fs::read_dir(&parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.split_once('-'))
            .map(|(pid, _)| pid.to_owned())
        else {
            continue;
        };
        if Path::new("/proc").join(&owner).exists() {
            continue; // its syscage is still running
        }
        let dir = entry.path();
        // Empty, sub-cgroups included: those the killed run's command made go first.
        let empty = fs::read_to_string(dir.join("cgroup.events"))
            .is_ok_and(|events| events.lines().any(|l| l.trim() == "populated 0"));
        if empty && remove_descendants(&dir, &dir).is_ok() && fs::remove_dir(&dir).is_ok() {
            log::info!(
                "removed stale cgroup {} of an earlier syscage run",
                dir.display()
            );
        }
    }
}

/// Moves the calling process into the cgroup whose `cgroup.procs` is open as `procs`, by
/// writing "0" to it. Only write(2): safe in a child between fork and exec.
pub(crate) fn join_through(procs: std::os::fd::RawFd) -> io::Result<()> {
    // SAFETY: write(2) of a static buffer to a descriptor the caller keeps open.
    if unsafe { libc::write(procs, b"0".as_ptr().cast(), 1) } != 1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_cgroup2_mountinfo_line(line: &str) -> Option<PathBuf> {
        cgroup2_mount_point(&MountInfo::from_line(line).unwrap())
    }

    #[test]
    fn finds_cgroup2_in_mountinfo_lines() {
        let hybrid = "35 25 0:30 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw";
        assert_eq!(
            parse_cgroup2_mountinfo_line(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(
            parse_cgroup2_mountinfo_line(unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        let v1 = "36 25 0:31 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory";
        assert_eq!(parse_cgroup2_mountinfo_line(v1), None);
        let escaped = r"40 25 0:32 / /mnt/my\040cgroup rw - cgroup2 none rw";
        assert_eq!(
            parse_cgroup2_mountinfo_line(escaped),
            Some(PathBuf::from("/mnt/my cgroup"))
        );
    }
}
