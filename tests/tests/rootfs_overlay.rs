//! Root filesystem writes of Podman containers, whose roots are overlays: the security programs
//! do not see those writes (the dirty inode is the upper layer's, on the host's filesystem), so
//! the recorder compares the overlay's upper directory from the start of the recording to its
//! end. A container that writes /var/cache/app/x on its root is reported with that path by
//! `record --container`, `record --all` and the OCI hook, and `generate --format localhost`
//! does not advise `readOnlyRootFilesystem`; one that writes only to a tmpfs and a volume has no
//! root filesystem write.
//!
//! Under `record --container` each container waits for a file in a host directory mounted as a
//! volume before it writes, so its writes happen while the recording runs. Needs root, podman
//! (overlay storage, its default) and busybox-static.

mod common;

use std::{
    fs,
    io::{BufRead as _, BufReader},
    path::Path,
    process::Stdio,
    time::Duration,
};

use common::{
    containers::{podman_command, require_tool, run_ok, PodmanImage, PODMAN_RUN_OPTIONS},
    describe, read_json, syscage, temp_dir, unique_name, wait, wait_for, RecordAll,
};
use serde_json::Value;

/// How long a container and its recording may take.
const DEADLINE: Duration = Duration::from_secs(90);

/// Removes a Podman container on drop, whatever the test did.
struct PodmanContainer {
    name: String,
}

