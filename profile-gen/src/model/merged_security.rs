//! The security facts of several runs united, with coverage: what a merged recording carries
//! in its optional `security` object, and what `generate` and `diff` read, whatever the input.
//!
//! - `watched_in` counts the runs whose recording carried security facts; a run recorded
//!   without them adds nothing, so `watched_in` below the number of runs says the facts are
//!   partial.
//! - Each capability keeps its summed counts and `needed_in`, how many runs needed it.
//! - Identity: the uids and gids united, `root_used_in` how many runs used root.
//! - Root filesystem writes: counts summed, paths united and kept sorted, at most
//!   [`MAX_ROOT_FILESYSTEM_PATHS`]; `truncated` when a run's list was, or the union overflowed.
//! - Privilege gains united.
//!
//! Merging is commutative and associative, like the syscalls' merge.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::security::{
    PrivilegeGain, RootFilesystemWrites, SecurityFacts, MAX_ROOT_FILESYSTEM_PATHS,
};

/// The security facts of one or more runs; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedSecurity {
    /// How many runs carried security facts.
    pub watched_in: u64,
    /// Every capability any run's kernel checked, sorted by name, one entry each.
    pub capabilities: Vec<MergedCapability>,
    /// The identities the runs ran as.
    pub identity: MergedIdentity,
    /// What the runs changed on the root filesystem.
    pub root_filesystem_writes: RootFilesystemWrites,
    /// Programs whose exec raised privilege in any run, sorted, each once.
    pub privilege_gain: Vec<PrivilegeGain>,
}

/// One capability over the runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedCapability {
    /// As in recordings: `CAP_NET_BIND_SERVICE`.
    pub name: String,
    /// Granted checks, summed.
    pub granted: u64,
    /// Denied checks, summed.
    pub denied: u64,
    /// `noaudit` probes, summed.
    pub noaudit: u64,
    /// How many runs needed it (0 when it was only probed or denied).
    pub needed_in: u64,
}

/// The identities over the runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedIdentity {
    /// Effective user ids seen in any run, sorted, each once.
    pub uids: Vec<u32>,
    /// Effective group ids seen in any run, sorted, each once.
    pub gids: Vec<u32>,
    /// How many runs used root.
    pub root_used_in: u64,
}

impl MergedSecurity {
    /// The facts of one run.
    pub fn from_facts(facts: &SecurityFacts) -> Self {
        Self {
            watched_in: 1,
            capabilities: facts
                .capabilities
                .iter()
                .map(|c| MergedCapability {
                    name: c.name.clone(),
                    granted: c.granted,
                    denied: c.denied,
                    noaudit: c.noaudit,
                    needed_in: u64::from(c.needed),
                })
                .collect(),
            identity: MergedIdentity {
                uids: facts.identity.uids.clone(),
                gids: facts.identity.gids.clone(),
                root_used_in: u64::from(facts.identity.root_used),
            },
            root_filesystem_writes: facts.root_filesystem_writes.clone(),
            privilege_gain: facts.privilege_gain.clone(),
        }
    }

