//! An input as per-syscall rules: what a recording saw, with argument conditions where its
//! values allow them, or what a profile says, projected onto another architecture on request.

use std::collections::{BTreeMap, BTreeSet};

use libseccomp::ScmpArch;

use crate::build::args::{
    masked_eq, rules_for, AnyReason, ArgRules, FORK_CLONE_FLAGS, NAMESPACE_FLAGS, VFORK_CLONE_FLAGS,
};
use crate::build::project::{Projection, Projector, Renamed, Unmapped};
use crate::error::ArchError;
use crate::formats::input::{Content, Input};
use crate::model::arch::{arch_name, oci_arch_from_scmp, parse_arch_name, sub_arches};
use crate::model::policy::{arch_syscall_names, NameRule, Policy};
use crate::model::recording::{enforceable_name, ArgsSeen};

impl Input {
    /// The input as a per-syscall policy: a recording allows what it saw (on its arch and the
    /// usual companions), with the argument conditions its values allow; a profile is what it
    /// says. See [`Input::policy_with`].
    pub fn policy(&self) -> Result<Policy, ArchError> {
        self.policy_with(&PolicyOptions::default())
            .map(|(policy, _)| policy)
    }

    /// The input as a per-syscall policy for `options`, with what could not be put into it.
    ///
    /// A recording allows every name it saw, for the arguments it saw where it recorded them
    /// ([`crate::build::args::rules_for`]; all records of one name together, whatever their ABI), or
    /// for any arguments with `args: false`. With a `target` other than the input's own
    /// architecture, names are projected onto the target ([`Projector`]); argument conditions
    /// stay with names that keep their name, and `fork`/`vfork` become `clone` without
    /// namespace flags.
    pub fn policy_with(&self, options: &PolicyOptions) -> Result<(Policy, PolicyNotes), ArchError> {
        let mut notes = PolicyNotes::default();
        let own_arch = self.arch();
        let projector = match (options.target, own_arch) {
            (Some(target), Some(own)) if target != own => Some(Projector::new(target)),
            _ => None,
        };
        let policy = match &self.content {
            Content::Profile(p) => {
                let policy = Policy::from_profile(p);
                match &projector {
                    Some(projector) => self.project_profile(&policy, projector, &mut notes)?,
                    None => policy,
                }
            }
            Content::Recording(_) | Content::Merged(_) => {
                let arch = own_arch.ok_or(ArchError::Native)?;
                let target = options.target.unwrap_or(arch);
                let by_name = self.records_by_name(arch, projector.as_ref(), &mut notes);
                self.rules_by_name(target, by_name, options.args, &mut notes)?
            }
        };
        Ok((policy, notes))
    }

    /// Every record of a recording about `arch` under the name it gets (projected when there
    /// is a projector), with what is known of its arguments.
    fn records_by_name(
        &self,
        arch: ScmpArch,
        projector: Option<&Projector>,
        notes: &mut PolicyNotes,
    ) -> BTreeMap<String, Vec<RecordArgs>> {
        let mut by_name: BTreeMap<String, Vec<RecordArgs>> = BTreeMap::new();
        let mut unmapped = BTreeSet::new();
        let mut renamed = BTreeSet::new();
        for record in self.records() {
            let Some(name) = enforceable_name(arch, &record) else {
                continue;
            };
            let record_arch = record
                .arch
                .as_deref()
                .and_then(|a| parse_arch_name(a).ok())
                .unwrap_or(arch);
            let args = match &record.args {
                Some(seen) => RecordArgs::Seen(seen.clone()),
                None => RecordArgs::NotCaptured(arch_name(record_arch)),
            };
            let Some(projector) = projector else {
                by_name.entry(name).or_default().push(args);
                continue;
            };
            match projector.project(&name, record_arch != arch) {
                Projection::Same => by_name.entry(name).or_default().push(args),
                Projection::Renamed(to) => {
                    let args = match (name.as_str(), to.as_str()) {
                        ("fork", "clone") => RecordArgs::Seen(clone_flags(FORK_CLONE_FLAGS)),
                        ("vfork", "clone") => RecordArgs::Seen(clone_flags(VFORK_CLONE_FLAGS)),
                        _ if matches!(args, RecordArgs::Seen(_)) => {
                            RecordArgs::Renamed(name.clone())
                        }
                        _ => args,
                    };
                    renamed.insert(Renamed {
                        from: name,
                        to: to.clone(),
                    });
                    by_name.entry(to).or_default().push(args);
                }
                Projection::Unmapped(reason) => {
                    unmapped.insert(Unmapped { name, reason });
                }
            }
        }
        notes.unmapped = unmapped.into_iter().collect();
        notes.renamed = renamed.into_iter().collect();
        by_name
    }

