//! Merged recordings: the union of several recordings of one workload (replicas, test runs),
//! with how many of them saw each syscall.
//!
//! A merged recording is its own versioned document (`"format": "syscage-merged-recording"`,
//! described in `RECORDING_FORMAT.md`), so that a plain recording keeps meaning "one run":
//!
//! ```json
//! {
//!   "format": "syscage-merged-recording",
//!   "version": 1,
//!   "syscage_version": "0.1.0",
//!   "arch": "SCMP_ARCH_X86_64",
//!   "runs": [
//!     {"command": ["/app"], "started_at": "...", "ended_at": "...", "kernel_release": "6.1.0",
//!      "machine": "x86_64", "exit": {"code": 0}, "syscage_version": "0.1.0"}
//!   ],
//!   "syscalls": [
//!     {"nr": 0, "name": "read", "count": 812, "first_seen_us": 35, "seen_in": 2},
//!     {"nr": 56, "name": "clone", "count": 9, "first_seen_us": 70, "seen_in": 2,
//!      "args": {"indexes": [0], "values": [[17], [4001536]], "overflow": false}},
//!     {"nr": 20, "name": "getpid", "count": 1, "first_seen_us": 90, "seen_in": 1,
//!      "arch": "SCMP_ARCH_X86"}
//!   ],
//!   "out_of_range_count": 0
//! }
//! ```
//!
//! - `runs` holds the header of every recording merged in, sorted, so merging is commutative and
//!   associative: merging merged recordings concatenates their runs.
//! - `syscalls` has one entry per (`arch`, `nr`), as recordings do: the native calls (no
//!   `arch`) by number, then each compat architecture's (`SCMP_ARCH_X86` on x86_64) by number.
//!   `count` is the sum over the runs, `first_seen_us` the earliest, and `seen_in` how many runs
//!   saw the syscall (1 to the number of runs): the coverage. A syscall seen in fewer runs than
//!   there are is one that some runs never reached.
//! - `args` is the union of the runs' argument values; it is marked `overflow` (incomplete, so
//!   profiles do not restrict the arguments) when any run's was, when a run saw the syscall
//!   without recording its arguments, or past [`crate::model::arg_values::MAX_MERGED_VALUES`] tuples.
//! - Merging a recording with itself counts it twice, as two replicas would; the syscall set, and
//!   so the generated profile, stay the same (merge is idempotent on what it allows).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use libseccomp::ScmpArch;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::error::{deserialize_at, json_kind, FieldPath};
use crate::model::arch::{parse_arch_name, sub_arches};
use crate::model::arg_values::{normalized, union_optional};
use crate::model::merged_security::{self, MergedSecurity};
use crate::model::recording::{
    ArgsSeen, ExitInfo, Recording, RecordingError, RecordingSource, SyscallRecord, Target,
    SYSCAGE_VERSION,
};
use crate::model::syscalls::syscall_name;

/// The value of every merged recording's `format` field.
pub const MERGED_FORMAT: &str = "syscage-merged-recording";

/// The merged-recording format version this syscage writes and reads.
pub const MERGED_VERSION: u32 = 1;

/// A merged recording; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedRecording {
    /// Always [`MERGED_FORMAT`].
    pub format: String,
    /// [`MERGED_VERSION`].
    pub version: u32,
    /// Version of the syscage that merged.
    pub syscage_version: String,
    /// The runtime-spec arch of every run's numbers.
    pub arch: String,
    /// One header per recording merged in, sorted.
    pub runs: Vec<Run>,
    /// Syscalls seen in any run, sorted by (`arch`, number), native ones first.
    pub syscalls: Vec<MergedSyscall>,
    /// The sum of the runs' `out_of_range_count`.
    pub out_of_range_count: u64,
    /// The runs' security facts united, with coverage (`model::merged_security`); absent
    /// when no run carried any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<MergedSecurity>,
}

