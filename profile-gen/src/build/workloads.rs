//! Recordings of a Kubernetes cluster, per workload: grouping the recordings `record --all`
//! wrote on many nodes by `(namespace, workload, container)`, merging each group, and the names
//! of what is written for each (`merge --workloads`, `generate --workloads`).
//!
//! A recording belongs to the group of its `target.kubernetes`; a merged recording to the group
//! all its runs share. Replicas, restarts and nodes of one workload's container land in one
//! group, whatever the file names or directories they came in.
//!
//! Names come from the recordings, which are input: each is checked to be a Kubernetes name
//! (lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit) before
//! it becomes part of a path, so no recording can lead a write out of the output directory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::formats::input::{Content, Input};
use crate::formats::kube::object_name;
use crate::model::merged::{merge_all, MergeError, MergedRecording};
use crate::model::recording::KubernetesIdentity;

/// The longest Kubernetes name (a DNS subdomain).
const MAX_NAME: usize = 253;

/// What a workload's recordings are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkloadKey {
    pub namespace: String,
    pub workload: String,
    pub container: String,
}

impl fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.workload, self.container)
    }
}

impl WorkloadKey {
    /// The key of `identity`, with each name checked; `origin` names the file in errors.
    pub fn of(identity: &KubernetesIdentity, origin: &str) -> Result<Self, WorkloadError> {
        for (field, value) in [
            ("namespace", &identity.namespace),
            ("workload", &identity.workload),
            ("container", &identity.container),
        ] {
            if !is_kubernetes_name(value) {
                return Err(WorkloadError::Name {
                    origin: origin.to_owned(),
                    field,
                    value: value.clone(),
                });
            }
        }
        Ok(Self {
            namespace: identity.namespace.clone(),
            workload: identity.workload.clone(),
            container: identity.container.clone(),
        })
    }

    /// `NAMESPACE/WORKLOAD/CONTAINER.json`: the merged profile, relative to the output directory.
    pub fn profile_path(&self) -> PathBuf {
        self.directory().join(format!("{}.json", self.container))
    }

    /// `NAMESPACE/WORKLOAD/CONTAINER.recording.json`: the merged recording beside it (named as
    /// `merge --output` names its recording).
    pub fn merged_recording_path(&self) -> PathBuf {
        self.directory()
            .join(format!("{}.recording.json", self.container))
    }

    fn directory(&self) -> PathBuf {
        PathBuf::from(&self.namespace).join(&self.workload)
    }

    /// `syscage/NAMESPACE/WORKLOAD-CONTAINER.json`: the Localhost profile, relative to the
    /// kubelet's seccomp directory, which is also what a Pod's `localhostProfile` says. The
    /// `syscage/` directory keeps the files apart from other tools' (the Security Profiles
    /// Operator writes under `operator/`).
    pub fn localhost_profile(&self) -> String {
        format!(
            "syscage/{}/{}-{}.json",
            self.namespace, self.workload, self.container
        )
    }

    /// `NAMESPACE/WORKLOAD-CONTAINER.yaml`: the SPO resource, relative to the output directory.
    pub fn spo_path(&self) -> PathBuf {
        PathBuf::from(&self.namespace).join(format!("{}-{}.yaml", self.workload, self.container))
    }

    /// The SPO `SeccompProfile` name and namespace. Since SPO v0.9.0 the resource is
    /// cluster-scoped, so the name carries the namespace (`NAMESPACE-WORKLOAD-CONTAINER`) to stay
    /// unique in the cluster; with `namespaced` (SPO before v0.9.0) it is `WORKLOAD-CONTAINER`
    /// in the pod's namespace. `None` when nothing of the names is left (see [`object_name`]).
    pub fn spo_name(&self, namespaced: bool) -> Option<(String, Option<String>)> {
        if namespaced {
            let name = object_name(&format!("{}-{}", self.workload, self.container))?;
            Some((name, Some(self.namespace.clone())))
        } else {
            let name = object_name(&format!(
                "{}-{}-{}",
                self.namespace, self.workload, self.container
            ))?;
            Some((name, None))
        }
    }
}

