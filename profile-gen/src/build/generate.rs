//! Generating the profile a workload ships with, from one or more inputs.
//!
//! The inputs (recordings, merged recordings, allow-list profiles) are united: a syscall any of
//! them allows is allowed. Then the errno semantics that keep real programs working are applied:
//!
//! - The default is `SCMP_ACT_ERRNO` with EPERM (1), as runc, crun and the runtimes' defaults
//!   use; a generated profile never allows by default. (The `log` format replaces the default
//!   by `SCMP_ACT_LOG` for a "warn first, then enforce" rollout; its rules are the same.)
//! - `exit`, `exit_group`, `rt_sigreturn` and `restart_syscall` are always allowed
//!   ([`ESSENTIAL`]): the kernel itself makes a process call them at moments a recording rarely
//!   sees, and denying them breaks programs that did nothing new (see [`ESSENTIAL`] for each).
//! - A newer syscall the workload did not use, whose older fallback it did use, is denied with
//!   ENOSYS (38) instead of EPERM ([`FALLBACKS`]): libcs treat ENOSYS as "kernel too old" and
//!   fall back (glibc's `clone3` -> `clone` in `pthread_create`/`posix_spawn`, `faccessat2` ->
//!   `faccessat`, ...), but treat EPERM as a real failure. moby's default profile does the same
//!   for `clone3`.
//! - Recorded argument values become argument conditions ([`crate::build::args`]): `clone` and
//!   `unshare` only for the namespaces seen, `socket` only for the families and types seen, and
//!   so on. When `clone` is restricted so, `clone3` is answered with ENOSYS even if it was
//!   recorded: its flags are in memory, where seccomp cannot check them, and libcs fall back to
//!   `clone`, which is checked. `--args off` ([`PolicyOptions::args`]) gives the names-only
//!   profile.
//! - With a target architecture ([`PolicyOptions::target`], `--arch`) other than the inputs',
//!   names are projected onto it ([`crate::build::project`]); what has no counterpart is reported.
//!
//! [`Format`] names the outputs users ship: the runtime-spec profile (`oci`), the same plus a
//! Kubernetes Pod snippet (`localhost`), an SPO resource (`spo`), and the log-only profile
//! (`log`).

use std::collections::BTreeSet;
use std::fmt;

use libseccomp::ScmpArch;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use thiserror::Error;

use crate::build::project::{Renamed, Unmapped};
use crate::build::rules::{ArgsNote, PolicyOptions};
use crate::error::ArchError;
use crate::formats::input::{Content, Input, InputKind};
use crate::model::arch::{arch_name, oci_arch_from_scmp, sub_arches};
use crate::model::policy::{NameRule, Policy, Verdict};
use crate::model::recording::{Recording, RecordingError};

/// Syscalls a generated profile always allows, because the kernel (not the program's code)
/// decides when a process makes them, so a recording may miss them:
///
/// - `exit`: a thread's end; a single-threaded program's recording never shows it, and a
///   thread that cannot exit spins forever instead of failing.
/// - `exit_group`: the process's end, for the same reason.
/// - `rt_sigreturn`: the return from every signal handler, through the restorer the kernel puts
///   on the signal frame; only seen when a handled signal arrived while recording.
/// - `restart_syscall`: the kernel resumes an interrupted `nanosleep`, `clock_nanosleep`,
///   `futex` wait or `poll` through it after the process was stopped (SIGSTOP/SIGCONT, a
///   cgroup freeze/thaw as `docker pause`/`podman pause` do, a ptrace attach); denied, `sleep`
///   fails after a pause.
///
/// The i386 `sigreturn` (the return from a 32-bit program's non-`SA_SIGINFO` handler) is not
/// listed: 64-bit programs never make it, and a 32-bit one is recorded making it like
/// `rt_sigreturn`, when a handled signal arrives while recording.
pub const ESSENTIAL: [&str; 4] = ["exit", "exit_group", "restart_syscall", "rt_sigreturn"];

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
    /// The runtime-spec `process` fragment: capability sets and `noNewPrivileges`.
    OciProcess,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Self::Oci => "oci",
            Self::Localhost => "localhost",
            Self::Spo => "spo",
            Self::Log => "log",
            Self::OciProcess => "oci-process",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

    /// The recording a profile was to be generated from is unusable.
    #[error(transparent)]
    Recording(#[from] RecordingError),

    /// `--for-runtime` names a runtime without observations.
    #[error("--for-runtime {runtime:?}: no observations for it, expected runc, crun, containerd or podman")]
    UnknownRuntime { runtime: String },
}

/// The runtimes `--for-runtime` knows: what they were observed doing after loading the filter
/// is in `data/runtime-after-filter.json` (containerd runs containers through runc, podman
/// through crun here).
pub const RUNTIMES: [&str; 4] = ["runc", "crun", "containerd", "podman"];

/// Whether `input` is a recording that did not see its container start, so what the runtime
/// does after loading the filter is missing from it: a command recorded on the host, or a
/// container attached to while it ran. `None` when it cannot tell (profiles; merged container
/// recordings, whose runs keep no phases).
pub fn missed_container_start(input: &Input) -> Option<bool> {
    match &input.content {
        Content::Recording(rec) => Some(match (&rec.target, &rec.phases) {
            (None, _) | (Some(_), None) => true,
            (Some(_), Some(phases)) => {
                phases.started_in == crate::model::recording::Phase::Workload
            }
        }),
        Content::Merged(m) => m.runs.iter().any(|r| r.target.is_none()).then_some(true),
        Content::Profile(_) => None,
    }
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
    /// Names denied with ENOSYS for libc fallbacks ([`FALLBACKS`]), and `clone3` when `clone`
    /// has argument conditions.
    pub enosys: Vec<String>,
    /// Syscalls allowed for any arguments although their values were recorded, and why.
    pub args_unrestricted: Vec<ArgsNote>,
    /// `clone3` was recorded but is answered with ENOSYS, because `clone` has argument
    /// conditions that `clone3` would get around.
    pub clone3_denied: bool,
    /// `clone3` is allowed whatever its flags (seccomp cannot read them) and `clone` was not
    /// recorded, so namespace creation through it is not checked.
    pub clone3_unchecked: bool,
    /// Names with no counterpart on the target architecture (left out), sorted.
    pub unmapped: Vec<Unmapped>,
    /// Names replaced by their successor on the target architecture, sorted.
    pub renamed: Vec<Renamed>,
    /// Per container recording (and for `--for-runtime`): the names added because the runtime
    /// was observed making them after loading the filter, though the recording did not see them.
    pub runtime_additions: Vec<RuntimeAddition>,
    /// What the user should hear about the profile, one line each: argument conditions,
    /// `clone3`, the projection, runtime additions, names this libseccomp does not know, the
    /// always-allowed syscalls added and the ENOSYS rules. `record`, `generate` and `merge` all
    /// show exactly these (plus, each in its own words, the unknown numbers and out-of-range
    /// count kept in their own fields), so the same profile gets the same diagnostics.
    pub notes: Vec<Note>,
}

