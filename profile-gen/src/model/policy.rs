//! The effective decision of a seccomp profile for each syscall name.
//!
//! A runtime-spec profile is a list of rules, each naming several syscalls; what it means for one
//! syscall is spread over the rules that name it. [`Policy`] regroups a profile by name: for every
//! syscall the rules that apply to it (action, errno, argument conditions), with the default for
//! the rest. [`Policy::verdict`] answers "is this syscall allowed, allowed only for some
//! arguments, or denied, and with which errno", which is what diffs, merges and the RuntimeDefault
//! model compare. [`Policy::to_profile`] writes it back as a canonical profile: rules grouped by
//! (action, errno, conditions), names sorted, so equal policies give equal files.
//!
//! Normalisation on the way in: a rule that does what the default does anyway (same action and
//! errno, as libseccomp would refuse to add it) is dropped, and a rule repeated for a name is
//! kept once.

use std::collections::{BTreeMap, BTreeSet};

use libseccomp::ScmpArch;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::Serialize;

use crate::model::syscalls::syscall_name;

/// The errno a syscall denied with `SCMP_ACT_ERRNO` returns when the profile does not say:
/// EPERM, as runc, crun and youki use.
pub(crate) const DEFAULT_ERRNO_RET: u32 = 1;

/// One rule as it applies to one syscall name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRule {
    /// What happens when the rule matches.
    pub action: LinuxSeccompAction,
    /// The errno of `SCMP_ACT_ERRNO` (and the message of `SCMP_ACT_TRACE`); `None` means EPERM.
    pub errno_ret: Option<u32>,
    /// Conditions on the arguments, all of which must hold; empty for an unconditional rule.
    pub args: Vec<LinuxSeccompArg>,
}

impl NameRule {
    /// An unconditional `SCMP_ACT_ALLOW`.
    pub fn allow() -> Self {
        Self {
            action: LinuxSeccompAction::ScmpActAllow,
            errno_ret: None,
            args: Vec::new(),
        }
    }

    /// An unconditional `SCMP_ACT_ERRNO` with `errno`.
    pub fn errno(errno: u32) -> Self {
        Self {
            action: LinuxSeccompAction::ScmpActErrno,
            errno_ret: Some(errno),
            args: Vec::new(),
        }
    }

    /// Whether the syscall runs when this rule matches (`SCMP_ACT_ALLOW`, or `SCMP_ACT_LOG`, which
    /// lets it run and logs it).
    pub fn lets_run(&self) -> bool {
        action_lets_run(self.action)
    }

    /// The errno as the kernel would return it: `errnoRet`, or EPERM when absent, for the actions
    /// that carry one; `None` for the others.
    pub fn effective_errno(&self) -> Option<u32> {
        effective_errno(self.action, self.errno_ret)
    }

    /// A total order (oci-spec's types have none): action, errno, then the conditions.
    fn sort_key(&self) -> RuleKey {
        (
            self.action.to_string(),
            self.effective_errno(),
            self.args.iter().map(arg_key).collect(),
        )
    }
}

/// Whether a syscall runs under `action`.
fn action_lets_run(action: LinuxSeccompAction) -> bool {
    matches!(
        action,
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    )
}

fn effective_errno(action: LinuxSeccompAction, errno_ret: Option<u32>) -> Option<u32> {
    match action {
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace => {
            Some(errno_ret.unwrap_or(DEFAULT_ERRNO_RET))
        }
        LinuxSeccompAction::ScmpActKill
        | LinuxSeccompAction::ScmpActKillThread
        | LinuxSeccompAction::ScmpActKillProcess
        | LinuxSeccompAction::ScmpActTrap
        | LinuxSeccompAction::ScmpActNotify
        | LinuxSeccompAction::ScmpActLog
        | LinuxSeccompAction::ScmpActAllow => None,
    }
}

/// A sortable form of an argument condition: index, operator, value, valueTwo.
type ArgKey = (usize, u32, u64, u64);

