//! Which container a cgroup belongs to, read off its cgroup v2 path.
//!
//! Runtimes and engines name container cgroups in a few fixed ways (paths relative to the
//! cgroup2 mount, `<id>` a container id):
//! - runc / crun without a `cgroupsPath`, and with a bare one: `/<id>`;
//! - containerd (`ctr`, cgroupfs): `/<namespace>/<id>`;
//! - Docker: `/docker/<id>` (cgroupfs), `/system.slice/docker-<id>.scope` (systemd);
//! - Podman: `…/libpod-<id>.scope` (systemd), `/libpod_parent/libpod-<id>` (cgroupfs);
//! - CRI-O: `…/crio-<id>.scope` (systemd), `/kubepods/…/crio-<id>` (cgroupfs);
//! - containerd's CRI: `…/cri-containerd-<id>.scope` (systemd), `/kubepods/<qos>/pod<uid>/<id>`
//!   (cgroupfs); Kubernetes pods live under `kubepods*` with the pod UID in the path
//!   (`pod<uid>` with cgroupfs, `kubepods-<qos>-pod<uid_with_underscores>.slice` with systemd).
//!
//! systemd's own units (`*.slice`, `*.service`, …) and syscage's `/syscage/…` are not containers.

use std::path::Path;

/// What a cgroup path says about its container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ContainerCgroup {
    pub(crate) id: String,
    /// `docker`, `podman`, `cri-o`, `containerd`, `kubernetes`, or `runc/crun` when the path alone
    /// cannot tell the two apart (see [`refine_runtime`]).
    pub(crate) runtime: String,
    pub(crate) pod_uid: Option<String>,
    pub(crate) namespace: Option<String>,
    /// The container's own cgroup (a prefix of, or equal to, the path classified).
    pub(crate) cgroup: String,
}

const SYSTEMD_SUFFIXES: [&str; 7] = [
    ".slice", ".scope", ".service", ".mount", ".socket", ".swap", ".device",
];

/// Scope prefixes engines use under systemd, and the runtime each names.
const SCOPE_PREFIXES: [(&str, &str); 4] = [
    ("docker-", "docker"),
    ("libpod-", "podman"),
    ("crio-", "cri-o"),
    ("cri-containerd-", "containerd"),
];

/// Classifies `path` (relative to the cgroup2 mount, starting with `/`). A path below a
/// container's cgroup (a container that made sub-cgroups) is attributed to that container.
pub(crate) fn classify(path: &str) -> Option<ContainerCgroup> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let pod_uid = parts.iter().find_map(|p| pod_uid_of(p));
    let in_kubepods = parts.first().is_some_and(|p| p.starts_with("kubepods"));

    for (i, part) in parts.iter().enumerate() {
        let cgroup = format!("/{}", parts[..=i].join("/"));
        // Engine scopes: docker-<id>.scope, libpod-<id>, crio-<id>.scope, cri-containerd-<id>.scope.
        for (prefix, runtime) in SCOPE_PREFIXES {
            if let Some(rest) = part.strip_prefix(prefix) {
                let id = rest.strip_suffix(".scope").unwrap_or(rest);
                if looks_like_id(id) {
                    let runtime = if in_kubepods { "kubernetes" } else { runtime };
                    return Some(ContainerCgroup {
                        id: id.to_owned(),
                        runtime: runtime.to_owned(),
                        pod_uid,
                        namespace: None,
                        cgroup,
                    });
                }
            }
        }
        // Kubernetes cgroupfs: /kubepods/<qos>/pod<uid>/<id>: the level below the pod.
        if in_kubepods && i > 0 && pod_uid_of(parts[i - 1]).is_some() && looks_like_id(part) {
            return Some(ContainerCgroup {
                id: (*part).to_owned(),
                runtime: "kubernetes".to_owned(),
                pod_uid,
                namespace: None,
                cgroup,
            });
        }
    }
    if in_kubepods {
        return None; // pod and QoS levels
    }
    match parts.as_slice() {
        ["docker", id, ..] if looks_like_id(id) => Some(ContainerCgroup {
            id: (*id).to_owned(),
            runtime: "docker".to_owned(),
            cgroup: format!("/docker/{id}"),
            ..Default::default()
        }),
        [top, ..]
            if is_systemd_unit(top)
                || *top == "syscage"
                || *top == "docker"
                || top.starts_with("libpod_parent") =>
        {
            None
        }
        // containerd's ctr: /<namespace>/<id>. A top-level directory with sub-cgroups that are
        // not systemd units is a namespace; a top-level leaf is a runc/crun container.
        [namespace, id, ..] if !is_systemd_unit(id) => Some(ContainerCgroup {
            id: (*id).to_owned(),
            runtime: "containerd".to_owned(),
            namespace: Some((*namespace).to_owned()),
            cgroup: format!("/{namespace}/{id}"),
            ..Default::default()
        }),
        [id] => Some(ContainerCgroup {
            id: (*id).to_owned(),
            runtime: "runc/crun".to_owned(),
            cgroup: format!("/{id}"),
            ..Default::default()
        }),
        _ => None,
    }
}

