//! Generating the profile a workload ships with, from one or more inputs.
//!
//! The inputs (recordings, merged recordings, allow-list profiles) are united: a syscall any of
//! them allows is allowed. Then the errno semantics that keep real programs working are applied:
//!
//! - The default is `SCMP_ACT_ERRNO` with EPERM (1), as runc, crun and the runtimes' defaults
//!   use; a generated profile never allows by default. (The `log` format replaces the default
//!   by `SCMP_ACT_LOG` for a "warn first, then enforce" rollout; its rules are the same.)
//! - `exit`, `exit_group` and `rt_sigreturn` are always allowed ([`ESSENTIAL`]): a short
//!   recording may miss them (a single-threaded program never calls `exit`; `rt_sigreturn`
//!   only runs after a signal handler), and a process that cannot exit or return from a signal
//!   handler spins forever instead of failing.
//! - A newer syscall the workload did not use, whose older fallback it did use, is denied with
//!   ENOSYS (38) instead of EPERM ([`FALLBACKS`]): libcs treat ENOSYS as "kernel too old" and
//!   fall back (glibc's `clone3` -> `clone` in `pthread_create`/`posix_spawn`, `faccessat2` ->
//!   `faccessat`, ...), but treat EPERM as a real failure. moby's default profile does the same
//!   for `clone3`.
//!
//! [`Format`] names the outputs users ship: the runtime-spec profile (`oci`), the same plus a
//! Kubernetes Pod snippet (`localhost`), an SPO resource (`spo`), and the log-only profile
//! (`log`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use libseccomp::ScmpArch;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use thiserror::Error;

use crate::arch::{arch_name, oci_arch_from_scmp, sub_arches};
use crate::error::{ArchError, ProfileError};
use crate::input::{Content, Input, InputKind};
use crate::policy::{NameRule, Policy, Verdict};
use crate::profile::GeneratedProfile;
use crate::recording::Recording;

/// Syscalls a generated profile always allows; see the module documentation.
pub const ESSENTIAL: [&str; 3] = ["exit", "exit_group", "rt_sigreturn"];

/// ENOSYS: "function not implemented", the errno libcs fall back on.
pub const ENOSYS: u32 = 38;

/// Newer syscalls, and the older ones a libc falls back to when the newer one fails with
/// ENOSYS. The newer one is denied with ENOSYS when it was not used but a fallback was.
pub const FALLBACKS: [(&str, &[&str]); 6] = [
    // glibc 2.34+ pthread_create and posix_spawn; moby's profile has the same rule.
    ("clone3", &["clone"]),
    // glibc 2.33+ faccessat().
    ("faccessat2", &["faccessat", "access"]),
    // glibc 2.39+ fchmodat(AT_SYMLINK_NOFOLLOW).
    ("fchmodat2", &["fchmodat"]),
    // glibc and gnulib stat wrappers on kernels before 4.11.
    (
        "statx",
        &["newfstatat", "fstatat64", "stat", "lstat", "fstat"],
    ),
    // glibc preadv2/pwritev2 with no flags.
    ("preadv2", &["preadv"]),
    ("pwritev2", &["pwritev"]),
];

/// What users ship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The OCI runtime-spec profile (what `record` writes).
    Oci,
    /// The profile plus a Pod snippet that uses it as a Kubernetes Localhost profile.
    Localhost,
    /// A Security Profiles Operator `SeccompProfile` resource.
    Spo,
    /// The profile with `defaultAction: SCMP_ACT_LOG`: logs instead of denying.
    Log,
}

impl Format {
    pub const ALL: [Self; 4] = [Self::Oci, Self::Localhost, Self::Spo, Self::Log];

    pub fn name(self) -> &'static str {
        match self {
            Self::Oci => "oci",
            Self::Localhost => "localhost",
            Self::Spo => "spo",
            Self::Log => "log",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.name() == text)
            .ok_or_else(|| format!("unknown format {text:?}, expected oci, localhost, spo or log"))
    }
}

/// Generating a profile.
#[derive(Debug, Error)]
pub enum GenerateError {
    /// No inputs.
    #[error("generate needs at least one recording or profile")]
    NoInputs,

