//! How syscage starts, watches and stops the workload of `run` and `record`: a command that
//! cannot be executed under a tight profile is reported instead of spinning forever, a command
//! ignoring SIGINT/SIGTERM still ends, bad `--duration`/`--user`/sudo settings are refused
//! before anything runs; and what `run` says when a command fails under a profile (which
//! syscalls it refused, a widened profile with `--fix`), and which inputs it accepts.

mod common;

use std::{
    fs,
    io::{BufRead as _, BufReader},
    os::unix::{fs::PermissionsExt as _, process::CommandExt as _},
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use common::{
    exerciser, read_json, record, run_with_profile, spawn, syscage, temp_dir, write_json,
};
use serde_json::{json, Value};

/// A command that should end at once; a hang is what the tests below guard against.
const PROMPT: Duration = Duration::from_secs(30);

/// Allows everything but the calls a failing child needs to report an error or end itself by a
/// signal: `write` (std's exec-error pipe, and stderr), `rt_sigaction` (resetting a handler),
/// and the kill family (abort's raise).
fn tight_profile(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("no-write.json");
    write_json(
        &path,
        &json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{
                "names": ["write", "rt_sigaction", "tgkill", "tkill", "kill"],
                "action": "SCMP_ACT_ERRNO"
            }]
        }),
    );
    path
}

/// Runs `cmd` in a process group of its own and kills the whole group if it has not ended by
/// `deadline`: a hung syscage may leave a spinning workload behind, which would otherwise keep
/// the output pipes open (and a CPU busy) after the test.
fn run_within(cmd: &mut std::process::Command, deadline: Duration) -> common::Outcome {
    cmd.process_group(0);
    let child = spawn(cmd);
    let group = child.id() as libc::pid_t;
    let finished = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let finished = Arc::clone(&finished);
        thread::spawn(move || {
            let start = Instant::now();
            while !finished.load(Ordering::Relaxed) {
                if start.elapsed() > deadline {
                    // SAFETY: kill(2) of the group this test started.
                    unsafe { libc::kill(-group, libc::SIGKILL) };
                    return true;
                }
                thread::sleep(Duration::from_millis(50));
            }
            false
        })
    };
    let outcome = common::wait(child, common::describe(cmd), deadline * 2);
    finished.store(true, Ordering::Relaxed);
    let killed = watchdog.join().expect("watchdog thread");
    assert!(
        !killed,
        "did not end within {deadline:?}; killed its process group\n{outcome}"
    );
    outcome
}

#[test]
fn busy_executable_is_refused_with_126_under_a_profile_that_denies_write() {
    let dir = temp_dir();
    let profile = tight_profile(dir.path());
    let program = dir.path().join("busy-true");
    fs::copy("/bin/true", &program).expect("copying /bin/true");
    // Held open for writing: exec fails with ETXTBSY.
    let _writer = fs::OpenOptions::new()
        .append(true)
        .open(&program)
        .expect("opening the copy for writing");
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&profile).arg("--").arg(&program);
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(126);
    assert!(
        outcome.stderr.contains("text file busy"),
        "no reason given\n{outcome}"
    );
}

#[test]
fn exec_failure_after_the_filter_is_reported_under_a_profile_that_denies_write() {
    let dir = temp_dir();
    let profile = tight_profile(dir.path());
    // Found and executable, so every check before the filter passes; exec itself fails
    // (ENOENT for the interpreter) once the filter is loaded.
    let script = dir.path().join("script");
    fs::write(&script, "#!/nonexistent/interpreter\n").expect("writing the script");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&profile).arg("--").arg(&script);
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(126);
    assert!(
        outcome.stderr.contains("interpreter"),
        "the error does not say what failed\n{outcome}"
    );
}

#[test]
fn executable_the_user_may_not_run_is_refused_before_the_filter() {
    let dir = temp_dir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let profile = tight_profile(dir.path());
    let program = dir.path().join("root-only-true");
    fs::copy("/bin/true", &program).expect("copying /bin/true");
    fs::set_permissions(&program, fs::Permissions::from_mode(0o700)).expect("chmod");
    let mut cmd = syscage(["run", "--user", "65534:65534", "--profile"]);
    cmd.arg(&profile).arg("--").arg(&program);
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(126);
    assert!(
        outcome.stderr.contains("may not execute it"),
        "no reason given\n{outcome}"
    );
}

