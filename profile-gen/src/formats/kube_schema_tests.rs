//! The Kubernetes outputs checked against Kubernetes' own schemas, offline.
//!
//! - The Localhost Pod snippet (YAML, and the same Pod as JSON) goes through PyPI's
//!   `kubernetes-validate` in strict mode (unknown fields are errors), which carries the
//!   Kubernetes OpenAPI schemas. The test fails, saying how to install it, when the tool is
//!   missing: it never passes without having validated.
//! - The SPO `SeccompProfile` is a custom resource, which `kubernetes-validate` has no schema
//!   for; it is checked against the facts of the CRD's OpenAPI schema as the Security Profiles
//!   Operator publishes it (kubernetes-sigs/security-profiles-operator,
//!   `deploy/base-crds/crds/seccompprofile.yaml` at a2e4c4bd, version `v1beta1`). The e2e test
//!   `tests/tests/profiles_real_life.rs` validates `generate --format spo`'s output against that
//!   schema itself (`tests/fixtures/spo-seccompprofile-v1beta1.schema.json`) with python's
//!   jsonschema.

use std::path::Path;
use std::process::Command;

use libseccomp::ScmpArch;
use serde_json::Value;

use crate::build::generate::{generate, log_profile};
use crate::formats::docker::{Conditions, KernelVersion};
use crate::formats::input::parse_input;
use crate::formats::kube::{localhost_pod_yaml, spo_yaml};
use crate::formats::security_context::Evidence;
use crate::model::merged_security::MergedSecurity;
use crate::model::recording::{Recording, SyscallRecord};
use crate::model::security::{
    CapabilityUse, Identity, PrivilegeGain, PrivilegeGainKind, RootFilesystemWrites, SecurityFacts,
};

const TOOL: &str = "kubernetes-validate";
const INSTALL: &str = "pip install kubernetes-validate==1.31.0";

fn generated_profile() -> oci_spec::runtime::LinuxSeccomp {
    let mut rec =
        Recording::from_json(include_str!("../../tests/fixtures/recording-v1.json"), "r").unwrap();
    // clone without clone3: the profile gets an ENOSYS rule too.
    rec.syscalls
        .push(SyscallRecord::new(ScmpArch::X8664, 56, 1, 500));
    let conditions = Conditions {
        arch: ScmpArch::X8664,
        caps: Default::default(),
        kernel: KernelVersion { major: 6, minor: 1 },
    };
    let input = parse_input(&rec.to_json(), "r.json", &conditions).unwrap();
    generate(&[input], ScmpArch::X8664).unwrap().profile
}

