//! `record -- COMMAND`: run a command in a fresh cgroup, recorded from its execve on, and
//! record what it leaves running there until that ends too.

use std::{
    ffi::OsString,
    os::{fd::AsRawFd as _, unix::process::CommandExt as _},
    path::Path,
    process::{Command, ExitStatus},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use anyhow::Result;
use profile_gen::ExitInfo;
use profile_gen::Phase;

use crate::{
    ebpf::recording::{build_recording, Start, Subject},
    ebpf::tracer::Watching,
    recorder::{
        live::LiveView,
        options::RecordOptions,
        session::Session,
        stop::{stop_on_signals, POLL},
        tree_watch::{abbreviate, TreeWatch},
    },
    sys::{
        cgroup::{self, LeafCgroup},
        outputs::{write_recording_and_profile, OutputPaths},
        preflight,
        supervise::{
            check_can_execute, exit_code_of, resolve_program, spawn_child, RunningChild, STOP_GRACE,
        },
        user::{self, Credentials},
    },
};

/// Records `command`, run as `user` (`--user`) in a fresh cgroup; returns its exit status.
pub(crate) fn record_command(
    options: &RecordOptions,
    command: &[OsString],
    user: Option<&str>,
) -> Result<u8> {
    let (verbosity, quiet) = (options.verbosity, options.quiet);
    let paths = OutputPaths::new(options.required_output()?, options.recording.clone())?;
    let creds = user::workload_credentials(user)?;
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
    let watching = Watching::Cgroups(vec![(leaf.id(), Phase::Workload)]);
    let mut session = Session::start(watching, verbosity, |_| Ok(()))?;
    log::info!(
        "recording cgroup {} (id {})",
        leaf.dir().display(),
        leaf.id()
    );

    let start = Start::now(Phase::Workload);
    let label = label_of(command);
    let mut watch = TreeWatch::new(&mount, leaf.dir(), &[leaf.dir().to_path_buf()]);
    let mut live = LiveView::new(quiet);
    let status = run_in_cgroup(
        &program,
        command,
        &leaf,
        creds.as_ref(),
        options.duration,
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
    options.refuse_empty(&seen, &label)?;

    let subject = Subject::command(command, None, ExitInfo::from_status(status));
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

/// What messages call the command: its program's file name.
fn label_of(command: &[OsString]) -> String {
    Path::new(&command[0])
        .file_name()
        .map_or_else(|| command[0].to_string_lossy(), |n| n.to_string_lossy())
        .into_owned()
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
) -> Result<ExitStatus> {
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
        cgroup::join_through(procs.as_raw_fd())
    })?;
    let deadline = duration.map(|d| Instant::now() + d);
    let status = wait_for_command(&mut child, leaf, (duration, deadline), tick)?;
    drop(child);
    record_leftovers(leaf, &stop, deadline, tick, quiet);
    Ok(status)
}

/// Waits for the command to exit, calling `tick` every [`POLL`]; at `deadline`, once `duration`
/// is up, sends it SIGTERM, the way an orchestrator would, and SIGKILL if it has not ended [`STOP_GRACE`]
/// later. Returns its status.
fn wait_for_command(
    child: &mut RunningChild,
    leaf: &LeafCgroup,
    (duration, deadline): (Option<Duration>, Option<Instant>),
    tick: &mut dyn FnMut(bool),
) -> Result<ExitStatus> {
    let mut terminated = false;
    // When a command that got the SIGTERM at the end of --duration is still running.
    let mut kill_at: Option<Instant> = None;
    loop {
        if let Some(status) = child.wait_timeout(POLL)? {
            return Ok(status);
        }
        tick(false);
        if !terminated && deadline.is_some_and(|d| Instant::now() >= d) {
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
    }
}

/// Records what the command left running in `leaf` until it exits, or until a signal or
/// `deadline` sends it SIGTERM and [`LEFTOVER_GRACE`] passes.
fn record_leftovers(
    leaf: &LeafCgroup,
    stop: &AtomicBool,
    deadline: Option<Instant>,
    tick: &mut dyn FnMut(bool),
    quiet: bool,
) {
    let left = leaf.members();
    if left.is_empty() {
        return;
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
            return;
        }
        if let Some(until) = grace_until {
            if Instant::now() >= until {
                return; // the rest is moved out when the cgroup is removed
            }
            continue;
        }
        let why = if stop.load(Ordering::Relaxed) {
            "interrupted"
        } else if deadline.is_some_and(|d| Instant::now() >= d) {
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
