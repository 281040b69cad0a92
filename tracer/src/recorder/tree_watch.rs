//! What happens around recorded cgroups that their ids alone do not show: sub-cgroups made
//! after the recorder was loaded (outside `--all` its cgroups are fixed at load time) and
//! processes that move out. Neither is recorded; each is reported once, so that a profile that
//! misses them says why.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use crate::sys::cgroup;

pub(crate) struct TreeWatch {
    mount: PathBuf,
    /// The cgroup the user asked for (or the command's leaf); its whole subtree is followed.
    top: PathBuf,
    /// The cgroups whose syscalls are recorded.
    recorded: BTreeSet<PathBuf>,
    /// Sub-cgroups seen so far, recorded or reported.
    known: BTreeSet<PathBuf>,
    /// Processes in the recorded cgroups at the last poll.
    members: BTreeSet<i32>,
    reported: BTreeSet<i32>,
}

impl TreeWatch {
    /// Starts following `top`; `recorded` are the cgroups (`top` among them) the recorder
    /// watches. Sub-cgroups present now but not recorded are reported at once.
    pub(crate) fn new(mount: &Path, top: &Path, recorded: &[PathBuf]) -> Self {
        let recorded: BTreeSet<PathBuf> = recorded.iter().cloned().collect();
        let known: BTreeSet<PathBuf> = cgroup::descendants(top).into_iter().collect();
        let left_out: Vec<String> = known
            .iter()
            .filter(|dir| !recorded.contains(*dir))
            .map(|dir| cgroup::relative_path(mount, dir))
            .collect();
        if !left_out.is_empty() {
            log::warn!(
                "{} has {} more sub-cgroups than syscage can record at once outside --all ({} \
                 cgroups): syscalls made in these are not recorded: {}",
                cgroup::relative_path(mount, top),
                left_out.len(),
                tracer_common::MAX_SLOTS,
                abbreviate(&left_out)
            );
        }
        let mut watch = Self {
            mount: mount.to_path_buf(),
            top: top.to_path_buf(),
            recorded,
            known,
            members: BTreeSet::new(),
            reported: BTreeSet::new(),
        };
        watch.members = watch.current_members();
        watch
    }

    /// Reports sub-cgroups that appeared and processes that left since the last poll.
    pub(crate) fn poll(&mut self) {
        for dir in cgroup::descendants(&self.top) {
            if self.known.insert(dir.clone()) {
                log::warn!(
                    "{} appeared below the recorded cgroup {} after recording started: syscalls \
                     made in it are not recorded",
                    cgroup::relative_path(&self.mount, &dir),
                    cgroup::relative_path(&self.mount, &self.top)
                );
            }
        }
        let members = self.current_members();
        for &pid in self.members.difference(&members) {
            if self.reported.contains(&pid) || !is_alive(pid) {
                continue;
            }
            let Ok(now_in) = cgroup::cgroup_of_pid(&self.mount, &pid.to_string()) else {
                continue; // exited meanwhile
            };
            if self.recorded.contains(&now_in) {
                continue;
            }
            log::warn!(
                "process {pid} ({}) moved out of the recorded cgroup {} to {}: what it does from \
                 now on is not recorded",
                command_name(pid),
                cgroup::relative_path(&self.mount, &self.top),
                cgroup::relative_path(&self.mount, &now_in)
            );
            self.reported.insert(pid);
        }
        self.members = members;
    }

    fn current_members(&self) -> BTreeSet<i32> {
        self.recorded
            .iter()
            .flat_map(|dir| cgroup::procs_of(dir))
            .collect()
    }
}

/// A process that still runs: not gone, not a zombie waiting to be reaped.
fn is_alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name in parentheses, which may itself hold ") ".
        stat.rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}

fn command_name(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end().to_owned())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The first few of a long list, and how many more.
pub(crate) fn abbreviate(items: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}
