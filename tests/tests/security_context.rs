//! The whole securityContext from recorded security facts, through the real binary:
//! `generate --format localhost` (validated against the Kubernetes schema), `generate --format
//! oci-process`, `diff` between releases and against runtime-default, and `run
//! --capabilities-from` giving a command exactly the recorded capabilities in the real kernel,
//! and a busybox httpd in runc under the generated `process` fragment.
//!
//! The recordings are written by hand (the fixture's syscalls plus a `security` object), so
//! each test states the facts it turns into output.

mod common;

use std::path::{Path, PathBuf};

use common::{kubernetes_validate, read_json, run, syscage, temp_dir, write_json};
use serde_json::{json, Value};

const FIXTURE: &str = include_str!("../../profile-gen/tests/fixtures/recording-v1.json");

/// A recording of the fixture's syscalls with `security` facts (none when `Value::Null`).
fn recording_with(dir: &Path, name: &str, security: Value) -> PathBuf {
    let mut rec: Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    if !security.is_null() {
        rec["security"] = security;
    }
    let path = dir.join(format!("{name}.recording.json"));
    write_json(&path, &rec);
    path
}

fn cap(name: &str, needed: bool) -> Value {
    json!({"name": name, "granted": u64::from(needed), "denied": 0,
           "noaudit": u64::from(!needed), "needed": needed})
}

/// Facts: `caps` needed, ran as `uids`, `root_used`, wrote `paths` on the root filesystem.
fn facts(caps: &[&str], uids: &[u32], root_used: bool, paths: &[&str]) -> Value {
    let mut capabilities: Vec<Value> = caps.iter().map(|c| cap(c, true)).collect();
    // A probe that must never become a need.
    if !caps.contains(&"CAP_SYS_ADMIN") {
        capabilities.push(cap("CAP_SYS_ADMIN", false));
    }
    capabilities.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    json!({
        "capabilities": capabilities,
        "identity": {"uids": uids, "gids": uids, "root_used": root_used},
        "root_filesystem_writes": {"count": paths.len(), "paths": paths, "truncated": false},
        "privilege_gain": []
    })
}

/// The Pod snippet `generate --format localhost` writes for `recording`, as text.
fn localhost_snippet(dir: &Path, recording: &Path) -> (common::Outcome, String) {
    let profile = dir.join("app.json");
    let snippet = dir.join("app-pod.yaml");
    let outcome = run(&mut syscage([
        "generate".as_ref(),
        "--from".as_ref(),
        recording.as_os_str(),
        "--format".as_ref(),
        "localhost".as_ref(),
        "-o".as_ref(),
        profile.as_os_str(),
        "--snippet".as_ref(),
        snippet.as_os_str(),
    ]));
    outcome.assert_code(0);
    let text = std::fs::read_to_string(&snippet).expect("the snippet was written");
    (outcome, text)
}

/// The container's securityContext in a snippet, as JSON.
fn security_context_of(snippet: &str) -> Value {
    let pod: Value = serde_yaml_ng::from_str(snippet)
        .unwrap_or_else(|e| panic!("the snippet is not YAML ({e}):\n{snippet}"));
    pod["spec"]["containers"][0]["securityContext"].clone()
}

/// kubernetes-validate --strict on the snippet; panics with its output when it refuses.
fn assert_valid_kubernetes(dir: &Path, snippet: &str) {
    let path = dir.join("validate.yaml");
    std::fs::write(&path, snippet).expect("writing the snippet");
    let (passed, text) = kubernetes_validate(&path);
    assert!(
        passed,
        "kubernetes-validate refused the snippet:\n{text}\n{snippet}"
    );
}

#[test]
fn a_server_that_binds_as_root_and_drops_gets_its_three_capabilities() {
    let dir = temp_dir();
    let rec = recording_with(
        dir.path(),
        "server",
        facts(
            &["CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"],
            &[0, 33],
            true,
            &[],
        ),
    );
    let (_, snippet) = localhost_snippet(dir.path(), &rec);
    assert_valid_kubernetes(dir.path(), &snippet);
    let sc = security_context_of(&snippet);
    assert_eq!(
        sc["capabilities"],
        json!({"add": ["NET_BIND_SERVICE", "SETGID", "SETUID"], "drop": ["ALL"]})
    );
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert!(sc.get("runAsNonRoot").is_none(), "{snippet}");
    assert_eq!(
        sc["seccompProfile"],
        json!({"type": "Localhost", "localhostProfile": "profiles/app.json"})
    );
    assert!(
        snippet.contains("This workload would violate it: capabilities.add has SETGID,"),
        "{snippet}"
    );
}

