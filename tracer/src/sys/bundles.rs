//! A container's OCI bundle, found through its runtime's state (never guessed from the cgroup
//! name), and the Kubernetes identity its `config.json` annotations carry.
//!
//! Where runtimes keep a container's state, under the run directory (`/run`):
//! - containerd's task directory `containerd/io.containerd.runtime.v2.task/<ns>/<id>/` is the
//!   bundle itself;
//! - runc's `runc/<id>/state.json` (and the runc roots of containerd, `containerd/runc/<ns>/`,
//!   and Docker, `docker/runtime-runc/moby/`) lists the bundle among its config's labels as
//!   `bundle=<path>`;
//! - crun's `crun/<id>/status` has a `bundle` field;
//! - Podman keeps the bundle's config in its storage (`/var/lib/containers/storage`, rootful's
//!   default), at `overlay-containers/<id>/userdata/config.json`; its runtime's state (crun's or
//!   runc's, above) names the same bundle while the container runs.
//!
//! A runtime writes its state only after the container's first process runs, so a container
//! seen by its first syscall may have no state yet: [`Lookup::NoState`] says to look again.

use std::{
    collections::HashMap,
    fs::{self, File},
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use oci_spec::runtime::Spec;
use profile_gen::{
    formats::read::{read_limited, MAX_INPUT_BYTES},
    pod_container, PodContainer,
};
use serde_json::Value;

use crate::sys::containers::ContainerCgroup;

const CONTAINERD_TASKS: &str = "containerd/io.containerd.runtime.v2.task";
/// runc roots whose directories hold one directory per namespace.
const NAMESPACED_RUNC_ROOTS: [&str; 1] = ["containerd/runc"];
/// runc roots holding the containers' directories directly.
const RUNC_ROOTS: [&str; 2] = ["runc", "docker/runtime-runc/moby"];
const CRUN_ROOT: &str = "crun";
const PODMAN_CONTAINERS: &str = "overlay-containers";

/// Where the runtimes keep their state: `/run`, and Podman's storage.
#[derive(Debug, Clone)]
pub(crate) struct StateDirs {
    pub(crate) run: PathBuf,
    pub(crate) podman_storage: PathBuf,
}

impl StateDirs {
    /// The system's: `/run` and rootful Podman's default storage.
    pub(crate) fn system() -> Self {
        Self {
            run: PathBuf::from("/run"),
            podman_storage: PathBuf::from("/var/lib/containers/storage"),
        }
    }
}

/// What the runtime's state says about a container's Kubernetes identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// No runtime's state names the container (yet).
    NoState,
    /// Its bundle's annotations, read: a pod's container or sandbox, or `None` when they carry
    /// no Kubernetes identity.
    Found(Option<PodContainer>),
}

/// The Kubernetes identity of `container` in its bundle's annotations, found through the state
/// its runtime keeps in `dirs`.
pub(crate) fn kubernetes_of(container: &ContainerCgroup, dirs: &StateDirs) -> Result<Lookup> {
    let Some(config) = bundle_config(&container.id, container.namespace.as_deref(), dirs) else {
        return Ok(Lookup::NoState);
    };
    let annotations = read_annotations(&config)?;
    Ok(Lookup::Found(pod_container(&annotations)))
}

/// The Kubernetes identity in the bundle at `bundle` (the OCI hook's state names it).
pub(crate) fn kubernetes_of_bundle(bundle: &Path) -> Result<Option<PodContainer>> {
    let annotations = read_annotations(&bundle.join("config.json"))?;
    Ok(pod_container(&annotations))
}

/// The `config.json` of container `id`'s bundle, as its runtime's state in `dirs` names it;
/// `namespace` is containerd's, when the cgroup path showed one (else every namespace is looked
/// in).
pub(crate) fn bundle_config(
    id: &str,
    namespace: Option<&str>,
    dirs: &StateDirs,
) -> Option<PathBuf> {
    let run_dir = dirs.run.as_path();
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return None;
    }
    let namespaces = |root: &Path| -> Vec<PathBuf> {
        match namespace {
            Some(ns) => vec![root.join(ns)],
            None => fs::read_dir(root)
                .map(|entries| entries.flatten().map(|e| e.path()).collect())
                .unwrap_or_default(),
        }
    };
    let tasks = run_dir.join(CONTAINERD_TASKS);
    let from_containerd = namespaces(&tasks)
        .into_iter()
        .map(|ns| ns.join(id).join("config.json"))
        .find(|config| config.is_file());
    if from_containerd.is_some() {
        return from_containerd;
    }
    let runc_states = NAMESPACED_RUNC_ROOTS
        .iter()
        .flat_map(|root| namespaces(&run_dir.join(root)))
        .chain(RUNC_ROOTS.iter().map(|root| run_dir.join(root)))
        .map(|root| root.join(id).join("state.json"));
    for state in runc_states {
        if let Some(bundle) = read_json(&state).as_ref().and_then(runc_bundle) {
            return Some(bundle.join("config.json"));
        }
    }
    let crun_status = read_json(&run_dir.join(CRUN_ROOT).join(id).join("status"));
    if let Some(bundle) = crun_status.as_ref().and_then(|s| s["bundle"].as_str()) {
        return Some(Path::new(bundle).join("config.json"));
    }
    let podman = dirs
        .podman_storage
        .join(PODMAN_CONTAINERS)
        .join(id)
        .join("userdata/config.json");
    podman.is_file().then_some(podman)
}

