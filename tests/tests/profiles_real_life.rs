//! Generated profiles and diffs meeting real life: a paused or stopped process, a host recording
//! shipped to a container runtime, a threaded Python app checked against RuntimeDefault, a CI
//! job reading `--fail-on`, and the SPO resource checked against the operator's CRD schema.

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    thread,
    time::Duration,
};

use common::containers::{
    podman_command, Bundle, Container, PodmanImage, Runtime, PODMAN_RUN_OPTIONS,
};
use common::{
    read_json, recording_names, require_root, syscage, temp_dir, validate_against_crd, wait_for,
    Outcome, TopCgroup,
};
use serde_json::{json, Value};

/// Records `sleep 0.2` on the host and returns its profile; checks that the recording itself
/// holds no `restart_syscall` (an uninterrupted sleep makes none), so the profile allows it only
/// if generation adds it.
fn sleep_profile(dir: &Path) -> PathBuf {
    require_root();
    let (outcome, profile) = common::record(dir, "sleep", &["sleep", "0.2"]);
    outcome.assert_code(0);
    let names = recording_names(&read_json(&common::default_recording_path(&profile)));
    assert!(
        !names.contains("restart_syscall"),
        "an uninterrupted sleep made restart_syscall; this test would prove nothing: {names:?}"
    );
    profile
}

/// Starts `syscage run --profile PROFILE -- sleep 3` in a cgroup of its own and returns that
/// cgroup, the child, the pid of `sleep` once it runs, and the cgroup `sleep` runs in (as root,
/// `run` moves its command into a recording cgroup of its own).
fn sleep_under(profile: &Path, tag: &str) -> (TopCgroup, std::process::Child, i32, PathBuf) {
    let cgroup = TopCgroup::create(tag);
    let bin = common::syscage_bin();
    let child = cgroup.spawn(
        bin.to_str().expect("the binary's path is UTF-8"),
        &[
            "run",
            "--profile",
            profile.to_str().expect("UTF-8 path"),
            "--",
            "sleep",
            "3",
        ],
    );
    let syscage_pid = child.id();
    let sleep_pid = wait_for(
        Duration::from_secs(10),
        "sleep to start under the profile",
        || {
            fs::read_to_string(format!("/proc/{syscage_pid}/task/{syscage_pid}/children"))
                .ok()?
                .split_whitespace()
                .filter_map(|pid| pid.parse::<i32>().ok())
                .find(|pid| {
                    fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == "sleep")
                })
        },
    );
    // Let sleep enter clock_nanosleep.
    thread::sleep(Duration::from_millis(500));
    let sleep_cgroup = common::cgroup_dir_of(sleep_pid as u32);
    (cgroup, child, sleep_pid, sleep_cgroup)
}

