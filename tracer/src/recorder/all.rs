//! `record --all`: every container on the node at once, one profile per container.
//!
//! The eBPF program runs with "watch new cgroups" on: the first syscall of a task in a cgroup it
//! has not seen inserts that cgroup (in the runtime-setup phase), so a container that starts
//! while recording is recorded from its very first syscall. Userspace polls the map, names each
//! new cgroup by its path, keeps the containers' and marks everything else ignored, and writes
//! a container's profile when its cgroup empties or disappears (or when recording stops).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::Instant,
};

use anyhow::{Context as _, Result};
use profile_gen::{KubernetesIdentity, Phase, PodContainer};

use crate::{
    ebpf::decode::CgroupSyscalls,
    ebpf::recording::{build_recording, Start, Subject},
    ebpf::tracer::{Tracer, Watching},
    recorder::{
        options::RecordOptions,
        session::Session,
        stop::{stop_on_signals, POLL},
        target::{container_target, set_kubernetes},
        workloads::{workload_dir, WorkloadFilter},
    },
    sys::{
        bundles::{self, Lookup, StateDirs},
        cgroup,
        cgroup_names::CgroupNames,
        containers::{self, ContainerCgroup},
        exit::{Failure, EXIT_CANNOT_WRITE, EXIT_ERROR},
        outputs::{check_output_dir, write_recording_and_profile, OutputPaths},
        overlay_writes::{self, OverlayWatch},
        preflight,
        ready_file::ReadyFile,
    },
};

/// How many polls a new cgroup id may wait for its name.
const NAMING_POLLS: u32 = 20;

/// How many polls a container's runtime state may take to show up (a runtime writes it moments
/// after the container's first process starts); after that it counts as having no Kubernetes
/// identity, and is no longer looked for.
const IDENTITY_POLLS: u32 = 50;

/// A container being recorded: its own cgroup plus any sub-cgroups it made.
struct Tracked {
    container: ContainerCgroup,
    dir: PathBuf,
    ids: Vec<u64>,
    start: Start,
    seen_populated: bool,
    /// Its Kubernetes identity: `None` until its runtime's state names its bundle.
    kubernetes: Option<Option<KubernetesIdentity>>,
    /// Its root filesystem's writes the security programs cannot see (an overlay's).
    overlay: OverlayWatch,
    /// The polls that looked for its runtime's state in vain.
    identity_polls: u32,
}

/// Records every container into `output_dir`, holding at most `max_cgroups` cgroups at once.
pub(crate) fn record_all(
    options: &RecordOptions,
    output_dir: &Path,
    max_cgroups: u32,
) -> Result<u8> {
    if let Some(output) = &options.output {
        let error = anyhow::anyhow!(
            "--all writes one profile per container into --output-dir; -o {} names a single \
             file: drop it, or give --output-dir DIR",
            output.display()
        );
        return Err(Failure::new(EXIT_ERROR, error).into());
    }
    check_output_dir(output_dir)?;
    preflight::check_privileges()?;
    let mut ready = options
        .ready_file
        .as_deref()
        .map(ReadyFile::prepare)
        .transpose()?;
    let mount = cgroup::cgroup2_mount()?;
    let stop = stop_on_signals()?;

    let mut all = AllContainers::new(mount, output_dir, max_cgroups, options.quiet)?;
    all.filter = options.workloads.clone();
    // Containers that run already are attached to (their workload phase); everything else
    // present now is marked ignored before the program is attached, so the only cgroups the
    // program inserts by itself are those created from now on.
    let present = all.names.snapshot();
    let watching = Watching::All { max_cgroups };
    let mut session = Session::start(watching, options.verbosity, |tracer| {
        all.adopt_present(tracer, &present)
    })?;
    log::info!(
        "recording every container; outputs go to {}",
        output_dir.display()
    );
    if let Some(ready) = &mut ready {
        ready.announce()?;
    }

    let deadline = options.duration.map(|d| Instant::now() + d);
    loop {
        std::thread::sleep(POLL);
        let stopping =
            stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d);
        let tracer = &mut session.tracer;
        all.note_losses(tracer);
        all.adopt_new(tracer)?;
        all.identify(tracer);
        all.watch_roots();
        all.free_gone_ignored(tracer);
        all.report_full_maps(tracer);
        all.write_finished(tracer, stopping);
        if stopping {
            break;
        }
    }
    all.outcome()
}