/// Names allowed because a runtime was observed making them after loading the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeAddition {
    /// The recording they were added to, or `--for-runtime`.
    pub origin: String,
    /// `runc`, `crun`, ...
    pub runtime: String,
    /// The names added, sorted.
    pub added: Vec<String>,
}

/// How much a [`Note`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The profile is looser than the recording would allow, or leaves something out.
    Warning,
    /// What generation did, for `-v`.
    Info,
}

/// One line for the user about a generated profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub level: Level,
    pub message: String,
}

impl Note {
    fn warning(message: String) -> Self {
        Self {
            level: Level::Warning,
            message,
        }
    }

    fn info(message: String) -> Self {
        Self {
            level: Level::Info,
            message,
        }
    }
}

impl Generated {
    /// The [`Generated::notes`] of everything else in `self`.
    fn collect_notes(&self) -> Vec<Note> {
        let mut notes = Vec::new();
        for n in &self.args_unrestricted {
            notes.push(Note::warning(format!(
                "{}: {} is allowed for any arguments: {}",
                n.origin,
                n.name,
                n.reason.describe()
            )));
        }
        if self.clone3_denied {
            notes.push(Note::warning(
                "clone3 was recorded but is answered with ENOSYS: seccomp cannot see its flags, so \
                 it would create namespaces past clone's argument conditions; libcs fall back to \
                 clone, which is checked (--args off allows clone3 again)"
                    .to_owned(),
            ));
        }
        if self.clone3_unchecked {
            notes.push(Note::info(
                "clone3 is allowed for any flags (seccomp cannot see them) and clone was not \
                 recorded, so namespace creation through clone3 is not restricted"
                    .to_owned(),
            ));
        }
        let target = arch_name(self.arch);
        for u in &self.unmapped {
            notes.push(Note::warning(format!(
                "{}: no counterpart on {target}, left out of the profile: {}",
                u.name, u.reason
            )));
        }
        for RuntimeAddition {
            origin,
            runtime,
            added,
        } in &self.runtime_additions
        {
            // A merged recording's runtimes are joined with " and ".
            let verb = if runtime.contains(" and ") {
                "were"
            } else {
                "was"
            };
            notes.push(Note::info(format!(
                "{origin}: also allowed what {runtime} {verb} seen doing after loading the filter \
                 in other starts: {}",
                added.join(", ")
            )));
        }
        if !self.renamed.is_empty() {
            let pairs: Vec<String> = self
                .renamed
                .iter()
                .map(|r| format!("{} -> {}", r.from, r.to))
                .collect();
            notes.push(Note::info(format!(
                "projected onto {target}: {}",
                pairs.join(", ")
            )));
        }
        let unknown_names: Vec<&str> = self
            .policy
            .rules
            .keys()
            .filter(|name| !crate::model::syscalls::syscall_known(name))
            .map(String::as_str)
            .collect();
        if !unknown_names.is_empty() {
            notes.push(Note::warning(format!(
                "kept syscall names this machine's libseccomp does not know: {}; runtimes linked \
                 against an older libseccomp skip them, and `syscage run` here refuses the profile",
                unknown_names.join(", ")
            )));
        }
        if !self.essentials_added.is_empty() {
            notes.push(Note::info(format!(
                "allowed {} although not recorded: the kernel makes processes call them (to \
                 exit, return from signal handlers, resume after a stop)",
                self.essentials_added.join(", ")
            )));
        }
        if !self.enosys.is_empty() {
            notes.push(Note::info(format!(
                "denied with ENOSYS so libcs fall back to the recorded older syscalls: {}",
                self.enosys.join(", ")
            )));
        }
        notes
    }
}

/// Generates the profile for `inputs` with the default options (argument conditions on, the
/// inputs' own architecture); see [`generate_with`].
pub fn generate(inputs: &[Input], fallback_arch: ScmpArch) -> Result<Generated, GenerateError> {
    generate_with(inputs, fallback_arch, &PolicyOptions::default())
}

/// Generates the profile for `inputs`; see the module documentation. `fallback_arch` is used
/// when no input says which architecture it is about and `options` names no target. With a
/// target, inputs of any architecture are projected onto it; without one, they must agree.
pub fn generate_with(
    inputs: &[Input],
    fallback_arch: ScmpArch,
    options: &PolicyOptions,
) -> Result<Generated, GenerateError> {
    generate_for_runtime(inputs, fallback_arch, options, None)
}