/// Starts `syscage ARGS -- sh -c 'trap "" INT TERM; echo ready; exec sleep 60'` and waits until
/// the command said `ready`.
fn start_stubborn(args: &[&str], dir: &Path) -> (std::process::Child, std::process::Command) {
    let mut cmd = syscage(args);
    cmd.current_dir(dir).args([
        "--",
        "sh",
        "-c",
        "trap '' INT TERM; echo ready; exec sleep 60",
    ]);
    let mut child = spawn(&mut cmd);
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("reading the command's output");
    assert_eq!(line, "ready\n", "the command did not start");
    child.stdout = Some(stdout.into_inner());
    thread::sleep(Duration::from_millis(300));
    (child, cmd)
}

fn allow_all(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("allow-all.json");
    write_json(&path, &json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    path
}

fn kill(child: &std::process::Child, signal: i32) {
    // SAFETY: plain kill(2) to our own child, which has not been reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
}

#[test]
fn command_ignoring_sigterm_gets_sigkill_after_the_grace_period() {
    let dir = temp_dir();
    let profile = allow_all(dir.path());
    let (child, cmd) = start_stubborn(&["run", "--profile", profile.to_str().unwrap()], dir.path());
    let sent = Instant::now();
    kill(&child, libc::SIGTERM);
    let outcome = common::wait(child, common::describe(&cmd), PROMPT);
    outcome.assert_code(128 + libc::SIGKILL);
    assert!(sent.elapsed() >= Duration::from_secs(9), "{outcome}");
    assert!(outcome.stderr.contains("SIGKILL"), "not said\n{outcome}");
}

#[test]
fn second_sigint_kills_a_command_that_ignores_it() {
    let dir = temp_dir();
    let profile = allow_all(dir.path());
    let (child, cmd) = start_stubborn(&["run", "--profile", profile.to_str().unwrap()], dir.path());
    let sent = Instant::now();
    kill(&child, libc::SIGINT);
    thread::sleep(Duration::from_millis(300));
    kill(&child, libc::SIGINT);
    let outcome = common::wait(child, common::describe(&cmd), PROMPT);
    outcome.assert_code(128 + libc::SIGKILL);
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "the second SIGINT did not end it at once\n{outcome}"
    );
    assert!(outcome.stderr.contains("SIGKILL"), "not said\n{outcome}");
}

#[test]
fn record_duration_ends_a_command_that_ignores_sigterm() {
    let dir = temp_dir();
    let output = dir.path().join("stubborn.json");
    let (child, cmd) = start_stubborn(
        &[
            "record",
            "--duration",
            "1s",
            "--output",
            output.to_str().unwrap(),
        ],
        dir.path(),
    );
    let outcome = common::wait(child, common::describe(&cmd), PROMPT);
    outcome.assert_code(128 + libc::SIGKILL);
    assert!(outcome.stderr.contains("SIGKILL"), "not said\n{outcome}");
    read_json(&output);
}

#[test]
fn huge_duration_is_refused_before_the_command_starts() {
    let dir = temp_dir();
    let marker = dir.path().join("started");
    let mut cmd = syscage(["record", "--duration", "18446744073709551615s", "--output"]);
    cmd.arg(dir.path().join("out.json"))
        .args(["--", "touch"])
        .arg(&marker);
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(125);
    assert!(outcome.stderr.contains("at most"), "{outcome}");
    assert!(!outcome.stderr.contains("panicked"), "{outcome}");
    assert!(!marker.exists(), "the command ran\n{outcome}");
}

#[test]
fn user_minus_one_is_refused_with_a_reason() {
    let dir = temp_dir();
    let profile = allow_all(dir.path());
    let mut cmd = syscage(["run", "--user", "4294967295", "--profile"]);
    cmd.arg(&profile).args(["--", "/usr/bin/id"]);
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(125);
    assert!(
        outcome.stderr.contains("not a valid user or group id")
            && !outcome.stderr.contains("Invalid argument"),
        "{outcome}"
    );
}

