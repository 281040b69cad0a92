//! Kubernetes workload identity: containers whose OCI bundle carries the annotations the CRI
//! runtimes write (containerd's `io.kubernetes.cri.*`, CRI-O's `io.kubernetes.pod.*`), started
//! by real runtimes (runc with the annotations in `config.json`, Podman with `--annotation`,
//! containerd's `ctr run --annotation`), recorded by `syscage record --all`, which must write
//! each under `DIR/<namespace>/<workload>/<container>/<container id>.json`, fill
//! `target.kubernetes`, skip pod sandboxes, and honour `--namespace`/`--workload`. Also
//! `record --container` and the OCI hook, which must fill `target.kubernetes` too.
//!
//! Needs root, runc, Podman, containerd (running), umoci and busybox-static; `cargo xtask test`
//! installs them and starts containerd. Every namespace, container and image name is unique to
//! this test process, so colleagues' containers recorded at the same time do not matter.

mod common;

use std::{fs, path::Path, process::Command, thread};

use common::{
    annotate, containerd_annotations,
    containers::{
        podman_command, Bundle, Container, CtrContainer, CtrImage, PodmanImage, Runtime,
        CONTAINER_DEADLINE, PODMAN_RUN_OPTIONS,
    },
    describe, files_below, read_json, recording_names, sandbox_annotations, syscage, temp_dir,
    unique_name, wait_for_outputs, RecordAll, PROFILE_DEADLINE,
};
use serde_json::{json, Value};

/// What the recorded containers do; the sleep keeps them running long enough for the recorder
/// to read their runtime's state (runc removes it as soon as a foreground container ends).
const SCRIPT: &str = "mkdir /tmp/m && rmdir /tmp/m; sleep 1";

/// CRI-O's annotations for container `container` of pod `pod` in `namespace`.
fn crio_annotations(namespace: &str, pod: &str, container: &str) -> Vec<(String, String)> {
    vec![
        (
            "io.kubernetes.cri-o.ContainerType".into(),
            "container".into(),
        ),
        ("io.kubernetes.pod.name".into(), pod.into()),
        ("io.kubernetes.pod.namespace".into(), namespace.into()),
        ("io.kubernetes.container.name".into(), container.into()),
    ]
}

/// A runc bundle running [`SCRIPT`], with `annotations` in its `config.json`.
fn annotated_bundle(work: &Path, tag: &str, annotations: &[(String, String)]) -> Bundle {
    let bundle = Bundle::new(work, tag, Runtime::Runc, SCRIPT);
    annotate(&bundle, annotations);
    bundle
}

