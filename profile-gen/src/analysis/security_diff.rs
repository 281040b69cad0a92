//! What changed in a workload's security facts between two releases, and which of the
//! capabilities a runtime grants by default it never used.
//!
//! Both compare only what was observed: a release recorded without security facts has nothing
//! to compare, and the diff says so instead of reporting everything as new.

use serde::Serialize;

use crate::analysis::risk::{capability_risk, Risk};
use crate::build::security::observed_security;
use crate::formats::input::Input;
use crate::model::merged_security::MergedSecurity;
use crate::model::security::{PrivilegeGain, PrivilegeGainKind};

/// A capability newly needed, with its risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityChange {
    pub name: String,
    pub risk: Risk,
    pub reason: &'static str,
}

/// One security change, and how risky it is; riskiest first in [`SecurityChanges::risky`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityChanges {
    /// Needed now, not before, riskiest first.
    pub capabilities_added: Vec<CapabilityChange>,
    /// Needed before, not now, sorted.
    pub capabilities_removed: Vec<String>,
    /// Root is used now and was not before ([`Risk::High`]).
    pub root_newly_used: bool,
    /// Programs newly seen raising privilege through exec.
    pub privilege_gain_added: Vec<PrivilegeGain>,
    /// The root filesystem is written now and was not before.
    pub root_filesystem_newly_written: bool,
    /// Root filesystem paths written now and not before (within the paths kept).
    pub root_filesystem_paths_added: Vec<String>,
}

/// The risk of using root newly.
pub const ROOT_RISK: (Risk, &str) = (
    Risk::High,
    "root newly used: runAsNonRoot can no longer be set",
);

/// The risk of a new privilege gain through exec.
pub const PRIVILEGE_GAIN_RISK: (Risk, &str) = (
    Risk::Medium,
    "exec newly gains privilege: allowPrivilegeEscalation must stay allowed",
);

impl SecurityChanges {
    /// Whether nothing changed that a review needs to see (removals aside).
    pub fn is_empty(&self) -> bool {
        self.capabilities_added.is_empty()
            && !self.root_newly_used
            && self.privilege_gain_added.is_empty()
            && !self.root_filesystem_newly_written
            && self.root_filesystem_paths_added.is_empty()
    }

    /// The dangerous changes ([`Risk::is_dangerous`]), one phrase each: what trips
    /// `--fail-on risky`.
    pub fn risky(&self) -> Vec<String> {
        let mut risky: Vec<String> = self
            .capabilities_added
            .iter()
            .filter(|c| c.risk.is_dangerous())
            .map(|c| format!("{} ({})", c.name, c.risk.name()))
            .collect();
        if self.root_newly_used {
            risky.push(format!("root newly used ({})", ROOT_RISK.0.name()));
        }
        if PRIVILEGE_GAIN_RISK.0.is_dangerous() {
            risky.extend(self.privilege_gain_added.iter().map(|g| g.path.clone()));
        }
        risky
    }

    /// Everything added, one phrase each: what trips `--fail-on added` besides syscalls.
    pub fn added(&self) -> Vec<String> {
        let mut added: Vec<String> = self
            .capabilities_added
            .iter()
            .map(|c| c.name.clone())
            .collect();
        if self.root_newly_used {
            added.push("root newly used".to_owned());
        }
        added.extend(
            self.privilege_gain_added
                .iter()
                .map(|g| format!("privilege gain through {}", g.path)),
        );
        if self.root_filesystem_newly_written {
            added.push("root filesystem newly written".to_owned());
        }
        added
    }

    /// The report's lines (without a leading marker), for text and markdown alike.
    pub fn lines(&self) -> Vec<(Risk, String)> {
        let mut lines: Vec<(Risk, String)> = self
            .capabilities_added
            .iter()
            .map(|c| {
                (
                    c.risk,
                    format!("capability {} newly needed: {}", c.name, c.reason),
                )
            })
            .collect();
        if self.root_newly_used {
            lines.push((ROOT_RISK.0, ROOT_RISK.1.to_owned()));
        }
        for gain in &self.privilege_gain_added {
            lines.push((
                PRIVILEGE_GAIN_RISK.0,
                format!(
                    "{} ({}): {}",
                    gain.path,
                    match gain.kind {
                        PrivilegeGainKind::Setuid => "setuid",
                        PrivilegeGainKind::Setgid => "setgid",
                        PrivilegeGainKind::FileCapabilities => "file capabilities",
                    },
                    PRIVILEGE_GAIN_RISK.1
                ),
            ));
        }
        if self.root_filesystem_newly_written || !self.root_filesystem_paths_added.is_empty() {
            let paths = if self.root_filesystem_paths_added.is_empty() {
                String::new()
            } else {
                format!(": {}", self.root_filesystem_paths_added.join(", "))
            };
            lines.push((
                Risk::Low,
                format!("root filesystem newly written{paths} (readOnlyRootFilesystem needs an emptyDir there)"),
            ));
        }
        lines.sort_by_key(|line| std::cmp::Reverse(line.0));
        lines
    }
}

