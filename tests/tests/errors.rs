//! Errors and exit codes (README "Exit status"): every failure is one `syscage: ...`
//! line on stderr and its own exit code (120 privileges, 121 kernel support, 122 no such
//! target, 123 output not writable, 124 bad input), and never leaves a partial or temporary
//! file where an output should go.

mod common;

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use common::{
    assert_one_line_error, assert_record_fails_before_the_command_runs, cgroup2_mount,
    default_recording_path, dir_listing, exerciser, read_json, record, run, syscage, syscage_bin,
    temp_dir, Outcome, Tmpfs,
};

/// `PREFIX... syscage ARGS...`: syscage run through a wrapper (setpriv, unshare), without
/// sudo's variables.
fn wrapped<S: AsRef<std::ffi::OsStr>>(prefix: &[&str], args: &[S]) -> Command {
    common::require_root();
    let mut cmd = Command::new(prefix[0]);
    cmd.args(&prefix[1..])
        .arg(syscage_bin())
        .args(args)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .env_remove("SUDO_USER")
        .env_remove("SYSCAGE_LOG");
    cmd
}

/// A temporary directory everyone may write into, so that an unprivileged syscage gets as far as
/// its privilege check.
fn open_dir() -> tempfile::TempDir {
    let dir = temp_dir();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).expect("chmod 777");
    dir
}

/// Checks an error case; returns a description of what was wrong, if anything, so a test can
/// report every case at once.
fn check_error(outcome: &Outcome, code: i32, must_mention: &str) -> Option<String> {
    let lines = common::error_lines(&outcome.stderr);
    let one_line = lines.len() == 1 && lines[0].starts_with("syscage: ");
    if outcome.code() == code && one_line && outcome.stderr.contains(must_mention) {
        return None;
    }
    Some(format!(
        "expected exit {code} and one `syscage: ...` error line mentioning {must_mention:?}\n{outcome}"
    ))
}

#[track_caller]
fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 120, 121, 122: privileges, kernel support, targets.

/// As nobody (uid 65534, no groups), every kind of recording stops at once with 120 and one line
/// saying root is needed, and writes nothing.
#[test]
fn recording_without_root_exits_120() {
    let dir = open_dir();
    let out = dir.path().join("x.json");
    let out = out.to_str().expect("utf-8 path");
    let out_dir = dir.path().to_str().expect("utf-8 path");
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    let mut failures = Vec::new();
    for args in [
        &["record", "--output", out, "--", "/bin/true"][..],
        &["record", "--all", "--output-dir", out_dir],
        &[
            "record",
            "--cgroup",
            "/",
            "--duration",
            "1s",
            "--output",
            out,
        ],
    ] {
        let outcome = run(&mut wrapped(&nobody, args));
        failures.extend(check_error(&outcome, 120, "root"));
    }
    assert_no_failures(&failures);
    assert!(dir_listing(dir.path()).is_empty(), "files were written");
}

/// As root without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (dropped from the bounding set, as a
/// locked-down container would have it): 120 too.
#[test]
fn recording_without_cap_bpf_exits_120() {
    let dir = temp_dir();
    let out = dir.path().join("x.json");
    let outcome = run(&mut wrapped(
        &[
            "setpriv",
            "--bounding-set",
            "-bpf,-perfmon,-sys_admin",
            "--",
        ],
        &[
            "record".as_ref(),
            "--output".as_ref(),
            out.as_os_str(),
            "--".as_ref(),
            "/bin/true".as_ref(),
        ],
    ));
    assert_one_line_error(&outcome, 120);
    assert!(!out.exists(), "{outcome}");
}

/// Without cgroup v2 (unmounted in a private mount namespace): 121 and one line saying so.
#[test]
fn recording_without_cgroup_v2_exits_121() {
    let dir = temp_dir();
    let out = dir.path().join("x.json");
    let mount = cgroup2_mount();
    let script = format!("umount -l '{}' && exec \"$@\"", mount.display());
    let outcome = run(&mut wrapped(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
            "sh",
        ],
        &[
            "record".as_ref(),
            "--output".as_ref(),
            out.as_os_str(),
            "--".as_ref(),
            "/bin/true".as_ref(),
        ],
    ));
    assert_one_line_error(&outcome, 121);
    assert!(outcome.stderr.contains("cgroup v2"), "{outcome}");
    assert!(!out.exists(), "{outcome}");
    assert!(
        mount.join("cgroup.procs").exists(),
        "the test unmounted cgroup2 outside its namespace"
    );
}