/// The header of one recording that went into a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Run {
    pub started_at: String,
    pub ended_at: String,
    pub command: Option<Vec<String>>,
    pub kernel_release: String,
    pub machine: String,
    pub exit: Option<ExitInfo>,
    pub syscage_version: String,
    /// What was recorded besides a command (a cgroup or container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// The recording's `source`: absent for a traced run, `seccomp-log` for an audit's (which
    /// lists only what its profile logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RecordingSource>,
}

impl Run {
    /// The order of `runs`: by start, then by everything else (as JSON, so any field counts).
    fn sort_key(&self) -> (String, String) {
        (
            self.started_at.clone(),
            serde_json::to_string(self).unwrap_or_default(),
        )
    }
}

/// One syscall number of a merged recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedSyscall {
    pub nr: u32,
    pub name: Option<String>,
    /// Calls over all runs.
    pub count: u64,
    /// The earliest first sighting over the runs, in microseconds from each run's start.
    pub first_seen_us: u64,
    /// How many runs saw it.
    pub seen_in: u64,
    /// Container recordings: seen only in the runtime's setup before its seccomp filter was
    /// loaded, in every run that saw it, so the profile leaves it out (see
    /// [`SyscallRecord::needed_under_filter`]). Written only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub before_filter_only: bool,
    /// The architecture whose table `nr` is from, when it is not the merged recording's: a
    /// 32-bit compat call (as in recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The union of the runs' argument values (see the module documentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<ArgsSeen>,
}

impl MergedSyscall {
    /// The key entries are unique and sorted by: native calls (no `arch`) first.
    fn key(&self) -> (Option<String>, u32) {
        (self.arch.clone(), self.nr)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Merging, or reading a merged recording.
#[derive(Debug, Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("merge needs at least one recording")]
    Empty,

    /// Recordings of different architectures have numbers that mean different syscalls.
    #[error(
        "{origin}: arch: {found}, expected {expected} like the recordings before it; \
         recordings of different architectures cannot be merged"
    )]
    ArchMismatch {
        origin: String,
        found: String,
        expected: String,
    },

    /// The file could not be read.
    #[error("{origin}: cannot read: {cause}")]
    Read {
        origin: String,
        cause: std::io::Error,
    },

    /// The text is not JSON.
    #[error("{origin}: not JSON: {cause}")]
    NotJson {
        origin: String,
        cause: serde_json::Error,
    },

    /// A field has the wrong type or shape.
    #[error("{origin}: {field}{message}")]
    Field {
        origin: String,
        field: FieldPath,
        message: String,
    },

    /// Not a merged recording, or a version this syscage cannot read.
    #[error("{origin}: {field}: {message}")]
    Header {
        origin: String,
        field: &'static str,
        message: String,
    },

    /// A value that breaks the format's rules.
    #[error("{origin}: {field}: {message}")]
    Invalid {
        origin: String,
        field: String,
        message: String,
    },

    /// A recording that went into the merge is unusable.
    #[error(transparent)]
    Recording(#[from] RecordingError),
}

impl MergedRecording {
    /// A merged recording of one recording.
    pub fn from_recording(rec: &Recording) -> Self {
        let mut syscalls: Vec<MergedSyscall> = rec
            .syscalls
            .iter()
            .map(|s| MergedSyscall {
                nr: s.nr,
                name: s.name.clone(),
                count: s.count,
                first_seen_us: s.first_seen_us,
                seen_in: 1,
                before_filter_only: !s.needed_under_filter(rec.phases.as_ref()),
                // The recording's own arch spelled out is the same as no arch.
                arch: s.arch.clone().filter(|a| *a != rec.arch),
                args: s.args.as_ref().map(normalized),
            })
            .collect();
        syscalls.sort_by_key(MergedSyscall::key);
        Self {
            format: MERGED_FORMAT.to_owned(),
            version: MERGED_VERSION,
            syscage_version: SYSCAGE_VERSION.to_owned(),
            arch: rec.arch.clone(),
            runs: vec![Run {
                started_at: rec.started_at.clone(),
                ended_at: rec.ended_at.clone(),
                command: rec.command.clone(),
                kernel_release: rec.kernel_release.clone(),
                machine: rec.machine.clone(),
                exit: rec.exit,
                syscage_version: rec.syscage_version.clone(),
                target: rec.target.clone(),
                source: rec.source,
            }],
            syscalls,
            out_of_range_count: rec.out_of_range_count,
            security: rec.security.as_ref().map(MergedSecurity::from_facts),
        }
    }

