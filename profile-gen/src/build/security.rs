//! The security facts of a set of inputs, united: what `generate` turns into a
//! `securityContext` or a runtime-spec `process` fragment.
//!
//! A fact is claimed only when every run the inputs hold was watched for it: one run recorded
//! without security facts might have needed root or a capability, so then nothing is claimed
//! and the inputs without facts are named. Profiles say nothing about capabilities or identity
//! and are left out; inputs that are all profiles observe nothing.

use crate::formats::input::{Content, Input};
use crate::model::merged_security::MergedSecurity;

/// The united facts of every recording among `inputs`, or the origins of the inputs that lack
/// them (every input, when none is a recording with facts).
pub fn observed_security(inputs: &[Input]) -> Result<MergedSecurity, Vec<String>> {
    let mut united: Option<MergedSecurity> = None;
    let mut missing = Vec::new();
    for input in inputs {
        let facts = match &input.content {
            Content::Recording(rec) => rec.security.as_ref().map(MergedSecurity::from_facts),
            Content::Merged(merged) => merged
                .security
                .clone()
                .filter(|s| s.watched_in == merged.runs.len() as u64),
            Content::Profile(_) => continue,
        };
        match facts {
            Some(facts) => {
                united = Some(match united {
                    Some(so_far) => so_far.merge(&facts),
                    None => facts,
                })
            }
            None => missing.push(input.origin.clone()),
        }
    }
    match united {
        Some(facts) if missing.is_empty() => Ok(facts),
        _ if missing.is_empty() => Err(inputs.iter().map(|i| i.origin.clone()).collect()),
        _ => Err(missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::input::InputKind;
    use crate::model::merged::MergedRecording;
    use crate::model::recording::Recording;
    use crate::model::security::{Identity, SecurityFacts};

    fn recording(security: Option<SecurityFacts>) -> Recording {
        let mut rec =
            Recording::from_json(include_str!("../../tests/fixtures/recording-v1.json"), "r")
                .unwrap();
        rec.security = security;
        rec
    }

    fn input(origin: &str, content: Content) -> Input {
        Input {
            origin: origin.to_owned(),
            kind: InputKind::Recording,
            content,
            warnings: Vec::new(),
        }
    }

    fn facts(uid: u32) -> SecurityFacts {
        SecurityFacts {
            identity: Identity {
                uids: vec![uid],
                gids: vec![uid],
                root_used: false,
            },
            ..SecurityFacts::default()
        }
    }

    #[test]
    fn facts_of_every_recording_are_united() {
        let a = input(
            "a",
            Content::Recording(Box::new(recording(Some(facts(1000))))),
        );
        let merged = MergedRecording::from_recording(&recording(Some(facts(33))));
        let b = input("b", Content::Merged(merged));
        let united = observed_security(&[a, b]).unwrap();
        assert_eq!(united.watched_in, 2);
        assert_eq!(united.identity.uids, [33, 1000]);
    }

    #[test]
    fn one_unwatched_run_means_nothing_is_claimed() {
        let a = input(
            "a",
            Content::Recording(Box::new(recording(Some(facts(1000))))),
        );
        let old = input("old", Content::Recording(Box::new(recording(None))));
        assert_eq!(observed_security(&[a, old]).unwrap_err(), ["old"]);
        let watched = MergedRecording::from_recording(&recording(Some(facts(1))));
        let unwatched = MergedRecording::from_recording(&recording(None));
        let partial = watched.merge(&unwatched, "x").unwrap();
        assert_eq!(partial.security.as_ref().unwrap().watched_in, 1);
        let m = input("m", Content::Merged(partial));
        assert_eq!(observed_security(&[m]).unwrap_err(), ["m"]);
    }
}
