//! Runs the workload as a child: spawns it with a hook that runs between fork and exec, relays
//! signals to it, ends it with SIGKILL when it ignores being told to stop, waits for it, and
//! turns its end into syscage's exit status.

use std::{
    ffi::{CString, OsStr, OsString},
    io,
    os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::{
            ffi::OsStrExt as _,
            fs::{MetadataExt as _, PermissionsExt as _},
            process::{CommandExt as _, ExitStatusExt as _},
        },
    },
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    sync::{
        atomic::{AtomicBool, AtomicI32, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use signal_hook::{
    consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2},
    iterator::{exfiltrator::WithOrigin, SignalsInfo},
    low_level::siginfo::Cause,
};

use crate::{
    sys::exit::{Failure, EXIT_CANNOT_EXECUTE, EXIT_ERROR, EXIT_NOT_FOUND},
    sys::user::Credentials,
};

/// Signals a user or an orchestrator sends to stop or poke a workload.
const RELAYED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// How long a command may take to end after SIGINT/SIGTERM (or `--duration`) before it gets
/// SIGKILL. A second SIGINT/SIGTERM does not wait for it.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(10);

/// A started child, with signal relaying running until it is reaped.
pub(crate) struct RunningChild {
    child: std::process::Child,
    program: String,
    handle: signal_hook::iterator::Handle,
    relay: Option<thread::JoinHandle<()>>,
    /// Tells the grace timers that the child was reaped.
    reaped: Arc<AtomicBool>,
    /// Where the child leaves exec's errno when exec fails (see [`spawn_prepared`]).
    exec_error: Option<Arc<SharedErrno>>,
}

/// Starts `command`. `pre_exec` runs in the child after fork, immediately before exec, and must
/// only make async-signal-safe calls.
///
/// While the child runs, signals syscage receives from another process (`kill`, an
/// orchestrator's SIGTERM) are relayed to it. Signals the kernel generates for the terminal's
/// process group (Ctrl-C) already reach the child, which shares that group, so they are not
/// sent a second time. syscage itself survives them: the recording still has to be written.
/// A child that ignores SIGINT/SIGTERM is killed after [`STOP_GRACE`] (see [`relay_signals`]).
/// Standard descriptors that were closed when syscage started are closed in the child again.
pub(crate) fn spawn_child(
    mut command: Command,
    pre_exec: impl FnMut() -> io::Result<()> + Send + Sync + 'static,
) -> Result<RunningChild> {
    // Handlers go in before the child exists, so no signal can kill syscage in between.
    let signals = SignalsInfo::<WithOrigin>::new(RELAYED).context("installing signal handlers")?;
    let handle = signals.handle();

    let closed = std_fds_closed_at_start();
    let mut pre_exec = pre_exec;
    // SAFETY: the caller promises the hook is async-signal-safe; close(2) is too.
    unsafe {
        command.pre_exec(move || {
            for &fd in &closed {
                libc::close(fd);
            }
            pre_exec()
        })
    };
    let program = command.get_program().to_string_lossy().into_owned();
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            handle.close();
            let code = match e.raw_os_error() {
                Some(libc::ENOENT) => EXIT_NOT_FOUND,
                Some(libc::EACCES | libc::ENOEXEC | libc::EPERM | libc::ETXTBSY) => {
                    EXIT_CANNOT_EXECUTE
                }
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
    // A pidfd names this very process even after it is reaped and its pid reused, so neither the
    // relay nor a grace timer can ever signal a stranger.
    let pidfd = open_pidfd(pid);
    let reaped = Arc::new(AtomicBool::new(false));
    let relay = {
        let reaped = Arc::clone(&reaped);
        thread::spawn(move || relay_signals(signals, pid, pidfd, &reaped))
    };
    Ok(RunningChild {
        child,
        program,
        handle,
        relay: Some(relay),
        reaped,
        exec_error: None,
    })
}

/// Relays signals from other processes to the child (see [`spawn_child`]); after a SIGINT or
/// SIGTERM, from the terminal or not, the child has [`STOP_GRACE`] to end before SIGKILL, and a
/// second one kills it at once: a workload that ignores them can still be stopped.
fn relay_signals(
    mut signals: SignalsInfo<WithOrigin>,
    pid: libc::pid_t,
    pidfd: Option<Arc<OwnedFd>>,
    reaped: &Arc<AtomicBool>,
) {
    let mut stop_requests = 0u32;
    for origin in signals.forever() {
        let signal = origin.signal;
        if matches!(origin.cause, Cause::Kernel) {
            log::debug!("signal {signal} came from the terminal; pid {pid} got it too");
        } else {
            log::info!("relaying signal {signal} to pid {pid}");
            send_signal(pid, pidfd.as_deref(), signal);
        }
        if signal != SIGINT && signal != SIGTERM {
            continue;
        }
        stop_requests += 1;
        let name = signal_name(signal);
        if stop_requests == 1 {
            let pidfd = pidfd.clone();
            let reaped = Arc::clone(reaped);
            thread::spawn(move || {
                if !sleep_unless(&reaped, STOP_GRACE) {
                    kill_unless_ended(
                        pid,
                        pidfd.as_deref(),
                        &reaped,
                        &format!(
                            "the command did not end within {}s of {name}",
                            STOP_GRACE.as_secs()
                        ),
                    );
                }
            });
        } else {
            kill_unless_ended(
                pid,
                pidfd.as_deref(),
                reaped,
                &format!("{name} again while the command was still running"),
            );
        }
    }
}

/// Sleeps for `period`, or less when `flag` turns true; returns the flag.
fn sleep_unless(flag: &AtomicBool, period: Duration) -> bool {
    let deadline = Instant::now() + period;
    while !flag.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
    true
}

/// SIGKILLs the child if it is still running, and says why.
fn kill_unless_ended(pid: libc::pid_t, pidfd: Option<&OwnedFd>, reaped: &AtomicBool, why: &str) {
    if reaped.load(Ordering::Relaxed) || has_ended(pidfd) {
        return;
    }
    log::warn!("{why}: sending it SIGKILL");
    send_signal(pid, pidfd, libc::SIGKILL);
}

/// Whether the child has exited (a zombie not yet reaped counts), asked without reaping it.
fn has_ended(pidfd: Option<&OwnedFd>) -> bool {
    let Some(fd) = pidfd else {
        return false;
    };
    // SAFETY: waitid on our own pidfd into a zeroed siginfo; WNOWAIT leaves the child for wait().
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let ret = libc::waitid(
            libc::P_PIDFD,
            fd.as_raw_fd() as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        // ECHILD: reaped already.
        ret != 0 || info.si_pid() != 0
    }
}

fn open_pidfd(pid: libc::pid_t) -> Option<Arc<OwnedFd>> {
    // SAFETY: pidfd_open(2) of our own child; a non-negative result is a new descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        log::debug!("pidfd_open: {}", io::Error::last_os_error());
        return None;
    }
    // SAFETY: see above.
    Some(Arc::new(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// Sends `signal` through the pidfd (kernels before 5.3 have none: kill(2) then).
fn send_signal(pid: libc::pid_t, pidfd: Option<&OwnedFd>, signal: i32) {
    // SAFETY: plain syscalls; without a pidfd the child is not reaped before the relay stops.
    unsafe {
        match pidfd {
            Some(fd) => {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            }
            None => {
                libc::kill(pid, signal);
            }
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        SIGQUIT => "SIGQUIT",
        _ => "the signal",
    }
}

/// The standard descriptors (0, 1, 2) that were closed when syscage started. Rust's runtime
/// points those at /dev/null before `main`, read-write, which a shell's redirection never
/// does (`>/dev/null` is write-only, `</dev/null` read-only); the command gets them closed
/// again, as it would without syscage in between.
fn std_fds_closed_at_start() -> Vec<i32> {
    let null = std::fs::metadata("/dev/null").ok();
    (0..3)
        .filter(|fd| {
            let Ok(meta) = std::fs::metadata(format!("/proc/self/fd/{fd}")) else {
                return false;
            };
            let is_null = null
                .as_ref()
                .is_some_and(|n| n.rdev() == meta.rdev() && n.dev() == meta.dev());
            let flags = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find_map(|l| l.strip_prefix("flags:"))
                        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
                });
            is_null && flags.is_some_and(|f| f & libc::O_ACCMODE as u32 == libc::O_RDWR as u32)
        })
        .collect()
}

/// Starts `program` with `argv` (`argv[0]` included) like [`spawn_child`], but the child execs
/// the program itself after `prepare`, which may load a seccomp filter.
///
/// Once a filter is loaded, the child may not be allowed to report anything: std would `write`
/// exec's error to its pipe and abort when that is denied. Here exec's errno goes into memory
/// shared with the parent (a plain store, no syscall), the child leaves with `_exit`, and
/// [`RunningChild::wait`] turns it into syscage's error (126, or 127 for ENOENT). The signal
/// dispositions syscage installed (its relay's handlers, std's SIGSEGV handler) are reset first,
/// so a child that fails under a filter dies instead of spinning in a handler that cannot
/// reset itself, and SIGINT/SIGTERM reach it with their default effect.
pub(crate) fn spawn_prepared(
    program: &Path,
    argv: &[OsString],
    mut prepare: impl FnMut() -> io::Result<()> + Send + Sync + 'static,
) -> Result<RunningChild> {
    let exec = ExecArgs::new(program, argv)?;
    let slot = Arc::new(SharedErrno::new().context("mmap for the exec error")?);
    let child_slot = Arc::clone(&slot);
    let mut command = Command::new(program);
    if let Some(arg0) = argv.first() {
        command.arg0(arg0);
    }
    command.args(argv.iter().skip(1));
    let mut running = spawn_child(command, move || {
        // The whole struct, not its fields (which are not Send on their own).
        let exec = &exec;
        reset_signal_dispositions();
        prepare()?;
        // SAFETY: execv with NUL-terminated strings and a null-terminated array made before fork.
        unsafe { libc::execv(exec.path.as_ptr(), exec.pointers.as_ptr()) };
        child_slot.set(
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL),
        );
        // SAFETY: leaves the child at once, without running anything of the parent's.
        unsafe { libc::_exit(EXIT_CANNOT_EXECUTE.into()) }
    })?;
    running.exec_error = Some(slot);
    Ok(running)
}

/// Every handled signal back to its default action (ignored ones stay ignored, as exec keeps
/// them). Async-signal-safe: sigaction only.
fn reset_signal_dispositions() {
    for signal in 1..=libc::SIGRTMAX() {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction(2) with valid pointers; errors (glibc's reserved signals) are ignored.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) != 0 {
                continue;
            }
            if current.sa_sigaction != libc::SIG_IGN && current.sa_sigaction != libc::SIG_DFL {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}

/// exec's arguments, prepared before fork so the child allocates nothing.
struct ExecArgs {
    path: CString,
    _argv: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
}

// SAFETY: the pointers point into `_argv`, which is owned and never changed.
unsafe impl Send for ExecArgs {}
// SAFETY: see above; only read.
unsafe impl Sync for ExecArgs {}

impl ExecArgs {
    fn new(program: &Path, argv: &[OsString]) -> Result<Self> {
        let c = |s: &OsStr| {
            CString::new(s.as_bytes()).with_context(|| format!("{s:?} contains a NUL byte"))
        };
        let path = c(program.as_os_str())?;
        let argv = argv.iter().map(|a| c(a)).collect::<Result<Vec<_>>>()?;
        let pointers = argv
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        Ok(Self {
            path,
            _argv: argv,
            pointers,
        })
    }
}

/// One `int` in a shared anonymous mapping: the child's store is seen by the parent.
struct SharedErrno {
    cell: std::ptr::NonNull<AtomicI32>,
}

// SAFETY: the mapping is only accessed through the atomic.
unsafe impl Send for SharedErrno {}
// SAFETY: see above.
unsafe impl Sync for SharedErrno {}

impl SharedErrno {
    fn new() -> io::Result<Self> {
        // SAFETY: a fresh anonymous shared mapping of one page, zero-filled by the kernel.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                std::mem::size_of::<AtomicI32>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let cell = std::ptr::NonNull::new(ptr.cast()).ok_or_else(io::Error::last_os_error)?;
        Ok(Self { cell })
    }

    fn set(&self, errno: i32) {
        // SAFETY: the mapping lives as long as self.
        unsafe { self.cell.as_ref() }.store(errno, Ordering::SeqCst);
    }

    fn get(&self) -> Option<i32> {
        // SAFETY: the mapping lives as long as self.
        let errno = unsafe { self.cell.as_ref() }.load(Ordering::SeqCst);
        (errno != 0).then_some(errno)
    }
}

impl Drop for SharedErrno {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in new(); nothing uses it any more.
        unsafe { libc::munmap(self.cell.as_ptr().cast(), std::mem::size_of::<AtomicI32>()) };
    }
}

/// The exit code for a failed exec: 127 when the file is not there, 126 for the rest (a shell's
/// convention: found but not executable, busy, wrong format, ...).
fn exec_failure_code(errno: i32) -> u8 {
    if errno == libc::ENOENT {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_EXECUTE
    }
}

impl RunningChild {
    /// Waits up to `timeout` for the child to end.
    pub(crate) fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {:?}", self.program))?
            {
                self.stop_relay();
                return self.exec_outcome(status).map(Some);
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            let left = deadline.map_or(Duration::from_millis(5), |d| d - now);
            thread::sleep(left.min(Duration::from_millis(5)));
        }
    }

    /// Waits for the child to end.
    pub(crate) fn wait(mut self) -> Result<ExitStatus> {
        let status = self
            .child
            .wait()
            .with_context(|| format!("waiting for {:?}", self.program));
        self.stop_relay();
        self.exec_outcome(status?)
    }

    /// The child's status, or the error its failed exec left (see [`spawn_prepared`]).
    fn exec_outcome(&self, status: ExitStatus) -> Result<ExitStatus> {
        let Some(errno) = self.exec_error.as_ref().and_then(|slot| slot.get()) else {
            return Ok(status);
        };
        let error = anyhow::Error::new(io::Error::from_raw_os_error(errno));
        // The program was found before it was started: ENOENT is about its interpreter (`#!`)
        // or its ELF loader, and the file itself cannot be executed here.
        if errno == libc::ENOENT && Path::new(&self.program).exists() {
            return Err(Failure::new(
                EXIT_CANNOT_EXECUTE,
                error.context(format!(
                    "cannot run {:?}: its interpreter (#! line or ELF loader) was not found",
                    self.program
                )),
            )
            .into());
        }
        Err(Failure::new(
            exec_failure_code(errno),
            error.context(format!("cannot run {:?}", self.program)),
        )
        .into())
    }

    fn stop_relay(&mut self) {
        self.reaped.store(true, Ordering::Relaxed);
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

/// Checks what exec would refuse, before anything is confined: a confined child may not be
/// able to say why its exec failed. `program` comes from [`resolve_program`]; `user` is who the
/// command runs as (`None`: syscage's own user). Fails with 126 naming the reason.
pub(crate) fn check_can_execute(program: &Path, user: Option<&Credentials>) -> Result<()> {
    let refuse = |why: String| -> anyhow::Error {
        Failure::new(
            EXIT_CANNOT_EXECUTE,
            anyhow::anyhow!("cannot run {}: {why}", program.display()),
        )
        .into()
    };
    if let Some(user) = user {
        let path = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
        for dir in path.ancestors().skip(1) {
            if let Ok(meta) = std::fs::metadata(dir) {
                if !permits(&meta, user, 0o1) {
                    return Err(refuse(format!(
                        "user {} may not enter {}",
                        user.name,
                        dir.display()
                    )));
                }
            }
        }
        let meta = std::fs::metadata(program).map_err(|e| refuse(e.to_string()))?;
        if !permits(&meta, user, 0o1) {
            return Err(refuse(format!(
                "user {} may not execute it (mode {:o}, owner {}:{})",
                user.name,
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid()
            )));
        }
    }
    let c_path = CString::new(program.as_os_str().as_bytes())
        .map_err(|_| refuse("the path contains a NUL byte".to_owned()))?;
    // SAFETY: statvfs into a zeroed struct with a valid path.
    let noexec = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        libc::statvfs(c_path.as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_NOEXEC != 0
    };
    if noexec {
        return Err(refuse("its filesystem is mounted noexec".to_owned()));
    }
    if let Some(pid) = writer_of(program) {
        return Err(refuse(format!(
            "text file busy: process {pid} has it open for writing"
        )));
    }
    Ok(())
}

/// Whether the permission bits of `meta` grant `bits` (`0o4` read, `0o2` write, `0o1` execute
/// or search) to `user`, the way the kernel picks owner, group or other; root needs an x bit
/// for files and nothing for directories.
fn permits(meta: &std::fs::Metadata, user: &Credentials, bits: u32) -> bool {
    let mode = meta.mode();
    if user.uid == 0 {
        return meta.is_dir() || mode & 0o111 != 0;
    }
    let shift = if meta.uid() == user.uid {
        6
    } else if meta.gid() == user.gid || user.groups.contains(&meta.gid()) {
        3
    } else {
        0
    };
    (mode >> shift) & bits == bits
}

/// A process that has `path` open for writing (which makes exec fail with ETXTBSY), found
/// through /proc; `None` when there is none or /proc cannot tell.
fn writer_of(path: &Path) -> Option<u32> {
    let target = std::fs::metadata(path).ok()?;
    for process in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = process.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let same_file = std::fs::metadata(fd.path())
                .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino());
            if !same_file {
                continue;
            }
            let info = process.path().join("fdinfo").join(fd.file_name());
            let flags = std::fs::read_to_string(info).ok().and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            });
            let access = flags.map_or(0, |f| f & libc::O_ACCMODE as u32);
            if access == libc::O_WRONLY as u32 || access == libc::O_RDWR as u32 {
                return Some(pid);
            }
        }
    }
    None
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
