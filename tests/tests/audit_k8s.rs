//! `syscage audit --all` on Kubernetes containers, with real runc: a container whose bundle
//! carries containerd's CRI annotations runs under a LOG-mode profile made from a recording of
//! part of its work; the audit writes its denials under `DIR/<namespace>/<workload>/<container>/`
//! with `target.kubernetes` filled, leaves out a container of another namespace (`--namespace`)
//! and the pod's sandbox; and `merge --workloads` of the record tree and the audit tree gives the
//! workload a profile that allows what was audited. Also `audit --container`, whose recording
//! carries the identity too.
//!
//! Needs root, runc and busybox-static. Every namespace and container name is unique to this
//! test process, so colleagues' containers audited at the same time do not matter.

mod common;

use std::{
    collections::BTreeSet,
    fs,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::Duration,
};

use common::{
    annotate, containerd_annotations,
    containers::{permissive_seccomp, run_ok, Bundle, Container, Runtime},
    files_below, read_json, recording_names, sandbox_annotations, syscage, temp_dir, unique_name,
    wait_for_outputs, Audit, RecordAll, PROFILE_DEADLINE,
};
use serde_json::Value;

/// What the containers do: the mkdir and rmdir only when `/all` exists (what the LOG profile,
/// made from a run without it, lacks); the sleep keeps them running while syscage reads their
/// runtime's state.
const SCRIPT: &str = "[ -e /all ] && mkdir /tmp/m && rmdir /tmp/m; sleep 1";

/// The calls the partial run does not make and the full run does.
const AUDITED: [&str; 2] = ["mkdir", "rmdir"];

const POD: &str = "web-7d4b9c6f8-x2x5z";

/// A runc bundle running [`SCRIPT`] as `annotations` say.
fn annotated_bundle(work: &Path, tag: &str, annotations: &[(String, String)]) -> Bundle {
    let bundle = Bundle::new(work, tag, Runtime::Runc, SCRIPT);
    annotate(&bundle, annotations);
    bundle
}

fn set_all(bundle: &Bundle, all: bool) {
    let flag = bundle.rootfs().join("all");
    if all {
        fs::write(&flag, "").expect("creating /all");
    } else {
        let _ = fs::remove_file(&flag);
    }
}

/// `syscage generate --format log --from RECORDING`.
#[track_caller]
fn log_profile(work: &Path, recording: &Path) -> Value {
    let out = work.join("warn.json");
    let mut cmd = syscage(["generate", "--format", "log", "-o"]);
    cmd.arg(&out).arg("--from").arg(recording);
    common::run(&mut cmd).assert_code(0);
    let profile = read_json(&out);
    assert_eq!(profile["defaultAction"], "SCMP_ACT_LOG", "{profile:#}");
    profile
}

#[track_caller]
fn assert_identity(recording: &Value, namespace: &str, id: &str) {
    let target = &recording["target"];
    assert_eq!(recording["source"], "seccomp-log", "{recording:#}");
    assert_eq!(target["container_id"], id, "{target:#}");
    assert_eq!(target["runtime"], "runc", "{target:#}");
    assert_eq!(target["kubernetes"]["namespace"], namespace, "{target:#}");
    assert_eq!(target["kubernetes"]["workload"], "web", "{target:#}");
    assert_eq!(target["kubernetes"]["pod"], POD, "{target:#}");
    assert_eq!(target["kubernetes"]["container"], "app", "{target:#}");
}

