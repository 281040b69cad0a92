//! Comparing profiles and recordings, for reviews and CI.
//!
//! Two comparisons, both on syscall names (what a runtime enforces):
//! - [`release_diff`]: between two releases' profiles or recordings: the syscalls added (ranked
//!   by [`crate::analysis::risk`], riskiest first, each with a one-line reason) and removed. A syscall that
//!   was allowed only for some arguments and now is allowed for all counts as added, and so does
//!   one allowed for new arguments ([`crate::build::args::widening_risk`]): a release whose `clone` or
//!   `unshare` starts creating user namespaces, or whose `socket` starts using `AF_PACKET` or
//!   `AF_NETLINK`, is a risky change although the syscall was allowed before.
//! - [`baseline_diff`]: a workload against a baseline profile, usually a rendered RuntimeDefault
//!   ([`crate::baselines::runtime_default`]): the syscalls the workload needs that the baseline denies (it
//!   would break there), those the baseline allows only for some arguments, how many the baseline
//!   allows that the workload never uses (the attack surface its own profile removes), and the
//!   dangerous ones among those.
//!
//! Reports render as text (optionally coloured with ANSI escapes), markdown (for a pull-request
//! comment) or JSON (for machines: sorted, pretty, trailing newline).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use libseccomp::ScmpArch;
use oci_spec::runtime::LinuxSeccompAction;
use serde::Serialize;

use crate::analysis::risk::{risk_of, Risk};
use crate::analysis::security_diff::{
    input_security_changes, CapabilitiesAgainstDefault, SecurityChanges,
};
use crate::build::args::{describe_set, new_syscall_risk, unrestricted_risk, widening_risk};
use crate::build::generate::{ENOSYS, FALLBACKS};
use crate::error::ArchError;
use crate::formats::input::Input;
use crate::model::arch::arch_name;
use crate::model::policy::{arch_syscall_names, condition_set_key, Policy, Verdict};

/// A syscall with its risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskedName {
    pub name: String,
    pub risk: Risk,
    pub reason: &'static str,
    /// Why it is listed, when not obvious (e.g. "was allowed only for some arguments").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// For a syscall allowed before and now for more arguments: the new ones, in words
    /// (`CLONE_NEWUSER`, `AF_PACKET/SOCK_RAW`, `arg1 == 0x5412`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_arguments: Vec<String>,
}

impl RiskedName {
    fn new(name: &str, note: Option<&'static str>) -> Self {
        Self::ranked(name, risk_of(name), note)
    }

    fn ranked(
        name: &str,
        (risk, reason): (Risk, &'static str),
        note: Option<&'static str>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            risk,
            reason,
            note,
            new_arguments: Vec::new(),
        }
    }

    /// The note and the new arguments, as one parenthesised suffix for reports.
    fn suffix(&self) -> String {
        match (self.note, self.new_arguments.is_empty()) {
            (None, _) => String::new(),
            (Some(note), true) => format!(" ({note})"),
            (Some(note), false) => format!(" ({note}: {})", self.new_arguments.join(", ")),
        }
    }
}

/// Riskiest first, then by name.
fn rank(names: &mut [RiskedName]) {
    names.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| a.name.cmp(&b.name)));
}

/// What two releases' profiles or recordings differ in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseDiff {
    /// The old input, described.
    pub old: String,
    /// The new input, described.
    pub new: String,
    /// Allowed (or needed) now and not before, riskiest first.
    pub added: Vec<RiskedName>,
    /// Recorded syscall numbers libseccomp cannot name, in the new input and not the old,
    /// sorted: something new whose risk nobody can tell (`--fail-on added` trips on them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added_unknown_numbers: Vec<u32>,
    /// Allowed (or needed) before and not now, sorted.
    pub removed: Vec<String>,
    /// Those of `removed` the new profile answers with ENOSYS, so libcs fall back to an older
    /// syscall (`clone3` -> `clone`), sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed_enosys: Vec<String>,
    /// How many are in both.
    pub unchanged: usize,
    /// What changed in the security facts, when both inputs carry them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityChanges>,
}

/// A needed syscall the baseline denies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denied {
    pub name: String,
    /// What the baseline does instead, e.g. `SCMP_ACT_ERRNO (EPERM)`.
    pub outcome: String,
    pub risk: Risk,
    pub reason: &'static str,
}

/// A needed syscall the baseline answers with ENOSYS while it lets the older syscall the libcs
/// fall back to run (`clone3` -> `clone`, what RuntimeDefault does): the workload still runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FallsBack {
    pub name: String,
    /// The older syscalls the baseline lets run.
    pub to: Vec<String>,
}

/// A needed syscall the baseline allows only for some arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conditional {
    pub name: String,
    /// The argument conditions under which it is allowed (any one of them).
    pub allowed_if: Vec<String>,
}

/// A workload against a baseline profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaselineDiff {
    /// The workload's input, described.
    pub workload: String,
    /// The baseline, described (e.g. `RuntimeDefault (moby, SCMP_ARCH_X86_64, ...)`).
    pub baseline: String,
    /// The architecture whose syscall table the counts use.
    pub arch: String,
    /// How many syscalls the workload needs (a recording) or allows (a profile).
    pub workload_syscalls: usize,
    /// Needed and denied by the baseline: the workload would break under it.
    pub denied: Vec<Denied>,
    /// Needed and answered with ENOSYS by the baseline, which lets the libcs' fallback run:
    /// not a break.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub falls_back: Vec<FallsBack>,
    /// Needed and allowed by the baseline only for some arguments: check the workload's
    /// arguments match.
    pub conditional: Vec<Conditional>,
    /// How many syscalls the architecture has (in libseccomp's table).
    pub arch_syscalls: usize,
    /// How many of those the baseline lets run (always or for some arguments).
    pub baseline_allows: usize,
    /// How many the baseline lets run that the workload never uses: the attack surface the
    /// workload's own profile removes.
    pub removed_surface: usize,
    /// The dangerous ones among those, riskiest first.
    pub removed_dangerous: Vec<RiskedName>,
    /// Against a runtime's default: its default capabilities the workload never needed, and
    /// those it needed that are not among them; only when the workload carries security facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilitiesAgainstDefault>,
}