/// The bookkeeping of `record --all`, one poll step per method.
struct AllContainers<'a> {
    mount: PathBuf,
    output_dir: &'a Path,
    max_cgroups: u32,
    quiet: bool,
    names: CgroupNames,
    /// One clock origin for every container: new ones are recorded from their first syscall,
    /// which comes after this.
    origin: Start,
    /// By the container's cgroup path.
    tracked: BTreeMap<String, Tracked>,
    /// Every watched cgroup id seen so far, with its container's key (`None`: ignored).
    owner_of: HashMap<u64, Option<String>>,
    /// New cgroup ids without a name yet, with the polls they waited for it.
    unnamed: HashMap<u64, u32>,
    /// Syscalls lost to full maps so far, and when that count last grew.
    lost_seen: u64,
    last_loss: Option<Instant>,
    /// The loss count last reported.
    reported_full: u64,
    /// Containers that got no profile, or an incomplete one, because the maps were full.
    left_out_any: bool,
    /// Containers already written: their cgroups may linger (runc keeps one until `delete`).
    written_keys: BTreeSet<String>,
    written: usize,
    /// File names given out so far: two containers never share one (containerd namespaces may
    /// each hold a container of the same name).
    names_taken: BTreeSet<String>,
    failed_writes: Vec<String>,
    /// `--namespace`, `--workload`.
    filter: WorkloadFilter,
    /// Containers not recorded (pod sandboxes, filtered out), by key: their cgroups, and any
    /// sub-cgroups they make, stay ignored.
    excluded: BTreeSet<String>,
}

impl<'a> AllContainers<'a> {
    fn new(mount: PathBuf, output_dir: &'a Path, max_cgroups: u32, quiet: bool) -> Result<Self> {
        let names = CgroupNames::follow(&mount)?;
        Ok(Self {
            mount,
            output_dir,
            max_cgroups,
            quiet,
            names,
            origin: Start::now(Phase::Workload),
            tracked: BTreeMap::new(),
            owner_of: HashMap::new(),
            unnamed: HashMap::new(),
            lost_seen: 0,
            last_loss: None,
            reported_full: 0,
            left_out_any: false,
            written_keys: BTreeSet::new(),
            written: 0,
            names_taken: BTreeSet::new(),
            failed_writes: Vec::new(),
            filter: WorkloadFilter::default(),
            excluded: BTreeSet::new(),
        })
    }

    /// Takes in the cgroups present before the program is attached.
    fn adopt_present(
        &mut self,
        tracer: &mut Tracer,
        present: &HashMap<u64, PathBuf>,
    ) -> Result<()> {
        for (&id, dir) in present {
            let key = self.adopt(tracer, (id, dir), self.origin)?;
            self.owner_of.insert(id, key);
        }
        Ok(())
    }

    /// Notes whether syscalls were lost to full maps since the last poll: a cgroup created
    /// before that may have been left out for a while and inserted later, once room was freed.
    fn note_losses(&mut self, tracer: &Tracer) {
        let lost = tracer.syscalls_lost_to_full_maps();
        if lost > self.lost_seen {
            self.lost_seen = lost;
            self.last_loss = Some(Instant::now());
        }
    }

    /// Names the cgroups the program started watching by itself, and adopts or ignores them.
    fn adopt_new(&mut self, tracer: &mut Tracer) -> Result<()> {
        let new_ids: Vec<u64> = tracer
            .watched_ids()
            .into_iter()
            .filter(|id| !self.owner_of.contains_key(id))
            .collect();
        for id in new_ids {
            // The inotify thread names a new cgroup within moments of its mkdir, but a loaded
            // machine may delay it: give it a few polls before calling the cgroup lost.
            let tries = self.unnamed.entry(id).or_insert(0);
            match self.names.path_of(id) {
                Some(dir) => {
                    self.unnamed.remove(&id);
                    let missed_start = self.last_loss.is_some_and(|loss| {
                        self.names.seen_at(id).is_none_or(|created| created <= loss)
                    });
                    if missed_start {
                        // Recording it from now on would give a profile without its start.
                        log::error!(
                            "{}: created while the recorder's maps were full, so its first syscalls went unrecorded: no profile for it (raise --max-cgroups)",
                            cgroup::relative_path(&self.mount, &dir)
                        );
                        tracer.ignore(id);
                        self.owner_of.insert(id, None);
                        self.left_out_any = true;
                        continue;
                    }
                    let start = Start {
                        phase: Phase::RuntimeSetup,
                        ..self.origin
                    };
                    let owner = self.adopt(tracer, (id, &dir), start)?;
                    self.owner_of.insert(id, owner);
                }
                None if *tries < NAMING_POLLS => *tries += 1,
                None => {
                    // Created, used and removed before inotify told us its name: it cannot be
                    // attributed; free its entry.
                    log::warn!("cgroup id {id} disappeared before it could be named; its syscalls are not attributed");
                    tracer.unwatch(id);
                    self.unnamed.remove(&id);
                }
            }
        }
        Ok(())
    }

