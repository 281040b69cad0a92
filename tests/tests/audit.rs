//! `syscage audit`: the kernel's seccomp log records, attributed to their container, written as
//! recordings that fold back into the profile. The warn-then-enforce loop with real runc: a
//! LOG-mode profile made from a recording of half the workload, the whole workload run under
//! it while `audit --container` listens, exactly the missing syscalls reported (even for
//! processes that exited before syscage read their records), and the merge of the two
//! recordings running the workload in enforce mode. Then: an i386 call named from the i386
//! table, two containers at once, and a burst of 10,000 records counted in full or reported as
//! incomplete.
//!
//! Needs root, runc, busybox-static and gcc with multilib (a static prober is built here).

mod common;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::Duration,
};

use common::{
    containers::{permissive_seccomp, run_ok, Bundle, Container, Runtime},
    read_json, recording_names, syscage, temp_dir, wait_for_outputs, Audit, Outcome,
    PROFILE_DEADLINE,
};
use serde_json::Value;

/// The first half of the workload's rare syscalls (recorded), and the second (not recorded:
/// what the LOG-mode profile must report). None is made by busybox's sh, runc's init or the
/// prober's own start.
const FIRST_HALF: [&str; 4] = ["getcpu", "sysinfo", "times", "getresuid"];
const SECOND_HALF: [&str; 4] = [
    "sched_getscheduler",
    "getitimer",
    "sched_get_priority_max",
    "getresgid",
];

/// What runc's init (a Go program) makes after the filter on some runs and not on others (its
/// runtime's scheduler): a recording of one run may lack what another run makes, so these are
/// left out when recordings and audits are compared.
const RUNC_RUNTIME_NOISE: [&str; 6] = [
    "futex",
    "sched_yield",
    "nanosleep",
    "tgkill",
    "getpid",
    "rt_sigreturn",
];

/// The container's script: the first half always, the second half when `/all` exists.
const SCRIPT: &str = "/bin/prober getcpu sysinfo times getresuid; \
    [ -e /all ] && /bin/prober sched_getscheduler getitimer sched_get_priority_max getresgid; true";

/// A static prober: makes the named syscalls (by its own ABI's numbers), or `burst N NAME`.
const PROBER_C: &str = r#"
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
static long call(const char *name) {
    long b[64] = {0};
    if (!strcmp(name, "getcpu")) return syscall(SYS_getcpu, b, b + 1, 0);
    if (!strcmp(name, "sysinfo")) return syscall(SYS_sysinfo, b);
    if (!strcmp(name, "times")) return syscall(SYS_times, b);
    if (!strcmp(name, "getresuid")) return syscall(SYS_getresuid, b, b + 1, b + 2);
    if (!strcmp(name, "sched_getscheduler")) return syscall(SYS_sched_getscheduler, 0);
    if (!strcmp(name, "sched_get_priority_max")) return syscall(SYS_sched_get_priority_max, 0);
    if (!strcmp(name, "getresgid")) return syscall(SYS_getresgid, b, b + 1, b + 2);
    if (!strcmp(name, "getitimer")) return syscall(SYS_getitimer, 0, b);
    _exit(99);
}
int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "burst")) {
        for (long i = atol(argv[2]); i > 0; i--) call(argv[3]);
        return 0;
    }
    for (int i = 1; i < argc; i++) call(argv[i]);
    return 0;
}
"#;

