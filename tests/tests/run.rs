//! `syscage run`: a recorded profile runs its workload unchanged, a profile missing one syscall
//! makes exactly that syscall fail with EPERM, bad profiles are refused before anything runs,
//! and the command's exit status passes through.

mod common;

use std::{fs, path::Path};

use common::{
    exerciser, profile_without, read_json, record, run_with_profile, temp_dir, write_json,
};
use serde_json::{json, Value};

#[test]
fn recorded_profile_runs_ls_unchanged() {
    let dir = temp_dir();
    // /usr, not /: /tmp's time and size change whenever anything else on the machine makes a
    // temporary file, and the two listings are compared.
    let (recorded, profile) = record(dir.path(), "ls", &["ls", "-l", "/usr"]);
    recorded.assert_code(0);
    assert!(
        recorded.stdout.contains(" bin"),
        "ls -l /usr did not list /usr/bin\n{recorded}"
    );
    assert!(common::allowed_names(&common::read_json(&profile)).contains("getdents64"));
    let enforced = run_with_profile(&profile, &["ls", "-l", "/usr"]);
    enforced.assert_code(0);
    assert_eq!(
        enforced.stdout, recorded.stdout,
        "output differs under the profile\n{enforced}"
    );
    assert!(enforced.stderr.is_empty(), "{enforced}");
}

#[test]
fn recorded_profile_runs_a_shell_pipeline_unchanged() {
    let script = "echo hello | tr a-z A-Z > OUT; cat OUT";
    let dir = temp_dir();
    let record_dir = temp_dir();
    let mut cmd = common::syscage(["record", "--output"]);
    cmd.arg(dir.path().join("sh.json"))
        .args(["--", "sh", "-c", script])
        .current_dir(record_dir.path());
    let recorded = common::run(&mut cmd);
    recorded.assert_code(0);
    assert_eq!(recorded.stdout, "HELLO\n", "{recorded}");
    let allowed = common::allowed_names(&common::read_json(&dir.path().join("sh.json")));
    assert!(
        allowed.contains("pipe") || allowed.contains("pipe2"),
        "no pipe syscall: {allowed:?}"
    );

    let run_dir = temp_dir();
    let mut cmd = common::syscage(["run", "--profile"]);
    cmd.arg(dir.path().join("sh.json"))
        .args(["--", "sh", "-c", script])
        .current_dir(run_dir.path());
    let enforced = common::run(&mut cmd);
    enforced.assert_code(0);
    assert_eq!(enforced.stdout, recorded.stdout, "{enforced}");
    assert_eq!(
        fs::read_to_string(run_dir.path().join("OUT"))
            .ok()
            .as_deref(),
        Some("HELLO\n")
    );
}

#[test]
fn syscall_left_out_of_the_profile_fails_with_eperm() {
    let dir = temp_dir();
    let recorded_dir = dir.path().join("dir1");
    let (recorded, profile) = record(
        dir.path(),
        "mkdir",
        &[exerciser(), "mkdir", path_str(&recorded_dir)],
    );
    recorded.assert_code(0);
    assert_eq!(recorded.stdout, "ok\n", "{recorded}");

    // Control: the profile as recorded lets mkdir through.
    let allowed_dir = dir.path().join("dir2");
    let allowed = run_with_profile(&profile, &[exerciser(), "mkdir", path_str(&allowed_dir)]);
    allowed.assert_code(0);
    assert_eq!(allowed.stdout, "ok\n", "{allowed}");

    // Without mkdir, the call fails with the profile's errno, EPERM, and nothing else changes.
    let without = dir.path().join("no-mkdir.json");
    write_json(&without, &profile_without(&read_json(&profile), &["mkdir"]));
    let denied_dir = dir.path().join("dir3");
    let denied = run_with_profile(&without, &[exerciser(), "mkdir", path_str(&denied_dir)]);
    denied.assert_code(1);
    assert_eq!(denied.stdout, "EPERM\n", "{denied}");
    assert!(
        !denied_dir.exists(),
        "the directory was created despite the profile"
    );
}

#[test]
fn ls_without_getdents64_cannot_list() {
    let dir = temp_dir();
    let (recorded, profile) = record(dir.path(), "ls", &["ls", "-l", "/"]);
    recorded.assert_code(0);
    let without = dir.path().join("no-getdents64.json");
    write_json(
        &without,
        &profile_without(&read_json(&profile), &["getdents64"]),
    );
    let denied = run_with_profile(&without, &["ls", "-l", "/"]);
    assert_ne!(denied.code(), 0, "{denied}");
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "expected EPERM from ls\n{denied}"
    );
}

