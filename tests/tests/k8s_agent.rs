//! The node agent without a cluster: the manifests in `deploy/kubernetes/` against the
//! Kubernetes schema, and the agent image (`cargo xtask image`) run by Podman with exactly the
//! DaemonSet's securityContext, capabilities, resources, probe and mounts, recording sibling
//! containers that carry the CRI runtimes' Kubernetes annotations.
//!
//! The `podman run` flags are derived from `daemonset.yaml` by [`AgentSpec`], which refuses any
//! field it cannot translate, so the test and the manifest cannot drift apart: a privilege added
//! to the YAML is a privilege the test runs with, and one the YAML lacks is one the agent lacks
//! here. The only change is the output hostPath, which points at one directory per "node".
//! `seccompProfile: RuntimeDefault` is the default profile of the node's runtime: each "node"
//! names its runtime, and the test hands Podman that runtime's default profile from
//! profile-gen/data (moby's format, which Podman evaluates, capability conditions included).
//!
//! Needs root, podman (with conmon), runc, busybox-static, kubernetes-validate, and the image of
//! the syscage under test (`cargo xtask image`; `cargo xtask test` builds it).

mod common;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    thread,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use common::{
    containers::{
        permissive_seccomp, podman_command, prepare_crun_for_hybrid_cgroups, require_tool, run_ok,
        Bundle, Container, PodmanImage, Runtime, PODMAN_RUN_OPTIONS,
    },
    kubernetes_validate, read_json, read_yaml, recording_names, require_root, run, syscage,
    syscage_bin, temp_dir, unique_name, write_json, RecordAll, PROFILE_DEADLINE,
};

/// What each replica runs: a few syscalls a busybox shell makes only for this (mkdir, a write
/// into a new file) and a known output. It lives a second, as a pod's container lives long
/// enough for the agent to read its runtime's state (runc removes it when the container ends).
const REPLICA_SCRIPT: &str = "mkdir /tmp/replica && echo ok > /tmp/replica/file && \
                              cat /tmp/replica/file && sleep 1";
const REPLICA_OUTPUT: &str = "ok\n";

/// The replicas' Deployment: two pods of `web`, each with its pod-template-hash and suffix.
const WORKLOAD: &str = "web";
const POD_TEMPLATE_HASH: &str = "7d4b9c6f8";
const CONTAINER_NAME: &str = "app";

/// How long the agent may take to report ready.
const READY_DEADLINE: Duration = Duration::from_secs(60);

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