    /// The policy for `target` that allows each name of `by_name`, for the arguments its
    /// records allow when `args` is on.
    fn rules_by_name(
        &self,
        target: ScmpArch,
        by_name: BTreeMap<String, Vec<RecordArgs>>,
        args: bool,
        notes: &mut PolicyNotes,
    ) -> Result<Policy, ArchError> {
        let architectures = sub_arches(target)
            .into_iter()
            .map(oci_arch_from_scmp)
            .collect::<Result<Vec<_>, _>>()?;
        let mut policy = Policy::deny_all(architectures);
        for (name, records) in by_name {
            if !args {
                policy.add_rule(&name, NameRule::allow());
                continue;
            }
            match rules_of(&name, &records) {
                None => policy.add_rule(&name, NameRule::allow()),
                Some(ArgRules::Any(reason)) => {
                    policy.add_rule(&name, NameRule::allow());
                    if reason.is_loss() {
                        notes.args_unrestricted.push(ArgsNote {
                            origin: self.origin.clone(),
                            name,
                            reason,
                        });
                    }
                }
                Some(ArgRules::Conditions(sets)) => {
                    for args in sets {
                        policy.add_rule(
                            &name,
                            NameRule {
                                args,
                                ..NameRule::allow()
                            },
                        );
                    }
                }
            }
        }
        Ok(policy)
    }

    /// A profile's policy with its names projected onto the projector's target: allowing rules
    /// follow their name; a conditional one on a renamed syscall allows the successor for any
    /// arguments (the arguments move); denials of names the target lacks are dropped.
    fn project_profile(
        &self,
        policy: &Policy,
        projector: &Projector,
        notes: &mut PolicyNotes,
    ) -> Result<Policy, ArchError> {
        let architectures = sub_arches(projector.target())
            .into_iter()
            .map(oci_arch_from_scmp)
            .collect::<Result<Vec<_>, _>>()?;
        let mut projected = Policy {
            architectures,
            rules: BTreeMap::new(),
            ..policy.clone()
        };
        let mut unmapped = BTreeSet::new();
        let mut renamed = BTreeSet::new();
        for (name, rules) in &policy.rules {
            let targets = match projector.project_profile_name(name) {
                Ok(targets) => targets,
                Err(reason) => {
                    if rules.iter().any(NameRule::lets_run) {
                        unmapped.insert(Unmapped {
                            name: name.clone(),
                            reason,
                        });
                    }
                    continue;
                }
            };
            for to in targets {
                if to == *name {
                    for rule in rules {
                        projected.add_rule(name, rule.clone());
                    }
                    continue;
                }
                let mut any_allowed = false;
                for rule in rules.iter().filter(|r| r.lets_run()) {
                    any_allowed = true;
                    if rule.args.is_empty()
                        && to == "clone"
                        && matches!(name.as_str(), "fork" | "vfork")
                    {
                        // fork and vfork never create namespaces; the clone they become need not.
                        projected.add_rule(
                            &to,
                            NameRule {
                                args: vec![masked_eq(0, NAMESPACE_FLAGS, 0)],
                                ..rule.clone()
                            },
                        );
                    } else if rule.args.is_empty() {
                        projected.add_rule(&to, rule.clone());
                    } else {
                        projected.add_rule(
                            &to,
                            NameRule {
                                args: Vec::new(),
                                ..rule.clone()
                            },
                        );
                        notes.args_unrestricted.push(ArgsNote {
                            origin: self.origin.clone(),
                            name: to.clone(),
                            reason: AnyReason::Renamed { from: name.clone() },
                        });
                    }
                }
                if any_allowed {
                    renamed.insert(Renamed {
                        from: name.clone(),
                        to,
                    });
                }
            }
        }
        notes.unmapped = unmapped.into_iter().collect();
        notes.renamed = renamed.into_iter().collect();
        Ok(projected)
    }