/// tracefs is no requirement (README: the programs attach to raw tracepoints by name or BTF id):
/// with every tracefs unmounted in a private mount namespace, a recording works and is complete.
#[test]
fn recording_works_without_tracefs() {
    let dir = temp_dir();
    let out = dir.path().join("no-tracefs.json");
    // Unmount each tracefs (listed in mountinfo), check none is left, then record.
    let script = "for m in $(grep ' - tracefs ' /proc/self/mountinfo | cut -d' ' -f5); do \
                  umount -l \"$m\" || exit 98; done; \
                  grep -q ' - tracefs ' /proc/self/mountinfo && exit 99; exec \"$@\"";
    let outcome = run(&mut wrapped(
        &[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ],
        &[
            "record".as_ref(),
            "--output".as_ref(),
            out.as_os_str(),
            "--".as_ref(),
            exerciser().as_ref(),
            "all".as_ref(),
        ],
    ));
    outcome.assert_code(0);
    let made: std::collections::BTreeSet<String> =
        outcome.stdout.lines().map(str::to_owned).collect();
    assert!(
        made.len() >= 10,
        "the exerciser printed too little\n{outcome}"
    );
    let recorded = common::recording_names(&read_json(&default_recording_path(&out)));
    let missing: Vec<_> = made.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "made but not recorded: {missing:?}\n{outcome}"
    );
}

/// A container id, cgroup or pid that does not exist: 122, one line naming it, no output.
#[test]
fn recording_a_target_that_does_not_exist_exits_122() {
    let dir = temp_dir();
    let out = dir.path().join("x.json");
    let missing_id = format!("no-such-container-{}", std::process::id());
    let missing_cgroup = format!("/no-such-cgroup-{}", std::process::id());
    // pid_max is one past the largest pid the kernel hands out.
    let pid_max = fs::read_to_string("/proc/sys/kernel/pid_max").expect("reading pid_max");
    let pid_max = pid_max.trim();
    let mut failures = Vec::new();
    for (option, value) in [
        ("--container", missing_id.as_str()),
        ("--cgroup", missing_cgroup.as_str()),
        ("--pid", pid_max),
    ] {
        let mut cmd = syscage(["record", option, value, "--output"]);
        cmd.arg(&out);
        let outcome = run(&mut cmd);
        failures.extend(check_error(&outcome, 122, value.trim_start_matches('/')));
    }
    assert_no_failures(&failures);
    assert!(dir_listing(dir.path()).is_empty(), "outputs were written");
}

// ---------------------------------------------------------------------------------------------
// 123: outputs that cannot be written.

/// Files in `dir` whose names say they are temporary (`.NAME.tmp.*`), or that are not the ones
/// expected and not complete JSON.
fn leftovers(dir: &Path, allowed: &[&str]) -> Vec<String> {
    dir_listing(dir)
        .into_iter()
        .filter(|name| {
            if allowed.contains(&name.as_str()) {
                return false;
            }
            let text = fs::read_to_string(dir.join(name)).unwrap_or_default();
            name.starts_with('.') || serde_json::from_str::<serde_json::Value>(&text).is_err()
        })
        .collect()
}

/// Recording into a read-only directory (a tmpfs mounted `ro`): 123, one line, and nothing in
/// the directory. Into a missing directory: 123 before the command runs.
#[test]
fn record_into_an_unwritable_directory_exits_123_and_leaves_nothing() {
    let ro = Tmpfs::mount("size=64k,ro");
    let (outcome, _) = record(&ro.dir, "p", &[exerciser(), "exit", "0"]);
    assert_one_line_error(&outcome, 123);
    assert!(
        dir_listing(&ro.dir).is_empty(),
        "files appeared in a read-only directory\n{outcome}"
    );

    let dir = temp_dir();
    let missing = dir.path().join("missing");
    assert_record_fails_before_the_command_runs(&missing, 123);
    let mut cmd = syscage(["record", "--all", "--output-dir"]);
    cmd.arg(&missing);
    assert_one_line_error(&run(&mut cmd), 123);
}

/// Recording onto a full disk (a 64 KiB tmpfs): completely full, then with one page free so the
/// write starts and fails halfway. 123 with one line each time, naming where the recording was
/// saved instead; the profile there is the earlier one or the new one, whole, and no temporary
/// or truncated file remains.
#[test]
fn record_onto_a_full_disk_exits_123_and_leaves_no_truncated_file() {
    let full = Tmpfs::mount("size=64k");
    let profile = full.dir.join("p.json");
    fs::write(&profile, "earlier profile\n").expect("writing the earlier profile");
    for leave in [0, 4096] {
        let _ = fs::remove_file(full.dir.join("fill"));
        let free = full.fill_leaving(leave);
        assert!(free <= leave, "{free} bytes still free, wanted {leave}");
        let (outcome, _) = record(&full.dir, "p", &[exerciser(), "all"]);
        assert_one_line_error(&outcome, 123);
        assert!(outcome.stderr.contains("No space left"), "{outcome}");
        // The profile is written if it fits (the recording, which did not, is saved elsewhere
        // and named); either way the file is whole, never truncated.
        let now = fs::read_to_string(&profile).expect("reading the profile");
        let whole = now == "earlier profile\n"
            || serde_json::from_str::<serde_json::Value>(&now)
                .is_ok_and(|p| p["defaultAction"] == "SCMP_ACT_ERRNO");
        assert!(
            whole,
            "the earlier profile was truncated ({leave} bytes free)\n{outcome}"
        );
        let saved = outcome
            .stderr
            .split_whitespace()
            .find(|w| w.ends_with(".recording.json") && w.contains("/syscage-"))
            .unwrap_or_else(|| panic!("the error names no saved recording\n{outcome}"));
        read_json(Path::new(saved));
        let _ = fs::remove_file(saved);
        let left = leftovers(&full.dir, &["fill", "p.json"]);
        assert!(
            left.is_empty(),
            "{leave} bytes free: temporary or truncated files remain: {left:?}\n{outcome}"
        );
    }
}