/// [`generate_with`], and with `for_runtime` (`generate --for-runtime`: `runc`, `crun`,
/// `containerd`, `podman`) the syscalls that runtime was observed making after loading the
/// filter, with or without `noNewPrivileges` ([`crate::baselines::runtime_after_filter`]), are allowed
/// too. This is what makes a profile from
/// a recording that did not see its container start (`record -- COMMAND` on the host, or
/// `record --container` attached to a running container) start under that runtime.
pub fn generate_for_runtime(
    inputs: &[Input],
    fallback_arch: ScmpArch,
    options: &PolicyOptions,
    for_runtime: Option<&str>,
) -> Result<Generated, GenerateError> {
    let runtime_names = match for_runtime {
        Some(runtime) => Some((
            runtime,
            crate::baselines::runtime_after_filter::after_filter_any_config(runtime).ok_or_else(
                || GenerateError::UnknownRuntime {
                    runtime: runtime.to_owned(),
                },
            )?,
        )),
        None => None,
    };
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
        if options.target.is_some() {
            continue;
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
    let arch = options
        .target
        .or(arch.map(|(a, _)| a))
        .unwrap_or(fallback_arch);
    assemble(inputs, arch, options, runtime_names)
        .map_err(|(origin, cause)| GenerateError::Arch { origin, cause })
}

/// [`generate_with`] once the architecture is settled; errors name the input they are about.
fn assemble(
    inputs: &[Input],
    arch: ScmpArch,
    options: &PolicyOptions,
    for_runtime: Option<(&str, BTreeSet<String>)>,
) -> Result<Generated, (String, ArchError)> {
    let mut policies = Vec::new();
    let mut unknown_numbers = Vec::new();
    let mut out_of_range_count: u64 = 0;
    let mut args_unrestricted = Vec::new();
    let mut unmapped = BTreeSet::new();
    let mut renamed = BTreeSet::new();
    let mut runtime_additions = Vec::new();
    for input in inputs {
        let (policy, notes) = input
            .policy_with(options)
            .map_err(|cause| (input.origin.clone(), cause))?;
        policies.push(policy);
        if let Some((runtime, added, extra)) = runtime_after_filter_policy(input) {
            policies.push(extra);
            if !added.is_empty() {
                runtime_additions.push(RuntimeAddition {
                    origin: input.origin.clone(),
                    runtime,
                    added,
                });
            }
        }
        args_unrestricted.extend(notes.args_unrestricted);
        unmapped.extend(notes.unmapped);
        renamed.extend(notes.renamed);
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
    if let Some((runtime, names)) = for_runtime {
        let mut extra = Policy::deny_all(Vec::new());
        for name in &names {
            extra.allow(name);
        }
        let added: Vec<String> = names
            .into_iter()
            .filter(|n| !policies.iter().any(|p| p.verdict(n) == Verdict::Allow))
            .collect();
        policies.push(extra);
        if !added.is_empty() {
            runtime_additions.push(RuntimeAddition {
                origin: "--for-runtime".to_owned(),
                runtime: runtime.to_owned(),
                added,
            });
        }
    }
    let origin = inputs.first().map(|i| i.origin.clone()).unwrap_or_default();
    let built = build(arch, &policies).map_err(|cause| (origin, cause))?;
    let mut generated = Generated {
        profile: built.policy.to_profile(),
        policy: built.policy,
        arch,
        unknown_numbers,
        out_of_range_count,
        essentials_added: built.essentials_added,
        enosys: built.enosys,
        args_unrestricted,
        clone3_denied: built.clone3_denied,
        clone3_unchecked: built.clone3_unchecked && options.args,
        unmapped: unmapped.into_iter().collect(),
        renamed: renamed.into_iter().collect(),
        runtime_additions,
        notes: Vec::new(),
    };
    generated.notes = generated.collect_notes();
    Ok(generated)
}

/// For a container recording, what the runtime that will run the profile does after loading the
/// filter, as observed over many starts ([`crate::baselines::runtime_after_filter`]): one recording may miss
/// some of it (runc's Go runtime calls `futex` or `tgkill` only now and then). A merged
/// recording takes the runtimes of all its container runs, since any of them may run the
/// profile. Returns the runtimes, the names the input itself lacked, and the policy allowing
/// all of them.
fn runtime_after_filter_policy(input: &Input) -> Option<(String, Vec<String>, Policy)> {
    let (runtimes, recorded): (BTreeSet<String>, BTreeSet<String>) = match &input.content {
        Content::Recording(rec) => {
            rec.phases?;
            (
                BTreeSet::from([rec.target.as_ref()?.runtime.clone()?]),
                rec.names(),
            )
        }
        Content::Merged(merged) => (
            merged
                .runs
                .iter()
                .filter_map(|run| run.target.as_ref()?.runtime.clone())
                .collect(),
            merged
                .needed_records()
                .into_iter()
                .filter_map(|record| record.name)
                .collect(),
        ),
        Content::Profile(_) => return None,
    };
    let mut names = BTreeSet::new();
    let mut known = Vec::new();
    for runtime in &runtimes {
        if let Some(observed) = crate::baselines::runtime_after_filter::after_filter(runtime) {
            names.extend(observed);
            known.push(runtime.as_str());
        }
    }
    if known.is_empty() {
        return None;
    }
    let mut policy = Policy::deny_all(Vec::new());
    for name in &names {
        policy.allow(name);
    }
    let added = names.difference(&recorded).cloned().collect();
    Some((known.join(" and "), added, policy))
}

/// The profile `record` writes: [`generate`] for one recording, so `record` and `generate` write
/// the same profile and the same notes.
pub fn profile_from_recording(rec: &Recording) -> Result<Generated, GenerateError> {
    let arch = rec.scmp_arch()?;
    let input = Input {
        origin: "recording".to_owned(),
        kind: InputKind::Recording,
        content: Content::Recording(Box::new(rec.clone())),
        warnings: Vec::new(),
    };
    let generated = assemble(
        std::slice::from_ref(&input),
        arch,
        &PolicyOptions::default(),
        None,
    )
    .map_err(|(origin, cause)| RecordingError::Arch { origin, cause })?;
    Ok(generated)
}

/// What [`build`] made.
struct Built {
    policy: Policy,
    essentials_added: Vec<String>,
    enosys: Vec<String>,
    clone3_denied: bool,
    clone3_unchecked: bool,
}

/// Unites the input policies and applies the errno semantics.
fn build(arch: ScmpArch, inputs: &[Policy]) -> Result<Built, ArchError> {
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
    // clone3 passes its flags in memory, where seccomp cannot look: allowing it would let
    // namespaces be created past clone's conditions. ENOSYS makes libcs use clone instead
    // (moby's profile answers clone3 the same way).
    let clone_restricted = matches!(policy.verdict("clone"), Verdict::AllowIf { .. });
    let clone3_denied = clone_restricted && policy.verdict("clone3").can_run();
    if clone3_denied {
        policy
            .rules
            .insert("clone3".to_owned(), vec![NameRule::errno(ENOSYS)]);
        enosys.insert("clone3".to_owned());
    }
    let clone3_unchecked =
        policy.verdict("clone3") == Verdict::Allow && !policy.verdict("clone").can_run();
    for (newer, older) in FALLBACKS {
        let untouched = !policy.rules.contains_key(newer);
        if untouched && older.iter().any(|o| policy.verdict(o).can_run()) {
            policy.add_rule(newer, NameRule::errno(ENOSYS));
            enosys.insert(newer.to_owned());
        }
    }
    Ok(Built {
        policy,
        essentials_added,
        enosys: enosys.into_iter().collect(),
        clone3_denied,
        clone3_unchecked,
    })
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
    use crate::formats::docker::{Conditions, KernelVersion};
    use crate::formats::input::parse_input;
    use crate::formats::oci::{profile_from_json, profile_to_json, validate_profile};
    use crate::model::recording::SyscallRecord;
    use crate::test_support::with_args;

    const RECORDING: &str = include_str!("../../tests/fixtures/recording-v1.json");

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
                "restart_syscall",
                "rt_sigreturn"
            ]
        );
        assert_eq!(
            g.essentials_added,
            ["exit", "exit_group", "restart_syscall", "rt_sigreturn"]
        );
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
                               "restart_syscall", "rt_sigreturn"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["clone3", "statx"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
                ]
            })
        );
        validate_profile(&g.profile, ScmpArch::X8664, "g").unwrap();
        crate::enforce::filter::build_filter(&g.profile, ScmpArch::X8664).unwrap();

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
        round_trip(recording_with(&[0, 1, 56, 262, 439]));
        // With argument conditions (SPO's CRD and Docker's format carry `args` too).
        round_trip(recording_of(argument_workload()));
    }

    fn round_trip(rec_input: Input) {
        let g = generate(std::slice::from_ref(&rec_input), ScmpArch::X8664).unwrap();
        let oci = profile_to_json(&g.profile);
        let log = profile_to_json(&log_profile(&g.profile));
        let spo = crate::formats::kube::spo_yaml("app", &g.profile).unwrap();
        let crate::formats::input::Content::Recording(rec) = &rec_input.content else {
            panic!("not a recording");
        };
        let merged = crate::model::merged::MergedRecording::from_recording(rec).to_json();
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

    use crate::model::recording::ArgsSeen;

    fn recording_of(records: Vec<SyscallRecord>) -> Input {
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        rec.syscalls = records;
        input(&rec.to_json())
    }

    /// The workload of the argument tests: clone (56) for fork and threads, unshare (272) of
    /// CLONE_FILES, socket (41) AF_UNIX stream and AF_INET datagram, personality (135) query,
    /// prctl (157) PR_SET_NAME, ioctl (16) TCGETS, mmap (9) and mprotect (10) without PROT_EXEC,
    /// plus read (0), close (3), wait4 (61).
    fn argument_workload() -> Vec<SyscallRecord> {
        vec![
            SyscallRecord::new(ScmpArch::X8664, 0, 1, 0),
            SyscallRecord::new(ScmpArch::X8664, 3, 1, 3),
            SyscallRecord::new(ScmpArch::X8664, 61, 1, 61),
            with_args(56, &[0], &[&[0x11], &[0x003d_0f00]]),
            with_args(272, &[0], &[&[0x400]]),
            with_args(41, &[0, 1], &[&[1, 0x8_0001], &[2, 2]]),
            with_args(135, &[0], &[&[0xffff_ffff]]),
            with_args(157, &[0], &[&[15]]),
            with_args(16, &[1], &[&[0x5401]]),
            with_args(9, &[2], &[&[1], &[3]]),
            with_args(10, &[2], &[&[1]]),
        ]
    }

    #[test]
    fn recorded_arguments_become_conditions() {
        let g = generate(&[recording_of(argument_workload())], ScmpArch::X8664).unwrap();
        let value: serde_json::Value = serde_json::from_str(&profile_to_json(&g.profile)).unwrap();
        let ns_mask = 0x7e02_0080_u64;
        assert_eq!(
            value,
            serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["close", "exit", "exit_group", "read", "restart_syscall", "rt_sigreturn", "wait4"],
                     "action": "SCMP_ACT_ALLOW"},
                    // Namespace bits only: fork (SIGCHLD) and threads both come out as 0.
                    {"names": ["clone", "unshare"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": ns_mask, "valueTwo": 0,
                               "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["mmap", "mprotect"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 2, "value": 4, "valueTwo": 0,
                               "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["prctl"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 15, "op": "SCMP_CMP_EQ"}]},
                    // One rule per (domain, type): conditions on arguments 0 and 1 are ANDed.
                    {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                              {"index": 1, "value": 15, "valueTwo": 1,
                               "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
                              {"index": 1, "value": 15, "valueTwo": 2,
                               "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
                ]
            })
        );
        assert!(g.args_unrestricted.is_empty(), "{:?}", g.args_unrestricted);
        assert!(!g.clone3_denied);
        // Only what generation did, for -v: the essentials and the ENOSYS rule.
        assert!(
            g.notes.clone().iter().all(|n| n.level == Level::Info),
            "{:?}",
            g.notes.clone()
        );
        validate_profile(&g.profile, ScmpArch::X8664, "g").unwrap();
        let built =
            crate::enforce::filter::build_filter_report(&g.profile, ScmpArch::X8664).unwrap();
        assert!(built.skipped_rules.is_empty());
        // The profile reads back as itself.
        let again = generate(&[input(&profile_to_json(&g.profile))], ScmpArch::X8664).unwrap();
        assert_eq!(again.profile, g.profile);
        // record writes the same profile.
        let crate::formats::input::Content::Recording(rec) =
            &recording_of(argument_workload()).content
        else {
            panic!("not a recording");
        };
        let recorded = profile_from_recording(rec).unwrap();
        assert_eq!(recorded.profile, g.profile);
        // And says the same about it.
        assert_eq!(recorded.notes, g.notes.clone());
    }

    #[test]
    fn args_off_gives_the_names_only_profile() {
        let names_only = PolicyOptions {
            args: false,
            target: None,
        };
        let g = generate_with(
            &[recording_of(argument_workload())],
            ScmpArch::X8664,
            &names_only,
        )
        .unwrap();
        let rules = g.profile.syscalls().clone().unwrap();
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert!(rules.iter().all(|r| r.args().is_none()));
        for name in ["clone", "socket", "ioctl", "mmap", "prctl"] {
            assert_eq!(g.policy.verdict(name), Verdict::Allow, "{name}");
        }
    }

    #[test]
    fn exec_memory_and_namespaces_seen_are_allowed() {
        let g = generate(
            &[recording_of(vec![
                // mmap with PROT_READ|PROT_EXEC; clone with CLONE_NEWUSER|CLONE_NEWNS|SIGCHLD.
                with_args(9, &[2], &[&[1], &[5]]),
                with_args(56, &[0], &[&[0x11], &[0x1002_0011]]),
            ])],
            ScmpArch::X8664,
        )
        .unwrap();
        assert_eq!(g.policy.verdict("mmap"), Verdict::Allow);
        let Verdict::AllowIf { conditions } = g.policy.verdict("clone") else {
            panic!("{:?}", g.policy.verdict("clone"));
        };
        let described: Vec<String> = conditions
            .iter()
            .map(|c| crate::model::policy::describe_conditions(c))
            .collect();
        assert_eq!(
            described,
            [
                "arg0 & 0x7e020080 == 0x0",
                "arg0 & 0x7e020080 == 0x10020000"
            ]
        );
        // PROT_EXEC use is ordinary: nothing to report.
        assert!(g.args_unrestricted.is_empty());
    }

    #[test]
    fn overflow_and_too_many_values_allow_any_and_are_reported() {
        let mut clone = with_args(56, &[0], &[&[0x11]]);
        clone.args.as_mut().unwrap().overflow = true;
        let requests: Vec<Vec<u64>> = (0..20).map(|r| vec![0x5400 + r]).collect();
        let mut ioctl = with_args(16, &[1], &[]);
        ioctl.args.as_mut().unwrap().values = requests;
        let g = generate(&[recording_of(vec![clone, ioctl])], ScmpArch::X8664).unwrap();
        assert_eq!(g.policy.verdict("clone"), Verdict::Allow);
        assert_eq!(g.policy.verdict("ioctl"), Verdict::Allow);
        let warnings: Vec<String> = g
            .notes
            .clone()
            .into_iter()
            .filter(|n| n.level == Level::Warning)
            .map(|n| n.message)
            .collect();
        assert_eq!(
            warnings,
            [
                "in.json: clone is allowed for any arguments: its recorded values are incomplete \
                 (overflow: more distinct values than the tracer keeps, or a merged run that did \
                 not record them)",
                "in.json: ioctl is allowed for any arguments: 20 distinct argument values, more \
                 than the 16 rules syscage writes per syscall"
            ]
        );
        // record (profile_from_recording) gets the same notes as generate, the essentials and
        // ENOSYS rules included.
        let rec = Recording::from_json(
            &match &recording_of(vec![SyscallRecord::new(ScmpArch::X8664, 56, 1, 0)]).content {
                Content::Recording(r) => r.to_json(),
                _ => unreachable!("a recording"),
            },
            "r",
        )
        .unwrap();
        let recorded = profile_from_recording(&rec).unwrap();
        let messages: Vec<&str> = recorded.notes.iter().map(|n| n.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("allowed exit, exit_group, restart_syscall"))
                && messages.iter().any(|m| m.starts_with("denied with ENOSYS")),
            "{messages:?}"
        );
    }

    #[test]
    fn clone3_is_answered_with_enosys_when_clone_is_restricted() {
        let records = || {
            vec![
                with_args(56, &[0], &[&[0x11]]),
                SyscallRecord::new(ScmpArch::X8664, 435, 1, 435),
            ]
        };
        let g = generate(&[recording_of(records())], ScmpArch::X8664).unwrap();
        assert_eq!(
            g.policy.verdict("clone3"),
            Verdict::Deny {
                action: LinuxSeccompAction::ScmpActErrno,
                errno: Some(ENOSYS)
            }
        );
        assert!(g.clone3_denied);
        assert_eq!(g.enosys, ["clone3"]);
        assert!(g.notes.clone()[0]
            .message
            .starts_with("clone3 was recorded but is answered with ENOSYS"));
        // Names only: clone3 stays allowed.
        let names_only = PolicyOptions {
            args: false,
            target: None,
        };
        let g = generate_with(&[recording_of(records())], ScmpArch::X8664, &names_only).unwrap();
        assert_eq!(g.policy.verdict("clone3"), Verdict::Allow);
        assert!(!g.clone3_denied);
        // clone3 without clone: allowed, and said to be unchecked.
        let g = generate(
            &[recording_of(vec![SyscallRecord::new(
                ScmpArch::X8664,
                435,
                1,
                0,
            )])],
            ScmpArch::X8664,
        )
        .unwrap();
        assert_eq!(g.policy.verdict("clone3"), Verdict::Allow);
        assert!(g.clone3_unchecked);
        assert_eq!(g.notes.clone()[0].level, Level::Info);
    }

    #[test]
    fn compat_calls_are_named_with_their_own_table() {
        // x86_64 20 is writev; i386 20 is getpid, 102 socketcall, 192 mmap2, 120 clone.
        let mut records = vec![SyscallRecord::new(ScmpArch::X8664, 20, 1, 0)];
        for nr in [20, 102, 192, 120] {
            let mut r = SyscallRecord::new(ScmpArch::X86, nr, 1, u64::from(nr));
            r.arch = Some("SCMP_ARCH_X86".into());
            records.push(r);
        }
        // The compat clone has no argument values: clone cannot be restricted for it.
        records.push(with_args(56, &[0], &[&[0x11]]));
        let g = generate(&[recording_of(records)], ScmpArch::X8664).unwrap();
        for name in ["writev", "getpid", "socketcall", "mmap2", "clone"] {
            assert_eq!(g.policy.verdict(name), Verdict::Allow, "{name}");
        }
        assert_eq!(g.args_unrestricted.len(), 1);
        assert_eq!(
            g.args_unrestricted[0].reason.describe(),
            "some calls (SCMP_ARCH_X86) were recorded without argument values"
        );
        let value: serde_json::Value = serde_json::from_str(&profile_to_json(&g.profile)).unwrap();
        assert_eq!(
            value["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        crate::enforce::filter::build_filter(&g.profile, ScmpArch::X8664).unwrap();
    }

    #[test]
    fn projection_onto_aarch64() {
        // x86_64: open (2), stat (4), pipe (22), read (0), fork (57), arch_prctl (158),
        // socket (41) with arguments.
        let records = vec![
            SyscallRecord::new(ScmpArch::X8664, 2, 1, 2),
            SyscallRecord::new(ScmpArch::X8664, 4, 1, 4),
            SyscallRecord::new(ScmpArch::X8664, 22, 1, 22),
            SyscallRecord::new(ScmpArch::X8664, 0, 1, 0),
            SyscallRecord::new(ScmpArch::X8664, 57, 1, 57),
            SyscallRecord::new(ScmpArch::X8664, 158, 1, 158),
            with_args(41, &[0, 1], &[&[1, 1]]),
        ];
        let onto_arm64 = PolicyOptions {
            args: true,
            target: Some(ScmpArch::Aarch64),
        };
        let g = generate_with(&[recording_of(records)], ScmpArch::X8664, &onto_arm64).unwrap();
        assert_eq!(g.arch, ScmpArch::Aarch64);
        let value: serde_json::Value = serde_json::from_str(&profile_to_json(&g.profile)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
                "syscalls": [
                    {"names": ["exit", "exit_group", "newfstatat", "openat", "pipe2", "read",
                               "restart_syscall", "rt_sigreturn"], "action": "SCMP_ACT_ALLOW"},
                    // fork is clone(SIGCHLD) there: no namespaces.
                    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 0x7e02_0080_u64, "valueTwo": 0,
                               "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                              {"index": 1, "value": 15, "valueTwo": 1,
                               "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["clone3", "statx"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
                ]
            })
        );
        assert_eq!(g.unmapped.len(), 1);
        assert_eq!(g.unmapped[0].name, "arch_prctl");
        assert_eq!(
            g.renamed,
            [
                Renamed {
                    from: "fork".to_owned(),
                    to: "clone".to_owned()
                },
                Renamed {
                    from: "open".to_owned(),
                    to: "openat".to_owned()
                },
                Renamed {
                    from: "pipe".to_owned(),
                    to: "pipe2".to_owned()
                },
                Renamed {
                    from: "stat".to_owned(),
                    to: "newfstatat".to_owned()
                }
            ]
        );
        let notes = g.notes.clone();
        assert!(notes.iter().any(|n| n.level == Level::Warning
            && n.message
                .starts_with("arch_prctl: no counterpart on SCMP_ARCH_AARCH64")));
        assert!(notes.iter().any(|n| n.level == Level::Info
            && n.message
                == "projected onto SCMP_ARCH_AARCH64: fork -> clone, open -> openat, \
                             pipe -> pipe2, stat -> newfstatat"));
        validate_profile(&g.profile, ScmpArch::Aarch64, "arm64").unwrap();
        crate::enforce::filter::build_filter(&g.profile, ScmpArch::Aarch64).unwrap();

        // Without a target, inputs of two architectures are still refused; with one, a profile
        // of the other is projected too.
        let arm_profile = input(&profile_to_json(&g.profile));
        let x86 = recording_with(&[2]);
        assert!(generate(&[x86.clone(), arm_profile.clone()], ScmpArch::X8664).is_err());
        let onto_x86 = PolicyOptions {
            args: true,
            target: Some(ScmpArch::X8664),
        };
        let both = generate_with(&[x86, arm_profile], ScmpArch::X8664, &onto_x86).unwrap();
        assert_eq!(both.policy.verdict("open"), Verdict::Allow);
        assert_eq!(both.policy.verdict("openat"), Verdict::Allow);
        assert!(both.unmapped.is_empty(), "{:?}", both.unmapped);

        // A profile's fork becomes clone without namespaces, its open openat (and stays open
        // for arm programs), its arch_prctl is reported.
        let x86_profile = input(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["arch_prctl", "fork", "open"], "action": "SCMP_ACT_ALLOW"}]}"#,
        );
        let g = generate_with(&[x86_profile], ScmpArch::X8664, &onto_arm64).unwrap();
        let Verdict::AllowIf { conditions } = g.policy.verdict("clone") else {
            panic!("{:?}", g.policy.verdict("clone"));
        };
        assert_eq!(
            crate::model::policy::describe_conditions(&conditions[0]),
            "arg0 & 0x7e020080 == 0x0"
        );
        assert_eq!(g.policy.verdict("openat"), Verdict::Allow);
        assert_eq!(g.policy.verdict("open"), Verdict::Allow);
        assert_eq!(g.unmapped[0].name, "arch_prctl");
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
                crate::enforce::filter::build_filter(&ab.profile, ScmpArch::X8664).unwrap();
                for name in ESSENTIAL {
                    prop_assert_eq!(ab.policy.verdict(name), Verdict::Allow);
                }
                prop_assert_eq!(ab.profile.default_action(), LinuxSeccompAction::ScmpActErrno);
            }

            /// The same with argument values, compat calls and projection: profiles validate
            /// and build for their architecture, commute, and every recorded name is allowed
            /// for at least the recorded values.
            #[test]
            fn profiles_with_arguments_build_and_commute(
                a in arb_records(),
                b in arb_records(),
                target in proptest::sample::select(vec![None, Some(ScmpArch::X8664), Some(ScmpArch::Aarch64)]),
                args in any::<bool>(),
            ) {
                let options = PolicyOptions { args, target };
                let a = recording_of(a);
                let b = recording_of(b);
                let ab = generate_with(&[a.clone(), b.clone()], ScmpArch::X8664, &options).unwrap();
                let ba = generate_with(&[b, a.clone()], ScmpArch::X8664, &options).unwrap();
                prop_assert_eq!(&ab.profile, &ba.profile);
                validate_profile(&ab.profile, ab.arch, "prop").unwrap();
                let built = crate::enforce::filter::build_filter_report(&ab.profile, ab.arch).unwrap();
                prop_assert!(built.skipped_rules.is_empty());
                if target != Some(ScmpArch::Aarch64) {
                    for record in a.records() {
                        let Some(name) = crate::model::recording::enforceable_name(ScmpArch::X8664, &record) else {
                            continue;
                        };
                        // clone3 may be answered with ENOSYS when clone is restricted.
                        if name != "clone3" {
                            prop_assert!(ab.policy.verdict(&name).can_run(), "{}", name);
                        }
                    }
                }
                // Generating again from the profile changes nothing.
                let again = generate_with(&[input(&profile_to_json(&ab.profile))], ab.arch,
                    &PolicyOptions { args, target: None }).unwrap();
                prop_assert_eq!(&again.profile, &ab.profile);
            }
        }

        /// Records of syscalls with and without argument values, native and i386.
        fn arb_records() -> impl Strategy<Value = Vec<SyscallRecord>> {
            let captured = proptest::sample::select(vec![
                (56_u32, vec![0_u8]),
                (272, vec![0]),
                (41, vec![0, 1]),
                (135, vec![0]),
                (157, vec![0]),
                (16, vec![1]),
                (9, vec![2]),
                (10, vec![2]),
            ]);
            let with_values = (
                captured,
                proptest::collection::btree_set(
                    proptest::collection::vec(0u64..0x8000_0000, 2),
                    1..20,
                ),
                proptest::bool::weighted(0.1),
            )
                .prop_map(|((nr, indexes), values, overflow)| {
                    let mut record = SyscallRecord::new(ScmpArch::X8664, nr, 1, u64::from(nr));
                    record.args = Some(ArgsSeen {
                        values: values
                            .into_iter()
                            .map(|v| v[..indexes.len()].to_vec())
                            .collect(),
                        indexes,
                        overflow,
                    });
                    record
                });
            let plain = (0u32..460).prop_map(|nr| SyscallRecord::new(ScmpArch::X8664, nr, 1, 0));
            let compat = (0u32..450).prop_map(|nr| {
                let mut record = SyscallRecord::new(ScmpArch::X86, nr, 1, 0);
                record.arch = Some("SCMP_ARCH_X86".to_owned());
                record
            });
            proptest::collection::vec(
                prop_oneof![4 => plain, 2 => with_values, 1 => compat],
                0..40,
            )
            .prop_map(|records| {
                // One entry per (arch, number), as recordings have.
                let mut seen = BTreeSet::new();
                records
                    .into_iter()
                    .filter(|r| seen.insert((r.arch.clone(), r.nr)))
                    .collect()
            })
        }
    }

    #[test]
    fn syscalls_the_kernel_makes_a_process_call_are_always_allowed() {
        // A recording of `sleep`: nanosleep (35) only. After SIGSTOP/SIGCONT or a cgroup
        // freeze/thaw the kernel resumes the sleep through restart_syscall.
        let g = generate(&[recording_with(&[35])], ScmpArch::X8664).unwrap();
        for name in ["exit", "exit_group", "restart_syscall", "rt_sigreturn"] {
            assert_eq!(g.policy.verdict(name), Verdict::Allow, "{name}");
        }
        assert!(g.essentials_added.contains(&"restart_syscall".to_owned()));
        crate::enforce::filter::build_filter(&g.profile, ScmpArch::X8664).unwrap();
    }

    #[test]
    fn a_name_that_disagrees_with_its_number_is_ignored() {
        // 100000 is no syscall; the name says ptrace. The number counts.
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        let mut record = SyscallRecord::new(ScmpArch::X8664, 100_000, 1, 0);
        record.name = Some("ptrace".to_owned());
        // getpid (39) named "getpid": agrees.
        rec.syscalls = vec![record, SyscallRecord::new(ScmpArch::X8664, 39, 1, 1)];
        let parsed = input(&rec.to_json());
        assert_eq!(
            parsed.warnings,
            [
                "in.json: syscall 100000 is recorded as \"ptrace\", but on SCMP_ARCH_X86_64 that \
              number has no name; the number counts, the name is ignored"
            ]
        );
        let g = generate(&[parsed], ScmpArch::X8664).unwrap();
        assert!(!g.policy.verdict("ptrace").can_run());
        assert_eq!(g.policy.verdict("getpid"), Verdict::Allow);
        assert_eq!(g.unknown_numbers, [("in.json".to_owned(), 100_000)]);

        // A known number with another syscall's name is refused when the recording is read
        // (RecordingError::NameMismatch).
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        let mut record = SyscallRecord::new(ScmpArch::X8664, 39, 1, 0);
        record.name = Some("ptrace".to_owned());
        rec.syscalls = vec![record];
        assert!(parse_input(&rec.to_json(), "in.json", &conditions()).is_err());
    }

    #[test]
    fn for_runtime_adds_what_the_runtime_does_after_the_filter() {
        // A host recording of a shell: read, write, execve (59).
        let host = || recording_with(&[0, 1, 59]);
        assert_eq!(missed_container_start(&host()), Some(true));
        let g = generate_for_runtime(
            &[host()],
            ScmpArch::X8664,
            &PolicyOptions::default(),
            Some("runc"),
        )
        .unwrap();
        let runc = crate::baselines::runtime_after_filter::after_filter_any_config("runc").unwrap();
        for name in &runc {
            assert_eq!(g.policy.verdict(name), Verdict::Allow, "{name}");
        }
        let RuntimeAddition {
            origin,
            runtime,
            added,
        } = &g.runtime_additions[0];
        assert_eq!(
            (origin.as_str(), runtime.as_str()),
            ("--for-runtime", "runc")
        );
        assert!(added.contains(&"futex".to_owned()) && !added.contains(&"execve".to_owned()));
        assert!(g.notes.clone().iter().any(|n| n
            .message
            .starts_with("--for-runtime: also allowed what runc")));
        // Without it, runc's calls are not there.
        let plain = generate(&[host()], ScmpArch::X8664).unwrap();
        assert!(!plain.policy.verdict("futex").can_run());
        // podman runs containers through crun; unknown runtimes are refused.
        let g = generate_for_runtime(
            &[host()],
            ScmpArch::X8664,
            &PolicyOptions::default(),
            Some("podman"),
        )
        .unwrap();
        assert_eq!(g.runtime_additions[0].runtime, "podman");
        let err = generate_for_runtime(
            &[host()],
            ScmpArch::X8664,
            &PolicyOptions::default(),
            Some("lxc"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "--for-runtime \"lxc\": no observations for it, expected runc, crun, containerd or podman");
        for runtime in RUNTIMES {
            assert!(
                crate::baselines::runtime_after_filter::after_filter(runtime).is_some(),
                "{runtime}"
            );
        }
        // A profile cannot tell; a container recording that saw its start did.
        assert_eq!(
            missed_container_start(&input(&profile_to_json(&plain.profile))),
            None
        );
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        rec.target = Some(crate::model::recording::Target {
            cgroup: "/x".to_owned(),
            ..Default::default()
        });
        rec.phases = Some(crate::model::recording::PhaseTimes {
            started_in: crate::model::recording::Phase::RuntimeSetup,
            filter_loaded_us: Some(1),
            entrypoint_exec_us: Some(2),
        });
        assert_eq!(missed_container_start(&input(&rec.to_json())), Some(false));
        rec.phases = Some(crate::model::recording::PhaseTimes {
            started_in: crate::model::recording::Phase::Workload,
            filter_loaded_us: None,
            entrypoint_exec_us: None,
        });
        assert_eq!(missed_container_start(&input(&rec.to_json())), Some(true));
    }
}