    /// The syscall names the input uses (a recording) or lets run (a profile), on `arch`'s
    /// table when the profile lets everything else run.
    pub fn runnable_names(&self, arch: ScmpArch) -> Result<BTreeSet<String>, ArchError> {
        let policy = self.policy()?;
        let universe = if policy.default_lets_run() {
            arch_syscall_names(arch)
        } else {
            BTreeSet::new()
        };
        Ok(policy.runnable_names(&universe))
    }
}

/// How [`Input::policy_with`] builds a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyOptions {
    /// Turn recorded argument values into argument conditions (`--args on`, the default).
    pub args: bool,
    /// The architecture to project names onto (`--arch`); `None`: the input's own.
    pub target: Option<ScmpArch>,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        Self {
            args: true,
            target: None,
        }
    }
}

/// A syscall with recorded argument values that is allowed for any arguments anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsNote {
    /// The input it came from.
    pub origin: String,
    pub name: String,
    pub reason: AnyReason,
}

/// What [`Input::policy_with`] could not express, for the caller to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyNotes {
    /// Syscalls allowed for any arguments although values were recorded (overflow, too many
    /// values, ...), by name.
    pub args_unrestricted: Vec<ArgsNote>,
    /// Names with no counterpart on the target architecture, sorted.
    pub unmapped: Vec<Unmapped>,
    /// Names replaced by their successor on the target architecture, sorted.
    pub renamed: Vec<Renamed>,
}

/// What is known of one record's arguments.
enum RecordArgs {
    /// Recorded values.
    Seen(ArgsSeen),
    /// Recorded without values, on this architecture.
    NotCaptured(String),
    /// Projected from this name, whose arguments are at other positions.
    Renamed(String),
}

/// The `clone` values `fork`/`vfork` stand for.
fn clone_flags(flags: u64) -> ArgsSeen {
    ArgsSeen {
        indexes: vec![0],
        values: vec![vec![flags]],
        overflow: false,
    }
}

/// The rules for all records of `name` together; `None` when none recorded arguments.
fn rules_of(name: &str, records: &[RecordArgs]) -> Option<ArgRules> {
    let mut seen = Vec::new();
    let mut not_captured = None;
    for record in records {
        match record {
            RecordArgs::Seen(s) => seen.push(s),
            RecordArgs::NotCaptured(arch) => not_captured = Some(arch.clone()),
            RecordArgs::Renamed(from) => {
                return Some(ArgRules::Any(AnyReason::Renamed { from: from.clone() }))
            }
        }
    }
    if seen.is_empty() {
        return None;
    }
    if let Some(arch) = not_captured {
        return Some(ArgRules::Any(AnyReason::NotCaptured { arch }));
    }
    if seen.iter().any(|s| s.indexes != seen[0].indexes) {
        return Some(ArgRules::Any(AnyReason::Mismatch));
    }
    let united = crate::model::arg_values::union_seen(seen.iter().copied())?;
    // The merge bound marks large unions incomplete; here every value is known, and the rule
    // bound applies instead.
    let united = ArgsSeen {
        overflow: seen.iter().any(|s| s.overflow),
        ..united
    };
    Some(rules_for(name, &united))
}
