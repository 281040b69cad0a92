//! Docker's (moby's) seccomp profile format, and turning one into a runtime-spec profile.
//!
//! Docker, containerd's and CRI-O's default profiles are written in a superset of the runtime
//! spec's seccomp object: `archMap` lists the sub-architectures to add for the machine's
//! architecture, and each rule may carry `includes` and `excludes` conditions on the architecture,
//! the container's capabilities and the kernel version (plus `comment`, a single `name`, and
//! CRI-O's errno names `defaultErrno`/`errno`). The engine evaluates these when it creates a
//! container and hands the runtime a plain profile. The runtimes themselves (runc, crun,
//! containerd for `Localhost` profiles) do not know these keys and ignore them, so a Docker-format
//! file used as a Localhost profile does not mean what it says.
//!
//! [`render`] does the engine's evaluation for a [`Conditions`] (architecture, capability set,
//! kernel version). The rules, as moby (profiles/seccomp) and containers/common apply them:
//! - `excludes.arches`: skipped when the machine's architecture is listed;
//! - `excludes.caps`: skipped when any listed capability is in the bounding set;
//! - `excludes.minKernel`: skipped when the kernel is at least that version;
//! - `includes.arches`: skipped unless the machine's architecture is listed;
//! - `includes.caps`: skipped unless every listed capability is in the bounding set;
//! - `includes.minKernel`: skipped when the kernel is older.
//!
//! Architectures in `includes`/`excludes` are Go's names (`amd64`, `arm64`, `386`...), matched
//! against the machine's own architecture only; `architectures`, when present, wins over
//! `archMap`.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use libseccomp::ScmpArch;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSyscall,
};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::error::{deserialize_at, json_kind, FieldPath};
use crate::model::arch::{arch_name, oci_arch_from_scmp, scmp_arch_from_oci, sub_arches};

/// The keys that make a profile a Docker-format one (the runtime spec has none of them).
pub const DOCKER_KEYS: [&str; 3] = ["archMap", "includes", "excludes"];

/// What a Docker-format profile is evaluated for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conditions {
    /// The machine's architecture.
    pub arch: ScmpArch,
    /// The container's bounding capability set, names like `CAP_SYS_ADMIN`.
    pub caps: BTreeSet<String>,
    /// The node's kernel version.
    pub kernel: KernelVersion,
}

impl Conditions {
    /// Conditions with capability names normalised ([`normalize_cap`]); an unknown name is an
    /// error naming it.
    pub fn new(
        arch: ScmpArch,
        caps: impl IntoIterator<Item = String>,
        kernel: KernelVersion,
    ) -> Result<Self, String> {
        let caps = caps
            .into_iter()
            .map(|c| {
                normalize_cap(&c).ok_or_else(|| {
                    format!("unknown capability {c:?}, expected a name such as CAP_SYS_ADMIN")
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { arch, caps, kernel })
    }
}

impl fmt::Display for Conditions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} capabilities, kernel {}",
            arch_name(self.arch),
            self.caps.len(),
            self.kernel
        )
    }
}

/// A kernel version as the profiles compare it: major and minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for KernelVersion {
    type Err = String;

    /// Parses `6.1`, `6.1.0` or a release such as `6.1.0-18-amd64` (what follows major and
    /// minor is ignored).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = || format!("{text:?} is not a kernel version, expected one such as 6.1");
        let mut parts = text.split(|c: char| !c.is_ascii_digit());
        let major = parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(expected)?;
        let rest = &text[text.find('.').ok_or_else(expected)? + 1..];
        let minor_text: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let minor = minor_text.parse().map_err(|_| expected())?;
        Ok(Self { major, minor })
    }
}

/// The capability names Linux defines (up to CAP_CHECKPOINT_RESTORE, 40, of Linux 5.9), in the
/// kernel's numbering: `ALL_CAPS[n]` is capability number `n`.
pub const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// A capability name in the profiles' spelling: `sys_admin`, `SYS_ADMIN` and `CAP_SYS_ADMIN`
/// all give `CAP_SYS_ADMIN`; `None` for a name Linux does not define.
pub fn normalize_cap(name: &str) -> Option<String> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    ALL_CAPS.contains(&full.as_str()).then_some(full)
}

/// Go's name for an architecture (`runtime.GOARCH`), which `includes.arches` and
/// `excludes.arches` use; `None` for architectures Go has no port for.
fn go_arch(arch: ScmpArch) -> Option<&'static str> {
    use ScmpArch as A;
    Some(match arch {
        A::X8664 => "amd64",
        A::X86 => "386",
        A::Aarch64 => "arm64",
        A::Arm => "arm",
        A::Ppc64Le => "ppc64le",
        A::Ppc64 => "ppc64",
        A::S390X => "s390x",
        A::Riscv64 => "riscv64",
        A::Loongarch64 => "loong64",
        A::Mips => "mips",
        A::Mipsel => "mipsle",
        A::Mips64 => "mips64",
        A::Mipsel64 => "mips64le",
        A::Native
        | A::X32
        | A::M68k
        | A::Mips64N32
        | A::Mipsel64N32
        | A::Ppc
        | A::S390
        | A::Parisc
        | A::Parisc64
        | A::Sheb
        | A::Sh => return None,
        _ => return None,
    })
}