/// Waits for `syscage run` and returns its exit code and stderr.
fn finish(child: std::process::Child) -> (i32, String) {
    let output = child.wait_with_output().expect("waiting for syscage run");
    let code = output.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A cgroup freeze and thaw (what `docker pause`/`podman pause` do) makes the kernel resume the
/// interrupted sleep through `restart_syscall`: a profile must allow it although no recording of
/// an undisturbed program shows it.
#[test]
fn sleep_survives_a_cgroup_freeze_and_thaw_under_its_profile() {
    let dir = temp_dir();
    let profile = sleep_profile(dir.path());
    let (cgroup, child, _, sleep_cgroup) = sleep_under(&profile, "freeze");
    fs::write(sleep_cgroup.join("cgroup.freeze"), "1").expect("freezing the cgroup");
    wait_for(Duration::from_secs(10), "the cgroup to freeze", || {
        fs::read_to_string(sleep_cgroup.join("cgroup.events"))
            .ok()
            .filter(|events| events.lines().any(|l| l == "frozen 1"))
    });
    thread::sleep(Duration::from_millis(300));
    fs::write(sleep_cgroup.join("cgroup.freeze"), "0").expect("thawing the cgroup");
    let (code, stdout) = finish(child);
    cgroup.remove();
    assert_eq!(
        code,
        0,
        "sleep failed after a freeze/thaw under its recorded profile (stdout: {stdout:?}); the \
         profile: {}",
        fs::read_to_string(&profile).unwrap_or_default()
    );
}

/// SIGSTOP/SIGCONT during the sleep: the same restart through `restart_syscall`.
#[test]
fn sleep_survives_sigstop_and_sigcont_under_its_profile() {
    let dir = temp_dir();
    let profile = sleep_profile(dir.path());
    let (cgroup, child, sleep_pid, _) = sleep_under(&profile, "sigstop");
    let pid = sleep_pid.to_string();
    common::run(Command::new("kill").args(["-STOP", &pid])).assert_code(0);
    thread::sleep(Duration::from_millis(300));
    common::run(Command::new("kill").args(["-CONT", &pid])).assert_code(0);
    let (code, stdout) = finish(child);
    cgroup.remove();
    assert_eq!(
        code, 0,
        "sleep failed after SIGSTOP/SIGCONT under its recorded profile (stdout: {stdout:?})"
    );
}

/// What the busybox container does: write a file into a new directory and read it back.
const WORKLOAD: &str = "mkdir /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f";

/// Records WORKLOAD on the host with the busybox of `rootfs` (a host directory in place of the
/// container's /tmp) and returns the recording's path.
fn record_on_host(work: &Path, rootfs: &Path) -> PathBuf {
    let host_tmp = work.join("host-tmp");
    fs::create_dir(&host_tmp).expect("creating the host's stand-in for /tmp");
    let host_workload = WORKLOAD.replace("/tmp", &host_tmp.display().to_string());
    let profile = work.join("host.json");
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(&profile)
        .arg("--")
        .arg(rootfs.join("bin/busybox"))
        .args(["sh", "-c", &host_workload])
        .env("PATH", rootfs.join("bin"));
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    assert_eq!(
        outcome.stdout, "hi\n",
        "the workload misbehaved on the host\n{outcome}"
    );
    common::default_recording_path(&profile)
}

/// `syscage generate ARGS...`, run to its end.
fn generate(args: &[&str]) -> Outcome {
    common::run(&mut syscage(
        std::iter::once("generate").chain(args.iter().copied()),
    ))
}

/// Runs WORKLOAD in a runc container under `profile`.
fn run_in_runc(bundle: &Bundle, profile: &Path, tag: &str) -> Outcome {
    bundle.set_seccomp(Some(&read_json(profile)));
    bundle.reset_tmp();
    bundle.run(&Container::new(Runtime::Runc, tag))
}

/// A host recording (`record -- COMMAND`) saw no container start, so it lacks what runc does
/// after loading the filter; `generate --for-runtime runc` adds it, and the container runs.
/// Without it runc fails before the entrypoint, and the container formats warn.
#[test]
fn host_recording_for_runtime_runc_runs_a_busybox_container() {
    require_root();
    let work = temp_dir();
    let bundle = Bundle::new(work.path(), "bundle", Runtime::Runc, WORKLOAD);
    let recording = record_on_host(work.path(), &bundle.rootfs());
    let rec = recording.to_str().expect("UTF-8 path");

    let for_runc = work.path().join("for-runc.json");
    let outcome = generate(&[
        "--from",
        rec,
        "--for-runtime",
        "runc",
        "-o",
        for_runc.to_str().expect("UTF-8 path"),
    ]);
    outcome.assert_code(0);
    let outcome = run_in_runc(&bundle, &for_runc, "for-runtime");
    outcome.assert_code(0);
    assert_eq!(outcome.stdout, "hi\n", "{outcome}");

    // The plain host profile is what --for-runtime fixes: runc cannot start the container.
    let plain = work.path().join("plain.json");
    generate(&["--from", rec, "-o", plain.to_str().expect("UTF-8 path")]).assert_code(0);
    let outcome = run_in_runc(&bundle, &plain, "plain");
    assert_ne!(
        outcome.code(),
        0,
        "runc ran the container under the host profile, which lacks runc's own calls after the \
         filter; this test would prove nothing\n{outcome}"
    );

    // Turning it into a Pod profile warns, naming the flag that fixes it; with it, no warning.
    let pod = work.path().join("pod.json");
    let pod = pod.to_str().expect("UTF-8 path");
    let outcome = generate(&["--from", rec, "--format", "localhost", "-o", pod]);
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains("did not see its container start")
            && outcome.stderr.contains("--for-runtime"),
        "no warning about the missed container start\n{outcome}"
    );
    let outcome = generate(&[
        "--from",
        rec,
        "--format",
        "spo",
        "--name",
        "app",
        "--for-runtime",
        "runc",
    ]);
    outcome.assert_code(0);
    assert!(
        !outcome.stderr.contains("did not see its container start"),
        "warned although --for-runtime was given\n{outcome}"
    );
}

