//! `syscage run --profile FILE -- CMD`: run a command under a seccomp profile, as an OCI runtime
//! would apply it, so a user can check a profile before shipping it; and, as root, record the
//! command meanwhile to say which syscalls the profile refused when it fails.

use std::{
    ffi::OsString,
    fs::File,
    io::{Read as _, Seek as _},
    os::fd::AsRawFd as _,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use clap::Args;
use nix::sys::memfd::{memfd_create, MFdFlags};
use oci_spec::runtime::LinuxSeccompAction;
use profile_gen::Phase;
use profile_gen::{
    build_filter_report, directory_of,
    enforce::filter::{conflicting_rule, refusals, Refusal, Refused},
    generate, native_arch, profile_to_json, read_input, validate_profile, write_atomic, Conditions,
    Content, ExitInfo, Input, InputKind, LinuxSeccomp, Policy, Recording, ScmpArch,
};

use crate::{
    ebpf::recording::{build_recording, Start, Subject},
    ebpf::tracer::Watching,
    recorder::session::Session,
    shared_args::{docker_default_caps, UserArg},
    sys::capabilities::KeptCapabilities,
    sys::cgroup::{self, LeafCgroup},
    sys::exit::{ExitCodeExt as _, Failure, EXIT_BAD_INPUT, EXIT_CANNOT_WRITE},
    sys::outputs::check_output_dir,
    sys::preflight,
    sys::supervise::{check_can_execute, exit_code_of, resolve_program, spawn_prepared},
    sys::user,
};

/// Run a command under a seccomp profile, to check a profile before shipping it.
///
/// The profile is validated (actions, architectures, syscall names), compiled with libseccomp
/// and loaded in the child with no_new_privs set, right before it executes the command, the way
/// an OCI runtime applies it. A syscall the profile does not allow fails with the profile's
/// errno (EPERM for profiles syscage writes). The command's exit status becomes syscage's;
/// SIGINT/SIGTERM reach it, and it gets SIGKILL if it has not ended 10 seconds after one (or at
/// a second one).
///
/// As root, syscage records the command meanwhile (eBPF, as `record` does) and, when the
/// command fails, lists the syscalls the profile refused, with the argument values where the
/// profile allows a syscall only for others (`ioctl(FIONBIO)`). Without root the command still
/// runs, without that list.
///
/// The profile may be any input `generate` reads: an OCI profile, a Docker-format profile
/// (evaluated for this machine), an SPO SeccompProfile, or a recording (run under the profile
/// `generate` makes of it). A deny-list (defaultAction SCMP_ACT_ALLOW) is run with a warning;
/// two rules giving one syscall different actions are refused.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  syscage run --profile app.json -- ./my-server --port 8080\n  \
    sudo syscage run --profile app.json --fix app-fixed.json -- ./my-server --port 8080"
)]
pub(crate) struct RunArgs {
    /// The seccomp profile (OCI runtime-spec JSON, or another input `generate` reads).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) profile: PathBuf,

    /// Also write the profile widened by every syscall the command made (needs root: the
    /// command is recorded with eBPF).
    #[arg(long, value_name = "OUT")]
    pub(crate) fix: Option<PathBuf>,

    /// Run the command with exactly the capabilities this recording (or merged recording)
    /// says the workload needed: the bounding, permitted and effective sets cut to them, and the
    /// ambient set too when --user is not root; the sets `generate --format oci-process` writes.
    /// Needs root.
    #[arg(long, value_name = "RECORDING")]
    pub(crate) capabilities_from: Option<PathBuf>,
    /// Load the filter with SECCOMP_FILTER_FLAG_LOG, so the kernel logs every call the profile
    /// refuses (ERRNO, TRAP, ... as well as LOG and KILL), for `syscage audit` to report.
    #[arg(long)]
    pub(crate) log_denials: bool,

    #[command(flatten)]
    pub(crate) user: UserArg,