/// Compares two releases' inputs on `arch`'s syscall table (needed only for deny-list profiles).
pub fn release_diff(old: &Input, new: &Input, arch: ScmpArch) -> Result<ReleaseDiff, ArchError> {
    let old_policy = old.policy()?;
    let new_policy = new.policy()?;
    let old_names = old.runnable_names(arch)?;
    let new_names = new.runnable_names(arch)?;
    let mut diff = release_diff_of(
        old.describe(),
        &old_policy,
        &old_names,
        new.describe(),
        &new_policy,
        &new_names,
    );
    let old_unknown = old.unknown_numbers();
    diff.added_unknown_numbers = new
        .unknown_numbers()
        .into_iter()
        .filter(|n| !old_unknown.contains(n))
        .collect();
    diff.security = input_security_changes(old, new);
    Ok(diff)
}

fn release_diff_of(
    old: String,
    old_policy: &Policy,
    old_names: &BTreeSet<String>,
    new: String,
    new_policy: &Policy,
    new_names: &BTreeSet<String>,
) -> ReleaseDiff {
    let mut added: Vec<RiskedName> = new_names
        .difference(old_names)
        .map(|name| match new_policy.verdict(name) {
            // Ranked by the argument values it is allowed for, as a widening is.
            Verdict::AllowIf { conditions } => {
                let mut entry = RiskedName::ranked(
                    name,
                    new_syscall_risk(name, &conditions),
                    Some("new, allowed for"),
                );
                entry.new_arguments = conditions.iter().map(|s| describe_set(name, s)).collect();
                entry
            }
            _ => RiskedName::ranked(name, new_syscall_risk(name, &[]), None),
        })
        .collect();
    let mut unchanged = 0;
    for name in new_names.intersection(old_names) {
        match (old_policy.verdict(name), new_policy.verdict(name)) {
            (Verdict::AllowIf { conditions: old }, Verdict::Allow) => {
                added.push(RiskedName::ranked(
                    name,
                    unrestricted_risk(name, &old),
                    Some("now for any arguments; was allowed only for some"),
                ));
            }
            (Verdict::AllowIf { conditions: old }, Verdict::AllowIf { conditions: new }) => {
                let old_keys: BTreeSet<_> = old.iter().map(|s| condition_set_key(s)).collect();
                let fresh: Vec<_> = new
                    .into_iter()
                    .filter(|s| !old_keys.contains(&condition_set_key(s)))
                    .collect();
                if fresh.is_empty() {
                    unchanged += 1;
                } else {
                    let mut entry = RiskedName::ranked(
                        name,
                        widening_risk(name, &old, &fresh),
                        Some("allowed before, now also for"),
                    );
                    entry.new_arguments = fresh.iter().map(|s| describe_set(name, s)).collect();
                    added.push(entry);
                }
            }
            _ => unchanged += 1,
        }
    }
    rank(&mut added);
    let removed: Vec<String> = old_names.difference(new_names).cloned().collect();
    let removed_enosys = removed
        .iter()
        .filter(|n| {
            matches!(new_policy.verdict(n), Verdict::Deny { errno: Some(e), .. } if e == ENOSYS)
        })
        .cloned()
        .collect();
    ReleaseDiff {
        old,
        new,
        added,
        added_unknown_numbers: Vec::new(),
        removed,
        removed_enosys,
        unchanged,
        security: None,
    }
}

/// For a syscall `baseline` answers with ENOSYS: the older syscalls libcs fall back to that
/// `baseline` lets run, when there are any.
fn fallbacks_allowed(baseline: &Policy, name: &str) -> Vec<String> {
    FALLBACKS
        .iter()
        .filter(|(newer, _)| *newer == name)
        .flat_map(|(_, older)| older.iter())
        .filter(|o| baseline.verdict(o).can_run())
        .map(|o| (*o).to_owned())
        .collect()
}

/// Compares a workload with a baseline policy (labelled `baseline_label`) on `arch`.
pub fn baseline_diff(
    workload: &Input,
    baseline: &Policy,
    baseline_label: &str,
    arch: ScmpArch,
) -> Result<BaselineDiff, ArchError> {
    let needed = workload.runnable_names(arch)?;
    let table = arch_syscall_names(arch);

    let mut denied = Vec::new();
    let mut falls_back = Vec::new();
    let mut conditional = Vec::new();
    for name in &needed {
        match baseline.verdict(name) {
            Verdict::Allow => {}
            Verdict::AllowIf { conditions } => conditional.push(Conditional {
                name: name.clone(),
                allowed_if: conditions.iter().map(|c| describe_set(name, c)).collect(),
            }),
            Verdict::Deny {
                errno: Some(ENOSYS),
                ..
            } if !fallbacks_allowed(baseline, name).is_empty() => falls_back.push(FallsBack {
                name: name.clone(),
                to: fallbacks_allowed(baseline, name),
            }),
            Verdict::Deny { action, errno } => {
                let (risk, reason) = risk_of(name);
                denied.push(Denied {
                    name: name.clone(),
                    outcome: describe_outcome(action, errno),
                    risk,
                    reason,
                });
            }
        }
    }
    denied.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| a.name.cmp(&b.name)));

    let baseline_runs: BTreeSet<&String> = table
        .iter()
        .filter(|n| baseline.verdict(n).can_run())
        .collect();
    let unused: Vec<&String> = baseline_runs
        .iter()
        .filter(|n| !needed.contains(**n))
        .copied()
        .collect();
    let mut removed_dangerous: Vec<RiskedName> = unused
        .iter()
        .map(|n| RiskedName::new(n, None))
        .filter(|r| r.risk.is_dangerous())
        .collect();
    rank(&mut removed_dangerous);

    Ok(BaselineDiff {
        workload: workload.describe(),
        baseline: baseline_label.to_owned(),
        arch: arch_name(arch),
        workload_syscalls: needed.len(),
        denied,
        falls_back,
        conditional,
        arch_syscalls: table.len(),
        baseline_allows: baseline_runs.len(),
        removed_surface: unused.len(),
        removed_dangerous,
        capabilities: None,
    })
}

/// `SCMP_ACT_ERRNO (EPERM)`, `SCMP_ACT_KILL_PROCESS`.
fn describe_outcome(action: LinuxSeccompAction, errno: Option<u32>) -> String {
    match errno {
        Some(n) => format!("{action} ({})", errno_name(n)),
        None => action.to_string(),
    }
}

fn errno_name(n: u32) -> String {
    match n {
        1 => "EPERM".to_owned(),
        13 => "EACCES".to_owned(),
        22 => "EINVAL".to_owned(),
        38 => "ENOSYS".to_owned(),
        95 => "EOPNOTSUPP".to_owned(),
        other => format!("errno {other}"),
    }
}

/// When a diff should fail a CI job (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// A release diff added any syscall.
    Added,
    /// A release diff added a dangerous one ([`Risk::is_dangerous`]).
    Risky,
    /// A baseline diff found a needed syscall the baseline denies.
    Denied,
}

