//! Who a container is in Kubernetes terms: read off the annotations the CRI runtimes write into
//! its OCI bundle's `config.json`, and the workload (the pod's owner) derived from the pod name.

use std::collections::HashMap;

use crate::model::recording::KubernetesIdentity;

/// What a bundle's annotations say about its container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodContainer {
    /// A container of a pod's spec: a workload's.
    Workload(KubernetesIdentity),
    /// The pod's sandbox ("pause") container, which holds the pod's namespaces and runs no
    /// workload code.
    Sandbox { namespace: String, pod: String },
}

/// containerd's CRI plugin.
const CRI_CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";
const CRI_POD_NAME: &str = "io.kubernetes.cri.sandbox-name";
const CRI_POD_NAMESPACE: &str = "io.kubernetes.cri.sandbox-namespace";
const CRI_POD_UID: &str = "io.kubernetes.cri.sandbox-uid";
const CRI_CONTAINER_NAME: &str = "io.kubernetes.cri.container-name";
const CRI_IMAGE: &str = "io.kubernetes.cri.image-name";

/// CRI-O: the kubelet's own keys, and CRI-O's (`io.kubernetes.cri-o.*`) where it has its own.
const POD_NAME: &str = "io.kubernetes.pod.name";
const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
const POD_UID: &str = "io.kubernetes.pod.uid";
const CONTAINER_NAME: &str = "io.kubernetes.container.name";
const CRIO_CONTAINER_TYPE: &str = "io.kubernetes.cri-o.ContainerType";
const CRIO_POD_NAME: &str = "io.kubernetes.cri-o.KubeName";
const CRIO_POD_NAMESPACE: &str = "io.kubernetes.cri-o.Namespace";
const CRIO_IMAGE: &str = "io.kubernetes.cri-o.ImageName";

/// The container-type value both runtimes give a pod's sandbox.
const SANDBOX: &str = "sandbox";
/// The container name the kubelet gives a pod's sandbox (CRI-O writes it).
const SANDBOX_CONTAINER_NAME: &str = "POD";

/// The Kubernetes identity in a bundle's annotations: containerd's `io.kubernetes.cri.*`, else
/// CRI-O's `io.kubernetes.pod.*` and `io.kubernetes.container.name` (with CRI-O's own
/// `io.kubernetes.cri-o.*` for what those leave out). `None` when the annotations do not name
/// at least the pod, its namespace and (for a workload container) the container: such a
/// container is not treated as a Kubernetes one.
pub fn pod_container(annotations: &HashMap<String, String>) -> Option<PodContainer> {
    let get = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let containerd =
        annotations.contains_key(CRI_CONTAINER_TYPE) || annotations.contains_key(CRI_POD_NAME);
    let (kind, pod, namespace, pod_uid, container, image) = if containerd {
        (
            get(CRI_CONTAINER_TYPE),
            get(CRI_POD_NAME),
            get(CRI_POD_NAMESPACE),
            get(CRI_POD_UID),
            get(CRI_CONTAINER_NAME),
            get(CRI_IMAGE),
        )
    } else {
        (
            get(CRIO_CONTAINER_TYPE),
            get(POD_NAME).or_else(|| get(CRIO_POD_NAME)),
            get(POD_NAMESPACE).or_else(|| get(CRIO_POD_NAMESPACE)),
            get(POD_UID),
            get(CONTAINER_NAME),
            get(CRIO_IMAGE),
        )
    };
    let (pod, namespace) = (pod?, namespace?);
    let is_sandbox = kind.as_deref() == Some(SANDBOX)
        || (!containerd && container.as_deref() == Some(SANDBOX_CONTAINER_NAME));
    if is_sandbox {
        return Some(PodContainer::Sandbox { namespace, pod });
    }
    Some(PodContainer::Workload(KubernetesIdentity {
        workload: workload_of_pod(&pod).to_owned(),
        namespace,
        pod,
        pod_uid,
        container: container?,
        image,
    }))
}

/// The characters Kubernetes draws generated name parts from (`k8s.io/apimachinery`'s
/// `rand.String` and `rand.SafeEncodeString`): no vowels, no digits easily mistaken for letters.
const SAFE_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";

/// The length of the random suffix `generateName` adds.
const RANDOM_SUFFIX_LEN: usize = 5;

