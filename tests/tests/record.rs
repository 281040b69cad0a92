//! `syscage record`: what it records (against the exerciser's ground truth), what it writes, the
//! exit status it passes through, and the cgroup it leaves behind (none).

mod common;

use std::{collections::BTreeSet, fs, os::unix::fs::PermissionsExt as _, time::Duration};

use common::{
    default_recording_path, exerciser, leaves_of, read_json, record, recording_names,
    recording_syscalls, spawn, syscage, temp_dir, wait, wait_for,
};
use serde_json::json;

/// Syscalls the exerciser never makes; seeing one would mean the recorder attributes other
/// processes' syscalls (or invents them).
const NEVER_MADE: [&str; 5] = ["reboot", "kexec_load", "init_module", "unshare", "swapon"];

#[test]
fn records_every_syscall_of_threads_children_and_grandchildren() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "all", &[exerciser(), "all"]);
    outcome.assert_code(0);
    // The exerciser prints each rare syscall it made: from the main thread, three threads, a
    // forked child and a grandchild.
    let made: BTreeSet<String> = outcome.stdout.lines().map(str::to_owned).collect();
    assert!(
        made.len() >= 10,
        "the exerciser printed too little\n{outcome}"
    );

    let recording = read_json(&default_recording_path(&profile));
    let recorded = recording_names(&recording);
    let missing: Vec<_> = made.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "made but not recorded: {missing:?}\nrecorded: {recorded:?}\n{outcome}"
    );
    for name in ["execve", "exit_group", "wait4", "write"] {
        assert!(recorded.contains(name), "{name} not recorded: {recorded:?}");
    }
    let impostors: Vec<_> = NEVER_MADE
        .iter()
        .filter(|n| recorded.contains(**n))
        .collect();
    assert!(
        impostors.is_empty(),
        "recorded syscalls the exerciser never makes: {impostors:?}"
    );

    for entry in recording_syscalls(&recording) {
        assert!(
            entry["count"].as_u64().is_some_and(|c| c > 0),
            "count must be positive: {entry}"
        );
        assert!(entry["nr"].is_u64(), "nr must be a number: {entry}");
    }
    common::assert_profile_allows_recorded(&read_json(&profile), &recorded, &profile.display());
}

#[test]
fn execve_is_the_first_syscall_recorded() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "exit", &[exerciser(), "exit", "0"]);
    outcome.assert_code(0);
    let recording = read_json(&default_recording_path(&profile));
    let syscalls = recording_syscalls(&recording);
    let summary: Vec<String> = syscalls
        .iter()
        .map(|s| format!("{}@{}us", s["name"], s["first_seen_us"]))
        .collect();
    // The child enters the watched cgroup right before exec: nothing of syscage's own (fork,
    // setup) may appear, and the command's first syscall is its execve.
    assert_eq!(
        syscalls.first().map(|s| &s["name"]),
        Some(&json!("execve")),
        "{summary:?}"
    );
    let times: Vec<u64> = syscalls
        .iter()
        .map(|s| {
            s["first_seen_us"]
                .as_u64()
                .unwrap_or_else(|| panic!("bad first_seen_us: {s}"))
        })
        .collect();
    assert!(
        times.is_sorted(),
        "syscalls must be in order of first appearance: {summary:?}"
    );
    assert_eq!(
        syscalls.last().map(|s| &s["name"]),
        Some(&json!("exit_group")),
        "{summary:?}"
    );
}

#[test]
fn recording_describes_the_run() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "exit3", &[exerciser(), "exit", "3"]);
    outcome.assert_code(3);
    let recording = read_json(&default_recording_path(&profile));
    let pretty = serde_json::to_string_pretty(&recording).unwrap_or_default();
    assert_eq!(recording["format"], "syscage-recording", "{pretty}");
    assert_eq!(recording["version"], 1, "{pretty}");
    assert_eq!(recording["arch"], "SCMP_ARCH_X86_64", "{pretty}");
    assert_eq!(recording["machine"], "x86_64", "{pretty}");
    assert_eq!(
        recording["command"],
        json!([exerciser(), "exit", "3"]),
        "{pretty}"
    );
    assert_eq!(recording["exit"], json!({"code": 3}), "{pretty}");
    assert_eq!(recording["out_of_range_count"], 0, "{pretty}");
    let release = fs::read_to_string("/proc/sys/kernel/osrelease").expect("reading osrelease");
    assert_eq!(recording["kernel_release"], release.trim(), "{pretty}");
    for field in ["started_at", "ended_at", "syscage_version"] {
        assert!(
            recording[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {pretty}"
        );
    }
}

#[test]
fn profile_is_sorted_unique_and_denies_by_default() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "ls", &["ls", "-l", "/"]);
    outcome.assert_code(0);
    let value = read_json(&profile);
    let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
    assert_ne!(value["defaultAction"], "SCMP_ACT_ALLOW", "{pretty}");
    assert_eq!(value["defaultErrnoRet"], 1, "EPERM expected: {pretty}");
    let arches: BTreeSet<_> = value["architectures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(arches.contains("SCMP_ARCH_X86_64"), "{pretty}");
    let names = common::allowed_names_in_order(&value);
    for rule in value["syscalls"].as_array().expect("syscalls") {
        let in_rule: Vec<&str> = rule["names"]
            .as_array()
            .expect("names")
            .iter()
            .filter_map(|n| n.as_str())
            .collect();
        let mut sorted = in_rule.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            in_rule, sorted,
            "each rule's names must be sorted and unique: {pretty}"
        );
    }
    assert!(
        names.iter().any(|n| n == "getdents64"),
        "ls reads a directory: {names:?}"
    );
}

