//! `record --cgroup/--pid/--container`: record a cgroup that exists already, and the
//! sub-cgroups it has, from now until it empties, disappears, or the user stops.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use anyhow::{Context as _, Result};
use profile_gen::Phase;
use tracer_common::MAX_SLOTS;

use crate::{
    ebpf::decode::CgroupSyscalls,
    ebpf::recording::{build_recording, Start, Subject},
    ebpf::tracer::{Tracer, Watching},
    recorder::{
        live::LiveView,
        options::RecordOptions,
        session::Session,
        stop::{stop_on_signals, POLL},
        target::observed_target,
        tree_watch::TreeWatch,
    },
    sys::{
        cgroup, containers,
        exit::{ExitCodeExt as _, EXIT_NO_TARGET},
        outputs::{write_recording_and_profile, OutputPaths},
        overlay_writes::{self, OverlayWatch},
        preflight,
    },
};

/// The cgroup a recording of an existing one starts from.
pub(crate) enum Existing<'a> {
    /// `--cgroup`.
    Cgroup(&'a Path),
    /// `--pid`: the process's cgroup.
    Pid(u32),
    /// `--container`: an id or a unique prefix.
    Container(&'a str),
}

/// Records a cgroup that exists already: `--cgroup`, `--pid`, `--container`.
pub(crate) fn record_existing(options: &RecordOptions, target: Existing<'_>) -> Result<u8> {
    let (verbosity, quiet) = (options.verbosity, options.quiet);
    let paths = OutputPaths::new(options.required_output()?, options.recording.clone())?;
    preflight::check_privileges()?;
    let mount = cgroup::cgroup2_mount()?;
    let named_as_container = matches!(target, Existing::Container(_));
    let dir = target.find(&mount).exit_code(EXIT_NO_TARGET)?;
    let id = cgroup::cgroup_id(&dir).exit_code(EXIT_NO_TARGET)?;
    let target = observed_target(&mount, &dir, named_as_container);
    let label = target.container_id.as_deref().map_or_else(
        || target.cgroup.clone(),
        |c| containers::short_id(c).to_owned(),
    );

    let cgroups = with_sub_cgroups(&dir, id);
    let dirs: Vec<PathBuf> = cgroups.iter().map(|(d, _)| d.clone()).collect();
    let ids: Vec<u64> = cgroups.iter().map(|&(_, i)| i).collect();
    log::info!(
        "recording cgroup {} (id {id}) and {} of its sub-cgroups",
        dir.display(),
        ids.len() - 1
    );
    warn_about_own_cgroup(&mount, &dirs);
    let populated_at_start = cgroup::is_populated(&dir);

    let stop = stop_on_signals()?;
    // Attached to a running cgroup: what it does from now on is its workload.
    let mut session = Session::start(
        Watching::Cgroups(ids.iter().map(|&i| (i, Phase::Workload)).collect()),
        verbosity,
        |_| Ok(()),
    )?;
    let start = Start::now(Phase::Workload);
    say_what_is_missed(
        options,
        target.container_id.is_some(),
        &label,
        populated_at_start,
    );
    let mut watch = TreeWatch::new(&mount, &dir, &dirs);
    // Writes on an overlay root escape the security programs: its upper directory shows them.
    let mut overlay = OverlayWatch::new();
    overlay.poll(&dirs);
    let mut live = LiveView::new(quiet);
    let deadline = options.duration.map(|d| Instant::now() + d);
    let mut seen_populated = populated_at_start;
    let why = loop {
        std::thread::sleep(POLL);
        if let Ok(seen) = read_all(&session.tracer, &ids) {
            live.update(&label, &seen);
        }
        watch.poll();
        overlay.poll(&dirs);
        if let Some(why) = stop_reason(&stop, deadline, &dir, &mut seen_populated) {
            break why;
        }
    };
    live.finish();
    log::info!("stopping: {why}");
    // Now, before the runtime removes a finished container's upper directory.
    let overlay_found = overlay.finish();
    let seen = read_all(&session.tracer, &ids)?;
    for &i in &ids {
        session.tracer.unwatch(i);
    }
    drop(session);
    options.refuse_empty(&seen, &label)?;

    let subject = Subject {
        command: None,
        target: Some(target),
        exit: None,
    };
    let mut recording = build_recording(&seen, start, subject)?;
    if let Some(security) = &mut recording.security {
        overlay_writes::unite(&mut security.root_filesystem_writes, overlay_found);
    }
    let allowed = write_recording_and_profile(&recording, &paths, None)?;
    if !quiet {
        eprintln!(
            "syscage: {label}: recorded {} distinct syscalls ({allowed} in the profile) until {why}; wrote {}",
            recording.syscalls.len(),
            paths.describe()
        );
    }
    Ok(0)
}

impl Existing<'_> {
    /// The cgroup directory this names.
    fn find(&self, mount: &Path) -> Result<PathBuf> {
        match *self {
            Existing::Cgroup(path) => cgroup::resolve_cgroup_arg(mount, path),
            Existing::Pid(pid) => cgroup::cgroup_of_pid(mount, &pid.to_string())
                .with_context(|| format!("--pid {pid}: no such process")),
            Existing::Container(id) => cgroup::find_container(mount, id),
        }
    }
}