#[test]
fn manifests_validate_against_the_kubernetes_schema() {
    require_tool(
        "kubernetes-validate",
        "kubernetes-validate (pip install kubernetes-validate==1.31.0)",
    );
    let dir = deploy_dir();
    let kustomization: Value = read_yaml(&dir.join("kustomization.yaml"));
    let mut listed: Vec<String> = kustomization["resources"]
        .as_array()
        .expect("kustomization.yaml lists resources")
        .iter()
        .map(|r| r.as_str().expect("a resource is a file name").to_owned())
        .collect();
    listed.sort();
    let mut manifests: Vec<String> = fs::read_dir(&dir)
        .expect("listing deploy/kubernetes")
        .map(|e| e.expect("reading deploy/kubernetes").file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    manifests.sort();
    assert_eq!(
        listed, manifests,
        "kustomization.yaml must list every manifest in deploy/kubernetes"
    );
    for manifest in &manifests {
        let (passed, text) = kubernetes_validate(&dir.join(manifest));
        assert!(passed, "{manifest} does not validate:\n{text}");
    }
}

/// Two "nodes": the agent runs twice, each time under the DaemonSet's privileges with its own
/// output directory (node a's RuntimeDefault is containerd's, node b's CRI-O's), and each run
/// sees one replica of `web` (the first started by Podman with
/// `--annotation`, the second by runc with the annotations in its config.json). Each node's
/// directory holds its replica's recording and profile, and not the other's.
#[test]
fn agent_under_the_daemonsets_privileges_records_annotated_replicas_on_two_nodes() {
    let work = temp_dir();
    let nodes = TwoNodes::record(work.path());
    for (recording, id, node) in [
        (&nodes.podman_recording, &nodes.podman_id, &nodes.node_a),
        (&nodes.runc_recording, &nodes.runc_id, &nodes.node_b),
    ] {
        let value = read_json(recording);
        assert_eq!(
            value["target"]["container_id"],
            **id,
            "{} names another container",
            recording.display()
        );
        // Recorded from its creation, not attached to it later: the DaemonSet's agent sees a
        // pod's containers start.
        let phases = &value["phases"];
        assert_eq!(
            phases["started_in"],
            "runtime_setup",
            "{}: {phases}",
            recording.display()
        );
        for moment in ["filter_loaded_us", "entrypoint_exec_us"] {
            assert!(
                phases[moment].is_u64(),
                "{}: no {moment}: {phases}",
                recording.display()
            );
        }
        let names = recording_names(&value);
        for expected in ["mkdir", "write"] {
            assert!(
                names.contains(expected),
                "{} lacks {expected}: the replica's workload was not recorded: {names:?}",
                recording.display()
            );
        }
        let profile = recording
            .to_string_lossy()
            .replace(".recording.json", ".json");
        assert!(
            Path::new(&profile).is_file(),
            "no profile next to {} in {}",
            recording.display(),
            node.display()
        );
    }
    assert!(
        files_naming(&nodes.node_a, &nodes.runc_id).is_empty(),
        "node a recorded the replica that ran on node b"
    );
    assert!(
        files_naming(&nodes.node_b, &nodes.podman_id).is_empty(),
        "node b recorded the replica that ran on node a"
    );
}

/// Two "nodes" that each recorded one replica of `web` (see
/// [`agent_under_the_daemonsets_privileges_records_annotated_replicas_on_two_nodes`]).
struct TwoNodes {
    node_a: PathBuf,
    node_b: PathBuf,
    podman_id: String,
    runc_id: String,
    podman_recording: PathBuf,
    runc_recording: PathBuf,
}

/// The replicas' pod name suffixes: the first runs on node a, the second on node b.
const REPLICA_SUFFIXES: [&str; 2] = ["x2x5z", "b9c4k"];

impl TwoNodes {
    #[track_caller]
    fn record(work: &Path) -> Self {
        require_root();
        require_tool("podman", "podman");
        require_tool("runc", "runc");
        prepare_crun_for_hybrid_cgroups();
        let spec = AgentSpec::from_daemonset(&deploy_dir().join("daemonset.yaml"));
        spec.check_image_holds(&syscage_bin(), work);
        let namespace = unique_name("ns");

        let node_a = work.join("node-a");
        let agent = spec.start(&node_a, "node-a", NodeRuntime::Containerd);
        let podman_id = podman_replica(work, &namespace, REPLICA_SUFFIXES[0]);
        let podman_recording = wait_for_recording(&node_a, &podman_id, &agent);
        agent.stop();

        let node_b = work.join("node-b");
        let agent = spec.start(&node_b, "node-b", NodeRuntime::CriO);
        let tasks = TaskDir::create();
        let bundle = replica_bundle(&tasks.path, &namespace, REPLICA_SUFFIXES[1]);
        let runc_id = run_replica(&bundle);
        let runc_recording = wait_for_recording(&node_b, &runc_id, &agent);
        agent.stop();
        drop(tasks);
        Self {
            node_a,
            node_b,
            podman_id,
            runc_id,
            podman_recording,
            runc_recording,
        }
    }
}

/// The readiness probe's two halves on the host: `syscage ready FILE` fails (1) before
/// `record --all --ready-file FILE` records, passes while it does, and fails again once it
/// stopped; a FILE left by an earlier run does not make the agent ready before it records.
#[test]
fn ready_file_exists_exactly_while_record_all_records() {
    let work = temp_dir();
    let ready_file = work.path().join("ready");
    let ready = || run(syscage(["ready"]).arg(&ready_file)).code();
    assert_eq!(ready(), 1, "ready before the agent ran");
    fs::write(&ready_file, "left by an earlier run\n").expect("writing a stale ready file");
    let ready_arg = ready_file.to_str().expect("a UTF-8 path").to_owned();
    let agent = RecordAll::start(work.path(), &["--ready-file", &ready_arg]);
    // The file comes right after the log line RecordAll waits for.
    let start = Instant::now();
    while fs::read_to_string(&ready_file).ok().as_deref() != Some("recording\n") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the ready file was not (re)written: {:?}\n{}",
            fs::read_to_string(&ready_file),
            agent.log_summary()
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        ready(),
        0,
        "not ready while recording\n{}",
        agent.log_summary()
    );
    let (code, log) = agent.stop();
    assert_eq!(code, 0, "record --all failed\n{log}");
    assert!(
        !ready_file.exists(),
        "the ready file outlived the recording"
    );
    assert_eq!(ready(), 1, "ready after the agent stopped");
}

