//! What syscage, running as root, does with the paths it is given (README "Security notes"):
//! ownership is never handed over through a path a user can swap, devices and links are not
//! replaced, `-` is stdout, an output never overwrites an input or another output, the OCI hook
//! writes only inside its output directory, inputs are bounded and never block, a recording
//! survives an output that cannot be written, and `record --all` neither reuses a file name nor
//! hides what it left out.

mod common;

use std::{
    ffi::CString,
    fs,
    io::Read as _,
    os::unix::{
        fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _},
        process::CommandExt as _,
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use common::{
    assert_one_line_error, assert_record_fails_before_the_command_runs, default_recording_path,
    dir_listing, exerciser, read_json, record, run, spawn_in_cgroup, syscage, temp_dir, Tmpfs,
    TopCgroup,
};

/// nobody/nogroup on Debian.
const NOBODY: u32 = 65534;

/// A recording of `exerciser exit 0` in `dir` (`input.recording.json`), for commands that read
/// one.
#[track_caller]
fn a_recording(dir: &Path) -> PathBuf {
    let (outcome, profile) = record(dir, "input", &[exerciser(), "exit", "0"]);
    outcome.assert_code(0);
    default_recording_path(&profile)
}

fn mkfifo(path: &Path) {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in the path");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// `record` under sudo hands its outputs to the invoking user. A user who can write the output
/// directory swaps `out.json` for a symlink to a root-owned file as fast as it can; however the
/// race goes, that file must stay root's with its mode.
#[test]
fn sudo_record_never_hands_a_file_swapped_in_by_a_symlink_to_the_user() {
    let dir = temp_dir();
    let victim = dir.path().join("victim");
    fs::write(&victim, "root's secret\n").expect("writing the victim");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).expect("chmod victim");
    let shared = dir.path().join("shared");
    fs::create_dir(&shared).expect("creating the shared directory");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).expect("chmod 777");
    let out = shared.join("out.json");

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, victim, shared, out) = (
            Arc::clone(&stop),
            victim.clone(),
            shared.clone(),
            out.clone(),
        );
        thread::spawn(move || {
            let tmp = shared.join("swap");
            while !stop.load(Ordering::Relaxed) {
                let _ = fs::remove_file(&tmp);
                if std::os::unix::fs::symlink(&victim, &tmp).is_ok() {
                    let _ = fs::rename(&tmp, &out);
                }
            }
        })
    };
    for _ in 0..15 {
        let mut cmd = syscage(["record", "-q", "-o"]);
        cmd.arg(&out)
            .args(["--", "/bin/true"])
            .env("SUDO_UID", NOBODY.to_string())
            .env("SUDO_GID", NOBODY.to_string())
            .env("SUDO_USER", "nobody");
        let _ = run(&mut cmd);
        let meta = fs::metadata(&victim).expect("stat victim");
        if meta.uid() != 0 || meta.gid() != 0 || meta.mode() & 0o7777 != 0o600 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().expect("the swapping thread panicked");
    let meta = fs::metadata(&victim).expect("stat victim");
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (0, 0, 0o600),
        "a root-owned 0600 file reached through a swapped-in symlink changed owner or mode"
    );
    assert_eq!(
        fs::read_to_string(&victim).expect("reading the victim"),
        "root's secret\n"
    );
}

/// Under sudo, with no race: the outputs belong to the invoking user, 0644.
#[test]
fn sudo_record_gives_new_outputs_to_the_invoking_user() {
    let dir = temp_dir();
    let out = dir.path().join("out.json");
    let mut cmd = syscage(["record", "-o"]);
    cmd.arg(&out)
        .args(["--", "/bin/true"])
        .env("SUDO_UID", NOBODY.to_string())
        .env("SUDO_GID", NOBODY.to_string());
    run(&mut cmd).assert_code(0);
    for path in [out.clone(), default_recording_path(&out)] {
        let meta = fs::metadata(&path).expect("stat output");
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (NOBODY, NOBODY, 0o644),
            "{}",
            path.display()
        );
    }
}