impl Drop for PodmanContainer {
    fn drop(&mut self) {
        let _ = podman_command()
            .args(["rm", "-f", "--ignore", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

/// Starts `container` detached, running `script` with `signal` mounted at /sig; returns its id.
fn start_podman(
    image: &PodmanImage,
    container: &PodmanContainer,
    signal: &Path,
    extra: &[&str],
    script: &str,
) -> String {
    let volume = format!("{}:/sig", signal.display());
    run_ok(
        podman_command()
            .args(["run", "-d", "--name", &container.name])
            .args(PODMAN_RUN_OPTIONS)
            .args(["-v", &volume])
            .args(extra)
            .args([&image.reference, "/bin/sh", "-c", script]),
    )
    .trim()
    .to_owned()
}

/// The paths of a recording's root filesystem writes.
fn written_paths(recording: &Value) -> Vec<String> {
    recording["security"]["root_filesystem_writes"]["paths"]
        .as_array()
        .expect("root_filesystem_writes.paths")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Starts a container of `image` running `script` once `/sig/go` exists (the test's `signal`
/// directory), with `extra` podman options; records it with `record --container` from before
/// it writes until it exits, and returns the recording.
fn record_podman(
    work: &Path,
    image: &PodmanImage,
    tag: &str,
    extra: &[&str],
    script: &str,
) -> Value {
    require_tool("podman", "podman");
    let signal = work.join(format!("signal-{tag}"));
    fs::create_dir(&signal).expect("creating the signal directory");
    let container = PodmanContainer {
        name: unique_name(tag),
    };
    let waiting = format!("while [ ! -e /sig/go ]; do sleep 0.1; done; {script}; sleep 0.5");
    let id = start_podman(image, &container, &signal, extra, &waiting);

    let profile = work.join(format!("{tag}.json"));
    let log = work.join(format!("{tag}.log"));
    let mut cmd = syscage(["-v", "record", "--container", &id, "--output"]);
    cmd.arg(&profile)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).expect("creating the log"));
    let description = describe(&cmd);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {description}: {e}"));
    // The recorder says which cgroup it records before it loads its programs; give those the
    // time to attach before the container writes.
    wait_for(DEADLINE, "syscage to find the container's cgroup", || {
        let text = fs::read_to_string(&log).unwrap_or_default();
        BufReader::new(text.as_bytes())
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains("recording cgroup"))
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    fs::write(signal.join("go"), "").expect("signalling the container");
    let outcome = wait(child, description, DEADLINE);
    let log_text = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(outcome.code(), 0, "{outcome}\n--- log ---\n{log_text}");
    let recording = read_json(&common::default_recording_path(&profile));
    assert!(
        recording["security"].is_object(),
        "the recording has no security facts\n{log_text}\n{recording:#}"
    );
    recording
}

/// The `readOnlyRootFilesystem` of the securityContext `generate --format localhost` writes for
/// `recording`, and the snippet's text.
fn read_only_root_advice(work: &Path, recording: &Value, tag: &str) -> (Option<Value>, String) {
    let path = work.join(format!("{tag}.recording-copy.json"));
    common::write_json(&path, recording);
    let profile = work.join(format!("{tag}-generated.json"));
    let snippet = work.join(format!("{tag}-pod.yaml"));
    let mut cmd = syscage([
        "generate".as_ref(),
        "--from".as_ref(),
        path.as_os_str(),
        "--format".as_ref(),
        "localhost".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "--snippet".as_ref(),
        snippet.as_os_str(),
    ]);
    common::run(&mut cmd).assert_code(0);
    let text = fs::read_to_string(&snippet).expect("the snippet was written");
    let pod: Value = serde_yaml_ng::from_str(&text).expect("the snippet is YAML");
    let context = pod
        .pointer("/spec/containers/0/securityContext")
        .unwrap_or_else(|| panic!("no securityContext in\n{text}"));
    (context.get("readOnlyRootFilesystem").cloned(), text)
}

#[test]
fn a_podman_container_writing_its_overlay_root_is_reported_with_the_path() {
    let work = temp_dir();
    let image = PodmanImage::import(work.path());
    let recording = record_podman(
        work.path(),
        &image,
        "overlay-writer",
        &[],
        "mkdir -p /var/cache/app && echo x > /var/cache/app/x",
    );
    let writes = &recording["security"]["root_filesystem_writes"];
    let paths: Vec<&str> = writes["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        paths.contains(&"/var/cache/app/x"),
        "the write on the overlay root is not reported: {writes:#}"
    );
    assert!(
        writes["count"].as_u64() >= Some(1),
        "count below the paths: {writes:#}"
    );
    // Neither the runtime's mount points (/etc/hosts, /run/.containerenv) nor the volume.
    for path in &paths {
        assert!(
            !path.starts_with("/etc/host")
                && !path.starts_with("/run/")
                && !path.starts_with("/sig"),
            "{path} is not the workload's write: {writes:#}"
        );
    }
    let (advice, snippet) = read_only_root_advice(work.path(), &recording, "overlay-writer");
    assert_eq!(
        advice, None,
        "readOnlyRootFilesystem advised for a container that wrote its root:\n{snippet}"
    );
    assert!(snippet.contains("/var/cache/app"), "{snippet}");
}

#[test]
fn a_podman_container_writing_only_a_tmpfs_and_a_volume_writes_no_root_path() {
    let work = temp_dir();
    let image = PodmanImage::import(work.path());
    let recording = record_podman(
        work.path(),
        &image,
        "overlay-volumes",
        &["--tmpfs", "/scratch"],
        "echo y > /scratch/y && echo z > /sig/z",
    );
    let writes = &recording["security"]["root_filesystem_writes"];
    assert_eq!(writes["paths"], serde_json::json!([]), "{writes:#}");
    assert_eq!(writes["count"], 0, "{writes:#}");
    assert!(
        writes.get("unobserved").is_none(),
        "the overlay root was watched: {writes:#}"
    );
    let (advice, snippet) = read_only_root_advice(work.path(), &recording, "overlay-volumes");
    assert_eq!(advice, Some(Value::Bool(true)), "{snippet}");
}

/// `record --all` records a Podman container from its creation: its root is found once its
/// runtime moved it there, and every upper directory entry changed since counts, except the
/// runtime's mount points and its /etc/mtab link.
#[test]
fn record_all_reports_a_podman_containers_overlay_root_writes() {
    let work = temp_dir();
    let image = PodmanImage::import(work.path());
    let all = RecordAll::start(work.path(), &[]);
    let signal = work.path().join("signal");
    fs::create_dir(&signal).expect("creating the signal directory");
    let (writer, quiet) = (
        PodmanContainer {
            name: unique_name("all-writer"),
        },
        PodmanContainer {
            name: unique_name("all-volumes"),
        },
    );
    let writer_id = start_podman(
        &image,
        &writer,
        &signal,
        &[],
        "mkdir -p /var/cache/app && echo x > /var/cache/app/x && sleep 0.5",
    );
    let quiet_id = start_podman(
        &image,
        &quiet,
        &signal,
        &["--tmpfs", "/scratch"],
        "echo y > /scratch/y && echo z > /sig/z && sleep 0.5",
    );
    let (_, _, written) = all.wait_for_container(&writer_id);
    let (_, _, untouched) = all.wait_for_container(&quiet_id);
    let log = all.log_summary();
    let writes = &written["security"]["root_filesystem_writes"];
    assert_eq!(
        written_paths(&written),
        ["/var/cache/app/x"],
        "{writes:#}\n{log}"
    );
    let writes = &untouched["security"]["root_filesystem_writes"];
    assert_eq!(
        written_paths(&untouched),
        [] as [&str; 0],
        "{writes:#}\n{log}"
    );
    assert_eq!(writes["count"], 0, "{writes:#}\n{log}");
    assert!(writes.get("unobserved").is_none(), "{writes:#}\n{log}");
}

/// The README's hooks.d file in `WORK/hooks.d`, recording into `WORK/hook-profiles` with its
/// log in `WORK/hook.log`; returns those three paths.
fn hooks_dir(work: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let hooks_dir = work.join("hooks.d");
    let output_dir = work.join("hook-profiles");
    let log = work.join("hook.log");
    fs::create_dir(&hooks_dir).expect("creating the hooks directory");
    fs::create_dir(&output_dir).expect("creating the hook's output directory");
    let bin = fs::canonicalize(common::syscage_bin()).expect("resolving the syscage binary");
    common::write_json(
        &hooks_dir.join("syscage.json"),
        &serde_json::json!({
            "version": "1.0.0",
            "hook": {
                "path": bin,
                "args": ["syscage", "oci-hook", "--output-dir", output_dir, "--log", log],
            },
            "when": {"annotations": {"^io\\.syscage\\.record$": "true"}},
            "stages": ["createRuntime"],
        }),
    );
    (hooks_dir, output_dir, log)
}

/// Runs `script` in a Podman container recorded by the OCI hook, with `podman_options` (after
/// `run`), and returns its recording.
fn record_with_hook(work: &Path, tag: &str, podman_options: &[&str], script: &str) -> Value {
    let image = PodmanImage::import(work);
    let (hooks_dir, output_dir, log) = hooks_dir(work);
    let container = PodmanContainer {
        name: unique_name(tag),
    };
    let cidfile = work.join(format!("{tag}.cid"));
    run_ok(
        podman_command()
            .arg("--hooks-dir")
            .arg(&hooks_dir)
            .args(["run", "--name", &container.name, "--cidfile"])
            .arg(&cidfile)
            .args(podman_options)
            .args(PODMAN_RUN_OPTIONS)
            .args(["--annotation", "io.syscage.record=true"])
            .args([&image.reference, "/bin/sh", "-c", script]),
    );
    let id = fs::read_to_string(&cidfile).expect("podman wrote the container id");
    let (_, _, recording) = common::wait_for_outputs(&output_dir, id.trim(), DEADLINE, &|| {
        fs::read_to_string(&log).unwrap_or_default()
    });
    recording
}

/// The OCI hook (the README's hooks.d file) records a Podman container from its runtime's
/// setup: its overlay root's writes are reported too, found from the bundle's root even when
/// the container ends at once.
#[test]
fn the_oci_hook_reports_a_podman_containers_overlay_root_writes() {
    let work = temp_dir();
    let recording = record_with_hook(
        work.path(),
        "hook-writer",
        &[],
        "mkdir -p /var/cache/app && echo x > /var/cache/app/x",
    );
    let writes = &recording["security"]["root_filesystem_writes"];
    assert_eq!(
        written_paths(&recording),
        ["/var/cache/app/x"],
        "{writes:#}"
    );
    assert!(writes.get("unobserved").is_none(), "{writes:#}");
}

/// `podman run --rm` removes the upper directory as soon as the container ends, often before
/// the recording ends: then the paths of the last walk while it ran are kept and the writes are
/// marked unobserved (more may have followed; whether the removal wins the race varies, the
/// unit tests of tracer/src/sys/overlay_writes.rs pin both outcomes). Either way the write is
/// named and no read-only root is advised.
#[test]
fn a_podman_run_rm_container_keeps_its_root_writes_and_gets_no_read_only_advice() {
    let work = temp_dir();
    let recording = record_with_hook(
        work.path(),
        "hook-rm",
        &["--rm"],
        "mkdir -p /var/cache/app && echo x > /var/cache/app/x && sleep 0.5",
    );
    let writes = &recording["security"]["root_filesystem_writes"];
    assert_eq!(
        written_paths(&recording),
        ["/var/cache/app/x"],
        "{writes:#}"
    );
    assert!(
        writes
            .get("unobserved")
            .is_none_or(|why| why.as_str().is_some_and(|w| w.contains("was gone"))),
        "{writes:#}"
    );
    let (advice, snippet) = read_only_root_advice(work.path(), &recording, "hook-rm");
    assert_eq!(advice, None, "{snippet}");
}
