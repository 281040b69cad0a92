//! `syscage oci-hook`: record a container from before its process runs user code, started by
//! the runtime as a `createRuntime` (or `prestart`) hook.
//!
//! The runtime waits for a hook to exit, and waits for its stdout/stderr to close, before it
//! lets the container go on. So the hook starts a detached recorder (double fork, new session,
//! stdio away from the runtime's pipes), waits until that recorder watches the container's
//! cgroup, and exits. The recorder writes the profile when the cgroup is empty or removed.

use std::{
    fs::File,
    io::{Read as _, Write as _},
    os::fd::{AsRawFd as _, OwnedFd},
    path::{Component, Path, PathBuf},
};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use nix::unistd::{fork, setsid, ForkResult};
use oci_spec::runtime::State;
use profile_gen::formats::read::{read_limited, MAX_INPUT_BYTES};
use profile_gen::{KubernetesIdentity, Phase, PodContainer};

use crate::{
    ebpf::recording::{build_recording, Start, Subject},
    ebpf::tracer::Watching,
    recorder::session::Session,
    recorder::{
        stop::POLL,
        target::{set_kubernetes, target_of},
    },
    sys::bundles::kubernetes_of_bundle,
    sys::cgroup,
    sys::exit::{ExitCodeExt as _, Failure, EXIT_BAD_INPUT, EXIT_NO_TARGET},
    sys::outputs::{check_output_dir, write_recording_and_profile, OutputPaths},
    sys::overlay_writes::{self, OverlayWatch},
    sys::preflight,
};

/// Run as an OCI runtime hook (`createRuntime`, or `prestart` for older runtimes): start
/// recording the container before its process runs user code, and write its profile when the
/// container stops.
///
/// The runtime passes the container's state (id, pid, bundle, annotations) on stdin. The hook
/// starts a recorder in the background, waits until it watches the container's cgroup, and
/// returns; the recorder writes the profile once the container's cgroup is empty. The output
/// is `--output-dir`/<id>.json, or the file the annotation `io.syscage.output` names inside
/// --output-dir (a file name or a relative path without `..`; anything else is refused).
///
/// For the tightest profile, give the container a permissive seccomp profile while recording
/// (e.g. defaultAction SCMP_ACT_LOG): syscage then sees where the runtime loads the filter and
/// leaves out the runtime's setup before it.
#[derive(Debug, Args)]
#[command(after_help = "Hook entry in config.json (runc, crun):\n  \
    \"hooks\": {\"createRuntime\": [{\"path\": \"/usr/local/bin/syscage\",\n    \
    \"args\": [\"syscage\", \"oci-hook\", \"--output-dir\", \"/var/lib/syscage\"]}]}")]
pub(crate) struct OciHookArgs {
    /// Directory for `<container id>.json` and `<container id>.recording.json`, or for the
    /// file the container's annotation `io.syscage.output` names (required).
    #[arg(long, value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,

    /// Append the background recorder's messages to this file (it has no terminal).
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
}

/// Annotation naming the profile file for this container (podman and runc pass annotations
/// from config.json through to the hook's state).
const OUTPUT_ANNOTATION: &str = "io.syscage.output";