/// Runs kubernetes-validate --strict on `file`; returns (success, output).
fn validate(file: &Path) -> (bool, String) {
    let output = Command::new(TOOL)
        .arg("--strict")
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {TOOL} ({e}): this test validates the Kubernetes outputs against \
                 the Kubernetes schema offline and needs it installed: {INSTALL}"
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Security facts of the kinds `generate` writes differently: nothing needed but run as root
/// (runAsUser), and a server that used root, wrote its root filesystem and gained privilege.
fn security_facts() -> Vec<MergedSecurity> {
    let cap = |name: &str, needed: bool| CapabilityUse {
        name: name.into(),
        granted: 1,
        denied: 0,
        noaudit: 0,
        needed,
    };
    let quiet = SecurityFacts {
        capabilities: vec![cap("CAP_DAC_OVERRIDE", false)],
        identity: Identity {
            uids: vec![0, 65534],
            gids: vec![0, 65534],
            root_used: false,
        },
        ..SecurityFacts::default()
    };
    let server = SecurityFacts {
        capabilities: vec![
            cap("CAP_NET_BIND_SERVICE", true),
            cap("CAP_SETGID", true),
            cap("CAP_SETUID", true),
        ],
        identity: Identity {
            uids: vec![0, 33],
            gids: vec![0, 33],
            root_used: true,
        },
        root_filesystem_writes: RootFilesystemWrites {
            count: 3,
            paths: vec!["/var/cache/nginx/a".into(), "/var/run/nginx.pid".into()],
            truncated: false,
            unobserved: None,
        },
        privilege_gain: vec![PrivilegeGain {
            path: "/usr/bin/ping".into(),
            kind: PrivilegeGainKind::FileCapabilities,
        }],
    };
    vec![
        MergedSecurity::from_facts(&quiet),
        MergedSecurity::from_facts(&server),
    ]
}

#[test]
#[ignore = "needs kubernetes-validate (pip install kubernetes-validate==1.31.0)"]
fn localhost_pod_snippet_passes_the_kubernetes_schema() {
    let dir = tempfile::tempdir().unwrap();
    let facts = security_facts();
    let origins = ["old.recording.json".to_owned()];
    let mut evidences: Vec<Evidence<'_>> = facts
        .iter()
        .map(|facts| Evidence::Observed { facts })
        .collect();
    evidences.push(Evidence::NotObserved { origins: &origins });
    for (index, evidence) in evidences.into_iter().enumerate() {
        let yaml =
            localhost_pod_yaml("my-app", "profiles/my-app.json", "my-app.json", evidence).unwrap();
        let yaml_path = dir.path().join(format!("pod{index}.yaml"));
        std::fs::write(&yaml_path, &yaml).unwrap();
        let (ok, out) = validate(&yaml_path);
        assert!(
            ok && out.contains("passed"),
            "{TOOL} refused the Pod:\n{out}\n{yaml}"
        );

        // The same Pod as JSON.
        let value: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let json_path = dir.path().join(format!("pod{index}.json"));
        std::fs::write(&json_path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
        let (ok, out) = validate(&json_path);
        assert!(
            ok && out.contains("passed"),
            "{TOOL} refused the Pod as JSON:\n{out}"
        );
    }

    // The validator really validates: a misspelt field is refused.
    let yaml = localhost_pod_yaml(
        "my-app",
        "profiles/my-app.json",
        "my-app.json",
        Evidence::Observed { facts: &facts[0] },
    )
    .unwrap();
    assert!(yaml.contains("runAsUser: 65534"), "{yaml}");
    let broken = yaml.replace("runAsNonRoot", "runAsNonRooot");
    let broken_path = dir.path().join("broken.yaml");
    std::fs::write(&broken_path, broken).unwrap();
    let (ok, out) = validate(&broken_path);
    assert!(!ok, "{TOOL} accepted a misspelt field:\n{out}");
}

/// Facts of the SeccompProfile CRD (v1beta1) the resource must satisfy.
mod crd {
    pub(super) const SPEC_FIELDS: [&str; 9] = [
        "architectures",
        "baseProfileName",
        "defaultAction",
        "disabled",
        "flags",
        "listenerMetadata",
        "listenerPath",
        "state",
        "syscalls",
    ];
    pub(super) const ACTIONS: [&str; 9] = [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    ];
    pub(super) const ARCHES: [&str; 20] = [
        "SCMP_ARCH_NATIVE",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",
        "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",
        "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC",
        "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_RISCV64",
    ];
    pub(super) const OPS: [&str; 7] = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    pub(super) const RULE_FIELDS: [&str; 4] = ["action", "args", "errnoRet", "names"];
    pub(super) const ARG_FIELDS: [&str; 4] = ["index", "op", "value", "valueTwo"];
}

/// Checks `resource` against the CRD facts; returns the problems found.
fn crd_problems(resource: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    check(
        resource["apiVersion"] == "security-profiles-operator.x-k8s.io/v1beta1",
        format!("apiVersion {}", resource["apiVersion"]),
    );
    check(
        resource["kind"] == "SeccompProfile",
        format!("kind {}", resource["kind"]),
    );
    let name = resource["metadata"]["name"].as_str().unwrap_or("");
    check(
        !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
        format!("metadata.name {name:?}"),
    );
    let spec = resource["spec"].as_object().cloned().unwrap_or_default();
    for key in spec.keys() {
        check(
            crd::SPEC_FIELDS.contains(&key.as_str()),
            format!("spec.{key}: not in the CRD"),
        );
    }
    check(
        spec.get("defaultAction")
            .and_then(Value::as_str)
            .is_some_and(|a| crd::ACTIONS.contains(&a)),
        "spec.defaultAction: required, one of the actions".to_owned(),
    );
    for arch in spec
        .get("architectures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(
            arch.as_str().is_some_and(|a| crd::ARCHES.contains(&a)),
            format!("spec.architectures: {arch}"),
        );
    }
    for (i, rule) in spec
        .get("syscalls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(rule) = rule.as_object() else {
            problems.push(format!("spec.syscalls[{i}]: not an object"));
            continue;
        };
        for key in rule.keys() {
            if !crd::RULE_FIELDS.contains(&key.as_str()) {
                problems.push(format!("spec.syscalls[{i}].{key}: not in the CRD"));
            }
        }
        let names = rule.get("names").and_then(Value::as_array);
        if !names.is_some_and(|n| !n.is_empty() && n.iter().all(Value::is_string)) {
            problems.push(format!(
                "spec.syscalls[{i}].names: required, at least one string"
            ));
        }
        if !rule
            .get("action")
            .and_then(Value::as_str)
            .is_some_and(|a| crd::ACTIONS.contains(&a))
        {
            problems.push(format!("spec.syscalls[{i}].action"));
        }
        if let Some(errno) = rule.get("errnoRet") {
            if errno.as_u64().is_none_or(|e| e > i32::MAX as u64) {
                problems.push(format!("spec.syscalls[{i}].errnoRet: {errno}"));
            }
        }
        let args = rule.get("args").and_then(Value::as_array);
        if args.is_some_and(|a| a.len() > 6) {
            problems.push(format!("spec.syscalls[{i}].args: more than 6"));
        }
        for (j, arg) in args.into_iter().flatten().enumerate() {
            let arg = arg.as_object().cloned().unwrap_or_default();
            for key in arg.keys() {
                if !crd::ARG_FIELDS.contains(&key.as_str()) {
                    problems.push(format!(
                        "spec.syscalls[{i}].args[{j}].{key}: not in the CRD"
                    ));
                }
            }
            if !arg.get("index").is_some_and(Value::is_u64)
                || !arg
                    .get("op")
                    .and_then(Value::as_str)
                    .is_some_and(|o| crd::OPS.contains(&o))
            {
                problems.push(format!(
                    "spec.syscalls[{i}].args[{j}]: index and op required"
                ));
            }
            for key in ["value", "valueTwo"] {
                if arg.get(key).is_some_and(|v| !v.is_u64()) {
                    problems.push(format!("spec.syscalls[{i}].args[{j}].{key}"));
                }
            }
        }
    }
    problems
}

