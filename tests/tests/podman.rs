//! Containers started by Podman, recorded through the README's hooks.d file: `podman
//! --hooks-dir DIR run --annotation io.syscage.record=true ...` makes Podman put
//! `syscage oci-hook` into the container's `createRuntime` hooks, and the runtime Podman runs
//! (crun, its default here, or runc) calls it before the container's process runs user code.
//!
//! Every podman invocation is built by one function ([`Podman::run`]); the recorded run differs
//! from the runs that check the profile only by the annotations and the seccomp file
//! (permissive while recording, the recorded profile after). Those later runs go through the
//! same hooks directory without the annotation, and must not be recorded. Each profile must run
//! the container again with the same output, and without `mkdir` must make its mkdir fail with
//! EPERM.
//!
//! Needs root, podman (Debian's package brings conmon), crun, runc and busybox-static; a missing
//! one fails the test, saying what to install. Each test imports its own busybox image into
//! Podman's store and removes it at the end; containers run with `--rm` and are removed by a
//! guard if a test fails halfway.

mod common;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    thread,
    time::{Duration, Instant},
};

use common::{
    containers::{
        all_output, check_container_phases, permissive_seccomp, podman_command,
        prepare_crun_for_hybrid_cgroups, require_tool, run_ok, PodmanImage, CONTAINER_DEADLINE,
        PODMAN_RUN_OPTIONS,
    },
    describe, read_json, require_root, syscage_bin, temp_dir, unique_name, write_json, Outcome,
    PROFILE_DEADLINE,
};
use serde_json::{json, Value};

/// What the containers do: a small shell pipeline that writes a file into a new directory and
/// reads it back (the same as tests/containers.rs).
const WORKLOAD: &str = "mkdir /tmp/d && echo hello > /tmp/d/f && cat /tmp/d/f && ls /tmp/d";
const WORKLOAD_OUTPUT: &str = "hello\nf\n";
/// What busybox's mkdir prints when the profile denies mkdir.
const MKDIR_EPERM: &str = "mkdir: can't create directory '/tmp/d': Operation not permitted";

/// How often each container runs under its recorded profile. One good run
/// proves little: runc's init is a Go program whose threads do not do the same thing every time.
const RUNS_UNDER_PROFILE: usize = 30;

/// The annotation that the hooks.d file below matches on, and the one that names the profile.
const RECORD_ANNOTATION: &str = "io.syscage.record";
const OUTPUT_ANNOTATION: &str = "io.syscage.output";

// ---------------------------------------------------------------------------------------------
// The tests.

/// Podman's own default runtime (crun on Debian), not named on the command line.
#[test]
fn podman_container_recorded_through_hooks_d_runs_under_its_profile() {
    let work = temp_dir();
    let podman = Podman::new(work.path(), None);
    let recorded = podman.record(Destination::OutputDir);
    check_recording(&podman, &recorded);
    runs_under_profile(&podman, &recorded);
}

#[test]
fn podman_container_without_mkdir_in_its_profile_gets_eperm() {
    let work = temp_dir();
    let podman = Podman::new(work.path(), None);
    let recorded = podman.record(Destination::OutputDir);
    gets_eperm_without_mkdir(&podman, &recorded);
}

/// `--runtime runc`, and the profile's file named by the `io.syscage.output` annotation.
#[test]
fn podman_runc_container_recorded_through_hooks_d_runs_under_its_profile() {
    let work = temp_dir();
    let podman = Podman::new(work.path(), Some("runc"));
    let recorded = podman.record(Destination::Annotation);
    check_recording(&podman, &recorded);
    runs_under_profile(&podman, &recorded);
}

#[test]
fn podman_runc_container_without_mkdir_in_its_profile_gets_eperm() {
    let work = temp_dir();
    let podman = Podman::new(work.path(), Some("runc"));
    let recorded = podman.record(Destination::Annotation);
    gets_eperm_without_mkdir(&podman, &recorded);
}