/// Reading or evaluating a Docker-format profile.
#[derive(Debug, Error)]
pub enum DockerError {
    /// A field has the wrong type or shape (the message comes from serde).
    #[error("{origin}: {field}{message}")]
    Field {
        origin: String,
        field: FieldPath,
        message: String,
    },

    /// A rule has both `name` and `names`, which moby refuses too.
    #[error("{origin}: syscalls[{index}]: has both name and names, expected one of them")]
    NameAndNames { origin: String, index: usize },

    /// An errno name that is not one syscage knows, and no `errnoRet` beside it.
    #[error(
        "{origin}: {field}: unknown errno name {name:?}, expected one such as EPERM or ENOSYS \
         (or a number in errnoRet)"
    )]
    ErrnoName {
        origin: String,
        field: String,
        name: String,
    },

    /// A `minKernel` that is not a version.
    #[error("{origin}: {field}: {message}")]
    MinKernel {
        origin: String,
        field: String,
        message: String,
    },

    /// An architecture in `archMap` or `architectures` that libseccomp or the runtime spec
    /// cannot handle.
    #[error("{origin}: {field}: {message}")]
    Arch {
        origin: String,
        field: String,
        message: String,
    },
}

/// A Docker-format profile as written; [`render`] evaluates it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerProfile {
    pub default_action: LinuxSeccompAction,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// CRI-O's spelling of the default errno, e.g. `"ENOSYS"`.
    #[serde(default)]
    pub default_errno: Option<String>,
    #[serde(default)]
    pub architectures: Option<Vec<Arch>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMapEntry>>,
    #[serde(default)]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    pub syscalls: Option<Vec<DockerRule>>,
}

/// An `archMap` entry: the sub-architectures to add on `architecture`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMapEntry {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Option<Vec<Arch>>,
}

/// A rule with its conditions.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerRule {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    /// CRI-O's spelling of the errno, e.g. `"EPERM"`.
    #[serde(default)]
    pub errno: Option<String>,
    #[serde(default)]
    pub args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// The conditions of `includes` or `excludes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// Whether an untyped profile uses Docker-only keys (top level or in a rule).
pub fn is_docker_format(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    if DOCKER_KEYS.iter().any(|k| object.contains_key(*k)) || object.contains_key("defaultErrno") {
        return true;
    }
    object
        .get("syscalls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|rule| {
            DOCKER_KEYS.iter().any(|k| rule.contains_key(*k))
                || rule.contains_key("comment")
                || rule.contains_key("name")
                || rule.contains_key("errno")
        })
}

/// Parses a Docker-format profile from JSON text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<DockerProfile, DockerError> {
    let mut de = serde_json::Deserializer::from_str(text);
    deserialize_at(&mut de).map_err(|(field, message)| DockerError::Field {
        origin: origin.to_owned(),
        field,
        message,
    })
}

/// Parses a Docker-format profile from an already parsed document (YAML input).
pub fn parse_value(value: Value, origin: &str) -> Result<DockerProfile, DockerError> {
    if !value.is_object() {
        return Err(DockerError::Field {
            origin: origin.to_owned(),
            field: FieldPath(None),
            message: format!("expected an object, found {}", json_kind(&value)),
        });
    }
    deserialize_at(value).map_err(|(field, message)| DockerError::Field {
        origin: origin.to_owned(),
        field,
        message,
    })
}

/// The errno numbers of the names CRI-O's profiles use (Linux generic numbering, which every
/// architecture but Alpha, MIPS, PA-RISC and SPARC shares).
fn errno_number(name: &str) -> Option<u32> {
    Some(match name {
        "EPERM" => 1,
        "ENOENT" => 2,
        "EINTR" => 4,
        "EIO" => 5,
        "EBADF" => 9,
        "EAGAIN" => 11,
        "ENOMEM" => 12,
        "EACCES" => 13,
        "EFAULT" => 14,
        "EBUSY" => 16,
        "EEXIST" => 17,
        "EINVAL" => 22,
        "ENOSPC" => 28,
        "ENOSYS" => 38,
        "EOPNOTSUPP" | "ENOTSUP" => 95,
        "EAFNOSUPPORT" => 97,
        _ => return None,
    })
}

