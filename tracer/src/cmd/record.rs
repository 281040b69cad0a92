//! `syscage record`: record a command in a fresh cgroup, or an existing cgroup, process or
//! container, or every container on the node; write recordings and seccomp profiles.

use std::{
    ffi::OsString,
    os::{fd::AsRawFd as _, unix::process::CommandExt as _},
    path::{Path, PathBuf},
    process::Command,
    sync::{atomic::AtomicBool, Arc},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use profile_gen::{ExitInfo, Target};
use tracer_common::{phase, MAX_SLOTS};

use crate::{
    cli::{RecordArgs, RecordTarget},
    ebpf::tracer::{CgroupSyscalls, Watching},
    recorder::live::LiveView,
    recorder::session::{build_recording, Session, Start, Subject},
    recorder::tree_watch::{abbreviate, TreeWatch},
    sys::cgroup::{self, LeafCgroup},
    sys::containers,
    sys::exit::{ExitCodeExt as _, EXIT_NO_TARGET},
    sys::outputs::{write_recording_and_profile, OutputPaths},
    sys::preflight,
    sys::supervise::{check_can_execute, exit_code_of, resolve_program, spawn_child, STOP_GRACE},
    sys::user::{self, Credentials},
};

/// How often the maps are polled for the live view and the stop conditions.
pub(crate) const POLL: Duration = Duration::from_millis(100);

pub(crate) fn run(args: RecordArgs, verbosity: u8, quiet: bool) -> Result<u8> {
    match args.target()? {
        RecordTarget::Command(command) => record_command(&args, command, verbosity, quiet),
        RecordTarget::All => crate::cmd::record_all::run(&args, verbosity, quiet),
        target => record_existing(&args, target, verbosity, quiet),
    }
}

fn record_command(
    args: &RecordArgs,
    command: &[OsString],
    verbosity: u8,
    quiet: bool,
) -> Result<u8> {
    let paths = OutputPaths::new(args.required_output()?, args.recording.clone())?;
    let creds = user::workload_credentials(args.user.user.as_deref())?;
    // A command that cannot start gets no profile: it would only hold syscage's failed exec
    // and could replace a good profile from an earlier run.
    let program = resolve_program(&command[0])?;
    check_can_execute(&program, creds.as_ref())?;
    preflight::check_privileges()?;
    let mount = cgroup::cgroup2_mount()?;
    log::info!("cgroup v2 is mounted at {}", mount.display());
    cgroup::remove_stale_leaves(&mount);

    let leaf = LeafCgroup::create(&mount)?;
    // Everything from the command's execve on is its own: it starts in the workload phase.
    let mut session = Session::start(
        Watching::Cgroups(vec![(leaf.id(), phase::WORKLOAD)]),
        verbosity,
        |_| Ok(()),
    )?;
    log::info!(
        "recording cgroup {} (id {})",
        leaf.dir().display(),
        leaf.id()
    );

    let start = Start::now(phase::WORKLOAD);
    let label = Path::new(&command[0])
        .file_name()
        .map_or_else(|| command[0].to_string_lossy(), |n| n.to_string_lossy())
        .into_owned();
    let mut watch = TreeWatch::new(&mount, leaf.dir(), &[leaf.dir().to_path_buf()]);
    let mut live = LiveView::new(quiet);
    let status = run_in_cgroup(
        &program,
        command,
        &leaf,
        creds.as_ref(),
        args.duration,
        &mut |before_message| {
            if let Ok(seen) = session.tracer.read(leaf.id()) {
                live.update(&label, &seen);
            }
            watch.poll();
            if before_message {
                live.finish();
            }
        },
        quiet,
    );
    live.finish();
    // Sub-cgroups a short command made and left are still there to report.
    watch.poll();

    // Read what was recorded even if the child could not be started: the error wins below, but
    // the maps are emptied and the cgroup removed either way (Drop of `leaf` and `session`).
    let seen = session.tracer.read(leaf.id());
    session.tracer.unwatch(leaf.id());
    drop(session);
    drop(leaf);
    let status = status?;
    let seen = seen?;
    refuse_empty(&seen, args, &label)?;

    let argv = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let subject = Subject {
        command: Some(argv),
        target: None,
        exit: ExitInfo::from_status(status),
    };
    let recording = build_recording(&seen, start, subject)?;
    let allowed = write_recording_and_profile(&recording, &paths, creds.as_ref())?;
    if !quiet {
        eprintln!(
            "syscage: recorded {} distinct syscalls ({allowed} in the profile); wrote {}",
            recording.syscalls.len(),
            paths.describe()
        );
    }
    Ok(exit_code_of(status))
}

/// How long processes left in the command's cgroup get to exit after SIGTERM, still recorded,
/// before they are moved out of it.
const LEFTOVER_GRACE: Duration = Duration::from_secs(5);

/// Runs the command in `leaf` and records until the cgroup is empty: the command and, when it
/// exits first, whatever it left running there (a daemon), until that exits too or Ctrl-C or
/// `duration` ends the recording (those get SIGTERM then). Calls `tick` every [`POLL`], with
/// `true` right before printing a message.
fn run_in_cgroup(
    program: &Path,
    command: &[OsString],
    leaf: &LeafCgroup,
    creds: Option<&Credentials>,
    duration: Option<Duration>,
    tick: &mut dyn FnMut(bool),
    quiet: bool,
) -> Result<std::process::ExitStatus> {
    let procs = leaf.open_procs()?;
    let mut cmd = Command::new(program);
    cmd.arg0(&command[0]).args(&command[1..]);
    if let Some(c) = creds {
        log::info!(
            "running the command as {} (uid {}, gid {})",
            c.name,
            c.uid,
            c.gid
        );
    }
    let creds = creds.cloned();
    // Registered before the child exists: SIGINT/SIGTERM/SIGHUP (also while the child runs,
    // when they are relayed to it) end the wait for what the command leaves behind.
    let stop = stop_on_signals()?;
    // In the child, after fork and right before exec: drop privileges first (those calls stay
    // in syscage's cgroup and out of the recording), then move into the watched cgroup by
    // writing "0" through the descriptor root opened. The next syscall is the command's execve.
    let mut child = spawn_child(cmd, move || {
        if let Some(c) = &creds {
            user::switch_to(c)?;
        }
        // SAFETY: write(2) of a static buffer to an fd that stays open in the child.
        let written = unsafe { libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        if written != 1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })?;
    let deadline = duration.map(|d| Instant::now() + d);
    let time_is_up = || deadline.is_some_and(|d| Instant::now() >= d);
    let mut terminated = false;
    // When a command that got the SIGTERM at the end of --duration is still running.
    let mut kill_at: Option<Instant> = None;
    let status = loop {
        if let Some(status) = child.wait_timeout(POLL)? {
            break status;
        }
        tick(false);
        if !terminated && time_is_up() {
            // --duration is up: end the command the way an orchestrator would, and keep its
            // status.
            tick(true);
            log::info!(
                "--duration {} is up: sending SIGTERM to the command",
                humantime::format_duration(duration.unwrap_or_default())
            );
            terminate(leaf, libc::SIGTERM);
            terminated = true;
            kill_at = Some(Instant::now() + STOP_GRACE);
        }
        if kill_at.is_some_and(|at| Instant::now() >= at) {
            // A command that ignores SIGTERM can still be stopped.
            tick(true);
            log::warn!(
                "the command did not end within {}s of the SIGTERM at the end of --duration: \
                 sending SIGKILL to it and everything in its cgroup",
                STOP_GRACE.as_secs()
            );
            terminate(leaf, libc::SIGKILL);
            kill_at = None;
        }
    };
    drop(child);

    let left = leaf.members();
    if left.is_empty() {
        return Ok(status);
    }
    tick(true);
    if !quiet {
        eprintln!(
            "syscage: the command exited, leaving {} process(es) in its cgroup ({}): recording \
             them until they exit (Ctrl-C or --duration ends the recording sooner, sending them \
             SIGTERM)",
            left.len(),
            pid_list(&left)
        );
    }
    let mut grace_until: Option<Instant> = None;
    loop {
        std::thread::sleep(POLL);
        tick(false);
        if !cgroup::is_populated(leaf.dir()) {
            log::info!("the processes the command left have exited");
            break;
        }
        if let Some(until) = grace_until {
            if Instant::now() >= until {
                break; // the rest is moved out when the cgroup is removed
            }
            continue;
        }
        let why = if stop.load(std::sync::atomic::Ordering::Relaxed) {
            "interrupted"
        } else if time_is_up() {
            "--duration is up"
        } else {
            continue;
        };
        let left = leaf.members();
        tick(true);
        if !quiet {
            eprintln!(
                "syscage: {why}: sending SIGTERM to the {} process(es) the command left ({}); \
                 recording them until they exit, at most {}",
                left.len(),
                pid_list(&left),
                humantime::format_duration(LEFTOVER_GRACE)
            );
        }
        terminate(leaf, libc::SIGTERM);
        grace_until = Some(Instant::now() + LEFTOVER_GRACE);
    }
    Ok(status)
}

/// `signal` to every process in the command's cgroup and its sub-cgroups.
fn terminate(leaf: &LeafCgroup, signal: libc::c_int) {
    for pid in leaf.members() {
        // SAFETY: plain kill(2) of a process in our own cgroup.
        unsafe { libc::kill(pid, signal) };
    }
}

fn pid_list(pids: &[i32]) -> String {
    abbreviate(&pids.iter().map(i32::to_string).collect::<Vec<_>>())
}

/// A recording without a single syscall says nothing about the workload; its profile would
/// only break it. Refused unless `--allow-empty`.
fn refuse_empty(seen: &CgroupSyscalls, args: &RecordArgs, label: &str) -> Result<()> {
    if seen.seen.is_empty() && seen.out_of_range == 0 && !args.allow_empty {
        return Err(anyhow::anyhow!(
            "{label}: no syscall was recorded (no process ran in the cgroup while recording): \
             no profile written; pass --allow-empty to write one anyway"
        ))
        .exit_code(EXIT_NO_TARGET);
    }
    Ok(())
}

/// Records a cgroup that exists already: `--cgroup`, `--pid`, `--container`.
fn record_existing(
    args: &RecordArgs,
    target: RecordTarget<'_>,
    verbosity: u8,
    quiet: bool,
) -> Result<u8> {
    let paths = OutputPaths::new(args.required_output()?, args.recording.clone())?;
    preflight::check_privileges()?;
    let mount = cgroup::cgroup2_mount()?;
    let named_as_container = matches!(target, RecordTarget::Container(_));
    let dir = match target {
        RecordTarget::Cgroup(path) => cgroup::resolve_cgroup_arg(&mount, path),
        RecordTarget::Pid(pid) => cgroup::cgroup_of_pid(&mount, &pid.to_string())
            .with_context(|| format!("--pid {pid}: no such process")),
        RecordTarget::Container(id) => cgroup::find_container(&mount, id),
        RecordTarget::Command(_) | RecordTarget::All => unreachable!("dispatched in run()"),
    }
    .exit_code(EXIT_NO_TARGET)?;
    let id = cgroup::cgroup_id(&dir).exit_code(EXIT_NO_TARGET)?;
    let target = observed_target(&mount, &dir, named_as_container);
    let label = target.container_id.as_deref().map_or_else(
        || target.cgroup.clone(),
        |c| containers::short_id(c).to_owned(),
    );

    // The cgroup and the sub-cgroups it has now, those with processes of their own first (a
    // parent's id records only the tasks directly in it), as many as the recorder holds.
    let mut subs = cgroup::descendants(&dir);
    subs.sort_by_key(|sub| cgroup::procs_of(sub).is_empty());
    let mut cgroups = vec![(dir.clone(), id)];
    for sub in subs {
        if cgroups.len() == MAX_SLOTS {
            break;
        }
        if let Ok(sub_id) = cgroup::cgroup_id(&sub) {
            cgroups.push((sub, sub_id));
        }
    }
    let dirs: Vec<PathBuf> = cgroups.iter().map(|(d, _)| d.clone()).collect();
    let ids: Vec<u64> = cgroups.iter().map(|&(_, i)| i).collect();
    log::info!(
        "recording cgroup {} (id {id}) and {} of its sub-cgroups",
        dir.display(),
        ids.len() - 1
    );
    if let Ok(own) = cgroup::cgroup_of_pid(&mount, "self") {
        if dirs.contains(&own) {
            log::warn!(
                "syscage itself runs in {}, which is recorded: its own syscalls are part of the \
                 recording",
                cgroup::relative_path(&mount, &own)
            );
        }
    }
    let populated_at_start = cgroup::is_populated(&dir);
    if target.container_id.is_some() && populated_at_start {
        // The recording says so too: it started in the workload phase and saw no entrypoint
        // exec (`phases` in the recording format).
        log::warn!(
            "container {label} is running already: its start (the runtime's setup and the \
             entrypoint's exec) is not recorded, and a profile from this recording may not let \
             the container start; record from its creation with `syscage oci-hook` or \
             `syscage record --all`"
        );
    }

    let stop = stop_on_signals()?;
    // Attached to a running cgroup: what it does from now on is its workload.
    let mut session = Session::start(
        Watching::Cgroups(ids.iter().map(|&i| (i, phase::WORKLOAD)).collect()),
        verbosity,
        |_| Ok(()),
    )?;
    let start = Start::now(phase::WORKLOAD);
    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut watch = TreeWatch::new(&mount, &dir, &dirs);
    let mut live = LiveView::new(quiet);
    let read_all = |tracer: &crate::ebpf::tracer::Tracer| -> Result<CgroupSyscalls> {
        let mut merged = CgroupSyscalls::default();
        for &i in &ids {
            merged.absorb(&tracer.read(i)?);
        }
        Ok(merged)
    };
    if !populated_at_start && !quiet {
        eprintln!(
            "syscage: {label}: no process in the cgroup yet; waiting for one (until {})",
            if args.duration.is_some() {
                "--duration is up or Ctrl-C"
            } else {
                "Ctrl-C"
            }
        );
    }
    let mut seen_populated = populated_at_start;
    let why = loop {
        std::thread::sleep(POLL);
        if let Ok(seen) = read_all(&session.tracer) {
            live.update(&label, &seen);
        }
        watch.poll();
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break "interrupted";
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break "--duration is up";
        }
        if !dir.exists() {
            break "the cgroup was removed";
        }
        let populated = cgroup::is_populated(&dir);
        if seen_populated && !populated {
            break "the cgroup is empty";
        }
        seen_populated |= populated;
    };
    live.finish();
    log::info!("stopping: {why}");
    let seen = read_all(&session.tracer)?;
    for &i in &ids {
        session.tracer.unwatch(i);
    }
    drop(session);
    refuse_empty(&seen, args, &label)?;

    let subject = Subject {
        command: None,
        target: Some(target),
        exit: None,
    };
    let recording = build_recording(&seen, start, subject)?;
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

/// What a recording of an existing cgroup says about it: its path, and what it knows of its
/// container when there is evidence of one (see [`containers::confirm`]) or the user named it
/// with `--container`.
fn observed_target(mount: &Path, dir: &Path, named_as_container: bool) -> Target {
    let rel = cgroup::relative_path(mount, dir);
    let mut target = Target {
        cgroup: rel.clone(),
        ..Default::default()
    };
    if let Some(mut c) = containers::classify(&rel) {
        if containers::confirm(&mut c, Path::new("/run")) || named_as_container {
            target.container_id = Some(c.id);
            target.runtime = Some(c.runtime);
            target.pod_uid = c.pod_uid;
            target.namespace = c.namespace;
        }
    }
    target
}

/// What the recording metadata says about a container's cgroup (the OCI hook's, which knows it
/// is one): its path and what the path shows (id, runtime, pod, namespace).
pub(crate) fn target_of(mount: &Path, dir: &Path) -> Target {
    let rel = cgroup::relative_path(mount, dir);
    let mut target = Target {
        cgroup: rel.clone(),
        ..Default::default()
    };
    if let Some(mut c) = containers::classify(&rel) {
        containers::refine_runtime(&mut c, Path::new("/run"));
        target.container_id = Some(c.id);
        target.runtime = Some(c.runtime);
        target.pod_uid = c.pod_uid;
        target.namespace = c.namespace;
    }
    target
}

/// SIGINT/SIGTERM/SIGHUP end a recording of an existing cgroup (the workload is not ours to
/// signal): the returned flag turns true.
pub(crate) fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    Ok(stop)
}
