//! Runs the workload as a child: spawns it with a hook that runs between fork and exec, relays
//! signals to it, waits for it, and turns its end into syscage's exit status.

use std::{
    ffi::{OsStr, OsString},
    io,
    os::unix::{
        ffi::OsStrExt as _,
        fs::PermissionsExt as _,
        process::{CommandExt as _, ExitStatusExt as _},
    },
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    thread,
};

use anyhow::{Context as _, Result};
use signal_hook::{
    consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2},
    iterator::{exfiltrator::WithOrigin, SignalsInfo},
    low_level::siginfo::Cause,
};

use crate::exit::{Failure, EXIT_CANNOT_EXECUTE, EXIT_ERROR, EXIT_NOT_FOUND};

/// Signals a user or an orchestrator sends to stop or poke a workload.
const RELAYED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// A started child, with signal relaying running until it is reaped.
pub(crate) struct RunningChild {
    child: std::process::Child,
    program: String,
    handle: signal_hook::iterator::Handle,
    relay: Option<thread::JoinHandle<()>>,
}

/// Starts `command`. `pre_exec` runs in the child after fork, immediately before exec, and must
/// only make async-signal-safe calls.
///
/// While the child runs, signals syscage receives from another process (`kill`, an
/// orchestrator's SIGTERM) are relayed to it. Signals the kernel generates for the terminal's
/// process group (Ctrl-C) already reach the child, which shares that group, so they are not
/// sent a second time. syscage itself survives them: the recording still has to be written.
pub(crate) fn spawn_child(
    mut command: Command,
    pre_exec: impl FnMut() -> io::Result<()> + Send + Sync + 'static,
) -> Result<RunningChild> {
    // Handlers go in before the child exists, so no signal can kill syscage in between.
    let mut signals =
        SignalsInfo::<WithOrigin>::new(RELAYED).context("installing signal handlers")?;
    let handle = signals.handle();

    // SAFETY: the caller promises the hook is async-signal-safe.
    unsafe { command.pre_exec(pre_exec) };
    let program = command.get_program().to_string_lossy().into_owned();
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            handle.close();
            let code = match e.raw_os_error() {
                Some(libc::ENOENT) => EXIT_NOT_FOUND,
                Some(libc::EACCES | libc::ENOEXEC | libc::EPERM) => EXIT_CANNOT_EXECUTE,
                _ => EXIT_ERROR,
            };
            return Err(Failure::new(
                code,
                anyhow::Error::new(e).context(format!("cannot run {program:?}")),
            )
            .into());
        }
    };
    let pid = child.id() as libc::pid_t;
    log::info!("started {program:?} as pid {pid}");

    let relay = thread::spawn(move || {
        for origin in signals.forever() {
            if matches!(origin.cause, Cause::Kernel) {
                log::debug!(
                    "signal {} came from the terminal; pid {pid} got it too",
                    origin.signal
                );
                continue;
            }
            log::info!("relaying signal {} to pid {pid}", origin.signal);
            // SAFETY: plain kill(2); the child is not reaped before this thread is stopped.
            unsafe { libc::kill(pid, origin.signal) };
        }
    });
    Ok(RunningChild {
        child,
        program,
        handle,
        relay: Some(relay),
    })
}

impl RunningChild {
    /// Waits up to `timeout` for the child to end.
    pub(crate) fn wait_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> Result<Option<ExitStatus>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {:?}", self.program))?
            {
                self.stop_relay();
                return Ok(Some(status));
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            thread::sleep((deadline - now).min(std::time::Duration::from_millis(5)));
        }
    }

    /// Waits for the child to end.
    pub(crate) fn wait(mut self) -> Result<ExitStatus> {
        let status = self
            .child
            .wait()
            .with_context(|| format!("waiting for {:?}", self.program));
        self.stop_relay();
        status
    }

    fn stop_relay(&mut self) {
        self.handle.close();
        if let Some(relay) = self.relay.take() {
            let _ = relay.join();
        }
    }
}

impl Drop for RunningChild {
    fn drop(&mut self) {
        self.stop_relay();
    }
}

/// Runs `command` to its end (see [`spawn_child`]) and returns how it ended.
pub(crate) fn run_child(
    command: Command,
    pre_exec: impl FnMut() -> io::Result<()> + Send + Sync + 'static,
) -> Result<ExitStatus> {
    spawn_child(command, pre_exec)?.wait()
}

/// Finds the program to execute the way `execvp` would (a name with a `/` as is, else the first
/// executable match on PATH) and fails with 127 / 126 before anything runs.
///
/// Doing the search here rather than in the child means that the recording and a profile under
/// test see exactly one `execve`, not one failed attempt per PATH entry, and that a missing
/// command is reported even when the profile under test would not let the child report it.
pub(crate) fn resolve_program(program: &OsStr) -> Result<PathBuf> {
    let not_found = || {
        Failure::new(
            EXIT_NOT_FOUND,
            anyhow::anyhow!("cannot run {program:?}: command not found"),
        )
        .into()
    };
    if program.is_empty() {
        return Err(not_found());
    }
    let candidates: Vec<PathBuf> = if program.as_bytes().contains(&b'/') {
        vec![PathBuf::from(program)]
    } else {
        let path = std::env::var_os("PATH")
            .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .collect()
    };
    let mut not_executable = None;
    for candidate in candidates {
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() && is_executable(&candidate, meta.permissions().mode()) => {
                return Ok(candidate);
            }
            Ok(_) => not_executable = Some(candidate),
            Err(_) => {}
        }
    }
    match not_executable {
        Some(path) => Err(Failure::new(
            EXIT_CANNOT_EXECUTE,
            anyhow::anyhow!("cannot run {}: not an executable file", path.display()),
        )
        .into()),
        None => Err(not_found()),
    }
}

/// access(X_OK) answers for the real uid, which is what exec checks for root too (root needs
/// at least one x bit).
fn is_executable(path: &Path, mode: u32) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: valid NUL-terminated path.
    mode & 0o111 != 0 && unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } == 0
}

/// The exit code a shell would report for a child's status: its code, or 128 + signal.
pub(crate) fn exit_code_of(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}