/// `generate -o DEVICE` and `-o FIFO` write through and leave the device or FIFO in place (a
/// private copy of /dev/null's device node, so a failure cannot break the machine's).
#[test]
fn devices_and_fifos_are_written_through_not_replaced() {
    let dir = temp_dir();
    let recording = a_recording(dir.path());

    let null = dir.path().join("null");
    let c_path = CString::new(null.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: mknod of a character device (1, 3: the null device) at a valid path.
    let rc = unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(rc, 0, "mknod {}", null.display());
    let mut cmd = syscage(["generate", "--from"]);
    cmd.arg(&recording).arg("-o").arg(&null);
    run(&mut cmd).assert_code(0);
    let kind = fs::symlink_metadata(&null).expect("stat null").file_type();
    assert!(
        kind.is_char_device(),
        "the device node was replaced: {kind:?}"
    );

    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let reader = {
        let fifo = fifo.clone();
        thread::spawn(move || {
            let mut text = String::new();
            fs::File::open(&fifo)
                .expect("opening the FIFO to read")
                .read_to_string(&mut text)
                .expect("reading the FIFO");
            text
        })
    };
    let mut cmd = syscage(["generate", "--from"]);
    cmd.arg(&recording).arg("-o").arg(&fifo);
    let outcome = run(&mut cmd);
    if outcome.code() != 0 {
        // Unblock the reader before failing.
        let _ = fs::OpenOptions::new().write(true).open(&fifo);
    }
    outcome.assert_code(0);
    let text = reader.join().expect("reader thread panicked");
    let profile: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a profile ({e}): {text}"));
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    let kind = fs::symlink_metadata(&fifo).expect("stat fifo").file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");
}

/// A symlinked output is refused (123) and left as it was, its target untouched.
#[test]
fn a_symlinked_output_is_refused_not_replaced() {
    let dir = temp_dir();
    let recording = a_recording(dir.path());
    let real = dir.path().join("real.json");
    fs::write(&real, "earlier\n").expect("writing the link's target");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let mut cmd = syscage(["generate", "--from"]);
    cmd.arg(&recording).arg("-o").arg(&link);
    let outcome = run(&mut cmd);
    assert_one_line_error(&outcome, 123);
    assert!(outcome.stderr.contains("symbolic link"), "{outcome}");
    assert!(
        fs::symlink_metadata(&link)
            .expect("lstat link")
            .is_symlink(),
        "the link was replaced\n{outcome}"
    );
    assert_eq!(fs::read_to_string(&real).expect("reading"), "earlier\n");
}

/// `record -o -` prints the profile on stdout and creates no file named `-`.
#[test]
fn record_dash_o_dash_writes_the_profile_to_stdout() {
    let dir = temp_dir();
    let recording = dir.path().join("r.recording.json");
    let mut cmd = syscage(["record", "-o", "-", "--recording"]);
    cmd.arg(&recording)
        .current_dir(dir.path())
        .args(["--", exerciser(), "exit", "0"]);
    let outcome = run(&mut cmd);
    outcome.assert_code(0);
    let profile: serde_json::Value = serde_json::from_str(&outcome.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the profile ({e})\n{outcome}"));
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO", "{outcome}");
    read_json(&recording);
    assert!(
        !dir.path().join("-").exists(),
        "a file named - was created\n{outcome}"
    );
}

/// An output that is an input, or two outputs that are one file, are refused before anything
/// runs or is written.
#[test]
fn an_output_equal_to_an_input_or_another_output_is_refused() {
    let dir = temp_dir();
    let recording = a_recording(dir.path());
    let before = fs::read(&recording).expect("reading the recording");

    let mut generate = syscage(["generate", "--from"]);
    generate.arg(&recording).arg("-o").arg(&recording);
    let outcome = run(&mut generate);
    assert_one_line_error(&outcome, 125);
    assert!(outcome.stderr.contains("also an input"), "{outcome}");
    assert_eq!(
        fs::read(&recording).expect("reading"),
        before,
        "the input was replaced"
    );

    let mut merge = syscage(["merge"]);
    merge
        .arg(&recording)
        .arg("--output")
        .arg(dir.path().join("input"));
    assert_one_line_error(&run(&mut merge), 125);
    assert_eq!(
        fs::read(&recording).expect("reading"),
        before,
        "merge replaced its input"
    );

    let marker = dir.path().join("the-command-ran");
    let same = dir.path().join("x.json");
    let mut cmd = syscage(["record", "-o"]);
    cmd.arg(&same)
        .arg("--recording")
        .arg(&same)
        .arg("--")
        .arg(exerciser())
        .arg("mkdir")
        .arg(&marker);
    let outcome = run(&mut cmd);
    assert_one_line_error(&outcome, 125);
    assert!(!marker.exists(), "the command ran\n{outcome}");
    assert!(!same.exists(), "{outcome}");
}

/// A new output is 0644 whatever the umask; a replaced one keeps its owner and mode.
#[test]
fn new_outputs_are_0644_and_replaced_ones_keep_owner_and_mode() {
    let dir = temp_dir();
    let recording = a_recording(dir.path());
    let generate = |out: &Path| {
        let mut cmd = syscage(["generate", "--from"]);
        cmd.arg(&recording).arg("-o").arg(out);
        // SAFETY: umask(2) only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0o077);
                Ok(())
            });
        }
        run(&mut cmd).assert_code(0);
    };
    let new = dir.path().join("new.json");
    generate(&new);
    assert_eq!(fs::metadata(&new).expect("stat").mode() & 0o7777, 0o644);

    let existing = dir.path().join("existing.json");
    fs::write(&existing, "old\n").expect("writing");
    std::os::unix::fs::chown(&existing, Some(NOBODY), Some(NOBODY)).expect("chown");
    fs::set_permissions(&existing, fs::Permissions::from_mode(0o640)).expect("chmod");
    generate(&existing);
    let meta = fs::metadata(&existing).expect("stat");
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o7777),
        (NOBODY, NOBODY, 0o640)
    );
    read_json(&existing);
}

