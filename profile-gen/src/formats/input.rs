//! Reading whatever a user hands `generate`, `diff` or `merge`: syscage recordings and merged
//! recordings, OCI runtime-spec profiles, Docker/moby-format profiles, and the Security Profiles
//! Operator's `SeccompProfile` resources (YAML or JSON).
//!
//! The kind is told from the document itself, not the file name: a `format` field makes it a
//! recording, `apiVersion`/`kind` an SPO resource, `defaultAction` a profile, which is a
//! Docker-format one when it uses `archMap`, `includes`, `excludes` (or Docker's other extras).
//! A Docker-format profile is evaluated for the [`Conditions`] given (architecture, capabilities,
//! kernel), with a warning that containerd and runc ignore those keys in Localhost profiles.
//! JSON is tried first; anything else is read as YAML.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use libseccomp::ScmpArch;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use serde_json::Value;
use thiserror::Error;

use crate::error::{deserialize_at, one_line, FieldPath, ProfileError};
use crate::formats::docker::{self, Conditions, DockerError};
use crate::formats::kube::{self, KubeError};
use crate::formats::oci::profile_from_json;
use crate::model::arch::{arch_name, scmp_arch_from_oci};
use crate::model::merged::{MergeError, MergedRecording, MERGED_FORMAT};
use crate::model::recording::{enforceable_name, name_mismatch};
use crate::model::recording::{Recording, RecordingError, SyscallRecord};

/// Which kind of document an input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Recording,
    MergedRecording,
    OciProfile,
    DockerProfile,
    SpoProfile,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Recording => "syscage recording",
            Self::MergedRecording => "syscage merged recording",
            Self::OciProfile => "OCI runtime-spec profile",
            Self::DockerProfile => "Docker-format profile",
            Self::SpoProfile => "SPO SeccompProfile",
        })
    }
}

/// What an input holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// One recording (boxed: it is much larger than the other variants).
    Recording(Box<Recording>),
    /// A merged recording.
    Merged(MergedRecording),
    /// A profile (Docker-format ones already evaluated, SPO ones unwrapped).
    Profile(LinuxSeccomp),
}

/// One input file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The file name (or another origin), for messages.
    pub origin: String,
    pub kind: InputKind,
    pub content: Content,
    /// Things the caller should tell the user (Docker keys evaluated, SPO fields not used).
    pub warnings: Vec<String>,
}

/// Reading an input.
#[derive(Debug, Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {cause}")]
    Read {
        origin: String,
        cause: std::io::Error,
    },

    /// JSON that does not parse.
    #[error("{origin}: not JSON: {cause}")]
    NotJson {
        origin: String,
        cause: serde_json::Error,
    },

    /// Neither JSON nor YAML.
    #[error("{origin}: neither JSON nor YAML: {message}")]
    NotYaml { origin: String, message: String },

    /// A YAML stream with several documents and not exactly one SeccompProfile among them.
    #[error(
        "{origin}: {count} YAML documents, expected one (or exactly one SeccompProfile among \
         them)"
    )]
    Documents { origin: String, count: usize },

    /// A document of no kind syscage reads.
    #[error(
        "{origin}: {found}, expected a syscage recording (format), a seccomp profile \
         (defaultAction) or an SPO SeccompProfile (apiVersion, kind)"
    )]
    Unknown { origin: String, found: String },

    /// A recording written as YAML: recordings are JSON.
    #[error("{origin}: a syscage recording must be JSON, this is YAML")]
    RecordingNotJson { origin: String },

    /// A field with the wrong type or shape.
    #[error("{origin}: {field}{message}")]
    Field {
        origin: String,
        field: FieldPath,
        message: String,
    },

    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error(transparent)]
    Merged(#[from] MergeError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Kube(#[from] KubeError),
}