#[test]
fn a_workload_needing_no_capability_gets_add_empty_and_run_as_non_root() {
    let dir = temp_dir();
    let rec = recording_with(dir.path(), "cache", facts(&[], &[0, 11211], false, &[]));
    let (_, snippet) = localhost_snippet(dir.path(), &rec);
    assert_valid_kubernetes(dir.path(), &snippet);
    let sc = security_context_of(&snippet);
    assert_eq!(sc["capabilities"], json!({"drop": ["ALL"]}));
    assert_eq!(sc["runAsNonRoot"], true);
    // It ran as root without needing it: the non-root uid it ran as.
    assert_eq!(sc["runAsUser"], 11211);
    assert!(
        snippet.contains("This securityContext meets the restricted level."),
        "{snippet}"
    );
}

#[test]
fn root_filesystem_writes_are_named_and_read_only_is_not_advised() {
    let dir = temp_dir();
    let rec = recording_with(
        dir.path(),
        "writer",
        facts(&[], &[1000], false, &["/var/cache/app/index.db"]),
    );
    let (_, snippet) = localhost_snippet(dir.path(), &rec);
    assert_valid_kubernetes(dir.path(), &snippet);
    let sc = security_context_of(&snippet);
    assert!(sc.get("readOnlyRootFilesystem").is_none(), "{snippet}");
    assert!(snippet.contains("/var/cache/app/index.db"), "{snippet}");
    assert!(
        snippet.contains("mount an emptyDir at: /var/cache/app."),
        "{snippet}"
    );
}

#[test]
fn without_security_facts_only_seccomp_is_written_and_said() {
    let dir = temp_dir();
    let rec = recording_with(dir.path(), "old", Value::Null);
    let (outcome, snippet) = localhost_snippet(dir.path(), &rec);
    assert_valid_kubernetes(dir.path(), &snippet);
    let sc = security_context_of(&snippet);
    assert_eq!(
        sc,
        json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}})
    );
    assert!(snippet.contains("not observed in"), "{snippet}");
    assert!(outcome.stderr.contains("no security facts"), "{outcome}");
}

#[test]
fn oci_process_has_exactly_the_needed_sets_and_no_new_privileges() {
    let dir = temp_dir();
    let rec = recording_with(
        dir.path(),
        "server",
        facts(&["CAP_NET_BIND_SERVICE", "CAP_SETUID"], &[0, 33], true, &[]),
    );
    let out = dir.path().join("process.json");
    let outcome = run(&mut syscage([
        "generate".as_ref(),
        "--from".as_ref(),
        rec.as_os_str(),
        "--format".as_ref(),
        "oci-process".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]));
    outcome.assert_code(0);
    let needed = json!(["CAP_NET_BIND_SERVICE", "CAP_SETUID"]);
    assert_eq!(
        read_json(&out),
        json!({"process": {
            "capabilities": {"ambient": [], "bounding": needed, "effective": needed,
                             "inheritable": [], "permitted": needed},
            "noNewPrivileges": true
        }})
    );

    // Without facts: one line naming the file, and nothing written.
    let old = recording_with(dir.path(), "old", Value::Null);
    let missing = dir.path().join("missing.json");
    let outcome = run(&mut syscage([
        "generate".as_ref(),
        "--from".as_ref(),
        old.as_os_str(),
        "--format".as_ref(),
        "oci-process".as_ref(),
        "-o".as_ref(),
        missing.as_os_str(),
    ]));
    assert_ne!(outcome.code(), 0, "{outcome}");
    assert!(
        outcome
            .stderr
            .contains("old.recording.json: recorded without security facts"),
        "{outcome}"
    );
    assert!(!missing.exists());
}

