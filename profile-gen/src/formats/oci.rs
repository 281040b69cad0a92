//! OCI runtime-spec seccomp profiles: writing one, reading and checking one (the profile
//! `generate` and `record` write is built in [`crate::build::generate`]).
//!
//! The data model is oci-spec's `LinuxSeccomp`, which is the `linux.seccomp` object of the runtime
//! spec and also what Kubernetes' `Localhost` profiles, runc, crun, youki and containerd read.
//!
//! A generated profile denies by default with EPERM (`SCMP_ACT_ERRNO`, `defaultErrnoRet: 1`) and
//! has one `SCMP_ACT_ALLOW` rule with the sorted recorded names plus `exit`, `exit_group` and
//! `rt_sigreturn`, which are never dropped, and, where a libc fallback was recorded but the newer
//! syscall was not (`clone` without `clone3`), an `SCMP_ACT_ERRNO` rule with ENOSYS (38) for the
//! newer one ([`crate::build::generate`]). Syscalls whose argument values were recorded get
//! `SCMP_ACT_ALLOW` rules with argument conditions instead ([`crate::build::args`]), and `clone3` is
//! then answered with ENOSYS when `clone` is restricted. It lists the recording's arch and its
//! 32-bit companions ([`crate::model::arch::sub_arches`]); compat calls are named with their own
//! table. The `syscalls` key is always present so tools reading generated profiles see one
//! shape. It never allows by default.

use std::path::{Path, PathBuf};

use libseccomp::ScmpArch;
use oci_spec::runtime::LinuxSeccomp;
use serde_json::Value;

use crate::enforce::translate::{scmp_action, scmp_condition};
use crate::error::{json_kind, one_line, ActionError, FieldPath, ProfileError};
use crate::model::arch::{arch_name, oci_arch_name, scmp_arch_from_oci};
use crate::model::syscalls::syscall_known;

/// Keys of Docker's (moby's) profile format that the OCI runtimes do not read.
///
/// Docker expands them into a runtime-spec profile before handing it to runc; a runtime given
/// the file directly ignores them, so a rule guarded by `includes` would apply unconditionally
/// and an `archMap` would not add its sub-architectures.
const DOCKER_ONLY_KEYS: [&str; 3] = ["archMap", "includes", "excludes"];

/// The profile as pretty JSON with a trailing newline.
///
/// oci-spec already writes only runtime-spec keys, in the spec's order (`defaultAction`,
/// `defaultErrnoRet`, `architectures`, `flags`, `listenerPath`, `listenerMetadata`, `syscalls`;
/// in a rule `names`, `action`, `errnoRet`, `args`), and leaves out unset optional fields instead
/// of writing `null`. Serialising the struct directly, not through `serde_json::Value`, keeps
/// that order whichever serde_json features the workspace turns on.
pub fn profile_to_json(p: &LinuxSeccomp) -> String {
    let mut text = match p.listener_path() {
        // The one field that can fail to serialise: JSON strings are UTF-8, paths need not be.
        Some(path) if path.to_str().is_none() => {
            let mut lossy = p.clone();
            lossy.set_listener_path(Some(PathBuf::from(path.to_string_lossy().into_owned())));
            serialise(&lossy)
        }
        _ => serialise(p),
    };
    text.push('\n');
    text
}

fn serialise(p: &LinuxSeccomp) -> String {
    serde_json::to_string_pretty(p)
        .expect("a LinuxSeccomp with a UTF-8 listenerPath holds only strings, numbers and enums")
}

/// Reads a runtime-spec profile file; see [`profile_from_json`].
pub fn read_profile(path: &Path) -> Result<LinuxSeccomp, ProfileError> {
    let origin = path.display().to_string();
    let bytes =
        crate::formats::read::read_input_file(path).map_err(|cause| ProfileError::Read {
            origin: origin.clone(),
            cause,
        })?;
    profile_from_slice(&bytes, &origin)
}

/// Parses a runtime-spec profile; `origin` names it in errors.
///
/// Refuses Docker-only keys ([`ProfileError::DockerOnly`]). Other unknown keys are ignored, as
/// the runtimes ignore them. Call [`validate_profile`] before enforcing the result.
pub fn profile_from_json(text: &str, origin: &str) -> Result<LinuxSeccomp, ProfileError> {
    profile_from_slice(text.as_bytes(), origin)
}