    /// Merges two merged recordings; `origin` names `other` in errors.
    pub fn merge(&self, other: &Self, origin: &str) -> Result<Self, MergeError> {
        if self.arch != other.arch {
            return Err(MergeError::ArchMismatch {
                origin: origin.to_owned(),
                found: other.arch.clone(),
                expected: self.arch.clone(),
            });
        }
        let mut runs: Vec<Run> = self.runs.iter().chain(&other.runs).cloned().collect();
        runs.sort_by_cached_key(Run::sort_key);
        let mut by_key: BTreeMap<(Option<String>, u32), MergedSyscall> = BTreeMap::new();
        for s in self.syscalls.iter().chain(&other.syscalls) {
            by_key
                .entry(s.key())
                .and_modify(|m| {
                    m.args = union_optional(m.args.as_ref(), s.args.as_ref());
                    m.count = m.count.saturating_add(s.count);
                    m.first_seen_us = m.first_seen_us.min(s.first_seen_us);
                    m.seen_in = m.seen_in.saturating_add(s.seen_in);
                    m.before_filter_only &= s.before_filter_only;
                    // A name only one side knows (a newer libseccomp) is kept; two different
                    // ones cannot pass validation, but the smaller is kept so merging commutes.
                    m.name = match (m.name.take(), &s.name) {
                        (Some(a), Some(b)) => Some(a.min(b.clone())),
                        (a, b) => a.or_else(|| b.clone()),
                    };
                })
                .or_insert_with(|| MergedSyscall {
                    args: s.args.as_ref().map(normalized),
                    ..s.clone()
                });
        }
        Ok(Self {
            format: MERGED_FORMAT.to_owned(),
            version: MERGED_VERSION,
            syscage_version: SYSCAGE_VERSION.to_owned(),
            arch: self.arch.clone(),
            runs,
            syscalls: by_key.into_values().collect(),
            out_of_range_count: self
                .out_of_range_count
                .saturating_add(other.out_of_range_count),
            security: merged_security::union_optional(
                self.security.as_ref(),
                other.security.as_ref(),
            ),
        })
    }

    /// The syscalls a profile must allow, as plain records, in (`arch`, number) order.
    pub fn needed_records(&self) -> Vec<SyscallRecord> {
        self.syscalls
            .iter()
            .filter(|s| !s.before_filter_only)
            .map(|s| {
                let arch = s.arch.as_deref().unwrap_or(&self.arch);
                let mut record = SyscallRecord::new(
                    parse_arch_name(arch).unwrap_or(libseccomp::ScmpArch::Native),
                    s.nr,
                    s.count,
                    s.first_seen_us,
                );
                record.name = s.name.clone();
                record.arch = s.arch.clone();
                record.args = s.args.clone();
                record
            })
            .collect()
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a MergedRecording holds only strings and integers, which always serialise");
        text.push('\n');
        text
    }

    /// Reads and checks a merged recording file.
    pub fn read(path: &Path) -> Result<Self, MergeError> {
        let origin = path.display().to_string();
        let text = crate::formats::read::read_input_file(path)
            .and_then(|bytes| {
                String::from_utf8(bytes)
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            })
            .map_err(|cause| MergeError::Read {
                origin: origin.clone(),
                cause,
            })?;
        Self::from_json(&text, &origin)
    }