/// The lengths a ReplicaSet's `pod-template-hash` takes: a 32-bit hash printed in decimal and
/// re-encoded one character per digit has at most 10; fewer than 6 happens for about one hash
/// in fifty thousand, and is not recognised (see [`workload_of_pod`]).
const TEMPLATE_HASH_LEN: std::ops::RangeInclusive<usize> = 6..=10;

/// The shortest CronJob schedule suffix: a Job a CronJob makes is named after the scheduled time
/// in minutes since the Unix epoch, eight digits from 1973 until well after 2100.
const CRONJOB_MINUTES_MIN_LEN: usize = 8;

/// The workload that owns a pod, derived from the pod name the way Kubernetes' controllers
/// generate it:
/// - Deployment: `<name>-<pod-template-hash>-<5 random>` (`web-7d4b9c6f8-x2x5z` -> `web`);
/// - DaemonSet, Job, or a bare ReplicaSet: `<name>-<5 random>` (`agent-x2x5z` -> `agent`);
/// - CronJob: `<name>-<scheduled minutes>-<5 random>` (`backup-28391540-x2x5z` -> `backup`);
/// - StatefulSet: `<name>-<ordinal>` (`db-0` -> `db`);
/// - any other pod (made by hand): its own name.
///
/// The random parts are recognised by their alphabet (Kubernetes' `bcdfghjklmnpqrstvwxz2456789`,
/// which has no vowels) and length. The rule cannot see the owner, only the name, so:
/// - a pod named by hand that looks generated (`cache-0`, `api-x2x5z`) is taken for a
///   StatefulSet's or a DaemonSet's, and loses its last part;
/// - a Deployment whose template hash came out shorter than 6 characters keeps the hash in its
///   workload name;
/// - a name Kubernetes shortened to fit 63 characters gives the shortened owner name;
/// - a pod of a bare ReplicaSet or Job is named after that ReplicaSet or Job, not a Deployment.
pub fn workload_of_pod(pod: &str) -> &str {
    let Some((base, last)) = pod.rsplit_once('-') else {
        return pod;
    };
    if base.is_empty() {
        return pod;
    }
    // A five-digit ordinal made of the safe digits only reads as a random suffix too; both
    // strip the same last part, and only the suffix reading looks for a hash before it.
    if !(last.len() == RANDOM_SUFFIX_LEN && is_safe(last)) {
        return if is_ordinal(last) { base } else { pod };
    }
    match base.rsplit_once('-') {
        Some((owner, part))
            if !owner.is_empty()
                && ((TEMPLATE_HASH_LEN.contains(&part.len()) && is_safe(part))
                    || (part.len() >= CRONJOB_MINUTES_MIN_LEN
                        && part.bytes().all(|b| b.is_ascii_digit()))) =>
        {
            owner
        }
        _ => base,
    }
}

/// A StatefulSet ordinal: decimal, without leading zeros.
fn is_ordinal(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| b.is_ascii_digit())
        && (part == "0" || !part.starts_with('0'))
}

