//! Root filesystem writes on an overlay root, seen from its upper directory.
//!
//! The security programs count a write when the dirty inode is on the superblock of the task's
//! root. On an overlay root (Podman, containerd, Docker, CRI-O) the dirty inode is the upper
//! layer's, on the host's filesystem, so those writes escape them. Everything a container
//! changes on an overlay root lands in the upper directory, though: a snapshot of that tree
//! when the recording starts, compared with the tree when it ends, names what was created,
//! changed or deleted (a whiteout, a 0/0 character device, marks a deletion).
//!
//! When the root is neither what the programs see nor an overlay whose upper directory can be
//! read at both ends, the writes are marked `unobserved`, so nothing advises a read-only root
//! on no evidence.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    os::unix::fs::{FileTypeExt as _, MetadataExt as _},
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use profile_gen::{model::security::MAX_ROOT_FILESYSTEM_PATHS, RootFilesystemWrites};

use crate::sys::cgroup;

/// Entries a snapshot of an upper directory holds, at most (a walk stops there).
const MAX_ENTRIES: usize = 200_000;

/// Upper directories walked again at each poll hold at most this many entries.
const MAX_REWALKED_ENTRIES: usize = 1_000;

/// How far before the first snapshot a change time still counts as a write of the recording:
/// the walk is not atomic, and the kernel stamps change times from a coarse clock.
const CTIME_SLACK: Duration = Duration::from_millis(50);

/// What is known of one entry of the upper directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    directory: bool,
    /// File type and permission bits.
    mode: u32,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    rdev: u64,
}

/// A walk of an upper directory: path as the container sees it -> entry.
#[derive(Debug, Default, Clone)]
struct Snapshot {
    entries: BTreeMap<String, Entry>,
    /// The walk stopped at [`MAX_ENTRIES`].
    truncated: bool,
}

/// The root of a recorded workload, as far as root filesystem writes go.
#[derive(Debug)]
enum State {
    /// No task of the cgroups was seen yet to read its mount table.
    NoTaskYet,
    /// A root the security programs watch themselves.
    SeenByPrograms,
    /// An overlay root and its upper directory's first snapshot.
    Overlay {
        upper: PathBuf,
        mount_points: BTreeSet<String>,
        before: Snapshot,
        since_ns: i128,
    },
    /// Writes cannot be seen, and why.
    Unobserved(String),
}

/// Watches the root filesystem of the tasks of some cgroups for writes the security programs
/// cannot see. [`OverlayWatch::poll`] until a task is seen, then [`OverlayWatch::finish`].
#[derive(Debug)]
pub(crate) struct OverlayWatch {
    state: State,
    /// For a container watched from its creation: when that was (ns since the epoch). Its
    /// runtime sets its root up on the host's root first, so only a task that left that root
    /// shows the container's; by then the workload may have written, so everything the upper
    /// directory changed since this time counts, with no first snapshot.
    created_ns: Option<i128>,
    /// The upper directory's last walk while the workload ran: what is left to tell when the
    /// runtime removes the directory before the recording ends (`podman run --rm`).
    latest: Option<Snapshot>,
}

impl OverlayWatch {
    /// For workloads that run already: their writes from now on.
    pub(crate) fn new() -> Self {
        Self {
            state: State::NoTaskYet,
            created_ns: None,
            latest: None,
        }
    }

    /// For a container recorded from its creation, at `created` or later.
    pub(crate) fn from_creation(created: SystemTime) -> Self {
        Self {
            state: State::NoTaskYet,
            created_ns: Some(ns_since_epoch(created)),
            latest: None,
        }
    }