/// `/run/<runtime>/<id>` is where runc and crun keep a container's state: it tells which of
/// them a bare `/<id>` cgroup belongs to. A containerd-looking `/<ns>/<id>` whose namespace has
/// no containerd task directory is more likely a runc/crun `cgroupsPath` of two levels.
pub(crate) fn refine_runtime(container: &mut ContainerCgroup, run_dir: &Path) {
    match container.runtime.as_str() {
        "runc/crun" => {
            for runtime in ["runc", "crun"] {
                if run_dir.join(runtime).join(&container.id).exists() {
                    container.runtime = runtime.to_owned();
                }
            }
        }
        "containerd" => {
            let ns = container.namespace.clone().unwrap_or_default();
            let task = run_dir
                .join("containerd/io.containerd.runtime.v2.task")
                .join(ns)
                .join(&container.id);
            if !task.exists() {
                for runtime in ["runc", "crun"] {
                    if run_dir.join(runtime).join(&container.id).exists() {
                        container.runtime = runtime.to_owned();
                        container.namespace = None;
                    }
                }
            }
        }
        _ => {}
    }
}

/// Whether anything besides the shape of the path says the cgroup is a container's: engines
/// name their cgroups (`docker-<id>.scope`, `/kubepods/...`), while a bare `/<id>` or
/// `/<namespace>/<id>` is any cgroup an admin or a program made at the top of the tree, unless
/// runc's or crun's state directory (`/run/<runtime>/<id>`) or containerd's task directory
/// exists for it. Refines the runtime on the way (see [`refine_runtime`]).
pub(crate) fn confirm(container: &mut ContainerCgroup, run_dir: &Path) -> bool {
    refine_runtime(container, run_dir);
    match container.runtime.as_str() {
        "runc/crun" => false,
        "containerd" => run_dir
            .join("containerd/io.containerd.runtime.v2.task")
            .join(container.namespace.as_deref().unwrap_or_default())
            .join(&container.id)
            .exists(),
        _ => true,
    }
}

/// A container id as engines print it: the first 12 digits of a 64-digit hex id; other ids
/// (runc's, crun's, containerd's names) as they are.
pub(crate) fn short_id(id: &str) -> &str {
    if id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    }
}