/// A sortable form of a rule: action, errno, conditions.
type RuleKey = (String, Option<u32>, Vec<ArgKey>);

/// A sortable form of an argument condition; `valueTwo` absent and 0 mean the same to runc.
fn arg_key(arg: &LinuxSeccompArg) -> ArgKey {
    (
        arg.index(),
        arg.op() as u32,
        arg.value(),
        arg.value_two().unwrap_or(0),
    )
}

/// A condition set in a form that compares equal exactly when the sets mean the same to
/// libseccomp: its conditions' keys, sorted.
pub fn condition_set_key(args: &[LinuxSeccompArg]) -> Vec<(usize, u32, u64, u64)> {
    let mut keys: Vec<ArgKey> = args.iter().map(arg_key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// What a profile does with one syscall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// It runs, whatever its arguments.
    Allow,
    /// It runs only when one of these sets of argument conditions holds (all of a set must);
    /// otherwise it is denied.
    AllowIf {
        #[serde(serialize_with = "serialize_condition_sets")]
        conditions: Vec<Vec<LinuxSeccompArg>>,
    },
    /// It never runs: the action (and errno) it gets instead.
    Deny {
        #[serde(serialize_with = "serialize_action")]
        action: LinuxSeccompAction,
        #[serde(skip_serializing_if = "Option::is_none")]
        errno: Option<u32>,
    },
}

fn serialize_action<S: serde::Serializer>(
    action: &LinuxSeccompAction,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&action.to_string())
}

fn serialize_condition_sets<S: serde::Serializer>(
    sets: &[Vec<LinuxSeccompArg>],
    s: S,
) -> Result<S::Ok, S::Error> {
    let text: Vec<String> = sets.iter().map(|set| describe_conditions(set)).collect();
    text.serialize(s)
}

impl Verdict {
    /// Whether the syscall can run at all (always, or for some arguments).
    pub fn can_run(&self) -> bool {
        !matches!(self, Self::Deny { .. })
    }
}

/// A condition set as people write it: `arg0 & 0x7e020000 == 0`, `arg0 < 38`, joined by `&&`.
pub fn describe_conditions(args: &[LinuxSeccompArg]) -> String {
    if args.is_empty() {
        return "always".to_owned();
    }
    let parts: Vec<String> = args
        .iter()
        .map(|a| {
            let i = a.index();
            let v = a.value();
            match a.op() {
                LinuxSeccompOperator::ScmpCmpNe => format!("arg{i} != {v:#x}"),
                LinuxSeccompOperator::ScmpCmpLt => format!("arg{i} < {v:#x}"),
                LinuxSeccompOperator::ScmpCmpLe => format!("arg{i} <= {v:#x}"),
                LinuxSeccompOperator::ScmpCmpEq => format!("arg{i} == {v:#x}"),
                LinuxSeccompOperator::ScmpCmpGe => format!("arg{i} >= {v:#x}"),
                LinuxSeccompOperator::ScmpCmpGt => format!("arg{i} > {v:#x}"),
                LinuxSeccompOperator::ScmpCmpMaskedEq => {
                    format!("arg{i} & {v:#x} == {:#x}", a.value_two().unwrap_or(0))
                }
            }
        })
        .collect();
    parts.join(" && ")
}

/// A profile regrouped by syscall name; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The action for syscalls no rule names.
    pub default_action: LinuxSeccompAction,
    /// Its errno (`None`: EPERM).
    pub default_errno_ret: Option<u32>,
    /// The architectures, in the profile's order.
    pub architectures: Vec<Arch>,
    /// seccomp(2) flags.
    pub flags: Vec<LinuxSeccompFilterFlag>,
    /// The rules per syscall name, each list sorted and without duplicates.
    pub rules: BTreeMap<String, Vec<NameRule>>,
}

impl Policy {
    /// An empty allow-list: EPERM for everything, for these architectures.
    pub fn deny_all(architectures: Vec<Arch>) -> Self {
        Self {
            default_action: LinuxSeccompAction::ScmpActErrno,
            default_errno_ret: Some(DEFAULT_ERRNO_RET),
            architectures,
            flags: Vec::new(),
            rules: BTreeMap::new(),
        }
    }