    /// The union of two sets of facts.
    pub fn merge(&self, other: &Self) -> Self {
        let mut capabilities: BTreeMap<String, MergedCapability> = BTreeMap::new();
        for cap in self.capabilities.iter().chain(&other.capabilities) {
            capabilities
                .entry(cap.name.clone())
                .and_modify(|m| {
                    m.granted = m.granted.saturating_add(cap.granted);
                    m.denied = m.denied.saturating_add(cap.denied);
                    m.noaudit = m.noaudit.saturating_add(cap.noaudit);
                    m.needed_in = m.needed_in.saturating_add(cap.needed_in);
                })
                .or_insert_with(|| cap.clone());
        }
        let union = |a: &[u32], b: &[u32]| -> Vec<u32> {
            a.iter()
                .chain(b)
                .copied()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        let (mine, theirs) = (&self.root_filesystem_writes, &other.root_filesystem_writes);
        let mut paths: Vec<String> = mine
            .paths
            .iter()
            .chain(&theirs.paths)
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let overflowed = paths.len() > MAX_ROOT_FILESYSTEM_PATHS;
        paths.truncate(MAX_ROOT_FILESYSTEM_PATHS);
        Self {
            watched_in: self.watched_in.saturating_add(other.watched_in),
            capabilities: capabilities.into_values().collect(),
            identity: MergedIdentity {
                uids: union(&self.identity.uids, &other.identity.uids),
                gids: union(&self.identity.gids, &other.identity.gids),
                root_used_in: self
                    .identity
                    .root_used_in
                    .saturating_add(other.identity.root_used_in),
            },
            root_filesystem_writes: RootFilesystemWrites {
                count: mine.count.saturating_add(theirs.count),
                paths,
                truncated: mine.truncated || theirs.truncated || overflowed,
                // One run that could not see its writes leaves the merge unsure too.
                unobserved: mine
                    .unobserved
                    .clone()
                    .or_else(|| theirs.unobserved.clone()),
            },
            privilege_gain: self
                .privilege_gain
                .iter()
                .chain(&other.privilege_gain)
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }

    /// Capabilities some run needed, by name, sorted.
    pub fn needed_capabilities(&self) -> impl Iterator<Item = &str> {
        self.capabilities
            .iter()
            .filter(|c| c.needed_in > 0)
            .map(|c| c.name.as_str())
    }

    /// Whether some run used root.
    pub fn root_used(&self) -> bool {
        self.identity.root_used_in > 0
    }

    /// Whether some run changed the root filesystem.
    pub fn root_filesystem_written(&self) -> bool {
        self.root_filesystem_writes.count > 0
    }

    /// Checks what the types cannot, for `runs` runs; the error is `(field below security,
    /// what was expected)`.
    pub fn check(&self, runs: u64) -> Result<(), (String, String)> {
        if self.watched_in == 0 || self.watched_in > runs {
            return Err((
                "watched_in".to_owned(),
                format!(
                    "{}, expected 1 to {runs} (the number of runs)",
                    self.watched_in
                ),
            ));
        }
        // The per-run rules (names, order, path cap) are those of one recording's facts.
        let as_facts = SecurityFacts {
            capabilities: self
                .capabilities
                .iter()
                .map(|c| crate::model::security::CapabilityUse {
                    name: c.name.clone(),
                    granted: c.granted,
                    denied: c.denied,
                    noaudit: c.noaudit,
                    needed: c.needed_in > 0,
                })
                .collect(),
            identity: crate::model::security::Identity {
                uids: self.identity.uids.clone(),
                gids: self.identity.gids.clone(),
                root_used: self.root_used(),
            },
            root_filesystem_writes: self.root_filesystem_writes.clone(),
            privilege_gain: self.privilege_gain.clone(),
        };
        as_facts.check()?;
        let over = |value: u64| value > self.watched_in;
        if let Some(index) = self.capabilities.iter().position(|c| over(c.needed_in)) {
            return Err((
                format!("capabilities[{index}].needed_in"),
                format!("expected at most watched_in ({})", self.watched_in),
            ));
        }
        if over(self.identity.root_used_in) {
            return Err((
                "identity.root_used_in".to_owned(),
                format!("expected at most watched_in ({})", self.watched_in),
            ));
        }
        Ok(())
    }
}

/// Unites optional facts: a side without facts adds nothing.
pub fn union_optional(
    a: Option<&MergedSecurity>,
    b: Option<&MergedSecurity>,
) -> Option<MergedSecurity> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.merge(b)),
        (Some(one), None) | (None, Some(one)) => Some(one.clone()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::security::{CapabilityUse, Identity, PrivilegeGainKind};

    fn cap(name: &str, granted: u64, needed: bool) -> CapabilityUse {
        CapabilityUse {
            name: name.into(),
            granted,
            denied: 0,
            noaudit: 0,
            needed,
        }
    }

    fn run(caps: Vec<CapabilityUse>, uids: Vec<u32>, root: bool, paths: &[&str]) -> SecurityFacts {
        SecurityFacts {
            capabilities: caps,
            identity: Identity {
                uids: uids.clone(),
                gids: uids,
                root_used: root,
            },
            root_filesystem_writes: RootFilesystemWrites {
                count: paths.len() as u64,
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                truncated: false,
                unobserved: None,
            },
            privilege_gain: vec![],
        }
    }

    #[test]
    fn runs_unite_with_coverage() {
        let a = MergedSecurity::from_facts(&run(
            vec![
                cap("CAP_NET_BIND_SERVICE", 1, true),
                cap("CAP_SETUID", 1, true),
            ],
            vec![0, 33],
            true,
            &["/var/cache/a"],
        ));
        let mut b_facts = run(
            vec![
                cap("CAP_NET_BIND_SERVICE", 2, true),
                cap("CAP_SYS_ADMIN", 0, false),
            ],
            vec![33],
            false,
            &["/tmp/x"],
        );
        b_facts.privilege_gain = vec![PrivilegeGain {
            path: "/usr/bin/sudo".into(),
            kind: PrivilegeGainKind::Setuid,
        }];
        let b = MergedSecurity::from_facts(&b_facts);
        let ab = a.merge(&b);
        assert_eq!(ab, b.merge(&a));
        assert_eq!(ab.watched_in, 2);
        let caps: Vec<(&str, u64, u64)> = ab
            .capabilities
            .iter()
            .map(|c| (c.name.as_str(), c.granted, c.needed_in))
            .collect();
        assert_eq!(
            caps,
            [
                ("CAP_NET_BIND_SERVICE", 3, 2),
                ("CAP_SETUID", 1, 1),
                ("CAP_SYS_ADMIN", 0, 0)
            ]
        );
        assert_eq!(
            ab.needed_capabilities().collect::<Vec<_>>(),
            ["CAP_NET_BIND_SERVICE", "CAP_SETUID"]
        );
        assert_eq!(ab.identity.uids, [0, 33]);
        assert_eq!(ab.identity.root_used_in, 1);
        assert_eq!(ab.root_filesystem_writes.paths, ["/tmp/x", "/var/cache/a"]);
        assert_eq!(ab.root_filesystem_writes.count, 2);
        assert_eq!(ab.privilege_gain.len(), 1);
        assert_eq!(ab.check(2), Ok(()));
        assert_eq!(ab.check(1).unwrap_err().0, "watched_in");
    }

    #[test]
    fn root_filesystem_paths_are_capped_and_marked_truncated() {
        let names: Vec<String> = (0..12).map(|i| format!("/a/{i:02}")).collect();
        let more: Vec<String> = (0..12).map(|i| format!("/b/{i:02}")).collect();
        let a = MergedSecurity::from_facts(&run(
            vec![],
            vec![],
            false,
            &names.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        let b = MergedSecurity::from_facts(&run(
            vec![],
            vec![],
            false,
            &more.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        let ab = a.merge(&b);
        assert_eq!(
            ab.root_filesystem_writes.paths.len(),
            MAX_ROOT_FILESYSTEM_PATHS
        );
        assert!(ab.root_filesystem_writes.truncated);
        assert_eq!(ab.root_filesystem_writes.count, 24);
        assert!(!a.merge(&a).root_filesystem_writes.truncated);
    }

    #[test]
    fn one_unobserved_run_leaves_the_merge_unobserved() {
        let seen = MergedSecurity::from_facts(&run(vec![], vec![], false, &[]));
        let mut facts = run(vec![], vec![], false, &[]);
        facts.root_filesystem_writes.unobserved = Some("no upper dir".into());
        let unseen = MergedSecurity::from_facts(&facts);
        for merged in [seen.merge(&unseen), unseen.merge(&seen)] {
            assert_eq!(
                merged.root_filesystem_writes.unobserved.as_deref(),
                Some("no upper dir")
            );
        }
        assert_eq!(seen.merge(&seen).root_filesystem_writes.unobserved, None);
    }

    #[test]
    fn coverage_past_the_watched_runs_is_refused_by_field() {
        let mut a =
            MergedSecurity::from_facts(&run(vec![cap("CAP_CHOWN", 1, true)], vec![0], true, &[]));
        a.capabilities[0].needed_in = 2;
        assert_eq!(a.check(3).unwrap_err().0, "capabilities[0].needed_in");
    }
}