    /// Inputs about different architectures.
    #[error(
        "{origin}: architecture {found}, expected {expected} like the inputs before it; \
         generate one profile per architecture"
    )]
    ArchMismatch {
        origin: String,
        found: String,
        expected: String,
    },

    /// A deny-list profile says nothing about what the workload needs.
    #[error(
        "{origin}: defaultAction: SCMP_ACT_ALLOW makes a deny-list, which says nothing about \
         what the workload needs; expected a recording or an allow-list profile (syscage never \
         writes a profile that allows by default)"
    )]
    DenyList { origin: String },

    /// An architecture that cannot be written into a profile.
    #[error("{origin}: architecture: {cause}")]
    Arch { origin: String, cause: ArchError },
}

/// A generated profile and what was done to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The profile (default EPERM); see [`log_profile`] for the log-only form.
    pub profile: LinuxSeccomp,
    /// The same, per syscall.
    pub policy: Policy,
    /// The architecture the profile is for (its first).
    pub arch: ScmpArch,
    /// Recorded numbers libseccomp cannot name, with the input they came from; not in the
    /// profile, since a runtime cannot allow a number by name.
    pub unknown_numbers: Vec<(String, u32)>,
    /// The inputs' syscalls past the tracer's table, summed.
    pub out_of_range_count: u64,
    /// [`ESSENTIAL`] names the inputs did not allow and the profile does.
    pub essentials_added: Vec<String>,
    /// Names denied with ENOSYS for libc fallbacks ([`FALLBACKS`]).
    pub enosys: Vec<String>,
}

/// Generates the profile for `inputs`; see the module documentation. `fallback_arch` is used
/// when no input says which architecture it is about.
pub fn generate(inputs: &[Input], fallback_arch: ScmpArch) -> Result<Generated, GenerateError> {
    if inputs.is_empty() {
        return Err(GenerateError::NoInputs);
    }
    let mut arch: Option<(ScmpArch, &str)> = None;
    for input in inputs {
        if input.is_deny_list() {
            return Err(GenerateError::DenyList {
                origin: input.origin.clone(),
            });
        }
        if let Some(found) = input.arch() {
            match arch {
                None => arch = Some((found, &input.origin)),
                Some((expected, _)) if expected != found => {
                    return Err(GenerateError::ArchMismatch {
                        origin: input.origin.clone(),
                        found: arch_name(found),
                        expected: arch_name(expected),
                    })
                }
                Some(_) => {}
            }
        }
    }
    let arch = arch.map_or(fallback_arch, |(a, _)| a);

    let mut policies = Vec::new();
    let mut unknown_numbers = Vec::new();
    let mut out_of_range_count: u64 = 0;
    for input in inputs {
        let policy = input.policy().map_err(|cause| GenerateError::Arch {
            origin: input.origin.clone(),
            cause,
        })?;
        policies.push(policy);
        unknown_numbers.extend(
            input
                .unknown_numbers()
                .into_iter()
                .map(|nr| (input.origin.clone(), nr)),
        );
        out_of_range_count = out_of_range_count.saturating_add(match &input.content {
            Content::Recording(rec) => rec.out_of_range_count,
            Content::Merged(m) => m.out_of_range_count,
            Content::Profile(_) => 0,
        });
    }
    let origin = inputs[0].origin.clone();
    let (policy, essentials_added, enosys) =
        build(arch, &policies).map_err(|cause| GenerateError::Arch { origin, cause })?;
    Ok(Generated {
        profile: policy.to_profile(),
        policy,
        arch,
        unknown_numbers,
        out_of_range_count,
        essentials_added,
        enosys,
    })
}

/// What `record` writes: [`generate`] for one recording, in the shape of
/// [`GeneratedProfile`].
pub(crate) fn from_recording(rec: &Recording) -> Result<GeneratedProfile, ProfileError> {
    let arch = rec.scmp_arch()?;
    let arch_error = |cause| ProfileError::Arch {
        origin: "recording".to_owned(),
        field: "arch".to_owned(),
        cause,
    };
    let input = Input {
        origin: "recording".to_owned(),
        kind: InputKind::Recording,
        content: Content::Recording(Box::new(rec.clone())),
        warnings: Vec::new(),
    };
    let policy = input.policy().map_err(arch_error)?;
    let (policy, _, _) = build(arch, &[policy]).map_err(arch_error)?;
    Ok(GeneratedProfile {
        profile: policy.to_profile(),
        unknown_numbers: input.unknown_numbers(),
        out_of_range_count: rec.out_of_range_count,
    })
}

