//! `syscage run --profile FILE -- CMD`: run a command under a seccomp profile, as an OCI runtime
//! would apply it, so a user can check a profile before shipping it.

use std::{
    fs::File,
    io::{Read as _, Seek as _},
    os::unix::process::CommandExt as _,
    process::Command,
};

use anyhow::{Context as _, Result};
use nix::sys::memfd::{memfd_create, MFdFlags};
use profile_gen::{
    arch::native_arch,
    enforce::build_filter,
    profile::{read_profile, validate_profile},
};

use crate::{
    cli::RunArgs,
    exit::{Failure, EXIT_BAD_INPUT},
    supervise::{exit_code_of, resolve_program, run_child},
    user,
};

pub(crate) fn run(args: RunArgs) -> Result<u8> {
    let origin = args.profile.display().to_string();
    let native = native_arch();
    let profile = read_profile(&args.profile)?;
    validate_profile(&profile, native, &origin)?;
    check_runnable(&profile, &origin)?;
    let filter = build_filter(&profile, native)
        .with_context(|| format!("{origin}: building the seccomp filter"))?;
    // Compile to classic BPF here, in the parent: the child, between fork and exec, may only
    // make async-signal-safe calls, and libseccomp allocates while it compiles.
    let bpf =
        export_bpf(&filter).with_context(|| format!("{origin}: compiling the seccomp filter"))?;
    drop(filter);
    let creds = user::workload_credentials(args.user.user.as_deref())?;
    let program = resolve_program(&args.command[0])?;

    let mut cmd = Command::new(program);
    cmd.arg0(&args.command[0]);
    cmd.args(&args.command[1..]);
    let status = run_child(cmd, move || {
        // Privileges first: the filter may well deny setuid and friends.
        if let Some(c) = &creds {
            user::switch_to(c)?;
        }
        install_filter(&bpf)
    })?;
    Ok(exit_code_of(status))
}

/// The filter is loaded before exec, as a runtime does: a profile that denies `execve` cannot
/// start anything, and one that denies both ways to exit leaves a failing process spinning in
/// libc's exit loop. Both are refused up front instead.
fn check_runnable(profile: &profile_gen::LinuxSeccomp, origin: &str) -> Result<()> {
    let policy = profile_gen::policy::Policy::from_profile(profile);
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
/// and installs the filter. Async-signal-safe: two raw syscalls on prepared data.
fn install_filter(program: &[libc::sock_filter]) -> std::io::Result<()> {
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
                0,
                &prog as *const libc::sock_fprog,
            ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
