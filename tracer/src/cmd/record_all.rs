//! `syscage record --all`: every container on the node at once, one profile per container.
//!
//! The eBPF program runs with "watch new cgroups" on: the first syscall of a task in a cgroup it
//! has not seen inserts that cgroup (in the runtime-setup phase), so a container that starts
//! while recording is recorded from its very first syscall. Userspace polls the map, names each
//! new cgroup by its path, keeps the containers' and marks everything else ignored, and writes
//! a container's profile when its cgroup empties or disappears (or when recording stops).

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::Instant,
};

use anyhow::{Context as _, Result};
use profile_gen::Target;
use tracer_common::phase;

use crate::{
    cli::RecordArgs,
    cmd::record::{stop_on_signals, POLL},
    ebpf::tracer::{CgroupSyscalls, Tracer, Watching},
    recorder::session::{build_recording, Session, Start, Subject},
    sys::cgroup,
    sys::cgroup_names::CgroupNames,
    sys::containers::{self, ContainerCgroup},
    sys::exit::{Failure, EXIT_CANNOT_WRITE, EXIT_ERROR},
    sys::outputs::{check_output_dir, write_recording_and_profile, OutputPaths},
    sys::preflight,
};

/// How many polls a new cgroup id may wait for its name.
const NAMING_POLLS: u32 = 20;

/// A container being recorded: its own cgroup plus any sub-cgroups it made.
struct Tracked {
    container: ContainerCgroup,
    dir: PathBuf,
    ids: Vec<u64>,
    start: Start,
    seen_populated: bool,
}