    /// For a container recorded from its creation, at `created` or later, whose OCI bundle is
    /// `bundle`: its root is known from the bundle's `root.path` and the host's mount table at
    /// once, with no task to wait for (a short container may end within one poll). Falls back
    /// to [`OverlayWatch::from_creation`] when the bundle cannot be read.
    pub(crate) fn of_bundle(bundle: &Path, created: SystemTime) -> Self {
        let mut watch = Self::from_creation(created);
        match root_of_bundle(bundle) {
            Ok(State::Overlay {
                upper,
                mount_points,
                before,
                ..
            }) => {
                watch.state = State::Overlay {
                    upper,
                    mount_points,
                    before,
                    since_ns: ns_since_epoch(created),
                }
            }
            Ok(state) => watch.state = state,
            Err(why) => log::info!("{why}; the root is looked for in the container's tasks"),
        }
        if let State::Overlay { upper, .. } = &watch.state {
            log::info!(
                "overlay root of bundle {}: its upper directory {} is compared at the end",
                bundle.display(),
                upper.display()
            );
        }
        watch
    }

    /// Whether [`OverlayWatch::poll`] still waits for a task to look at.
    pub(crate) fn waits_for_a_task(&self) -> bool {
        matches!(self.state, State::NoTaskYet)
    }

    /// Looks at the root of the first task found in `cgroups`, once: on an overlay root, takes
    /// the upper directory's first snapshot. Once the root is known, walks its upper directory
    /// again (while it stays small), for [`OverlayWatch::finish`] to fall back on.
    pub(crate) fn poll(&mut self, cgroups: &[PathBuf]) {
        if let State::Overlay { upper, .. } = &self.state {
            let small = self
                .latest
                .as_ref()
                .is_none_or(|latest| latest.entries.len() <= MAX_REWALKED_ENTRIES);
            if small {
                if let Ok(latest) = walk(upper) {
                    self.latest = Some(latest);
                }
            }
            return;
        }
        if !matches!(self.state, State::NoTaskYet) {
            return;
        }
        let Some(pid) = cgroups.iter().flat_map(|dir| cgroup::procs_of(dir)).next() else {
            return;
        };
        if self.created_ns.is_some() && !left_host_root(pid) {
            return;
        }
        self.state = match root_of(pid) {
            Ok(Root::Overlay {
                upper,
                mount_points,
            }) if self.created_ns.is_some() => {
                log::info!(
                    "overlay root of pid {pid}: its upper directory {} is compared at the end",
                    upper.display()
                );
                State::Overlay {
                    upper,
                    mount_points,
                    before: Snapshot {
                        entries: BTreeMap::new(),
                        truncated: true,
                    },
                    since_ns: self.created_ns.unwrap_or_default(),
                }
            }
            Ok(Root::Overlay {
                upper,
                mount_points,
            }) => {
                let since_ns = ns_since_epoch(SystemTime::now() - CTIME_SLACK);
                match walk(&upper) {
                    Ok(before) => {
                        log::info!(
                            "overlay root of pid {pid}: watching its upper directory {} ({} \
                             entries)",
                            upper.display(),
                            before.entries.len()
                        );
                        State::Overlay {
                            upper,
                            mount_points,
                            before,
                            since_ns,
                        }
                    }
                    Err(why) => State::Unobserved(why),
                }
            }
            Ok(Root::Other) => State::SeenByPrograms,
            // The task left before its mount table was read: the next one will do.
            Err(_) if !Path::new(&format!("/proc/{pid}")).exists() => State::NoTaskYet,
            Err(why) => State::Unobserved(why),
        };
        if let State::Unobserved(why) = &self.state {
            log::warn!("root filesystem writes are not observed: {why}");
        }
    }

