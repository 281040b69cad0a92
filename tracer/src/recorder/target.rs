//! What a recording says about the cgroup it recorded: its path and, for a container, what the
//! path and the runtimes' state directories show (id, runtime, pod, namespace).

use std::path::Path;

use profile_gen::Target;

use crate::sys::{
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
            return container_target(rel, c);
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