/// Unites the input policies and applies the errno semantics; returns the policy, the
/// essential names added and the names given ENOSYS.
fn build(
    arch: ScmpArch,
    inputs: &[Policy],
) -> Result<(Policy, Vec<String>, Vec<String>), ArchError> {
    let architectures = sub_arches(arch)
        .into_iter()
        .map(oci_arch_from_scmp)
        .collect::<Result<Vec<_>, _>>()?;
    let mut policy = Policy::deny_all(architectures);
    for input in inputs {
        // Only the rules count: the input's default, architectures and flags are its own.
        let mut rules_only = Policy::deny_all(Vec::new());
        for (name, rules) in &input.rules {
            for rule in rules {
                rules_only.add_rule(name, rule.clone());
            }
        }
        policy = policy.union(&rules_only);
    }

    let mut essentials_added = Vec::new();
    for name in ESSENTIAL {
        if policy.verdict(name) != Verdict::Allow {
            policy.allow(name);
            essentials_added.push(name.to_owned());
        }
    }

    let mut enosys = BTreeSet::new();
    for (newer, older) in FALLBACKS {
        let untouched = !policy.rules.contains_key(newer);
        if untouched && older.iter().any(|o| policy.verdict(o).can_run()) {
            policy.add_rule(newer, NameRule::errno(ENOSYS));
            enosys.insert(newer.to_owned());
        }
    }
    Ok((policy, essentials_added, enosys.into_iter().collect()))
}