    /// Parses and checks a merged recording; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, MergeError> {
        let value: Value = serde_json::from_str(text).map_err(|cause| MergeError::NotJson {
            origin: origin.to_owned(),
            cause,
        })?;
        let header = |field: &'static str, message: String| MergeError::Header {
            origin: origin.to_owned(),
            field,
            message,
        };
        let Some(object) = value.as_object() else {
            return Err(MergeError::Field {
                origin: origin.to_owned(),
                field: FieldPath(None),
                message: format!("expected a JSON object, found {}", json_kind(&value)),
            });
        };
        match object.get("format") {
            Some(Value::String(f)) if f == MERGED_FORMAT => {}
            other => {
                return Err(header(
                    "format",
                    format!(
                        "expected \"{MERGED_FORMAT}\", found {}",
                        other.map_or("nothing".to_owned(), Value::to_string)
                    ),
                ))
            }
        }
        match object.get("version").and_then(Value::as_u64) {
            Some(v) if v > u64::from(MERGED_VERSION) => {
                return Err(header(
                    "version",
                    format!(
                        "written by a newer syscage: version {v}, this syscage reads \
                         {MERGED_VERSION}"
                    ),
                ))
            }
            Some(0) => {
                return Err(header(
                    "version",
                    format!("0 is not a merged recording version, expected {MERGED_VERSION}"),
                ))
            }
            _ => {}
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let merged: Self =
            deserialize_at(&mut de).map_err(|(field, message)| MergeError::Field {
                origin: origin.to_owned(),
                field,
                message,
            })?;
        merged.validate(origin)?;
        Ok(merged)
    }

    /// Checks what the types cannot: arch, runs, one entry per (`arch`, number), compat
    /// architectures that belong to `arch`, coverage within the number of runs, names that
    /// agree with libseccomp, argument values that fit their indexes.
    pub fn validate(&self, origin: &str) -> Result<(), MergeError> {
        let invalid = |field: String, message: String| MergeError::Invalid {
            origin: origin.to_owned(),
            field,
            message,
        };
        let arch = parse_arch_name(&self.arch)
            .map_err(|cause| invalid("arch".to_owned(), cause.to_string()))?;
        if self.runs.is_empty() {
            return Err(invalid(
                "runs".to_owned(),
                "is empty, expected the header of every recording merged in".to_owned(),
            ));
        }
        for (index, run) in self.runs.iter().enumerate() {
            for (field, value) in [("started_at", &run.started_at), ("ended_at", &run.ended_at)] {
                humantime::parse_rfc3339(value).map_err(|cause| {
                    invalid(
                        format!("runs[{index}].{field}"),
                        format!("{value:?} is not an RFC 3339 UTC timestamp ({cause})"),
                    )
                })?;
            }
        }
        let runs = self.runs.len() as u64;
        let mut seen: HashMap<(ScmpArch, u32), usize> = HashMap::new();
        for (index, s) in self.syscalls.iter().enumerate() {
            let entry_arch = match &s.arch {
                None => arch,
                Some(name) => {
                    let field = || format!("syscalls[{index}].arch");
                    let compat =
                        parse_arch_name(name).map_err(|c| invalid(field(), c.to_string()))?;
                    if !sub_arches(arch).contains(&compat) {
                        return Err(invalid(
                            field(),
                            format!(
                                "{name} is not a compat architecture of {}, expected one of {}",
                                self.arch,
                                companions(arch)
                            ),
                        ));
                    }
                    compat
                }
            };
            if let Some(first) = seen.insert((entry_arch, s.nr), index) {
                return Err(invalid(
                    format!("syscalls[{index}].nr"),
                    format!("{} is listed twice, first at syscalls[{first}]", s.nr),
                ));
            }
            if let Some(args) = &s.args {
                args.check().map_err(|(field, message)| {
                    invalid(format!("syscalls[{index}].args.{field}"), message)
                })?;
            }
            if s.seen_in == 0 || s.seen_in > runs {
                return Err(invalid(
                    format!("syscalls[{index}].seen_in"),
                    format!("{}, expected 1 to {runs} (the number of runs)", s.seen_in),
                ));
            }
            if let (Some(name), Some(expected)) = (&s.name, syscall_name(entry_arch, s.nr)) {
                if *name != expected {
                    return Err(invalid(
                        format!("syscalls[{index}].name"),
                        format!(
                            "{name:?} is not syscall {} on {}, libseccomp names it {expected:?}",
                            s.nr,
                            s.arch.as_deref().unwrap_or(&self.arch)
                        ),
                    ));
                }
            }
        }
        if let Some(security) = &self.security {
            security
                .check(runs)
                .map_err(|(field, message)| invalid(format!("security.{field}"), message))?;
        }
        Ok(())
    }
}