/// The annotations containerd's CRI plugin writes into a pod container's config.json.
fn cri_annotations(namespace: &str, suffix: &str) -> Vec<(&'static str, String)> {
    vec![
        ("io.kubernetes.cri.container-type", "container".to_owned()),
        (
            "io.kubernetes.cri.sandbox-name",
            format!("{WORKLOAD}-{POD_TEMPLATE_HASH}-{suffix}"),
        ),
        ("io.kubernetes.cri.sandbox-namespace", namespace.to_owned()),
        (
            "io.kubernetes.cri.sandbox-uid",
            format!("0c6f4a2e-1d2b-4c5e-9f00-00000{suffix}"),
        ),
        (
            "io.kubernetes.cri.container-name",
            CONTAINER_NAME.to_owned(),
        ),
        (
            "io.kubernetes.cri.image-name",
            "docker.io/library/busybox:latest".to_owned(),
        ),
    ]
}

/// Runs one replica with Podman to its end and returns its container id. Under a permissive
/// filter, so that the recording tells the runtime's setup from the workload.
#[track_caller]
fn podman_replica(work: &Path, namespace: &str, suffix: &str) -> String {
    let image = PodmanImage::import(work);
    let permissive = work.join("permissive.json");
    write_json(&permissive, &permissive_seccomp());
    let name = unique_name("replica");
    let cidfile = work.join(format!("{name}.cid"));
    let mut cmd = podman_command();
    cmd.args(["run", "--rm", "--name", &name, "--cidfile"])
        .arg(&cidfile)
        .args(PODMAN_RUN_OPTIONS)
        .arg("--security-opt")
        .arg(format!("seccomp={}", permissive.display()));
    for (key, value) in cri_annotations(namespace, suffix) {
        cmd.arg("--annotation").arg(format!("{key}={value}"));
    }
    cmd.args([image.reference.as_str(), "/bin/sh", "-c", REPLICA_SCRIPT]);
    let output = run_ok(&mut cmd);
    assert_eq!(output, REPLICA_OUTPUT, "the Podman replica misbehaved");
    fs::read_to_string(&cidfile)
        .expect("podman wrote the container id")
        .trim()
        .to_owned()
}

/// Where containerd's shim keeps the bundles of one containerd namespace's tasks, which the
/// DaemonSet mounts; a bundle in a temporary directory would be out of the agent's sight, as it
/// never is on a node, where the CRI runtime places every bundle.
const CONTAINERD_TASK_ROOT: &str = "/run/containerd/io.containerd.runtime.v2.task";

/// A containerd namespace's task directory of this test's own, for a replica's bundle that
/// runc runs as containerd's shim would; removed on drop.
struct TaskDir {
    path: PathBuf,
}