// ---------------------------------------------------------------------------------------------
// Podman, its image, its containers.

/// Fails the test unless podman is installed and answers; returns the name of the runtime it
/// runs containers with by default (`podman info`).
#[track_caller]
fn require_podman() -> String {
    require_root();
    require_tool("podman", "podman");
    require_tool("conmon", "conmon (podman depends on it)");
    let runtime = run_ok(podman_command().args(["info", "--format", "{{.Host.OCIRuntime.Name}}"]));
    let runtime = runtime.trim().to_owned();
    assert!(
        !runtime.is_empty(),
        "`podman info` names no OCI runtime: install crun or runc"
    );
    runtime
}

/// A container name unique to this run; `podman rm -f` on drop (the runs use `--rm`; this is
/// for a run that did not end).
struct Container {
    name: String,
    cidfile: PathBuf,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman_command()
            .args(["rm", "-f", "--ignore", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

/// Where the recorder is told to write: the hook's `--output-dir`, or the file the
/// `io.syscage.output` annotation names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Destination {
    OutputDir,
    Annotation,
}

/// One test's Podman setup: the image, a hooks directory holding the README's hook file
/// (pointing at the syscage under test), the hook's output directory and log, and the runtime.
struct Podman {
    work: PathBuf,
    image: PodmanImage,
    hooks_dir: PathBuf,
    output_dir: PathBuf,
    log: PathBuf,
    /// `--runtime NAME`, or `None` for Podman's default.
    runtime_option: Option<&'static str>,
    /// The runtime that runs the containers (the option, or Podman's default).
    runtime: String,
}

impl Podman {
    #[track_caller]
    fn new(work: &Path, runtime_option: Option<&'static str>) -> Self {
        let default_runtime = require_podman();
        let runtime = runtime_option.map_or(default_runtime, str::to_owned);
        require_tool(&runtime, &runtime);
        if runtime == "crun" {
            prepare_crun_for_hybrid_cgroups();
        }
        let hooks_dir = work.join("hooks.d");
        let output_dir = work.join("profiles");
        let log = work.join("hook.log");
        fs::create_dir(&hooks_dir).expect("creating the hooks directory");
        fs::create_dir(&output_dir).expect("creating the hook's output directory");
        let bin = fs::canonicalize(syscage_bin()).expect("resolving the syscage binary's path");
        // The README's /usr/share/containers/oci/hooks.d/syscage.json, plus --log.
        write_json(
            &hooks_dir.join("syscage.json"),
            &json!({
                "version": "1.0.0",
                "hook": {
                    "path": bin,
                    "args": ["syscage", "oci-hook", "--output-dir", output_dir, "--log", log],
                },
                "when": {"annotations": {"^io\\.syscage\\.record$": "true"}},
                "stages": ["createRuntime"],
            }),
        );
        Self {
            work: work.to_owned(),
            image: PodmanImage::import(work),
            hooks_dir,
            output_dir,
            log,
            runtime_option,
            runtime,
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `podman --hooks-dir DIR run --rm --name NAME --cidfile FILE [--runtime R] PODMAN_RUN_OPTIONS
    /// --security-opt seccomp=SECCOMP [--annotation K=V]... IMAGE /bin/sh -c WORKLOAD`, in the
    /// foreground to its end; returns the outcome and the container's full id (from the
    /// cidfile).
    #[track_caller]
    fn run(&self, tag: &str, seccomp: &Path, annotations: &[(&str, String)]) -> (Outcome, String) {
        let name = unique_name(tag);
        let container = Container {
            cidfile: self.work.join(format!("{name}.cid")),
            name,
        };
        let mut cmd = podman_command();
        cmd.arg("--hooks-dir")
            .arg(&self.hooks_dir)
            .args(["run", "--rm", "--name", &container.name, "--cidfile"])
            .arg(&container.cidfile);
        if let Some(runtime) = self.runtime_option {
            cmd.args(["--runtime", runtime]);
        }
        cmd.args(PODMAN_RUN_OPTIONS)
            .arg("--security-opt")
            .arg(format!("seccomp={}", seccomp.display()));
        for (key, value) in annotations {
            cmd.arg("--annotation").arg(format!("{key}={value}"));
        }
        cmd.args([self.image.reference.as_str(), "/bin/sh", "-c", WORKLOAD]);
        let child = common::spawn(&mut cmd);
        let outcome = common::wait(child, describe(&cmd), CONTAINER_DEADLINE);
        let id = fs::read_to_string(&container.cidfile)
            .unwrap_or_else(|e| {
                panic!(
                    "podman wrote no container id to {} ({e})\n{outcome}",
                    container.cidfile.display()
                )
            })
            .trim()
            .to_owned();
        (outcome, id)
    }

    /// Runs the container with `io.syscage.record=true` and the permissive filter, and returns
    /// what the hook's background recorder wrote once it ended.
    #[track_caller]
    fn record(&self, destination: Destination) -> Recorded {
        let permissive = self.work.join("permissive.json");
        write_json(&permissive, &permissive_seccomp());
        let mut annotations = vec![(RECORD_ANNOTATION, "true".to_owned())];
        // The annotation may only name a file inside the hook's --output-dir.
        let named = self.output_dir.join("named").join("podman-profile.json");
        if destination == Destination::Annotation {
            fs::create_dir(named.parent().expect("has a parent"))
                .expect("creating the annotated profile's directory");
            annotations.push((OUTPUT_ANNOTATION, "named/podman-profile.json".to_owned()));
        }
        let (outcome, id) = self.run("recorded", &permissive, &annotations);
        let context = || format!("{outcome}\n--- syscage's log ---\n{}", self.log_text());
        assert_eq!(
            outcome.code(),
            0,
            "the container failed while recorded\n{}",
            context()
        );
        assert_eq!(
            outcome.stdout,
            WORKLOAD_OUTPUT,
            "the container misbehaved while recorded\n{}",
            context()
        );
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "podman's container id is not 64 hex digits: {id:?}\n{}",
            context()
        );
        let (profile_path, recording_path) = match destination {
            Destination::OutputDir => (
                self.output_dir.join(format!("{id}.json")),
                self.output_dir.join(format!("{id}.recording.json")),
            ),
            Destination::Annotation => (
                named.clone(),
                named.with_file_name("podman-profile.recording.json"),
            ),
        };
        // The profile is written after the recording.
        let start = Instant::now();
        while !profile_path.exists() {
            assert!(
                start.elapsed() < PROFILE_DEADLINE,
                "no profile {} within {PROFILE_DEADLINE:?} after podman container {id} ended; \
                 the hook's output directory holds {:?}\n{}",
                profile_path.display(),
                common::dir_listing(&self.output_dir),
                context()
            );
            thread::sleep(Duration::from_millis(20));
        }
        if destination == Destination::Annotation {
            let mut stray = common::dir_listing(&self.output_dir);
            stray.remove("named");
            assert!(
                stray.is_empty(),
                "the annotation {OUTPUT_ANNOTATION} names the profile, yet the hook's \
                 --output-dir holds {stray:?}\n{}",
                context()
            );
        }
        Recorded {
            id,
            profile: read_json(&profile_path),
            recording: read_json(&recording_path),
            profile_path,
            destination,
        }
    }
}

/// A container recording and its profile, as syscage wrote them.
struct Recorded {
    id: String,
    profile_path: PathBuf,
    profile: Value,
    recording: Value,
    destination: Destination,
}

impl Recorded {
    fn describe(&self, podman: &Podman) -> String {
        format!(
            "podman container {} ({}); profile {}:\n{}\n--- recording ---\n{}\n--- syscage's log \
             ---\n{}",
            self.id,
            podman.runtime,
            self.profile_path.display(),
            serde_json::to_string_pretty(&self.profile).unwrap_or_default(),
            serde_json::to_string_pretty(&self.recording).unwrap_or_default(),
            podman.log_text()
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// The recording names the container (Podman's full id, its cgroupfs cgroup, the runtime that
/// ran the hook), tells the runtime's setup, the runtime after the filter load and the workload
/// apart, and the profile allows exactly what ran under the filter. Prints the figures.
fn check_recording(podman: &Podman, recorded: &Recorded) {
    let context = recorded.describe(podman);
    let target = &recorded.recording["target"];
    assert_eq!(
        (
            &target["container_id"],
            &target["runtime"],
            &target["cgroup"]
        ),
        (
            &Value::from(recorded.id.as_str()),
            &Value::from(podman.runtime.as_str()),
            &Value::from(format!("/libpod_parent/libpod-{}", recorded.id))
        ),
        "the recording's target does not name the container\n{context}"
    );

    check_container_phases(
        &recorded.recording,
        &recorded.profile,
        &podman.runtime,
        &format!("podman/{}", podman.runtime),
        &context,
    );
}

/// Runs the container [`RUNS_UNDER_PROFILE`] times under the recorded profile, with the same
/// podman command less the annotations: every run exits 0 with the recorded output, and none is
/// recorded (the hook file's `when` does not match without the annotation).
fn runs_under_profile(podman: &Podman, recorded: &Recorded) {
    let mut failures = Vec::new();
    for _ in 0..RUNS_UNDER_PROFILE {
        let (outcome, _) = podman.run("profiled", &recorded.profile_path, &[]);
        if outcome.code() != 0 || outcome.stdout != WORKLOAD_OUTPUT {
            failures.push(outcome);
        }
    }
    if let Some(first) = failures.first() {
        panic!(
            "{} of {RUNS_UNDER_PROFILE} runs of the podman container under its recorded profile \
             failed (expected exit 0 and {WORKLOAD_OUTPUT:?}); the first:\n{first}\n\n{}",
            failures.len(),
            recorded.describe(podman)
        );
    }
    // A recorder that a run without the annotation had started would have written by now (it
    // writes when the container's cgroup empties, before podman returns); give it a moment.
    thread::sleep(Duration::from_millis(500));
    let expected: BTreeSet<String> = match recorded.destination {
        Destination::OutputDir => [
            format!("{}.json", recorded.id),
            format!("{}.recording.json", recorded.id),
        ]
        .into(),
        // The annotated profile's own directory, inside the output directory.
        Destination::Annotation => ["named".to_owned()].into(),
    };
    assert_eq!(
        common::dir_listing(&podman.output_dir),
        expected,
        "containers started without {RECORD_ANNOTATION}=true were recorded\n{}",
        recorded.describe(podman)
    );
}

/// The recorded profile with `mkdir` taken out of its first ALLOW rule: the container's mkdir
/// fails with EPERM, the workload stops there, and podman exits non-zero.
fn gets_eperm_without_mkdir(podman: &Podman, recorded: &Recorded) {
    let denied = podman.work.join("without-mkdir.json");
    write_json(
        &denied,
        &common::profile_without(&recorded.profile, &["mkdir"]),
    );
    let (outcome, _) = podman.run("no-mkdir", &denied, &[]);
    let context = || format!("{outcome}\n\n{}", recorded.describe(podman));
    assert_ne!(
        outcome.code(),
        0,
        "the container must fail without mkdir\n{}",
        context()
    );
    assert!(
        all_output(&outcome).contains(MKDIR_EPERM),
        "expected EPERM from busybox mkdir ({MKDIR_EPERM:?})\n{}",
        context()
    );
    assert!(
        !outcome.stdout.contains("hello"),
        "the workload went on after mkdir failed\n{}",
        context()
    );
}