    /// Regroups a runtime-spec profile by name. `listenerPath` and `listenerMetadata` are not
    /// kept: they only matter with `SCMP_ACT_NOTIFY`, which syscage does not generate.
    pub fn from_profile(p: &LinuxSeccomp) -> Self {
        let mut policy = Self {
            default_action: p.default_action(),
            default_errno_ret: p.default_errno_ret(),
            architectures: p.architectures().clone().unwrap_or_default(),
            flags: p.flags().clone().unwrap_or_default(),
            rules: BTreeMap::new(),
        };
        for rule in p.syscalls().as_deref().unwrap_or_default() {
            let name_rule = NameRule {
                action: rule.action(),
                errno_ret: rule.errno_ret(),
                args: rule.args().clone().unwrap_or_default(),
            };
            for name in rule.names() {
                policy.add_rule(name, name_rule.clone());
            }
        }
        policy
    }

    /// Adds a rule for `name`, unless it repeats one or does what the default does anyway.
    pub fn add_rule(&mut self, name: &str, rule: NameRule) {
        if rule.action == self.default_action
            && rule.effective_errno()
                == effective_errno(self.default_action, self.default_errno_ret)
        {
            return;
        }
        let rules = self.rules.entry(name.to_owned()).or_default();
        if !rules.contains(&rule) {
            rules.push(rule);
            rules.sort_by_key(NameRule::sort_key);
        }
    }

    /// Replaces whatever applies to `name` by an unconditional allow.
    pub fn allow(&mut self, name: &str) {
        self.rules.insert(name.to_owned(), vec![NameRule::allow()]);
    }

    /// Whether the default action lets syscalls run (a deny-list profile, or a log-only one).
    pub fn default_lets_run(&self) -> bool {
        action_lets_run(self.default_action)
    }

    /// What the profile does with `name`.
    ///
    /// An unconditional rule that lets it run wins (libseccomp gives such a rule precedence);
    /// then conditional ones; then an unconditional rule that denies it; a name with only
    /// conditional denials, or none, gets the default.
    pub fn verdict(&self, name: &str) -> Verdict {
        let default = || {
            if self.default_lets_run() {
                Verdict::Allow
            } else {
                Verdict::Deny {
                    action: self.default_action,
                    errno: effective_errno(self.default_action, self.default_errno_ret),
                }
            }
        };
        let Some(rules) = self.rules.get(name) else {
            return default();
        };
        if rules.iter().any(|r| r.lets_run() && r.args.is_empty()) {
            return Verdict::Allow;
        }
        let conditions: Vec<Vec<LinuxSeccompArg>> = rules
            .iter()
            .filter(|r| r.lets_run())
            .map(|r| r.args.clone())
            .collect();
        if !conditions.is_empty() {
            return Verdict::AllowIf { conditions };
        }
        if let Some(deny) = rules.iter().find(|r| r.args.is_empty()) {
            return Verdict::Deny {
                action: deny.action,
                errno: deny.effective_errno(),
            };
        }
        default()
    }

    /// The names this policy lets run (always or for some arguments), out of `universe` plus the
    /// names its rules mention. The universe matters only when the default lets syscalls run.
    pub fn runnable_names(&self, universe: &BTreeSet<String>) -> BTreeSet<String> {
        let candidates: BTreeSet<&String> = if self.default_lets_run() {
            universe.iter().chain(self.rules.keys()).collect()
        } else {
            self.rules.keys().collect()
        };
        candidates
            .into_iter()
            .filter(|name| self.verdict(name).can_run())
            .cloned()
            .collect()
    }