    /// Frees the entries of ignored cgroups that are gone.
    fn free_gone_ignored(&mut self, tracer: &mut Tracer) {
        let names = &self.names;
        self.owner_of.retain(|id, owner| {
            let gone = owner.is_none() && names.path_of(*id).is_none_or(|dir| !dir.exists());
            if gone {
                tracer.unwatch(*id);
            }
            !gone
        });
    }

    /// Says which containers full maps left out, whenever more syscalls were lost.
    fn report_full_maps(&mut self, tracer: &Tracer) {
        let lost = self.lost_seen;
        if lost <= self.reported_full {
            return;
        }
        let watched: HashSet<u64> = tracer.watched_ids().into_iter().collect();
        let mut left_out: Vec<String> = self
            .names
            .snapshot()
            .into_iter()
            .filter(|(id, dir)| !watched.contains(id) && dir.exists())
            .filter_map(|(_, dir)| containers::classify(&cgroup::relative_path(&self.mount, &dir)))
            .filter(|c| {
                !self.tracked.contains_key(&c.cgroup) && !self.written_keys.contains(&c.cgroup)
            })
            .map(|c| c.id)
            .collect();
        left_out.sort();
        left_out.dedup();
        log::error!(
            "the recorder's maps are full (--max-cgroups {}): {lost} syscalls of cgroups it could not watch went unrecorded; containers left out, which get no profile: {}",
            self.max_cgroups,
            if left_out.is_empty() { "none running now".to_owned() } else { left_out.join(", ") }
        );
        self.reported_full = lost;
        self.left_out_any = true;
    }

    /// Writes the containers that ended (or all of them, when recording stops).
    fn write_finished(&mut self, tracer: &mut Tracer, stopping: bool) {
        let finished: Vec<String> = self
            .tracked
            .iter_mut()
            .filter_map(|(key, t)| {
                let populated = cgroup::is_populated(&t.dir);
                t.seen_populated |= populated;
                let ended = !t.dir.exists() || (t.seen_populated && !populated);
                (ended || stopping).then(|| key.clone())
            })
            .collect();
        for key in finished {
            let t = self.tracked.remove(&key).expect("key came from the map");
            for id in &t.ids {
                self.owner_of.remove(id);
            }
            match self.write_container(tracer, &t) {
                Ok(true) => self.written += 1,
                Ok(false) => {}
                // One container's outputs failing must not end the recording of the others.
                Err(e) => {
                    log::error!("{e:#}");
                    self.failed_writes.push(t.container.id.clone());
                }
            }
            self.written_keys.insert(key);
        }
    }

    /// The exit status once recording stopped: an error when outputs failed or containers were
    /// left out.
    fn outcome(self) -> Result<u8> {
        if !self.quiet {
            eprintln!(
                "syscage: wrote {} container profile(s) into {}",
                self.written,
                self.output_dir.display()
            );
        }
        if !self.failed_writes.is_empty() {
            let error = anyhow::anyhow!(
                "the outputs of {} container(s) could not be written: {}",
                self.failed_writes.len(),
                self.failed_writes.join(", ")
            );
            return Err(Failure::new(EXIT_CANNOT_WRITE, error).into());
        }
        if self.left_out_any {
            let error = anyhow::anyhow!(
                "some containers were left out because the recorder's maps were full (see \
                 above); raise --max-cgroups (now {})",
                self.max_cgroups
            );
            return Err(Failure::new(EXIT_ERROR, error).into());
        }
        Ok(0)
    }