fn errno_of(
    number: Option<u32>,
    name: Option<&str>,
    origin: &str,
    field: impl FnOnce() -> String,
) -> Result<Option<u32>, DockerError> {
    match (number, name) {
        (Some(n), _) => Ok(Some(n)),
        (None, None) => Ok(None),
        (None, Some(name)) => errno_number(name)
            .map(Some)
            .ok_or_else(|| DockerError::ErrnoName {
                origin: origin.to_owned(),
                field: field(),
                name: name.to_owned(),
            }),
    }
}

/// The result of evaluating a Docker-format profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The runtime-spec profile the engine would hand to the runtime.
    pub profile: LinuxSeccomp,
    /// How many rules applied, and how many were skipped by their conditions.
    pub rules_applied: usize,
    pub rules_skipped: usize,
}

/// Evaluates a Docker-format profile for `conditions`; see the module documentation.
pub fn render(
    docker: &DockerProfile,
    conditions: &Conditions,
    origin: &str,
) -> Result<Rendered, DockerError> {
    let default_errno = errno_of(
        docker.default_errno_ret,
        docker.default_errno.as_deref(),
        origin,
        || "defaultErrno".to_owned(),
    )?;
    let architectures = architectures(docker, conditions.arch, origin)?;
    let go = go_arch(conditions.arch);

    let mut syscalls = Vec::new();
    let mut skipped = 0;
    for (index, rule) in docker
        .syscalls
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if !applies(rule, index, go, conditions, origin)? {
            skipped += 1;
            continue;
        }
        let names = match (&rule.name, &rule.names) {
            (Some(_), Some(names)) if !names.is_empty() => {
                return Err(DockerError::NameAndNames {
                    origin: origin.to_owned(),
                    index,
                })
            }
            (Some(name), _) if !name.is_empty() => vec![name.clone()],
            (_, Some(names)) => names.clone(),
            _ => Vec::new(),
        };
        if names.is_empty() {
            skipped += 1;
            continue;
        }
        let errno = errno_of(rule.errno_ret, rule.errno.as_deref(), origin, || {
            format!("syscalls[{index}].errno")
        })?;
        let mut syscall = LinuxSyscall::default();
        syscall
            .set_names(names)
            .set_action(rule.action)
            .set_errno_ret(errno)
            .set_args(rule.args.clone().filter(|a| !a.is_empty()));
        syscalls.push(syscall);
    }

    let mut profile = LinuxSeccomp::default();
    profile
        .set_default_action(docker.default_action)
        .set_default_errno_ret(default_errno)
        .set_architectures(Some(architectures))
        .set_flags(docker.flags.clone().filter(|f| !f.is_empty()))
        .set_syscalls(Some(syscalls.clone()));
    Ok(Rendered {
        profile,
        rules_applied: syscalls.len(),
        rules_skipped: skipped,
    })
}

/// `architectures` if given, else the `archMap` entry of `arch` (itself first), else `arch` and
/// its usual companions.
fn architectures(
    docker: &DockerProfile,
    arch: ScmpArch,
    origin: &str,
) -> Result<Vec<Arch>, DockerError> {
    let oci = |a: ScmpArch, field: &str| {
        oci_arch_from_scmp(a).map_err(|e| DockerError::Arch {
            origin: origin.to_owned(),
            field: field.to_owned(),
            message: e.to_string(),
        })
    };
    if let Some(list) = docker.architectures.as_ref().filter(|l| !l.is_empty()) {
        return Ok(list.clone());
    }
    let native = oci(arch, "archMap")?;
    if let Some(map) = &docker.arch_map {
        for (index, entry) in map.iter().enumerate() {
            let entry_arch =
                scmp_arch_from_oci(entry.architecture).map_err(|e| DockerError::Arch {
                    origin: origin.to_owned(),
                    field: format!("archMap[{index}].architecture"),
                    message: e.to_string(),
                })?;
            if entry_arch == arch {
                let mut list = vec![native];
                list.extend(entry.sub_architectures.iter().flatten().copied());
                return Ok(list);
            }
        }
        return Ok(vec![native]);
    }
    sub_arches(arch)
        .into_iter()
        .map(|a| oci(a, "architectures"))
        .collect()
}