/// Whether `name` can be a Kubernetes namespace, workload or container name: a DNS subdomain.
fn is_kubernetes_name(name: &str) -> bool {
    let edges_ok =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    name.len() <= MAX_NAME
        && edges_ok(name.chars().next())
        && edges_ok(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// Grouping or merging a workload's recordings.
#[derive(Debug, Error)]
pub enum WorkloadError {
    /// A name that cannot be a Kubernetes name, so cannot become part of a path either.
    #[error(
        "{origin}: target.kubernetes.{field}: {value:?} is not a Kubernetes name, expected \
         lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    )]
    Name {
        origin: String,
        field: &'static str,
        value: String,
    },

    /// A merged recording whose runs are not all of one workload's container.
    #[error(
        "{origin}: runs[{index}].target.kubernetes: {found}, expected {expected} like runs[0]: \
         a merged recording of several workloads cannot be grouped by workload"
    )]
    MixedRuns {
        origin: String,
        index: usize,
        found: String,
        expected: String,
    },

    /// A group that cannot be merged (recordings of different architectures).
    #[error("workload {key}: {source}")]
    Merge {
        key: String,
        #[source]
        source: Box<MergeError>,
    },

    /// Two workloads whose output names are the same after making them Kubernetes names.
    #[error(
        "workloads {first} and {second} both get the name {name:?}: rename one of them, or \
         generate them apart"
    )]
    NameClash {
        first: String,
        second: String,
        name: String,
    },

    /// A workload whose names leave nothing of an object name.
    #[error("workload {key}: no Kubernetes object name can be made from it")]
    NoName { key: String },
}