impl TaskDir {
    #[track_caller]
    fn create() -> Self {
        let path = Path::new(CONTAINERD_TASK_ROOT).join(unique_name("tasks"));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Self { path }
    }
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A runc bundle of the replica with pod suffix `suffix`: the annotations in its config.json,
/// and a permissive filter (replace it to run the replica under a profile).
#[track_caller]
fn replica_bundle(work: &Path, namespace: &str, suffix: &str) -> Bundle {
    let bundle = Bundle::new(
        work,
        &format!("replica-{suffix}"),
        Runtime::Runc,
        REPLICA_SCRIPT,
    );
    bundle.edit_config(|config| {
        let annotations: serde_json::Map<String, Value> = cri_annotations(namespace, suffix)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), json!(v)))
            .collect();
        config["annotations"] = Value::Object(annotations);
    });
    bundle.set_seccomp(Some(&permissive_seccomp()));
    bundle
}

/// Runs the replica's bundle with runc to its end; returns its container id.
#[track_caller]
fn run_replica(bundle: &Bundle) -> String {
    let container = Container::new(Runtime::Runc, "replica");
    let outcome = bundle.run(&container);
    assert_eq!(outcome.code(), 0, "the runc replica failed\n{outcome}");
    assert_eq!(
        outcome.stdout, REPLICA_OUTPUT,
        "the runc replica misbehaved"
    );
    container.id.clone()
}

/// The files under `dir` (any depth) whose name holds `id`.
fn files_naming(dir: &Path, id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_naming(&path, id));
        } else if entry.file_name().to_string_lossy().contains(id) {
            found.push(path);
        }
    }
    found
}

