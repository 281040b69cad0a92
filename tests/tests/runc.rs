//! A profile syscage recorded works in a real OCI runtime: runc runs a busybox container under
//! it, and the same profile without `mkdir` makes the container's mkdir fail with EPERM.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
};

use common::{
    containers::{Bundle, Container, Runtime},
    profile_without, read_json, temp_dir, Outcome,
};
use serde_json::{json, Value};

/// What the container does: write a file into a new directory and read it back.
const WORKLOAD: &str = "mkdir /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f";

/// Syscalls runc's init makes after it has loaded the filter and before it executes the
/// entrypoint, beyond those the busybox workload makes itself (see
/// [`RUNC_INIT_ALSO_NEEDS_FROM_WORKLOAD`]). Observed with Debian 12's runc
/// 1.1.5+ds1-1+deb12u1 (go1.19.8, libseccomp 2.5.4) by running the container under the
/// workload-only profile, adding one candidate at a time, and confirming with `strace -f` of the
/// filtered init thread:
/// - fstatfs: "ensure /proc/self/fd is on procfs" (the CVE-2024-21626 fd cleanup before exec);
/// - getdents64: "readdirent /proc/self/fd" (the same cleanup lists the descriptors);
/// - futex: the Go runtime waking another thread; without it about 1 run in 25 dies with
///   "futexwakeup ... returned -1 / fatal error: unexpected signal during runtime execution".
///
/// runc also calls epoll_ctl there, but tolerates EPERM from it. Recording the container's own
/// cgroup, runc's init included (containers.rs), makes this list unnecessary.
const RUNC_INIT_ALLOWANCE: [&str; 3] = ["fstatfs", "getdents64", "futex"];

/// What runc's init also makes between loading the filter and exec, which the busybox workload
/// happens to need too, so its recording already allows them. Checked, so that a different
/// busybox cannot silently turn this test into a runc failure.
const RUNC_INIT_ALSO_NEEDS_FROM_WORKLOAD: [&str; 6] = [
    "close",
    "openat",
    "write",
    "getpid",
    "execve",
    "rt_sigreturn",
];

#[test]
fn recorded_profile_runs_a_busybox_container_under_runc() {
    let work = temp_dir();
    let bundle = Bundle::new(work.path(), "bundle", Runtime::Runc, WORKLOAD);
    let profile = record_workload(work.path(), &bundle);
    let allowed = common::allowed_names(&read_json(&profile));
    let missing: Vec<_> = RUNC_INIT_ALSO_NEEDS_FROM_WORKLOAD
        .iter()
        .filter(|n| !allowed.contains(**n))
        .collect();
    assert!(
        missing.is_empty(),
        "the workload no longer needs {missing:?}, which runc's init needs: add them to \
         RUNC_INIT_ALLOWANCE\nallowed: {allowed:?}"
    );

    let outcome = run_with(&bundle, &with_runc_allowance(&profile, &[]));
    outcome.assert_code(0);
    assert_eq!(outcome.stdout, "hi\n", "{outcome}");
}

#[test]
fn container_without_mkdir_in_its_profile_gets_eperm() {
    let work = temp_dir();
    let bundle = Bundle::new(work.path(), "bundle", Runtime::Runc, WORKLOAD);
    let profile = record_workload(work.path(), &bundle);

    let outcome = run_with(&bundle, &with_runc_allowance(&profile, &["mkdir"]));
    assert_ne!(outcome.code(), 0, "the container must fail\n{outcome}");
    let output = format!("{}{}", outcome.stdout, outcome.stderr);
    assert!(
        output.contains("mkdir: can't create directory '/tmp/d': Operation not permitted"),
        "expected EPERM from busybox mkdir\n{outcome}"
    );
    assert!(
        !outcome.stdout.contains("hi"),
        "the workload went on after mkdir failed\n{outcome}"
    );
}

/// Records the workload on the host with the container's busybox (in a temporary directory in
/// place of the container's /tmp) and returns the profile's path.
fn record_workload(work: &Path, bundle: &Bundle) -> PathBuf {
    let host_tmp = work.join("host-tmp");
    fs::create_dir(&host_tmp).expect("creating the host's stand-in for /tmp");
    let host_workload = WORKLOAD.replace("/tmp", &host_tmp.display().to_string());
    let profile = work.join("workload.json");
    let mut cmd = common::syscage(["record", "--output"]);
    cmd.arg(&profile)
        .arg("--")
        .arg(bundle.rootfs().join("bin/busybox"))
        .args(["sh", "-c", &host_workload])
        // The applets, not the host's coreutils, whatever busybox's shell is configured to prefer.
        .env("PATH", bundle.rootfs().join("bin"));
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    assert_eq!(
        outcome.stdout, "hi\n",
        "the workload misbehaved on the host\n{outcome}"
    );
    profile
}

/// The recorded profile, minus `remove`, plus what runc's init needs.
fn with_runc_allowance(profile: &Path, remove: &[&str]) -> Value {
    let mut value = profile_without(&read_json(profile), remove);
    let names = value["syscalls"][0]["names"]
        .as_array_mut()
        .expect("profile has names");
    for name in RUNC_INIT_ALLOWANCE {
        if !names.iter().any(|n| n == name) {
            names.push(json!(name));
        }
    }
    value
}

/// Runs the workload in a new container of `bundle` under `seccomp` (a runtime-spec
/// `linux.seccomp`), with a fresh /tmp; the container is removed afterwards whatever happened.
fn run_with(bundle: &Bundle, seccomp: &Value) -> Outcome {
    bundle.set_seccomp(Some(seccomp));
    bundle.reset_tmp();
    bundle.run(&Container::new(Runtime::Runc, "runc"))
}