pub(crate) fn run(args: &RecordArgs, verbosity: u8, quiet: bool) -> Result<u8> {
    if let Some(output) = &args.output {
        let error = anyhow::anyhow!(
            "--all writes one profile per container into --output-dir; -o {} names a single \
             file: drop it, or give --output-dir DIR",
            output.display()
        );
        return Err(Failure::new(EXIT_ERROR, error).into());
    }
    check_output_dir(&args.output_dir)?;
    preflight::check_privileges()?;
    let mount = cgroup::cgroup2_mount()?;
    let stop = stop_on_signals()?;

    // Containers that run already are attached to (their workload phase); everything else
    // present now is marked ignored before the program is attached, so the only cgroups the
    // program inserts by itself are those created from now on.
    let names = CgroupNames::follow(&mount)?;
    let index = names.snapshot();
    let mut tracked: BTreeMap<String, Tracked> = BTreeMap::new();
    let mut owner_of: HashMap<u64, Option<String>> = HashMap::new();
    // One clock origin for every container: new ones are recorded from their first syscall,
    // which comes after this.
    let origin = Start::now(phase::WORKLOAD);
    // Containers that got no profile, or an incomplete one, because the maps were full.
    let mut left_out_any = false;
    let watching = Watching::All {
        max_cgroups: args.max_cgroups,
    };
    let mut session = Session::start(watching, verbosity, |tracer| {
        for (&id, dir) in &index {
            let key = adopt(
                tracer,
                &mount,
                (id, dir),
                origin,
                &mut tracked,
                &mut left_out_any,
                quiet,
            )?;
            owner_of.insert(id, key);
        }
        Ok(())
    })?;
    log::info!(
        "recording every container; outputs go to {}",
        args.output_dir.display()
    );

    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut reported_full = 0;
    let mut unnamed: HashMap<u64, u32> = HashMap::new();
    let mut lost_seen = 0;
    let mut last_loss: Option<Instant> = None;
    // Containers already written: their cgroups may linger (runc keeps one until `delete`).
    let mut written_keys: BTreeSet<String> = BTreeSet::new();
    let mut written = 0usize;
    // File names given out so far: two containers never share one (containerd namespaces may
    // each hold a container of the same name).
    let mut names_taken: BTreeSet<String> = BTreeSet::new();
    let mut failed_writes: Vec<String> = Vec::new();
    loop {
        std::thread::sleep(POLL);
        let interrupted = stop.load(Ordering::Relaxed);
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);

        // New cgroups the program started watching by itself.
        let new_ids: Vec<u64> = session
            .tracer
            .watched_ids()
            .into_iter()
            .filter(|id| !owner_of.contains_key(id))
            .collect();
        // Whether syscalls were lost to full maps since the last poll: a cgroup created before
        // that may have been left out for a while and inserted later, once room was freed.
        let lost = session.tracer.syscalls_lost_to_full_maps();
        if lost > lost_seen {
            lost_seen = lost;
            last_loss = Some(Instant::now());
        }
        for id in new_ids {
            // The inotify thread names a new cgroup within moments of its mkdir, but a loaded
            // machine may delay it: give it a few polls before calling the cgroup lost.
            let tries = unnamed.entry(id).or_insert(0);
            match names.path_of(id) {
                Some(dir) => {
                    unnamed.remove(&id);
                    let missed_start = last_loss.is_some_and(|loss| {
                        names.seen_at(id).is_none_or(|created| created <= loss)
                    });
                    if missed_start {
                        // Recording it from now on would give a profile without its start.
                        log::error!(
                            "{}: created while the recorder's maps were full, so its first syscalls went unrecorded: no profile for it (raise --max-cgroups)",
                            cgroup::relative_path(&mount, &dir)
                        );
                        session.tracer.ignore(id);
                        owner_of.insert(id, None);
                        left_out_any = true;
                        continue;
                    }
                    let new = Start {
                        phase: phase::RUNTIME_SETUP,
                        ..origin
                    };
                    let owner = adopt(
                        &mut session.tracer,
                        &mount,
                        (id, &dir),
                        new,
                        &mut tracked,
                        &mut left_out_any,
                        quiet,
                    )?;
                    owner_of.insert(id, owner);
                }
                None if *tries < NAMING_POLLS => *tries += 1,
                None => {
                    // Created, used and removed before inotify told us its name: it cannot be
                    // attributed; free its entry.
                    log::warn!("cgroup id {id} disappeared before it could be named; its syscalls are not attributed");
                    session.tracer.unwatch(id);
                    unnamed.remove(&id);
                }
            }
        }
        // Ignored cgroups that are gone: free their entries.
        owner_of.retain(|id, owner| {
            let gone = owner.is_none() && names.path_of(*id).is_none_or(|dir| !dir.exists());
            if gone {
                session.tracer.unwatch(*id);
            }
            !gone
        });

        if lost > reported_full {
            let watched: std::collections::HashSet<u64> =
                session.tracer.watched_ids().into_iter().collect();
            let mut left_out: Vec<String> = names
                .snapshot()
                .into_iter()
                .filter(|(id, dir)| !watched.contains(id) && dir.exists())
                .filter_map(|(_, dir)| containers::classify(&cgroup::relative_path(&mount, &dir)))
                .filter(|c| !tracked.contains_key(&c.cgroup) && !written_keys.contains(&c.cgroup))
                .map(|c| c.id)
                .collect();
            left_out.sort();
            left_out.dedup();
            log::error!(
                "the recorder's maps are full (--max-cgroups {}): {lost} syscalls of cgroups it could not watch went unrecorded; containers left out, which get no profile: {}",
                args.max_cgroups,
                if left_out.is_empty() { "none running now".to_owned() } else { left_out.join(", ") }
            );
            reported_full = lost;
            left_out_any = true;
        }

        // Containers that ended (or all of them, when recording stops).
        let finished: Vec<String> = tracked
            .iter_mut()
            .filter_map(|(key, t)| {
                let populated = cgroup::is_populated(&t.dir);
                t.seen_populated |= populated;
                let ended = !t.dir.exists() || (t.seen_populated && !populated);
                (ended || interrupted || timed_out).then(|| key.clone())
            })
            .collect();
        for key in finished {
            let t = tracked.remove(&key).expect("key came from the map");
            for id in &t.ids {
                owner_of.remove(id);
            }
            match write_container(
                &mut session.tracer,
                &mount,
                &args.output_dir,
                &t,
                &mut names_taken,
                quiet,
            ) {
                Ok(true) => written += 1,
                Ok(false) => {}
                // One container's outputs failing must not end the recording of the others.
                Err(e) => {
                    log::error!("{e:#}");
                    failed_writes.push(t.container.id.clone());
                }
            }
            written_keys.insert(key);
        }
        if interrupted || timed_out {
            break;
        }
    }
    if !quiet {
        eprintln!(
            "syscage: wrote {written} container profile(s) into {}",
            args.output_dir.display()
        );
    }
    if !failed_writes.is_empty() {
        let error = anyhow::anyhow!(
            "the outputs of {} container(s) could not be written: {}",
            failed_writes.len(),
            failed_writes.join(", ")
        );
        return Err(Failure::new(EXIT_CANNOT_WRITE, error).into());
    }
    if left_out_any {
        let error = anyhow::anyhow!(
            "some containers were left out because the recorder's maps were full (see above); \
             raise --max-cgroups (now {})",
            args.max_cgroups
        );
        return Err(Failure::new(EXIT_ERROR, error).into());
    }
    Ok(0)
}