#[cfg(test)]
mod profile_from_recording_tests {
    use std::path::Path;

    use serde_json::{json, Value};

    use super::*;
    use crate::formats::oci::profile_to_json;
    use crate::model::recording::SyscallRecord;
    use crate::test_support::assert_json_eq;

    const RECORDING: &str = include_str!("../../tests/fixtures/recording-v1.json");
    const GOLDEN_PROFILE: &str = "tests/fixtures/profile-from-recording-v1.json";

    fn recording() -> Recording {
        Recording::from_json(RECORDING, "recording-v1.json").unwrap()
    }

    /// A container recording: `fstatfs` only in the runtime's setup, `futex` after the filter
    /// load, `read` in the workload.
    fn container_recording(filter_seen: bool) -> Recording {
        use crate::model::recording::{Phase, PhaseTimes};
        let mut rec = recording();
        rec.syscalls.clear();
        for (nr, phases) in [
            (138, vec![Phase::RuntimeSetup]),
            (202, vec![Phase::RuntimeSetup, Phase::RuntimeAfterFilter]),
            (0, vec![Phase::Workload]),
        ] {
            let mut record = SyscallRecord::new(ScmpArch::X8664, nr, 1, 1);
            record.phases = phases;
            rec.syscalls.push(record);
        }
        rec.phases = Some(PhaseTimes {
            started_in: Phase::RuntimeSetup,
            filter_loaded_us: filter_seen.then_some(5),
            entrypoint_exec_us: Some(9),
        });
        rec
    }