impl FailOn {
    /// `added`, `risky`, `denied`: the `--fail-on` value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Added => "added",
            Self::Risky => "risky",
            Self::Denied => "denied",
        }
    }
}

/// What `--fail-on` decided: in the JSON report (`verdict`) and, when it tripped, one line for
/// the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailOnVerdict {
    /// The `--fail-on` value.
    pub fail_on: &'static str,
    /// Whether it tripped (`diff` then exits 1).
    pub tripped: bool,
    /// What tripped it, or why it did not.
    pub reason: String,
}

/// `a, b, c` for at most `max` names, then `and N more`.
fn some_names(names: &[String], max: usize) -> String {
    let mut text = names
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > max {
        let _ = write!(text, " and {} more", names.len() - max);
    }
    text
}

impl std::str::FromStr for FailOn {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "added" => Ok(Self::Added),
            "risky" => Ok(Self::Risky),
            "denied" => Ok(Self::Denied),
            _ => Err(format!(
                "unknown --fail-on {text:?}, expected added, risky or denied"
            )),
        }
    }
}

/// How to render a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// For a terminal; coloured when `color` is set.
    Text { color: bool },
    /// For a pull-request comment.
    Markdown,
    /// For machines.
    Json,
}

/// Either kind of diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "diff", rename_all = "snake_case")]
pub enum Report {
    Release(ReleaseDiff),
    Baseline(BaselineDiff),
}

impl Report {
    /// Whether `fail_on` trips; an error when it does not apply to this kind of diff.
    pub fn fails(&self, fail_on: FailOn) -> Result<bool, String> {
        self.verdict(fail_on).map(|v| v.tripped)
    }

    /// What `fail_on` decides for this report, and why; an error when it does not apply to
    /// this kind of diff.
    pub fn verdict(&self, fail_on: FailOn) -> Result<FailOnVerdict, String> {
        let verdict = |tripped: bool, reason: String| FailOnVerdict {
            fail_on: fail_on.name(),
            tripped,
            reason,
        };
        match (self, fail_on) {
            (Self::Release(d), FailOn::Added) => {
                let mut added: Vec<String> = d.added.iter().map(|a| a.name.clone()).collect();
                added.extend(
                    d.added_unknown_numbers
                        .iter()
                        .map(|n| format!("syscall number {n} (unknown to libseccomp)")),
                );
                let security = d.security.as_ref().map(SecurityChanges::added);
                let (tripped, reason) = additions(
                    (&added, "syscall", "syscalls"),
                    (&security.unwrap_or_default(), "permissions"),
                    "no syscall added",
                );
                Ok(verdict(tripped, reason))
            }
            (Self::Release(d), FailOn::Risky) => {
                let risky: Vec<String> = d
                    .added
                    .iter()
                    .filter(|a| a.risk.is_dangerous())
                    .map(|a| format!("{} ({})", a.name, a.risk.name()))
                    .collect();
                let security = d.security.as_ref().map(SecurityChanges::risky);
                let (tripped, reason) = additions(
                    (&risky, "dangerous syscall", "dangerous syscalls"),
                    (&security.unwrap_or_default(), "dangerous permissions"),
                    "no dangerous syscall added",
                );
                Ok(verdict(tripped, reason))
            }
            (Self::Baseline(d), FailOn::Denied) => {
                let denied: Vec<String> = d.denied.iter().map(|x| x.name.clone()).collect();
                Ok(if denied.is_empty() {
                    verdict(
                        false,
                        "the baseline allows every syscall the workload needs".to_owned(),
                    )
                } else {
                    verdict(
                        true,
                        format!(
                            "the baseline denies {} the workload needs: {}",
                            plural(denied.len(), "syscall", "syscalls"),
                            some_names(&denied, 8)
                        ),
                    )
                })
            }
            (Self::Release(_), FailOn::Denied) => Err(
                "--fail-on denied applies to `diff FILE --against ...`, expected added or risky \
                 for a diff of two files"
                    .to_owned(),
            ),
            (Self::Baseline(_), FailOn::Added | FailOn::Risky) => Err(
                "--fail-on added and risky apply to a diff of two files, expected denied with \
                 --against"
                    .to_owned(),
            ),
        }
    }

    /// The report in `format`, with `--fail-on`'s verdict when one was asked for (a `verdict`
    /// key in JSON, a closing line otherwise); always ends with a newline.
    pub fn render_with(&self, format: ReportFormat, verdict: Option<&FailOnVerdict>) -> String {
        let Some(verdict) = verdict else {
            return self.render(format);
        };
        match format {
            ReportFormat::Json => {
                let mut value =
                    serde_json::to_value(self).expect("reports hold only strings and numbers");
                value["verdict"] =
                    serde_json::to_value(verdict).expect("a verdict holds strings and a bool");
                let mut text = serde_json::to_string_pretty(&value)
                    .expect("reports hold only strings, numbers and lists");
                text.push('\n');
                text
            }
            ReportFormat::Text { .. } | ReportFormat::Markdown => {
                let mut text = self.render(format);
                let _ = writeln!(
                    text,
                    "\n--fail-on {}: {} ({})",
                    verdict.fail_on,
                    if verdict.tripped { "tripped" } else { "passed" },
                    verdict.reason
                );
                text
            }
        }
    }

    /// The report in `format`; always ends with a newline.
    pub fn render(&self, format: ReportFormat) -> String {
        match (self, format) {
            (_, ReportFormat::Json) => {
                let mut text = serde_json::to_string_pretty(self)
                    .expect("reports hold only strings, numbers and lists");
                text.push('\n');
                text
            }
            (Self::Release(d), ReportFormat::Text { color }) => release_text(d, &Paint(color)),
            (Self::Release(d), ReportFormat::Markdown) => release_markdown(d),
            (Self::Baseline(d), ReportFormat::Text { color }) => baseline_text(d, &Paint(color)),
            (Self::Baseline(d), ReportFormat::Markdown) => baseline_markdown(d),
        }
    }
}

/// ANSI colours, or none.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }

    fn risk(&self, risk: Risk) -> String {
        let text = format!("{:<8}", risk.name());
        match risk {
            Risk::Critical | Risk::High => self.wrap("1;31", &text),
            Risk::Medium => self.wrap("33", &text),
            Risk::Low => text,
        }
    }

    fn good(&self, text: &str) -> String {
        self.wrap("32", text)
    }

    fn bad(&self, text: &str) -> String {
        self.wrap("31", text)
    }
}

