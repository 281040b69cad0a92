//! Merging and generating by Kubernetes workload (README "Merging a workload's recordings"):
//! `merge --workloads` over the trees two "nodes" wrote, and `generate --workloads` over the
//! merged tree, from real recordings made by `syscage record` whose `target.kubernetes` is set
//! as `record --all` sets it for an annotated container.

mod common;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use common::{
    assert_one_line_error, assert_profile_covers_recording, default_recording_path, exerciser,
    read_json, record, run, run_with_profile, syscage, temp_dir, validate_against_crd, write_json,
    Outcome,
};
use serde_json::{json, Value};

/// A pod's identity as `record --all` writes it into `target.kubernetes`.
fn identity(namespace: &str, pod: &str, workload: &str, container: &str) -> Value {
    json!({"namespace": namespace, "pod": pod, "pod_uid": format!("uid-{pod}"),
           "container": container, "workload": workload, "image": "example/app:1"})
}

/// Records `command` with syscage and returns its recording with `target` set to a container
/// of `kubernetes` (none: a recording without Kubernetes identity).
fn recording_of(dir: &Path, name: &str, command: &[&str], kubernetes: Option<Value>) -> Value {
    let (outcome, profile) = record(dir, name, command);
    outcome.assert_code(0);
    let mut recording = read_json(&default_recording_path(&profile));
    if let Some(kubernetes) = kubernetes {
        recording["target"] = json!({
            "cgroup": format!("/kubepods.slice/cri-containerd-{name}.scope"),
            "container_id": format!("{name}0123456789abcdef"),
            "runtime": "containerd",
            "kubernetes": kubernetes,
        });
    }
    recording
}

/// Writes `value` to `dir/relative`, creating the directories.
fn put(dir: &Path, relative: &str, value: &Value) -> PathBuf {
    let path = dir.join(relative);
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    write_json(&path, value);
    path
}