/// Waits until the agent has written the recording of container `id` somewhere under
/// `output_dir` (today's flat layout or a tree by workload) and returns its path.
#[track_caller]
fn wait_for_recording(output_dir: &Path, id: &str, agent: &Agent) -> PathBuf {
    let start = Instant::now();
    loop {
        let found: Vec<PathBuf> = files_naming(output_dir, id)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".recording.json"))
            .collect();
        if let [one] = found.as_slice() {
            return one.clone();
        }
        assert!(
            found.len() < 2,
            "two recordings of one container: {found:?}"
        );
        assert!(
            start.elapsed() < PROFILE_DEADLINE,
            "the agent wrote no recording of {id} into {} within {PROFILE_DEADLINE:?}\n{}",
            output_dir.display(),
            agent.logs()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// The agent's pod as `podman run` flags, derived from the DaemonSet.
struct AgentSpec {
    image: String,
    /// Everything between `podman run -d --name NAME` and the image, except the output mount.
    flags: Vec<String>,
    /// The output hostPath's mount point inside the container (its host side is per node).
    output_mount: String,
    /// The readiness probe's command.
    probe: Vec<String>,
    /// `--entrypoint` and the arguments after the image.
    entrypoint: String,
    args: Vec<String>,
    grace_seconds: u64,
    /// `seccompProfile: RuntimeDefault`: the node's runtime decides the profile.
    runtime_default_seccomp: bool,
}

/// The runtime a "node" runs pods with, which decides what `RuntimeDefault` means there.
#[derive(Clone, Copy)]
enum NodeRuntime {
    Containerd,
    CriO,
}

impl NodeRuntime {
    /// The runtime's default seccomp profile, as syscage's RuntimeDefault data holds it.
    fn default_seccomp(self) -> PathBuf {
        let file = match self {
            Self::Containerd => "containerd-default.json",
            Self::CriO => "containers-common-seccomp.json",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../profile-gen/data")
            .join(file)
    }
}

/// The output volume's name in the DaemonSet.
const OUTPUT_VOLUME: &str = "recordings";

impl AgentSpec {
    #[track_caller]
    fn from_daemonset(path: &Path) -> Self {
        let daemonset = read_yaml(path);
        assert_eq!(daemonset["kind"], "DaemonSet", "{}", path.display());
        let pod = &daemonset["spec"]["template"]["spec"];
        let containers = pod["containers"]
            .as_array()
            .expect("the pod has containers");
        assert_eq!(containers.len(), 1, "the agent's pod has one container");
        let container = &containers[0];
        let mut flags: Vec<String> = PODMAN_RUN_OPTIONS.iter().map(|s| s.to_string()).collect();
        let mut grace_seconds = 30;
        for (key, value) in fields(pod) {
            match key {
                // Nothing to translate: the agent never talks to the API server, and a toleration
                // only decides where it is scheduled.
                "serviceAccountName" | "tolerations" | "containers" | "volumes" => {}
                "automountServiceAccountToken" => assert_eq!(value, false, "{key}"),
                "hostPID" => flags.extend(host_namespace(value, "--pid")),
                "hostIPC" => flags.extend(host_namespace(value, "--ipc")),
                // PODMAN_RUN_OPTIONS has `--network none`; a pod network gives the agent nothing
                // more (it opens no socket).
                "hostNetwork" => assert_eq!(value, false, "hostNetwork is not translated"),
                "terminationGracePeriodSeconds" => {
                    grace_seconds = value.as_u64().expect("a number of seconds");
                }
                other => panic!("daemonset.yaml: pod field {other} has no Podman translation"),
            }
        }
        let mut entrypoint = None;
        let mut args = Vec::new();
        let mut probe = Vec::new();
        let mut image = String::new();
        let mut runtime_default_seccomp = false;
        for (key, value) in fields(container) {
            match key {
                "name" | "imagePullPolicy" | "volumeMounts" => {}
                "image" => image = string(value).to_owned(),
                "command" => {
                    let command = strings(value);
                    assert_eq!(command.len(), 1, "command is the binary; args follow");
                    entrypoint = Some(command[0].clone());
                }
                "args" => args = strings(value),
                "securityContext" => {
                    let (security, runtime_default) = security_flags(value);
                    flags.extend(security);
                    runtime_default_seccomp = runtime_default;
                }
                "resources" => flags.extend(resource_flags(value)),
                "readinessProbe" => {
                    for (key, value) in fields(value) {
                        match key {
                            "exec" => probe = strings(&value["command"]),
                            "initialDelaySeconds" | "periodSeconds" | "failureThreshold" => {}
                            other => panic!("readinessProbe.{other} has no translation"),
                        }
                    }
                }
                other => panic!("daemonset.yaml: container field {other} has no translation"),
            }
        }
        let (mount_flags, output_mount) = mount_flags(pod, container);
        flags.extend(mount_flags);
        assert!(
            !probe.is_empty(),
            "the DaemonSet has no exec readinessProbe"
        );
        Self {
            image,
            flags,
            output_mount: output_mount.expect("the DaemonSet mounts the recordings volume"),
            probe,
            entrypoint: entrypoint.expect("the container names its command"),
            args,
            grace_seconds,
            runtime_default_seccomp,
        }
    }

    /// Fails unless the image holds the very binary under test (a stale image would prove
    /// nothing about this build).
    #[track_caller]
    fn check_image_holds(&self, binary: &Path, work: &Path) {
        let exists = podman_command()
            .args(["image", "exists", &self.image])
            .status()
            .expect("running podman");
        assert!(
            exists.success(),
            "no image {} in Podman's storage: run `cargo xtask image`",
            self.image
        );
        let name = unique_name("agent-image");
        run_ok(podman_command().args(["create", "--name", &name, &self.image]));
        let copy = work.join("syscage-in-image");
        let copied = podman_command()
            .args(["cp", &format!("{name}:{}", self.entrypoint)])
            .arg(&copy)
            .output()
            .expect("running podman cp");
        let _ = podman_command().args(["rm", "-f", &name]).output();
        assert!(
            copied.status.success(),
            "podman cp {}: {}",
            self.entrypoint,
            String::from_utf8_lossy(&copied.stderr)
        );
        assert!(
            fs::read(&copy).expect("reading the image's binary")
                == fs::read(binary).expect("reading the binary under test"),
            "{} holds another syscage than {}: run `cargo xtask image`",
            self.image,
            binary.display()
        );
    }

    /// Starts the agent with `output_dir` as its output hostPath and waits until its readiness
    /// probe passes.
    #[track_caller]
    fn start(&self, output_dir: &Path, node: &str, runtime: NodeRuntime) -> Agent {
        fs::create_dir_all(output_dir).expect("creating the node's output directory");
        let agent = Agent {
            name: unique_name(node),
            grace_seconds: self.grace_seconds,
        };
        let mut cmd = podman_command();
        cmd.args(["run", "-d", "--name", &agent.name])
            .args(&self.flags)
            .arg("--volume")
            .arg(format!("{}:{}", output_dir.display(), self.output_mount));
        if self.runtime_default_seccomp {
            let profile = runtime.default_seccomp();
            assert!(profile.is_file(), "{} is missing", profile.display());
            cmd.arg("--security-opt")
                .arg(format!("seccomp={}", profile.display()));
        }
        cmd.args(["--entrypoint", &self.entrypoint, &self.image])
            .args(&self.args)
            .stdin(Stdio::null());
        run_ok(&mut cmd);
        let start = Instant::now();
        loop {
            let probe = podman_command()
                .args(["exec", &agent.name])
                .args(&self.probe)
                .output()
                .expect("running the readiness probe");
            if probe.status.success() {
                return agent;
            }
            assert!(
                agent.running(),
                "the agent ended before it was ready\n{}",
                agent.logs()
            );
            assert!(
                start.elapsed() < READY_DEADLINE,
                "the agent was not ready within {READY_DEADLINE:?}\n{}",
                agent.logs()
            );
            thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The pairs of a YAML mapping.
fn fields(value: &Value) -> impl Iterator<Item = (&str, &Value)> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("expected a mapping, got {value}"))
        .iter()
        .map(|(k, v)| (k.as_str(), v))
}

fn string(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {value}"))
        .iter()
        .map(|v| string(v).to_owned())
        .collect()
}

fn host_namespace(value: &Value, flag: &str) -> Vec<String> {
    match value.as_bool() {
        Some(true) => vec![format!("{flag}=host")],
        Some(false) => Vec::new(),
        None => panic!("{flag}: expected a boolean, got {value}"),
    }
}

/// The container's securityContext as Podman flags, and whether its seccomp profile is
/// RuntimeDefault (which the node's runtime decides); any field without a translation fails.
fn security_flags(context: &Value) -> (Vec<String>, bool) {
    let mut flags = Vec::new();
    let mut runtime_default = false;
    let user = context["runAsUser"].as_u64();
    let group = context["runAsGroup"].as_u64();
    for (key, value) in fields(context) {
        match key {
            "privileged" => flags.extend(value.as_bool().unwrap().then(|| "--privileged".into())),
            "runAsUser" | "runAsGroup" => {}
            "runAsNonRoot" => {
                if value.as_bool() == Some(true) {
                    assert_ne!(user, Some(0), "runAsNonRoot with runAsUser 0");
                }
            }
            "allowPrivilegeEscalation" => {
                if value.as_bool() == Some(false) {
                    flags.extend(["--security-opt".into(), "no-new-privileges".into()]);
                }
            }
            "readOnlyRootFilesystem" => {
                flags.extend(value.as_bool().unwrap().then(|| "--read-only".into()));
            }
            "capabilities" => {
                for (kind, caps) in fields(value) {
                    let flag = match kind {
                        "drop" => "--cap-drop",
                        "add" => "--cap-add",
                        other => panic!("capabilities.{other} has no translation"),
                    };
                    for cap in strings(caps) {
                        flags.extend([flag.to_owned(), cap]);
                    }
                }
            }
            "seccompProfile" => match string(&value["type"]) {
                "Unconfined" => {
                    flags.extend(["--security-opt".into(), "seccomp=unconfined".into()])
                }
                "RuntimeDefault" => runtime_default = true,
                other => panic!("seccompProfile type {other} has no translation"),
            },
            other => panic!("securityContext.{other} has no translation"),
        }
    }
    if let Some(user) = user {
        flags.extend(["--user".into(), format!("{user}:{}", group.unwrap_or(user))]);
    }
    (flags, runtime_default)
}

/// The limits as Podman flags (requests only place a pod; Podman has nothing to place).
fn resource_flags(resources: &Value) -> Vec<String> {
    let mut flags = Vec::new();
    for (key, value) in fields(resources) {
        match key {
            "requests" => {}
            "limits" => {
                for (resource, quantity) in fields(value) {
                    let quantity = string(quantity);
                    match resource {
                        "memory" => flags.extend(["--memory".into(), podman_bytes(quantity)]),
                        "cpu" => flags.extend(["--cpus".into(), podman_cpus(quantity)]),
                        other => panic!("limits.{other} has no translation"),
                    }
                }
            }
            other => panic!("resources.{other} has no translation"),
        }
    }
    flags
}

/// `256Mi` -> `256m` (Podman's suffixes are binary).
fn podman_bytes(quantity: &str) -> String {
    for (suffix, podman) in [("Ki", "k"), ("Mi", "m"), ("Gi", "g")] {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return format!("{number}{podman}");
        }
    }
    panic!("a memory quantity in Ki, Mi or Gi, got {quantity}")
}

/// `500m` -> `0.5`, `2` -> `2`.
fn podman_cpus(quantity: &str) -> String {
    match quantity.strip_suffix('m') {
        Some(milli) => {
            let milli: f64 = milli.parse().expect("millicores");
            format!("{}", milli / 1000.0)
        }
        None => quantity.to_owned(),
    }
}

/// The volume mounts as Podman flags, except the output volume, whose mount point is returned.
fn mount_flags(pod: &Value, container: &Value) -> (Vec<String>, Option<String>) {
    let mut flags = Vec::new();
    let mut output = None;
    for mount in container["volumeMounts"].as_array().expect("volumeMounts") {
        let name = string(&mount["name"]);
        let path = string(&mount["mountPath"]).to_owned();
        let volume = pod["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("volumeMount {name} has no volume"));
        let mut options = Vec::new();
        for (key, value) in fields(mount) {
            match key {
                "name" | "mountPath" => {}
                "readOnly" => {
                    if value.as_bool() == Some(true) {
                        options.push("ro");
                    }
                }
                "mountPropagation" => options.push(match string(value) {
                    "None" => "rprivate",
                    "HostToContainer" => "rslave",
                    "Bidirectional" => "rshared",
                    other => panic!("mountPropagation {other}"),
                }),
                other => panic!("volumeMount.{other} has no translation"),
            }
        }
        if name == OUTPUT_VOLUME {
            assert!(
                options.is_empty(),
                "the output volume is a plain writable mount"
            );
            output = Some(path);
        } else if let Some(host) = volume.get("hostPath") {
            let host_path = string(&host["path"]);
            match host["type"].as_str() {
                Some("Directory") => assert!(
                    Path::new(host_path).is_dir(),
                    "hostPath {host_path} (type Directory) does not exist here"
                ),
                // What the kubelet does for DirectoryOrCreate.
                Some("DirectoryOrCreate") => {
                    fs::create_dir_all(host_path).expect("creating a DirectoryOrCreate hostPath")
                }
                other => panic!("hostPath type {other:?} has no translation"),
            }
            let mut flag = format!("{host_path}:{path}");
            if !options.is_empty() {
                flag = format!("{flag}:{}", options.join(","));
            }
            flags.extend(["--volume".into(), flag]);
        } else if let Some(empty) = volume.get("emptyDir") {
            assert_eq!(empty["medium"], "Memory", "emptyDir {name}: only Memory");
            let size = podman_bytes(string(&empty["sizeLimit"]));
            flags.extend(["--tmpfs".into(), format!("{path}:size={size}")]);
        } else {
            panic!("volume {name} is neither a hostPath nor an emptyDir");
        }
    }
    (flags, output)
}

/// A running agent container; removed on drop.
struct Agent {
    name: String,
    grace_seconds: u64,
}

impl Agent {
    fn running(&self) -> bool {
        podman_command()
            .args(["inspect", "--format", "{{.State.Running}}", &self.name])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "true")
    }

    fn logs(&self) -> String {
        let output = podman_command()
            .args(["logs", &self.name])
            .output()
            .expect("running podman logs");
        format!(
            "--- the agent's log ---\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Stops it the way the kubelet does (SIGTERM, then SIGKILL after the grace period) and
    /// checks that it exited cleanly.
    #[track_caller]
    fn stop(self) {
        run_ok(podman_command().args([
            "stop",
            "--time",
            &self.grace_seconds.to_string(),
            &self.name,
        ]));
        let code = run_ok(podman_command().args([
            "inspect",
            "--format",
            "{{.State.ExitCode}}",
            &self.name,
        ]));
        assert_eq!(
            code.trim(),
            "0",
            "the agent did not exit cleanly on SIGTERM\n{}",
            self.logs()
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = podman_command()
            .args(["rm", "-f", "--ignore", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

/// The whole path: the two nodes' trees (written by workload from the replicas' Kubernetes
/// annotations) merge into one profile of `web`'s `app` container, and that profile runs both
/// replicas under runc.
#[test]
fn two_nodes_merge_into_one_workload_profile_that_runs_both_replicas_under_runc() {
    let work = temp_dir();
    let nodes = TwoNodes::record(work.path());
    let mut namespace = String::new();
    for (recording, node, suffix) in [
        (&nodes.podman_recording, &nodes.node_a, REPLICA_SUFFIXES[0]),
        (&nodes.runc_recording, &nodes.node_b, REPLICA_SUFFIXES[1]),
    ] {
        let identity = &read_json(recording)["target"]["kubernetes"];
        assert_eq!(identity["workload"], WORKLOAD, "{}", recording.display());
        assert_eq!(
            identity["container"],
            CONTAINER_NAME,
            "{}",
            recording.display()
        );
        assert_eq!(
            identity["pod"],
            format!("{WORKLOAD}-{POD_TEMPLATE_HASH}-{suffix}"),
            "{}",
            recording.display()
        );
        namespace = string(&identity["namespace"]).to_owned();
        let tree = node.join(&namespace).join(WORKLOAD).join(CONTAINER_NAME);
        assert!(
            recording.starts_with(&tree),
            "{} is not under {}",
            recording.display(),
            tree.display()
        );
    }
    let merged = work.path().join("merged");
    let outcome = run(syscage(["merge", "--workloads"])
        .arg(&nodes.node_a)
        .arg(&nodes.node_b)
        .arg("--output-dir")
        .arg(&merged));
    outcome.assert_code(0);
    let group = merged.join(&namespace).join(WORKLOAD);
    let merged_recording = read_json(&group.join(format!("{CONTAINER_NAME}.recording.json")));
    assert_eq!(
        merged_recording["runs"].as_array().map(Vec::len),
        Some(2),
        "both replicas' recordings are merged\n{outcome}"
    );
    let profile = read_json(&group.join(format!("{CONTAINER_NAME}.json")));
    for suffix in REPLICA_SUFFIXES {
        let bundle = replica_bundle(work.path(), &namespace, &format!("{suffix}-enforced"));
        bundle.set_seccomp(Some(&profile));
        run_replica(&bundle);
    }
}