    fn allowed_names(rec: &Recording) -> Vec<String> {
        let generated = profile_from_recording(rec).unwrap();
        generated.profile.syscalls().as_ref().unwrap()[0]
            .names()
            .clone()
    }

    #[test]
    fn runtime_setup_before_the_filter_stays_out_of_the_profile() {
        // exit, exit_group and rt_sigreturn are always in (never dropped).
        assert_eq!(
            allowed_names(&container_recording(true)),
            [
                "exit",
                "exit_group",
                "futex",
                "read",
                "restart_syscall",
                "rt_sigreturn"
            ]
        );
    }

    #[test]
    fn container_profiles_allow_what_their_runtime_does_after_the_filter_in_other_starts() {
        let mut rec = container_recording(true);
        let recorded = allowed_names(&rec);
        rec.target = Some(crate::model::recording::Target {
            cgroup: "/c1".to_owned(),
            runtime: Some("runc".to_owned()),
            ..Default::default()
        });
        let generated = profile_from_recording(&rec).unwrap();
        let names: std::collections::BTreeSet<String> =
            generated.profile.syscalls().as_ref().unwrap()[0]
                .names()
                .iter()
                .cloned()
                .collect();
        let runc = crate::baselines::runtime_after_filter::after_filter("runc").unwrap();
        assert!(runc.is_subset(&names), "{runc:?} not all in {names:?}");
        assert!(names.len() > recorded.len());
        assert!(
            generated
                .notes
                .iter()
                .any(|n| n.message.contains("runc was seen doing")),
            "the addition is reported"
        );
    }