/// Whether a release diff added any of `syscalls` or `permissions`, and the reason a
/// `--fail-on` verdict gives: the syscalls first, then the permissions, or `nothing`.
fn additions(
    (syscalls, one, many): (&[String], &str, &str),
    (permissions, label): (&[String], &str),
    nothing: &str,
) -> (bool, String) {
    let mut parts = Vec::new();
    if !syscalls.is_empty() {
        parts.push(format!(
            "{} added: {}",
            plural(syscalls.len(), one, many),
            some_names(syscalls, 8)
        ));
    }
    if !permissions.is_empty() {
        parts.push(format!("{label} added: {}", some_names(permissions, 8)));
    }
    if parts.is_empty() {
        (false, nothing.to_owned())
    } else {
        (true, parts.join("; "))
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0)
}

fn release_text(d: &ReleaseDiff, paint: &Paint) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} -> {}",
        paint.bold("syscage diff:"),
        d.old,
        d.new
    );
    let _ = writeln!(
        out,
        "{} added, {} removed, {} unchanged",
        d.added.len(),
        d.removed.len(),
        d.unchanged
    );
    if !d.added.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Added (riskiest first):"));
        let width = name_width(d.added.iter().map(|a| a.name.as_str()));
        for a in &d.added {
            let note = a.suffix();
            let _ = writeln!(
                out,
                "  {} {:<width$}  {} {}{note}",
                paint.bad("+"),
                a.name,
                paint.risk(a.risk),
                a.reason
            );
        }
    }
    for n in &d.added_unknown_numbers {
        let _ = writeln!(
            out,
            "  {} syscall number {n} (unknown to libseccomp: its risk cannot be told)",
            paint.bad("+")
        );
    }
    if !d.removed.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Removed:"));
        for r in &d.removed {
            let _ = writeln!(out, "  {} {r}{}", paint.good("-"), removed_note(d, r));
        }
    }
    if let Some(security) = &d.security {
        if !security.is_empty() {
            let _ = writeln!(
                out,
                "\n{}",
                paint.bold("Security changes (riskiest first):")
            );
            for (risk, line) in security.lines() {
                let _ = writeln!(out, "  {} {} {line}", paint.bad("+"), paint.risk(risk));
            }
        }
        if !security.capabilities_removed.is_empty() {
            let _ = writeln!(
                out,
                "\n{} {}",
                paint.bold("Capabilities no longer needed:"),
                security.capabilities_removed.join(", ")
            );
        }
    }
    out
}

/// ` (now answered with ENOSYS: libcs fall back to clone)` for a removed syscall the new
/// profile answers with ENOSYS, else nothing.
fn removed_note(d: &ReleaseDiff, name: &str) -> String {
    if !d.removed_enosys.iter().any(|r| r == name) {
        return String::new();
    }
    let older: Vec<&str> = FALLBACKS
        .iter()
        .filter(|(newer, _)| *newer == name)
        .flat_map(|(_, older)| older.iter().copied())
        .collect();
    if older.is_empty() {
        " (now answered with ENOSYS)".to_owned()
    } else {
        format!(
            " (now answered with ENOSYS: libcs fall back to {})",
            older.join(" or ")
        )
    }
}

fn release_markdown(d: &ReleaseDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Seccomp profile changes (syscage)\n");
    let _ = writeln!(
        out,
        "`{}` → `{}`: **{} added**, {} removed, {} unchanged.",
        d.old,
        d.new,
        d.added.len(),
        d.removed.len(),
        d.unchanged
    );
    if !d.added.is_empty() {
        let _ = writeln!(
            out,
            "\n| added syscall | risk | why it matters |\n|---|---|---|"
        );
        for a in &d.added {
            let risk = if a.risk.is_dangerous() {
                format!("**{}**", a.risk.name())
            } else {
                a.risk.name().to_owned()
            };
            let note = a.suffix();
            let _ = writeln!(out, "| `{}` | {risk} | {}{note} |", a.name, a.reason);
        }
    }
    for n in &d.added_unknown_numbers {
        let _ = writeln!(
            out,
            "\nAlso added: syscall number {n}, unknown to libseccomp (its risk cannot be told)."
        );
    }
    if !d.removed.is_empty() {
        let removed: Vec<String> = d
            .removed
            .iter()
            .map(|r| format!("`{r}`{}", removed_note(d, r)))
            .collect();
        let _ = writeln!(out, "\n**Removed:** {}", removed.join(", "));
    }
    if let Some(security) = &d.security {
        if !security.is_empty() {
            let _ = writeln!(out, "\n| security change | risk |\n|---|---|");
            for (risk, line) in security.lines() {
                let risk = if risk.is_dangerous() {
                    format!("**{}**", risk.name())
                } else {
                    risk.name().to_owned()
                };
                let _ = writeln!(out, "| {line} | {risk} |");
            }
        }
        if !security.capabilities_removed.is_empty() {
            let _ = writeln!(
                out,
                "\n**Capabilities no longer needed:** {}",
                security.capabilities_removed.join(", ")
            );
        }
    }
    out
}