#[test]
fn audit_all_writes_kubernetes_denials_by_workload_and_merge_widens_the_workload() {
    let work = temp_dir();
    let ns = unique_name("auditk8s");
    let other_ns = unique_name("elsewhere");
    let app = annotated_bundle(work.path(), "app", &containerd_annotations(&ns, POD, "app"));

    // Record: the run without /all, by `record --all`, into the record tree.
    app.set_seccomp(Some(&permissive_seccomp()));
    let recorder = RecordAll::start(work.path(), &["--namespace", &ns]);
    let recorded = Container::new(Runtime::Runc, "recorded");
    app.run(&recorded).assert_code(0);
    let record_dir = recorder.output_dir.join(&ns).join("web").join("app");
    let (_, _, recording) = wait_for_outputs(&record_dir, &recorded.id, PROFILE_DEADLINE, &|| {
        format!(
            "{:?}\n{}",
            files_below(&recorder.output_dir),
            recorder.log_summary()
        )
    });
    let (code, log) = recorder.stop();
    assert!([0, 119].contains(&code), "record --all failed\n{log}");
    let recorded_names = recording_names(&recording);
    for name in AUDITED {
        assert!(
            !recorded_names.contains(name),
            "the partial run already made {name}: nothing left to audit"
        );
    }
    let warn = log_profile(
        work.path(),
        &record_dir.join(format!("{}.recording.json", recorded.id)),
    );

    // Audit: the full run under the LOG profile, beside a container of another namespace and
    // the pod's sandbox, both under the same profile.
    let other = annotated_bundle(
        work.path(),
        "other",
        &containerd_annotations(&other_ns, POD, "app"),
    );
    let sandbox = annotated_bundle(work.path(), "sandbox", &sandbox_annotations(&ns, POD));
    for bundle in [&app, &other, &sandbox] {
        bundle.set_seccomp(Some(&warn));
        set_all(bundle, true);
    }
    let audit_dir = work.path().join("denials");
    fs::create_dir(&audit_dir).unwrap();
    let audit = Audit::start(&[
        "--all",
        "--namespace",
        &ns,
        "--output-dir",
        audit_dir.to_str().unwrap(),
    ]);
    let audited = Container::new(Runtime::Runc, "audited");
    let outsider = Container::new(Runtime::Runc, "outsider");
    let pause = Container::new(Runtime::Runc, "pause");
    thread::scope(|scope| {
        let runs = [(&app, &audited), (&other, &outsider), (&sandbox, &pause)]
            .map(|(bundle, container)| scope.spawn(move || bundle.run(container)));
        for run in runs {
            run.join()
                .expect("a container thread panicked")
                .assert_code(0);
        }
    });
    thread::sleep(Duration::from_millis(500));
    let outcome = audit.finish(Some(libc::SIGINT));
    assert!(
        [0, 119].contains(&outcome.code()),
        "audit --all failed\n{outcome}"
    );
    let files = files_below(&audit_dir);
    let expected = format!("{ns}/web/app/{}.denials.json", audited.id);
    assert!(
        files.contains(&expected),
        "no {expected}\n{files:?}\n{outcome}"
    );
    for (id, why) in [
        (&outsider.id, "another namespace's container"),
        (&pause.id, "the pod's sandbox"),
    ] {
        let written: Vec<&String> = files.iter().filter(|f| f.contains(id.as_str())).collect();
        assert!(
            written.is_empty(),
            "{why} was written: {written:?}\n{outcome}"
        );
    }
    let denials = read_json(&audit_dir.join(&expected));
    assert_identity(&denials, &ns, &audited.id);
    let denied = recording_names(&denials);
    for name in AUDITED {
        assert!(
            denied.contains(name),
            "the audit lacks {name}: {denied:?}\n{outcome}"
        );
    }

    // Merge: both trees, grouped by workload, give one profile that allows what was audited.
    let merged_dir = work.path().join("merged");
    let mut merge = syscage(["merge", "--workloads"]);
    merge
        .arg(work.path().join("profiles"))
        .arg(&audit_dir)
        .arg("--output-dir")
        .arg(&merged_dir);
    let merged_outcome = common::run(&mut merge);
    merged_outcome.assert_code(0);
    let merged_recording = read_json(&merged_dir.join(&ns).join("web").join("app.recording.json"));
    assert_eq!(
        merged_recording["runs"].as_array().map(Vec::len),
        Some(2),
        "the recorded run and the audited one\n{merged_outcome}"
    );
    let profile = read_json(&merged_dir.join(&ns).join("web").join("app.json"));
    let allowed: BTreeSet<String> = profile["syscalls"]
        .as_array()
        .expect("the profile has rules")
        .iter()
        .filter(|rule| rule["action"] == "SCMP_ACT_ALLOW")
        .flat_map(|rule| rule["names"].as_array().cloned().unwrap_or_default())
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect();
    for name in &denied {
        assert!(
            allowed.contains(name),
            "the workload's profile does not allow {name}\n{merged_outcome}"
        );
    }
}

/// `audit --container` names the container's Kubernetes identity in its recording.
#[test]
fn audit_container_fills_the_kubernetes_identity() {
    let work = temp_dir();
    let ns = unique_name("auditk8s");
    let bundle = annotated_bundle(work.path(), "one", &containerd_annotations(&ns, POD, "app"));
    set_all(&bundle, true);
    bundle.set_seccomp(Some(&serde_json::json!({
        "defaultAction": "SCMP_ACT_LOG",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": []
    })));
    // Created first: its runtime's state (and bundle) exist before syscage looks.
    let container = Container::new(Runtime::Runc, "one");
    let mut create = Command::new("runc");
    create
        .args(["create", "--bundle"])
        .arg(&bundle.dir)
        .arg(&container.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    assert!(create.status().expect("running runc create").success());
    let out = work.path().join("one.denials.json");
    let audit = Audit::start(&["--container", &container.id, "-o", out.to_str().unwrap()]);
    run_ok(Command::new("runc").args(["start", &container.id]));
    let outcome = audit.finish(None);
    outcome.assert_code(0);
    let recording = read_json(&out);
    assert_identity(&recording, &ns, &container.id);
    assert!(
        recording_names(&recording).contains("mkdir"),
        "{recording:#}\n{outcome}"
    );
}