    /// The union of two allow-lists: a syscall runs under the result when it runs under either.
    ///
    /// Per name: an unconditional allow on either side wins; else the conditional allows of both
    /// sides together (a syscall runs when any of them matches); else the explicit denials of the
    /// side that has some (the smaller by sort order when both have, so the union commutes).
    /// Default action and errno are `self`'s; architectures are `self`'s followed by the other's
    /// that are new.
    pub fn union(&self, other: &Self) -> Self {
        let mut result = Self {
            default_action: self.default_action,
            default_errno_ret: self.default_errno_ret,
            architectures: self.architectures.clone(),
            flags: self.flags.clone(),
            rules: BTreeMap::new(),
        };
        for arch in &other.architectures {
            if !result.architectures.contains(arch) {
                result.architectures.push(*arch);
            }
        }
        for flag in &other.flags {
            if !result.flags.contains(flag) {
                result.flags.push(*flag);
            }
        }
        let names: BTreeSet<&String> = self.rules.keys().chain(other.rules.keys()).collect();
        let none = Vec::new();
        for name in names {
            let a = self.rules.get(name).unwrap_or(&none);
            let b = other.rules.get(name).unwrap_or(&none);
            let both = || a.iter().chain(b.iter());
            let chosen: Vec<NameRule> = if both().any(|r| r.lets_run() && r.args.is_empty()) {
                vec![NameRule::allow()]
            } else if both().any(NameRule::lets_run) {
                both().filter(|r| r.lets_run()).cloned().collect()
            } else if a.is_empty() || (!b.is_empty() && rules_key(b) < rules_key(a)) {
                b.clone()
            } else {
                a.clone()
            };
            for rule in chosen {
                result.add_rule(name, rule);
            }
        }
        result
    }

    /// The canonical runtime-spec profile: unconditional allows first (one rule), then every
    /// other (action, errno, conditions) group, each with its names sorted.
    pub fn to_profile(&self) -> LinuxSeccomp {
        let mut groups: BTreeMap<GroupKey, (NameRule, BTreeSet<String>)> = BTreeMap::new();
        for (name, rules) in &self.rules {
            for rule in rules {
                let key = group_key(rule);
                groups
                    .entry(key)
                    .or_insert_with(|| (rule.clone(), BTreeSet::new()))
                    .1
                    .insert(name.clone());
            }
        }
        // Groups in a stable order people can read: by kind, then by their first name, so
        // the conditional rules of one syscall stay together.
        let mut groups: Vec<(GroupKey, NameRule, BTreeSet<String>)> = groups
            .into_iter()
            .map(|(key, (rule, names))| (key, rule, names))
            .collect();
        groups.sort_by(|(a, _, a_names), (b, _, b_names)| {
            (a.0, &a.1, a.2, a_names, &a.3).cmp(&(b.0, &b.1, b.2, b_names, &b.3))
        });
        let syscalls: Vec<LinuxSyscall> = groups
            .into_iter()
            .map(|(_, rule, names)| {
                let mut syscall = LinuxSyscall::default();
                syscall
                    .set_names(names.into_iter().collect())
                    .set_action(rule.action)
                    .set_errno_ret(rule.errno_ret)
                    .set_args(if rule.args.is_empty() {
                        None
                    } else {
                        Some(rule.args)
                    });
                syscall
            })
            .collect();

        let mut profile = LinuxSeccomp::default();
        profile
            .set_default_action(self.default_action)
            .set_default_errno_ret(self.default_errno_ret)
            .set_architectures(Some(self.architectures.clone()))
            .set_flags(if self.flags.is_empty() {
                None
            } else {
                Some(self.flags.clone())
            })
            .set_syscalls(Some(syscalls));
        profile
    }
}

/// Orders groups: unconditional allows, conditional allows, logs, then the denials; within each
/// by errno and conditions.
type GroupKey = (u8, String, Option<u32>, Vec<ArgKey>);

fn group_key(rule: &NameRule) -> GroupKey {
    let rank = match (rule.action, rule.args.is_empty()) {
        (LinuxSeccompAction::ScmpActAllow, true) => 0,
        (LinuxSeccompAction::ScmpActAllow, false) => 1,
        (LinuxSeccompAction::ScmpActLog, _) => 2,
        _ => 3,
    };
    let (action, errno, args) = rule.sort_key();
    (rank, action, errno, args)
}