fn is_safe(part: &str) -> bool {
    !part.is_empty() && part.chars().all(|c| SAFE_ALPHABET.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_of_generated_pod_names() {
        for (pod, workload) in [
            ("web-7d4b9c6f8-x2x5z", "web"),
            ("my-web-app-5f6c7d8b9f-bk2xq", "my-web-app"),
            ("db-0", "db"),
            ("db-12", "db"),
            ("db-10345", "db"),
            ("web-7d4b9c6f8-24567", "web"),
            ("agent-x2x5z", "agent"),
            ("log-agent-x2x5z", "log-agent"),
            ("backup-28391540-x2x5z", "backup"),
            ("nginx", "nginx"),
            ("my-pod", "my-pod"),
            ("web-01", "web-01"),
            ("-0", "-0"),
            // A word with vowels is not a generated suffix.
            ("redis-cache", "redis-cache"),
            ("web-abcde", "web-abcde"),
            // The random suffix alone: a DaemonSet whose name ends in something hash-like but
            // short stays whole.
            ("api-v2-x2x5z", "api-v2"),
        ] {
            assert_eq!(workload_of_pod(pod), workload, "{pod}");
        }
    }

    /// The documented limit: a hand-named pod that looks generated loses its last part.
    #[test]
    fn a_hand_named_pod_that_looks_generated_is_taken_for_a_generated_one() {
        assert_eq!(workload_of_pod("cache-0"), "cache");
        assert_eq!(workload_of_pod("api-x2x5z"), "api");
    }

    fn annotations(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn containerd_annotations_name_pod_container_and_workload() {
        let got = pod_container(&annotations(&[
            (CRI_CONTAINER_TYPE, "container"),
            (CRI_POD_NAME, "web-7d4b9c6f8-x2x5z"),
            (CRI_POD_NAMESPACE, "shop"),
            (CRI_POD_UID, "0d8a6f0e-6d3c-4c52-9a0b-7b5c1f2e3d4a"),
            (CRI_CONTAINER_NAME, "nginx"),
            (CRI_IMAGE, "docker.io/library/nginx:1.27"),
        ]));
        assert_eq!(
            got,
            Some(PodContainer::Workload(KubernetesIdentity {
                namespace: "shop".into(),
                pod: "web-7d4b9c6f8-x2x5z".into(),
                pod_uid: Some("0d8a6f0e-6d3c-4c52-9a0b-7b5c1f2e3d4a".into()),
                container: "nginx".into(),
                workload: "web".into(),
                image: Some("docker.io/library/nginx:1.27".into()),
            }))
        );
    }

    #[test]
    fn crio_annotations_name_pod_container_and_workload() {
        let got = pod_container(&annotations(&[
            (CRIO_CONTAINER_TYPE, "container"),
            (POD_NAME, "db-0"),
            (POD_NAMESPACE, "data"),
            (CONTAINER_NAME, "postgres"),
            (CRIO_IMAGE, "postgres:16"),
        ]));
        assert_eq!(
            got,
            Some(PodContainer::Workload(KubernetesIdentity {
                namespace: "data".into(),
                pod: "db-0".into(),
                pod_uid: None,
                container: "postgres".into(),
                workload: "db".into(),
                image: Some("postgres:16".into()),
            }))
        );
        // CRI-O's own keys stand in for the kubelet's.
        let own = pod_container(&annotations(&[
            (CRIO_POD_NAME, "db-0"),
            (CRIO_POD_NAMESPACE, "data"),
            (CONTAINER_NAME, "postgres"),
        ]));
        assert!(matches!(own, Some(PodContainer::Workload(id)) if id.namespace == "data"));
    }

    #[test]
    fn sandboxes_are_not_workloads() {
        let sandbox = PodContainer::Sandbox {
            namespace: "shop".into(),
            pod: "web-7d4b9c6f8-x2x5z".into(),
        };
        let containerd = annotations(&[
            (CRI_CONTAINER_TYPE, SANDBOX),
            (CRI_POD_NAME, "web-7d4b9c6f8-x2x5z"),
            (CRI_POD_NAMESPACE, "shop"),
        ]);
        assert_eq!(pod_container(&containerd), Some(sandbox.clone()));
        let crio = annotations(&[
            (CRIO_CONTAINER_TYPE, SANDBOX),
            (POD_NAME, "web-7d4b9c6f8-x2x5z"),
            (POD_NAMESPACE, "shop"),
        ]);
        assert_eq!(pod_container(&crio), Some(sandbox.clone()));
        let crio_by_name = annotations(&[
            (POD_NAME, "web-7d4b9c6f8-x2x5z"),
            (POD_NAMESPACE, "shop"),
            (CONTAINER_NAME, SANDBOX_CONTAINER_NAME),
        ]);
        assert_eq!(pod_container(&crio_by_name), Some(sandbox));
    }

    #[test]
    fn incomplete_or_foreign_annotations_are_no_identity() {
        assert_eq!(pod_container(&annotations(&[])), None);
        assert_eq!(
            pod_container(&annotations(&[("org.opencontainers.image.title", "x")])),
            None
        );
        assert_eq!(
            pod_container(&annotations(&[
                (CRI_CONTAINER_TYPE, "container"),
                (CRI_POD_NAME, "web"),
                (CRI_POD_NAMESPACE, "shop"),
            ])),
            None,
            "no container name"
        );
        assert_eq!(
            pod_container(&annotations(&[(POD_NAME, "web"), (CONTAINER_NAME, "c")])),
            None,
            "no namespace"
        );
    }
}