/// Under Podman's defaults (crun, `noNewPrivileges: false`) crun loads the filter before it
/// drops capabilities, so a host profile fails with "prctl drop bounding"; `--for-runtime
/// podman` adds what crun and Podman's attach handshake do there, and the container runs.
#[test]
fn host_recording_for_runtime_podman_runs_under_podman_defaults() {
    require_root();
    common::containers::require_tool("podman", "podman");
    common::containers::require_tool("crun", "crun");
    common::containers::prepare_crun_for_hybrid_cgroups();
    let work = temp_dir();
    let rootfs = work.path().join("rootfs");
    common::containers::fill_rootfs(&rootfs);
    let recording = record_on_host(work.path(), &rootfs);
    let rec = recording.to_str().expect("UTF-8 path");
    let image = PodmanImage::import(work.path());
    let run = |profile: &Path, tag: &str| {
        let seccomp = format!("seccomp={}", profile.display());
        let name = common::unique_name(tag);
        common::run(
            podman_command()
                .args(["run", "--rm", "--name", &name, "--runtime", "crun"])
                .args(PODMAN_RUN_OPTIONS)
                .args(["--security-opt", &seccomp, &image.reference])
                .args(["/bin/sh", "-c", WORKLOAD]),
        )
    };

    let for_podman = work.path().join("for-podman.json");
    generate(&[
        "--from",
        rec,
        "--for-runtime",
        "podman",
        "-o",
        for_podman.to_str().expect("UTF-8 path"),
    ])
    .assert_code(0);
    let outcome = run(&for_podman, "for-podman");
    outcome.assert_code(0);
    assert_eq!(outcome.stdout, "hi\n", "{outcome}");

    let plain = work.path().join("plain.json");
    generate(&["--from", rec, "-o", plain.to_str().expect("UTF-8 path")]).assert_code(0);
    let outcome = run(&plain, "plain");
    assert_ne!(
        outcome.code(),
        0,
        "podman ran the container under the host profile; this test would prove nothing\n{outcome}"
    );
}

/// A threaded Python program calls clone3, which RuntimeDefault answers with ENOSYS so glibc
/// falls back to clone, which it allows: the program runs there, so `--fail-on denied` must not
/// trip.
#[test]
fn threaded_python_against_runtime_default_is_no_denial() {
    require_root();
    let dir = temp_dir();
    let (outcome, profile) = common::record(
        dir.path(),
        "py",
        &[
            "python3",
            "-c",
            "import threading; t = threading.Thread(target=print, args=('hi',)); t.start(); \
             t.join()",
        ],
    );
    outcome.assert_code(0);
    let recording = common::default_recording_path(&profile);
    let names = recording_names(&read_json(&recording));
    assert!(
        names.contains("clone3"),
        "python's threads did not use clone3 (glibc older than 2.34?); this test would prove \
         nothing: {names:?}"
    );
    let mut cmd = syscage(["diff"]);
    cmd.arg(&recording).args([
        "--against",
        "runtime-default",
        "--fail-on",
        "denied",
        "--format",
        "json",
    ]);
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    let report: Value = serde_json::from_str(&outcome.stdout).expect("diff --format json");
    assert_eq!(report["denied"], json!([]), "{outcome}");
    assert_eq!(
        report["falls_back"],
        json!([{"name": "clone3", "to": ["clone"]}]),
        "{outcome}"
    );
    assert_eq!(report["verdict"]["tripped"], json!(false), "{outcome}");
}