/// `(arch, nr)` of each syscall of a recording.
fn syscall_keys(recording: &Value) -> BTreeSet<(String, u64)> {
    common::recording_syscalls(recording)
        .iter()
        .map(|s| {
            let arch = s["arch"].as_str().unwrap_or_default().to_owned();
            (arch, s["nr"].as_u64().expect("nr"))
        })
        .collect()
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).expect("listing") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                out.insert(relative.display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Two nodes' trees: two replicas of shop/web's container `app` (one per node, different
/// commands, so some syscalls are seen by one replica only), shop/db's `pg` on node B, and a
/// recording without Kubernetes identity on node A. Profiles lie beside the recordings, as
/// `record --all` writes them.
struct Cluster {
    dir: tempfile::TempDir,
    web_a: Value,
    web_b: Value,
    db: Value,
}

impl Cluster {
    fn new() -> Self {
        let dir = temp_dir();
        let work = dir.path().join("work");
        fs::create_dir(&work).expect("mkdir");
        let marker = work.join("made-by-replica-b");
        let web_a = recording_of(
            &work,
            "weba",
            &[exerciser(), "all"],
            Some(identity("shop", "web-7d4b9c6f8-x2x5z", "web", "app")),
        );
        let web_b = recording_of(
            &work,
            "webb",
            &[exerciser(), "mkdir", marker.to_str().expect("UTF-8")],
            Some(identity("shop", "web-7d4b9c6f8-q9z8w", "web", "app")),
        );
        let db = recording_of(
            &work,
            "db",
            &[exerciser(), "whoami"],
            Some(identity("shop", "db-0", "db", "pg")),
        );
        let plain = recording_of(&work, "plain", &[exerciser(), "whoami"], None);
        let profile = read_json(&work.join("weba.json"));
        put(dir.path(), "node-a/shop/web/app/weba0123.json", &web_a);
        put(
            dir.path(),
            "node-a/shop/web/app/weba0123.profile.json",
            &profile,
        );
        put(dir.path(), "node-a/plain0123.json", &plain);
        put(dir.path(), "node-b/shop/web/app/webb0123.json", &web_b);
        put(
            dir.path(),
            "node-b/nested/deeper/shop/db/pg/db0123.json",
            &db,
        );
        fs::write(dir.path().join("node-b/README.txt"), "copied from node b\n").expect("write");
        Self {
            dir,
            web_a,
            web_b,
            db,
        }
    }

    fn node(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `syscage merge --workloads node-a node-b --output-dir OUT`.
    fn merge(&self, out: &Path) -> Outcome {
        let mut cmd = syscage(["merge", "--workloads"]);
        cmd.arg(self.node("node-a"))
            .arg(self.node("node-b"))
            .arg("--output-dir")
            .arg(out);
        run(&mut cmd)
    }
}

/// Two replicas recorded on two nodes merge into one profile per workload's container, with
/// each run's pod kept and the coverage counted; that profile runs what both replicas ran.
#[test]
fn merge_by_workload_unites_replicas_from_two_nodes() {
    let cluster = Cluster::new();
    let out = cluster.dir.path().join("merged");
    let outcome = cluster.merge(&out);
    outcome.assert_code(0);
    assert_eq!(
        files_under(&out),
        BTreeSet::from(
            [
                "shop/db/pg.json",
                "shop/db/pg.recording.json",
                "shop/web/app.json",
                "shop/web/app.recording.json"
            ]
            .map(String::from)
        ),
        "{outcome}"
    );
    assert!(
        outcome
            .stderr
            .contains("plain0123.json: no Kubernetes identity"),
        "the recording without identity is reported\n{outcome}"
    );

    // The merged recording: both runs, each with its pod; coverage as the two replicas saw it.
    let merged = read_json(&out.join("shop/web/app.recording.json"));
    assert_eq!(merged["format"], "syscage-merged-recording");
    let pods: BTreeSet<&str> = merged["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["target"]["kubernetes"]["pod"].as_str().expect("pod"))
        .collect();
    assert_eq!(
        pods,
        BTreeSet::from(["web-7d4b9c6f8-q9z8w", "web-7d4b9c6f8-x2x5z"])
    );
    let (a, b) = (syscall_keys(&cluster.web_a), syscall_keys(&cluster.web_b));
    let union: BTreeSet<_> = a.union(&b).cloned().collect();
    let in_both: BTreeSet<_> = a.intersection(&b).cloned().collect();
    let coverage: Vec<((String, u64), u64)> = merged["syscalls"]
        .as_array()
        .expect("syscalls")
        .iter()
        .map(|s| {
            let arch = s["arch"].as_str().unwrap_or_default().to_owned();
            (
                (arch, s["nr"].as_u64().expect("nr")),
                s["seen_in"].as_u64().expect("seen_in"),
            )
        })
        .collect();
    let expected: Vec<((String, u64), u64)> = union
        .iter()
        .map(|k| (k.clone(), if in_both.contains(k) { 2 } else { 1 }))
        .collect();
    let sorted = |mut v: Vec<((String, u64), u64)>| {
        v.sort();
        v
    };
    assert_eq!(sorted(coverage), sorted(expected));
    assert!(
        union.len() > in_both.len(),
        "the replicas made different syscalls"
    );

    // The summary: one sorted line per workload's container.
    let db_count = syscall_keys(&cluster.db).len();
    let lines: Vec<Vec<&str>> = outcome
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (u, p, d) = (
        union.len().to_string(),
        (union.len() - in_both.len()).to_string(),
        db_count.to_string(),
    );
    assert_eq!(
        lines,
        [
            vec![
                "NAMESPACE",
                "WORKLOAD",
                "CONTAINER",
                "RUNS",
                "REPLICAS",
                "SYSCALLS",
                "NOT_IN_EVERY_RUN"
            ],
            vec!["shop", "db", "pg", "1", "1", d.as_str(), "0"],
            vec!["shop", "web", "app", "2", "2", u.as_str(), p.as_str()],
        ],
        "{outcome}"
    );

    // The profile allows what either replica did, and runs both replicas' commands.
    let profile_path = out.join("shop/web/app.json");
    let profile = read_json(&profile_path);
    assert_profile_covers_recording(&profile, &cluster.web_a, "replica a");
    assert_profile_covers_recording(&profile, &cluster.web_b, "replica b");
    let all = run_with_profile(&profile_path, &[exerciser(), "all"]);
    all.assert_code(0);
    let unrestricted = run(std::process::Command::new(exerciser()).arg("all"));
    let lines = |text: &str| text.lines().map(str::to_owned).collect::<BTreeSet<_>>();
    assert_eq!(lines(&all.stdout), lines(&unrestricted.stdout), "{all}");
    let work = temp_dir();
    let made = work.path().join("made");
    let mkdir = run_with_profile(
        &profile_path,
        &[exerciser(), "mkdir", made.to_str().expect("UTF-8")],
    );
    mkdir.assert_code(0);
    assert_eq!(mkdir.stdout.trim(), "ok", "{mkdir}");

    // Merging the merged tree again (it holds merged recordings) gives the same profiles.
    let again = cluster.dir.path().join("again");
    let mut cmd = syscage(["merge", "--workloads"]);
    cmd.arg(&out).arg("--output-dir").arg(&again);
    run(&mut cmd).assert_code(0);
    for file in ["shop/web/app.json", "shop/db/pg.json"] {
        assert_eq!(
            read_json(&again.join(file)),
            read_json(&out.join(file)),
            "{file}"
        );
    }
}

/// `generate --workloads` over the merged tree: SPO resources named after the workload and
/// container that the CRD schema accepts, and Localhost files laid out as the kubelet's
/// seccomp directory, the same profiles `merge` wrote.
#[test]
fn generate_by_workload_names_outputs_after_workload_and_container() {
    let cluster = Cluster::new();
    let merged = cluster.dir.path().join("merged");
    cluster.merge(&merged).assert_code(0);
    let generate = |format: &str, out: &Path, extra: &[&str]| {
        let mut cmd = syscage(["generate", "--workloads"]);
        cmd.arg(&merged)
            .args(["--format", format])
            .arg("--output-dir")
            .arg(out)
            .args(extra);
        run(&mut cmd)
    };

    let spo = cluster.dir.path().join("spo");
    let outcome = generate("spo", &spo, &[]);
    outcome.assert_code(0);
    assert_eq!(
        files_under(&spo),
        BTreeSet::from(["shop/db-pg.yaml", "shop/web-app.yaml"].map(String::from)),
        "{outcome}"
    );
    let web_yaml = fs::read_to_string(spo.join("shop/web-app.yaml")).expect("reading");
    assert!(web_yaml.contains("name: shop-web-app"), "{web_yaml}");
    assert!(
        !web_yaml.contains("namespace:"),
        "cluster-scoped\n{web_yaml}"
    );
    for file in ["shop/db-pg.yaml", "shop/web-app.yaml"] {
        let (valid, said) = validate_against_crd(&spo.join(file));
        assert!(valid, "{file}: the CRD schema refuses it:\n{said}");
    }
    assert!(
        outcome.stdout.lines().any(|l| {
            l.split_whitespace().collect::<Vec<_>>()
                == [
                    "shop",
                    "web",
                    "app",
                    "shop/web-app.yaml",
                    "operator/shop-web-app.json",
                ]
        }),
        "{outcome}"
    );

    // Namespaced resources for SPO before v0.9.0.
    let spo_ns = cluster.dir.path().join("spo-ns");
    generate("spo", &spo_ns, &["--spo-namespaced"]).assert_code(0);
    let web_yaml = fs::read_to_string(spo_ns.join("shop/web-app.yaml")).expect("reading");
    assert!(
        web_yaml.contains("name: web-app") && web_yaml.contains("namespace: shop"),
        "{web_yaml}"
    );
    let (valid, said) = validate_against_crd(&spo_ns.join("shop/web-app.yaml"));
    assert!(valid, "the CRD schema refuses it:\n{said}");

    let localhost = cluster.dir.path().join("seccomp");
    let outcome = generate("localhost", &localhost, &[]);
    outcome.assert_code(0);
    assert_eq!(
        files_under(&localhost),
        BTreeSet::from(["syscage/shop/db-pg.json", "syscage/shop/web-app.json"].map(String::from)),
        "{outcome}"
    );
    assert!(
        outcome.stdout.lines().any(|l| {
            l.split_whitespace().collect::<Vec<_>>()
                == [
                    "shop",
                    "web",
                    "app",
                    "syscage/shop/web-app.json",
                    "syscage/shop/web-app.json",
                ]
        }),
        "{outcome}"
    );
    let web = localhost.join("syscage/shop/web-app.json");
    assert_eq!(
        read_json(&web),
        read_json(&merged.join("shop/web/app.json"))
    );
    run_with_profile(&web, &[exerciser(), "all"]).assert_code(0);

    // Straight from the nodes' trees, grouped and merged the same way: the same profiles.
    let direct = cluster.dir.path().join("direct");
    let mut cmd = syscage(["generate", "--workloads"]);
    cmd.arg(cluster.node("node-a"))
        .arg(cluster.node("node-b"))
        .args(["--format", "localhost", "--output-dir"])
        .arg(&direct);
    run(&mut cmd).assert_code(0);
    for file in ["syscage/shop/db-pg.json", "syscage/shop/web-app.json"] {
        assert_eq!(
            read_json(&direct.join(file)),
            read_json(&localhost.join(file)),
            "{file}"
        );
    }

    // Other formats are refused with what to use instead; nothing is written.
    let oci = cluster.dir.path().join("oci");
    let outcome = generate("oci", &oci, &[]);
    assert_one_line_error(&outcome, 125);
    assert!(outcome.stderr.contains("merge --workloads"), "{outcome}");
    assert!(!oci.exists());
}

/// Bad trees: one line naming the file (or the workload), exit 124, and no output directory.
#[test]
fn bad_trees_are_refused_by_name_before_any_output() {
    let cluster = Cluster::new();
    let refused = |what: &str, expected: &str| {
        let out = cluster.dir.path().join("out");
        let outcome = cluster.merge(&out);
        assert_one_line_error(&outcome, 124);
        assert!(
            outcome.stderr.contains(expected),
            "{what}: expected {expected:?}\n{outcome}"
        );
        assert!(!out.exists(), "{what}: nothing may be written\n{outcome}");
    };

    // Replicas of two architectures.
    let mut arm = cluster.web_b.clone();
    arm["arch"] = json!("SCMP_ARCH_AARCH64");
    arm["machine"] = json!("aarch64");
    for s in arm["syscalls"].as_array_mut().expect("syscalls") {
        s["name"] = Value::Null;
    }
    let arm_path = put(cluster.dir.path(), "node-b/shop/web/app/arm.json", &arm);
    refused(
        "two architectures",
        &format!(
            "workload shop/web/app: {}: arch: SCMP_ARCH_AARCH64",
            arm_path.display()
        ),
    );
    fs::remove_file(&arm_path).expect("rm");

    // A name that would lead a write out of the output directory.
    let mut escape = cluster.web_b.clone();
    escape["target"]["kubernetes"]["workload"] = json!("../../etc");
    let escape_path = put(cluster.dir.path(), "node-b/escape.json", &escape);
    refused(
        "a workload name with ..",
        &format!(
            "{}: target.kubernetes.workload: \"../../etc\" is not a Kubernetes name",
            escape_path.display()
        ),
    );
    fs::remove_file(&escape_path).expect("rm");

    // A broken recording, whatever its name.
    let broken = put(
        cluster.dir.path(),
        "node-a/whatever",
        &json!({"format": "syscage-recording", "version": 1}),
    );
    refused(
        "a broken recording",
        &format!("syscage: {}: ", broken.display()),
    );
    fs::remove_file(&broken).expect("rm");

    // A link leading out of the tree.
    let outside = temp_dir();
    put(outside.path(), "r.json", &cluster.web_b);
    let link = cluster.node("node-b").join("shop/elsewhere");
    std::os::unix::fs::symlink(outside.path(), &link).expect("symlink");
    refused(
        "a link out of the tree",
        &format!(
            "{}: a symbolic link that leads out of the tree",
            link.display()
        ),
    );
    fs::remove_file(&link).expect("rm");

    // No recording with Kubernetes identity at all.
    let empty = temp_dir();
    put(
        empty.path(),
        "plain.json",
        &read_json(&cluster.node("node-a").join("plain0123.json")),
    );
    let out = cluster.dir.path().join("out");
    let mut cmd = syscage(["merge", "--workloads"]);
    cmd.arg(empty.path()).arg("--output-dir").arg(&out);
    let outcome = run(&mut cmd);
    assert_one_line_error(&outcome, 124);
    assert!(
        outcome
            .stderr
            .contains("no recording with Kubernetes identity"),
        "{outcome}"
    );

    // An output directory inside an input tree would be read back next time.
    let inside = cluster.node("node-a").join("merged");
    let outcome = cluster.merge(&inside);
    assert_one_line_error(&outcome, 125);
    assert!(outcome.stderr.contains("overlap"), "{outcome}");
    assert!(!inside.exists());

    // With the bad files gone the same trees merge.
    cluster.merge(&out).assert_code(0);
}
