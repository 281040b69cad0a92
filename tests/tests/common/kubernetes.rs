//! The annotations CRI runtimes write into a Kubernetes container's OCI bundle, for bundles
//! that look like a pod's containers to syscage.

use std::{path::Path, process::Command};

use serde_json::Value;

use super::containers::Bundle;

/// Puts `annotations` into the bundle's `config.json` (replacing any it had).
#[track_caller]
pub(crate) fn annotate(bundle: &Bundle, annotations: &[(String, String)]) {
    let map: serde_json::Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    bundle.edit_config(|config| config["annotations"] = Value::Object(map));
}

/// containerd's CRI annotations for container `container` of pod `pod` in `namespace`.
pub(crate) fn containerd_annotations(
    namespace: &str,
    pod: &str,
    container: &str,
) -> Vec<(String, String)> {
    vec![
        (
            "io.kubernetes.cri.container-type".into(),
            "container".into(),
        ),
        ("io.kubernetes.cri.sandbox-name".into(), pod.into()),
        (
            "io.kubernetes.cri.sandbox-namespace".into(),
            namespace.into(),
        ),
        (
            "io.kubernetes.cri.sandbox-uid".into(),
            "0d8a6f0e-6d3c-4c52-9a0b-7b5c1f2e3d4a".into(),
        ),
        ("io.kubernetes.cri.container-name".into(), container.into()),
        (
            "io.kubernetes.cri.image-name".into(),
            "docker.io/library/busybox:1.36".into(),
        ),
    ]
}

/// containerd's annotations of pod `pod`'s sandbox (pause) container.
pub(crate) fn sandbox_annotations(namespace: &str, pod: &str) -> Vec<(String, String)> {
    vec![
        ("io.kubernetes.cri.container-type".into(), "sandbox".into()),
        ("io.kubernetes.cri.sandbox-name".into(), pod.into()),
        (
            "io.kubernetes.cri.sandbox-namespace".into(),
            namespace.into(),
        ),
    ]
}

/// Runs `kubernetes-validate --strict` (Kubernetes 1.31's schema, offline) on the manifest at
/// `path`: whether it passed, and what the validator said.
pub(crate) fn kubernetes_validate(path: &Path) -> (bool, String) {
    let output = Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn"])
        .arg(path)
        .output()
        .expect("kubernetes-validate is installed (pip install kubernetes-validate==1.31.0)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success() && text.contains("passed"), text)
}
