//! The recording's `security` facts, from real runc containers recorded by the OCI hook: the
//! capabilities a server needs (and that it runs with exactly those, a read-only root and
//! `noNewPrivileges`, and not without one of them), an unprivileged workload that needs
//! nothing, root filesystem writes with their paths, and a set-user-ID exec.
//!
//! Needs root, runc and busybox-static; `cargo xtask test` installs them.

mod common;

use std::{collections::BTreeSet, fs, os::unix::fs::PermissionsExt as _, path::Path};

use common::{
    containers::{permissive_seccomp, Bundle, Container, Runtime},
    temp_dir, wait_for_outputs, Outcome, PROFILE_DEADLINE,
};
use serde_json::{json, Value};

/// Docker's (Moby's) default capability set, which the recorded containers run with.
const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// A web server that binds port 80 as root and then drops to uid/gid 33 (busybox httpd binds
/// before it calls setgroups, setgid and setuid), writes its page first, and is fetched over
/// 127.0.0.1 inside the container's own network namespace (with busybox nc: the static
/// busybox's wget crashes on a refused connection), retried while the server starts.
const SERVER: &str = "mkdir -p /www && echo hello-from-httpd > /www/index.html && \
    /bin/busybox httpd -f -p 80 -h /www -u 33:33 & \
    for i in 1 2 3 4 5 6 7 8 9 10; do \
      printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc 127.0.0.1 80 && break; \
      sleep 0.3; \
    done";

/// Sets the container's capabilities (every set but ambient), user and `noNewPrivileges`.
fn set_process(bundle: &Bundle, caps: &[&str], uid: u32, no_new_privileges: bool) {
    bundle.edit_config(|config| {
        let caps = json!(caps);
        config["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps,
        });
        config["process"]["user"] = json!({"uid": uid, "gid": uid});
        config["process"]["noNewPrivileges"] = json!(no_new_privileges);
    });
}

/// Runs `bundle` once under the OCI hook and returns the recording's `security` object (and
/// the whole recording, for messages).
fn record(work: &Path, bundle: &Bundle, tag: &str) -> (Value, Value) {
    bundle.set_seccomp(Some(&permissive_seccomp()));
    let output_dir = work.join(format!("recorded-{tag}"));
    fs::create_dir(&output_dir).expect("creating the hook's output directory");
    let log = work.join(format!("hook-{tag}.log"));
    bundle.set_oci_hook(&output_dir, &log);
    let container = Container::new(Runtime::Runc, tag);
    let outcome = bundle.run(&container);
    bundle.remove_hooks();
    let (_, _, recording) = wait_for_outputs(&output_dir, &container.id, PROFILE_DEADLINE, &|| {
        fs::read_to_string(&log).unwrap_or_default()
    });
    let security = recording["security"].clone();
    assert!(
        security.is_object(),
        "the recording has no security facts\n{outcome}\n{recording:#}"
    );
    (security, recording)
}

fn needed_caps(security: &Value) -> BTreeSet<String> {
    security["capabilities"]
        .as_array()
        .expect("security.capabilities is a list")
        .iter()
        .filter(|cap| cap["needed"] == json!(true))
        .map(|cap| cap["name"].as_str().expect("a name").to_owned())
        .collect()
}

fn root_write_paths(security: &Value) -> Vec<String> {
    security["root_filesystem_writes"]["paths"]
        .as_array()
        .expect("root_filesystem_writes.paths is a list")
        .iter()
        .map(|p| p.as_str().expect("a path").to_owned())
        .collect()
}

/// Runs the server again, unrecorded, with only `caps`, `noNewPrivileges`, a read-only root,
/// and a tmpfs on each directory the recording saw written.
fn run_restricted(bundle: &Bundle, caps: &[&str], written_dirs: &BTreeSet<String>) -> Outcome {
    set_process(bundle, caps, 0, true);
    bundle.edit_config(|config| {
        config["root"]["readonly"] = json!(true);
        let mounts = config["mounts"]
            .as_array_mut()
            .expect("the spec has mounts");
        for dir in written_dirs {
            mounts.push(json!({
                "destination": dir, "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=755"],
            }));
        }
    });
    bundle.run(&Container::new(Runtime::Runc, "restricted"))
}