/// A tripped `--fail-on` says on stderr what tripped it, and the JSON report has the verdict.
#[test]
fn fail_on_says_what_tripped() {
    let dir = temp_dir();
    let write = |name: &str, names: &[&str]| {
        let path = dir.path().join(name);
        let profile = json!({"defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]});
        common::write_json(&path, &profile);
        path
    };
    let old = write("old.json", &["read", "write"]);
    let new = write("new.json", &["read", "write", "ptrace"]);
    let mut cmd = syscage(["diff"]);
    cmd.arg(&old)
        .arg(&new)
        .args(["--fail-on", "risky", "--format", "json"]);
    let outcome = common::run(&mut cmd);
    outcome.assert_code(1);
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(
        lines,
        ["syscage: error: --fail-on risky tripped: 1 dangerous syscall added: ptrace (high)"],
        "{outcome}"
    );
    let report: Value = serde_json::from_str(&outcome.stdout).expect("diff --format json");
    assert_eq!(
        report["verdict"],
        json!({"fail_on": "risky", "tripped": true,
               "reason": "1 dangerous syscall added: ptrace (high)"}),
        "{outcome}"
    );
}

/// `generate --format spo` writes a resource the operator's CRD schema accepts, in the
/// namespace asked for, with the localhostProfile Pods reference it by; the validator refuses
/// a field the CRD does not have, so it can fail.
#[test]
fn spo_resource_validates_against_the_crd_schema() {
    let dir = temp_dir();
    let recording = dir.path().join("app.recording.json");
    let rec = json!({
        "format": "syscage-recording", "version": 1, "syscage_version": "0.1.0",
        "command": ["app"], "started_at": "2026-01-01T00:00:00.000Z",
        "ended_at": "2026-01-01T00:00:01.000Z", "kernel_release": "6.1.0", "machine": "x86_64",
        "arch": "SCMP_ARCH_X86_64", "exit": {"code": 0}, "out_of_range_count": 0,
        "syscalls": [
            {"nr": 0, "name": "read", "count": 1, "first_seen_us": 0},
            {"nr": 56, "name": "clone", "count": 1, "first_seen_us": 1,
             "args": {"indexes": [0], "values": [[17]], "overflow": false}},
            {"nr": 41, "name": "socket", "count": 1, "first_seen_us": 2,
             "args": {"indexes": [0, 1], "values": [[1, 1]], "overflow": false}}
        ]
    });
    common::write_json(&recording, &rec);
    let yaml = dir.path().join("app.yaml");
    let outcome = generate(&[
        "--from",
        recording.to_str().expect("UTF-8 path"),
        "--format",
        "spo",
        "--namespace",
        "shop",
        "-o",
        yaml.to_str().expect("UTF-8 path"),
    ]);
    outcome.assert_code(0);
    let text = fs::read_to_string(&yaml).expect("reading the SPO resource");
    assert!(
        text.contains("namespace: shop")
            && text.contains("localhostProfile: operator/shop/app.json"),
        "{text}"
    );
    let (valid, said) = validate_against_crd(&yaml);
    assert!(
        valid,
        "the CRD schema refuses the resource:\n{said}\n{text}"
    );

    // Cluster-scoped (SPO v0.9.0 and later): no namespace, operator/NAME.json.
    let outcome = generate(&[
        "--from",
        recording.to_str().expect("UTF-8 path"),
        "--format",
        "spo",
        "--name",
        "web",
        "-o",
        yaml.to_str().expect("UTF-8 path"),
    ]);
    outcome.assert_code(0);
    let text = fs::read_to_string(&yaml).expect("reading the SPO resource");
    assert!(!text.contains("namespace:"), "{text}");
    assert!(
        text.contains("localhostProfile: operator/web.json"),
        "{text}"
    );
    let (valid, said) = validate_against_crd(&yaml);
    assert!(
        valid,
        "the CRD schema refuses the resource:\n{said}\n{text}"
    );

    // The validator refuses what the CRD has no field for.
    let broken = dir.path().join("broken.yaml");
    fs::write(
        &broken,
        text.replace("spec:\n", "spec:\n  defaultErrnoRet: 1\n"),
    )
    .expect("writing the broken resource");
    let (valid, said) = validate_against_crd(&broken);
    assert!(
        !valid,
        "the validator accepted defaultErrnoRet, which the CRD lacks:\n{said}"
    );

    // A --name that is no Kubernetes name: the error names the flag it came from.
    let outcome = generate(&[
        "--from",
        recording.to_str().expect("UTF-8 path"),
        "--format",
        "spo",
        "--name",
        "Bad_Name",
    ]);
    assert_ne!(outcome.code(), 0, "{outcome}");
    assert!(
        outcome.stderr.contains("--name \"Bad_Name\"") && !outcome.stderr.contains("pass --name"),
        "{outcome}"
    );
}