    /// Decides what a newly seen cgroup is: part of a container (tracked, recorded from
    /// `start.phase`) or not (ignored). Returns the container's key. A running container the
    /// full maps cannot take is left out (and noted), not an error that ends the recording of
    /// all the others.
    fn adopt(
        &mut self,
        tracer: &mut Tracer,
        (id, dir): (u64, &Path),
        start: Start,
    ) -> Result<Option<String>> {
        let rel = cgroup::relative_path(&self.mount, dir);
        let Some(mut container) = containers::classify(&rel) else {
            tracer.ignore(id);
            return Ok(None);
        };
        containers::refine_runtime(&mut container, Path::new("/run"));
        let key = container.cgroup.clone();
        if self.excluded.contains(&key) {
            tracer.ignore(id);
            return Ok(None);
        }
        if start.phase == Phase::Workload {
            if let Err(e) = tracer.watch(id, Phase::Workload) {
                log::error!(
                    "container {} ({}) left out, no profile for it: {e:#} (the recorder holds \
                     at most --max-cgroups cgroups)",
                    container.id,
                    container.cgroup
                );
                self.left_out_any = true;
                return Ok(None);
            }
        }
        let quiet = self.quiet;
        let mount = &self.mount;
        let entry = self.tracked.entry(key.clone()).or_insert_with(|| {
            if !quiet {
                eprintln!(
                    "syscage: recording container {} ({}, {})",
                    container.id, container.runtime, container.cgroup
                );
            }
            Tracked {
                dir: mount.join(key.trim_start_matches('/')),
                container,
                ids: Vec::new(),
                start,
                seen_populated: false,
                kubernetes: None,
                identity_polls: 0,
                overlay: if start.phase == Phase::Workload {
                    OverlayWatch::new()
                } else {
                    OverlayWatch::from_creation(start.wall)
                },
            }
        });
        entry.ids.push(id);
        Ok(Some(key))
    }

    /// Looks up the Kubernetes identity of the containers whose runtime state had not shown up
    /// yet, and stops recording pod sandboxes and the containers the filters leave out.
    fn identify(&mut self, tracer: &mut Tracer) {
        let pending: Vec<String> = self
            .tracked
            .iter()
            .filter(|(_, t)| t.kubernetes.is_none())
            .map(|(key, _)| key.clone())
            .collect();
        for key in pending {
            let tracked = self.tracked.get_mut(&key).expect("key came from the map");
            let container = tracked.container.clone();
            let identity = match bundles::kubernetes_of(&container, &StateDirs::system()) {
                Ok(Lookup::NoState) if tracked.identity_polls < IDENTITY_POLLS => {
                    tracked.identity_polls += 1;
                    continue;
                }
                Ok(Lookup::NoState | Lookup::Found(None)) => None,
                Ok(Lookup::Found(Some(PodContainer::Workload(identity)))) => Some(identity),
                Ok(Lookup::Found(Some(PodContainer::Sandbox { namespace, pod }))) => {
                    if !self.quiet {
                        eprintln!(
                            "syscage: not recording container {}: the sandbox (pause container) \
                             of pod {namespace}/{pod}, not a workload",
                            container.id
                        );
                    }
                    self.exclude(tracer, &key);
                    continue;
                }
                Err(e) => {
                    log::warn!("container {}: no Kubernetes identity: {e:#}", container.id);
                    None
                }
            };
            if !self.filter.admits(identity.as_ref()) {
                log::info!(
                    "container {}: left out by --namespace/--workload ({})",
                    container.id,
                    identity.as_ref().map_or_else(
                        || "no Kubernetes identity".to_owned(),
                        |i| format!("{}/{}", i.namespace, i.workload)
                    )
                );
                self.exclude(tracer, &key);
                continue;
            }
            if let Some(identity) = &identity {
                if !self.quiet {
                    eprintln!(
                        "syscage: container {} is {}/{}/{} (pod {})",
                        container.id,
                        identity.namespace,
                        identity.workload,
                        identity.container,
                        identity.pod
                    );
                }
            }
            if let Some(t) = self.tracked.get_mut(&key) {
                t.kubernetes = Some(identity);
            }
        }
    }

    /// Finds the root filesystem of the containers whose root is not known yet, and walks the
    /// known overlay roots' upper directories again.
    fn watch_roots(&mut self) {
        for t in self.tracked.values_mut() {
            if !t.overlay.waits_for_a_task() {
                t.overlay.poll(&[]);
                continue;
            }
            let mut dirs = vec![t.dir.clone()];
            dirs.extend(cgroup::descendants(&t.dir));
            t.overlay.poll(&dirs);
        }
    }

    /// Stops recording the container `key`: its cgroups are ignored from now on and nothing is
    /// written for it.
    fn exclude(&mut self, tracer: &mut Tracer, key: &str) {
        let Some(t) = self.tracked.remove(key) else {
            return;
        };
        for id in t.ids {
            tracer.ignore(id);
            self.owner_of.insert(id, None);
        }
        self.excluded.insert(key.to_owned());
    }

