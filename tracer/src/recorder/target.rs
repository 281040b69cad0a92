//! What a recording says about the cgroup it recorded: its path and, for a container, what the
//! path and the runtimes' state directories show (id, runtime, pod, namespace).

use std::path::Path;

use profile_gen::{KubernetesIdentity, PodContainer, Target};

use crate::sys::{
    bundles::{self, Lookup, StateDirs},
    cgroup,
    containers::{self, ContainerCgroup},
};

/// The target of a recording of `container`, whose cgroup is `cgroup` (relative to the mount).
pub(crate) fn container_target(cgroup: String, container: ContainerCgroup) -> Target {
    Target {
        cgroup,
        container_id: Some(container.id),
        runtime: Some(container.runtime),
        pod_uid: container.pod_uid,
        container_name: None,
        namespace: container.namespace,
        kubernetes: None,
    }
}

/// The target of a recording of `dir`: a container's when there is evidence of one (see
/// [`containers::confirm`]) or `named_as_container` (the user said `--container`).
pub(crate) fn observed_target(mount: &Path, dir: &Path, named_as_container: bool) -> Target {
    let rel = cgroup::relative_path(mount, dir);
    if let Some(mut c) = containers::classify(&rel) {
        if containers::confirm(&mut c, Path::new("/run")) || named_as_container {
            let identity = kubernetes_identity(&c);
            let mut target = container_target(rel, c);
            if let Some(identity) = identity {
                set_kubernetes(&mut target, identity);
            }
            return target;
        }
    }
    Target {
        cgroup: rel,
        ..Default::default()
    }
}

/// The target of a recording of `dir`, which the caller knows to be a container's (the OCI
/// hook's): what its path shows.
pub(crate) fn target_of(mount: &Path, dir: &Path) -> Target {
    let rel = cgroup::relative_path(mount, dir);
    match containers::classify(&rel) {
        Some(mut c) => {
            containers::refine_runtime(&mut c, Path::new("/run"));
            container_target(rel, c)
        }
        None => Target {
            cgroup: rel,
            ..Default::default()
        },
    }
}

/// The Kubernetes identity in `container`'s bundle, found through its runtime's state; `None`
/// for a container that has none (or whose bundle cannot be read: said as a warning).
fn kubernetes_identity(container: &ContainerCgroup) -> Option<KubernetesIdentity> {
    match bundles::kubernetes_of(container, &StateDirs::system()) {
        Ok(Lookup::Found(Some(PodContainer::Workload(identity)))) => Some(identity),
        Ok(Lookup::Found(Some(PodContainer::Sandbox { namespace, pod }))) => {
            log::warn!(
                "container {} is the sandbox (pause container) of pod {namespace}/{pod}, not \
                 one of its workload's containers",
                container.id
            );
            None
        }
        Ok(Lookup::Found(None) | Lookup::NoState) => None,
        Err(e) => {
            log::warn!("container {}: no Kubernetes identity: {e:#}", container.id);
            None
        }
    }
}

/// Adds a container's Kubernetes identity to its target (and the pod UID and container name it
/// gives, where the cgroup path did not).
pub(crate) fn set_kubernetes(target: &mut Target, identity: KubernetesIdentity) {
    if target.pod_uid.is_none() {
        target.pod_uid.clone_from(&identity.pod_uid);
    }
    target.container_name = Some(identity.container.clone());
    target.kubernetes = Some(identity);
}