/// Decides what a newly seen cgroup is: part of a container (tracked, recorded from
/// `start.phase`) or not (ignored). Returns the container's key. A running container the full
/// maps cannot take is left out (and `left_out` set), not an error that ends the recording of
/// all the others.
fn adopt(
    tracer: &mut Tracer,
    mount: &Path,
    (id, dir): (u64, &Path),
    start: Start,
    tracked: &mut BTreeMap<String, Tracked>,
    left_out: &mut bool,
    quiet: bool,
) -> Result<Option<String>> {
    let rel = cgroup::relative_path(mount, dir);
    let Some(mut container) = containers::classify(&rel) else {
        tracer.ignore(id);
        return Ok(None);
    };
    containers::refine_runtime(&mut container, Path::new("/run"));
    let key = container.cgroup.clone();
    if start.phase == phase::WORKLOAD {
        if let Err(e) = tracer.watch(id, phase::WORKLOAD) {
            log::error!(
                "container {} ({}) left out, no profile for it: {e:#} (the recorder holds at \
                 most --max-cgroups cgroups)",
                container.id,
                container.cgroup
            );
            *left_out = true;
            return Ok(None);
        }
    }
    let entry = tracked.entry(key.clone()).or_insert_with(|| {
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
        }
    });
    entry.ids.push(id);
    Ok(Some(key))
}

fn write_container(
    tracer: &mut Tracer,
    mount: &Path,
    dir: &Path,
    t: &Tracked,
    names_taken: &mut BTreeSet<String>,
    quiet: bool,
) -> Result<bool> {
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
    let target = Target {
        cgroup: cgroup::relative_path(mount, &t.dir),
        container_id: Some(t.container.id.clone()),
        runtime: Some(t.container.runtime.clone()),
        pod_uid: t.container.pod_uid.clone(),
        container_name: None,
        namespace: t.container.namespace.clone(),
    };
    let subject = Subject {
        command: None,
        target: Some(target),
        exit: None,
    };
    let recording = build_recording(&merged, t.start, subject)?;
    let name = claim_file_name(&t.container, names_taken);
    let paths = OutputPaths::in_dir(dir, &name);
    let allowed = write_recording_and_profile(&recording, &paths, None)
        .with_context(|| format!("container {}", t.container.id))?;
    if !quiet {
        eprintln!(
            "syscage: container {}: {} syscalls recorded, {allowed} in the profile: {}",
            t.container.id,
            recording.syscalls.len(),
            paths.profile.display()
        );
    }
    Ok(true)
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
