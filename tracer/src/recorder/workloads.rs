//! Kubernetes workloads in `record --all`: which containers the `--namespace`/`--workload`
//! filters admit, and where a workload container's outputs go
//! (`DIR/<namespace>/<workload>/<container>/`).

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::Result;
use profile_gen::KubernetesIdentity;

use crate::sys::outputs::create_dirs_below;

/// `--namespace` and `--workload`: a container is recorded only if it matches every kind of
/// filter given (any of its values); with any filter, containers without a Kubernetes identity
/// are left out.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkloadFilter {
    pub(crate) namespaces: BTreeSet<String>,
    pub(crate) workloads: BTreeSet<String>,
}

impl WorkloadFilter {
    pub(crate) fn is_active(&self) -> bool {
        !self.namespaces.is_empty() || !self.workloads.is_empty()
    }

    /// Whether a container with this identity (`None`: not a Kubernetes container) is recorded.
    pub(crate) fn admits(&self, identity: Option<&KubernetesIdentity>) -> bool {
        let Some(identity) = identity else {
            return !self.is_active();
        };
        let matches = |set: &BTreeSet<String>, value: &str| set.is_empty() || set.contains(value);
        matches(&self.namespaces, &identity.namespace)
            && matches(&self.workloads, &identity.workload)
    }
}

/// `output_dir/<namespace>/<workload>/<container>`, created (without following links) if need
/// be.
pub(crate) fn workload_dir(output_dir: &Path, identity: &KubernetesIdentity) -> Result<PathBuf> {
    let parts = [
        path_part(&identity.namespace),
        path_part(&identity.workload),
        path_part(&identity.container),
    ];
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    create_dirs_below(output_dir, &parts)
}

/// A name as one path component: Kubernetes names (DNS labels and subdomains) are kept as they
/// are; anything else an annotation may hold has its other characters replaced by `_`, and
/// `.`, `..` and the empty name become `_`.
fn path_part(name: &str) -> String {
    let clean: String = name
        .chars()
        .take(255)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match clean.as_str() {
        "" | "." | ".." => "_".to_owned(),
        _ => clean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(namespace: &str, workload: &str) -> KubernetesIdentity {
        KubernetesIdentity {
            namespace: namespace.into(),
            workload: workload.into(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_combine_kinds_with_and_and_values_with_or() {
        let none = WorkloadFilter::default();
        assert!(none.admits(None));
        assert!(none.admits(Some(&identity("shop", "web"))));

        let filter = WorkloadFilter {
            namespaces: ["shop".into(), "data".into()].into(),
            workloads: ["web".into()].into(),
        };
        assert!(filter.admits(Some(&identity("shop", "web"))));
        assert!(filter.admits(Some(&identity("data", "web"))));
        assert!(!filter.admits(Some(&identity("shop", "db"))));
        assert!(!filter.admits(Some(&identity("kube-system", "web"))));
        assert!(!filter.admits(None), "no identity, no match");

        let only_namespace = WorkloadFilter {
            namespaces: ["shop".into()].into(),
            ..Default::default()
        };
        assert!(only_namespace.admits(Some(&identity("shop", "db"))));
    }

    #[test]
    fn names_become_single_path_components() {
        assert_eq!(path_part("web.v2-a_b"), "web.v2-a_b");
        assert_eq!(path_part("../etc"), ".._etc");
        assert_eq!(path_part(".."), "_");
        assert_eq!(path_part(""), "_");
        assert_eq!(path_part("a/b c"), "a_b_c");
    }
}