    /// The command to run, with its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

pub(crate) fn run(args: RunArgs, verbosity: u8, quiet: bool) -> Result<u8> {
    let origin = args.profile.display().to_string();
    let native = native_arch();
    let profile = read_any_profile(&args.profile, native)?;
    let bpf = compile_filter(&profile, native, &origin)?;
    let creds = user::workload_credentials(args.user.user.as_deref())?;
    let program = resolve_program(&args.command[0])?;
    check_can_execute(&program, creds.as_ref())?;
    if let Some(fix) = &args.fix {
        check_output_dir(directory_of(fix)).exit_code(EXIT_CANNOT_WRITE)?;
        // --fix needs the recording: no point running the command without it.
        preflight::check_privileges()
            .context("--fix records the command while it runs under the profile")?;
    }
    let kept = match &args.capabilities_from {
        Some(recording) => {
            if !nix::unistd::Uid::effective().is_root() {
                anyhow::bail!(
                    "--capabilities-from sets the command's capabilities: run syscage as root"
                );
            }
            let kept = KeptCapabilities::from_recording(recording, &host_conditions(native)?)?;
            log::info!(
                "running with the capabilities {} needed: {}",
                recording.display(),
                if kept.names.is_empty() {
                    "none".to_owned()
                } else {
                    kept.names.join(", ")
                }
            );
            Some(kept)
        }
        None => None,
    };
    let non_root = creds.as_ref().is_some_and(|c| c.uid != 0);
    let recorder = Recorder::start(verbosity, args.fix.is_some())?;

    let procs = recorder.as_ref().map(Recorder::procs_fd);
    let filter_flags = if args.log_denials {
        libc::SECCOMP_FILTER_FLAG_LOG
    } else {
        0
    };
    let status = spawn_prepared(&program, &args.command, move || {
        if let Some(kept) = &kept {
            kept.before_user_switch(non_root)?;
        }
        // Privileges first: the filter may well deny setuid and friends.
        if let Some(c) = &creds {
            user::switch_to(c)?;
        }
        // Into the watched cgroup before the filter: the profile may deny write.
        if let Some(fd) = procs {
            cgroup::join_through(fd)?;
        }
        if let Some(kept) = &kept {
            kept.apply(non_root)?;
        }
        install_filter(&bpf, filter_flags)
    })
    .and_then(|child| child.wait());
    let recording = recorder.map(|r| r.finish(&args.command, status.as_ref().ok().copied()));
    let status = status?;
    let code = exit_code_of(status);

    let recording = match recording {
        Some(Ok(recording)) => recording,
        Some(Err(err)) => {
            log::warn!("could not read what the command did: {err:#}");
            return Ok(code);
        }
        None => {
            // As root the recorder could not start, and said why.
            if code != 0 && !quiet && preflight::check_privileges().is_err() {
                eprintln!(
                    "syscage: the command ended with status {code}; to see which syscalls the \
                     profile refused, run syscage as root (it then records the command with eBPF)"
                );
            }
            return Ok(code);
        }
    };
    log::debug!(
        "recorded {} syscalls under the profile (phases {:?})",
        recording.syscalls.len(),
        recording.phases
    );
    let refused = refusals(&profile, &recording);
    if (code != 0 || args.fix.is_some()) && !quiet {
        report(&refused, code, args.fix.as_deref());
    }
    if let Some(fix) = &args.fix {
        write_fixed(&profile, recording, fix)?;
        if !quiet {
            eprintln!(
                "syscage: wrote {} (the profile with the syscalls the command made allowed)",
                fix.display()
            );
        }
    }
    Ok(code)
}

/// The profile checked and compiled to classic BPF, in the parent: the child, between fork and
/// exec, may only make async-signal-safe calls, and libseccomp allocates while it compiles.
fn compile_filter(
    profile: &LinuxSeccomp,
    native: ScmpArch,
    origin: &str,
) -> Result<Vec<libc::sock_filter>> {
    validate_profile(profile, native, origin)?;
    check_runnable(profile, origin)?;
    if profile.default_action() == LinuxSeccompAction::ScmpActAllow {
        log::warn!(
            "{origin}: defaultAction SCMP_ACT_ALLOW: a deny-list, which allows every syscall it \
             does not name; `syscage generate` refuses such profiles as a source"
        );
    }
    let built = build_filter_report(profile, native)
        .with_context(|| format!("{origin}: building the seccomp filter"))?;
    for skipped in &built.skipped_rules {
        log::info!(
            "{origin}: syscalls[{}] ({}) does what the default action does: left out of the filter",
            skipped.index,
            skipped.names.join(", ")
        );
    }
    export_bpf(&built.ctx).with_context(|| format!("{origin}: compiling the seccomp filter"))
}

/// The profile in `path`, whatever `generate` reads: an OCI profile as it is, a Docker-format
/// one evaluated for this machine, an SPO resource unwrapped, a recording as the profile
/// `generate` makes of it.
fn read_any_profile(path: &Path, native: ScmpArch) -> Result<LinuxSeccomp> {
    let conditions = host_conditions(native)?;
    let input = read_input(path, &conditions)?;
    for warning in &input.warnings {
        log::warn!("{warning}");
    }
    match input.content {
        Content::Profile(profile) => {
            if input.kind != InputKind::OciProfile {
                log::info!("{}: read as a {}", input.origin, input.kind);
            }
            refuse_conflicts(&profile, &input.origin)?;
            Ok(profile)
        }
        Content::Recording(_) | Content::Merged(_) => {
            let generated = generate(std::slice::from_ref(&input), native)?;
            log::warn!(
                "{}: a {}, not a profile: running under the profile `syscage generate --from {}` \
                 makes of it",
                input.origin,
                input.kind,
                input.origin
            );
            Ok(generated.profile)
        }
    }
}

/// Docker-format profiles are evaluated as `generate` evaluates them by default: this machine's
/// architecture and kernel, Docker's default capabilities.
fn host_conditions(native: ScmpArch) -> Result<Conditions> {
    let host = profile_gen::host_info().context("uname")?;
    let kernel = host
        .kernel_release
        .parse()
        .map_err(|e| anyhow::anyhow!("this machine's kernel: {e}"))?;
    Conditions::new(native, docker_default_caps(), kernel).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Two rules that give one syscall different actions mean different things to libseccomp
/// (the first rule wins) and to `generate`/`diff` (an allowing rule wins): refused.
fn refuse_conflicts(profile: &LinuxSeccomp, origin: &str) -> Result<()> {
    if let Some((name, first, second)) = conflicting_rule(profile) {
        return Err(Failure::new(
            EXIT_BAD_INPUT,
            anyhow::anyhow!(
                "{origin}: syscalls[{first}] and syscalls[{second}] give {name} different \
                 actions for all arguments; keep one of them"
            ),
        )
        .into());
    }
    Ok(())
}

/// The filter is loaded before exec, as a runtime does: a profile that denies `execve` cannot
/// start anything, and one that denies both ways to exit leaves a failing process spinning in
/// libc's exit loop. Both are refused up front instead.
fn check_runnable(profile: &LinuxSeccomp, origin: &str) -> Result<()> {
    let policy = Policy::from_profile(profile);
    if !policy.verdict("execve").can_run() {
        return Err(Failure::new(
            EXIT_BAD_INPUT,
            anyhow::anyhow!(
                "{origin}: the profile denies execve, so no command can start under it"
            ),
        )
        .into());
    }
    if !policy.verdict("exit_group").can_run() && !policy.verdict("exit").can_run() {
        return Err(Failure::new(
            EXIT_BAD_INPUT,
            anyhow::anyhow!(
                "{origin}: the profile denies exit and exit_group, so a command could never end"
            ),
        )
        .into());
    }
    Ok(())
}

/// The eBPF recorder watching a fresh cgroup for the command, as `record -- COMMAND` does. The
/// command's steps before the filter (the move into the cgroup, no_new_privs, the filter load)
/// are recorded as setup and never counted against the profile.
struct Recorder {
    leaf: LeafCgroup,
    procs: File,
    session: Session,
    start: Start,
}

impl Recorder {
    /// Starts recording if syscage may (root), else `None`. With `required`, failing to start
    /// is an error; otherwise the command runs without the report.
    fn start(verbosity: u8, required: bool) -> Result<Option<Self>> {
        if preflight::check_privileges().is_err() {
            return Ok(None);
        }
        match Self::try_start(verbosity) {
            Ok(recorder) => Ok(Some(recorder)),
            Err(err) if required => Err(err),
            Err(err) => {
                log::warn!("cannot record the command, so no report of refused syscalls: {err:#}");
                Ok(None)
            }
        }
    }

    fn try_start(verbosity: u8) -> Result<Self> {
        let mount = cgroup::cgroup2_mount()?;
        cgroup::remove_stale_leaves(&mount);
        let leaf = LeafCgroup::create(&mount)?;
        let procs = leaf.open_procs()?;
        let session = Session::start_with(
            Watching::Cgroups(vec![(leaf.id(), Phase::RuntimeSetup)]),
            verbosity,
            true,
            |_| Ok(()),
        )?;
        Ok(Self {
            leaf,
            procs,
            session,
            start: Start::now(Phase::RuntimeSetup),
        })
    }

    fn procs_fd(&self) -> i32 {
        self.procs.as_raw_fd()
    }

    /// Stops recording and returns what the command did.
    fn finish(
        mut self,
        command: &[OsString],
        status: Option<std::process::ExitStatus>,
    ) -> Result<Recording> {
        let seen = self.session.tracer.read(self.leaf.id());
        self.session.tracer.unwatch(self.leaf.id());
        let mount = cgroup::cgroup2_mount()?;
        // A target gives the recording its phases, so the setup before the filter is told apart.
        let target = profile_gen::Target {
            cgroup: cgroup::relative_path(&mount, self.leaf.dir()),
            ..Default::default()
        };
        drop(self.session);
        drop(self.leaf);
        let subject = Subject::command(
            command,
            Some(target),
            status.and_then(ExitInfo::from_status),
        );
        build_recording(&seen?, self.start, subject)
    }
}

/// Tells the user which syscalls the profile refused.
fn report(refused: &[Refusal], code: u8, fix: Option<&Path>) {
    let killed_by_sigsys = i32::from(code) == 128 + libc::SIGSYS;
    if killed_by_sigsys {
        // The process died inside the refused call, which therefore never reached its exit.
        eprintln!(
            "syscage: the command was killed by SIGSYS: a syscall met an SCMP_ACT_KILL* rule (or \
             the default), which ends it before syscage can see which; the kernel's audit log \
             (dmesg, type=1326) names it"
        );
    }
    if refused.is_empty() {
        if code != 0 && !killed_by_sigsys {
            eprintln!(
                "syscage: the command ended with status {code}; the profile refused none of its \
                 syscalls"
            );
        }
        return;
    }
    eprintln!(
        "syscage: the command ended with status {code}; the profile refused {} of its syscalls:",
        refused.len()
    );
    for refusal in refused {
        let line = match &refusal.how {
            Refused::Always { action, errno } => match errno {
                Some(errno) => format!("{} ({action}, errno {errno})", refusal.name),
                None => format!("{} ({action})", refusal.name),
            },
            Refused::Arguments { calls } => {
                format!("{} (allowed only for other arguments)", calls.join(", "))
            }
            Refused::Arch => format!(
                "{} on {} (an architecture the profile does not list)",
                refusal.name, refusal.arch
            ),
        };
        eprintln!("  {line}");
    }
    if fix.is_none() {
        eprintln!(
            "syscage: `syscage run --fix NEW.json --profile ...` writes the profile with what the \
             command did allowed"
        );
    }
}

/// Writes the profile widened by what the command did (the union of the two, as `merge` and
/// `generate` build it).
fn write_fixed(profile: &LinuxSeccomp, recording: Recording, path: &Path) -> Result<()> {
    let recorded = Input {
        origin: "the command's recording".to_owned(),
        kind: InputKind::Recording,
        content: Content::Recording(Box::new(recording)),
        warnings: Vec::new(),
    };
    let widened = Policy::from_profile(profile).union(&recorded.policy()?);
    write_atomic(path, profile_to_json(&widened.to_profile()).as_bytes())
        .with_context(|| format!("writing {}", path.display()))
        .exit_code(EXIT_CANNOT_WRITE)
}

/// libseccomp's compiled filter as `struct sock_filter` instructions (8 bytes each).
fn export_bpf(filter: &profile_gen::ScmpFilterContext) -> Result<Vec<libc::sock_filter>> {
    let fd = memfd_create(c"syscage-filter", MFdFlags::MFD_CLOEXEC).context("memfd_create")?;
    let mut file = File::from(fd);
    filter.export_bpf(&file).context("seccomp_export_bpf")?;
    file.rewind()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let insn = std::mem::size_of::<libc::sock_filter>();
    anyhow::ensure!(
        bytes.len() % insn == 0,
        "libseccomp exported {} bytes, not whole instructions",
        bytes.len()
    );
    Ok(bytes
        .chunks_exact(insn)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// Sets no_new_privs (required to install a filter without CAP_SYS_ADMIN, and what runtimes do)
/// and installs the filter with `flags` (`SECCOMP_FILTER_FLAG_*`). Async-signal-safe: two raw
/// syscalls on prepared data.
fn install_filter(program: &[libc::sock_filter], flags: libc::c_ulong) -> std::io::Result<()> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: prctl/seccomp with valid pointers into `program`, which outlives the calls.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