#[test]
fn outputs_are_written_atomically() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "p", &[exerciser(), "exit", "0"]);
    outcome.assert_code(0);
    // Only the two outputs: no temporary file survives the rename.
    let expected: BTreeSet<String> = ["p.json", "p.recording.json"].map(String::from).into();
    assert_eq!(common::dir_listing(dir.path()), expected, "{outcome}");
    // Writing over existing files (a second recording) leaves nothing behind either.
    let (outcome, _) = record(dir.path(), "p", &[exerciser(), "exit", "0"]);
    outcome.assert_code(0);
    assert_eq!(common::dir_listing(dir.path()), expected, "{outcome}");
    read_json(&profile);
}

#[test]
fn recording_option_chooses_where_the_recording_goes() {
    let dir = temp_dir();
    let profile = dir.path().join("profile.json");
    let recording = dir.path().join("elsewhere.json");
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(&profile)
        .arg("--recording")
        .arg(&recording)
        .args(["--", exerciser(), "exit", "0"]);
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    assert_eq!(read_json(&recording)["format"], "syscage-recording");
    assert!(
        !default_recording_path(&profile).exists(),
        "default recording written too\n{outcome}"
    );
    common::allowed_names(&read_json(&profile));
}

#[test]
fn exit_code_is_passed_through() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "exit7", &[exerciser(), "exit", "7"]);
    outcome.assert_code(7);
    assert!(!common::allowed_names(&read_json(&profile)).is_empty());
    assert_eq!(
        read_json(&default_recording_path(&profile))["exit"],
        json!({"code": 7})
    );
}

#[test]
fn death_by_signal_becomes_128_plus_signal() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "kill9", &[exerciser(), "kill-self", "9"]);
    outcome.assert_code(128 + 9);
    let allowed = common::allowed_names(&read_json(&profile));
    assert!(
        allowed.contains("kill"),
        "the exerciser killed itself with kill(2): {allowed:?}"
    );
    assert_eq!(
        read_json(&default_recording_path(&profile))["exit"],
        json!({"signal": 9})
    );
}

#[test]
fn command_not_found_exits_127_and_leaves_outputs_alone() {
    let dir = temp_dir();
    let missing = dir.path().join("no-such-command");
    // A good profile from an earlier run must survive a typo in the next command line.
    let profile = dir.path().join("missing.json");
    fs::write(&profile, "earlier profile\n").expect("writing the earlier profile");
    let (outcome, profile) = record(dir.path(), "missing", &[&missing]);
    outcome.assert_code(127);
    assert!(
        outcome.stderr.contains("no-such-command"),
        "the error names the command\n{outcome}"
    );
    assert_eq!(
        fs::read_to_string(&profile).expect("reading the profile"),
        "earlier profile\n",
        "the earlier profile was replaced although the command never ran\n{outcome}"
    );
    assert!(
        !default_recording_path(&profile).exists(),
        "a recording was written for a command that never ran\n{outcome}"
    );
}

#[test]
fn command_that_cannot_execute_exits_126() {
    let dir = temp_dir();
    let not_executable = dir.path().join("not-executable");
    fs::write(&not_executable, "#!/bin/sh\nexit 0\n").expect("writing a script");
    fs::set_permissions(&not_executable, fs::Permissions::from_mode(0o644)).expect("chmod");
    // Root may execute any file with an x bit, so the file has none.
    let (outcome, _) = record(dir.path(), "noexec", &[&not_executable]);
    outcome.assert_code(126);
}

#[test]
fn leaf_cgroup_holds_the_command_during_the_run_and_is_gone_after() {
    let dir = temp_dir();
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(dir.path().join("p.json"))
        .args(["--", exerciser(), "sleep", "2"]);
    let child = spawn(&mut cmd);
    let pid = child.id();
    let leaf = wait_for(
        Duration::from_secs(10),
        "syscage's leaf cgroup with a process in it",
        || {
            leaves_of(pid).into_iter().find(|leaf| {
                fs::read_to_string(leaf.join("cgroup.procs"))
                    .is_ok_and(|procs| !procs.trim().is_empty())
            })
        },
    );
    let procs = fs::read_to_string(leaf.join("cgroup.procs")).unwrap_or_default();
    for member in procs.split_whitespace() {
        let parent = fs::read_to_string(format!("/proc/{member}/stat")).map(|stat| {
            stat.rsplit(") ")
                .next()
                .unwrap_or_default()
                .split(' ')
                .nth(1)
                .map(str::to_owned)
        });
        assert_eq!(
            parent.ok().flatten().as_deref(),
            Some(pid.to_string().as_str()),
            "{} should hold only syscage's child, it holds pid {member}",
            leaf.display()
        );
    }
    let outcome = wait(child, common::describe(&cmd), common::DEADLINE);
    outcome.assert_code(0);
    assert!(
        !leaf.exists(),
        "{} still exists after syscage exited\n{outcome}",
        leaf.display()
    );
    assert!(
        leaves_of(pid).is_empty(),
        "syscage left cgroups behind: {:?}",
        leaves_of(pid)
    );
}