/// How long a container or an audit may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// Builds the prober with gcc (`extra`: `-m32` for the i386 one).
#[track_caller]
fn build_prober(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let source = dir.join("prober.c");
    fs::write(&source, PROBER_C).expect("writing prober.c");
    let binary = dir.join(name);
    let output = Command::new("gcc")
        .args(extra)
        .args(["-static", "-O1", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("running gcc (install gcc and gcc-multilib)");
    assert!(
        output.status.success(),
        "gcc {extra:?} -static failed (needs gcc, gcc-multilib and libc6-dev-i386):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    binary
}

/// A runc bundle running [`SCRIPT`] with the prober in its `/bin`.
#[track_caller]
fn bundle(work: &Path, name: &str, prober: &Path, script: &str) -> Bundle {
    let bundle = Bundle::new(work, name, Runtime::Runc, script);
    fs::copy(prober, bundle.rootfs().join("bin/prober")).expect("copying the prober");
    bundle
}

/// Runs the bundle in runc, recorded from its first syscall by the OCI hook; returns the
/// recording's path. `all`: the workload does both halves.
#[track_caller]
fn record(work: &Path, bundle: &Bundle, all: bool, tag: &str) -> PathBuf {
    set_all(bundle, all);
    bundle.set_seccomp(Some(&permissive_seccomp()));
    let output_dir = work.join(format!("recorded-{tag}"));
    fs::create_dir(&output_dir).expect("creating the hook's output directory");
    let log = work.join(format!("hook-{tag}.log"));
    bundle.set_oci_hook(&output_dir, &log);
    let container = Container::new(Runtime::Runc, tag);
    bundle.run(&container).assert_code(0);
    wait_for_outputs(&output_dir, &container.id, PROFILE_DEADLINE, &|| {
        fs::read_to_string(&log).unwrap_or_default()
    });
    bundle.remove_hooks();
    output_dir.join(format!("{}.recording.json", container.id))
}

fn set_all(bundle: &Bundle, all: bool) {
    let flag = bundle.rootfs().join("all");
    if all {
        fs::write(&flag, "").expect("creating /all");
    } else {
        let _ = fs::remove_file(&flag);
    }
}

/// `syscage generate --from INPUTS --format FORMAT`, as JSON.
#[track_caller]
fn generate(work: &Path, inputs: &[&Path], format: &str, name: &str) -> Value {
    let out = work.join(name);
    let mut cmd = syscage(["generate", "--format", format, "-o"]);
    cmd.arg(&out).arg("--from").args(inputs);
    common::run(&mut cmd).assert_code(0);
    read_json(&out)
}

/// `runc create` (the container's init waits, already in its cgroup) and, later, `runc start`.
#[track_caller]
fn create(bundle: &Bundle, tag: &str) -> Container {
    let container = Container::new(Runtime::Runc, tag);
    // Not through `run`: the container's init inherits runc's stdio and keeps it open, so a
    // pipe would never reach EOF.
    let mut cmd = Command::new("runc");
    cmd.args(["create", "--bundle"])
        .arg(&bundle.dir)
        .arg(&container.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", common::describe(&cmd)));
    assert!(
        status.success(),
        "{} failed: {status}",
        common::describe(&cmd)
    );
    container
}

#[track_caller]
fn start(container: &Container) {
    run_ok(Command::new("runc").args(["start", &container.id]));
}

/// Waits until runc says the container stopped.
#[track_caller]
fn wait_stopped(container: &Container) {
    common::wait_for(DEADLINE, "the container to stop", || {
        let state = run_ok(Command::new("runc").args(["state", &container.id]));
        state.contains("\"stopped\"").then_some(())
    });
}

fn names_of(recording: &Value) -> BTreeSet<String> {
    recording_names(recording)
}

#[test]
fn warn_then_enforce_with_runc() {
    let work = temp_dir();
    let prober = build_prober(work.path(), "prober", &[]);
    let b = bundle(work.path(), "bundle", &prober, SCRIPT);
    let partial = record(work.path(), &b, false, "half");
    let full = record(work.path(), &b, true, "full");
    let partial_names = names_of(&read_json(&partial));
    for name in FIRST_HALF {
        assert!(partial_names.contains(name), "the first half lacks {name}");
    }
    let missing: BTreeSet<String> = names_of(&read_json(&full))
        .difference(&partial_names)
        .filter(|n| !RUNC_RUNTIME_NOISE.contains(&n.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        missing,
        SECOND_HALF.iter().map(|s| (*s).to_owned()).collect(),
        "the full recording should add exactly the second half"
    );

    // Warn: the LOG-mode profile of half the work; the whole workload runs under it.
    let log_profile = generate(work.path(), &[&partial], "log", "warn.json");
    assert_eq!(log_profile["defaultAction"], "SCMP_ACT_LOG");
    b.set_seccomp(Some(&log_profile));
    set_all(&b, true);
    let container = create(&b, "warn");
    let denials = work.path().join("warn.denials.json");
    let audit = Audit::start(&[
        "--container",
        &container.id,
        "--output",
        denials.to_str().unwrap(),
    ]);
    // Stopped while the container runs: every process of the workload has exited before
    // syscage reads a single record, so each is attributed from what was known of it.
    audit.signal(libc::SIGSTOP);
    start(&container);
    wait_stopped(&container);
    audit.signal(libc::SIGCONT);
    let outcome = audit.finish(None);
    outcome.assert_code(0);
    let recording = read_json(&denials);
    assert_eq!(recording["source"], "seccomp-log", "{recording:#}");
    assert_eq!(recording["target"]["container_id"], container.id.as_str());
    let reported: BTreeSet<String> = names_of(&recording)
        .into_iter()
        .filter(|n| !RUNC_RUNTIME_NOISE.contains(&n.as_str()))
        .collect();
    assert_eq!(
        reported, missing,
        "audit must report exactly what the profile lacks\n{outcome}\n{recording:#}"
    );
    let workload = recording["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| SECOND_HALF.contains(&s["name"].as_str().unwrap_or_default()));
    for s in workload {
        assert_eq!(s["actions"], serde_json::json!(["SCMP_ACT_LOG"]), "{s}");
        assert_eq!(s["count"], 1, "{s}");
        assert!(
            s["last_seen_us"].as_u64() >= s["first_seen_us"].as_u64(),
            "{s}"
        );
    }

    // Enforce: the merge of the partial recording and the audit's runs the whole workload
    // with the default action ERRNO, and nothing is logged any more.
    let merged_dir = work.path().join("merged");
    fs::create_dir(&merged_dir).unwrap();
    let mut merge = syscage(["merge"]);
    merge
        .arg(&partial)
        .arg(&denials)
        .arg("--output")
        .arg(merged_dir.join("web"));
    common::run(&mut merge).assert_code(0);
    let merged_recording = fs::read_dir(&merged_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("recording.json"))
        .unwrap_or_else(|| panic!("merge wrote no recording into {}", merged_dir.display()));
    let mut enforce = generate(work.path(), &[&merged_recording], "oci", "enforce.json");
    assert_eq!(enforce["defaultAction"], "SCMP_ACT_ERRNO");
    // What runc's init makes on some runs only, as tests/runc.rs allows it too: a run of the
    // enforcing profile must not fail for what the recorded runs happened not to do.
    enforce["syscalls"]
        .as_array_mut()
        .expect("the profile has rules")
        .push(serde_json::json!({"names": RUNC_RUNTIME_NOISE, "action": "SCMP_ACT_ALLOW"}));
    b.set_seccomp(Some(&enforce));
    let container = create(&b, "enforce");
    let after = work.path().join("enforce.denials.json");
    let audit = Audit::start(&[
        "--container",
        &container.id,
        "--output",
        after.to_str().unwrap(),
    ]);
    start(&container);
    wait_stopped(&container);
    let outcome = audit.finish(None);
    outcome.assert_code(0);
    let state = run_ok(Command::new("runc").args(["state", &container.id]));
    assert!(state.contains("\"stopped\""), "{state}");
    let still: BTreeSet<String> = names_of(&read_json(&after))
        .into_iter()
        .filter(|n| !RUNC_RUNTIME_NOISE.contains(&n.as_str()))
        .collect();
    assert_eq!(
        still,
        BTreeSet::new(),
        "the widened profile still logs calls\n{outcome}"
    );
}

#[test]
fn diff_shows_audited_calls_as_additions() {
    let work = temp_dir();
    let prober = build_prober(work.path(), "prober", &[]);
    let b = bundle(work.path(), "bundle", &prober, SCRIPT);
    let partial = record(work.path(), &b, false, "half");
    let log_profile = generate(work.path(), &[&partial], "log", "warn.json");
    b.set_seccomp(Some(&log_profile));
    set_all(&b, true);
    let container = create(&b, "diff");
    let denials = work.path().join("d.json");
    let audit = Audit::start(&[
        "--container",
        &container.id,
        "-o",
        denials.to_str().unwrap(),
    ]);
    start(&container);
    wait_stopped(&container);
    audit.finish(None).assert_code(0);
    let mut diff = syscage(["diff"]);
    diff.arg(&partial).arg(&denials);
    let outcome = common::run(&mut diff);
    for name in SECOND_HALF {
        assert!(
            outcome
                .stdout
                .lines()
                .any(|l| l.contains('+') && l.contains(name)),
            "diff does not show {name} as added\n{outcome}"
        );
    }
}

/// A seccomp profile that logs every call: nothing allowed outright, LOG by default.
fn log_everything() -> Value {
    serde_json::json!({
        "defaultAction": "SCMP_ACT_LOG",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": []
    })
}

/// Runs `script` in a new runc container under `seccomp` while `syscage audit --container`
/// (with `extra` arguments) listens; returns its outcome and recording.
#[track_caller]
fn audit_container(
    work: &Path,
    b: &Bundle,
    seccomp: &Value,
    tag: &str,
    extra: &[&str],
) -> (Outcome, Value) {
    b.set_seccomp(Some(seccomp));
    let container = create(b, tag);
    let out = work.join(format!("{tag}.denials.json"));
    let mut args = vec![
        "--container",
        container.id.as_str(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let audit = Audit::start(&args);
    start(&container);
    wait_stopped(&container);
    let outcome = audit.finish(None);
    let recording = read_json(&out);
    (outcome, recording)
}

#[test]
fn an_i386_call_is_reported_with_its_i386_name() {
    let work = temp_dir();
    let prober = build_prober(work.path(), "prober32", &["-m32"]);
    // getcpu is i386 number 318, which is getrandom on x86_64.
    let b = bundle(work.path(), "bundle", &prober, "/bin/prober getcpu");
    let (outcome, recording) = audit_container(work.path(), &b, &log_everything(), "m32", &[]);
    outcome.assert_code(0);
    let calls = recording["syscalls"].as_array().unwrap();
    let getcpu = calls
        .iter()
        .find(|s| s["name"] == "getcpu")
        .unwrap_or_else(|| panic!("no getcpu\n{outcome}\n{recording:#}"));
    assert_eq!(getcpu["arch"], "SCMP_ARCH_X86", "{getcpu}");
    assert_eq!(getcpu["nr"], 318, "{getcpu}");
    for s in calls.iter().filter(|s| s["nr"] == 318) {
        let expected = if s["arch"] == "SCMP_ARCH_X86" {
            "getcpu"
        } else {
            "getrandom"
        };
        assert_eq!(
            s["name"], expected,
            "named from the wrong table\n{recording:#}"
        );
    }
}

/// `run --log-denials` loads the filter with SECCOMP_FILTER_FLAG_LOG: the ERRNO denials of an
/// enforcing profile are logged (and audited); without it they are not.
#[test]
fn run_log_denials_makes_errno_denials_visible() {
    let work = temp_dir();
    let prober = build_prober(work.path(), "prober", &[]);
    let prober = prober.to_str().unwrap();
    // The shell outlives the prober: the prober's record arrives after it exited, and is
    // attributed through its parent (run moves its command into a new cgroup, which the
    // prober is never seen in).
    let script = |calls: &str| format!("{prober} {calls}; sleep 0.3");
    let profile = work.path().join("p.json");
    let mut rec = syscage(["record", "--output"]);
    rec.arg(&profile).args(["--", "/bin/sh", "-c", &script("")]);
    common::run(&mut rec).assert_code(0);
    assert_eq!(read_json(&profile)["defaultAction"], "SCMP_ACT_ERRNO");

    for log_denials in [true, false] {
        // `run` (as root) runs its command in a cgroup of its own below /syscage.
        let out = work.path().join(format!("run-{log_denials}.json"));
        let audit = Audit::start(&["--cgroup", "/syscage", "-o", out.to_str().unwrap()]);
        let mut run = syscage(["run", "--profile"]);
        run.arg(&profile);
        if log_denials {
            run.arg("--log-denials");
        }
        run.args(["--", "/bin/sh", "-c", &script("sched_get_priority_max")]);
        common::run(&mut run);
        thread::sleep(Duration::from_millis(500));
        let outcome = audit.finish(Some(libc::SIGINT));
        let found = read_json(&out)["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "sched_get_priority_max")
            .cloned();
        if log_denials {
            let found = found.unwrap_or_else(|| panic!("the denial was not logged\n{outcome}"));
            assert_eq!(
                found["actions"],
                serde_json::json!(["SCMP_ACT_ERRNO"]),
                "{found}"
            );
        } else {
            assert_eq!(
                found, None,
                "an ERRNO denial was logged without the flag\n{outcome}"
            );
        }
    }
}

#[test]
fn two_containers_at_once_each_get_their_own_denials() {
    let work = temp_dir();
    let prober = build_prober(work.path(), "prober", &[]);
    // A LOG profile allowing only what the prober needs to start, so every rare call logs.
    let b0 = bundle(work.path(), "base", &prober, "/bin/prober");
    let base = record(work.path(), &b0, false, "base");
    let log_profile = generate(work.path(), &[&base], "log", "warn.json");
    let a = bundle(work.path(), "a", &prober, "/bin/prober getcpu sysinfo");
    let b = bundle(work.path(), "b", &prober, "/bin/prober times getresuid");
    a.set_seccomp(Some(&log_profile));
    b.set_seccomp(Some(&log_profile));
    let out = work.path().join("denials");
    fs::create_dir(&out).unwrap();
    let audit = Audit::start(&["--all", "--output-dir", out.to_str().unwrap()]);
    let ca = create(&a, "two-a");
    let cb = create(&b, "two-b");
    start(&ca);
    start(&cb);
    wait_stopped(&ca);
    wait_stopped(&cb);
    thread::sleep(Duration::from_millis(500));
    let outcome = audit.finish(Some(libc::SIGINT));
    assert!(
        [0, 119].contains(&outcome.code()),
        "audit --all failed\n{outcome}"
    );
    for (c, own, other) in [
        (&ca, ["getcpu", "sysinfo"], ["times", "getresuid"]),
        (&cb, ["times", "getresuid"], ["getcpu", "sysinfo"]),
    ] {
        let recording = read_json(&out.join(format!("{}.denials.json", c.id)));
        let names = names_of(&recording);
        for n in own {
            assert!(
                names.contains(n),
                "{} lacks {n}\n{outcome}\n{names:?}",
                c.id
            );
        }
        for n in other {
            assert!(!names.contains(n), "{} has {n}\n{outcome}\n{names:?}", c.id);
        }
    }
}

/// A burst of 10,000 logged calls: syscage counts every one, or says the result is incomplete
/// (exit 119) and what was lost; it never writes a smaller count as if complete. With a tiny
/// receive buffer the kernel drops records it cannot deliver, and syscage must say so.
#[test]
fn a_burst_is_counted_in_full_or_reported_as_incomplete() {
    let work = temp_dir();
    let prober = build_prober(work.path(), "prober", &[]);
    let b = bundle(
        work.path(),
        "bundle",
        &prober,
        "/bin/prober burst 10000 getcpu",
    );
    for (buffer, tag) in [("16777216", "big"), ("1024", "tiny")] {
        let (outcome, recording) = audit_container(
            work.path(),
            &b,
            &log_everything(),
            &format!("burst-{tag}"),
            &["--receive-buffer", buffer],
        );
        let count = recording["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "getcpu")
            .map_or(0, |s| s["count"].as_u64().unwrap());
        eprintln!(
            "{tag} buffer: counted {count} of 10000, exit {}",
            outcome.code()
        );
        if count == 10_000 {
            outcome.assert_code(0);
        } else {
            assert!(count < 10_000, "more than were made\n{outcome}");
            outcome.assert_code(119);
            assert!(outcome.stderr.contains("INCOMPLETE"), "{outcome}");
        }
        if tag == "tiny" {
            assert!(
                count < 10_000,
                "a 1 KiB buffer kept up with 10,000 records: the loss path was not exercised\n{outcome}"
            );
        }
    }
}