fn is_systemd_unit(name: &str) -> bool {
    SYSTEMD_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Engine ids are 64 hex digits; runc/crun/ctr ids are free-form but never empty.
fn looks_like_id(s: &str) -> bool {
    !s.is_empty() && !is_systemd_unit(s)
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_with_underscores>.slice` (systemd).
fn pod_uid_of(part: &str) -> Option<String> {
    let name = part.strip_suffix(".slice").unwrap_or(part);
    let idx = name.rfind("pod")?;
    let uid = &name[idx + 3..];
    let looks_like_uid = uid.len() == 36
        && uid
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '-' || c == '_');
    looks_like_uid.then(|| uid.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1e0bd0a3c5a7e2c4b7d3a1f0e9c8b7a6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1";
    const UID: &str = "0d8a6f0e-6d3c-4c52-9a0b-7b5c1f2e3d4a";

    /// (id, runtime, pod uid, namespace, container cgroup)
    type Classified = (String, String, Option<String>, Option<String>, String);

    fn c(path: &str) -> Option<Classified> {
        classify(path).map(|c| (c.id, c.runtime, c.pod_uid, c.namespace, c.cgroup))
    }

    #[test]
    fn names_every_runtime_layout() {
        assert_eq!(c("/busybox-1").unwrap().1, "runc/crun");
        assert_eq!(
            c("/default/web").unwrap(),
            (
                "web".into(),
                "containerd".into(),
                None,
                Some("default".into()),
                "/default/web".into()
            )
        );
        assert_eq!(c(&format!("/docker/{ID}")).unwrap().1, "docker");
        assert_eq!(
            c(&format!("/system.slice/docker-{ID}.scope")).unwrap().0,
            ID
        );
        assert_eq!(
            c(&format!("/machine.slice/libpod-{ID}.scope")).unwrap().1,
            "podman"
        );
        assert_eq!(
            c(&format!("/libpod_parent/libpod-{ID}")).unwrap().1,
            "podman"
        );
        assert_eq!(
            c(&format!("/system.slice/crio-{ID}.scope")).unwrap().1,
            "cri-o"
        );
        let systemd_pod = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{ID}.scope",
            UID.replace('-', "_")
        );
        assert_eq!(
            c(&systemd_pod).unwrap(),
            (
                ID.into(),
                "kubernetes".into(),
                Some(UID.into()),
                None,
                systemd_pod.clone()
            )
        );
        let cgroupfs_pod = format!("/kubepods/burstable/pod{UID}/{ID}");
        assert_eq!(
            c(&cgroupfs_pod).unwrap(),
            (
                ID.into(),
                "kubernetes".into(),
                Some(UID.into()),
                None,
                cgroupfs_pod.clone()
            )
        );
    }

    #[test]
    fn a_top_level_cgroup_is_a_container_only_with_a_runtime_state_directory() {
        let run = RunDir::new();
        let mut bare = classify("/busybox-1").expect("classified by its shape");
        assert!(!confirm(&mut bare, run.path()), "{bare:?}");
        let mut namespaced = classify("/default/web").expect("classified by its shape");
        assert!(!confirm(&mut namespaced, run.path()), "{namespaced:?}");

        std::fs::create_dir_all(run.path().join("runc/busybox-1")).expect("mkdir");
        std::fs::create_dir_all(
            run.path()
                .join("containerd/io.containerd.runtime.v2.task/default/web"),
        )
        .expect("mkdir");
        let mut bare = classify("/busybox-1").expect("classified by its shape");
        assert!(confirm(&mut bare, run.path()));
        assert_eq!(bare.runtime, "runc");
        let mut namespaced = classify("/default/web").expect("classified by its shape");
        assert!(confirm(&mut namespaced, run.path()));
        assert_eq!(namespaced.runtime, "containerd");

        let mut docker = classify(&format!("/system.slice/docker-{ID}.scope")).expect("docker");
        assert!(
            confirm(&mut docker, run.path()),
            "an engine's scope name is evidence"
        );
    }

    /// A scratch stand-in for `/run`, removed on drop.
    struct RunDir(std::path::PathBuf);

    impl RunDir {
        fn new() -> Self {
            let dir = std::env::temp_dir()
                .join(format!("syscage-containers-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("mkdir");
            Self(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for RunDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn short_ids_are_twelve_digits_of_engine_ids_only() {
        assert_eq!(short_id(ID), &ID[..12]);
        assert_eq!(short_id("busybox-1"), "busybox-1");
    }

    #[test]
    fn sub_cgroups_belong_to_their_container() {
        let inner = c(&format!("/system.slice/docker-{ID}.scope/init.scope")).unwrap();
        assert_eq!(inner.4, format!("/system.slice/docker-{ID}.scope"));
    }

    #[test]
    fn system_cgroups_are_not_containers() {
        for path in [
            "/",
            "/init.scope",
            "/system.slice",
            "/system.slice/cron.service",
            "/user.slice/user-1000.slice/session-2.scope",
            "/syscage/123-0",
            "/kubepods.slice/kubepods-besteffort.slice",
            &format!("/kubepods/burstable/pod{UID}"),
        ] {
            assert_eq!(classify(path), None, "{path}");
        }
    }
}