/// `generate -o` and `merge --output` into a read-only directory, onto a full disk and into a
/// missing directory: 123 (README: "an output cannot be written: directory missing or read-only,
/// disk full"), one line, nothing left behind.
#[test]
fn generate_and_merge_outputs_that_cannot_be_written_exit_123() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "input", &[exerciser(), "exit", "0"]);
    outcome.assert_code(0);
    let recording = default_recording_path(&profile);

    let ro = Tmpfs::mount("size=64k,ro");
    let full = Tmpfs::mount("size=64k");
    full.fill_leaving(0);
    let missing = dir.path().join("missing");
    let mut failures = Vec::new();
    for (target, what) in [
        (&ro.dir, "read-only"),
        (&full.dir, "full"),
        (&missing, "missing"),
    ] {
        let mut generate = syscage(["generate", "--from"]);
        generate
            .arg(&recording)
            .arg("-o")
            .arg(target.join("x.json"));
        let mut merge = syscage(["merge"]);
        merge.arg(&recording).arg("--output").arg(target.join("m"));
        for cmd in [&mut generate, &mut merge] {
            let outcome = run(cmd);
            if let Some(problem) = check_error(&outcome, 123, "") {
                failures.push(format!("{what} directory: {problem}"));
            }
        }
        if target.exists() {
            let left = leftovers(target, &["fill"]);
            if !left.is_empty() {
                failures.push(format!("{what} directory: files left behind: {left:?}"));
            }
        }
    }
    assert_no_failures(&failures);
}

// ---------------------------------------------------------------------------------------------
// 124: bad input files.

/// Bad files of every kind a reader may meet, in `dir`: (file, what is wrong with it).
fn bad_inputs(dir: &Path, recording: &Path) -> Vec<(PathBuf, &'static str)> {
    let good = fs::read_to_string(recording).expect("reading a good recording");
    let write = |name: &str, contents: &[u8]| {
        let path = dir.join(name);
        fs::write(&path, contents).expect("writing a bad input");
        path
    };
    let directory = dir.join("a-directory.json");
    fs::create_dir(&directory).expect("creating a directory");
    vec![
        (dir.join("missing.json"), "missing"),
        (directory, "a directory"),
        (write("empty.json", b""), "empty"),
        (write("text.json", b"this is not a profile\n"), "not JSON"),
        (
            write("binary.json", &[0, 159, 146, 150, 255, 0, 1, 2]),
            "binary",
        ),
        (
            write("truncated.json", &good.as_bytes()[..good.len() / 2]),
            "a recording cut in half",
        ),
        (
            write(
                "newer.json",
                good.replacen("\"version\": 1", "\"version\": 99", 1)
                    .as_bytes(),
            ),
            "a recording of a newer version",
        ),
        (
            write("array.json", b"[1, 2, 3]\n"),
            "JSON of the wrong shape",
        ),
        (
            write(
                "bad-action.json",
                br#"{"defaultAction": "SCMP_ACT_BOGUS", "architectures": ["SCMP_ARCH_X86_64"]}"#,
            ),
            "an unknown action",
        ),
        (
            write("wrong-type.json", br#"{"defaultAction": 5}"#),
            "a number where an action belongs",
        ),
    ]
}

/// `run --profile` with each bad file: 124, one line naming the file, and the command does not
/// run. A profile naming a syscall libseccomp does not know, and one without the native
/// architecture, are refused the same way.
#[test]
fn run_with_a_bad_profile_exits_124_and_runs_nothing() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "input", &[exerciser(), "exit", "0"]);
    outcome.assert_code(0);
    let mut inputs = bad_inputs(dir.path(), &default_recording_path(&profile));
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        fs::write(&path, contents).expect("writing a bad profile");
        path
    };
    inputs.push((
        write(
            "unknown-name.json",
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["not_a_syscall"], "action": "SCMP_ACT_ALLOW"}]}"#,
        ),
        "an unknown syscall name",
    ));
    inputs.push((
        write(
            "foreign-arch.json",
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_AARCH64"],
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        ),
        "no native architecture",
    ));
    let marker = dir.path().join("the-command-ran");
    let mut failures = Vec::new();
    for (input, what) in &inputs {
        let name = input.file_name().expect("file name").to_string_lossy();
        let mut cmd = syscage(["run", "--profile"]);
        cmd.arg(input)
            .arg("--")
            .arg(exerciser())
            .arg("mkdir")
            .arg(&marker);
        let outcome = run(&mut cmd);
        if let Some(problem) = check_error(&outcome, 124, &name) {
            failures.push(format!("{what} ({name}): {problem}"));
        }
        if marker.exists() {
            failures.push(format!(
                "{what} ({name}): the command ran under a bad profile"
            ));
            let _ = fs::remove_dir(&marker);
        }
    }
    assert_no_failures(&failures);
}