    #[test]
    fn merged_container_recordings_allow_what_their_runtimes_do_after_the_filter() {
        let mut rec = container_recording(true);
        rec.target = Some(crate::model::recording::Target {
            cgroup: "/c1".to_owned(),
            runtime: Some("runc".to_owned()),
            ..Default::default()
        });
        let merged = crate::model::merged::MergedRecording::from_recording(&rec);
        let input = Input {
            origin: "merged".to_owned(),
            kind: InputKind::MergedRecording,
            content: Content::Merged(merged),
            warnings: Vec::new(),
        };
        let generated = generate(std::slice::from_ref(&input), ScmpArch::X8664).unwrap();
        let names: std::collections::BTreeSet<String> =
            generated.profile.syscalls().as_ref().unwrap()[0]
                .names()
                .iter()
                .cloned()
                .collect();
        let runc = crate::baselines::runtime_after_filter::after_filter("runc").unwrap();
        assert!(runc.is_subset(&names), "{runc:?} not all in {names:?}");
    }

    #[test]
    fn runtime_setup_stays_in_when_no_filter_load_was_seen() {
        // Without a filter load the recording cannot tell where the runtime would load one:
        // keep its setup syscalls rather than break the container.
        assert_eq!(
            allowed_names(&container_recording(false)),
            [
                "exit",
                "exit_group",
                "fstatfs",
                "futex",
                "read",
                "restart_syscall",
                "rt_sigreturn"
            ]
        );
    }