/// The changes from `old` to `new`.
pub fn security_changes(old: &MergedSecurity, new: &MergedSecurity) -> SecurityChanges {
    let old_caps: Vec<&str> = old.needed_capabilities().collect();
    let new_caps: Vec<&str> = new.needed_capabilities().collect();
    let mut capabilities_added: Vec<CapabilityChange> = new_caps
        .iter()
        .filter(|c| !old_caps.contains(c))
        .map(|name| {
            let (risk, reason) = capability_risk(name);
            CapabilityChange {
                name: (*name).to_owned(),
                risk,
                reason,
            }
        })
        .collect();
    capabilities_added.sort_by(|a, b| b.risk.cmp(&a.risk).then_with(|| a.name.cmp(&b.name)));
    SecurityChanges {
        capabilities_added,
        capabilities_removed: old_caps
            .iter()
            .filter(|c| !new_caps.contains(c))
            .map(|c| (*c).to_owned())
            .collect(),
        root_newly_used: new.root_used() && !old.root_used(),
        privilege_gain_added: new
            .privilege_gain
            .iter()
            .filter(|g| !old.privilege_gain.contains(g))
            .cloned()
            .collect(),
        root_filesystem_newly_written: new.root_filesystem_written()
            && !old.root_filesystem_written(),
        root_filesystem_paths_added: new
            .root_filesystem_writes
            .paths
            .iter()
            .filter(|p| !old.root_filesystem_writes.paths.contains(p))
            .cloned()
            .collect(),
    }
}

/// The security changes between two inputs, or `None` when either lacks security facts.
pub fn input_security_changes(old: &Input, new: &Input) -> Option<SecurityChanges> {
    let old = observed_security(std::slice::from_ref(old)).ok()?;
    let new = observed_security(std::slice::from_ref(new)).ok()?;
    Some(security_changes(&old, &new))
}

/// A workload's needed capabilities against the set a runtime grants by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilitiesAgainstDefault {
    /// Granted by the runtime and never needed: what `drop` can remove, sorted.
    pub granted_unused: Vec<String>,
    /// Needed and not granted: the workload fails there without `--cap-add`, sorted.
    pub needed_not_granted: Vec<String>,
}

/// `workload`'s needed capabilities against `granted` (runtime-spec names), or `None` when the
/// workload carries no security facts.
pub fn capabilities_against_default<'a>(
    workload: &Input,
    granted: impl IntoIterator<Item = &'a String>,
) -> Option<CapabilitiesAgainstDefault> {
    let facts = observed_security(std::slice::from_ref(workload)).ok()?;
    let needed: Vec<&str> = facts.needed_capabilities().collect();
    let mut granted: Vec<&String> = granted.into_iter().collect();
    granted.sort();
    Some(CapabilitiesAgainstDefault {
        granted_unused: granted
            .iter()
            .filter(|c| !needed.contains(&c.as_str()))
            .map(|c| (*c).clone())
            .collect(),
        needed_not_granted: needed
            .iter()
            .filter(|c| !granted.iter().any(|g| g == *c))
            .map(|c| (*c).to_owned())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::merged_security::MergedCapability;
    use crate::model::merged_security::MergedIdentity;

    fn facts(caps: &[&str], root: bool, paths: &[&str]) -> MergedSecurity {
        let mut s = MergedSecurity {
            watched_in: 1,
            capabilities: caps
                .iter()
                .map(|c| MergedCapability {
                    name: (*c).to_owned(),
                    granted: 1,
                    denied: 0,
                    noaudit: 0,
                    needed_in: 1,
                })
                .collect(),
            identity: MergedIdentity {
                uids: vec![0],
                gids: vec![0],
                root_used_in: u64::from(root),
            },
            ..MergedSecurity::default()
        };
        s.root_filesystem_writes.count = paths.len() as u64;
        s.root_filesystem_writes.paths = paths.iter().map(|p| (*p).to_owned()).collect();
        s
    }

    #[test]
    fn new_sys_admin_and_root_are_risky() {
        let old = facts(&["CAP_NET_BIND_SERVICE"], false, &[]);
        let new = facts(&["CAP_CHOWN", "CAP_SYS_ADMIN"], true, &["/var/cache/x"]);
        let changes = security_changes(&old, &new);
        assert_eq!(
            changes
                .capabilities_added
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["CAP_SYS_ADMIN", "CAP_CHOWN"]
        );
        assert_eq!(changes.capabilities_removed, ["CAP_NET_BIND_SERVICE"]);
        assert!(changes.root_newly_used);
        assert!(changes.root_filesystem_newly_written);
        assert_eq!(changes.root_filesystem_paths_added, ["/var/cache/x"]);
        assert_eq!(
            changes.risky(),
            ["CAP_SYS_ADMIN (high)", "root newly used (high)"]
        );
        assert_eq!(changes.lines()[0].0, Risk::High);
    }

    #[test]
    fn harmless_changes_are_reported_but_not_risky() {
        let old = facts(&[], false, &[]);
        let mut new = facts(&["CAP_NET_BIND_SERVICE"], false, &[]);
        new.privilege_gain = vec![PrivilegeGain {
            path: "/bin/ping".into(),
            kind: PrivilegeGainKind::FileCapabilities,
        }];
        let changes = security_changes(&old, &new);
        assert!(changes.risky().is_empty());
        assert_eq!(
            changes.added(),
            ["CAP_NET_BIND_SERVICE", "privilege gain through /bin/ping"]
        );
        assert_eq!(
            changes.lines()[0].1,
            "/bin/ping (file capabilities): exec newly gains privilege: \
             allowPrivilegeEscalation must stay allowed"
        );
        assert!(security_changes(&new, &new).is_empty());
    }
}
