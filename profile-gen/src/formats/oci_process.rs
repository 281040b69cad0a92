//! The runtime-spec `process` fragment for non-Kubernetes users: the capability sets and
//! `noNewPrivileges` the recordings support, ready to paste into a bundle's `config.json`.
//!
//! - `bounding`, `permitted` and `effective` hold exactly the capabilities some run needed;
//!   `inheritable` and `ambient` are empty, so nothing passes to programs the workload executes
//!   beyond what runc gives a root process.
//! - `noNewPrivileges` is `true` unless a run gained privilege through exec (setuid, setgid or
//!   file capabilities), which it would stop.
//!
//! The sets are written sorted (oci-spec keeps them in hash sets), so the output is stable.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};
use serde_json::{json, Value};
use thiserror::Error;

use crate::model::merged_security::MergedSecurity;

/// Writing the fragment.
#[derive(Debug, Error)]
pub enum OciProcessError {
    /// The inputs carry no security facts, so no capability set can be claimed.
    #[error(
        "{}: recorded without security facts (capabilities, identity, privilege gain), \
         expected recordings that carry them for --format oci-process",
        origins.join(", ")
    )]
    NotObserved { origins: Vec<String> },

    /// A capability name oci-spec does not know (checked when the recording was read).
    #[error("security.capabilities: {name:?} is not a capability oci-spec knows")]
    Capability { name: String },
}

/// The fragment and what the user should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessFragment {
    /// `{"process": {"capabilities": ..., "noNewPrivileges": ...}}`, pretty, with a trailing
    /// newline.
    pub json: String,
    /// One line each, for the user.
    pub notes: Vec<String>,
}

/// The fragment for `facts`.
pub fn process_fragment(facts: &MergedSecurity) -> Result<ProcessFragment, OciProcessError> {
    let needed: Capabilities = facts
        .needed_capabilities()
        .map(|name| {
            serde_json::from_value::<Capability>(Value::String(name.to_owned())).map_err(|_| {
                OciProcessError::Capability {
                    name: name.to_owned(),
                }
            })
        })
        .collect::<Result<_, _>>()?;
    let mut capabilities = LinuxCapabilities::default();
    capabilities
        .set_bounding(Some(needed.clone()))
        .set_effective(Some(needed.clone()))
        .set_permitted(Some(needed))
        .set_inheritable(Some(Capabilities::new()))
        .set_ambient(Some(Capabilities::new()));
    let mut capabilities = serde_json::to_value(&capabilities)
        .expect("capability sets are lists of strings, which always serialise");
    for set in capabilities
        .as_object_mut()
        .into_iter()
        .flat_map(|o| o.values_mut())
    {
        if let Some(names) = set.as_array_mut() {
            names.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    let no_new_privileges = facts.privilege_gain.is_empty();
    let mut notes = Vec::new();
    if !no_new_privileges {
        let paths: Vec<&str> = facts
            .privilege_gain
            .iter()
            .map(|g| g.path.as_str())
            .collect();
        notes.push(format!(
            "noNewPrivileges is false: privilege was gained through exec of {}",
            paths.join(", ")
        ));
    }
    let non_root = facts.identity.uids.iter().any(|uid| *uid != 0) && !facts.root_used();
    if non_root && facts.needed_capabilities().next().is_some() {
        notes.push(
            "the workload ran as a non-root uid: if process.user is not root, add the same \
             capabilities to inheritable and ambient, or they are lost at exec"
                .to_owned(),
        );
    }
    let fragment = json!({
        "process": {
            "capabilities": capabilities,
            "noNewPrivileges": no_new_privileges,
        }
    });
    let mut text = serde_json::to_string_pretty(&fragment)
        .expect("the fragment holds strings, lists and a bool");
    text.push('\n');
    Ok(ProcessFragment { json: text, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::merged_security::{MergedCapability, MergedIdentity};
    use crate::model::security::{PrivilegeGain, PrivilegeGainKind};

    fn facts(caps: &[(&str, u64)]) -> MergedSecurity {
        MergedSecurity {
            watched_in: 1,
            capabilities: caps
                .iter()
                .map(|(name, needed_in)| MergedCapability {
                    name: (*name).to_owned(),
                    granted: 1,
                    denied: 0,
                    noaudit: 0,
                    needed_in: *needed_in,
                })
                .collect(),
            identity: MergedIdentity {
                uids: vec![0, 33],
                gids: vec![0, 33],
                root_used_in: 1,
            },
            ..MergedSecurity::default()
        }
    }

    #[test]
    fn the_fragment_holds_exactly_the_needed_capabilities_sorted() {
        let f = facts(&[
            ("CAP_NET_BIND_SERVICE", 1),
            ("CAP_SETGID", 1),
            ("CAP_SETUID", 1),
            ("CAP_SYS_ADMIN", 0),
        ]);
        let fragment = process_fragment(&f).unwrap();
        let value: Value = serde_json::from_str(&fragment.json).unwrap();
        let needed = json!(["CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"]);
        assert_eq!(
            value,
            json!({"process": {
                "capabilities": {
                    "bounding": needed, "effective": needed, "permitted": needed,
                    "inheritable": [], "ambient": []
                },
                "noNewPrivileges": true
            }})
        );
        // Stable text: the same facts give the same bytes.
        assert_eq!(process_fragment(&f).unwrap().json, fragment.json);
        assert!(fragment.notes.is_empty());
        // It reads back as the runtime spec's type.
        let caps: LinuxCapabilities =
            serde_json::from_value(value["process"]["capabilities"].clone()).unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 3);
    }

    #[test]
    fn privilege_gain_turns_no_new_privileges_off() {
        let mut f = facts(&[]);
        f.privilege_gain = vec![PrivilegeGain {
            path: "/usr/bin/sudo".into(),
            kind: PrivilegeGainKind::Setuid,
        }];
        let fragment = process_fragment(&f).unwrap();
        let value: Value = serde_json::from_str(&fragment.json).unwrap();
        assert_eq!(value["process"]["noNewPrivileges"], false);
        assert_eq!(value["process"]["capabilities"]["bounding"], json!([]));
        assert!(fragment.notes[0].contains("/usr/bin/sudo"));
    }
}