pub(crate) fn run(args: OciHookArgs, verbosity: u8) -> Result<u8> {
    let input = read_limited(std::io::stdin().lock(), MAX_INPUT_BYTES)
        .context("reading the container state on stdin")
        .exit_code(EXIT_BAD_INPUT)?;
    let state: State = serde_json::from_slice(&input)
        .context("stdin: expected the OCI container state (JSON with id, pid, bundle)")
        .exit_code(EXIT_BAD_INPUT)?;
    if state.id().is_empty() {
        let missing = anyhow::anyhow!("container state on stdin: `id` is missing");
        return Err(Failure::new(EXIT_BAD_INPUT, missing).into());
    }
    let pid = state
        .pid()
        .context("container state on stdin: `pid` is missing")
        .exit_code(EXIT_BAD_INPUT)?;
    let paths = output_paths(&args, &state)?;
    preflight::check_privileges()?;
    let mount = cgroup::cgroup2_mount()?;
    let dir = cgroup::cgroup_of_pid(&mount, &pid.to_string()).exit_code(EXIT_NO_TARGET)?;
    let cgroup_id = cgroup::cgroup_id(&dir)?;
    let runtime = calling_runtime();
    // Read now: the bundle is there while the hook runs, and may be gone when the container
    // has ended.
    let kubernetes = match kubernetes_of_bundle(state.bundle()) {
        Ok(Some(PodContainer::Workload(identity))) => Some(identity),
        Ok(_) => None,
        Err(e) => {
            log::warn!("container {}: no Kubernetes identity: {e:#}", state.id());
            None
        }
    };

    let (ready_read, ready_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: the hook is single-threaded here (no runtime, no helper threads started yet).
    match unsafe { fork() }.context("fork")? {
        ForkResult::Parent { child } => {
            drop(ready_write);
            let _ = nix::sys::wait::waitpid(child, None);
            let mut answer = String::new();
            File::from(ready_read)
                .read_to_string(&mut answer)
                .context("waiting for the recorder")?;
            match answer.strip_prefix("ok") {
                Some(_) => {
                    log::info!(
                        "recording container {} (cgroup {})",
                        state.id(),
                        dir.display()
                    );
                    Ok(0)
                }
                None if answer.is_empty() => {
                    bail!("the background recorder exited before it started recording")
                }
                None => bail!("{}", answer.trim_end()),
            }
        }
        ForkResult::Child => {
            drop(ready_read);
            // The runtime may hand its hooks descriptors it waits on for EOF (crun waits for its
            // sync pipe to close before it lets the container go on): keep none of them.
            close_other_fds(ready_write.as_raw_fd());
            // A new session, and a second fork so the recorder is not a session leader and is
            // re-parented away from the runtime.
            let _ = setsid();
            // SAFETY: still single-threaded.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {}
                _ => unsafe { libc::_exit(0) },
            }
            let job = Job {
                mount,
                dir,
                cgroup_id,
                state,
                paths,
                runtime,
                kubernetes,
            };
            let code = match recorder(&args, verbosity, &job, ready_write) {
                Ok(()) => 0,
                Err(e) => {
                    log::error!("container {}: {e:#}", job.state.id());
                    1
                }
            };
            std::process::exit(code);
        }
    }
}

/// The runtime that runs hooks is the hook's parent: its command name (`runc`, `crun`, ...)
/// says which runtime the profile was recorded under, which the cgroup path alone cannot.
fn calling_runtime() -> Option<String> {
    let ppid = std::os::unix::process::parent_id();
    let comm = std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok()?;
    let comm = comm.trim();
    (!comm.is_empty()).then(|| comm.to_owned())
}

/// Closes every descriptor above stderr except `keep`.
fn close_other_fds(keep: i32) {
    // SAFETY: close_range(2) on descriptor ranges of this single-threaded process; `keep` and
    // 0-2 stay open.
    unsafe {
        if keep > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, (keep - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (keep + 1) as u32, u32::MAX, 0u32);
    }
}

/// `--output-dir`/<id>.json, or the file the annotation names inside `--output-dir`: a
/// container's annotations are chosen by whoever creates it, and the recorder runs as root.
fn output_paths(args: &OciHookArgs, state: &State) -> Result<OutputPaths> {
    let annotated = state
        .annotations()
        .as_ref()
        .and_then(|a| a.get(OUTPUT_ANNOTATION));
    let Some(dir) = &args.output_dir else {
        bail!(
            "no output directory for container {}: give --output-dir DIR in the hook's args \
             (the annotation {OUTPUT_ANNOTATION} only names a file inside it)",
            state.id()
        );
    };
    let profile = match annotated {
        Some(name) => dir.join(
            path_inside(dir, name)
                .with_context(|| {
                    format!("container {}: annotation {OUTPUT_ANNOTATION}", state.id())
                })
                .exit_code(EXIT_BAD_INPUT)?,
        ),
        None => {
            let id = path_inside(dir, state.id())
                .ok()
                .filter(|p| p.components().count() == 1)
                .with_context(|| {
                    format!(
                        "container id {:?} cannot be a file name; set the annotation {OUTPUT_ANNOTATION}",
                        state.id()
                    )
                })
                .exit_code(EXIT_BAD_INPUT)?;
            dir.join(format!("{}.json", id.display()))
        }
    };
    let parent = profile.parent().unwrap_or(dir);
    check_output_dir(parent)?;
    Ok(OutputPaths::next_to(profile))
}

