//! `syscage record -- CMD`: run a command in a fresh, watched cgroup and write its recording and
//! seccomp profile.

use std::{
    ffi::OsString,
    io::Write as _,
    os::{
        fd::AsRawFd as _,
        unix::{fs::chown, process::CommandExt as _},
    },
    path::{Path, PathBuf},
    process::Command,
    time::SystemTime,
};

use anyhow::{Context as _, Result};
use profile_gen::{
    host_info, native_arch, profile_from_recording, profile_to_json, write_atomic, ExitInfo,
    Recording, SyscallRecord,
};

use crate::{
    bpf::{ebpf_log_level, CgroupSyscalls, Tracer},
    cgroup::{self, LeafCgroup},
    cli::RecordArgs,
    preflight,
    supervise::{exit_code_of, resolve_program, run_child},
    user::{self, Credentials},
};

/// `record` watches one cgroup; a little headroom costs nothing.
const MAX_WATCHED: u32 = 4;

pub(crate) fn run(args: RecordArgs, verbosity: u8, quiet: bool) -> Result<u8> {
    let recording_path = args
        .recording
        .clone()
        .unwrap_or_else(|| recording_path_for(&args.output));
    check_output_dir(&args.output)?;
    check_output_dir(&recording_path)?;
    let creds = user::workload_credentials(args.user.user.as_deref())?;
    // A command that cannot start gets no profile: it would only hold syscage's failed exec
    // and could replace a good profile from an earlier run.
    let program = resolve_program(&args.command[0])?;
    preflight::check_privileges()?;
    let mount = cgroup::cgroup2_mount()?;
    log::info!("cgroup v2 is mounted at {}", mount.display());
    cgroup::remove_stale_leaves(&mount);

    let (mut tracer, logger) = Tracer::attach(MAX_WATCHED, ebpf_log_level(verbosity))?;
    let log_pump = logger.map(spawn_log_pump);
    let leaf = LeafCgroup::create(&mount)?;
    tracer.watch(leaf.id())?;
    log::info!(
        "recording cgroup {} (id {})",
        leaf.dir().display(),
        leaf.id()
    );

    let started_at = SystemTime::now();
    let started_mono_ns = monotonic_ns();
    let status = run_in_cgroup(&program, &args.command, &leaf, creds.as_ref());
    let ended_at = SystemTime::now();

    // Read what was recorded even if the child could not be started: the error wins below, but
    // the maps are emptied and the cgroup removed either way (Drop of `leaf` and `tracer`).
    let seen = tracer.read(leaf.id());
    tracer.unwatch(leaf.id());
    drop(log_pump);
    drop(leaf);
    let status = status?;
    let seen = seen?;

    let recording = build_recording(
        &args.command,
        seen,
        started_at,
        ended_at,
        started_mono_ns,
        status,
    )?;
    let generated = profile_from_recording(&recording)
        .with_context(|| format!("generating the profile for {}", args.output.display()))?;
    for nr in &generated.unknown_numbers {
        log::warn!(
            "syscall number {nr} is not known to libseccomp for {}: kept in the recording, left out of the profile",
            recording.arch
        );
    }
    if recording.out_of_range_count > 0 {
        log::warn!(
            "{} syscalls had numbers beyond the tracer's table ({}); they are counted in the recording's out_of_range_count",
            recording.out_of_range_count,
            tracer_common::MAX_SYSCALLS
        );
    }
    write_output(
        &recording_path,
        recording.to_json().as_bytes(),
        creds.as_ref(),
    )?;
    write_output(
        &args.output,
        profile_to_json(&generated.profile).as_bytes(),
        creds.as_ref(),
    )?;
    if !quiet {
        eprintln!(
            "syscage: recorded {} distinct syscalls; wrote profile {} and recording {}",
            recording.syscalls.len(),
            args.output.display(),
            recording_path.display()
        );
    }
    Ok(exit_code_of(status))
}

/// `app.json` -> `app.recording.json`; `app` -> `app.recording.json`.
fn recording_path_for(profile: &Path) -> PathBuf {
    let stem = match profile.extension() {
        Some(ext) if ext == "json" => profile.with_extension(""),
        _ => profile.to_path_buf(),
    };
    let mut name = stem.file_name().map(OsString::from).unwrap_or_default();
    name.push(".recording.json");
    stem.with_file_name(name)
}