/// The group of one input: `None` for an input without Kubernetes identity (or a profile).
pub fn workload_of(input: &Input) -> Result<Option<WorkloadKey>, WorkloadError> {
    let identities: Vec<Option<&KubernetesIdentity>> = match &input.content {
        Content::Recording(rec) => vec![rec.target.as_ref().and_then(|t| t.kubernetes.as_ref())],
        Content::Merged(merged) => merged
            .runs
            .iter()
            .map(|run| run.target.as_ref().and_then(|t| t.kubernetes.as_ref()))
            .collect(),
        Content::Profile(_) => return Ok(None),
    };
    let mut keys = identities
        .iter()
        .map(|identity| {
            identity
                .map(|identity| WorkloadKey::of(identity, &input.origin))
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let Some(first) = keys.next() else {
        return Ok(None);
    };
    for (index, key) in keys.enumerate() {
        if key != first {
            let show = |k: &Option<WorkloadKey>| {
                k.as_ref()
                    .map_or_else(|| "none".to_owned(), ToString::to_string)
            };
            return Err(WorkloadError::MixedRuns {
                origin: input.origin.clone(),
                index: index + 1,
                found: show(&key),
                expected: show(&first),
            });
        }
    }
    Ok(first)
}

/// Inputs grouped by workload.
#[derive(Debug, Default)]
pub struct Grouping {
    /// Each workload's inputs, in the order given.
    pub groups: BTreeMap<WorkloadKey, Vec<Input>>,
    /// The origins of inputs without Kubernetes identity, which belong to no group.
    pub unidentified: Vec<String>,
}

/// Groups `inputs` by [`workload_of`].
pub fn group_by_workload(inputs: Vec<Input>) -> Result<Grouping, WorkloadError> {
    let mut grouping = Grouping::default();
    for input in inputs {
        match workload_of(&input)? {
            Some(key) => grouping.groups.entry(key).or_default().push(input),
            None => grouping.unidentified.push(input.origin),
        }
    }
    Ok(grouping)
}

/// One workload's container, merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadMerge {
    pub key: WorkloadKey,
    pub merged: MergedRecording,
    /// Origins of inputs that were the same as one before them (a tree copied twice): counted
    /// once, as the same run.
    pub duplicates: Vec<String>,
    /// Syscalls some traced run did not make (see [`not_in_every_traced_run`]).
    pub partial: usize,
}

impl WorkloadMerge {
    /// Pods the runs were in (replicas and their restarts count once per pod).
    pub fn replicas(&self) -> usize {
        let mut pods: Vec<(&str, Option<&str>)> = self
            .merged
            .runs
            .iter()
            .filter_map(|run| run.target.as_ref()?.kubernetes.as_ref())
            .map(|k| (k.pod.as_str(), k.pod_uid.as_deref()))
            .collect();
        pods.sort_unstable();
        pods.dedup();
        pods.len()
    }

    /// Syscalls some traced run did not make: the `NOT_IN_EVERY_RUN` of the summary.
    pub fn partial(&self) -> usize {
        self.partial
    }
}

/// Merges each group (see [`crate::model::merged`]); inputs identical to an earlier one of
/// the group are counted once.
pub fn merge_workloads(grouping: &Grouping) -> Result<Vec<WorkloadMerge>, WorkloadError> {
    grouping
        .groups
        .iter()
        .map(|(key, inputs)| {
            let mut parts: Vec<(MergedRecording, &str)> = Vec::new();
            let mut duplicates = Vec::new();
            for input in inputs {
                let part = match &input.content {
                    Content::Recording(rec) => MergedRecording::from_recording(rec),
                    Content::Merged(merged) => merged.clone(),
                    Content::Profile(_) => continue,
                };
                if parts.iter().any(|(seen, _)| *seen == part) {
                    duplicates.push(input.origin.clone());
                } else {
                    parts.push((part, &input.origin));
                }
            }
            let merged =
                merge_all(parts.iter().map(|(m, origin)| (m, *origin))).map_err(|source| {
                    WorkloadError::Merge {
                        key: key.to_string(),
                        source: Box::new(source),
                    }
                })?;
            let partial = not_in_every_traced_run(&merged, &parts);
            Ok(WorkloadMerge {
                key: key.clone(),
                merged,
                duplicates,
                partial,
            })
        })
        .collect()
}

/// How many syscalls of `merged`, the merge of `parts`, some traced run did not make. An
/// audit's run (`source: seccomp-log`) lists only the calls its profile logged, so it says
/// nothing of the others: it is left out of the count, and a syscall only audits saw counts as
/// one a traced run did not make. A merged input with any audit run counts as an audit whole
/// (its coverage cannot be split by run). Without any traced run, every run counts.
fn not_in_every_traced_run(merged: &MergedRecording, parts: &[(MergedRecording, &str)]) -> usize {
    let is_traced = |part: &MergedRecording| part.runs.iter().all(|run| run.source.is_none());
    let traced: Vec<&MergedRecording> = parts
        .iter()
        .map(|(part, _)| part)
        .filter(|part| is_traced(part))
        .collect();
    let runs = |parts: &[&MergedRecording]| parts.iter().map(|p| p.runs.len() as u64).sum::<u64>();
    let traced_runs = runs(&traced);
    if traced_runs == 0 || traced.len() == parts.len() {
        let all_runs = merged.runs.len() as u64;
        return merged
            .syscalls
            .iter()
            .filter(|s| s.seen_in < all_runs)
            .count();
    }
    let mut seen: BTreeMap<(Option<&str>, u32), u64> = BTreeMap::new();
    for part in &traced {
        for s in &part.syscalls {
            *seen.entry((s.arch.as_deref(), s.nr)).or_default() += s.seen_in;
        }
    }
    merged
        .syscalls
        .iter()
        .filter(|s| seen.get(&(s.arch.as_deref(), s.nr)).copied().unwrap_or(0) < traced_runs)
        .count()
}

/// The SPO name of each workload (see [`WorkloadKey::spo_name`]), refusing two workloads that
/// would get the same one.
pub fn spo_names<'a>(
    keys: impl IntoIterator<Item = &'a WorkloadKey>,
    namespaced: bool,
) -> Result<BTreeMap<WorkloadKey, (String, Option<String>)>, WorkloadError> {
    let mut names = BTreeMap::new();
    let mut owners: BTreeMap<(String, Option<String>), WorkloadKey> = BTreeMap::new();
    for key in keys {
        let name = key
            .spo_name(namespaced)
            .ok_or_else(|| WorkloadError::NoName {
                key: key.to_string(),
            })?;
        if let Some(first) = owners.insert(name.clone(), key.clone()) {
            return Err(WorkloadError::NameClash {
                first: first.to_string(),
                second: key.to_string(),
                name: name.0,
            });
        }
        names.insert(key.clone(), name);
    }
    Ok(names)
}