    /// Writes one container's outputs; `false` when it recorded nothing.
    fn write_container(&mut self, tracer: &mut Tracer, t: &Tracked) -> Result<bool> {
        // A runtime state that never showed up while it ran: not a Kubernetes container as far
        // as can be told.
        let kubernetes = t.kubernetes.clone().flatten();
        if !self.filter.admits(kubernetes.as_ref()) {
            for &id in &t.ids {
                tracer.unwatch(id);
            }
            log::info!(
                "container {}: no Kubernetes identity found, which --namespace/--workload \
                 need: not written",
                t.container.id
            );
            return Ok(false);
        }
        let mut merged = CgroupSyscalls::default();
        for &id in &t.ids {
            match tracer.read(id) {
                Ok(seen) => merged.absorb(&seen),
                Err(e) => log::warn!("container {}: {e:#}", t.container.id),
            }
            tracer.unwatch(id);
        }
        if merged.seen.is_empty() {
            // A cgroup that looked like a container but never ran anything while recorded (for
            // example containerd's namespace level `/default`): nothing to write.
            log::info!(
                "{}: no syscalls recorded, no profile written",
                t.container.cgroup
            );
            return Ok(false);
        }
        // The runtime as found while the container ran: its state directory may be gone by now.
        let mut target = container_target(
            cgroup::relative_path(&self.mount, &t.dir),
            t.container.clone(),
        );
        if let Some(identity) = &kubernetes {
            set_kubernetes(&mut target, identity.clone());
        }
        let subject = Subject {
            command: None,
            target: Some(target),
            exit: None,
        };
        let mut recording = build_recording(&merged, t.start, subject)?;
        if let Some(security) = &mut recording.security {
            overlay_writes::unite(&mut security.root_filesystem_writes, t.overlay.finish());
        }
        let paths = match &kubernetes {
            // Container ids are unique on the node: replicas and restarts each get their own.
            Some(identity) => OutputPaths::in_dir(
                &workload_dir(self.output_dir, identity)
                    .with_context(|| format!("container {}", t.container.id))?,
                &file_name_for(&t.container.id),
            ),
            None => {
                let name = claim_file_name(&t.container, &mut self.names_taken);
                OutputPaths::in_dir(self.output_dir, &name)
            }
        };
        let allowed = write_recording_and_profile(&recording, &paths, None)
            .with_context(|| format!("container {}", t.container.id))?;
        if !self.quiet {
            eprintln!(
                "syscage: container {}: {} syscalls recorded, {allowed} in the profile: {}",
                t.container.id,
                recording.syscalls.len(),
                paths.profile.display()
            );
        }
        Ok(true)
    }
}

/// Container ids are file-name safe in every runtime we know; anything else is replaced.
fn file_name_for(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file name (without `.json`) for a container's outputs that no other container of this
/// run has: its id, else its id and namespace, else a number added. Both `NAME.json` and
/// `NAME.recording.json` are claimed, so no container's profile lands on another's recording.
fn claim_file_name(container: &ContainerCgroup, taken: &mut BTreeSet<String>) -> String {
    let id = file_name_for(&container.id);
    let mut candidates = vec![id.clone()];
    if let Some(namespace) = &container.namespace {
        candidates.push(format!("{id}.{}", file_name_for(namespace)));
    }
    let free = |name: &str, taken: &BTreeSet<String>| {
        !taken.contains(&format!("{name}.json"))
            && !taken.contains(&format!("{name}.recording.json"))
    };
    let name = candidates
        .into_iter()
        .chain((2u32..).map(|n| format!("{id}.{n}")))
        .find(|name| free(name, taken))
        .expect("the numbered names never run out");
    if name != id {
        log::warn!(
            "container {} ({}): {id}.json is another container's output of this run; writing \
             {name}.json",
            container.id,
            container.cgroup
        );
    }
    taken.insert(format!("{name}.json"));
    taken.insert(format!("{name}.recording.json"));
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, namespace: Option<&str>) -> ContainerCgroup {
        ContainerCgroup {
            id: id.to_owned(),
            namespace: namespace.map(str::to_owned),
            cgroup: format!("/{}/{id}", namespace.unwrap_or("")),
            ..Default::default()
        }
    }

    #[test]
    fn containers_of_the_same_name_get_their_own_files() {
        let mut taken = BTreeSet::new();
        let names: Vec<String> = [
            container("web", Some("a")),
            container("web", Some("b")),
            container("web", Some("b")),
            container("web.recording", None),
        ]
        .iter()
        .map(|c| claim_file_name(c, &mut taken))
        .collect();
        assert_eq!(names, ["web", "web.b", "web.2", "web.recording.2"]);
        assert_eq!(taken.len(), 8);
    }
}