#[test]
fn spo_resource_satisfies_the_crd() {
    let profile = generated_profile();
    let yaml = spo_yaml("my-app", &profile).unwrap();
    let resource: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(crd_problems(&resource), Vec::<String>::new(), "{yaml}");
    assert_eq!(resource["spec"]["syscalls"][1]["errnoRet"], 38, "{yaml}");

    // A rendered RuntimeDefault (argument conditions, several errnos) fits as well.
    let rd = crate::baselines::runtime_default::render(
        crate::baselines::runtime_default::Flavour::Crio,
        &Conditions {
            arch: ScmpArch::X8664,
            caps: Default::default(),
            kernel: KernelVersion { major: 6, minor: 1 },
        },
    )
    .unwrap();
    let yaml = spo_yaml("crio-default", &rd.policy.to_profile()).unwrap();
    let resource: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(crd_problems(&resource), Vec::<String>::new());

    // The checker catches what the CRD forbids.
    let mut bad = resource.clone();
    bad["spec"]["defaultErrnoRet"] = 1.into();
    bad["spec"]["syscalls"][0]["names"] = serde_json::json!([]);
    assert_eq!(crd_problems(&bad).len(), 2, "{:?}", crd_problems(&bad));
}

#[test]
#[ignore = "needs kubernetes-validate (pip install kubernetes-validate==1.31.0)"]
fn kubernetes_validate_accepts_the_spo_resource() {
    // kubernetes-validate has no schema for the CRD, but the file must not be refused.
    let yaml = spo_yaml("my-app", &generated_profile()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spo.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let (ok, out) = validate(&path);
    assert!(ok, "{TOOL} refused the SeccompProfile:\n{out}");
}

#[test]
fn log_profile_as_spo_is_valid_too() {
    let yaml = spo_yaml("warn-first", &log_profile(&generated_profile())).unwrap();
    let resource: Value = serde_yaml_ng::from_str(&yaml).unwrap();
    assert_eq!(resource["spec"]["defaultAction"], "SCMP_ACT_LOG");
    assert_eq!(crd_problems(&resource), Vec::<String>::new());
}