#[test]
fn run_passes_exit_status_through() {
    let dir = temp_dir();
    let (recorded, profile) = record(dir.path(), "exit", &[exerciser(), "exit", "7"]);
    recorded.assert_code(7);
    assert!(common::allowed_names(&common::read_json(&profile)).contains("exit_group"));
    run_with_profile(&profile, &[exerciser(), "exit", "7"]).assert_code(7);

    let (recorded, profile) = record(dir.path(), "kill", &[exerciser(), "kill-self", "9"]);
    recorded.assert_code(137);
    assert!(common::allowed_names(&common::read_json(&profile)).contains("kill"));
    run_with_profile(&profile, &[exerciser(), "kill-self", "9"]).assert_code(137);

    // A command that does not exist: 127, like a shell, even under a tight profile (the
    // kill-self one) that might not let a child report a failed exec: syscage looks the command
    // up before it starts anything.
    let missing = dir.path().join("no-such-command");
    let outcome = run_with_profile(&profile, &[&missing]);
    outcome.assert_code(127);
    assert!(
        outcome.stderr.contains("no-such-command"),
        "the error names the command\n{outcome}"
    );
}

/// A valid profile that allows everything the exerciser needs, as a base for broken ones.
fn allow_all_exerciser_needs(dir: &Path) -> Value {
    let (recorded, profile) = record(
        dir,
        "base",
        &[exerciser(), "mkdir", path_str(&dir.join("base-dir"))],
    );
    recorded.assert_code(0);
    common::read_json(&profile)
}

/// Runs `exerciser mkdir` under the profile file `name` and checks syscage refused it: exit
/// 124 (an invalid input file), one `syscage:` line naming the file and containing one of `hints`, and the command never
/// ran (its directory does not exist).
fn assert_refused(dir: &Path, name: &str, hints: &[&str]) {
    let profile = dir.join(name);
    let target = dir.join(format!("{name}-dir"));
    let outcome = run_with_profile(&profile, &[exerciser(), "mkdir", path_str(&target)]);
    outcome.assert_code(124);
    assert!(
        outcome.stdout.is_empty(),
        "the command must not run\n{outcome}"
    );
    assert!(
        !target.exists(),
        "the command ran despite the bad profile\n{outcome}"
    );
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line of error\n{outcome}");
    assert!(lines[0].starts_with("syscage: "), "{outcome}");
    assert!(
        lines[0].contains(name),
        "the error does not name the file {name}\n{outcome}"
    );
    let lower = lines[0].to_lowercase();
    assert!(
        hints.iter().any(|h| lower.contains(&h.to_lowercase())),
        "the error does not mention any of {hints:?}\n{outcome}"
    );
}

#[test]
fn profile_that_is_not_json_is_refused() {
    let dir = temp_dir();
    fs::write(
        dir.path().join("not-json.json"),
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\",",
    )
    .expect("writing");
    assert_refused(dir.path(), "not-json.json", &["json", "EOF", "parse"]);
}

#[test]
fn profile_with_unknown_action_is_refused() {
    let dir = temp_dir();
    let mut profile = allow_all_exerciser_needs(dir.path());
    profile["syscalls"][0]["action"] = json!("SCMP_ACT_FOO");
    write_json(&dir.path().join("unknown-action.json"), &profile);
    assert_refused(dir.path(), "unknown-action.json", &["SCMP_ACT_FOO"]);
}

#[test]
fn profile_with_unknown_syscall_is_refused() {
    let dir = temp_dir();
    let mut profile = allow_all_exerciser_needs(dir.path());
    profile["syscalls"][0]["names"]
        .as_array_mut()
        .expect("names array")
        .push(json!("getpidd"));
    write_json(&dir.path().join("unknown-syscall.json"), &profile);
    assert_refused(dir.path(), "unknown-syscall.json", &["getpidd"]);
}

#[test]
fn profile_for_another_architecture_is_refused() {
    let dir = temp_dir();
    let mut profile = allow_all_exerciser_needs(dir.path());
    profile["architectures"] = json!(["SCMP_ARCH_AARCH64"]);
    write_json(&dir.path().join("wrong-arch.json"), &profile);
    assert_refused(
        dir.path(),
        "wrong-arch.json",
        &["SCMP_ARCH_AARCH64", "architecture"],
    );
}

#[test]
fn missing_profile_is_refused() {
    let dir = temp_dir();
    assert_refused(
        dir.path(),
        "does-not-exist.json",
        &["no such file", "not found"],
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}