    #[test]
    fn small_recording_gives_the_expected_json() {
        let mut rec = recording();
        rec.syscalls
            .retain(|s| matches!(s.name.as_deref(), Some("close" | "brk")));
        // The same name twice (as two numbers of one recording cannot be, but a merged
        // in-memory recording might) must appear once.
        rec.syscalls
            .push(SyscallRecord::new(ScmpArch::X8664, 12, 1, 999));
        let generated = profile_from_recording(&rec).unwrap();
        let text = profile_to_json(&generated.profile);
        assert!(text.ends_with("}\n"), "{text}");
        let actual: Value = serde_json::from_str(&text).unwrap();
        let expected = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            // exit, exit_group and rt_sigreturn are never dropped.
            "syscalls": [ {
                "names": ["brk", "close", "exit", "exit_group", "restart_syscall", "rt_sigreturn"],
                "action": "SCMP_ACT_ALLOW"
            } ]
        });
        assert_json_eq(&actual, &expected);
        // Key order as the runtime spec lists them, not alphabetical.
        let keys: Vec<usize> = [
            "defaultAction",
            "defaultErrnoRet",
            "architectures",
            "syscalls",
        ]
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(generated.unknown_numbers.is_empty());
    }

    #[test]
    fn golden_profile_from_the_golden_recording() {
        let generated = profile_from_recording(&recording()).unwrap();
        let text = profile_to_json(&generated.profile);
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN_PROFILE);
        if std::env::var_os("SYSCAGE_BLESS").is_some_and(|v| v == "1") {
            crate::formats::atomic::write_atomic(&path, text.as_bytes()).unwrap();
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with SYSCAGE_BLESS=1)", path.display()));
        assert_json_eq(
            &serde_json::from_str(&text).unwrap(),
            &serde_json::from_str(&golden).unwrap(),
        );
        assert_eq!(text, golden, "same JSON, different layout");
    }

    #[test]
    fn names_are_sorted_unique_and_unknown_numbers_reported() {
        let rec = recording();
        let generated = profile_from_recording(&rec).unwrap();
        let rules = generated.profile.syscalls().clone().unwrap();
        assert_eq!(rules.len(), 1, "{rules:?}");
        // Plus exit and rt_sigreturn, which are never dropped.
        assert_eq!(
            rules[0].names(),
            &[
                "brk",
                "close",
                "execve",
                "exit",
                "exit_group",
                "getpid",
                "openat",
                "read",
                "restart_syscall",
                "rt_sigreturn"
            ]
        );
        assert_eq!(
            generated.unknown_numbers,
            vec![("recording".to_owned(), 1000)]
        );
        assert_eq!(generated.out_of_range_count, 2);
        // The recording still has the number.
        assert!(rec.syscalls.iter().any(|s| s.nr == 1000));
    }

    #[test]
    fn never_allows_by_default_even_when_empty() {
        let mut rec = recording();
        rec.syscalls.clear();
        let generated = profile_from_recording(&rec).unwrap();
        assert_eq!(
            generated.profile.default_action(),
            LinuxSeccompAction::ScmpActErrno
        );
        let actual: Value = serde_json::from_str(&profile_to_json(&generated.profile)).unwrap();
        // Even an empty recording keeps what lets a process exit.
        assert_eq!(
            actual["syscalls"],
            json!([{"names": ["exit", "exit_group", "restart_syscall", "rt_sigreturn"], "action": "SCMP_ACT_ALLOW"}])
        );

        rec.arch = "SCMP_ARCH_AARCH64".into();
        rec.syscalls = vec![SyscallRecord::new(ScmpArch::Aarch64, 172, 1, 0)];
        let generated = profile_from_recording(&rec).unwrap();
        let actual: Value = serde_json::from_str(&profile_to_json(&generated.profile)).unwrap();
        assert_eq!(
            actual["architectures"],
            json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert_eq!(
            actual["syscalls"][0]["names"],
            json!([
                "exit",
                "exit_group",
                "getpid",
                "restart_syscall",
                "rt_sigreturn"
            ])
        );
        assert_eq!(actual["defaultAction"], "SCMP_ACT_ERRNO");
    }

    #[test]
    fn bad_recording_arch_is_an_error() {
        let mut rec = recording();
        rec.arch = "amd64".into();
        let err = profile_from_recording(&rec).unwrap_err().to_string();
        assert!(
            err.starts_with("recording: arch: unknown architecture \"amd64\""),
            "{err}"
        );
    }
}
