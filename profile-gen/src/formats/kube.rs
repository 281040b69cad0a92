//! Kubernetes outputs and inputs: the `Localhost` securityContext snippet and the Security
//! Profiles Operator's `SeccompProfile` custom resource.
//!
//! - A `Localhost` profile is a file on every node under the kubelet's seccomp directory
//!   ([`KUBELET_SECCOMP_DIR`]); Pods name it by its path relative to that directory
//!   (`seccompProfile: {type: Localhost, localhostProfile: profiles/app.json}`).
//!   [`localhost_pod_yaml`] writes a Pod whose container uses it with the whole
//!   `securityContext` the recordings support (`formats::security_context`), built from
//!   k8s-openapi's types so only real fields appear.
//! - The Security Profiles Operator (SPO) installs profiles on the nodes itself from a
//!   `SeccompProfile` resource (`security-profiles-operator.x-k8s.io/v1beta1`), whose `spec` has
//!   the runtime-spec fields `defaultAction`, `architectures`, `syscalls` (`names`, `action`,
//!   `errnoRet`, `args`), `flags`, `listenerPath`, `listenerMetadata`, plus `baseProfileName`;
//!   it has no `defaultErrnoRet`, so the runtime's default errno (EPERM) applies. The resource
//!   is cluster-scoped from SPO v0.9.0 on (kubernetes-sigs/security-profiles-operator commit
//!   48199937, "Change the scope of security profiles CRDs to be cluster wide") and namespaced
//!   before, so a namespace is written only when asked for. The operator installs the profile
//!   on each node under the kubelet's seccomp directory, at `operator/NAME.json` (cluster-scoped)
//!   or `operator/NAMESPACE/NAME.json` (namespaced), the `localhostProfile` Pods reference
//!   (`SeccompProfile.GetProfilePath` in `api/seccompprofile/v1beta1`; the operator reports it
//!   in `status.localhostProfile`). [`spo_yaml_in`] writes one, with that path in a comment;
//!   [`parse_spo`] reads one.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSyscall,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::error::{deserialize_at, json_kind, one_line, FieldPath};
use crate::formats::security_context::{container_security_context, Evidence};
use crate::model::arch::oci_arch_name;

/// Where the kubelet looks for `Localhost` profiles (its default `--root-dir` + `seccomp`).
pub const KUBELET_SECCOMP_DIR: &str = "/var/lib/kubelet/seccomp";

/// The SPO API group; `v1beta1` is what syscage writes.
pub const SPO_GROUP: &str = "security-profiles-operator.x-k8s.io";
/// The `apiVersion` syscage writes.
pub const SPO_API_VERSION: &str = "security-profiles-operator.x-k8s.io/v1beta1";
/// The `kind`.
pub const SPO_KIND: &str = "SeccompProfile";

/// The architectures the SeccompProfile CRD's `spec.architectures` enum lists.
const SPO_ARCHES: [Arch; 20] = [
    Arch::ScmpArchNative,
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
];

/// Writing Kubernetes outputs or reading an SPO resource.
#[derive(Debug, Error)]
pub enum KubeError {
    /// A name that cannot become a Kubernetes object name.
    #[error(
        "{name:?} is not a Kubernetes object name, expected lowercase letters, digits and '-' \
         (such as {suggestion})"
    )]
    Name { name: String, suggestion: String },

    /// A namespace that is not a Kubernetes name.
    #[error(
        "namespace {namespace:?}: expected a Kubernetes namespace name (lowercase letters, \
         digits and '-', such as my-team)"
    )]
    Namespace { namespace: String },

    /// A `localhostProfile` path the kubelet would refuse.
    #[error(
        "localhost profile path {path:?}: expected a relative path without '..' (relative to \
         {KUBELET_SECCOMP_DIR}), such as profiles/app.json"
    )]
    LocalhostPath { path: String },

    /// An architecture the CRD's enum does not list.
    #[error(
        "architectures: {arch} is not in the SeccompProfile CRD's list of architectures; \
         the operator would refuse the resource"
    )]
    SpoArch { arch: &'static str },

    /// `SCMP_ACT_NOTIFY` needs an agent socket path the CRD restricts; syscage never writes it.
    #[error(
        "{field}: SCMP_ACT_NOTIFY cannot be expressed as a SeccompProfile resource by syscage"
    )]
    SpoNotify { field: String },

    /// Serialising YAML failed (only for values YAML cannot represent).
    #[error("writing YAML: {0}")]
    Yaml(String),

    /// `apiVersion` or `kind` say this is not an SPO SeccompProfile.
    #[error("{origin}: {field}: expected {expected}, found {found}")]
    NotSpo {
        origin: String,
        field: &'static str,
        expected: &'static str,
        found: String,
    },

    /// A field of the resource has the wrong type or shape.
    #[error("{origin}: {field}{message}")]
    Field {
        origin: String,
        field: FieldPath,
        message: String,
    },
}