/// Runs every bundle at once in the foreground (`runc run`), each to its end.
fn run_all(bundles: &[Bundle], containers: &[Container]) {
    let outcomes = thread::scope(|scope| {
        let handles: Vec<_> = bundles
            .iter()
            .zip(containers)
            .map(|(bundle, container)| scope.spawn(move || bundle.run(container)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a container thread panicked"))
            .collect::<Vec<_>>()
    });
    for outcome in &outcomes {
        outcome.assert_code(0);
    }
}

/// The files below `dir` whose name says they belong to container `id`.
fn files_of(dir: &Path, id: &str) -> Vec<String> {
    files_below(dir)
        .into_iter()
        .filter(|f| {
            f.rsplit('/')
                .next()
                .is_some_and(|name| name.starts_with(id))
        })
        .collect()
}

/// Waits for `DIR/<namespace>/<workload>/<container>/<id>.json` and returns the recording.
#[track_caller]
fn wait_for_workload(recorder: &RecordAll, path: &str, id: &str) -> Value {
    let dir = recorder.output_dir.join(path);
    let (_, _, recording) = wait_for_outputs(&dir, id, PROFILE_DEADLINE, &|| {
        format!(
            "--- output tree ---\n{:?}\n--- syscage's log ---\n{}",
            files_below(&recorder.output_dir),
            recorder.log_summary()
        )
    });
    recording
}

#[test]
fn record_all_writes_kubernetes_containers_under_namespace_workload_container() {
    let work = temp_dir();
    let ns = unique_name("shop");
    let replica_pods = ["web-7d4b9c6f8-x2x5z", "web-7d4b9c6f8-bk2xq"];
    let specs: Vec<(&str, Vec<(String, String)>)> = vec![
        (
            "replica1",
            containerd_annotations(&ns, replica_pods[0], "app"),
        ),
        (
            "replica2",
            containerd_annotations(&ns, replica_pods[1], "app"),
        ),
        ("crio", crio_annotations(&ns, "db-0", "postgres")),
        ("sandbox", sandbox_annotations(&ns, replica_pods[0])),
        ("plain", Vec::new()),
    ];
    let bundles: Vec<Bundle> = specs
        .iter()
        .map(|(tag, annotations)| annotated_bundle(work.path(), tag, annotations))
        .collect();
    let containers: Vec<Container> = specs
        .iter()
        .map(|(tag, _)| Container::new(Runtime::Runc, tag))
        .collect();
    let recorder = RecordAll::start(work.path(), &[]);
    run_all(&bundles, &containers);

    let web = format!("{ns}/web/app");
    let replica1 = wait_for_workload(&recorder, &web, &containers[0].id);
    let replica2 = wait_for_workload(&recorder, &web, &containers[1].id);
    let db = wait_for_workload(&recorder, &format!("{ns}/db/postgres"), &containers[2].id);
    let (_, _, plain) = recorder.wait_for_container(&containers[4].id);
    let output_dir = recorder.output_dir.clone();
    let (code, log) = recorder.stop();
    let context = format!(
        "--- output tree ---\n{:#?}\n--- syscage's log ---\n{log}",
        files_below(&output_dir)
    );
    assert_eq!(code, 0, "syscage record --all failed\n{context}");

    for (recording, pod) in [(&replica1, replica_pods[0]), (&replica2, replica_pods[1])] {
        assert_eq!(
            recording["target"]["kubernetes"],
            json!({
                "namespace": ns,
                "pod": pod,
                "pod_uid": "0d8a6f0e-6d3c-4c52-9a0b-7b5c1f2e3d4a",
                "container": "app",
                "workload": "web",
                "image": "docker.io/library/busybox:1.36",
            }),
            "{context}"
        );
        assert_eq!(recording["target"]["container_name"], "app", "{context}");
        assert!(
            recording_names(recording).contains("mkdir"),
            "the workload's mkdir is not recorded\n{context}"
        );
    }
    assert_eq!(
        db["target"]["kubernetes"],
        json!({"namespace": ns, "pod": "db-0", "container": "postgres", "workload": "db"}),
        "{context}"
    );
    assert!(
        plain["target"].get("kubernetes").is_none(),
        "a container without annotations has no Kubernetes identity\n{context}"
    );
    // Replicas side by side, each under its own id; the plain container at the top, as before.
    for (container, place) in [
        (&containers[0], web.as_str()),
        (&containers[1], web.as_str()),
        (&containers[2], &format!("{ns}/db/postgres")),
    ] {
        assert_eq!(
            files_of(&output_dir, &container.id),
            [
                format!("{place}/{}.json", container.id),
                format!("{place}/{}.recording.json", container.id),
            ],
            "{context}"
        );
    }
    assert_eq!(
        files_of(&output_dir, &containers[4].id),
        [
            format!("{}.json", containers[4].id),
            format!("{}.recording.json", containers[4].id),
        ],
        "{context}"
    );
    let sandbox = &containers[3].id;
    assert!(
        files_of(&output_dir, sandbox).is_empty(),
        "the pod sandbox must not be recorded\n{context}"
    );
    let said = log
        .lines()
        .filter(|l| l.contains(&format!("not recording container {sandbox}")))
        .count();
    assert_eq!(
        said, 1,
        "skipping the sandbox is said once on stderr\n{context}"
    );
}

#[test]
fn record_all_namespace_and_workload_filters_record_only_matching_containers() {
    let work = temp_dir();
    let ns = unique_name("shop");
    let other_ns = unique_name("other");
    let specs: Vec<(&str, Vec<(String, String)>)> = vec![
        (
            "match",
            containerd_annotations(&ns, "web-7d4b9c6f8-x2x5z", "app"),
        ),
        ("otherworkload", crio_annotations(&ns, "db-0", "postgres")),
        (
            "othernamespace",
            containerd_annotations(&other_ns, "web-7d4b9c6f8-x2x5z", "app"),
        ),
        ("plain", Vec::new()),
    ];
    let bundles: Vec<Bundle> = specs
        .iter()
        .map(|(tag, annotations)| annotated_bundle(work.path(), tag, annotations))
        .collect();
    let containers: Vec<Container> = specs
        .iter()
        .map(|(tag, _)| Container::new(Runtime::Runc, tag))
        .collect();
    let recorder = RecordAll::start(
        work.path(),
        &[
            "--namespace",
            &ns,
            "--namespace",
            "kube-system",
            "--workload",
            "web",
        ],
    );
    run_all(&bundles, &containers);

    let matched = wait_for_workload(&recorder, &format!("{ns}/web/app"), &containers[0].id);
    let output_dir = recorder.output_dir.clone();
    // Stopping writes whatever is still recorded: anything left out is left out for good.
    let (code, log) = recorder.stop();
    let context = format!(
        "--- output tree ---\n{:#?}\n--- syscage's log ---\n{log}",
        files_below(&output_dir)
    );
    assert_eq!(code, 0, "{context}");
    assert_eq!(matched["target"]["kubernetes"]["namespace"], ns.as_str());
    for left_out in &containers[1..] {
        assert!(
            files_of(&output_dir, &left_out.id).is_empty(),
            "{} does not match the filters but was written\n{context}",
            left_out.id
        );
    }
    assert!(
        !output_dir.join(&other_ns).exists(),
        "nothing of the other namespace\n{context}"
    );
}

#[test]
fn record_all_finds_the_identity_of_podman_and_containerd_containers() {
    let work = temp_dir();
    let ns = unique_name("shop");
    let podman_image = PodmanImage::import(work.path());
    let ctr_image = CtrImage::build(work.path());
    let recorder = RecordAll::start(work.path(), &[]);

    // Podman, with CRI-O's annotations (`podman play kube` writes the same keys).
    let name = unique_name("podman");
    let cidfile = work.path().join(format!("{name}.cid"));
    let mut podman = podman_command();
    podman
        .args(["run", "--rm", "--name", &name, "--cidfile"])
        .arg(&cidfile)
        .args(PODMAN_RUN_OPTIONS);
    for (key, value) in crio_annotations(&ns, "agent-x2x5z", "collector") {
        podman.arg("--annotation").arg(format!("{key}={value}"));
    }
    podman.args([podman_image.reference.as_str(), "/bin/sh", "-c", SCRIPT]);
    let outcome = common::wait(
        common::spawn(&mut podman),
        describe(&podman),
        CONTAINER_DEADLINE,
    );
    outcome.assert_code(0);
    let podman_id = fs::read_to_string(&cidfile)
        .expect("podman's cidfile")
        .trim()
        .to_owned();

    // containerd, with its own CRI annotations.
    let ctr = CtrContainer::new("ctr");
    let mut ctr_run = Command::new("ctr");
    ctr_run.args(["run", "--rm"]);
    for (key, value) in containerd_annotations(&ns, "cache-5f6c7d8b9f-bk2xq", "redis") {
        ctr_run.arg("--annotation").arg(format!("{key}={value}"));
    }
    ctr_run.args([
        ctr_image.reference.as_str(),
        ctr.id.as_str(),
        "/bin/sh",
        "-c",
        SCRIPT,
    ]);
    let outcome = common::wait(
        common::spawn(&mut ctr_run),
        describe(&ctr_run),
        CONTAINER_DEADLINE,
    );
    outcome.assert_code(0);

    let from_podman = wait_for_workload(&recorder, &format!("{ns}/agent/collector"), &podman_id);
    let from_ctr = wait_for_workload(&recorder, &format!("{ns}/cache/redis"), &ctr.id);
    let (code, log) = recorder.stop();
    assert_eq!(code, 0, "{log}");
    assert_eq!(
        from_podman["target"]["kubernetes"],
        json!({"namespace": ns, "pod": "agent-x2x5z", "container": "collector", "workload": "agent"}),
        "{log}"
    );
    assert_eq!(from_podman["target"]["runtime"], "podman", "{log}");
    assert_eq!(
        from_ctr["target"]["kubernetes"]["workload"], "cache",
        "{from_ctr}\n{log}"
    );
    assert_eq!(
        from_ctr["target"]["kubernetes"]["pod"],
        "cache-5f6c7d8b9f-bk2xq"
    );
    assert_eq!(from_ctr["target"]["runtime"], "containerd", "{log}");
}

#[test]
fn record_container_and_the_oci_hook_fill_the_kubernetes_identity() {
    let work = temp_dir();
    let ns = unique_name("shop");
    let annotations = containerd_annotations(&ns, "db-1", "postgres");

    // `record --container` of a running container.
    let bundle = annotated_bundle(work.path(), "attached", &annotations);
    bundle.edit_config(|config| {
        config["process"]["args"] = json!(["/bin/sh", "-c", "sleep 2; mkdir /tmp/a"]);
    });
    let container = bundle.start_detached("attached");
    let profile = work.path().join("attached.json");
    let mut record = syscage(["record", "--container", &container.id, "--output"]);
    record.arg(&profile);
    let outcome = common::wait(
        common::spawn(&mut record),
        describe(&record),
        CONTAINER_DEADLINE,
    );
    outcome.assert_code(0);
    let recording = read_json(&work.path().join("attached.recording.json"));
    assert_eq!(
        recording["target"]["kubernetes"]["workload"], "db",
        "{recording}\n{outcome}"
    );
    assert_eq!(recording["target"]["kubernetes"]["namespace"], ns.as_str());

    // The OCI hook, which reads the bundle named in the state the runtime passes it.
    let hooked = annotated_bundle(work.path(), "hooked", &annotations);
    let output_dir = work.path().join("hook-profiles");
    fs::create_dir(&output_dir).expect("creating the hook's output directory");
    let log = work.path().join("hook.log");
    hooked.set_oci_hook(&output_dir, &log);
    let container = Container::new(Runtime::Runc, "hooked");
    hooked.run(&container).assert_code(0);
    let (_, _, recording) = wait_for_outputs(&output_dir, &container.id, PROFILE_DEADLINE, &|| {
        fs::read_to_string(&log).unwrap_or_default()
    });
    assert_eq!(
        recording["target"]["kubernetes"]["container"], "postgres",
        "{recording}"
    );
    assert_eq!(recording["target"]["kubernetes"]["pod"], "db-1");
}