/// `rows` as a table with `header`, columns padded to their widest cell, one line each.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let mut line = padded.join("  ").trim_end().to_owned();
        line.push('\n');
        line
    };
    let mut text = line(header.to_vec());
    for row in rows {
        text.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    text
}

/// The summary of `merge --workloads`: one line per workload's container, sorted.
pub fn merge_summary(merges: &[WorkloadMerge]) -> String {
    let rows: Vec<Vec<String>> = merges
        .iter()
        .map(|m| {
            vec![
                m.key.namespace.clone(),
                m.key.workload.clone(),
                m.key.container.clone(),
                m.merged.runs.len().to_string(),
                m.replicas().to_string(),
                m.merged.syscalls.len().to_string(),
                m.partial().to_string(),
            ]
        })
        .collect();
    table(
        &[
            "NAMESPACE",
            "WORKLOAD",
            "CONTAINER",
            "RUNS",
            "REPLICAS",
            "SYSCALLS",
            "NOT_IN_EVERY_RUN",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use libseccomp::ScmpArch;

    use super::*;
    use crate::formats::input::InputKind;
    use crate::model::recording::{Recording, SyscallRecord, Target};

    fn identity(namespace: &str, pod: &str, workload: &str, container: &str) -> KubernetesIdentity {
        KubernetesIdentity {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            pod_uid: None,
            container: container.to_owned(),
            workload: workload.to_owned(),
            image: None,
        }
    }

    fn recording(
        kubernetes: Option<KubernetesIdentity>,
        started_at: &str,
        nrs: &[u32],
    ) -> Recording {
        let mut rec = Recording::from_json(
            include_str!("../../tests/fixtures/recording-v1.json"),
            "fixture",
        )
        .unwrap();
        rec.started_at = started_at.to_owned();
        rec.syscalls = nrs
            .iter()
            .map(|&nr| SyscallRecord::new(ScmpArch::X8664, nr, 1, 0))
            .collect();
        rec.target = Some(Target {
            cgroup: "/kubepods/x".to_owned(),
            container_id: None,
            runtime: None,
            pod_uid: None,
            container_name: None,
            namespace: None,
            kubernetes,
        });
        rec
    }

    fn input(origin: &str, rec: Recording) -> Input {
        Input {
            origin: origin.to_owned(),
            kind: InputKind::Recording,
            content: Content::Recording(Box::new(rec)),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn groups_replicas_and_skips_unidentified() {
        let web = |pod: &str| Some(identity("shop", pod, "web", "app"));
        let inputs = vec![
            input(
                "n1/a.json",
                recording(web("web-7d4b9c6f8-x2x5z"), "2026-01-01T00:00:00Z", &[0, 1]),
            ),
            input(
                "n2/b.json",
                recording(web("web-7d4b9c6f8-q9z8w"), "2026-01-01T00:00:01Z", &[0, 3]),
            ),
            input(
                "n1/c.json",
                recording(
                    Some(identity("shop", "db-0", "db", "pg")),
                    "2026-01-01T00:00:02Z",
                    &[0],
                ),
            ),
            input(
                "n1/plain.json",
                recording(None, "2026-01-01T00:00:03Z", &[0]),
            ),
            // The same file copied from two nodes counts once.
            input(
                "n3/a.json",
                recording(web("web-7d4b9c6f8-x2x5z"), "2026-01-01T00:00:00Z", &[0, 1]),
            ),
        ];
        let grouping = group_by_workload(inputs).unwrap();
        assert_eq!(grouping.unidentified, ["n1/plain.json"]);
        let merges = merge_workloads(&grouping).unwrap();
        let keys: Vec<String> = merges.iter().map(|m| m.key.to_string()).collect();
        assert_eq!(keys, ["shop/db/pg", "shop/web/app"]);
        let web = &merges[1];
        assert_eq!(web.duplicates, ["n3/a.json"]);
        assert_eq!(
            (web.merged.runs.len(), web.replicas(), web.partial()),
            (2, 2, 2)
        );
        let coverage: Vec<(u32, u64)> = web
            .merged
            .syscalls
            .iter()
            .map(|s| (s.nr, s.seen_in))
            .collect();
        assert_eq!(coverage, [(0, 2), (1, 1), (3, 1)]);
        // Each run keeps its pod in the merged recording, which reads back the same.
        let back = MergedRecording::from_json(&web.merged.to_json(), "m").unwrap();
        let pods: Vec<&str> = back
            .runs
            .iter()
            .map(|r| {
                r.target
                    .as_ref()
                    .unwrap()
                    .kubernetes
                    .as_ref()
                    .unwrap()
                    .pod
                    .as_str()
            })
            .collect();
        assert_eq!(pods, ["web-7d4b9c6f8-x2x5z", "web-7d4b9c6f8-q9z8w"]);
        // A merged recording goes back into its own group.
        let again = group_by_workload(vec![Input {
            origin: "m".to_owned(),
            kind: InputKind::MergedRecording,
            content: Content::Merged(back),
            warnings: Vec::new(),
        }])
        .unwrap();
        assert_eq!(
            again
                .groups
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["shop/web/app"]
        );

        assert_eq!(
            merge_summary(&merges),
            "NAMESPACE  WORKLOAD  CONTAINER  RUNS  REPLICAS  SYSCALLS  NOT_IN_EVERY_RUN\n\
             shop       db        pg         1     1         1         0\n\
             shop       web       app        2     2         3         2\n"
        );
    }

    #[test]
    fn an_audit_groups_with_its_workload_and_counts_only_for_what_it_logged() {
        use crate::model::recording::RecordingSource;
        let web = |pod: &str| Some(identity("shop", pod, "web", "app"));
        let mut audit = recording(web("web-7d4b9c6f8-x2x5z"), "2026-01-01T00:00:05Z", &[5]);
        audit.source = Some(RecordingSource::SeccompLog);
        let grouping = group_by_workload(vec![
            input(
                "records/a.json",
                recording(web("web-7d4b9c6f8-x2x5z"), "2026-01-01T00:00:00Z", &[0, 1]),
            ),
            input(
                "records/b.json",
                recording(web("web-7d4b9c6f8-q9z8w"), "2026-01-01T00:00:01Z", &[0]),
            ),
            input("denials/a.denials.json", audit),
        ])
        .unwrap();
        assert!(grouping.unidentified.is_empty());
        let merges = merge_workloads(&grouping).unwrap();
        assert_eq!(merges.len(), 1, "one workload");
        let merge = &merges[0];
        let nrs: Vec<u32> = merge.merged.syscalls.iter().map(|s| s.nr).collect();
        assert_eq!(nrs, [0, 1, 5], "the audited call widens the workload");
        // 1 is missing from one traced run; 5 was made only under the LOG profile.
        // 0, made in both traced runs, is not partial although the audit did not log it.
        assert_eq!(
            (merge.merged.runs.len(), merge.replicas(), merge.partial()),
            (3, 2, 2)
        );
        let sources: Vec<Option<RecordingSource>> =
            merge.merged.runs.iter().map(|r| r.source).collect();
        assert_eq!(sources, [None, None, Some(RecordingSource::SeccompLog)]);
        // The runs' sources read back, and so does the count when the merge is merged again
        // with a newer traced run.
        let back = MergedRecording::from_json(&merge.merged.to_json(), "m").unwrap();
        assert_eq!(back.runs[2].source, Some(RecordingSource::SeccompLog));
        let again = merge_workloads(
            &group_by_workload(vec![
                Input {
                    origin: "m".to_owned(),
                    kind: InputKind::MergedRecording,
                    content: Content::Merged(back),
                    warnings: Vec::new(),
                },
                input(
                    "records/c.json",
                    recording(
                        web("web-7d4b9c6f8-q9z8w"),
                        "2026-01-01T00:00:09Z",
                        &[0, 1, 5],
                    ),
                ),
            ])
            .unwrap(),
        )
        .unwrap();
        // The merged input holds an audit, so only records/c.json counts: nothing is partial.
        assert_eq!(again[0].partial(), 0);
    }

    #[test]
    fn refuses_names_that_are_no_kubernetes_names() {
        for bad in ["..", "a/b", "", "Web", "-x", "x-"] {
            let rec = recording(
                Some(identity("shop", "p", bad, "app")),
                "2026-01-01T00:00:00Z",
                &[0],
            );
            let err = group_by_workload(vec![input("n1/x.json", rec)])
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                format!(
                    "n1/x.json: target.kubernetes.workload: {bad:?} is not a Kubernetes name, \
                     expected lowercase letters, digits, '-' and '.', starting and ending with \
                     a letter or digit"
                )
            );
        }
    }

    #[test]
    fn groups_of_two_architectures_are_refused_by_name() {
        let id = || Some(identity("shop", "web-1", "web", "app"));
        let mut arm = recording(id(), "2026-01-01T00:00:01Z", &[0]);
        arm.arch = "SCMP_ARCH_AARCH64".to_owned();
        arm.machine = "aarch64".to_owned();
        let grouping = group_by_workload(vec![
            input("x86.json", recording(id(), "2026-01-01T00:00:00Z", &[0])),
            input("arm.json", arm),
        ])
        .unwrap();
        let err = merge_workloads(&grouping).unwrap_err().to_string();
        assert!(
            err.starts_with("workload shop/web/app: arm.json: arch: SCMP_ARCH_AARCH64, expected SCMP_ARCH_X86_64"),
            "{err}"
        );
    }

    #[test]
    fn merged_recordings_of_several_workloads_are_refused() {
        let a = MergedRecording::from_recording(&recording(
            Some(identity("shop", "web-1", "web", "app")),
            "2026-01-01T00:00:00Z",
            &[0],
        ));
        let b = MergedRecording::from_recording(&recording(
            Some(identity("shop", "db-0", "db", "pg")),
            "2026-01-01T00:00:01Z",
            &[0],
        ));
        let both = merge_all([(&a, "a"), (&b, "b")]).unwrap();
        let err = group_by_workload(vec![Input {
            origin: "both.json".to_owned(),
            kind: InputKind::MergedRecording,
            content: Content::Merged(both),
            warnings: Vec::new(),
        }])
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "both.json: runs[1].target.kubernetes: shop/db/pg, expected shop/web/app like \
             runs[0]: a merged recording of several workloads cannot be grouped by workload"
        );
    }

    #[test]
    fn output_names() {
        let key = WorkloadKey {
            namespace: "shop".to_owned(),
            workload: "web.v2".to_owned(),
            container: "app".to_owned(),
        };
        assert_eq!(key.profile_path(), PathBuf::from("shop/web.v2/app.json"));
        assert_eq!(
            key.merged_recording_path(),
            PathBuf::from("shop/web.v2/app.recording.json")
        );
        assert_eq!(key.localhost_profile(), "syscage/shop/web.v2-app.json");
        assert_eq!(key.spo_path(), PathBuf::from("shop/web.v2-app.yaml"));
        assert_eq!(
            key.spo_name(false),
            Some(("shop-web-v2-app".to_owned(), None))
        );
        assert_eq!(
            key.spo_name(true),
            Some(("web-v2-app".to_owned(), Some("shop".to_owned())))
        );
        // web.v2 and web-v2 are different workloads with one object name: refused.
        let other = WorkloadKey {
            workload: "web-v2".to_owned(),
            ..key.clone()
        };
        let err = spo_names([&key, &other], false).unwrap_err().to_string();
        assert_eq!(
            err,
            "workloads shop/web.v2/app and shop/web-v2/app both get the name \"shop-web-v2-app\": \
             rename one of them, or generate them apart"
        );
        // In their own namespaces, one name each is fine.
        let elsewhere = WorkloadKey {
            namespace: "shop2".to_owned(),
            ..key.clone()
        };
        assert_eq!(spo_names([&key, &elsewhere], true).unwrap().len(), 2);
    }
}