/// runc keeps the bundle's path among its config's labels, as `bundle=<path>`.
fn runc_bundle(state: &Value) -> Option<PathBuf> {
    state["config"]["labels"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|label| label.strip_prefix("bundle="))
        .map(PathBuf::from)
}

/// A runtime's state file as JSON; `None` when it is missing or unreadable (a container being
/// created or deleted while it is read).
fn read_json(path: &Path) -> Option<Value> {
    let file = File::open(path).ok()?;
    let bytes = read_limited(file, MAX_INPUT_BYTES).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The annotations of the OCI runtime spec at `config`.
pub(crate) fn read_annotations(config: &Path) -> Result<HashMap<String, String>> {
    let file = File::open(config).with_context(|| format!("reading {}", config.display()))?;
    let bytes = read_limited(file, MAX_INPUT_BYTES)
        .with_context(|| format!("reading {}", config.display()))?;
    let spec: Spec = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: expected an OCI runtime spec (config.json)",
            config.display()
        )
    })?;
    Ok(spec.annotations().clone().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANNOTATED: &str = r#"{"ociVersion": "1.0.2", "annotations": {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.sandbox-name": "web-7d4b9c6f8-x2x5z",
        "io.kubernetes.cri.sandbox-namespace": "shop",
        "io.kubernetes.cri.container-name": "nginx"}}"#;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn container(id: &str, namespace: Option<&str>) -> ContainerCgroup {
        ContainerCgroup {
            id: id.to_owned(),
            namespace: namespace.map(str::to_owned),
            ..Default::default()
        }
    }

    fn workload(lookup: Lookup) -> String {
        match lookup {
            Lookup::Found(Some(PodContainer::Workload(id))) => {
                format!("{}/{}/{}", id.namespace, id.workload, id.container)
            }
            other => panic!("expected a workload, got {other:?}"),
        }
    }

    #[test]
    fn each_runtime_state_leads_to_the_bundle() {
        let run = tempfile::tempdir().unwrap();
        let dirs = StateDirs {
            run: run.path().join("run"),
            podman_storage: run.path().join("podman"),
        };
        let bundles = tempfile::tempdir().unwrap();
        let bundle = bundles.path().join("b");
        write(&bundle.join("config.json"), ANNOTATED);
        let bundle_text = bundle.display().to_string();

        assert_eq!(
            kubernetes_of(&container("a", None), &dirs).unwrap(),
            Lookup::NoState
        );
        write(
            &dirs.run.join("runc/a/state.json"),
            &serde_json::json!({"config": {"labels": ["x=y", format!("bundle={bundle_text}")]}})
                .to_string(),
        );
        write(
            &dirs.run.join("containerd/runc/k8s.io/b/state.json"),
            &serde_json::json!({"config": {"labels": [format!("bundle={bundle_text}")]}})
                .to_string(),
        );
        write(
            &dirs.run.join("crun/c/status"),
            &serde_json::json!({"bundle": bundle_text}).to_string(),
        );
        write(
            &dirs.run.join(CONTAINERD_TASKS).join("k8s.io/d/config.json"),
            ANNOTATED,
        );
        write(
            &dirs
                .podman_storage
                .join(PODMAN_CONTAINERS)
                .join("e/userdata/config.json"),
            ANNOTATED,
        );
        for (id, ns) in [
            ("a", None),
            ("b", None),
            ("b", Some("k8s.io")),
            ("c", None),
            ("d", None),
            ("d", Some("k8s.io")),
            ("e", None),
        ] {
            let found = kubernetes_of(&container(id, ns), &dirs).unwrap();
            assert_eq!(workload(found), "shop/web/nginx", "{id} {ns:?}");
        }
        assert_eq!(
            kubernetes_of(&container("d", Some("default")), &dirs).unwrap(),
            Lookup::NoState,
            "another namespace's task is not this one's"
        );
        assert_eq!(bundle_config("..", None, &dirs), None);
    }

    #[test]
    fn a_bundle_without_annotations_is_found_but_not_kubernetes() {
        let run = tempfile::tempdir().unwrap();
        let dirs = StateDirs {
            run: run.path().to_path_buf(),
            podman_storage: run.path().to_path_buf(),
        };
        write(
            &dirs
                .podman_storage
                .join(PODMAN_CONTAINERS)
                .join("p/userdata/config.json"),
            r#"{"ociVersion": "1.0.2"}"#,
        );
        assert_eq!(
            kubernetes_of(&container("p", None), &dirs).unwrap(),
            Lookup::Found(None)
        );
    }

    #[test]
    fn a_config_that_is_not_a_spec_is_an_error_naming_it() {
        let run = tempfile::tempdir().unwrap();
        let dirs = StateDirs {
            run: run.path().to_path_buf(),
            podman_storage: run.path().to_path_buf(),
        };
        let config = run
            .path()
            .join(PODMAN_CONTAINERS)
            .join("p/userdata/config.json");
        write(&config, r#"{"annotations": 3}"#);
        let error = kubernetes_of(&container("p", None), &dirs).unwrap_err();
        assert!(
            format!("{error:#}").contains(&config.display().to_string()),
            "{error:#}"
        );
    }
}