    /// What was written on the root that the security programs could not see: `Ok(None)` when
    /// they saw it all.
    pub(crate) fn finish(&self) -> Result<Option<RootFilesystemWrites>, String> {
        match &self.state {
            State::NoTaskYet => Err(
                "no task of the recorded cgroups was seen long enough to find its root filesystem"
                    .to_owned(),
            ),
            State::SeenByPrograms => Ok(None),
            State::Unobserved(why) => Err(why.clone()),
            State::Overlay {
                upper,
                mount_points,
                before,
                since_ns,
            } => {
                let gone = format!(
                    "the overlay upper directory {} was gone when the recording ended",
                    upper.display()
                );
                let (after, unobserved) = match (upper.is_dir(), &self.latest) {
                    (true, _) => (walk(upper)?, None),
                    (false, None) => return Err(gone),
                    // Changes after that walk are lost: said, but what it shows is kept.
                    (false, Some(latest)) => (latest.clone(), Some(gone)),
                };
                let mut changed = changes(before, &after, *since_ns, mount_points);
                if self.created_ns.is_some() && after.entries.get(MTAB).is_some_and(is_symlink) {
                    // The runtime links /etc/mtab to /proc/mounts while it sets the root up.
                    changed.remove(MTAB);
                }
                if after.truncated && changed.is_empty() {
                    return Err(format!(
                        "the overlay upper directory {} has more than {MAX_ENTRIES} entries",
                        upper.display()
                    ));
                }
                let mut writes = writes_of(changed, after.truncated);
                if let Some(why) = unobserved {
                    if writes.count == 0 {
                        return Err(why);
                    }
                    writes.unobserved = Some(format!("{why}; the paths are from its last walk"));
                }
                Ok(Some(writes))
            }
        }
    }
}

/// Adds what [`OverlayWatch::finish`] found to what the security programs saw.
pub(crate) fn unite(
    writes: &mut RootFilesystemWrites,
    found: Result<Option<RootFilesystemWrites>, String>,
) {
    match found {
        Ok(None) => {}
        Ok(Some(overlay)) => {
            let paths: BTreeSet<String> = writes.paths.drain(..).chain(overlay.paths).collect();
            writes.truncated |= overlay.truncated || paths.len() > MAX_ROOT_FILESYSTEM_PATHS;
            writes.paths = paths.into_iter().take(MAX_ROOT_FILESYSTEM_PATHS).collect();
            // The programs and the walk mostly see different writes, but a file both saw is one
            // change: the larger count never counts it twice.
            writes.count = writes
                .count
                .max(overlay.count)
                .max(writes.paths.len() as u64);
            if overlay.unobserved.is_some() {
                writes.unobserved = overlay.unobserved;
            }
        }
        Err(why) => writes.unobserved = Some(why),
    }
}

/// Where runtimes link `/proc/mounts` from.
const MTAB: &str = "/etc/mtab";

fn is_symlink(entry: &Entry) -> bool {
    entry.mode & libc::S_IFMT == libc::S_IFLNK
}

/// Whether `pid`'s root is another directory than syscage's own (the host's): a container's
/// task that its runtime moved into the container's root. `false` when it cannot be told.
fn left_host_root(pid: i32) -> bool {
    match (
        fs::metadata(format!("/proc/{pid}/root")),
        fs::metadata("/proc/self/root"),
    ) {
        (Ok(task), Ok(own)) => (task.dev(), task.ino()) != (own.dev(), own.ino()),
        _ => false,
    }
}

/// A task's root filesystem.
#[derive(Debug)]
enum Root {
    Overlay {
        upper: PathBuf,
        /// Every mount point of the task's mount table but its root, as the task sees it.
        mount_points: BTreeSet<String>,
    },
    Other,
}

/// The root of the container of OCI bundle `bundle`: its `root.path` in the host's mount table
/// (syscage's own). Mount points are the spec's mount destinations.
fn root_of_bundle(bundle: &Path) -> Result<State, String> {
    let config = bundle.join("config.json");
    let spec = oci_spec::runtime::Spec::load(&config)
        .map_err(|e| format!("reading {}: {e}", config.display()))?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| format!("{}: no root", config.display()))?;
    let rootfs = bundle.join(root.path());
    let rootfs = fs::canonicalize(&rootfs).unwrap_or(rootfs);
    let mount_points: BTreeSet<String> = spec
        .mounts()
        .iter()
        .flatten()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .filter(|d| d != "/")
        .collect();
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    Ok(state_of_rootfs(&mountinfo, &rootfs, mount_points))
}

