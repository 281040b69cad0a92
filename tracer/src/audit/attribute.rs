//! Which target a seccomp log record belongs to, decided when it arrives.
//!
//! A record names the calling process (`pid`), not its cgroup, and arrives after the call: a
//! short-lived process may be gone by then. So syscage knows the processes of its targets
//! before their records arrive, three ways: `/proc/<pid>/cgroup` when the record arrives; the
//! targets' `cgroup.procs`, read again every few milliseconds; and the kernel's fork events
//! (the proc connector), which name each new process before it can run, so a child of a known
//! process is known even if it lives for a microsecond. A record whose process is known none of
//! these ways is reported as unattributed, never guessed.
//!
//! With `--all`, each container is described when its first record arrives (its runtime has
//! written its state by then: the call was made in the running container), with the
//! Kubernetes identity its bundle carries; pod sandboxes and the containers the
//! `--namespace`/`--workload` filters leave out are not audited: their records go nowhere.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    path::{Path, PathBuf},
};

use profile_gen::{KubernetesIdentity, PodContainer, Target};

use crate::{
    recorder::{
        target::{container_target, set_kubernetes},
        workloads::WorkloadFilter,
    },
    sys::{
        bundles::{self, Lookup, StateDirs},
        cgroup,
        containers::{self, ContainerCgroup},
    },
};

/// Forks remembered (parent of each child), the oldest forgotten first.
const MAX_FORKS_KEPT: usize = 1 << 16;
/// How far up a gone process's ancestry to look.
const MAX_ANCESTORS: usize = 64;

/// What is audited.
pub(crate) enum Scope {
    /// One cgroup and everything below it (`--cgroup`, `--pid`, `--container`).
    Under { dir: PathBuf, target: Box<Target> },
    /// Every container (`--all`) the filters admit, pod sandboxes left out.
    AllContainers { filter: WorkloadFilter },
}

/// Where a record goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attribution {
    /// To this target (its key: the container id, or the cgroup path).
    Target(String),
    /// Not to any target: a process elsewhere.
    Elsewhere,
    /// Its process is gone and was never seen: unknown.
    Unknown,
}

pub(crate) struct Attributor {
    mount: PathBuf,
    scope: Scope,
    /// Processes seen (cgroup path relative to the mount), by pid.
    known: HashMap<i32, String>,
    /// Each forked process's parent, by pid, and the order they came in (to forget the
    /// oldest).
    parents: HashMap<i32, i32>,
    fork_order: VecDeque<i32>,
    /// Targets' descriptions, by key.
    targets: HashMap<String, Target>,
    /// `--all`: containers not audited (sandboxes, filtered out), by id.
    excluded: HashSet<String>,
}

impl Attributor {
    pub(crate) fn new(mount: &Path, scope: Scope) -> Self {
        let mut attributor = Self {
            mount: mount.to_path_buf(),
            scope,
            known: HashMap::new(),
            parents: HashMap::new(),
            fork_order: VecDeque::new(),
            targets: HashMap::new(),
            excluded: HashSet::new(),
        };
        attributor.scan();
        attributor
    }

    /// Reads the processes of the watched cgroups again.
    pub(crate) fn scan(&mut self) {
        let dirs = match &self.scope {
            Scope::Under { dir, .. } => {
                let mut dirs = vec![dir.clone()];
                dirs.extend(cgroup::descendants(dir));
                dirs
            }
            Scope::AllContainers { .. } => cgroup::descendants(&self.mount)
                .into_iter()
                .filter(|d| containers::classify(&cgroup::relative_path(&self.mount, d)).is_some())
                .collect(),
        };
        for dir in dirs {
            let rel = cgroup::relative_path(&self.mount, &dir);
            let procs = cgroup::procs_of(&dir);
            if !procs.is_empty() {
                self.describe_early(&rel);
            }
            for pid in procs {
                self.known.insert(pid, rel.clone());
            }
        }
    }

    /// `--all`: describes a running container before its first record arrives, while its
    /// runtime's state is there (a runtime removes it as soon as the container ends, which may
    /// be before the record comes). A container whose state is not written yet is left to its
    /// first record.
    fn describe_early(&mut self, rel: &str) {
        let Scope::AllContainers { filter } = &self.scope else {
            return;
        };
        let Some(mut c) = containers::classify(rel) else {
            return;
        };
        if self.targets.contains_key(&c.id) || self.excluded.contains(&c.id) {
            return;
        }
        let lookup = kubernetes_lookup(&mut c);
        if matches!(lookup, Ok(Lookup::NoState)) {
            return;
        }
        let key = c.id.clone();
        match admitted_target(c, lookup, filter) {
            Some(target) => self.targets.insert(key, target),
            None => {
                self.excluded.insert(key);
                None
            }
        };
    }

    /// A process forked `child`: it starts in its parent's cgroup.
    pub(crate) fn forked(&mut self, parent: i32, child: i32) {
        match self.known.get(&parent).cloned() {
            Some(rel) => self.known.insert(child, rel),
            // Whatever had this pid before is gone: never attribute by its cgroup.
            None => self.known.remove(&child),
        };
        self.parents.insert(child, parent);
        self.fork_order.push_back(child);
        if self.fork_order.len() > MAX_FORKS_KEPT {
            if let Some(old) = self.fork_order.pop_front() {
                self.parents.remove(&old);
            }
        }
    }