/// A Kubernetes object name (RFC 1123 label) made from `text`: lowercase, runs of other
/// characters become `-`, at most 63 characters; `None` when nothing usable is left.
pub fn object_name(text: &str) -> Option<String> {
    let mut name = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') {
            name.push('-');
        }
    }
    let name: String = name.trim_matches('-').chars().take(63).collect();
    let name = name.trim_end_matches('-').to_owned();
    (!name.is_empty()).then_some(name)
}

fn check_name(name: &str) -> Result<(), KubeError> {
    if object_name(name).as_deref() == Some(name) {
        Ok(())
    } else {
        Err(KubeError::Name {
            name: name.to_owned(),
            suggestion: object_name(name).unwrap_or_else(|| "my-app".to_owned()),
        })
    }
}

/// Checks a `localhostProfile` path: relative, no `..` component, not empty.
fn check_localhost_path(path: &str) -> Result<(), KubeError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|part| part == ".." || part.is_empty());
    if bad {
        Err(KubeError::LocalhostPath {
            path: path.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// A Pod manifest whose one container uses the Localhost profile with the `securityContext`
/// the evidence supports ([`container_security_context`]), preceded by comments that say where
/// the profile file goes and why each field is what it is. `name` is the Pod and container
/// name; `profile_file` the file the user copies to the nodes.
pub fn localhost_pod_yaml(
    name: &str,
    localhost_profile: &str,
    profile_file: &str,
    evidence: Evidence<'_>,
) -> Result<String, KubeError> {
    check_name(name)?;
    check_localhost_path(localhost_profile)?;
    let security = container_security_context(localhost_profile, evidence);
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: name.to_owned(),
                image: Some("REPLACE-WITH-YOUR-IMAGE".to_owned()),
                security_context: Some(security.context),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    };
    let yaml = serde_yaml_ng::to_string(&pod).map_err(|e| KubeError::Yaml(e.to_string()))?;
    let comments: String = security.comments.iter().map(|c| comment_lines(c)).collect();
    Ok(format!(
        "# Seccomp profile for Kubernetes (type Localhost), generated by syscage.\n\
         # 1. Copy {profile_file} to every node that may run the Pod, as\n\
         #      {KUBELET_SECCOMP_DIR}/{localhost_profile}\n\
         # 2. Give the container this securityContext. The image is a placeholder.\n\
         {comments}{yaml}"
    ))
}

/// `text` as YAML comment lines of at most 96 columns, indented under the numbered steps.
fn comment_lines(text: &str) -> String {
    const WIDTH: usize = 96;
    let mut out = String::new();
    let mut line = String::from("#  ");
    for word in text.split_whitespace() {
        if line.len() > 3 && line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#    ");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// The SPO resource as syscage reads it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpoResource {
    api_version: String,
    kind: String,
    metadata: SpoMetadata,
    spec: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SpoMetadata {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
}

/// The `localhostProfile` a Pod uses for the SPO profile `name` (in `namespace`, for SPO
/// releases before v0.9.0, where the resource is namespaced).
pub fn spo_localhost_profile(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => format!("operator/{namespace}/{name}.json"),
        None => format!("operator/{name}.json"),
    }
}

/// `profile` as a cluster-scoped SPO `SeccompProfile` resource named `name`, in YAML; see
/// [`spo_yaml_in`].
pub fn spo_yaml(name: &str, profile: &LinuxSeccomp) -> Result<String, KubeError> {
    spo_yaml_in(name, None, profile)
}

/// `profile` as an SPO `SeccompProfile` resource named `name` (in `namespace`, for SPO before
/// v0.9.0), in YAML, after comments saying the `localhostProfile` Pods reference it by.
///
/// `defaultErrnoRet` has no field in the CRD and is left out, so the runtime's default (EPERM)
/// applies; syscage's own profiles use EPERM, so nothing changes for them. `listenerPath` and
/// `listenerMetadata` belong to SCMP_ACT_NOTIFY, which is refused.
pub fn spo_yaml_in(
    name: &str,
    namespace: Option<&str>,
    profile: &LinuxSeccomp,
) -> Result<String, KubeError> {
    check_name(name)?;
    if let Some(namespace) = namespace {
        check_name(namespace).map_err(|_| KubeError::Namespace {
            namespace: namespace.to_owned(),
        })?;
    }
    for arch in profile.architectures().iter().flatten() {
        if !SPO_ARCHES.contains(arch) {
            return Err(KubeError::SpoArch {
                arch: oci_arch_name(*arch),
            });
        }
    }
    if profile.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(KubeError::SpoNotify {
            field: "defaultAction".to_owned(),
        });
    }
    for (index, rule) in profile.syscalls().iter().flatten().enumerate() {
        if rule.action() == LinuxSeccompAction::ScmpActNotify {
            return Err(KubeError::SpoNotify {
                field: format!("syscalls[{index}].action"),
            });
        }
    }
    // The CRD wants at least one name per rule; syscage never writes an empty rule, but a
    // foreign profile might have one, and it means nothing.
    let syscalls: Option<Vec<LinuxSyscall>> = profile.syscalls().as_ref().map(|rules| {
        rules
            .iter()
            .filter(|r| !r.names().is_empty())
            .cloned()
            .collect()
    });
    let resource = SpoResourceOut {
        api_version: SPO_API_VERSION,
        kind: SPO_KIND,
        metadata: SpoMetadata {
            name: Some(name.to_owned()),
            namespace: namespace.map(str::to_owned),
        },
        spec: SpoSpecOut {
            default_action: profile.default_action(),
            architectures: profile.architectures().as_ref(),
            flags: profile.flags().as_ref(),
            syscalls,
        },
    };
    let yaml = serde_yaml_ng::to_string(&resource).map_err(|e| KubeError::Yaml(e.to_string()))?;
    let localhost = spo_localhost_profile(name, namespace);
    let scope = match namespace {
        Some(_) => "a namespaced SeccompProfile, as SPO releases before v0.9.0 have",
        None => "a cluster-scoped SeccompProfile, as SPO v0.9.0 and later have",
    };
    Ok(format!(
        "# Seccomp profile for the Security Profiles Operator, generated by syscage: {scope}.\n\
         # The operator installs it on every node as {KUBELET_SECCOMP_DIR}/{localhost};\n\
         # a container uses it with this securityContext:\n\
         #   seccompProfile:\n\
         #     type: Localhost\n\
         #     localhostProfile: {localhost}\n\
         {yaml}"
    ))
}

/// The resource as written: the spec's keys in the runtime spec's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpoResourceOut<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: SpoMetadata,
    spec: SpoSpecOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpoSpecOut<'a> {
    default_action: LinuxSeccompAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    architectures: Option<&'a Vec<Arch>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<&'a Vec<LinuxSeccompFilterFlag>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    syscalls: Option<Vec<LinuxSyscall>>,
}

/// An SPO resource read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoProfile {
    /// `metadata.name`, if any.
    pub name: Option<String>,
    /// The spec as a runtime-spec profile (default errno EPERM, as the CRD has no field for it).
    pub profile: LinuxSeccomp,
    /// What was not taken over (`baseProfileName` is not resolved).
    pub warnings: Vec<String>,
}