/// What the mount holding `rootfs` (the one with the longest mount point above it, the last of
/// equals) in a mountinfo text says about writes to it.
fn state_of_rootfs(mountinfo: &str, rootfs: &Path, mount_points: BTreeSet<String>) -> State {
    let mut holder: Option<(PathBuf, &str)> = None;
    for line in mountinfo.lines() {
        let Some((mount, filesystem)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = mount.split(' ').nth(4) else {
            continue;
        };
        let point = PathBuf::from(cgroup::unescape_mountinfo(point));
        let longer = holder
            .as_ref()
            .is_none_or(|(held, _)| point.as_os_str().len() >= held.as_os_str().len());
        if rootfs.starts_with(&point) && longer {
            holder = Some((point, filesystem));
        }
    }
    let Some((point, filesystem)) = holder else {
        return State::Unobserved(format!("no mount holds the root {}", rootfs.display()));
    };
    let mut fields = filesystem.split(' ');
    let fs_type = fields.next().unwrap_or_default();
    let options = fields.nth(1).unwrap_or_default();
    let upper = options
        .split(',')
        .find_map(|option| option.strip_prefix("upperdir="));
    match (fs_type, upper) {
        ("overlay", Some(upper)) if point == rootfs => State::Overlay {
            upper: PathBuf::from(cgroup::unescape_mountinfo(upper)),
            mount_points,
            before: Snapshot {
                entries: BTreeMap::new(),
                truncated: true,
            },
            since_ns: 0,
        },
        // A read-only overlay cannot be written.
        ("overlay", None) if point == rootfs => State::SeenByPrograms,
        ("overlay", _) => State::Unobserved(format!(
            "the root {} is a directory inside an overlay mounted at {}",
            rootfs.display(),
            point.display()
        )),
        (fuse, _) if fuse.starts_with("fuse") => State::Unobserved(format!(
            "the root {} is on a {fuse} filesystem, whose writes the recorder cannot see",
            rootfs.display()
        )),
        _ => State::SeenByPrograms,
    }
}

/// The root filesystem of `pid`, from its mount table.
fn root_of(pid: i32) -> Result<Root, String> {
    let path = format!("/proc/{pid}/mountinfo");
    let text = fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    root_in(&text).map_err(|why| format!("{path}: {why}"))
}

/// [`root_of`] from a mountinfo text: the last mount on `/` is the root.
fn root_in(mountinfo: &str) -> Result<Root, String> {
    let mut root = None;
    let mut mount_points = BTreeSet::new();
    for line in mountinfo.lines() {
        let Some((mount, filesystem)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = mount.split(' ').nth(4) else {
            continue;
        };
        let point = cgroup::unescape_mountinfo(point);
        if point == "/" {
            root = Some(filesystem);
        } else {
            mount_points.insert(point);
        }
    }
    let filesystem = root.ok_or("no mount on /")?;
    let mut fields = filesystem.split(' ');
    let fs_type = fields.next().unwrap_or_default();
    let options = fields.nth(1).unwrap_or_default();
    if fs_type == "overlay" {
        let upper = options
            .split(',')
            .find_map(|option| option.strip_prefix("upperdir="))
            .ok_or("the overlay root has no upperdir (a read-only overlay cannot be written)");
        return match upper {
            Ok(upper) => Ok(Root::Overlay {
                upper: PathBuf::from(cgroup::unescape_mountinfo(upper)),
                mount_points,
            }),
            // Nothing can be written there.
            Err(_) => Ok(Root::Other),
        };
    }
    if fs_type.starts_with("fuse") {
        // fuse-overlayfs and the like: the daemon writes, on behalf of the workload.
        return Err(format!(
            "the root filesystem is {fs_type}, whose writes the recorder cannot see"
        ));
    }
    Ok(Root::Other)
}

/// Walks `upper`, depth first in name order, up to [`MAX_ENTRIES`] entries.
fn walk(upper: &Path) -> Result<Snapshot, String> {
    let mut snapshot = Snapshot::default();
    let mut pending = vec![(upper.to_path_buf(), String::new())];
    while let Some((dir, seen_as)) = pending.pop() {
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            // A directory removed during the walk is a change the next walk sees.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !seen_as.is_empty() => continue,
            Err(e) => {
                return Err(format!(
                    "reading the overlay upper directory {}: {e}",
                    dir.display()
                ))
            }
        };
        let mut names: Vec<_> = listing
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names.into_iter().rev() {
            if snapshot.entries.len() >= MAX_ENTRIES {
                snapshot.truncated = true;
                return Ok(snapshot);
            }
            let path = dir.join(&name);
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            let inside = format!("{seen_as}/{}", name.to_string_lossy());
            let entry = Entry {
                directory: meta.is_dir(),
                mode: meta.mode(),
                size: if meta.is_dir() { 0 } else { meta.size() },
                mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
                ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
                rdev: if meta.file_type().is_char_device() {
                    meta.rdev()
                } else {
                    0
                },
            };
            if entry.directory {
                pending.push((path, inside.clone()));
            }
            snapshot.entries.insert(inside, entry);
        }
    }
    Ok(snapshot)
}

/// The paths changed between two walks: new entries (a whiteout among them is a deletion),
/// changed ones, ones changed since `since_ns`, and removed ones; not mount points or what is
/// below them (the runtime made those), and a directory only when nothing below it is listed
/// (copying a file up makes its parent directories: the file is the change).
fn changes(
    before: &Snapshot,
    after: &Snapshot,
    since_ns: i128,
    mount_points: &BTreeSet<String>,
) -> BTreeSet<String> {
    let is_mount = |path: &str| {
        mount_points.iter().any(|m| {
            path == m
                || path
                    .strip_prefix(m.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
    };
    let holds_mount = |path: &str| {
        mount_points
            .iter()
            .any(|m| m.strip_prefix(path).is_some_and(|r| r.starts_with('/')))
    };
    let mut changed: BTreeSet<String> = after
        .entries
        .iter()
        .filter(|(path, entry)| match before.entries.get(*path) {
            Some(old) => old != *entry || entry.ctime_ns >= since_ns,
            None => !before.truncated || entry.ctime_ns >= since_ns,
        })
        .map(|(path, _)| path.clone())
        .collect();
    if !after.truncated {
        changed.extend(
            before
                .entries
                .keys()
                .filter(|path| !after.entries.contains_key(*path))
                .cloned(),
        );
    }
    changed.retain(|path| !is_mount(path));
    let directory = |path: &str| {
        after
            .entries
            .get(path)
            .or_else(|| before.entries.get(path))
            .is_some_and(|e| e.directory)
    };
    let leaves: BTreeSet<String> = changed
        .iter()
        .filter(|path| {
            !directory(path)
                || (!holds_mount(path)
                    && !changed
                        .range::<String, _>((*path).clone()..)
                        .skip(1)
                        .take_while(|p| p.starts_with(path.as_str()))
                        .any(|p| p[path.len()..].starts_with('/')))
        })
        .cloned()
        .collect();
    leaves
}

fn writes_of(changed: BTreeSet<String>, truncated: bool) -> RootFilesystemWrites {
    RootFilesystemWrites {
        count: changed.len() as u64,
        truncated: changed.len() > MAX_ROOT_FILESYSTEM_PATHS,
        paths: changed.into_iter().take(MAX_ROOT_FILESYSTEM_PATHS).collect(),
        unobserved: truncated.then(|| {
            format!("the overlay upper directory has more than {MAX_ENTRIES} entries: only the first were compared")
        }),
    }
}

fn ns_since_epoch(time: SystemTime) -> i128 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODMAN_MOUNTINFO: &str = "\
79 51 0:41 / / rw,relatime - overlay overlay rw,lowerdir=/s/l/B,upperdir=/s/16e6/diff,workdir=/s/16e6/work,uuid=on
80 79 0:44 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
81 79 0:45 / /dev rw,nosuid,noexec - tmpfs tmpfs rw,size=65536k,mode=755
85 79 254:0 /run/u/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw
87 79 254:0 /run/u/.containerenv /run/.containerenv rw,relatime - ext4 /dev/vda rw
88 79 254:0 /data /var/my\\040data rw,relatime - ext4 /dev/vda rw
";

    #[test]
    fn an_overlay_root_names_its_upper_dir_and_mount_points() {
        let Ok(Root::Overlay {
            upper,
            mount_points,
        }) = root_in(PODMAN_MOUNTINFO)
        else {
            panic!("expected an overlay root");
        };
        assert_eq!(upper, Path::new("/s/16e6/diff"));
        assert_eq!(
            mount_points.into_iter().collect::<Vec<_>>(),
            [
                "/dev",
                "/etc/hosts",
                "/proc",
                "/run/.containerenv",
                "/var/my data"
            ]
        );
        let ext4 = "1 0 254:0 / / rw - ext4 /dev/vda rw\n";
        assert!(matches!(root_in(ext4), Ok(Root::Other)));
        let fuse = "1 0 0:9 / / rw - fuse.fuse-overlayfs fuse-overlayfs rw\n";
        assert!(root_in(fuse).unwrap_err().contains("fuse.fuse-overlayfs"));
        assert!(root_in("").is_err());
    }

    #[test]
    fn a_bundle_root_is_judged_by_the_mount_that_holds_it() {
        let host = "\
1 0 254:0 / / rw - ext4 /dev/vda rw
2 1 0:50 / /var/lib/s/overlay/abc/merged rw - overlay overlay rw,lowerdir=/l,upperdir=/var/lib/s/overlay/abc/diff,workdir=/w
3 1 0:51 / /var/lib/ro rw - overlay overlay ro,lowerdir=/a:/b
4 1 0:52 / /home/u/fuse rw - fuse.fuse-overlayfs fuse-overlayfs rw
";
        let of = |rootfs: &str| state_of_rootfs(host, Path::new(rootfs), BTreeSet::new());
        let State::Overlay { upper, .. } = of("/var/lib/s/overlay/abc/merged") else {
            panic!("expected an overlay");
        };
        assert_eq!(upper, Path::new("/var/lib/s/overlay/abc/diff"));
        assert!(matches!(of("/srv/bundle/rootfs"), State::SeenByPrograms));
        assert!(matches!(of("/var/lib/ro"), State::SeenByPrograms));
        assert!(matches!(
            of("/var/lib/s/overlay/abc/merged/sub"),
            State::Unobserved(_)
        ));
        assert!(matches!(of("/home/u/fuse/root"), State::Unobserved(_)));
    }

    fn entry(directory: bool, size: u64, ctime_ns: i128) -> Entry {
        Entry {
            directory,
            mode: if directory { 0o40755 } else { 0o100644 },
            size,
            mtime_ns: ctime_ns,
            ctime_ns,
            rdev: 0,
        }
    }

    fn snapshot(entries: &[(&str, Entry)]) -> Snapshot {
        Snapshot {
            entries: entries.iter().map(|(p, e)| ((*p).to_owned(), *e)).collect(),
            truncated: false,
        }
    }

    #[test]
    fn new_changed_and_deleted_files_are_writes_but_copied_up_dirs_and_mounts_are_not() {
        let (old, new) = (10, 100);
        let before = snapshot(&[
            ("/etc", entry(true, 0, old)),
            ("/etc/hosts", entry(false, 0, old)),
            ("/run", entry(true, 0, old)),
            ("/run/.containerenv", entry(false, 0, old)),
            ("/tmp", entry(true, 0, old)),
            ("/tmp/gone", entry(false, 3, old)),
            ("/tmp/grows", entry(false, 3, old)),
        ]);
        let mut whiteout = entry(false, 0, new);
        whiteout.mode = 0o20000;
        let after = snapshot(&[
            ("/etc", entry(true, 0, old)),
            ("/etc/hosts", entry(false, 40, new)),
            ("/run", entry(true, 0, old)),
            ("/run/.containerenv", entry(false, 0, old)),
            ("/tmp", entry(true, 0, new)),
            ("/tmp/grows", entry(false, 9, new)),
            ("/usr", entry(true, 0, new)),
            ("/usr/bin", entry(true, 0, new)),
            ("/usr/bin/old-tool", whiteout),
            ("/var", entry(true, 0, new)),
            ("/var/cache", entry(true, 0, new)),
            ("/var/cache/app", entry(true, 0, new)),
            ("/var/cache/app/x", entry(false, 2, new)),
            ("/var/empty-new-dir", entry(true, 0, new)),
        ]);
        let mounts = ["/etc/hosts", "/run/.containerenv", "/proc"]
            .map(String::from)
            .into();
        assert_eq!(
            changes(&before, &after, 50, &mounts)
                .into_iter()
                .collect::<Vec<_>>(),
            [
                "/tmp/gone",
                "/tmp/grows",
                "/usr/bin/old-tool",
                "/var/cache/app/x",
                "/var/empty-new-dir"
            ]
        );
        assert!(changes(&before, &before, 50, &mounts).is_empty());
    }

    #[test]
    fn past_a_truncated_first_walk_only_recent_changes_count() {
        let mut before = snapshot(&[]);
        before.truncated = true;
        let after = snapshot(&[
            ("/old", entry(false, 1, 10)),
            ("/new", entry(false, 1, 100)),
        ]);
        assert_eq!(
            changes(&before, &after, 50, &BTreeSet::new())
                .into_iter()
                .collect::<Vec<_>>(),
            ["/new"]
        );
    }

    #[test]
    fn a_real_upper_dir_shows_what_was_written_between_two_walks() {
        let upper = tempfile::tempdir().unwrap();
        fs::create_dir_all(upper.path().join("etc")).unwrap();
        fs::write(upper.path().join("etc/hosts"), "").unwrap();
        let before = walk(upper.path()).unwrap();
        fs::create_dir_all(upper.path().join("var/cache/app")).unwrap();
        fs::write(upper.path().join("var/cache/app/x"), "x").unwrap();
        let after = walk(upper.path()).unwrap();
        let mounts = BTreeSet::from(["/etc/hosts".to_owned()]);
        let found = writes_of(
            changes(&before, &after, i128::MAX, &mounts),
            after.truncated,
        );
        assert_eq!(found.paths, ["/var/cache/app/x"]);
        assert_eq!(found.count, 1);
        assert_eq!(found.unobserved, None);
    }

    #[test]
    fn an_upper_dir_removed_before_the_end_leaves_its_last_walk_and_says_so() {
        let upper = tempfile::tempdir().unwrap();
        let watch_of = |upper: &Path| OverlayWatch {
            state: State::Overlay {
                upper: upper.to_path_buf(),
                mount_points: BTreeSet::new(),
                before: walk(upper).unwrap(),
                since_ns: i128::MAX,
            },
            created_ns: None,
            latest: None,
        };
        let mut watch = watch_of(upper.path());
        fs::write(upper.path().join("state"), "x").unwrap();
        watch.poll(&[]);
        let mut unwritten = watch_of(upper.path());
        unwritten.poll(&[]);
        let path = upper.path().to_path_buf();
        drop(upper);
        assert!(!path.exists());
        let found = watch.finish().unwrap().expect("an overlay root");
        assert_eq!(found.paths, ["/state"]);
        assert!(found.unobserved.unwrap().contains("was gone"));
        assert!(unwritten.finish().unwrap_err().contains("was gone"));
    }

    #[test]
    fn united_writes_keep_the_union_and_any_reason_they_may_be_incomplete() {
        let mut writes = RootFilesystemWrites {
            count: 1,
            paths: vec!["/b".into()],
            ..RootFilesystemWrites::default()
        };
        let overlay = RootFilesystemWrites {
            count: 2,
            paths: vec!["/a".into(), "/b".into()],
            ..RootFilesystemWrites::default()
        };
        unite(&mut writes, Ok(Some(overlay)));
        assert_eq!(writes.paths, ["/a", "/b"]);
        assert_eq!(writes.count, 2);
        assert_eq!(writes.unobserved, None);
        unite(&mut writes, Err("upper gone".into()));
        assert_eq!(writes.unobserved.as_deref(), Some("upper gone"));
    }
}