/// The "warn first" form of a profile: `SCMP_ACT_LOG` by default (the kernel logs what the
/// profile would deny and lets it run), the rules unchanged.
pub fn log_profile(profile: &LinuxSeccomp) -> LinuxSeccomp {
    let mut log = profile.clone();
    log.set_default_action(LinuxSeccompAction::ScmpActLog)
        .set_default_errno_ret(None);
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::{Conditions, KernelVersion};
    use crate::input::parse_input;
    use crate::profile::{profile_from_json, profile_to_json, validate_profile};
    use crate::recording::SyscallRecord;

    const RECORDING: &str = include_str!("../tests/fixtures/recording-v1.json");

    fn conditions() -> Conditions {
        Conditions {
            arch: ScmpArch::X8664,
            caps: BTreeSet::new(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn input(text: &str) -> Input {
        parse_input(text, "in.json", &conditions()).unwrap()
    }

    fn recording_with(names: &[u32]) -> Input {
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        rec.syscalls = names
            .iter()
            .map(|&nr| SyscallRecord::new(ScmpArch::X8664, nr, 1, u64::from(nr)))
            .collect();
        input(&rec.to_json())
    }

    fn allowed(g: &Generated) -> Vec<String> {
        g.policy
            .rules
            .keys()
            .filter(|n| g.policy.verdict(n) == Verdict::Allow)
            .cloned()
            .collect()
    }

    #[test]
    fn errno_semantics() {
        // read, clone (56), newfstatat (262): no exit, no rt_sigreturn, no clone3, no statx.
        let g = generate(&[recording_with(&[0, 56, 262])], ScmpArch::X8664).unwrap();
        assert_eq!(
            allowed(&g),
            [
                "clone",
                "exit",
                "exit_group",
                "newfstatat",
                "read",
                "rt_sigreturn"
            ]
        );
        assert_eq!(g.essentials_added, ["exit", "exit_group", "rt_sigreturn"]);
        assert_eq!(g.enosys, ["clone3", "statx"]);
        let text = profile_to_json(&g.profile);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["clone", "exit", "exit_group", "newfstatat", "read",
                               "rt_sigreturn"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["clone3", "statx"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
                ]
            })
        );
        validate_profile(&g.profile, ScmpArch::X8664, "g").unwrap();
        crate::enforce::build_filter(&g.profile, ScmpArch::X8664).unwrap();

        // clone3 recorded: no ENOSYS rule for it.
        let g = generate(&[recording_with(&[56, 435])], ScmpArch::X8664).unwrap();
        assert!(g.enosys.is_empty(), "{:?}", g.enosys);
    }

    #[test]
    fn several_inputs_unite() {
        let a = recording_with(&[0, 1]);
        let b = input(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let g = generate(&[a, b], ScmpArch::Aarch64).unwrap();
        assert_eq!(g.arch, ScmpArch::X8664);
        assert!(allowed(&g).contains(&"getpid".to_owned()));
        assert!(matches!(
            g.policy.verdict("socket"),
            Verdict::AllowIf { .. }
        ));
    }

    #[test]
    fn refuses_deny_lists_and_mixed_arches() {
        let deny = input(r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}"#);
        assert!(generate(&[deny], ScmpArch::X8664)
            .unwrap_err()
            .to_string()
            .starts_with("in.json: defaultAction: SCMP_ACT_ALLOW makes a deny-list"));
        let arm =
            input(r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_AARCH64"]}"#);
        let err = generate(&[recording_with(&[0]), arm], ScmpArch::X8664)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "in.json: architecture SCMP_ARCH_AARCH64, expected SCMP_ARCH_X86_64 like the inputs \
             before it; generate one profile per architecture"
        );
    }

    #[test]
    fn log_profile_round_trips_as_an_input() {
        let g = generate(&[recording_with(&[0, 1, 56])], ScmpArch::X8664).unwrap();
        let log = log_profile(&g.profile);
        assert_eq!(log.default_action(), LinuxSeccompAction::ScmpActLog);
        let back = generate(&[input(&profile_to_json(&log))], ScmpArch::X8664).unwrap();
        assert_eq!(back.profile, g.profile);
        assert!(back.essentials_added.is_empty());
    }

    #[test]
    fn generation_is_a_fixed_point() {
        let g = generate(&[recording_with(&[0, 1, 56, 262, 439])], ScmpArch::X8664).unwrap();
        let again = generate(&[input(&profile_to_json(&g.profile))], ScmpArch::X8664).unwrap();
        assert_eq!(again.profile, g.profile);
        let parsed = profile_from_json(&profile_to_json(&g.profile), "x").unwrap();
        assert_eq!(parsed, g.profile);
    }

    /// Every format syscage writes reads back as the same profile: OCI, log, SPO, a merged
    /// recording, and the profile written in Docker's format (archMap instead of
    /// architectures).
    #[test]
    fn round_trips_between_formats() {
        let rec_input = recording_with(&[0, 1, 56, 262, 439]);
        let g = generate(std::slice::from_ref(&rec_input), ScmpArch::X8664).unwrap();
        let oci = profile_to_json(&g.profile);
        let log = profile_to_json(&log_profile(&g.profile));
        let spo = crate::kube::spo_yaml("app", &g.profile).unwrap();
        let crate::input::Content::Recording(rec) = &rec_input.content else {
            panic!("not a recording");
        };
        let merged = crate::merge::MergedRecording::from_recording(rec).to_json();
        let mut docker: serde_json::Value = serde_json::from_str(&oci).unwrap();
        docker.as_object_mut().unwrap().remove("architectures");
        docker["archMap"] = serde_json::json!([{"architecture": "SCMP_ARCH_X86_64",
            "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}]);
        let docker = docker.to_string();

        for (text, kind) in [
            (&oci, InputKind::OciProfile),
            (&log, InputKind::OciProfile),
            (&spo, InputKind::SpoProfile),
            (&merged, InputKind::MergedRecording),
            (&docker, InputKind::DockerProfile),
        ] {
            let back_input = input(text);
            assert_eq!(back_input.kind, kind);
            let back = generate(&[back_input], ScmpArch::X8664).unwrap();
            assert_eq!(back.profile, g.profile, "{kind}");
            assert_eq!(profile_to_json(&back.profile), oci, "{kind}");
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Every generated profile validates, builds a libseccomp filter, keeps the
            /// essential names, and does not depend on the order of its inputs.
            #[test]
            fn generated_profiles_build_and_commute(
                a in proptest::collection::btree_set(0u32..460, 0..50),
                b in proptest::collection::btree_set(0u32..460, 0..50),
            ) {
                let a = recording_with(&a.into_iter().collect::<Vec<_>>());
                let b = recording_with(&b.into_iter().collect::<Vec<_>>());
                let ab = generate(&[a.clone(), b.clone()], ScmpArch::X8664).unwrap();
                let ba = generate(&[b, a], ScmpArch::X8664).unwrap();
                prop_assert_eq!(&ab.profile, &ba.profile);
                validate_profile(&ab.profile, ScmpArch::X8664, "prop").unwrap();
                crate::enforce::build_filter(&ab.profile, ScmpArch::X8664).unwrap();
                for name in ESSENTIAL {
                    prop_assert_eq!(ab.policy.verdict(name), Verdict::Allow);
                }
                prop_assert_eq!(ab.profile.default_action(), LinuxSeccompAction::ScmpActErrno);
            }
        }
    }

    #[test]
    fn formats_parse() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert!("yaml".parse::<Format>().is_err());
    }
}