/// `SCMP_ARCH_X86, SCMP_ARCH_X32`: the compat architectures of `arch`, for messages.
fn companions(arch: ScmpArch) -> String {
    let names: Vec<String> = sub_arches(arch)
        .into_iter()
        .skip(1)
        .map(crate::model::arch::arch_name)
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Merges recordings and merged recordings (in any order, with the same result).
pub fn merge_all<'a>(
    inputs: impl IntoIterator<Item = (&'a MergedRecording, &'a str)>,
) -> Result<MergedRecording, MergeError> {
    let mut inputs = inputs.into_iter();
    let (first, _) = inputs.next().ok_or(MergeError::Empty)?;
    // Merging with nothing still canonicalises (sorted runs and syscalls).
    let mut merged = MergedRecording {
        runs: Vec::new(),
        syscalls: Vec::new(),
        out_of_range_count: 0,
        security: None,
        ..first.clone()
    }
    .merge(first, "")?;
    for (next, origin) in inputs {
        merged = merged.merge(next, origin)?;
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use libseccomp::ScmpArch;
    use proptest::prelude::*;

    const GOLDEN: &str = include_str!("../../tests/fixtures/recording-v1.json");

    fn golden() -> Recording {
        Recording::from_json(GOLDEN, "recording-v1.json").unwrap()
    }

    fn recording(started_ms: u64, nrs: &[(u32, u64)]) -> Recording {
        let mut rec = golden();
        rec.started_at = crate::model::recording::format_timestamp(
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(started_ms),
        );
        rec.syscalls = nrs
            .iter()
            .map(|&(nr, count)| SyscallRecord::new(ScmpArch::X8664, nr, count, u64::from(nr)))
            .collect();
        rec.out_of_range_count = 1;
        rec
    }

    fn merged(rec: &Recording) -> MergedRecording {
        MergedRecording::from_recording(rec)
    }

    #[test]
    fn coverage_counts_runs() {
        let a = merged(&recording(1, &[(0, 2), (1, 1), (39, 1)]));
        let b = merged(&recording(2, &[(0, 3), (60, 1)]));
        let c = merged(&recording(3, &[(0, 1)]));
        let m = merge_all([(&a, "a"), (&b, "b"), (&c, "c")]).unwrap();
        assert_eq!(m.runs.len(), 3);
        let coverage: Vec<(u32, u64, u64)> = m
            .syscalls
            .iter()
            .map(|s| (s.nr, s.count, s.seen_in))
            .collect();
        assert_eq!(coverage, [(0, 6, 3), (1, 1, 1), (39, 1, 1), (60, 1, 1)]);
        assert_eq!(m.out_of_range_count, 3);
        assert_eq!(m.syscalls[0].name.as_deref(), Some("read"));
        // Round trip through the file format.
        let text = m.to_json();
        assert!(text.ends_with("}\n"));
        assert_eq!(MergedRecording::from_json(&text, "m").unwrap(), m);
    }

    #[test]
    fn security_facts_are_united_and_read_back() {
        use crate::model::security::{CapabilityUse, Identity, SecurityFacts};
        let with_facts = |started_ms: u64, cap: &str, uid: u32| {
            let mut rec = recording(started_ms, &[(0, 1)]);
            rec.security = Some(SecurityFacts {
                capabilities: vec![CapabilityUse {
                    name: cap.to_owned(),
                    granted: 1,
                    denied: 0,
                    noaudit: 0,
                    needed: true,
                }],
                identity: Identity {
                    uids: vec![uid],
                    gids: vec![uid],
                    root_used: uid == 0,
                },
                ..SecurityFacts::default()
            });
            merged(&rec)
        };
        let a = with_facts(1, "CAP_NET_BIND_SERVICE", 0);
        let b = with_facts(2, "CAP_NET_BIND_SERVICE", 33);
        let c = merged(&recording(3, &[(0, 1)]));
        let m = merge_all([(&a, "a"), (&b, "b"), (&c, "c")]).unwrap();
        let security = m.security.as_ref().unwrap();
        assert_eq!(security.watched_in, 2);
        assert_eq!(security.capabilities[0].needed_in, 2);
        assert_eq!(security.identity.uids, [0, 33]);
        assert_eq!(security.identity.root_used_in, 1);
        // The first input is not counted twice.
        assert_eq!(merge_all([(&a, "a")]).unwrap().security, a.security);
        let text = m.to_json();
        assert!(text.contains("\"watched_in\": 2"), "{text}");
        assert_eq!(MergedRecording::from_json(&text, "m").unwrap(), m);
        // A coverage past the runs is refused, naming the field.
        let broken = text.replace("\"watched_in\": 2", "\"watched_in\": 4");
        let err = MergedRecording::from_json(&broken, "m.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.json: security.watched_in: 4, expected 1 to 3"),
            "{err}"
        );
        // A merged recording without facts has no `security` key.
        assert!(!merged(&recording(4, &[(0, 1)]))
            .to_json()
            .contains("security"));
    }

    #[test]
    fn different_arches_do_not_merge() {
        let a = merged(&golden());
        let mut b = merged(&golden());
        b.arch = "SCMP_ARCH_AARCH64".into();
        let err = a.merge(&b, "b.json").unwrap_err().to_string();
        assert_eq!(
            err,
            "b.json: arch: SCMP_ARCH_AARCH64, expected SCMP_ARCH_X86_64 like the recordings \
             before it; recordings of different architectures cannot be merged"
        );
        assert!(matches!(
            merge_all(std::iter::empty()),
            Err(MergeError::Empty)
        ));
    }

    #[test]
    fn reading_checks_the_rules() {
        let m = merged(&golden());
        let mut v: Value = serde_json::from_str(&m.to_json()).unwrap();
        v["syscalls"][0]["seen_in"] = 2.into();
        let err = MergedRecording::from_json(&v.to_string(), "m.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.json: syscalls[0].seen_in: 2, expected 1 to 1 (the number of runs)"
        );
        v["version"] = 2.into();
        let err = MergedRecording::from_json(&v.to_string(), "m.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.json: version: written by a newer syscage: version 2, this syscage reads 1"
        );
        let err = MergedRecording::from_json(GOLDEN, "r.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "r.json: format: expected \"syscage-merged-recording\", found \"syscage-recording\""
        );
        let mut v: Value = serde_json::from_str(&m.to_json()).unwrap();
        v["runs"][0]["colour"] = "red".into();
        let err = MergedRecording::from_json(&v.to_string(), "m.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.json: runs[0].colour: unknown field `colour`"),
            "{err}"
        );
    }

    fn args(indexes: &[u8], values: &[&[u64]], overflow: bool) -> ArgsSeen {
        ArgsSeen {
            indexes: indexes.to_vec(),
            values: values.iter().map(|v| v.to_vec()).collect(),
            overflow,
        }
    }

    fn compat(nr: u32) -> SyscallRecord {
        let mut record = SyscallRecord::new(ScmpArch::X86, nr, 1, 5);
        record.arch = Some("SCMP_ARCH_X86".into());
        record
    }

    #[test]
    fn compat_calls_are_kept_apart_by_arch_and_number() {
        // 20 is writev on x86_64 and getpid on i386; merging by number alone would unite them.
        let mut a = recording(1, &[(20, 1)]);
        a.syscalls.push(compat(20));
        let b = recording(2, &[(20, 2)]);
        let mut c = recording(3, &[]);
        c.syscalls.push(compat(20));
        let m = merge_all([(&merged(&a), "a"), (&merged(&b), "b"), (&merged(&c), "c")]).unwrap();
        let entries: Vec<(Option<&str>, u32, Option<&str>, u64)> = m
            .syscalls
            .iter()
            .map(|s| (s.arch.as_deref(), s.nr, s.name.as_deref(), s.seen_in))
            .collect();
        assert_eq!(
            entries,
            [
                (None, 20, Some("writev"), 2),
                (Some("SCMP_ARCH_X86"), 20, Some("getpid"), 2)
            ]
        );
        let text = m.to_json();
        assert_eq!(MergedRecording::from_json(&text, "m").unwrap(), m);
        let records = m.needed_records();
        assert_eq!(records[1].arch.as_deref(), Some("SCMP_ARCH_X86"));
        assert_eq!(records[1].name.as_deref(), Some("getpid"));

        // Reading checks the compat arch belongs to the recording's and the name to its table.
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["syscalls"][1]["arch"] = "SCMP_ARCH_AARCH64".into();
        let err = MergedRecording::from_json(&v.to_string(), "m.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.json: syscalls[1].arch: SCMP_ARCH_AARCH64 is not a compat architecture of \
             SCMP_ARCH_X86_64, expected one of SCMP_ARCH_X86, SCMP_ARCH_X32"
        );
        v["syscalls"][1]["arch"] = "SCMP_ARCH_X86".into();
        v["syscalls"][1]["name"] = "writev".into();
        let err = MergedRecording::from_json(&v.to_string(), "m.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"writev\" is not syscall 20 on SCMP_ARCH_X86"),
            "{err}"
        );
    }

    #[test]
    fn argument_values_are_united() {
        let with = |start, values: &[&[u64]], overflow| {
            let mut rec = recording(start, &[(56, 1)]);
            rec.syscalls[0].args = Some(args(&[0], values, overflow));
            merged(&rec)
        };
        let a = with(1, &[&[0x11]], false);
        let b = with(2, &[&[0x1000_0011], &[0x11]], false);
        let m = a.merge(&b, "b").unwrap();
        assert_eq!(
            m.syscalls[0].args,
            Some(args(&[0], &[&[0x11], &[0x1000_0011]], false))
        );
        let v: Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(
            v["syscalls"][0]["args"],
            serde_json::json!({"indexes": [0], "values": [[17], [0x1000_0011]], "overflow": false})
        );
        // Any run's overflow makes the union incomplete.
        let c = with(3, &[&[0x11]], true);
        assert!(
            m.merge(&c, "c").unwrap().syscalls[0]
                .args
                .as_ref()
                .unwrap()
                .overflow
        );
        // So does a run that saw the syscall without recording its arguments.
        let d = merged(&recording(4, &[(56, 1)]));
        let md = m.merge(&d, "d").unwrap();
        let united = md.syscalls[0].args.as_ref().unwrap();
        assert!(united.overflow);
        assert_eq!(united.values.len(), 2);
        // Past the bound, too, though every value is kept.
        let many: Vec<Vec<u64>> = (0..=crate::model::arg_values::MAX_MERGED_VALUES as u64)
            .map(|v| vec![v])
            .collect();
        let refs: Vec<&[u64]> = many.iter().map(Vec::as_slice).collect();
        let (left, right) = refs.split_at(refs.len() / 2);
        let big = with(5, left, false)
            .merge(&with(6, right, false), "r")
            .unwrap();
        let united = big.syscalls[0].args.as_ref().unwrap();
        assert!(united.overflow);
        assert_eq!(
            united.values.len(),
            crate::model::arg_values::MAX_MERGED_VALUES + 1
        );

        // Values that do not fit their indexes are refused.
        let mut v: Value = serde_json::from_str(&m.to_json()).unwrap();
        v["syscalls"][0]["args"]["values"][1] = serde_json::json!([1, 2]);
        let err = MergedRecording::from_json(&v.to_string(), "m.json")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "m.json: syscalls[0].args.values[1]: has 2 values, expected 1 (one per index)"
        );
    }

    fn arb_recording() -> impl Strategy<Value = MergedRecording> {
        let arb_args = proptest::option::of((
            proptest::collection::btree_set(0u64..40, 1..8),
            proptest::bool::weighted(0.1),
        ));
        (
            0u64..1_000_000,
            proptest::collection::btree_map(
                (0u32..460, proptest::bool::weighted(0.2)),
                (1u64..100, 0u64..1000, arb_args),
                0..30,
            ),
        )
            .prop_map(|(start, calls)| {
                let mut rec = golden();
                rec.started_at = crate::model::recording::format_timestamp(
                    std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(start),
                );
                rec.syscalls = calls
                    .into_iter()
                    .map(|((nr, is_compat), (count, us, seen))| {
                        let mut record = if is_compat {
                            let mut r = SyscallRecord::new(ScmpArch::X86, nr, count, us);
                            r.arch = Some("SCMP_ARCH_X86".into());
                            r
                        } else {
                            SyscallRecord::new(ScmpArch::X8664, nr, count, us)
                        };
                        record.args = seen.map(|(values, overflow)| ArgsSeen {
                            indexes: vec![0],
                            values: values.into_iter().map(|v| vec![v]).collect(),
                            overflow,
                        });
                        record
                    })
                    .collect();
                rec.sort_syscalls();
                merged(&rec)
            })
    }

    fn names(m: &MergedRecording) -> Vec<(Option<String>, u32)> {
        m.syscalls.iter().map(MergedSyscall::key).collect()
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_recording(), b in arb_recording()) {
            prop_assert_eq!(a.merge(&b, "b").unwrap(), b.merge(&a, "a").unwrap());
        }

        #[test]
        fn merge_is_associative(a in arb_recording(), b in arb_recording(), c in arb_recording()) {
            let left = a.merge(&b, "b").unwrap().merge(&c, "c").unwrap();
            let right = a.merge(&b.merge(&c, "c").unwrap(), "bc").unwrap();
            prop_assert_eq!(left, right);
        }

        #[test]
        fn merge_is_idempotent_on_the_syscall_set(a in arb_recording()) {
            let twice = a.merge(&a, "a").unwrap();
            prop_assert_eq!(names(&twice), names(&a));
            prop_assert!(twice.syscalls.iter().all(|s| s.seen_in == 2));
            // The argument values, too, are the same.
            let args = |m: &MergedRecording| m.syscalls.iter().map(|s| s.args.clone()).collect::<Vec<_>>();
            prop_assert_eq!(args(&twice), args(&a));
            let rec = |m: &MergedRecording| m.needed_records().into_iter()
                .filter_map(|s| s.name).collect::<Vec<_>>();
            prop_assert_eq!(rec(&twice), rec(&a));
        }

        #[test]
        fn merged_files_round_trip(a in arb_recording(), b in arb_recording()) {
            let m = a.merge(&b, "b").unwrap();
            let text = m.to_json();
            let back = MergedRecording::from_json(&text, "m").unwrap();
            prop_assert_eq!(&back, &m);
            prop_assert_eq!(back.to_json(), text);
        }
    }
}
