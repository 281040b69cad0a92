//! A container's whole Kubernetes `securityContext`, from what the workload was seen doing
//! (the recordings' security facts, [`MergedSecurity`]), with the comments that give each
//! field's evidence and compare it with the Pod Security Standards' *restricted* level.
//!
//! Each field follows one fact:
//! - `seccompProfile`: the Localhost profile generated with it.
//! - `capabilities`: `drop: [ALL]`, and `add` exactly the capabilities some run needed, sorted,
//!   without the `CAP_` prefix Kubernetes leaves out.
//! - `runAsNonRoot: true` when no run used root. When a run ran as uid 0 without using it,
//!   `runAsUser` is the non-root uid seen (the one the workload dropped to), or a comment asks
//!   for one: the kubelet refuses to start an image whose user is root under `runAsNonRoot`.
//! - `allowPrivilegeEscalation: false` unless a run gained privilege through exec (setuid,
//!   setgid or file capabilities), which `no_new_privs` would stop.
//! - `readOnlyRootFilesystem: true` unless a run wrote the root filesystem; then a comment names
//!   the directories to mount as `emptyDir`.
//!
//! Without facts (recordings made without watching these, or profiles only) only
//! `seccompProfile` is written, with a comment saying the rest was not observed: claiming
//! `runAsNonRoot` or a capability set nobody watched could break the workload.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Capabilities, SeccompProfile, SecurityContext};

use crate::model::merged_security::MergedSecurity;
use crate::model::security::PrivilegeGainKind;

/// The only capability the *restricted* level lets a container add.
pub const RESTRICTED_ADDABLE: &str = "NET_BIND_SERVICE";

/// What the security facts are for one output: the facts of every run, or the inputs that
/// carried none (so nothing beyond seccomp is claimed).
#[derive(Debug, Clone, Copy)]
pub enum Evidence<'a> {
    /// The facts of every run the inputs hold.
    Observed { facts: &'a MergedSecurity },
    /// Not observed; the inputs without facts, by origin.
    NotObserved { origins: &'a [String] },
}

/// A `securityContext` and the comment lines (without `#`) that explain it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSecurity {
    pub context: SecurityContext,
    pub comments: Vec<String>,
}

/// The capability's name as Kubernetes writes it: without `CAP_`.
pub fn kubernetes_capability(name: &str) -> &str {
    name.strip_prefix("CAP_").unwrap_or(name)
}