#[test]
fn a_release_that_starts_needing_sys_admin_trips_fail_on_risky() {
    let dir = temp_dir();
    let old = recording_with(
        dir.path(),
        "v1",
        facts(&["CAP_NET_BIND_SERVICE"], &[1000], false, &[]),
    );
    let new = recording_with(
        dir.path(),
        "v2",
        facts(
            &["CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"],
            &[1000],
            false,
            &["/var/cache/x"],
        ),
    );
    let diff = |a: &Path, b: &Path| {
        run(&mut syscage([
            "diff".as_ref(),
            a.as_os_str(),
            b.as_os_str(),
            "--fail-on".as_ref(),
            "risky".as_ref(),
        ]))
    };
    let outcome = diff(&old, &new);
    outcome.assert_code(1);
    assert!(
        outcome
            .stdout
            .contains("capability CAP_SYS_ADMIN newly needed"),
        "{outcome}"
    );
    assert!(
        outcome
            .stdout
            .contains("root filesystem newly written: /var/cache/x"),
        "{outcome}"
    );
    // The other way round, nothing new: it passes.
    diff(&new, &old).assert_code(0);
}

#[test]
fn against_runtime_default_the_unused_default_capabilities_are_listed() {
    let dir = temp_dir();
    let rec = recording_with(
        dir.path(),
        "app",
        facts(&["CAP_NET_BIND_SERVICE"], &[1000], false, &[]),
    );
    let outcome = run(&mut syscage([
        "diff".as_ref(),
        rec.as_os_str(),
        "--against".as_ref(),
        "runtime-default".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ]));
    outcome.assert_code(0);
    let report: Value = serde_json::from_str(&outcome.stdout).expect("JSON report");
    let unused: Vec<&str> = report["capabilities"]["granted_unused"]
        .as_array()
        .expect("granted_unused")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Docker's 14 default capabilities but the one it needed.
    assert_eq!(unused.len(), 13, "{unused:?}");
    assert!(unused.contains(&"CAP_SETUID") && !unused.contains(&"CAP_NET_BIND_SERVICE"));
}

/// `run --capabilities-from REC -- python3 -c ...`: binds a port below 1024 and prints the
/// capability sets the kernel gave it.
fn bind_low_port(dir: &Path, recording: &Path, user: Option<&str>) -> common::Outcome {
    // Any syscall allowed: the seccomp part is not what this test is about.
    let profile = dir.join("allow-all.json");
    write_json(&profile, &json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let port = 600 + std::process::id() % 300;
    let script = format!(
        "import socket\n\
         print(''.join(l for l in open('/proc/self/status') if l.startswith('Cap')), flush=True)\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port}))\n\
         print('bound', flush=True)\n"
    );
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--profile".into(),
        profile.into(),
        "--capabilities-from".into(),
        recording.into(),
    ];
    if let Some(user) = user {
        args.push("--user".into());
        args.push(user.into());
    }
    args.extend([
        "--".into(),
        "/usr/bin/python3".into(),
        "-c".into(),
        script.into(),
    ]);
    run(&mut syscage(args))
}

/// The hexadecimal mask of a `Cap...:` line of /proc/self/status in `text`.
fn cap_line(text: &str, set: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{set}:")))
        .unwrap_or_else(|| panic!("no {set} line in\n{text}"));
    u64::from_str_radix(line.split_whitespace().nth(1).expect("a mask"), 16).expect("hex")
}

const NET_BIND_SERVICE: u64 = 1 << 10;

#[test]
fn run_with_the_recorded_capabilities_binds_a_low_port_and_without_them_cannot() {
    let dir = temp_dir();
    let with = recording_with(
        dir.path(),
        "with",
        facts(&["CAP_NET_BIND_SERVICE"], &[0], true, &[]),
    );
    let outcome = bind_low_port(dir.path(), &with, None);
    outcome.assert_code(0);
    assert!(outcome.stdout.contains("bound"), "{outcome}");
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            cap_line(&outcome.stdout, set),
            NET_BIND_SERVICE,
            "{set}\n{outcome}"
        );
    }
    assert_eq!(cap_line(&outcome.stdout, "CapAmb"), 0, "{outcome}");

    // A recording that lists only SETUID: the bind is refused by the kernel.
    let without = recording_with(
        dir.path(),
        "without",
        facts(&["CAP_SETUID"], &[0], true, &[]),
    );
    let outcome = bind_low_port(dir.path(), &without, None);
    assert_ne!(outcome.code(), 0, "{outcome}");
    assert!(!outcome.stdout.contains("bound"), "{outcome}");
    assert!(
        outcome.stderr.contains("PermissionError"),
        "expected the bind to fail with EACCES\n{outcome}"
    );
    assert_eq!(cap_line(&outcome.stdout, "CapEff"), 1 << 7, "{outcome}");
}

