//! What a workload needed from the kernel besides syscalls, as the recorder saw it: the
//! capabilities it exercised, the identities it ran as, what it wrote on its root filesystem,
//! and the privilege it gained through exec. A recording carries these facts in its optional
//! `security` object; `generate` turns them into a `securityContext`.
//!
//! The recorder judges each capability once, in the kernel's own order of checks (which probes
//! do not matter, which failed check a sibling capability made up for), and writes the verdict
//! as `needed`; the counts stay so a reader can see the evidence.

use serde::{Deserialize, Serialize};

/// Root filesystem paths a recording keeps, at most; `count` goes on counting past them.
pub const MAX_ROOT_FILESYSTEM_PATHS: usize = 16;

/// Everything besides syscalls that one recording saw the workload need.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityFacts {
    /// Every capability the kernel checked for the workload, sorted by name, one entry each.
    pub capabilities: Vec<CapabilityUse>,
    /// The identities the workload ran as, and whether it used root.
    pub identity: Identity,
    /// What it changed on its container's root filesystem (not on volumes or tmpfs mounts).
    pub root_filesystem_writes: RootFilesystemWrites,
    /// Programs it executed that raised its privilege, sorted by path; empty when none did.
    pub privilege_gain: Vec<PrivilegeGain>,
}

/// One capability the kernel checked for the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityUse {
    /// The capability's name as the runtime spec writes it, e.g. `CAP_NET_BIND_SERVICE`.
    pub name: String,
    /// Checks that succeeded (not counting `noaudit` probes).
    pub granted: u64,
    /// Checks that failed (not counting `noaudit` probes).
    pub denied: u64,
    /// Checks the kernel made without auditing (`CAP_OPT_NOAUDIT`): probes whose result only
    /// tunes behaviour, never a need.
    pub noaudit: u64,
    /// The recorder's verdict: the workload relied on this capability (a granted check that was
    /// neither a probe nor made redundant by a sibling capability).
    pub needed: bool,
}

/// The identities the workload ran as.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Effective user ids seen, sorted, each once.
    pub uids: Vec<u32>,
    /// Effective group ids seen, sorted, each once.
    pub gids: Vec<u32>,
    /// Whether the workload used root for something: a needed capability granted while its
    /// effective uid was 0, or a change of its uids or gids.
    pub root_used: bool,
}

/// Changes to the root filesystem: creating, writing, renaming or deleting.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootFilesystemWrites {
    /// How many changes were seen.
    pub count: u64,
    /// The paths of the first changes (at most [`MAX_ROOT_FILESYSTEM_PATHS`]), as the container
    /// sees them, sorted, each once.
    pub paths: Vec<String>,
    /// Whether more paths were changed than `paths` holds.
    pub truncated: bool,
    /// Why changes may have gone unseen, when they may have: the root's filesystem was one
    /// the recorder could not watch (an overlay whose upper directory it could not read, for
    /// one). Then `count` 0 does not mean the root was not written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unobserved: Option<String>,
}

/// A program whose exec gave the workload privilege it did not have.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivilegeGain {
    /// The program's path as the container sees it.
    pub path: String,
    /// How it raised privilege.
    pub kind: PrivilegeGainKind,
}

/// How an exec raised privilege; each needs `no_new_privs` off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivilegeGainKind {
    /// A set-user-ID program.
    Setuid,
    /// A set-group-ID program.
    Setgid,
    /// A program with file capabilities.
    FileCapabilities,
}