/// `dir` and the sub-cgroups it has now, those with processes of their own first (a parent's
/// id records only the tasks directly in it), as many as the recorder holds.
fn with_sub_cgroups(dir: &Path, id: u64) -> Vec<(PathBuf, u64)> {
    let mut subs = cgroup::descendants(dir);
    subs.sort_by_key(|sub| cgroup::procs_of(sub).is_empty());
    let mut cgroups = vec![(dir.to_path_buf(), id)];
    for sub in subs {
        if cgroups.len() == MAX_SLOTS {
            break;
        }
        if let Ok(sub_id) = cgroup::cgroup_id(&sub) {
            cgroups.push((sub, sub_id));
        }
    }
    cgroups
}

/// Warns when syscage itself runs in one of the recorded cgroups.
fn warn_about_own_cgroup(mount: &Path, dirs: &[PathBuf]) {
    if let Ok(own) = cgroup::cgroup_of_pid(mount, "self") {
        if dirs.contains(&own) {
            log::warn!(
                "syscage itself runs in {}, which is recorded: its own syscalls are part of the \
                 recording",
                cgroup::relative_path(mount, &own)
            );
        }
    }
}

/// What the cgroups `ids` did so far, as one.
fn read_all(tracer: &Tracer, ids: &[u64]) -> Result<CgroupSyscalls> {
    let mut merged = CgroupSyscalls::default();
    for &id in ids {
        merged.absorb(&tracer.read(id)?);
    }
    Ok(merged)
}

/// Why the recording of `dir` ends now, if it does: a signal, the deadline, the cgroup gone or
/// emptied after it had processes (`seen_populated` remembers that).
fn stop_reason(
    stop: &AtomicBool,
    deadline: Option<Instant>,
    dir: &Path,
    seen_populated: &mut bool,
) -> Option<&'static str> {
    if stop.load(Ordering::Relaxed) {
        return Some("interrupted");
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Some("--duration is up");
    }
    if !dir.exists() {
        return Some("the cgroup was removed");
    }
    let populated = cgroup::is_populated(dir);
    if *seen_populated && !populated {
        return Some("the cgroup is empty");
    }
    *seen_populated |= populated;
    None
}

/// Says what a recording that starts now misses: a running container's start, or, for a cgroup
/// without processes yet, that it waits for one.
fn say_what_is_missed(options: &RecordOptions, is_container: bool, label: &str, populated: bool) {
    if is_container && populated {
        // The recording says so too: it started in the workload phase and saw no entrypoint
        // exec (`phases` in the recording format).
        log::warn!(
            "container {label} is running already: its start (the runtime's setup and the \
             entrypoint's exec) is not recorded, and a profile from this recording may not let \
             the container start; record from its creation with `syscage oci-hook` or \
             `syscage record --all`"
        );
    }
    if !populated && !options.quiet {
        eprintln!(
            "syscage: {label}: no process in the cgroup yet; waiting for one (until {})",
            if options.duration.is_some() {
                "--duration is up or Ctrl-C"
            } else {
                "Ctrl-C"
            }
        );
    }
}