fn baseline_text(d: &BaselineDiff, paint: &Paint) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} against {}",
        paint.bold("syscage diff:"),
        d.workload,
        d.baseline
    );
    let _ = writeln!(
        out,
        "The workload uses {}.",
        plural(d.workload_syscalls, "syscall", "syscalls")
    );
    if d.denied.is_empty() {
        let _ = writeln!(
            out,
            "\n{} every syscall it uses is allowed there.",
            paint.good("Would run:")
        );
    } else {
        let _ = writeln!(
            out,
            "\n{} {} it uses denied there:",
            paint.bad("Would break:"),
            plural(d.denied.len(), "syscall", "syscalls")
        );
        let width = name_width(d.denied.iter().map(|a| a.name.as_str()));
        for x in &d.denied {
            let _ = writeln!(
                out,
                "  {} {:<width$}  {}  {} {}",
                paint.bad("!"),
                x.name,
                x.outcome,
                paint.risk(x.risk),
                x.reason
            );
        }
    }
    if !d.falls_back.is_empty() {
        let _ = writeln!(
            out,
            "\n{} (libcs fall back, as they do under RuntimeDefault):",
            paint.bold("Answered with ENOSYS, older syscall allowed")
        );
        for f in &d.falls_back {
            let _ = writeln!(out, "  ~ {} -> {}", f.name, f.to.join(", "));
        }
    }
    if !d.conditional.is_empty() {
        let _ = writeln!(
            out,
            "\n{} (check the workload's arguments match):",
            paint.bold("Allowed only for some arguments")
        );
        for c in &d.conditional {
            let _ = writeln!(out, "  ? {}: {}", c.name, c.allowed_if.join(" | "));
        }
    }
    let _ = writeln!(
        out,
        "\n{} the baseline allows {} of the {} {} syscalls; {} of them the workload never uses.",
        paint.bold("Attack surface removed:"),
        d.baseline_allows,
        d.arch_syscalls,
        d.arch,
        d.removed_surface
    );
    if !d.removed_dangerous.is_empty() {
        let _ = writeln!(out, "Dangerous ones among them:");
        let width = name_width(d.removed_dangerous.iter().map(|a| a.name.as_str()));
        for r in &d.removed_dangerous {
            let _ = writeln!(
                out,
                "  {} {:<width$}  {} {}",
                paint.good("-"),
                r.name,
                paint.risk(r.risk),
                r.reason
            );
        }
    }
    if let Some(caps) = &d.capabilities {
        let _ = writeln!(
            out,
            "\n{} granted by default and never needed ({}): {}",
            paint.bold("Capabilities:"),
            caps.granted_unused.len(),
            if caps.granted_unused.is_empty() {
                "none".to_owned()
            } else {
                caps.granted_unused.join(", ")
            }
        );
        if !caps.needed_not_granted.is_empty() {
            let _ = writeln!(
                out,
                "{} needed and not granted by default: {}",
                paint.bad("Would break:"),
                caps.needed_not_granted.join(", ")
            );
        }
    }
    out
}