/// `oci-hook` reads the output file from a container annotation: only a name inside
/// --output-dir is accepted; an absolute path or `..` is refused before anything starts.
#[test]
fn oci_hook_refuses_annotations_that_leave_the_output_dir() {
    let dir = temp_dir();
    let output_dir = dir.path().join("profiles");
    fs::create_dir(&output_dir).expect("creating the output directory");
    let outside = dir.path().join("outside.json");
    fs::write(&outside, "keep\n").expect("writing");
    let cgroup = TopCgroup::create("hook-annotation");
    let mut child = cgroup.spawn(exerciser(), &["sleep", "30"]);
    let start = Instant::now();
    while cgroup.procs().is_empty() && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    for annotation in [
        outside.display().to_string(),
        "../outside.json".to_owned(),
        "sub/../../outside.json".to_owned(),
    ] {
        let state = serde_json::json!({
            "ociVersion": "1.0.2",
            "id": cgroup.name,
            "status": "created",
            "pid": pid,
            "bundle": dir.path(),
            "annotations": {"io.syscage.output": annotation},
        });
        let mut cmd = syscage(["oci-hook", "--output-dir"]);
        cmd.arg(&output_dir);
        let mut hook = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the hook");
        {
            use std::io::Write as _;
            let mut stdin = hook.stdin.take().expect("stdin");
            stdin
                .write_all(state.to_string().as_bytes())
                .expect("writing the state");
        }
        let outcome = common::wait(hook, format!("oci-hook ({annotation})"), common::DEADLINE);
        assert_one_line_error(&outcome, 124);
        assert!(outcome.stderr.contains("io.syscage.output"), "{outcome}");
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(fs::read_to_string(&outside).expect("reading"), "keep\n");
    assert!(!dir.path().join("outside.recording.json").exists());
}

/// Non-regular inputs are refused at once (124), without reading them: /dev/zero would fill
/// memory (syscage runs with a 1 GiB address-space limit here, so a regression fails instead
/// of hurting the machine) and a FIFO would block.
#[test]
fn device_and_fifo_inputs_are_refused_without_reading_them() {
    let dir = temp_dir();
    let recording = a_recording(dir.path());
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let rec = recording.to_string_lossy().into_owned();
    let mut failures = Vec::new();
    for bad in ["/dev/zero", fifo.to_str().expect("UTF-8 path")] {
        let cases: Vec<Vec<&str>> = vec![
            vec!["run", "--profile", bad, "--", "/bin/true"],
            vec!["generate", "--from", bad],
            vec!["merge", bad, "--output", "/nonexistent/m"],
            vec!["diff", bad, &rec],
            vec!["diff", &rec, "--against", bad],
        ];
        for args in cases {
            let mut cmd = syscage(&args);
            limit_memory(&mut cmd);
            let child = common::spawn(&mut cmd);
            let outcome = common::wait(child, args.join(" "), Duration::from_secs(20));
            let lines = common::error_lines(&outcome.stderr);
            if outcome.code() != 124 || lines.len() != 1 || !outcome.stderr.contains(bad) {
                failures.push(format!("expected 124 and one line naming {bad}\n{outcome}"));
            }
        }
    }
    let mut hook = syscage(["oci-hook", "--output-dir"]);
    hook.arg(dir.path())
        .stdin(fs::File::open("/dev/zero").expect("opening /dev/zero"));
    limit_memory(&mut hook);
    let child = hook
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the hook");
    let outcome = common::wait(
        child,
        "oci-hook < /dev/zero".into(),
        Duration::from_secs(20),
    );
    if outcome.code() != 124 || !outcome.stderr.contains("larger than") {
        failures.push(format!("oci-hook < /dev/zero: expected 124\n{outcome}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn limit_memory(cmd: &mut Command) {
    // SAFETY: setrlimit(2) only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
}

/// `diff --against` a file that does not exist: 124 (an unreadable input), naming the file.
#[test]
fn diff_against_a_missing_file_exits_124() {
    let dir = temp_dir();
    let recording = a_recording(dir.path());
    let mut cmd = syscage(["diff"]);
    cmd.arg(&recording)
        .args(["--against", "/nonexistent/baseline.json"]);
    let outcome = run(&mut cmd);
    assert_one_line_error(&outcome, 124);
    assert!(
        outcome.stderr.contains("/nonexistent/baseline.json"),
        "{outcome}"
    );
}

/// A read-only output directory is found out before the command runs.
#[test]
fn record_into_a_read_only_directory_fails_before_the_command_runs() {
    let ro = Tmpfs::mount("size=64k,ro");
    assert_record_fails_before_the_command_runs(&ro.dir, 123);
}

/// When the outputs cannot be written at the end (the disk filled up while the command ran),
/// the recording is saved to a file the error names.
#[test]
fn a_recording_that_cannot_be_written_is_saved_elsewhere() {
    let full = Tmpfs::mount("size=64k");
    full.fill_leaving(0);
    let (outcome, _) = record(&full.dir, "p", &[exerciser(), "exit", "0"]);
    assert_one_line_error(&outcome, 123);
    let saved = outcome
        .stderr
        .split_whitespace()
        .find(|w| w.contains("syscage-") && w.ends_with(".recording.json"))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("the error names no saved recording\n{outcome}"));
    let recording = read_json(&saved);
    let _ = fs::remove_file(&saved);
    assert_eq!(recording["format"], "syscage-recording", "{outcome}");
}

/// `record --all` refuses `-o` (it writes per-container files) and `--max-cgroups 0`, with one
/// line and status 125.
#[test]
fn record_all_refuses_dash_o_and_zero_max_cgroups() {
    let dir = temp_dir();
    let mut with_o = syscage(["record", "--all", "-o"]);
    with_o
        .arg(dir.path().join("x.json"))
        .arg("--output-dir")
        .arg(dir.path())
        .args(["--duration", "1s"]);
    let outcome = run(&mut with_o);
    assert_one_line_error(&outcome, 125);
    assert!(outcome.stderr.contains("--output-dir"), "{outcome}");

    let mut zero = syscage(["record", "--all", "--max-cgroups", "0", "--duration", "1s"]);
    zero.arg("--output-dir").arg(dir.path());
    let outcome = run(&mut zero);
    assert_eq!(outcome.code(), 125, "{outcome}");
    assert!(outcome.stderr.contains("--max-cgroups"), "{outcome}");
    assert!(dir_listing(dir.path()).is_empty(), "{outcome}");
}

/// Two containerd namespaces each with a container of the same name: `record --all` writes
/// both profiles, under different names, and says where.
#[test]
fn record_all_gives_same_named_containers_their_own_files() {
    let dir = temp_dir();
    let recorder = common::RecordAll::start(dir.path(), &[]);
    let output_dir = recorder.output_dir.clone();
    let id = common::unique_name("web");
    let namespaces: Vec<TopCgroup> = ["ns-a", "ns-b"].map(TopCgroup::create).into();
    let mut children = Vec::new();
    for ns in &namespaces {
        let container = ns.dir.join(&id);
        fs::create_dir(&container).expect("creating the container cgroup");
        let mut child = spawn_in_cgroup(&container, exerciser(), &["exit", "0"]);
        drop(child.stdin.take());
        children.push(child.wait().expect("running the container's process"));
    }
    assert!(children.iter().all(std::process::ExitStatus::success));
    let start = Instant::now();
    let profiles = || -> Vec<String> {
        dir_listing(&output_dir)
            .into_iter()
            .filter(|f| {
                f.starts_with(&id) && f.ends_with(".json") && !f.ends_with(".recording.json")
            })
            .collect()
    };
    while profiles().len() < 2 && start.elapsed() < Duration::from_secs(30) {
        for ns in &namespaces {
            let _ = fs::remove_dir(ns.dir.join(&id));
        }
        thread::sleep(Duration::from_millis(100));
    }
    let (_code, log_text) = recorder.stop();
    let found = profiles();
    assert_eq!(
        found.len(),
        2,
        "expected two profiles for the two containers named {id}, found {found:?}\n{log_text}"
    );
    for name in &found {
        read_json(&output_dir.join(name));
    }
}

/// `record --all` whose maps overflow (`--max-cgroups 1`, three new containers) reports it and
/// exits 125, not 0: a script must not take the missing profiles for "no containers ran".
#[test]
fn record_all_exits_non_zero_when_containers_were_left_out() {
    let dir = temp_dir();
    let output_dir = dir.path().join("profiles");
    let log = dir.path().join("record-all.log");
    let mut recorder = common::spawn_record_all(
        &output_dir,
        &log,
        &["--max-cgroups", "1", "--duration", "6s"],
    );
    let containers: Vec<TopCgroup> = ["left-a", "left-b", "left-c"].map(TopCgroup::create).into();
    for container in &containers {
        let mut child = container.spawn(exerciser(), &["exit", "0"]);
        drop(child.stdin.take());
        assert!(child.wait().expect("waiting").success());
    }
    let start = Instant::now();
    let status = loop {
        if let Some(status) = recorder.try_wait().expect("waiting for syscage") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "record --all did not stop after --duration"
        );
        thread::sleep(Duration::from_millis(100));
    };
    let log_text = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(125), "{log_text}");
    assert!(log_text.contains("--max-cgroups"), "{log_text}");
}