/// `generate --from`, `merge` and `diff` with each bad file: 124, one line naming the file, no
/// output written. Also refused with 124: a default-allow profile given to `generate` (it says
/// nothing about what the workload needs) and a profile given to `merge` (which merges
/// recordings): both are input files syscage cannot use.
#[test]
fn generate_merge_and_diff_with_a_bad_input_exit_124() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "input", &[exerciser(), "exit", "0"]);
    outcome.assert_code(0);
    let recording = default_recording_path(&profile);
    let inputs = bad_inputs(dir.path(), &recording);
    let out = dir.path().join("out");
    fs::create_dir(&out).expect("creating the output directory");

    let mut failures = Vec::new();
    let mut check = |what: &str, cmd: &mut Command, name: &str| {
        let outcome = run(cmd);
        if let Some(problem) = check_error(&outcome, 124, name) {
            failures.push(format!("{what}: {problem}"));
        }
        let written = dir_listing(&out);
        if !written.is_empty() {
            failures.push(format!("{what}: wrote {written:?}"));
            for file in written {
                let _ = fs::remove_file(out.join(file));
            }
        }
    };
    for (input, what) in &inputs {
        let name = input
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        let mut generate = syscage(["generate", "--from"]);
        generate.arg(input).arg("-o").arg(out.join("g.json"));
        check(&format!("generate, {what}"), &mut generate, &name);
        let mut merge = syscage(["merge"]);
        merge
            .arg(&recording)
            .arg(input)
            .arg("--output")
            .arg(out.join("m"));
        check(&format!("merge, {what}"), &mut merge, &name);
        let mut diff = syscage(["diff"]);
        diff.arg(input).arg(&recording);
        check(&format!("diff, {what}"), &mut diff, &name);
    }

    let allow = dir.path().join("default-allow.json");
    fs::write(
        &allow,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .expect("writing a default-allow profile");
    let mut generate = syscage(["generate", "--from"]);
    generate.arg(&allow).arg("-o").arg(out.join("g.json"));
    check(
        "generate, a default-allow profile",
        &mut generate,
        "default-allow.json",
    );
    let mut merge = syscage(["merge"]);
    merge
        .arg(&recording)
        .arg(&profile)
        .arg("--output")
        .arg(out.join("m"));
    check(
        "merge, a profile instead of a recording",
        &mut merge,
        "input.json",
    );
    assert_no_failures(&failures);
    // The good recording is still good: the failures above were the inputs' fault.
    read_json(&recording);
}

/// Options that only mean something with `--all` are refused without it, before anything
/// runs, rather than silently ignored.
#[test]
fn all_only_options_without_all_exit_125() {
    let dir = open_dir();
    let out = dir.path().join("x.json");
    let out = out.to_str().expect("utf-8 path");
    let ready = dir.path().join("ready");
    let ready = ready.to_str().expect("utf-8 path");
    let mut failures = Vec::new();
    for (args, mention) in [
        (
            &[
                "record",
                "--namespace",
                "shop",
                "-o",
                out,
                "--",
                "/bin/true",
            ][..],
            "--all",
        ),
        (
            &["record", "--workload", "web", "-o", out, "--", "/bin/true"],
            "--all",
        ),
        (
            &[
                "record",
                "--ready-file",
                ready,
                "-o",
                out,
                "--",
                "/bin/true",
            ],
            "--all",
        ),
        (
            &["audit", "--namespace", "shop", "--pid", "1", "-o", out],
            "--all",
        ),
    ] {
        let outcome = run(&mut syscage(args));
        failures.extend(check_error(&outcome, 125, mention));
    }
    assert_no_failures(&failures);
    assert!(
        !Path::new(out).exists(),
        "nothing is written when the options are refused"
    );
}