/// Fails early, before the workload runs, when an output could not be written afterwards.
fn check_output_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let meta =
        std::fs::metadata(dir).with_context(|| format!("output directory {}", dir.display()))?;
    anyhow::ensure!(
        meta.is_dir(),
        "output directory {}: not a directory",
        dir.display()
    );
    anyhow::ensure!(
        !path.is_dir(),
        "output {}: is a directory, expected a file path",
        path.display()
    );
    Ok(())
}

fn run_in_cgroup(
    program: &Path,
    command: &[OsString],
    leaf: &LeafCgroup,
    creds: Option<&Credentials>,
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
    run_child(cmd, move || {
        if let Some(c) = &creds {
            user::switch_to(c)?;
        }
        // SAFETY: write(2) of a static buffer to an fd that stays open in the child.
        let written = unsafe { libc::write(procs.as_raw_fd(), b"0".as_ptr().cast(), 1) };
        if written != 1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })
}

fn build_recording(
    command: &[OsString],
    seen: CgroupSyscalls,
    started_at: SystemTime,
    ended_at: SystemTime,
    started_mono_ns: u64,
    status: std::process::ExitStatus,
) -> Result<Recording> {
    let arch = native_arch();
    let argv = command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut recording = Recording::new(arch, Some(argv), started_at, host_info().context("uname")?);
    recording.finish(ended_at, ExitInfo::from_status(status));
    recording.syscalls = seen
        .seen
        .into_iter()
        .map(|(nr, (count, first_ns))| {
            SyscallRecord::new(
                arch,
                nr,
                count,
                first_ns.saturating_sub(started_mono_ns) / 1000,
            )
        })
        .collect();
    recording.out_of_range_count = seen.out_of_range;
    recording.sort_syscalls();
    Ok(recording)
}

/// Writes atomically and, under sudo, hands the file to the user the workload ran as, so a user
/// can edit and move their own profile.
fn write_output(path: &Path, contents: &[u8], creds: Option<&Credentials>) -> Result<()> {
    write_atomic(path, contents).with_context(|| format!("writing {}", path.display()))?;
    if let Some(c) = creds {
        chown(path, Some(c.uid), Some(c.gid))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(())
}

/// CLOCK_MONOTONIC in ns: the clock `bpf_ktime_get_ns()` stamps first sightings with.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_MONOTONIC cannot fail on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Relays the eBPF program's aya-log lines to our logger from a background thread with a
/// small tokio runtime, for as long as the returned guard lives.
fn spawn_log_pump(logger: aya_log::EbpfLogger<&'static dyn log::Log>) -> LogPump {
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return log::warn!("eBPF log relay unavailable: {e}"),
        };
        rt.block_on(async move {
            // SAFETY: the logger owns its ring buffer's fd and keeps it open, unchanged, for as
            // long as it lives, and the AsyncFd owns the logger.
            let registered = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(
                    logger,
                    tokio::io::Interest::READABLE,
                )
            };
            let mut fd = match registered {
                Ok(fd) => fd,
                Err(e) => return log::warn!("eBPF log relay unavailable: {e}"),
            };
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    guard = fd.readable_mut() => match guard {
                        Ok(mut guard) => {
                            guard.get_inner_mut().flush();
                            guard.clear_ready();
                        }
                        Err(_) => break,
                    },
                }
            }
            fd.get_mut().flush();
        });
        let _ = std::io::stderr().flush();
    });
    LogPump {
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

struct LogPump {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogPump {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_path_sits_next_to_the_profile() {
        assert_eq!(
            recording_path_for(Path::new("app.json")),
            PathBuf::from("app.recording.json")
        );
        assert_eq!(
            recording_path_for(Path::new("/x/y/app.json")),
            PathBuf::from("/x/y/app.recording.json")
        );
        assert_eq!(
            recording_path_for(Path::new("profile")),
            PathBuf::from("profile.recording.json")
        );
        assert_eq!(
            recording_path_for(Path::new("a.b.json")),
            PathBuf::from("a.b.recording.json")
        );
    }
}