/// Reads an SPO `SeccompProfile` resource from a parsed document; `origin` names it in errors.
pub fn parse_spo(value: Value, origin: &str) -> Result<SpoProfile, KubeError> {
    let field_error = |field: FieldPath, message: String| KubeError::Field {
        origin: origin.to_owned(),
        field,
        message,
    };
    if !value.is_object() {
        return Err(field_error(
            FieldPath(None),
            format!("expected an object, found {}", json_kind(&value)),
        ));
    }
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group_ok = api_version
        .strip_prefix(SPO_GROUP)
        .is_some_and(|rest| rest.starts_with('/'));
    if !group_ok {
        return Err(KubeError::NotSpo {
            origin: origin.to_owned(),
            field: "apiVersion",
            expected: "security-profiles-operator.x-k8s.io/v1beta1 (or another version)",
            found: value
                .get("apiVersion")
                .map_or("nothing".to_owned(), Value::to_string),
        });
    }
    if value.get("kind").and_then(Value::as_str) != Some(SPO_KIND) {
        return Err(KubeError::NotSpo {
            origin: origin.to_owned(),
            field: "kind",
            expected: "SeccompProfile",
            found: value
                .get("kind")
                .map_or("nothing".to_owned(), Value::to_string),
        });
    }
    let resource: SpoResource =
        deserialize_at(value).map_err(|(field, message)| field_error(field, message))?;
    let mut spec = resource.spec;
    let mut warnings = Vec::new();
    let Some(object) = spec.as_object_mut() else {
        return Err(field_error(
            FieldPath::field("spec"),
            format!("expected an object, found {}", json_kind(&spec)),
        ));
    };
    if let Some(base) = object.remove("baseProfileName") {
        warnings.push(format!(
            "{origin}: spec.baseProfileName: {base} is not merged in; syscage reads this \
             resource's own rules only"
        ));
    }
    object.remove("disabled");
    object.remove("state");
    // Older CRDs typed errnoRet as a string.
    if let Some(Value::Array(rules)) = object.get_mut("syscalls") {
        for rule in rules {
            if let Some(errno) = rule.get_mut("errnoRet") {
                if let Some(n) = errno.as_str().and_then(|s| s.parse::<u32>().ok()) {
                    *errno = n.into();
                }
            }
        }
    }
    let profile: LinuxSeccomp = serde_path_to_error::deserialize(spec).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            FieldPath::field("spec")
        } else {
            FieldPath::field(format!("spec.{}", one_line(path)))
        };
        field_error(field, one_line(err.inner()))
    })?;
    Ok(SpoProfile {
        name: resource.metadata.name,
        profile,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::oci::profile_from_json;

    fn profile() -> LinuxSeccomp {
        profile_from_json(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                  {"names": ["exit", "read"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
            "p",
        )
        .unwrap()
    }

    #[test]
    fn object_names() {
        assert_eq!(object_name("My_App.json").as_deref(), Some("my-app-json"));
        assert_eq!(object_name("--x--").as_deref(), Some("x"));
        assert_eq!(object_name("___"), None);
        assert_eq!(object_name(&"a".repeat(80)).unwrap().len(), 63);
    }

    #[test]
    fn localhost_paths() {
        check_localhost_path("profiles/app.json").unwrap();
        for bad in ["", "/abs.json", "../x.json", "a//b", "a/../b"] {
            assert!(check_localhost_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pod_snippet_has_the_observed_security_context() {
        let facts = crate::model::merged_security::MergedSecurity {
            watched_in: 1,
            identity: crate::model::merged_security::MergedIdentity {
                uids: vec![1000],
                gids: vec![1000],
                root_used_in: 0,
            },
            ..Default::default()
        };
        let evidence = Evidence::Observed { facts: &facts };
        let yaml = localhost_pod_yaml("app", "profiles/app.json", "app.json", evidence).unwrap();
        assert!(
            yaml.starts_with("# Seccomp profile for Kubernetes"),
            "{yaml}"
        );
        assert!(
            yaml.contains("#      /var/lib/kubelet/seccomp/profiles/app.json\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("#   This securityContext meets the restricted level.\n"),
            "{yaml}"
        );
        let value: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(value["apiVersion"], "v1");
        assert_eq!(value["kind"], "Pod");
        let sc = &value["spec"]["containers"][0]["securityContext"];
        assert_eq!(
            sc,
            &serde_json::json!({
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}
            })
        );
        assert!(localhost_pod_yaml("App!", "p.json", "p.json", evidence).is_err());
    }

    #[test]
    fn pod_snippet_without_facts_claims_only_seccomp() {
        let origins = ["old.json".to_owned()];
        let evidence = Evidence::NotObserved { origins: &origins };
        let yaml = localhost_pod_yaml("app", "profiles/app.json", "app.json", evidence).unwrap();
        assert!(yaml.contains("not observed in old.json"), "{yaml}");
        let value: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(
            value["spec"]["containers"][0]["securityContext"],
            serde_json::json!({
                "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}
            })
        );
    }

    #[test]
    fn spo_round_trip() {
        let yaml = spo_yaml("app", &profile()).unwrap();
        let value: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(value["apiVersion"], SPO_API_VERSION);
        assert_eq!(value["kind"], "SeccompProfile");
        assert_eq!(value["metadata"], serde_json::json!({"name": "app"}));
        assert!(
            yaml.contains("#     localhostProfile: operator/app.json\n"),
            "{yaml}"
        );
        assert!(value["spec"].get("defaultErrnoRet").is_none());
        assert_eq!(value["spec"]["syscalls"][1]["errnoRet"], 38);
        let back = parse_spo(value, "app.yaml").unwrap();
        let mut expected = profile();
        expected.set_default_errno_ret(None);
        assert_eq!(back.profile, expected);
        assert_eq!(back.name.as_deref(), Some("app"));
    }

    #[test]
    fn spo_namespace_and_localhost_profile() {
        let yaml = spo_yaml_in("app", Some("shop"), &profile()).unwrap();
        let value: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(
            value["metadata"],
            serde_json::json!({"name": "app", "namespace": "shop"})
        );
        assert!(
            yaml.contains("#     localhostProfile: operator/shop/app.json\n"),
            "{yaml}"
        );
        assert!(yaml.contains("/var/lib/kubelet/seccomp/operator/shop/app.json"));
        assert_eq!(parse_spo(value, "x").unwrap().name.as_deref(), Some("app"));
        assert_eq!(
            spo_yaml_in("app", Some("Shop_1"), &profile())
                .unwrap_err()
                .to_string(),
            "namespace \"Shop_1\": expected a Kubernetes namespace name (lowercase letters, \
             digits and '-', such as my-team)"
        );
        assert_eq!(
            spo_yaml("Bad_Name", &profile()).unwrap_err().to_string(),
            "\"Bad_Name\" is not a Kubernetes object name, expected lowercase letters, digits \
             and '-' (such as bad-name)"
        );
    }

    #[test]
    fn spo_errors_name_the_field() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {}});
        assert_eq!(
            parse_spo(v, "x.yaml").unwrap_err().to_string(),
            "x.yaml: apiVersion: expected security-profiles-operator.x-k8s.io/v1beta1 (or \
             another version), found \"v1\""
        );
        let v = serde_json::json!({"apiVersion": SPO_API_VERSION, "kind": "SeccompProfile",
            "metadata": {"name": "a"}, "spec": {"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "ALLOW"}]}});
        let err = parse_spo(v, "x.yaml").unwrap_err().to_string();
        assert!(
            err.starts_with("x.yaml: spec.syscalls[0].action: unknown variant `ALLOW`"),
            "{err}"
        );
        let v = serde_json::json!({"apiVersion": SPO_API_VERSION, "kind": "SeccompProfile",
            "metadata": {"name": "a"}, "spec": {"defaultAction": "SCMP_ACT_ERRNO",
            "baseProfileName": "runc-v1.0.0"}});
        let spo = parse_spo(v, "x.yaml").unwrap();
        assert!(
            spo.warnings[0].contains("baseProfileName"),
            "{:?}",
            spo.warnings
        );
    }

    #[test]
    fn spo_refuses_what_the_crd_cannot_hold() {
        let mut p = profile();
        p.set_architectures(Some(vec![Arch::ScmpArchLoongarch64]));
        assert_eq!(
            spo_yaml("app", &p).unwrap_err().to_string(),
            "architectures: SCMP_ARCH_LOONGARCH64 is not in the SeccompProfile CRD's list of \
             architectures; the operator would refuse the resource"
        );
    }
}

#[cfg(test)]
#[path = "kube_schema_tests.rs"]
mod schema_tests;