fn applies(
    rule: &DockerRule,
    index: usize,
    go: Option<&str>,
    conditions: &Conditions,
    origin: &str,
) -> Result<bool, DockerError> {
    let has_cap = |cap: &String| normalize_cap(cap).is_some_and(|c| conditions.caps.contains(&c));
    let arch_listed = |arches: &[String]| go.is_some_and(|g| arches.iter().any(|a| a == g));
    let kernel_at_least = |text: &str, which: &str| -> Result<bool, DockerError> {
        let min: KernelVersion = text.parse().map_err(|message| DockerError::MinKernel {
            origin: origin.to_owned(),
            field: format!("syscalls[{index}].{which}.minKernel"),
            message,
        })?;
        Ok(conditions.kernel >= min)
    };

    if let Some(ex) = &rule.excludes {
        if let Some(arches) = ex.arches.as_deref().filter(|a| !a.is_empty()) {
            if arch_listed(arches) {
                return Ok(false);
            }
        }
        if ex.caps.iter().flatten().any(has_cap) {
            return Ok(false);
        }
        if let Some(min) = &ex.min_kernel {
            if kernel_at_least(min, "excludes")? {
                return Ok(false);
            }
        }
    }
    if let Some(inc) = &rule.includes {
        if let Some(arches) = inc.arches.as_deref().filter(|a| !a.is_empty()) {
            if !arch_listed(arches) {
                return Ok(false);
            }
        }
        if !inc.caps.iter().flatten().all(has_cap) {
            return Ok(false);
        }
        if let Some(min) = &inc.min_kernel {
            if !kernel_at_least(min, "includes")? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(caps: &[&str], kernel: &str) -> Conditions {
        Conditions {
            arch: ScmpArch::X8664,
            caps: caps.iter().map(|c| c.to_string()).collect(),
            kernel: kernel.parse().unwrap(),
        }
    }

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrno": "ENOSYS",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "always"},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errno": "ENOSYS",
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"name": "getpid", "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
            {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errno": "EPERM", "errnoRet": 1}
        ]
    }"#;

    fn names(r: &Rendered) -> Vec<String> {
        r.profile
            .syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn evaluates_includes_and_excludes() {
        let docker = parse(PROFILE, "p.json").unwrap();
        let plain = render(&docker, &conditions(&[], "6.1"), "p.json").unwrap();
        assert_eq!(
            names(&plain),
            ["read", "ptrace", "arch_prctl", "clone3", "keyctl"]
        );
        assert_eq!(plain.profile.default_errno_ret(), Some(38));
        assert_eq!(
            serde_json::to_value(plain.profile.architectures()).unwrap(),
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        let clone3 = &plain.profile.syscalls().as_ref().unwrap()[3];
        assert_eq!(clone3.errno_ret(), Some(38));

        let admin = render(&docker, &conditions(&["CAP_SYS_ADMIN"], "4.4"), "p.json").unwrap();
        assert_eq!(names(&admin), ["read", "arch_prctl", "mount", "keyctl"]);
        assert_eq!(admin.rules_skipped, 4);

        let arm = Conditions {
            arch: ScmpArch::Aarch64,
            ..conditions(&[], "6.1")
        };
        let arm = render(&docker, &arm, "p.json").unwrap();
        assert!(names(&arm).contains(&"set_tls".to_owned()));
        assert!(names(&arm).contains(&"getpid".to_owned()));
        assert_eq!(
            serde_json::to_value(arm.profile.architectures()).unwrap(),
            serde_json::json!(["SCMP_ARCH_AARCH64"])
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": 3}]}"#,
            "p",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("p: syscalls[0].names: invalid type"),
            "{err}"
        );

        let docker = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "new"}}]}"#,
            "p",
        )
        .unwrap();
        let err = render(&docker, &conditions(&[], "6.1"), "p")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "p: syscalls[0].includes.minKernel: \"new\" is not a kernel version, expected one \
             such as 6.1"
        );

        let docker = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ERRNO", "errno": "EWHAT"}]}"#,
            "p",
        )
        .unwrap();
        let err = render(&docker, &conditions(&[], "6.1"), "p")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("p: syscalls[0].errno: unknown errno name \"EWHAT\""),
            "{err}"
        );

        let docker = parse(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]}"#,
            "p",
        )
        .unwrap();
        let err = render(&docker, &conditions(&[], "6.1"), "p")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "p: syscalls[0]: has both name and names, expected one of them"
        );
    }

    #[test]
    fn kernel_versions_and_caps_parse() {
        let k: KernelVersion = "6.1.0-18-amd64".parse().unwrap();
        assert_eq!(k, KernelVersion { major: 6, minor: 1 });
        assert!("4.8".parse::<KernelVersion>().unwrap() < k);
        assert!("6".parse::<KernelVersion>().is_err());
        assert!("".parse::<KernelVersion>().is_err());
        assert!("x.y".parse::<KernelVersion>().is_err());
        assert_eq!(normalize_cap("sys_admin").as_deref(), Some("CAP_SYS_ADMIN"));
        assert_eq!(normalize_cap("CAP_BPF").as_deref(), Some("CAP_BPF"));
        assert_eq!(normalize_cap("SYS_WIZARD"), None);
    }

    #[test]
    fn detects_the_docker_format() {
        let v: Value = serde_json::from_str(PROFILE).unwrap();
        assert!(is_docker_format(&v));
        let v = serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}]});
        assert!(!is_docker_format(&v));
    }
}