fn profile_from_slice(bytes: &[u8], origin: &str) -> Result<LinuxSeccomp, ProfileError> {
    // The Docker-only keys are not fields of LinuxSeccomp, so only the untyped document shows
    // them; the typed parse then reads the text again to keep line and column in its messages.
    let value: Value = serde_json::from_slice(bytes).map_err(|cause| ProfileError::NotJson {
        origin: origin.to_owned(),
        cause,
    })?;
    check_shape(&value, origin)?;

    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|err| ProfileError::Field {
        origin: origin.to_owned(),
        field: FieldPath::from_serde(err.path()),
        message: one_line(err.inner()),
    })
}

/// Refuses what is not a profile object, and Docker-only keys (top level and in rules).
fn check_shape(value: &Value, origin: &str) -> Result<(), ProfileError> {
    let docker_only = |field: String| ProfileError::DockerOnly {
        origin: origin.to_owned(),
        field,
    };
    // serde would read an array as a struct's fields in order; no runtime reads profiles so.
    let Some(profile) = value.as_object() else {
        return Err(ProfileError::Field {
            origin: origin.to_owned(),
            field: FieldPath(None),
            message: format!("expected a JSON object, found {}", json_kind(value)),
        });
    };
    if let Some(key) = DOCKER_ONLY_KEYS.iter().find(|k| profile.contains_key(**k)) {
        return Err(docker_only((*key).to_owned()));
    }
    let rules = profile.get("syscalls").and_then(Value::as_array);
    for (index, rule) in rules.into_iter().flatten().enumerate() {
        let Some(rule) = rule.as_object() else {
            continue;
        };
        if let Some(key) = DOCKER_ONLY_KEYS.iter().find(|k| rule.contains_key(**k)) {
            return Err(docker_only(format!("syscalls[{index}].{key}")));
        }
    }
    Ok(())
}