/// `name` as a path below `dir`: relative, without `..`, and through directories that exist
/// and are not symbolic links (which could lead out of `dir`).
fn path_inside(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = Path::new(name);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => bail!(
                "{name:?}: expected a file name or a relative path without `..` inside the \
                 output directory"
            ),
        }
    }
    if clean.as_os_str().is_empty() || name.ends_with('/') {
        bail!("{name:?}: expected a file name");
    }
    let mut below = dir.to_path_buf();
    if let Some(parent) = clean.parent() {
        for part in parent.components() {
            below.push(part);
            let meta = std::fs::symlink_metadata(&below)
                .with_context(|| format!("{name:?}: {}", below.display()))?;
            if !meta.is_dir() {
                bail!(
                    "{name:?}: {} is not a directory (symbolic links are not followed)",
                    below.display()
                );
            }
        }
    }
    Ok(clean)
}

/// What the detached recorder records, and where it writes.
struct Job {
    mount: PathBuf,
    dir: PathBuf,
    cgroup_id: u64,
    state: State,
    paths: OutputPaths,
    /// The runtime that ran the hook, if known.
    runtime: Option<String>,
    /// The container's Kubernetes identity, from its bundle's annotations.
    kubernetes: Option<KubernetesIdentity>,
}

/// The detached recorder: watch, tell the hook, wait for the container to end, write.
fn recorder(args: &OciHookArgs, verbosity: u8, job: &Job, ready: OwnedFd) -> Result<()> {
    let cgroup_id = job.cgroup_id;
    detach_stdio(args.log.as_deref())?;
    let mut ready = File::from(ready);
    let session = Session::start(
        Watching::Cgroups(vec![(cgroup_id, Phase::RuntimeSetup)]),
        verbosity,
        |_| Ok(()),
    );
    let mut session = match session {
        Ok(session) => session,
        Err(e) => {
            let _ = write!(ready, "{e:#}");
            return Err(e);
        }
    };
    let start = Start::now(Phase::RuntimeSetup);
    ready
        .write_all(b"ok")
        .context("telling the hook we record")?;
    drop(ready);

    // Writes on an overlay root escape the security programs: its upper directory shows them.
    let mut overlay = OverlayWatch::of_bundle(job.state.bundle(), start.wall);
    let cgroups = [job.dir.clone()];
    // The container's init process was in the cgroup when the hook ran (that is how the
    // cgroup was found), so the first time it is empty the container has ended.
    loop {
        std::thread::sleep(POLL);
        overlay.poll(&cgroups);
        if !cgroup::is_populated(&job.dir) {
            break;
        }
    }
    let overlay_found = overlay.finish();
    let seen = session.tracer.read(cgroup_id)?;
    session.tracer.unwatch(cgroup_id);
    drop(session);
    let mut target = target_of(&job.mount, &job.dir);
    target.container_id = Some(job.state.id().clone());
    if job.runtime.is_some() {
        target.runtime.clone_from(&job.runtime);
    }
    if let Some(identity) = &job.kubernetes {
        set_kubernetes(&mut target, identity.clone());
    }
    let mut recording = build_recording(
        &seen,
        start,
        Subject {
            command: None,
            target: Some(target),
            exit: None,
        },
    )?;
    if let Some(security) = &mut recording.security {
        overlay_writes::unite(&mut security.root_filesystem_writes, overlay_found);
    }
    let allowed = write_recording_and_profile(&recording, &job.paths, None)?;
    log::info!(
        "container {}: {} syscalls recorded, {allowed} in the profile {}",
        job.state.id(),
        recording.syscalls.len(),
        job.paths.profile.display()
    );
    Ok(())
}

/// Points stdin/stdout/stderr away from the runtime's pipes: at the log file, or /dev/null.
fn detach_stdio(log: Option<&Path>) -> Result<()> {
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("opening /dev/null")?;
    let out = match log {
        Some(path) => File::options()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?,
        None => null.try_clone()?,
    };
    // SAFETY: dup2 onto the standard descriptors of this (single-threaded) process.
    unsafe {
        libc::dup2(null.as_raw_fd(), 0);
        libc::dup2(out.as_raw_fd(), 1);
        libc::dup2(out.as_raw_fd(), 2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_name_files_inside_the_output_dir_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        assert_eq!(
            path_inside(dir.path(), "app.json").unwrap(),
            PathBuf::from("app.json")
        );
        assert_eq!(
            path_inside(dir.path(), "./sub/app.json").unwrap(),
            PathBuf::from("sub/app.json")
        );
        for bad in [
            "/etc/passwd",
            "../app.json",
            "sub/../../app.json",
            "link/app.json",
            "missing/app.json",
            "",
            ".",
            "sub/",
        ] {
            assert!(path_inside(dir.path(), bad).is_err(), "{bad:?}");
        }
    }
}
