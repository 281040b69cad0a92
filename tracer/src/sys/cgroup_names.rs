//! Names for cgroup ids, kept current by inotify.
//!
//! `record --all` learns a cgroup's id when the eBPF program inserts it, and needs its path to
//! tell which container it belongs to. A short-lived container (`runc run` of a short command
//! creates, uses and removes its cgroup between two polls) is gone before any poll of the tree
//! could see it, so a thread follows directory creation in the whole cgroup2
//! tree and remembers every cgroup's path, also after it is removed.

use std::{
    collections::HashMap,
    ffi::OsStr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Instant,
};

use anyhow::{Context as _, Result};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use crate::sys::cgroup;

/// cgroup id -> path; shared with the watcher thread.
#[derive(Clone)]
pub(crate) struct CgroupNames {
    /// id -> (path, when it was first seen: at the start, or at its creation).
    known: Arc<Mutex<HashMap<u64, (PathBuf, Instant)>>>,
}

impl CgroupNames {
    /// Indexes the tree and starts following it.
    pub(crate) fn follow(mount: &Path) -> Result<Self> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC).context("inotify_init")?;
        let names = Self {
            known: Arc::new(Mutex::new(HashMap::new())),
        };
        let mut dirs: HashMap<WatchDescriptor, PathBuf> = HashMap::new();
        // Watch first, then index, so nothing created in between is missed.
        add_tree(&inotify, mount, &mut dirs, &names);
        let thread_names = names.clone();
        std::thread::spawn(move || loop {
            let Ok(events) = inotify.read_events() else {
                return;
            };
            for event in events {
                let (Some(parent), Some(name)) = (dirs.get(&event.wd).cloned(), event.name) else {
                    continue;
                };
                if event.mask.contains(AddWatchFlags::IN_ISDIR)
                    && event.mask.contains(AddWatchFlags::IN_CREATE)
                {
                    add_tree(
                        &inotify,
                        &parent.join(OsStr::new(&name)),
                        &mut dirs,
                        &thread_names,
                    );
                }
            }
        });
        Ok(names)
    }

    pub(crate) fn path_of(&self, id: u64) -> Option<PathBuf> {
        self.known
            .lock()
            .ok()?
            .get(&id)
            .map(|(path, _)| path.clone())
    }

    /// When the cgroup was first seen: its creation for cgroups made while following.
    pub(crate) fn seen_at(&self, id: u64) -> Option<Instant> {
        self.known.lock().ok()?.get(&id).map(|(_, at)| *at)
    }

    /// Every cgroup known, by id (including removed ones).
    pub(crate) fn snapshot(&self) -> HashMap<u64, PathBuf> {
        self.known
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(id, (path, _))| (*id, path.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn insert(&self, id: u64, path: PathBuf) {
        if let Ok(mut known) = self.known.lock() {
            known.entry(id).or_insert((path, Instant::now()));
        }
    }
}

/// Watches `top` and every directory below it for new subdirectories and records their ids.
fn add_tree(
    inotify: &Inotify,
    top: &Path,
    dirs: &mut HashMap<WatchDescriptor, PathBuf>,
    names: &CgroupNames,
) {
    let mut stack = vec![top.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(wd) =
            inotify.add_watch(&dir, AddWatchFlags::IN_CREATE | AddWatchFlags::IN_ONLYDIR)
        {
            dirs.insert(wd, dir.clone());
        }
        if let Ok(id) = cgroup::cgroup_id(&dir) {
            names.insert(id, dir.clone());
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(entry.path());
            }
        }
    }
}