impl SecurityFacts {
    /// Checks what the types cannot; the error is `(field below security, what was expected)`.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (index, cap) in self.capabilities.iter().enumerate() {
            if serde_json::from_value::<oci_spec::runtime::Capability>(serde_json::Value::String(
                cap.name.clone(),
            ))
            .is_err()
            {
                return Err((
                    format!("capabilities[{index}].name"),
                    format!(
                        "{:?} is not a capability, expected a name such as CAP_NET_BIND_SERVICE",
                        cap.name
                    ),
                ));
            }
            if index > 0 && self.capabilities[index - 1].name >= cap.name {
                return Err((
                    format!("capabilities[{index}].name"),
                    "expected capabilities sorted by name, each once".to_owned(),
                ));
            }
        }
        strictly_sorted(&self.identity.uids, "identity.uids")?;
        strictly_sorted(&self.identity.gids, "identity.gids")?;
        let writes = &self.root_filesystem_writes;
        strictly_sorted(&writes.paths, "root_filesystem_writes.paths")?;
        if writes.paths.len() > MAX_ROOT_FILESYSTEM_PATHS {
            return Err((
                "root_filesystem_writes.paths".to_owned(),
                format!("expected at most {MAX_ROOT_FILESYSTEM_PATHS} paths"),
            ));
        }
        if (writes.paths.len() as u64) > writes.count {
            return Err((
                "root_filesystem_writes.count".to_owned(),
                "expected at least as many changes as paths".to_owned(),
            ));
        }
        strictly_sorted(&self.privilege_gain, "privilege_gain")?;
        Ok(())
    }

    /// The capabilities the workload needed, by name, sorted.
    pub fn needed_capabilities(&self) -> impl Iterator<Item = &str> {
        self.capabilities
            .iter()
            .filter(|c| c.needed)
            .map(|c| c.name.as_str())
    }
}

fn strictly_sorted<T: Ord>(items: &[T], field: &str) -> Result<(), (String, String)> {
    match items.windows(2).position(|pair| pair[0] >= pair[1]) {
        None => Ok(()),
        Some(at) => Err((
            format!("{field}[{}]", at + 1),
            "expected sorted values, each once".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> SecurityFacts {
        SecurityFacts {
            capabilities: vec![
                CapabilityUse {
                    name: "CAP_NET_BIND_SERVICE".into(),
                    granted: 1,
                    denied: 0,
                    noaudit: 0,
                    needed: true,
                },
                CapabilityUse {
                    name: "CAP_SYS_ADMIN".into(),
                    granted: 0,
                    denied: 0,
                    noaudit: 3,
                    needed: false,
                },
            ],
            identity: Identity {
                uids: vec![0, 33],
                gids: vec![0, 33],
                root_used: true,
            },
            root_filesystem_writes: RootFilesystemWrites {
                count: 2,
                paths: vec!["/var/cache/app/a".into()],
                truncated: false,
                unobserved: None,
            },
            privilege_gain: vec![],
        }
    }

    #[test]
    fn well_formed_facts_pass_and_list_needed_capabilities() {
        let facts = facts();
        assert_eq!(facts.check(), Ok(()));
        assert_eq!(
            facts.needed_capabilities().collect::<Vec<_>>(),
            ["CAP_NET_BIND_SERVICE"]
        );
    }

    #[test]
    fn unknown_or_unsorted_capabilities_are_refused_by_field() {
        let mut bad = facts();
        bad.capabilities[0].name = "CAP_FLY".into();
        assert_eq!(bad.check().unwrap_err().0, "capabilities[0].name");
        let mut unsorted = facts();
        unsorted.capabilities.reverse();
        assert_eq!(unsorted.check().unwrap_err().0, "capabilities[1].name");
    }

    #[test]
    fn unsorted_ids_and_paths_are_refused_by_field() {
        let mut bad = facts();
        bad.identity.uids = vec![33, 0];
        assert_eq!(bad.check().unwrap_err().0, "identity.uids[1]");
        let mut bad = facts();
        bad.root_filesystem_writes.count = 0;
        assert_eq!(bad.check().unwrap_err().0, "root_filesystem_writes.count");
    }

    #[test]
    fn unobserved_root_writes_are_written_only_when_set_and_read_back() {
        let seen = facts();
        let text = serde_json::to_string(&seen).unwrap();
        assert!(!text.contains("unobserved"), "{text}");
        let mut unseen = facts();
        unseen.root_filesystem_writes.unobserved = Some("overlay upper dir unreadable".into());
        let text = serde_json::to_string(&unseen).unwrap();
        assert!(
            text.contains(r#""unobserved":"overlay upper dir unreadable""#),
            "{text}"
        );
        let back: SecurityFacts = serde_json::from_str(&text).unwrap();
        assert_eq!(back, unseen);
    }
}