fn baseline_markdown(d: &BaselineDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### Seccomp: workload against baseline (syscage)\n");
    let _ = writeln!(
        out,
        "`{}` against {}: the workload uses {}.",
        d.workload,
        d.baseline,
        plural(d.workload_syscalls, "syscall", "syscalls")
    );
    if d.denied.is_empty() {
        let _ = writeln!(
            out,
            "\n**Would run:** every syscall it uses is allowed there."
        );
    } else {
        let _ = writeln!(
            out,
            "\n**Would break:** {} it uses denied there.\n\n| syscall | baseline does | risk | why it matters |\n|---|---|---|---|",
            plural(d.denied.len(), "syscall", "syscalls")
        );
        for x in &d.denied {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                x.name,
                x.outcome,
                x.risk.name(),
                x.reason
            );
        }
    }
    if !d.falls_back.is_empty() {
        let list: Vec<String> = d
            .falls_back
            .iter()
            .map(|f| format!("`{}` -> `{}`", f.name, f.to.join("`, `")))
            .collect();
        let _ = writeln!(
            out,
            "\n**Answered with ENOSYS, older syscall allowed** (libcs fall back): {}",
            list.join(", ")
        );
    }
    if !d.conditional.is_empty() {
        let _ = writeln!(
            out,
            "\n**Allowed only for some arguments** (check they match):\n"
        );
        for c in &d.conditional {
            let _ = writeln!(out, "- `{}`: `{}`", c.name, c.allowed_if.join("` or `"));
        }
    }
    let _ = writeln!(
        out,
        "\n**Attack surface removed:** the baseline allows {} of the {} {} syscalls; {} of them \
         the workload never uses.",
        d.baseline_allows, d.arch_syscalls, d.arch, d.removed_surface
    );
    if !d.removed_dangerous.is_empty() {
        let names: Vec<String> = d
            .removed_dangerous
            .iter()
            .map(|r| format!("`{}` ({})", r.name, r.risk.name()))
            .collect();
        let _ = writeln!(out, "Dangerous ones among them: {}.", names.join(", "));
    }
    if let Some(caps) = &d.capabilities {
        let _ = writeln!(
            out,
            "\n**Capabilities granted by default and never needed:** {}",
            if caps.granted_unused.is_empty() {
                "none".to_owned()
            } else {
                caps.granted_unused.join(", ")
            }
        );
        if !caps.needed_not_granted.is_empty() {
            let _ = writeln!(
                out,
                "\n**Needed and not granted by default:** {}",
                caps.needed_not_granted.join(", ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::runtime_default::{render, Flavour};
    use crate::formats::docker::{Conditions, KernelVersion};
    use crate::formats::input::parse_input;
    use crate::model::recording::{Recording, SyscallRecord};

    const RECORDING: &str = include_str!("../../tests/fixtures/recording-v1.json");

    fn conditions() -> Conditions {
        Conditions {
            arch: ScmpArch::X8664,
            caps: Flavour::Moby.default_caps(),
            kernel: KernelVersion { major: 6, minor: 1 },
        }
    }

    fn input(text: &str, origin: &str) -> Input {
        parse_input(text, origin, &conditions()).unwrap()
    }

    fn recording(nrs: &[u32]) -> Input {
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        rec.syscalls = nrs
            .iter()
            .map(|&nr| SyscallRecord::new(ScmpArch::X8664, nr, 1, 0))
            .collect();
        input(&rec.to_json(), "app.recording.json")
    }

    #[test]
    fn release_diff_ranks_added_by_risk() {
        // read, write, close -> read, write, bpf (321), getrandom (318), ptrace (101).
        let old = recording(&[0, 1, 3]);
        let new = recording(&[0, 1, 321, 318, 101]);
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        let added: Vec<(&str, Risk)> = d.added.iter().map(|a| (a.name.as_str(), a.risk)).collect();
        assert_eq!(
            added,
            [
                ("bpf", Risk::High),
                ("ptrace", Risk::High),
                ("getrandom", Risk::Low)
            ]
        );
        assert_eq!(d.removed, ["close"]);
        assert_eq!(d.unchanged, 2);
        let report = Report::Release(d);
        assert_eq!(report.fails(FailOn::Added), Ok(true));
        assert_eq!(report.fails(FailOn::Risky), Ok(true));
        assert!(report.fails(FailOn::Denied).is_err());

        let text = report.render(ReportFormat::Text { color: false });
        assert!(text.contains("3 added, 1 removed, 2 unchanged"), "{text}");
        assert!(
            text.contains("  + bpf        high     loads programs"),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
        assert!(report
            .render(ReportFormat::Text { color: true })
            .contains("\x1b[1;31m"));
        let md = report.render(ReportFormat::Markdown);
        assert!(md.contains("| `bpf` | **high** | loads programs"), "{md}");
        let json: serde_json::Value =
            serde_json::from_str(&report.render(ReportFormat::Json)).unwrap();
        assert_eq!(json["diff"], "release");
        assert_eq!(json["added"][0]["name"], "bpf");
        assert_eq!(json["added"][0]["risk"], "high");
        assert_eq!(json["removed"], serde_json::json!(["close"]));
    }

    #[test]
    fn low_risk_additions_do_not_fail_risky() {
        let old = recording(&[0]);
        let new = recording(&[0, 318]);
        let report = Report::Release(release_diff(&old, &new, ScmpArch::X8664).unwrap());
        assert_eq!(report.fails(FailOn::Added), Ok(true));
        assert_eq!(report.fails(FailOn::Risky), Ok(false));
        let same = Report::Release(release_diff(&old, &old, ScmpArch::X8664).unwrap());
        assert_eq!(same.fails(FailOn::Added), Ok(false));
    }

    #[test]
    fn widening_a_conditional_rule_counts_as_added() {
        let old = input(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["personality"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}"#,
            "old.json",
        );
        let new = input(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["personality"],
                "action": "SCMP_ACT_ALLOW"}]}"#,
            "new.json",
        );
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        assert_eq!(d.added.len(), 1);
        assert!(d.added[0].note.is_some());
        assert_eq!(d.unchanged, 0);
    }

    /// A syscall number, the argument indexes and the value tuples recorded for it.
    type WithArgs<'a> = (u32, &'a [u8], &'a [&'a [u64]]);

    fn recording_with_args(records: &[WithArgs<'_>]) -> Input {
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        rec.syscalls = records
            .iter()
            .map(|(nr, indexes, values)| {
                let mut r = SyscallRecord::new(ScmpArch::X8664, *nr, 1, 0);
                r.args = (!indexes.is_empty()).then(|| crate::model::recording::ArgsSeen {
                    indexes: indexes.to_vec(),
                    values: values.iter().map(|v| v.to_vec()).collect(),
                    overflow: false,
                });
                r
            })
            .collect();
        input(&rec.to_json(), "app.recording.json")
    }

    #[test]
    fn new_argument_values_are_changes_ranked_by_risk() {
        // v1: fork-style clone, AF_UNIX stream sockets. v2: clone with CLONE_NEWUSER, netlink
        // and AF_INET sockets.
        let old = recording_with_args(&[(56, &[0], &[&[0x11]]), (41, &[0, 1], &[&[1, 0x8_0001]])]);
        let new = recording_with_args(&[
            (56, &[0], &[&[0x11], &[0x1000_0011]]),
            (41, &[0, 1], &[&[1, 0x8_0001], &[16, 3], &[2, 1]]),
        ]);
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        assert!(d.removed.is_empty());
        assert_eq!(d.unchanged, 0);
        let added: Vec<(&str, Risk, &str, Vec<String>)> = d
            .added
            .iter()
            .map(|a| (a.name.as_str(), a.risk, a.reason, a.new_arguments.clone()))
            .collect();
        assert_eq!(
            added,
            [
                (
                    "clone",
                    Risk::High,
                    "starts creating user namespaces (CLONE_NEWUSER), which expose kernel code \
                     otherwise reachable only by root",
                    vec!["CLONE_NEWUSER".to_owned()]
                ),
                (
                    "socket",
                    Risk::High,
                    "starts using netlink (AF_NETLINK): configures kernel subsystems (routing, \
                     netfilter, audit...), a large attack surface",
                    vec![
                        "AF_INET/SOCK_STREAM".to_owned(),
                        "AF_NETLINK/SOCK_RAW".to_owned()
                    ]
                ),
            ]
        );
        let report = Report::Release(d);
        assert_eq!(report.fails(FailOn::Risky), Ok(true));
        let text = report.render(ReportFormat::Text { color: false });
        assert!(
            text.contains(
                "  + clone   high     starts creating user namespaces (CLONE_NEWUSER), which \
                 expose kernel code otherwise reachable only by root (allowed before, now also \
                 for: CLONE_NEWUSER)"
            ),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&report.render(ReportFormat::Json)).unwrap();
        assert_eq!(
            json["added"][0]["new_arguments"],
            serde_json::json!(["CLONE_NEWUSER"])
        );

        // The same values: nothing changed. New AF_INET only: worth a look, not risky.
        let d = release_diff(&old, &old, ScmpArch::X8664).unwrap();
        assert!(d.added.is_empty() && d.unchanged == 2);
        let inet = recording_with_args(&[
            (56, &[0], &[&[0x11]]),
            (41, &[0, 1], &[&[1, 0x8_0001], &[2, 1]]),
        ]);
        let report = Report::Release(release_diff(&old, &inet, ScmpArch::X8664).unwrap());
        assert_eq!(report.fails(FailOn::Added), Ok(true));
        assert_eq!(report.fails(FailOn::Risky), Ok(false));
        // A release that stops recording arguments (names only) allows clone for everything.
        let names_only = recording(&[56, 41]);
        let d = release_diff(&old, &names_only, ScmpArch::X8664).unwrap();
        assert_eq!(d.added.len(), 2);
        assert!(
            d.added.iter().all(|a| a.risk == Risk::High),
            "{:?}",
            d.added
        );
    }

    #[test]
    fn compat_calls_are_compared_by_their_own_names() {
        // 20 is writev natively and getpid for i386 programs.
        let old = recording(&[20]);
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        let mut getpid = SyscallRecord::new(ScmpArch::X86, 20, 1, 0);
        getpid.arch = Some("SCMP_ARCH_X86".into());
        rec.syscalls = vec![SyscallRecord::new(ScmpArch::X8664, 20, 1, 0), getpid];
        let new = input(&rec.to_json(), "new.recording.json");
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        let added: Vec<&str> = d.added.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(added, ["getpid"]);
        assert_eq!(d.unchanged, 1);
    }

    #[test]
    fn against_runtime_default() {
        // read, mount (165), clone (56), ptrace (101).
        let workload = recording(&[0, 165, 56, 101]);
        let rd = render(Flavour::Moby, &conditions()).unwrap();
        let d = baseline_diff(&workload, &rd.policy, &rd.label(), ScmpArch::X8664).unwrap();
        assert_eq!(d.workload_syscalls, 4);
        assert_eq!(d.denied.len(), 1);
        assert_eq!(d.denied[0].name, "mount");
        assert_eq!(d.denied[0].outcome, "SCMP_ACT_ERRNO (EPERM)");
        assert_eq!(d.conditional.len(), 1);
        assert_eq!(d.conditional[0].name, "clone");
        assert_eq!(d.conditional[0].allowed_if, ["no namespace flags"]);
        assert!(d.baseline_allows <= d.arch_syscalls);
        // read, clone and ptrace are allowed by the baseline and used.
        assert_eq!(d.removed_surface, d.baseline_allows - 3);
        assert!(d.removed_dangerous.iter().all(|r| r.risk.is_dangerous()));
        assert!(d
            .removed_dangerous
            .iter()
            .any(|r| r.name == "process_vm_readv"));
        assert!(!d.removed_dangerous.iter().any(|r| r.name == "ptrace"));
        let report = Report::Baseline(d);
        assert_eq!(report.fails(FailOn::Denied), Ok(true));
        let text = report.render(ReportFormat::Text { color: false });
        assert!(
            text.contains("Would break: 1 syscall it uses denied there:"),
            "{text}"
        );
        assert!(text.contains("? clone: no namespace flags"), "{text}");
        let md = report.render(ReportFormat::Markdown);
        assert!(
            md.contains("| `mount` | SCMP_ACT_ERRNO (EPERM) | high |"),
            "{md}"
        );
    }

    #[test]
    fn a_new_socket_is_ranked_by_its_families_which_are_shown() {
        // socket (41) with AF_NETLINK/SOCK_RAW is high, not "low | ordinary syscall".
        let old = recording(&[0]);
        let netlink = recording_with_args(&[(0, &[], &[]), (41, &[0, 1], &[&[16, 3]])]);
        let d = release_diff(&old, &netlink, ScmpArch::X8664).unwrap();
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].name, "socket");
        assert_eq!(d.added[0].risk, Risk::High, "{:?}", d.added[0]);
        assert!(d.added[0].reason.contains("AF_NETLINK"), "{:?}", d.added[0]);
        assert_eq!(d.added[0].new_arguments, ["AF_NETLINK/SOCK_RAW"]);
        let text = Report::Release(d).render(ReportFormat::Text { color: false });
        assert!(
            text.contains("(new, allowed for: AF_NETLINK/SOCK_RAW)"),
            "{text}"
        );

        // A first network use: socket(AF_INET, SOCK_STREAM), bind (49), listen (50), accept4
        // (288): the socket makes it medium, as the README promises.
        let network = recording_with_args(&[
            (0, &[], &[]),
            (41, &[0, 1], &[&[2, 1]]),
            (49, &[], &[]),
            (50, &[], &[]),
            (288, &[], &[]),
        ]);
        let d = release_diff(&old, &network, ScmpArch::X8664).unwrap();
        assert_eq!(d.added[0].name, "socket");
        assert_eq!(d.added[0].risk, Risk::Medium, "{:?}", d.added);
        assert_eq!(d.added[0].new_arguments, ["AF_INET/SOCK_STREAM"]);
        // A new AF_UNIX socket stays low.
        let unix = recording_with_args(&[(0, &[], &[]), (41, &[0, 1], &[&[1, 1]])]);
        let d = release_diff(&old, &unix, ScmpArch::X8664).unwrap();
        assert_eq!(d.added[0].risk, Risk::Low);
        // Without recorded values, a new socket may use any family: medium.
        let d = release_diff(&old, &recording(&[0, 41]), ScmpArch::X8664).unwrap();
        assert_eq!(d.added[0].risk, Risk::Medium, "{:?}", d.added);
    }

    #[test]
    fn conditions_are_named() {
        let old = recording(&[0]);
        let new = recording_with_args(&[(0, &[], &[]), (16, &[1], &[&[0x5421], &[0x5412]])]);
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        assert_eq!(d.added[0].name, "ioctl");
        assert_eq!(d.added[0].risk, Risk::High, "TIOCSTI: {:?}", d.added[0]);
        assert_eq!(d.added[0].new_arguments, ["TIOCSTI", "FIONBIO"]);
        let new = recording_with_args(&[(0, &[], &[]), (157, &[0], &[&[38]])]);
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        assert_eq!(d.added[0].new_arguments, ["PR_SET_NO_NEW_PRIVS"]);
    }

    #[test]
    fn clone3_answered_with_enosys_is_said_so() {
        // A recording with clone3 (435) against the profile generated from it with clone
        // restricted: clone3 is now answered with ENOSYS.
        let old = recording(&[0, 435]);
        let new = input(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "clone"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
            "new.json",
        );
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        assert_eq!(d.removed, ["clone3"]);
        assert_eq!(d.removed_enosys, ["clone3"]);
        let report = Report::Release(d);
        let text = report.render(ReportFormat::Text { color: false });
        assert!(
            text.contains("- clone3 (now answered with ENOSYS: libcs fall back to clone)"),
            "{text}"
        );
        let md = report.render(ReportFormat::Markdown);
        assert!(md.contains("`clone3` (now answered with ENOSYS"), "{md}");
    }

    #[test]
    fn clone3_under_runtime_default_falls_back_and_is_no_denial() {
        // A plain Python app's threads: clone3 (435) recorded, clone never needed.
        let workload = recording(&[0, 1, 202, 435]);
        let rd = render(Flavour::Moby, &conditions()).unwrap();
        let d = baseline_diff(&workload, &rd.policy, &rd.label(), ScmpArch::X8664).unwrap();
        assert!(d.denied.is_empty(), "{:?}", d.denied);
        assert_eq!(
            d.falls_back,
            [FallsBack {
                name: "clone3".to_owned(),
                to: vec!["clone".to_owned()]
            }]
        );
        let report = Report::Baseline(d);
        assert_eq!(report.fails(FailOn::Denied), Ok(false));
        let text = report.render(ReportFormat::Text { color: false });
        assert!(text.contains("Would run:"), "{text}");
        assert!(text.contains("~ clone3 -> clone"), "{text}");
        // A baseline that denies clone too makes clone3 a real denial.
        let no_clone = input(
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read", "write", "futex"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}"#,
            "strict.json",
        );
        let d = baseline_diff(
            &workload,
            &no_clone.policy().unwrap(),
            "strict",
            ScmpArch::X8664,
        )
        .unwrap();
        assert_eq!(d.denied.len(), 1);
        assert_eq!(d.denied[0].name, "clone3");
    }

    #[test]
    fn fail_on_verdict_says_what_tripped() {
        let old = recording(&[0]);
        let new = recording(&[0, 101, 318]);
        let report = Report::Release(release_diff(&old, &new, ScmpArch::X8664).unwrap());
        let v = report.verdict(FailOn::Risky).unwrap();
        assert!(v.tripped);
        assert_eq!(v.reason, "1 dangerous syscall added: ptrace (high)");
        let json: serde_json::Value =
            serde_json::from_str(&report.render_with(ReportFormat::Json, Some(&v))).unwrap();
        assert_eq!(
            json["verdict"],
            serde_json::json!({"fail_on": "risky", "tripped": true,
                               "reason": "1 dangerous syscall added: ptrace (high)"})
        );
        let text = report.render_with(ReportFormat::Text { color: false }, Some(&v));
        assert!(
            text.ends_with("--fail-on risky: tripped (1 dangerous syscall added: ptrace (high))\n"),
            "{text}"
        );
        let same = Report::Release(release_diff(&old, &old, ScmpArch::X8664).unwrap());
        let v = same.verdict(FailOn::Added).unwrap();
        assert!(!v.tripped);
        assert_eq!(v.reason, "no syscall added");
    }

    fn recording_with_security(caps: &[&str], root_used: bool) -> Input {
        use crate::model::security::{CapabilityUse, Identity, SecurityFacts};
        let mut rec = Recording::from_json(RECORDING, "r").unwrap();
        rec.syscalls = vec![SyscallRecord::new(ScmpArch::X8664, 0, 1, 0)];
        rec.security = Some(SecurityFacts {
            capabilities: caps
                .iter()
                .map(|c| CapabilityUse {
                    name: (*c).to_owned(),
                    granted: 1,
                    denied: 0,
                    noaudit: 0,
                    needed: true,
                })
                .collect(),
            identity: Identity {
                uids: vec![0],
                gids: vec![0],
                root_used,
            },
            ..SecurityFacts::default()
        });
        input(&rec.to_json(), "app.recording.json")
    }

    #[test]
    fn a_release_that_starts_needing_sys_admin_or_root_is_risky() {
        let old = recording_with_security(&["CAP_NET_BIND_SERVICE"], false);
        let new = recording_with_security(&["CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"], true);
        let report = Report::Release(release_diff(&old, &new, ScmpArch::X8664).unwrap());
        let v = report.verdict(FailOn::Risky).unwrap();
        assert!(v.tripped);
        assert_eq!(
            v.reason,
            "dangerous permissions added: CAP_SYS_ADMIN (high), root newly used (high)"
        );
        let text = report.render(ReportFormat::Text { color: false });
        assert!(
            text.contains("+ high     capability CAP_SYS_ADMIN newly needed"),
            "{text}"
        );
        assert!(text.contains("root newly used"), "{text}");
        let md = report.render(ReportFormat::Markdown);
        assert!(md.contains("| **high** |"), "{md}");

        // A harmless new capability is added, not risky; the reverse removes it.
        let bind = recording_with_security(&["CAP_CHOWN", "CAP_NET_BIND_SERVICE"], false);
        let report = Report::Release(release_diff(&old, &bind, ScmpArch::X8664).unwrap());
        assert_eq!(report.fails(FailOn::Risky), Ok(false));
        assert_eq!(report.fails(FailOn::Added), Ok(true));
        let back = release_diff(&bind, &old, ScmpArch::X8664).unwrap();
        assert_eq!(back.security.unwrap().capabilities_removed, ["CAP_CHOWN"]);

        // Without facts on one side nothing is compared.
        let plain = recording(&[0]);
        let d = release_diff(&plain, &new, ScmpArch::X8664).unwrap();
        assert!(d.security.is_none());
    }

    #[test]
    fn runtime_default_capabilities_never_used_are_listed() {
        use crate::analysis::security_diff::capabilities_against_default;
        let workload = recording_with_security(&["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"], false);
        let rd = render(Flavour::Moby, &conditions()).unwrap();
        let mut d = baseline_diff(&workload, &rd.policy, &rd.label(), ScmpArch::X8664).unwrap();
        d.capabilities = capabilities_against_default(&workload, &conditions().caps);
        let caps = d.capabilities.as_ref().unwrap();
        assert_eq!(caps.granted_unused.len(), 13);
        assert!(!caps
            .granted_unused
            .contains(&"CAP_NET_BIND_SERVICE".to_owned()));
        assert_eq!(caps.needed_not_granted, ["CAP_NET_ADMIN"]);
        let text = Report::Baseline(d).render(ReportFormat::Text { color: false });
        assert!(
            text.contains(
                "Capabilities: granted by default and never needed (13): CAP_AUDIT_WRITE"
            ),
            "{text}"
        );
        assert!(
            text.contains("Would break: needed and not granted by default: CAP_NET_ADMIN"),
            "{text}"
        );
        assert!(capabilities_against_default(&recording(&[0]), &conditions().caps).is_none());
    }

    #[test]
    fn a_new_unknown_number_counts_as_added() {
        let old = recording(&[0]);
        let new = recording(&[0, 100_000]);
        let d = release_diff(&old, &new, ScmpArch::X8664).unwrap();
        assert!(d.added.is_empty());
        assert_eq!(d.added_unknown_numbers, [100_000]);
        let report = Report::Release(d);
        assert_eq!(report.fails(FailOn::Added), Ok(true));
        assert_eq!(report.fails(FailOn::Risky), Ok(false));
        let text = report.render(ReportFormat::Text { color: false });
        assert!(
            text.contains("+ syscall number 100000 (unknown to libseccomp"),
            "{text}"
        );
        // The same unknown number in both is no change.
        let d = release_diff(&new, &new, ScmpArch::X8664).unwrap();
        assert!(d.added_unknown_numbers.is_empty());
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn diff_of_an_input_with_itself_is_empty(
                nrs in proptest::collection::btree_set(0u32..460, 0..60),
            ) {
                let nrs: Vec<u32> = nrs.into_iter().collect();
                let a = recording(&nrs);
                let d = release_diff(&a, &a, ScmpArch::X8664).unwrap();
                prop_assert!(d.added.is_empty());
                prop_assert!(d.removed.is_empty());
                let report = Report::Release(d);
                prop_assert_eq!(report.fails(FailOn::Added), Ok(false));
                prop_assert_eq!(report.fails(FailOn::Risky), Ok(false));
            }

            #[test]
            fn added_and_removed_swap_when_reversed(
                a in proptest::collection::btree_set(0u32..460, 0..40),
                b in proptest::collection::btree_set(0u32..460, 0..40),
            ) {
                let a = recording(&a.into_iter().collect::<Vec<_>>());
                let b = recording(&b.into_iter().collect::<Vec<_>>());
                let ab = release_diff(&a, &b, ScmpArch::X8664).unwrap();
                let ba = release_diff(&b, &a, ScmpArch::X8664).unwrap();
                let mut added: Vec<String> = ab.added.iter().map(|x| x.name.clone()).collect();
                added.sort();
                prop_assert_eq!(added, ba.removed);
            }
        }
    }
}