#[test]
fn server_binding_port_80_then_dropping_root_needs_exactly_bind_setuid_setgid() {
    let work = temp_dir();
    let bundle = Bundle::new(work.path(), "server", Runtime::Runc, SERVER);
    // The workload creates /www on the root filesystem: a read-only root needs it to exist.
    set_process(&bundle, &DOCKER_DEFAULT_CAPS, 0, false);
    let (security, recording) = record(work.path(), &bundle, "server");

    let needed = needed_caps(&security);
    let expected: BTreeSet<String> = ["CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"]
        .map(String::from)
        .into();
    assert_eq!(needed, expected, "needed capabilities\n{recording:#}");
    assert_eq!(
        security["identity"]["root_used"],
        json!(true),
        "{security:#}"
    );
    let uids = &security["identity"]["uids"];
    assert!(
        uids.as_array()
            .is_some_and(|u| u.contains(&json!(0)) && u.contains(&json!(33))),
        "the server ran as root, then as 33\n{security:#}"
    );
    let paths = root_write_paths(&security);
    assert!(
        paths.contains(&"/www/index.html".to_owned()),
        "the page written on the root filesystem\n{security:#}"
    );
    let written_dirs: BTreeSet<String> = paths
        .iter()
        .map(|p| {
            Path::new(p)
                .parent()
                .expect("an absolute path")
                .display()
                .to_string()
        })
        .collect();

    // Only what was recorded, noNewPrivileges and a read-only root with tmpfs where the
    // recording saw writes: it serves.
    let caps: Vec<&str> = needed.iter().map(String::as_str).collect();
    let outcome = run_restricted(&bundle, &caps, &written_dirs);
    assert!(
        outcome.stdout.contains("hello-from-httpd"),
        "the server must serve with exactly the recorded capabilities\n{outcome}"
    );

    // Without CAP_SETUID it cannot drop to uid 33 and stops with EPERM.
    let without_setuid: Vec<&str> = caps
        .iter()
        .copied()
        .filter(|c| *c != "CAP_SETUID")
        .collect();
    let outcome = run_restricted(&bundle, &without_setuid, &written_dirs);
    assert!(
        !outcome.stdout.contains("hello-from-httpd"),
        "the server must not serve without CAP_SETUID\n{outcome}"
    );
    assert!(
        outcome.stderr.contains("Operation not permitted"),
        "the server must fail with EPERM\n{outcome}"
    );
}

#[test]
fn unprivileged_workload_needs_no_capability_and_no_root() {
    let work = temp_dir();
    let bundle = Bundle::new(
        work.path(),
        "unprivileged",
        Runtime::Runc,
        "echo working; ls / > /dev/null; sleep 0.1",
    );
    set_process(&bundle, &DOCKER_DEFAULT_CAPS, 1000, false);
    let (security, recording) = record(work.path(), &bundle, "unprivileged");
    assert_eq!(needed_caps(&security), BTreeSet::new(), "{recording:#}");
    assert_eq!(
        security["identity"]["root_used"],
        json!(false),
        "{security:#}"
    );
    assert_eq!(security["identity"]["uids"], json!([1000]), "{security:#}");
    assert_eq!(security["privilege_gain"], json!([]), "{security:#}");
}

#[test]
fn writes_under_var_cache_on_the_root_filesystem_are_reported_with_their_path() {
    let work = temp_dir();
    let bundle = Bundle::new(
        work.path(),
        "cache",
        Runtime::Runc,
        "mkdir -p /var/cache/app && echo state > /var/cache/app/state.db && \
         echo scratch > /tmp/scratch",
    );
    // /tmp is a tmpfs, as runtimes and Kubernetes emptyDirs often make it: not the root.
    bundle.edit_config(|config| {
        config["mounts"]
            .as_array_mut()
            .expect("the spec has mounts")
            .push(
                json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev"]}),
            );
    });
    set_process(&bundle, &DOCKER_DEFAULT_CAPS, 0, false);
    let (security, recording) = record(work.path(), &bundle, "cache");
    let writes = &security["root_filesystem_writes"];
    assert_eq!(
        root_write_paths(&security),
        ["/var/cache/app/state.db"],
        "{recording:#}"
    );
    assert!(
        writes["count"].as_u64().is_some_and(|c| c >= 1),
        "{writes:#}"
    );
    assert_eq!(writes["truncated"], json!(false), "{writes:#}");
}

#[test]
fn a_setuid_program_exec_is_reported_as_privilege_gain() {
    let work = temp_dir();
    let bundle = Bundle::new(
        work.path(),
        "setuid",
        Runtime::Runc,
        "/bin/suid-busybox true; echo done",
    );
    let suid = bundle.rootfs().join("bin/suid-busybox");
    fs::copy(bundle.rootfs().join("bin/busybox"), &suid).expect("copying busybox");
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).expect("making it setuid");
    set_process(&bundle, &DOCKER_DEFAULT_CAPS, 1000, false);
    let (security, recording) = record(work.path(), &bundle, "setuid");
    assert_eq!(
        security["privilege_gain"],
        json!([{"path": "/bin/suid-busybox", "kind": "setuid"}]),
        "{recording:#}"
    );
}
