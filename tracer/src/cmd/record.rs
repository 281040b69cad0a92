//! `syscage record`: record a command in a fresh cgroup, or an existing cgroup, process or
//! container, or every container on the node; write recordings and seccomp profiles.

use std::{
    ffi::OsString,
    os::{fd::AsRawFd as _, unix::process::CommandExt as _},
    path::Path,
    process::Command,
    sync::{atomic::AtomicBool, Arc},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use profile_gen::{ExitInfo, Target};
use tracer_common::phase;

use crate::{
    bpf::Watching,
    cgroup::{self, LeafCgroup},
    cli::{RecordArgs, RecordTarget},
    containers,
    exit::{ExitCodeExt as _, EXIT_NO_TARGET},
    live::LiveView,
    outputs::{write_recording_and_profile, OutputPaths},
    preflight,
    session::{build_recording, Session, Start, Subject},
    supervise::{check_can_execute, exit_code_of, resolve_program, spawn_child},
    user::{self, Credentials},
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
    let status = run_in_cgroup(&program, command, &leaf, creds.as_ref(), args.duration);

    // Read what was recorded even if the child could not be started: the error wins below, but
    // the maps are emptied and the cgroup removed either way (Drop of `leaf` and `session`).
    let seen = session.tracer.read(leaf.id());
    session.tracer.unwatch(leaf.id());
    drop(session);
    drop(leaf);
    let status = status?;
    let seen = seen?;

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
            "syscage: recorded {} distinct syscalls ({allowed} in the profile); wrote profile {} and recording {}",
            recording.syscalls.len(),
            paths.profile.display(),
            paths.recording.display()
        );
    }
    Ok(exit_code_of(status))
}

fn run_in_cgroup(
    program: &Path,
    command: &[OsString],
    leaf: &LeafCgroup,
    creds: Option<&Credentials>,
    duration: Option<Duration>,
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
    let Some(limit) = duration else {
        return child.wait();
    };
    if let Some(status) = child.wait_timeout(limit)? {
        return Ok(status);
    }
    // --duration is up: end the command the way an orchestrator would, and keep its status.
    log::info!(
        "--duration {} is up: sending SIGTERM to the command",
        humantime::format_duration(limit)
    );
    for pid in leaf.members() {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: plain kill(2) of a process in our own cgroup.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
    }
    child.wait_or_kill("the SIGTERM at the end of --duration", || {
        for pid in leaf.members() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: plain kill(2) of a process in our own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    })
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
    let dir = match target {
        RecordTarget::Cgroup(path) => cgroup::resolve_cgroup_arg(&mount, path),
        RecordTarget::Pid(pid) => cgroup::cgroup_of_pid(&mount, &pid.to_string())
            .with_context(|| format!("--pid {pid}: no such process")),
        RecordTarget::Container(id) => cgroup::find_container(&mount, id),
        RecordTarget::Command(_) | RecordTarget::All => unreachable!("dispatched in run()"),
    }
    .exit_code(EXIT_NO_TARGET)?;
    let id = cgroup::cgroup_id(&dir).exit_code(EXIT_NO_TARGET)?;
    let target = target_of(&mount, &dir);
    let label = target
        .container_id
        .clone()
        .unwrap_or_else(|| target.cgroup.clone());
    log::info!("recording cgroup {} (id {id})", dir.display());

    let stop = stop_on_signals()?;
    // Attached to a running cgroup: what it does from now on is its workload.
    let mut session = Session::start(
        Watching::Cgroups(vec![(id, phase::WORKLOAD)]),
        verbosity,
        |_| Ok(()),
    )?;
    let start = Start::now(phase::WORKLOAD);
    let deadline = args.duration.map(|d| Instant::now() + d);
    let mut live = LiveView::new(quiet);
    let why = loop {
        std::thread::sleep(POLL);
        if let Ok(seen) = session.tracer.read(id) {
            live.update(&label, &seen);
        }
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            break "interrupted";
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break "--duration is up";
        }
        if !cgroup::is_populated(&dir) {
            break "the cgroup is empty or gone";
        }
    };
    live.finish();
    log::info!("stopping: {why}");
    let seen = session.tracer.read(id)?;
    session.tracer.unwatch(id);
    drop(session);

    let subject = Subject {
        command: None,
        target: Some(target),
        exit: None,
    };
    let recording = build_recording(&seen, start, subject)?;
    let allowed = write_recording_and_profile(&recording, &paths, None)?;
    if !quiet {
        eprintln!(
            "syscage: {label}: recorded {} distinct syscalls ({allowed} in the profile) until {why}; wrote {} and {}",
            recording.syscalls.len(),
            paths.profile.display(),
            paths.recording.display()
        );
    }
    Ok(0)
}

/// What the recording metadata says about a cgroup: its path and, for containers, what the path
/// shows (id, runtime, pod, namespace).
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