#[test]
fn run_as_a_non_root_user_gets_the_recorded_capabilities_as_ambient() {
    let dir = temp_dir();
    let with = recording_with(
        dir.path(),
        "with",
        facts(&["CAP_NET_BIND_SERVICE"], &[65534], false, &[]),
    );
    let outcome = bind_low_port(dir.path(), &with, Some("65534:65534"));
    outcome.assert_code(0);
    assert!(outcome.stdout.contains("bound"), "{outcome}");
    for set in ["CapEff", "CapPrm", "CapAmb", "CapBnd"] {
        assert_eq!(
            cap_line(&outcome.stdout, set),
            NET_BIND_SERVICE,
            "{set}\n{outcome}"
        );
    }
}

/// The generate half of the proof in runc: a busybox httpd that binds port 80 as root and drops
/// to uid 33, recorded as needing NET_BIND_SERVICE, SETGID and SETUID and as writing
/// /var/cache/web/state. `generate --format oci-process` gives the container exactly those
/// capabilities and `noNewPrivileges: true`; with a read-only root and a tmpfs on the directory
/// the recording names, it serves. The same without SETUID fails to start with EPERM.
#[test]
fn runc_with_the_generated_process_serves_and_fails_without_setuid() {
    use common::containers::{Bundle, Container, Runtime};

    let dir = temp_dir();
    let script = "echo up > /var/cache/web/state && \
                  httpd -f -p 127.0.0.1:80 -u 33:33 -h /www & \
                  sleep 1; wget -q -O - http://127.0.0.1:80/index.html";
    let bundle = Bundle::new(dir.path(), "bundle", Runtime::Runc, script);
    let rootfs = bundle.rootfs();
    for applet in ["httpd", "wget"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
            .expect("linking an applet");
    }
    std::fs::create_dir_all(rootfs.join("www")).expect("creating /www");
    std::fs::write(rootfs.join("www/index.html"), "served by uid 33\n").expect("index.html");
    std::fs::create_dir_all(rootfs.join("var/cache/web")).expect("creating /var/cache/web");

    let run_with = |caps: &[&str], writes: &[&str], name: &str| {
        let rec = recording_with(dir.path(), name, facts(caps, &[0, 33], true, writes));
        let fragment = dir.path().join(format!("{name}.process.json"));
        run(&mut syscage([
            "generate".as_ref(),
            "--from".as_ref(),
            rec.as_os_str(),
            "--format".as_ref(),
            "oci-process".as_ref(),
            "-o".as_ref(),
            fragment.as_os_str(),
        ]))
        .assert_code(0);
        let process = read_json(&fragment)["process"].clone();
        // The directories the recording says were written, as the snippet's comment names them.
        let tmpfs_dirs: Vec<String> = read_json(&rec)["security"]["root_filesystem_writes"]
            ["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .filter_map(Value::as_str)
            .map(|p| p.rsplit_once('/').map_or("/", |(d, _)| d).to_owned())
            .collect();
        bundle.edit_config(|config| {
            config["process"]["capabilities"] = process["capabilities"].clone();
            config["process"]["noNewPrivileges"] = process["noNewPrivileges"].clone();
            config["root"]["readonly"] = json!(true);
            let mounts = config["mounts"].as_array_mut().expect("mounts");
            // Only this run's tmpfs mounts (the runtime's own are not under /var).
            mounts.retain(|m| {
                !m["destination"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("/var/"))
            });
            for dir in &tmpfs_dirs {
                mounts.push(
                    json!({"destination": dir, "type": "tmpfs", "source": "tmpfs",
                                   "options": ["nosuid", "nodev", "size=1m"]}),
                );
            }
        });
        bundle.run(&Container::new(Runtime::Runc, name))
    };

    let needed = ["CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"];
    let written = ["/var/cache/web/state"];
    let served = run_with(&needed, &written, "web");
    served.assert_code(0);
    assert!(served.stdout.contains("served by uid 33"), "{served}");

    let refused = run_with(&needed[..2], &written, "nosetuid");
    assert_ne!(refused.code(), 0, "{refused}");
    assert!(!refused.stdout.contains("served"), "{refused}");
    assert!(
        refused.stderr.contains("setuid: Operation not permitted"),
        "expected httpd to fail with EPERM at setuid\n{refused}"
    );

    // Without the tmpfs the recording asked for, the read-only root refuses the write.
    let read_only = run_with(&needed, &[], "notmpfs");
    assert_ne!(read_only.code(), 0, "{read_only}");
    assert!(
        read_only.stderr.contains("Read-only file system"),
        "{read_only}"
    );
}