/// Reads an input file; see the module documentation. `conditions` is used for Docker-format
/// profiles only.
pub fn read_input(path: &Path, conditions: &Conditions) -> Result<Input, InputError> {
    let origin = path.display().to_string();
    let bytes = crate::formats::read::read_input_file(path).map_err(|cause| InputError::Read {
        origin: origin.clone(),
        cause,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parse_input(&text, &origin, conditions)
}

/// Adds a warning for each recorded name that is not its number's name (the number counts).
fn with_name_mismatches(mut input: Input) -> Input {
    let Some(arch) = input.arch() else {
        return input;
    };
    let records = input.records();
    let origin = input.origin.clone();
    input.warnings.extend(
        records
            .iter()
            .filter_map(|r| name_mismatch(arch, r))
            .map(|w| format!("{origin}: {w}")),
    );
    input
}

/// Parses an input; `origin` names it in errors.
pub fn parse_input(text: &str, origin: &str, conditions: &Conditions) -> Result<Input, InputError> {
    let looks_like_json = text.trim_start().starts_with(['{', '[']);
    let (value, json) = match serde_json::from_str::<Value>(text) {
        Ok(value) => (value, true),
        Err(cause) if looks_like_json => {
            return Err(InputError::NotJson {
                origin: origin.to_owned(),
                cause,
            })
        }
        Err(_) => (yaml_document(text, origin)?, false),
    };
    let Some(object) = value.as_object() else {
        return Err(InputError::Unknown {
            origin: origin.to_owned(),
            found: format!("found {}", crate::error::json_kind(&value)),
        });
    };
    let input = |kind, content, warnings| Input {
        origin: origin.to_owned(),
        kind,
        content,
        warnings,
    };

    if let Some(format) = object.get("format") {
        if !json {
            return Err(InputError::RecordingNotJson {
                origin: origin.to_owned(),
            });
        }
        return match format.as_str() {
            Some(MERGED_FORMAT) => Ok(input(
                InputKind::MergedRecording,
                Content::Merged(MergedRecording::from_json(text, origin)?),
                Vec::new(),
            )),
            // A recording, or something claiming a format: the recording reader says which.
            _ => Ok(input(
                InputKind::Recording,
                Content::Recording(Box::new(Recording::from_json(text, origin)?)),
                Vec::new(),
            )),
        }
        .map(with_name_mismatches);
    }
    if object.contains_key("apiVersion") || object.contains_key("kind") {
        let spo = kube::parse_spo(value, origin)?;
        return Ok(input(
            InputKind::SpoProfile,
            Content::Profile(spo.profile),
            spo.warnings,
        ));
    }
    if object.contains_key("defaultAction") {
        if docker::is_docker_format(&value) {
            let parsed = if json {
                docker::parse(text, origin)?
            } else {
                docker::parse_value(value, origin)?
            };
            let rendered = docker::render(&parsed, conditions, origin)?;
            let warning = format!(
                "{origin}: Docker-format profile (archMap/includes/excludes) evaluated for \
                 {conditions}: {} of {} rules apply; containerd and runc ignore these keys in \
                 Localhost profiles, so use the evaluated profile rather than this file there",
                rendered.rules_applied,
                rendered.rules_applied + rendered.rules_skipped
            );
            return Ok(input(
                InputKind::DockerProfile,
                Content::Profile(rendered.profile),
                vec![warning],
            ));
        }
        let profile = if json {
            profile_from_json(text, origin)?
        } else {
            deserialize_at(value).map_err(|(field, message)| InputError::Field {
                origin: origin.to_owned(),
                field,
                message,
            })?
        };
        return Ok(input(
            InputKind::OciProfile,
            Content::Profile(profile),
            Vec::new(),
        ));
    }
    let keys: Vec<&str> = object.keys().map(String::as_str).take(6).collect();
    Err(InputError::Unknown {
        origin: origin.to_owned(),
        found: if keys.is_empty() {
            "found an empty object".to_owned()
        } else {
            format!("found an object with keys {}", one_line(keys.join(", ")))
        },
    })
}

/// The one document of a YAML stream, or its one SeccompProfile.
fn yaml_document(text: &str, origin: &str) -> Result<Value, InputError> {
    use serde::Deserialize as _;
    let mut documents = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        let value = Value::deserialize(document).map_err(|e| InputError::NotYaml {
            origin: origin.to_owned(),
            message: one_line(e),
        })?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    match documents.len() {
        1 => Ok(documents.remove(0)),
        count => {
            let mut profiles: Vec<Value> = documents
                .into_iter()
                .filter(|d| d.get("kind").and_then(Value::as_str) == Some(kube::SPO_KIND))
                .collect();
            if profiles.len() == 1 {
                Ok(profiles.remove(0))
            } else if count == 0 {
                Err(InputError::NotYaml {
                    origin: origin.to_owned(),
                    message: "the file is empty".to_owned(),
                })
            } else {
                Err(InputError::Documents {
                    origin: origin.to_owned(),
                    count,
                })
            }
        }
    }
}

impl Input {
    /// The architecture the input is about: a recording's, or a profile's first concrete one.
    pub fn arch(&self) -> Option<ScmpArch> {
        match &self.content {
            Content::Recording(rec) => rec.scmp_arch().ok(),
            Content::Merged(m) => crate::model::arch::parse_arch_name(&m.arch).ok(),
            Content::Profile(p) => p
                .architectures()
                .iter()
                .flatten()
                .filter_map(|a| scmp_arch_from_oci(*a).ok())
                .find(|a| *a != ScmpArch::Native),
        }
    }

    /// Whether this is a recording (plain or merged) rather than a profile.
    pub fn is_recording(&self) -> bool {
        matches!(self.content, Content::Recording(_) | Content::Merged(_))
    }

    /// The syscall records of a recording that a profile must allow (a container's runtime
    /// setup before its filter is left out, see [`SyscallRecord::needed_under_filter`]); empty
    /// for profiles.
    pub fn records(&self) -> Vec<SyscallRecord> {
        match &self.content {
            Content::Recording(rec) => rec
                .syscalls
                .iter()
                .filter(|r| r.needed_under_filter(rec.phases.as_ref()))
                .cloned()
                .collect(),
            Content::Merged(m) => m.needed_records(),
            Content::Profile(_) => Vec::new(),
        }
    }

    /// Recorded numbers that libseccomp cannot name (never in a profile), sorted.
    pub fn unknown_numbers(&self) -> Vec<u32> {
        let Some(arch) = self.arch() else {
            return Vec::new();
        };
        let numbers: BTreeSet<u32> = self
            .records()
            .iter()
            .filter(|r| enforceable_name(arch, r).is_none())
            .map(|r| r.nr)
            .collect();
        numbers.into_iter().collect()
    }

    /// Whether the input is a deny-list (its default action lets syscalls run, and is not the
    /// log-only default of a "warn first" profile).
    pub fn is_deny_list(&self) -> bool {
        matches!(&self.content, Content::Profile(p)
            if p.default_action() == LinuxSeccompAction::ScmpActAllow)
    }

    /// `app.json (OCI runtime-spec profile, SCMP_ARCH_X86_64)`, for reports.
    pub fn describe(&self) -> String {
        match self.arch() {
            Some(arch) => format!("{} ({}, {})", self.origin, self.kind, arch_name(arch)),
            None => format!("{} ({})", self.origin, self.kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::docker::KernelVersion;

    fn conditions() -> Conditions {
        Conditions {
            arch: ScmpArch::X8664,
            caps: BTreeSet::new(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn parse(text: &str) -> Result<Input, InputError> {
        parse_input(text, "in", &conditions())
    }

    const RECORDING: &str = include_str!("../../tests/fixtures/recording-v1.json");

    #[test]
    fn tells_the_kinds_apart() {
        let rec = parse(RECORDING).unwrap();
        assert_eq!(rec.kind, InputKind::Recording);
        assert_eq!(rec.arch(), Some(ScmpArch::X8664));
        assert_eq!(rec.unknown_numbers(), vec![1000]);
        assert!(rec
            .runnable_names(ScmpArch::X8664)
            .unwrap()
            .contains("getpid"));

        let oci = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_AARCH64"],
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        assert_eq!(oci.kind, InputKind::OciProfile);
        assert_eq!(oci.arch(), Some(ScmpArch::Aarch64));

        let docker = parse(crate::baselines::runtime_default::Flavour::Moby.data()).unwrap();
        assert_eq!(docker.kind, InputKind::DockerProfile);
        assert!(docker.warnings[0].contains("containerd and runc ignore these keys"));
        assert!(docker.warnings[0].contains("SCMP_ARCH_X86_64, 0 capabilities, kernel 6.1"));

        let spo = parse(
            "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n\
             metadata:\n  name: app\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n  syscalls:\n  \
             - action: SCMP_ACT_ALLOW\n    names: [read, write]\n",
        )
        .unwrap();
        assert_eq!(spo.kind, InputKind::SpoProfile);
        assert_eq!(spo.runnable_names(ScmpArch::X8664).unwrap().len(), 2);

        let yaml_oci = parse("defaultAction: SCMP_ACT_ERRNO\nsyscalls: []\n").unwrap();
        assert_eq!(yaml_oci.kind, InputKind::OciProfile);
    }

    #[test]
    fn several_yaml_documents_need_one_seccomp_profile() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n\
            apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n\
            metadata: {name: app}\nspec: {defaultAction: SCMP_ACT_ERRNO}\n";
        assert_eq!(parse(text).unwrap().kind, InputKind::SpoProfile);
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "in: 2 YAML documents, expected one (or exactly one SeccompProfile among them)"
        );
    }

    /// Found by `cargo xtask fuzz` (spo_profile, minimised): serde's messages quote the input,
    /// and a value or key with a line break in it broke the one-line rule. Every reader's
    /// messages now escape control characters.
    #[test]
    fn errors_quoting_the_input_stay_on_one_line() {
        let fuzzed = "apiVersion: security-profiles-operator.x-k8s.io/\nkind: SeccompProfile\n\
            metadata:\n n:\nspec:\n architectures:\n - C\n\n  h";
        let cases: &[(&str, &str)] = &[
            (fuzzed, "C\\nh"),
            (
                "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\nkind: SeccompProfile\n\
                 metadata: {name: app}\nspec: {defaultAction: \"SCMP\\nX\"}\n",
                "spec.defaultAction: unknown variant `SCMP\\nX`",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO\nX"}"#,
                "defaultAction: unknown variant `SCMP_ACT_ERRNO\\nX`",
            ),
            (
                "defaultAction: SCMP_ACT_ERRNO\nsyscalls: [{names: [a], action: \"A\\tB\"}]\n",
                "syscalls[0].action: unknown variant `A\\tB`",
            ),
            (r#"{"a\nb": 1}"#, "found an object with keys a\\nb"),
            (
                r#"{"format": "syscage-recording", "version": 1, "x\ny": 1}"#,
                "unknown field `x\\ny`",
            ),
            (
                r#"{"format": "syscage-merged-recording", "version": 1, "x\ny": 1}"#,
                "unknown field `x\\ny`",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "A\nB"}]}"#,
                "unknown variant `A\\nB`",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(!err.contains(['\n', '\r', '\t']), "{text:?}\n{err}");
            assert!(
                err.contains(expected),
                "{text:?}\nexpected {expected:?} in\n{err}"
            );
        }
    }

    #[test]
    fn bad_files_get_one_line_errors() {
        let cases: &[(&str, &str)] = &[
            (
                "{nope",
                "in: not JSON: key must be a string at line 1 column 2",
            ),
            (
                "{\"colour\": 1}",
                "in: found an object with keys colour, expected a syscage recording (format), \
                 a seccomp profile (defaultAction) or an SPO SeccompProfile (apiVersion, kind)",
            ),
            (
                "[1]",
                "in: found an array, expected a syscage recording (format), a seccomp profile \
                 (defaultAction) or an SPO SeccompProfile (apiVersion, kind)",
            ),
            (
                "format: syscage-recording\n",
                "in: a syscage recording must be JSON, this is YAML",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["a"], "action": 1}]}"#,
                "in: syscalls[0].action: ",
            ),
            (
                "defaultAction: SCMP_ACT_ERRNO\nsyscalls: [{names: [a], action: 1}]\n",
                "in: syscalls[0].action: invalid type: integer `1`, expected",
            ),
            (
                "kind: SeccompProfile\n",
                "in: apiVersion: expected security-profiles-operator.x-k8s.io/v1beta1",
            ),
            (": : :\n  - [", "in: neither JSON nor YAML: "),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{text:?}\n{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        let err = read_input(Path::new("/nonexistent/x.json"), &conditions())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/nonexistent/x.json: cannot read: "),
            "{err}"
        );
    }

    #[test]
    fn deny_lists_are_told_apart() {
        let deny = parse(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}"#,
        )
        .unwrap();
        assert!(deny.is_deny_list());
        let names = deny.runnable_names(ScmpArch::X8664).unwrap();
        assert!(names.contains("read") && !names.contains("reboot"));
    }
}