fn rules_key(rules: &[NameRule]) -> Vec<GroupKey> {
    rules.iter().map(group_key).collect()
}

/// Every syscall name libseccomp knows on `arch`, found by asking for every number an
/// architecture uses: the plain range, x32's numbers (with bit 30 set), MIPS' per-ABI offsets
/// (4000, 5000, 6000, inside the plain range) and ARM's private calls (0x0f0000).
pub fn arch_syscall_names(arch: ScmpArch) -> BTreeSet<String> {
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    const ARM_PRIVATE: u32 = 0x000f_0000;
    (0..8192)
        .chain(X32_SYSCALL_BIT..X32_SYSCALL_BIT + 1024)
        .chain(ARM_PRIVATE..ARM_PRIVATE + 16)
        .filter_map(|nr| syscall_name(arch, nr))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::oci::{profile_from_json, profile_to_json};

    fn policy(json: &str) -> Policy {
        Policy::from_profile(&profile_from_json(json, "t").unwrap())
    }

    #[test]
    fn verdicts_follow_the_rules() {
        let p = policy(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "syscalls": [
                  {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_LT"}]},
                  {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                  {"names": ["reboot"], "action": "SCMP_ACT_ERRNO"},
                  {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5}
                ]}"#,
        );
        assert_eq!(p.verdict("read"), Verdict::Allow);
        assert!(
            matches!(p.verdict("socket"), Verdict::AllowIf { ref conditions }
            if describe_conditions(&conditions[0]) == "arg0 < 0x26")
        );
        assert_eq!(
            p.verdict("clone3"),
            Verdict::Deny {
                action: LinuxSeccompAction::ScmpActErrno,
                errno: Some(38)
            }
        );
        // The EPERM rule repeats the default and is dropped.
        assert!(!p.rules.contains_key("reboot"));
        assert_eq!(
            p.verdict("mount"),
            Verdict::Deny {
                action: LinuxSeccompAction::ScmpActErrno,
                errno: Some(1)
            }
        );
    }

    #[test]
    fn canonical_profile_groups_and_sorts() {
        let p = policy(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [
                  {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                  {"names": ["write"], "action": "SCMP_ACT_ALLOW"},
                  {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                   "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                  {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}
                ]}"#,
        );
        let text = profile_to_json(&p.to_profile());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["syscalls"],
            serde_json::json!([
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
            ])
        );
        // Round trip.
        assert_eq!(Policy::from_profile(&p.to_profile()), p);
    }

    #[test]
    fn deny_list_profiles_let_the_rest_run() {
        let p = policy(
            r#"{"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}"#,
        );
        assert_eq!(p.verdict("read"), Verdict::Allow);
        assert!(!p.verdict("reboot").can_run());
        let universe: BTreeSet<String> = ["read", "reboot", "write"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            p.runnable_names(&universe).into_iter().collect::<Vec<_>>(),
            ["read", "write"]
        );
    }

    #[test]
    fn union_prefers_what_runs() {
        let a = policy(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let b = policy(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["clone3", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        let u = a.union(&b);
        assert_eq!(u, b.union(&a));
        for name in ["read", "write", "clone3"] {
            assert_eq!(u.verdict(name), Verdict::Allow, "{name}");
        }
        let Verdict::AllowIf { conditions } = u.verdict("socket") else {
            panic!("{:?}", u.verdict("socket"));
        };
        assert_eq!(conditions.len(), 2);
    }

    #[test]
    fn arch_tables_have_the_known_names() {
        let x86_64 = arch_syscall_names(ScmpArch::X8664);
        assert!(x86_64.contains("read") && x86_64.contains("clone3"));
        assert!(!x86_64.contains("socketcall"));
        assert!(arch_syscall_names(ScmpArch::X86).contains("socketcall"));
        assert!(arch_syscall_names(ScmpArch::Arm).contains("cacheflush"));
        assert!(arch_syscall_names(ScmpArch::X32).contains("read"));
    }
}