#[test]
fn sudo_uid_that_is_not_a_number_is_named() {
    let dir = temp_dir();
    let profile = allow_all(dir.path());
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&profile)
        .args(["--", "/usr/bin/id"])
        .env("SUDO_UID", "abc")
        .env("SUDO_GID", "0");
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(125);
    assert!(
        outcome
            .stderr
            .lines()
            .any(|l| l.starts_with("syscage: SUDO_UID=abc")),
        "{outcome}"
    );
}

#[test]
fn sudo_uid_without_sudo_gid_is_refused() {
    let dir = temp_dir();
    let profile = allow_all(dir.path());
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&profile)
        .args(["--", exerciser(), "whoami"])
        .env("SUDO_UID", "65534");
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(125);
    assert!(outcome.stdout.is_empty(), "the command ran\n{outcome}");
    assert!(outcome.stderr.contains("SUDO_GID"), "{outcome}");
}

#[test]
fn failing_command_is_told_which_syscall_the_profile_refused() {
    let dir = temp_dir();
    let (recorded, profile) = record(dir.path(), "ls", &["ls", "/"]);
    recorded.assert_code(0);
    let tight = dir.path().join("no-getdents64.json");
    write_json(
        &tight,
        &common::profile_without(&common::read_json(&profile), &["getdents64"]),
    );

    let outcome = run_with_profile(&tight, &["ls", "/"]);
    assert_ne!(outcome.code(), 0, "{outcome}");
    let listed: Vec<&str> = outcome
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .collect();
    assert!(
        listed.iter().any(|l| l.starts_with("getdents64 ")),
        "getdents64 not reported\n{outcome}"
    );

    // Quiet when the command succeeds.
    let fine = run_with_profile(&profile, &["ls", "/"]);
    fine.assert_code(0);
    assert!(fine.stderr.is_empty(), "{fine}");
}

#[test]
fn refused_argument_values_are_named_and_fix_widens_the_profile() {
    let dir = temp_dir();
    let prober = env!("CARGO_BIN_EXE_arg-prober");
    // AF_UNIX/SOCK_STREAM recorded: the profile allows socket only for that.
    let (recorded, profile) = record(dir.path(), "unix", &[prober, "socket", "1", "1"]);
    recorded.assert_code(0);
    // AF_INET6/SOCK_DGRAM is refused.
    let fixed = dir.path().join("fixed.json");
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&profile)
        .arg("--fix")
        .arg(&fixed)
        .args(["--", prober, "socket", "10", "2"]);
    let outcome = common::run(&mut cmd);
    outcome.assert_code(1);
    assert!(
        outcome.stderr.contains("socket(AF_INET6/SOCK_DGRAM)"),
        "the refused arguments are not named\n{outcome}"
    );
    let widened: Value = read_json(&fixed);
    let again = run_with_profile(&fixed, &[prober, "socket", "10", "2"]);
    again.assert_code(0);
    let still = run_with_profile(&fixed, &[prober, "socket", "1", "1"]);
    still.assert_code(0);
    assert_eq!(widened["defaultAction"], "SCMP_ACT_ERRNO", "{widened}");
}

#[test]
fn without_root_run_works_and_says_how_to_get_the_report() {
    let dir = temp_dir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let (recorded, profile) = record(dir.path(), "ls", &["ls", "/"]);
    recorded.assert_code(0);
    let tight = dir.path().join("no-getdents64.json");
    write_json(
        &tight,
        &common::profile_without(&common::read_json(&profile), &["getdents64"]),
    );
    fs::set_permissions(&tight, fs::Permissions::from_mode(0o644)).expect("chmod");

    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&tight)
        .args(["--", "ls", "/"])
        .uid(65534)
        .gid(65534);
    let outcome = run_within(&mut cmd, PROMPT);
    assert_eq!(outcome.code(), 2, "{outcome}");
    let hints = outcome.stderr.matches("as root").count();
    assert_eq!(hints, 1, "say it once\n{outcome}");
}