/// The directories holding `paths`, each once, sorted: where an `emptyDir` would go.
pub fn written_directories(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|path| match path.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(at) => path[..at].to_owned(),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The `securityContext` for a container using the Localhost profile `localhost_profile`.
pub fn container_security_context(
    localhost_profile: &str,
    evidence: Evidence<'_>,
) -> ContainerSecurity {
    let seccomp = SeccompProfile {
        type_: "Localhost".to_owned(),
        localhost_profile: Some(localhost_profile.to_owned()),
    };
    let facts = match evidence {
        Evidence::NotObserved { origins } => {
            return ContainerSecurity {
                context: SecurityContext {
                    seccomp_profile: Some(seccomp),
                    ..SecurityContext::default()
                },
                comments: vec![
                    format!(
                        "Only seccompProfile is set: capabilities, identity, root filesystem \
                         writes and privilege gain were not observed in {}.",
                        if origins.is_empty() {
                            "the inputs".to_owned()
                        } else {
                            origins.join(", ")
                        }
                    ),
                    "Record with a syscage that watches them to get the rest of the \
                     securityContext (capabilities, runAsNonRoot, allowPrivilegeEscalation, \
                     readOnlyRootFilesystem)."
                        .to_owned(),
                ],
            }
        }
        Evidence::Observed { facts } => facts,
    };

    let runs = facts.watched_in;
    let mut comments = vec![format!(
        "From what the workload did in {runs} recorded run{}:",
        if runs == 1 { "" } else { "s" }
    )];
    let mut violations = Vec::new();

    let add: Vec<String> = facts
        .needed_capabilities()
        .map(|name| kubernetes_capability(name).to_owned())
        .collect();
    if add.is_empty() {
        comments.push("capabilities: none was needed, so all are dropped.".to_owned());
    } else {
        comments.push(format!(
            "capabilities: drop all, add back the ones needed: {}.",
            add.join(", ")
        ));
    }
    let beyond: Vec<&str> = add
        .iter()
        .map(String::as_str)
        .filter(|c| *c != RESTRICTED_ADDABLE)
        .collect();
    if !beyond.is_empty() {
        violations.push(format!(
            "capabilities.add has {} (restricted allows only {RESTRICTED_ADDABLE})",
            beyond.join(", ")
        ));
    }

    let root_seen = facts.identity.uids.contains(&0);
    let non_root_uid = facts.identity.uids.iter().copied().find(|uid| *uid != 0);
    let (run_as_non_root, run_as_user) = if facts.root_used() {
        comments.push(
            "runAsNonRoot: not set, the workload used root (a capability granted as uid 0, or a \
             change of uid or gid)."
                .to_owned(),
        );
        violations.push("runAsNonRoot is not true (root was used)".to_owned());
        (None, None)
    } else if root_seen {
        match non_root_uid {
            Some(uid) => {
                comments.push(format!(
                    "runAsNonRoot: it ran as uid 0 without using root; runAsUser is the non-root \
                     uid seen ({uid})."
                ));
                (Some(true), Some(i64::from(uid)))
            }
            None => {
                comments.push(
                    "runAsNonRoot: it ran as uid 0 without using root; choose a non-root uid \
                     and set runAsUser to it (the image's user is root, so the kubelet refuses \
                     to start it under runAsNonRoot alone)."
                        .to_owned(),
                );
                (Some(true), None)
            }
        }
    } else {
        comments.push("runAsNonRoot: root was neither run as nor used.".to_owned());
        (Some(true), None)
    };

    let allow_privilege_escalation = if facts.privilege_gain.is_empty() {
        comments.push(
            "allowPrivilegeEscalation: false, no exec gained privilege (setuid, setgid or file \
             capabilities)."
                .to_owned(),
        );
        Some(false)
    } else {
        let gains: Vec<String> = facts
            .privilege_gain
            .iter()
            .map(|g| {
                let kind = match g.kind {
                    PrivilegeGainKind::Setuid => "setuid",
                    PrivilegeGainKind::Setgid => "setgid",
                    PrivilegeGainKind::FileCapabilities => "file capabilities",
                };
                format!("{} ({kind})", g.path)
            })
            .collect();
        comments.push(format!(
            "allowPrivilegeEscalation: not set, privilege was gained through exec of {}.",
            gains.join(", ")
        ));
        violations.push("allowPrivilegeEscalation is not false (privilege was gained)".to_owned());
        None
    };

    let writes = &facts.root_filesystem_writes;
    let read_only_root_filesystem = if let (0, Some(why)) = (writes.count, &writes.unobserved) {
        // No write seen is not no write made: advising a read-only root the recorder could not
        // watch would break the workload where it runs.
        comments.push(format!(
            "readOnlyRootFilesystem: not set, root filesystem writes could not be observed \
             ({why}); record again where they can be before making the root read-only."
        ));
        None
    } else if writes.count == 0 {
        comments
            .push("readOnlyRootFilesystem: true, the root filesystem was not written.".to_owned());
        Some(true)
    } else {
        let dirs = written_directories(&writes.paths);
        comments.push(format!(
            "readOnlyRootFilesystem: not set, the root filesystem was written {} time{}{}; to \
             make it read-only, mount an emptyDir at: {}{}.",
            writes.count,
            if writes.count == 1 { "" } else { "s" },
            if writes.paths.is_empty() {
                String::new()
            } else {
                format!(" ({})", writes.paths.join(", "))
            },
            if dirs.is_empty() {
                "the directories written".to_owned()
            } else {
                dirs.join(", ")
            },
            if writes.truncated {
                " and the directories of the writes past the first paths kept"
            } else {
                ""
            }
        ));
        None
    };

    comments.push(
        "The Pod Security Standards' restricted level requires: capabilities.drop [ALL] (add at \
         most NET_BIND_SERVICE), runAsNonRoot: true, allowPrivilegeEscalation: false, \
         seccompProfile RuntimeDefault or Localhost (readOnlyRootFilesystem is not required)."
            .to_owned(),
    );
    if violations.is_empty() {
        comments.push("This securityContext meets the restricted level.".to_owned());
    } else {
        comments.push(format!(
            "This workload would violate it: {}.",
            violations.join("; ")
        ));
    }

    ContainerSecurity {
        context: SecurityContext {
            allow_privilege_escalation,
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: (!add.is_empty()).then_some(add),
            }),
            read_only_root_filesystem,
            run_as_non_root,
            run_as_user,
            seccomp_profile: Some(seccomp),
            ..SecurityContext::default()
        },
        comments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::security::{
        CapabilityUse, Identity, PrivilegeGain, RootFilesystemWrites, SecurityFacts,
    };
    use serde_json::{json, Value};

    fn cap(name: &str, needed: bool) -> CapabilityUse {
        CapabilityUse {
            name: name.into(),
            granted: u64::from(needed),
            denied: 0,
            noaudit: u64::from(!needed),
            needed,
        }
    }

    pub(crate) fn facts(
        caps: Vec<CapabilityUse>,
        uids: Vec<u32>,
        root_used: bool,
        paths: &[&str],
    ) -> MergedSecurity {
        MergedSecurity::from_facts(&SecurityFacts {
            capabilities: caps,
            identity: Identity {
                uids: uids.clone(),
                gids: uids,
                root_used,
            },
            root_filesystem_writes: RootFilesystemWrites {
                count: paths.len() as u64,
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
                truncated: false,
                unobserved: None,
            },
            privilege_gain: vec![],
        })
    }

    fn json_of(security: &ContainerSecurity) -> Value {
        serde_json::to_value(&security.context).unwrap()
    }

    #[test]
    fn a_workload_needing_nothing_gets_the_restricted_context() {
        let f = facts(vec![cap("CAP_SYS_ADMIN", false)], vec![1000], false, &[]);
        let sc = container_security_context("profiles/a.json", Evidence::Observed { facts: &f });
        assert_eq!(
            json_of(&sc),
            json!({
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
                "readOnlyRootFilesystem": true,
                "runAsNonRoot": true,
                "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/a.json"}
            })
        );
        assert_eq!(
            sc.comments.last().unwrap(),
            "This securityContext meets the restricted level."
        );
    }

    #[test]
    fn a_server_that_binds_as_root_and_drops_keeps_its_capabilities_and_not_run_as_non_root() {
        let f = facts(
            vec![
                cap("CAP_NET_BIND_SERVICE", true),
                cap("CAP_SETGID", true),
                cap("CAP_SETUID", true),
                cap("CAP_SYS_ADMIN", false),
            ],
            vec![0, 33],
            true,
            &[],
        );
        let sc = container_security_context("p.json", Evidence::Observed { facts: &f });
        let value = json_of(&sc);
        assert_eq!(
            value["capabilities"],
            json!({"add": ["NET_BIND_SERVICE", "SETGID", "SETUID"], "drop": ["ALL"]})
        );
        assert!(value.get("runAsNonRoot").is_none());
        assert!(value.get("runAsUser").is_none());
        let last = sc.comments.last().unwrap();
        assert!(
            last.contains("capabilities.add has SETGID, SETUID"),
            "{last}"
        );
        assert!(last.contains("runAsNonRoot is not true"), "{last}");
    }

    #[test]
    fn root_run_as_but_unused_gets_the_non_root_uid_seen_or_a_comment() {
        let f = facts(vec![], vec![0, 101], false, &[]);
        let sc = container_security_context("p.json", Evidence::Observed { facts: &f });
        assert_eq!(json_of(&sc)["runAsUser"], 101);
        assert_eq!(json_of(&sc)["runAsNonRoot"], true);

        let f = facts(vec![], vec![0], false, &[]);
        let sc = container_security_context("p.json", Evidence::Observed { facts: &f });
        assert!(json_of(&sc).get("runAsUser").is_none());
        assert!(
            sc.comments
                .iter()
                .any(|c| c.contains("choose a non-root uid")),
            "{:?}",
            sc.comments
        );
    }

    #[test]
    fn root_filesystem_writes_name_the_directories_for_empty_dirs() {
        let f = facts(
            vec![],
            vec![1000],
            false,
            &["/var/cache/app/index", "/var/cache/app/tmp", "/run/app.pid"],
        );
        let sc = container_security_context("p.json", Evidence::Observed { facts: &f });
        assert!(json_of(&sc).get("readOnlyRootFilesystem").is_none());
        assert!(
            sc.comments
                .iter()
                .any(|c| c.contains("mount an emptyDir at: /run, /var/cache/app.")),
            "{:?}",
            sc.comments
        );
    }

    #[test]
    fn unobserved_root_filesystem_writes_leave_the_root_writable() {
        let mut f = facts(vec![], vec![1000], false, &[]);
        f.root_filesystem_writes.unobserved = Some("the overlay upper dir was gone".into());
        let sc = container_security_context("p.json", Evidence::Observed { facts: &f });
        assert!(json_of(&sc).get("readOnlyRootFilesystem").is_none());
        assert!(
            sc.comments
                .iter()
                .any(|c| c.contains("could not be observed (the overlay upper dir was gone)")),
            "{:?}",
            sc.comments
        );
    }

    #[test]
    fn privilege_gain_leaves_escalation_allowed() {
        let mut f = facts(vec![], vec![1000], false, &[]);
        f.privilege_gain = vec![PrivilegeGain {
            path: "/usr/bin/ping".into(),
            kind: PrivilegeGainKind::FileCapabilities,
        }];
        let sc = container_security_context("p.json", Evidence::Observed { facts: &f });
        assert!(json_of(&sc).get("allowPrivilegeEscalation").is_none());
        assert!(sc
            .comments
            .last()
            .unwrap()
            .contains("allowPrivilegeEscalation is not false"));
    }

    #[test]
    fn without_facts_only_seccomp_is_claimed() {
        let origins = ["old.recording.json".to_owned()];
        let sc = container_security_context("p.json", Evidence::NotObserved { origins: &origins });
        assert_eq!(
            json_of(&sc),
            json!({"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}})
        );
        assert!(sc.comments[0].contains("not observed in old.recording.json"));
    }
}