    /// The target `pid`'s record belongs to: by its cgroup now, else as last seen, else (for a
    /// process gone before it was seen) by its nearest ancestor's.
    pub(crate) fn attribute(&mut self, pid: i32) -> Attribution {
        let mut at = pid;
        for _ in 0..MAX_ANCESTORS {
            if let Some(rel) = self.cgroup_of(at) {
                if at != pid {
                    self.known.insert(pid, rel.clone());
                }
                return self.classify(&rel);
            }
            match self.parents.get(&at) {
                Some(&parent) => at = parent,
                None => break,
            }
        }
        Attribution::Unknown
    }

    /// `pid`'s cgroup: read now if it runs, else as last seen.
    fn cgroup_of(&mut self, pid: i32) -> Option<String> {
        let live = cgroup::cgroup_of_pid(&self.mount, &pid.to_string())
            .ok()
            .map(|dir| cgroup::relative_path(&self.mount, &dir));
        match live {
            Some(rel) => {
                self.known.insert(pid, rel.clone());
                Some(rel)
            }
            None => self.known.get(&pid).cloned(),
        }
    }

    fn classify(&mut self, rel: &str) -> Attribution {
        match &self.scope {
            Scope::Under { dir, target } => {
                let top = cgroup::relative_path(&self.mount, dir);
                let inside = rel == top
                    || top == "/"
                    || rel
                        .strip_prefix(top.as_str())
                        .is_some_and(|rest| rest.starts_with('/'));
                if inside {
                    let key = target
                        .container_id
                        .clone()
                        .unwrap_or_else(|| target.cgroup.clone());
                    self.targets
                        .entry(key.clone())
                        .or_insert_with(|| (**target).clone());
                    Attribution::Target(key)
                } else {
                    Attribution::Elsewhere
                }
            }
            Scope::AllContainers { filter } => match containers::classify(rel) {
                Some(mut c) => {
                    let key = c.id.clone();
                    if self.excluded.contains(&key) {
                        return Attribution::Elsewhere;
                    }
                    if !self.targets.contains_key(&key) {
                        let lookup = kubernetes_lookup(&mut c);
                        match admitted_target(c, lookup, filter) {
                            Some(target) => self.targets.insert(key.clone(), target),
                            None => {
                                self.excluded.insert(key);
                                return Attribution::Elsewhere;
                            }
                        };
                    }
                    Attribution::Target(key)
                }
                None => Attribution::Elsewhere,
            },
        }
    }

    /// The description of the target `key`.
    pub(crate) fn target(&self, key: &str) -> Option<&Target> {
        self.targets.get(key)
    }

    /// The single target of a `Scope::Under`, whether or not records came: its key.
    pub(crate) fn single_target(&mut self) -> Option<String> {
        if let Scope::Under { target, .. } = &self.scope {
            let key = target
                .container_id
                .clone()
                .unwrap_or_else(|| target.cgroup.clone());
            let target = (**target).clone();
            self.targets.entry(key.clone()).or_insert(target);
            Some(key)
        } else {
            None
        }
    }

    /// The watched cgroup of a `Scope::Under`.
    pub(crate) fn watched_dir(&self) -> Option<&Path> {
        match &self.scope {
            Scope::Under { dir, .. } => Some(dir),
            Scope::AllContainers { .. } => None,
        }
    }
}

/// What container `c`'s runtime state says of its Kubernetes identity (`c`'s runtime refined
/// on the way).
fn kubernetes_lookup(c: &mut ContainerCgroup) -> anyhow::Result<Lookup> {
    let dirs = StateDirs::system();
    containers::refine_runtime(c, &dirs.run);
    bundles::kubernetes_of(c, &dirs)
}

/// The target of container `c` seen by `--all`, with the Kubernetes identity `lookup` found
/// (none without runtime state); `None` for a pod sandbox or a container `filter` leaves out.
fn admitted_target(
    c: ContainerCgroup,
    lookup: anyhow::Result<Lookup>,
    filter: &WorkloadFilter,
) -> Option<Target> {
    let identity = match lookup {
        Ok(Lookup::Found(Some(PodContainer::Workload(identity)))) => Some(identity),
        Ok(Lookup::Found(Some(PodContainer::Sandbox { namespace, pod }))) => {
            log::info!(
                "container {}: the sandbox (pause container) of pod {namespace}/{pod}, not \
                 audited",
                c.id
            );
            return None;
        }
        Ok(Lookup::Found(None) | Lookup::NoState) => None,
        Err(e) => {
            log::warn!("container {}: no Kubernetes identity: {e:#}", c.id);
            None
        }
    };
    if !filter.admits(identity.as_ref()) {
        log::info!(
            "container {}: left out by --namespace/--workload ({})",
            c.id,
            identity.as_ref().map_or_else(
                || "no Kubernetes identity".to_owned(),
                |i: &KubernetesIdentity| format!("{}/{}", i.namespace, i.workload)
            )
        );
        return None;
    }
    let mut target = container_target(c.cgroup.clone(), c);
    if let Some(identity) = identity {
        set_kubernetes(&mut target, identity);
    }
    Some(target)
}