/// Checks that a profile can be enforced on a machine whose arch is `native`.
///
/// Every architecture must be one libseccomp supports, and `native` must be among them unless
/// the list is empty (which means native only); every syscall name must be known to libseccomp;
/// actions must be enforceable (not `SCMP_ACT_NOTIFY`, errno values in range) and argument
/// indexes 0 to 5. A default of `SCMP_ACT_ALLOW` is accepted: people check deny-list profiles
/// too.
pub fn validate_profile(
    p: &LinuxSeccomp,
    native: ScmpArch,
    origin: &str,
) -> Result<(), ProfileError> {
    let action_error =
        |cause: ActionError, action_field: String, errno_field: String| ProfileError::Action {
            origin: origin.to_owned(),
            field: if cause.blames_errno() {
                errno_field
            } else {
                action_field
            },
            cause,
        };

    scmp_action(p.default_action(), p.default_errno_ret())
        .map_err(|cause| action_error(cause, "defaultAction".into(), "defaultErrnoRet".into()))?;

    let architectures = p.architectures().as_deref().unwrap_or_default();
    let mut has_native = architectures.is_empty();
    for (index, arch) in architectures.iter().enumerate() {
        let scmp = scmp_arch_from_oci(*arch).map_err(|cause| ProfileError::Arch {
            origin: origin.to_owned(),
            field: format!("architectures[{index}]"),
            cause,
        })?;
        has_native |= scmp == native || scmp == ScmpArch::Native;
    }
    if !has_native {
        let listed: Vec<&str> = architectures.iter().map(|a| oci_arch_name(*a)).collect();
        return Err(ProfileError::NativeMissing {
            origin: origin.to_owned(),
            listed: listed.join(", "),
            native: arch_name(native),
        });
    }

    for (index, rule) in p
        .syscalls()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        scmp_action(rule.action(), rule.errno_ret()).map_err(|cause| {
            action_error(
                cause,
                format!("syscalls[{index}].action"),
                format!("syscalls[{index}].errnoRet"),
            )
        })?;
        for (name_index, name) in rule.names().iter().enumerate() {
            if !syscall_known(name) {
                return Err(ProfileError::UnknownSyscall {
                    origin: origin.to_owned(),
                    field: format!("syscalls[{index}].names[{name_index}]"),
                    name: name.clone(),
                });
            }
        }
        for (arg_index, arg) in rule
            .args()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            scmp_condition(arg).map_err(|bad| ProfileError::ArgIndex {
                origin: origin.to_owned(),
                field: format!("syscalls[{index}].args[{arg_index}].index"),
                index: bad,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompAction;
    use serde_json::json;

    use crate::build::generate::profile_from_recording;
    use crate::model::recording::{Recording, SyscallRecord};
    use crate::model::syscalls::syscall_name;
    use crate::test_support::assert_json_eq;

    const RECORDING: &str = include_str!("../../tests/fixtures/recording-v1.json");

    fn recording() -> Recording {
        Recording::from_json(RECORDING, "recording-v1.json").unwrap()
    }

    fn parse_err(value: &Value) -> String {
        profile_from_json(&value.to_string(), "app.json")
            .unwrap_err()
            .to_string()
    }

    fn validate_err(value: &Value, native: ScmpArch) -> String {
        let profile = profile_from_json(&value.to_string(), "app.json").unwrap();
        validate_profile(&profile, native, "app.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn json_of_a_full_profile_has_only_runtime_keys_and_no_nulls() {
        let text = r#"{
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "listenerPath": "/run/agent.sock",
            "listenerMetadata": "meta",
            "syscalls": [
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 255, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
            ]
        }"#;
        let profile = profile_from_json(text, "full.json").unwrap();
        let out = profile_to_json(&profile);
        let value: Value = serde_json::from_str(&out).unwrap();
        assert_json_eq(&value, &serde_json::from_str(text).unwrap());
        assert!(!out.contains("null"), "{out}");
        for key in ["archMap", "includes", "excludes"] {
            assert!(!out.contains(key), "{out}");
        }
        assert_eq!(
            value["syscalls"][0]["args"][1],
            json!({"index": 1, "value": 255, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"})
        );
        // A rule without errnoRet or args and a profile without the optional keys: nothing
        // written for them, not null.
        let minimal = profile_from_json(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_LOG"}]}"#,
            "min.json",
        )
        .unwrap();
        let value: Value = serde_json::from_str(&profile_to_json(&minimal)).unwrap();
        assert_json_eq(
            &value,
            &json!({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_LOG"}]}),
        );
    }

    #[test]
    fn non_utf8_listener_path_does_not_panic() {
        use std::os::unix::ffi::OsStrExt;
        let mut profile = LinuxSeccomp::default();
        profile.set_listener_path(Some(PathBuf::from(std::ffi::OsStr::from_bytes(
            b"/run/\xff",
        ))));
        let out = profile_to_json(&profile);
        assert!(out.contains("\"listenerPath\": \"/run/\u{fffd}\""), "{out}");
    }

    #[test]
    fn read_profile_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.json");
        std::fs::write(&path, "{\"defaultAction\": \"SCMP_ACT_ERRNO\"}\n").unwrap();
        let profile = read_profile(&path).unwrap();
        assert_eq!(profile.default_action(), LinuxSeccompAction::ScmpActErrno);

        std::fs::write(&path, "").unwrap();
        let err = read_profile(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: not JSON: EOF while parsing a value at line 1 column 0",
                path.display()
            )
        );
        let err = read_profile(&dir.path().join("nope.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.json: cannot read: "), "{err}");
    }

    #[test]
    fn parse_errors_are_one_line_with_the_field() {
        let err = profile_from_json("nope", "app.json")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "app.json: not JSON: expected ident at line 1 column 2");
        let err = profile_from_json("", "app.json").unwrap_err().to_string();
        assert_eq!(
            err,
            "app.json: not JSON: EOF while parsing a value at line 1 column 0"
        );

        let err = parse_err(&json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["close"], "action": "SCMP_ACT_FOO"}
            ]
        }));
        assert!(
            err.starts_with(
                "app.json: syscalls[2].action: unknown variant `SCMP_ACT_FOO`, expected one of "
            ),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");

        let err = parse_err(&json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["x86"]}));
        assert!(
            err.starts_with("app.json: architectures[0]: unknown variant `x86`"),
            "{err}"
        );
        let err = profile_from_json("[\"SCMP_ACT_ALLOW\"]", "app.json")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "app.json: expected a JSON object, found an array");
        let err = parse_err(&json!({"architectures": []}));
        assert!(
            err.starts_with("app.json: missing field `defaultAction`"),
            "{err}"
        );
        let err = parse_err(&json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]
        }));
        assert!(
            err.starts_with("app.json: syscalls[0].args[0].value: invalid value: integer `-1`"),
            "{err}"
        );
    }

    #[test]
    fn docker_only_keys_are_refused() {
        let err = parse_err(&json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": []
        }));
        assert_eq!(
            err,
            "app.json: archMap: Docker-only key; runc, crun and containerd ignore it, so the \
             profile would not mean what it says there (write a plain runtime-spec profile instead)"
        );
        let err = parse_err(&json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF"]}}
            ]
        }));
        assert!(
            err.starts_with("app.json: syscalls[1].includes: Docker-only key;"),
            "{err}"
        );
        let err = parse_err(&json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "excludes": {}}]
        }));
        assert!(err.starts_with("app.json: syscalls[0].excludes: "), "{err}");
    }

    #[test]
    fn validation_accepts_generated_and_deny_list_profiles() {
        let generated = profile_from_recording(&recording()).unwrap();
        validate_profile(&generated.profile, ScmpArch::X8664, "gen.json").unwrap();
        let deny_list = profile_from_json(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}"#,
            "deny.json",
        )
        .unwrap();
        validate_profile(&deny_list, ScmpArch::X8664, "deny.json").unwrap();
        validate_profile(&deny_list, ScmpArch::Aarch64, "deny.json").unwrap();
    }

    #[test]
    fn validation_wants_the_native_arch() {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_AARCH64"],
        });
        assert_eq!(
            validate_err(&profile, ScmpArch::X8664),
            "app.json: architectures: [SCMP_ARCH_AARCH64] does not include the native \
             architecture SCMP_ARCH_X86_64"
        );
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        });
        assert!(validate_err(&profile, ScmpArch::X8664)
            .contains("[SCMP_ARCH_AARCH64, SCMP_ARCH_ARM] does not include"));
        let native_token = profile_from_json(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_NATIVE"]}"#,
            "n.json",
        )
        .unwrap();
        validate_profile(&native_token, ScmpArch::X8664, "n.json").unwrap();
    }

    #[test]
    fn validation_rejects_unknown_names() {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read", "write", "close", "getppid", "getpidd"],
                          "action": "SCMP_ACT_ALLOW"}]
        });
        assert_eq!(
            validate_err(&profile, ScmpArch::X8664),
            "app.json: syscalls[0].names[4]: unknown syscall name \"getpidd\""
        );
    }

    #[test]
    fn validation_rejects_unenforceable_actions() {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "listenerPath": "/run/agent.sock",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                         {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}]
        });
        let err = validate_err(&profile, ScmpArch::X8664);
        assert!(
            err.starts_with(
                "app.json: syscalls[1].action: SCMP_ACT_NOTIFY needs a seccomp agent listening on \
                 listenerPath; syscage cannot enforce it"
            ),
            "{err}"
        );
        let profile = json!({"defaultAction": "SCMP_ACT_NOTIFY"});
        assert!(validate_err(&profile, ScmpArch::X8664)
            .starts_with("app.json: defaultAction: SCMP_ACT_NOTIFY needs"));
        let profile = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 5000});
        assert_eq!(
            validate_err(&profile, ScmpArch::X8664),
            "app.json: defaultErrnoRet: errnoRet 5000 is above 4095 (MAX_ERRNO); the kernel \
             would return 4095 instead"
        );
        let profile = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_TRACE", "errnoRet": 70000}]
        });
        assert!(validate_err(&profile, ScmpArch::X8664)
            .starts_with("app.json: syscalls[0].errnoRet: errnoRet 70000 is above 65535"));
    }

    #[test]
    fn validation_rejects_argument_indexes_past_five() {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                                   {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]
        });
        assert_eq!(
            validate_err(&profile, ScmpArch::X8664),
            "app.json: syscalls[0].args[1].index: argument index 6 is out of range, syscalls \
             have arguments 0 to 5"
        );
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parsing_never_panics(text in ".*") {
                let _ = profile_from_json(&text, "prop");
            }

            #[test]
            fn generated_profiles_validate_and_round_trip(
                nrs in proptest::collection::btree_set(0u32..600, 0..80),
            ) {
                let mut rec = recording();
                rec.syscalls = nrs
                    .iter()
                    .map(|&nr| SyscallRecord::new(ScmpArch::X8664, nr, 1, u64::from(nr)))
                    .collect();
                let generated = profile_from_recording(&rec).unwrap();
                validate_profile(&generated.profile, ScmpArch::X8664, "prop").unwrap();
                let text = profile_to_json(&generated.profile);
                prop_assert_eq!(&profile_from_json(&text, "prop").unwrap(), &generated.profile);
                // Every recorded number is allowed by name or reported; the allow rule adds
                // only the names that are never dropped.
                let rules = generated.profile.syscalls().clone().unwrap_or_default();
                let allowed: std::collections::BTreeSet<&String> = rules[0].names().iter().collect();
                let recorded: std::collections::BTreeSet<String> = rec.names();
                for name in &recorded {
                    prop_assert!(allowed.contains(name), "{name}");
                }
                for name in &allowed {
                    prop_assert!(recorded.contains(*name)
                        || crate::build::generate::ESSENTIAL.contains(&name.as_str()), "{name}");
                }
                let named = nrs.iter().filter(|&&nr| syscall_name(ScmpArch::X8664, nr).is_some()).count();
                prop_assert_eq!(named + generated.unknown_numbers.len(), nrs.len());
            }
        }
    }
}