#[test]
fn recording_is_accepted_as_the_profile() {
    let dir = temp_dir();
    let (recorded, profile) = record(dir.path(), "ls", &["ls", "/"]);
    recorded.assert_code(0);
    let recording = common::default_recording_path(&profile);
    let outcome = run_with_profile(&recording, &["ls", "/"]);
    outcome.assert_code(0);
    assert_eq!(outcome.stdout, recorded.stdout, "{outcome}");
}

#[test]
fn deny_list_profile_runs_with_a_warning() {
    let dir = temp_dir();
    let path = dir.path().join("deny-list.json");
    write_json(
        &path,
        &json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    let outcome = run_with_profile(&path, &["true"]);
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains("SCMP_ACT_ALLOW"),
        "no warning\n{outcome}"
    );
}

#[test]
fn conflicting_rules_for_one_syscall_are_refused() {
    let dir = temp_dir();
    let path = dir.path().join("conflict.json");
    write_json(
        &path,
        &json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                "syscalls": [
                    {"names": ["getdents64"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["getdents64"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    let outcome = run_with_profile(&path, &["ls", "/"]);
    outcome.assert_code(124);
    assert!(
        outcome.stderr.contains("syscalls[0] and syscalls[1]"),
        "{outcome}"
    );
}

#[test]
fn closed_stdout_stays_closed_for_the_command() {
    let dir = temp_dir();
    let profile = allow_all(dir.path());
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&profile).args([
        "--",
        "sh",
        "-c",
        "if [ -e /proc/$$/fd/1 ]; then echo open >&2; else echo closed >&2; fi",
    ]);
    // SAFETY: close(2) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(0);
    assert!(
        outcome.stderr.lines().any(|l| l == "closed"),
        "the command got a stdout syscage was not given\n{outcome}"
    );
}

#[test]
fn docker_format_and_spo_profiles_are_accepted() {
    let dir = temp_dir();
    let (recorded, profile) = record(dir.path(), "ls", &["ls", "/"]);
    recorded.assert_code(0);
    let oci = read_json(&profile);

    // Docker's format: archMap instead of architectures.
    let mut docker = oci.clone();
    let object = docker.as_object_mut().expect("a profile is an object");
    object.remove("architectures");
    object.insert(
        "archMap".to_owned(),
        json!([{"architecture": common::containers::native_arch(), "subArchitectures": []}]),
    );
    let docker_path = dir.path().join("docker.json");
    write_json(&docker_path, &docker);
    let outcome = run_with_profile(&docker_path, &["ls", "/"]);
    outcome.assert_code(0);
    assert_eq!(outcome.stdout, recorded.stdout, "{outcome}");

    // The Security Profiles Operator's resource.
    let spo = json!({
        "apiVersion": "security-profiles-operator.x-k8s.io/v1beta1",
        "kind": "SeccompProfile",
        "metadata": {"name": "ls"},
        "spec": oci,
    });
    let spo_path = dir.path().join("spo.json");
    write_json(&spo_path, &spo);
    let outcome = run_with_profile(&spo_path, &["ls", "/"]);
    outcome.assert_code(0);
    assert_eq!(outcome.stdout, recorded.stdout, "{outcome}");
}

#[test]
fn fix_into_a_missing_directory_is_refused_before_the_command_runs() {
    let dir = temp_dir();
    let profile = allow_all(dir.path());
    let marker = dir.path().join("ran");
    let mut cmd = syscage(["run", "--profile"]);
    cmd.arg(&profile)
        .arg("--fix")
        .arg(dir.path().join("missing/fixed.json"))
        .args(["--", "touch"])
        .arg(&marker);
    let outcome = run_within(&mut cmd, PROMPT);
    outcome.assert_code(123);
    assert!(!marker.exists(), "the command ran\n{outcome}");
}

#[test]
fn command_killed_by_the_profile_is_told_so() {
    let dir = temp_dir();
    let path = dir.path().join("kill.json");
    write_json(
        &path,
        &json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getdents64"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    );
    let outcome = run_with_profile(&path, &["ls", "/"]);
    outcome.assert_code(128 + libc::SIGSYS);
    assert!(
        outcome.stderr.contains("killed by SIGSYS"),
        "no explanation\n{outcome}"
    );
}
