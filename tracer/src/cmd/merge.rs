//! `syscage merge A.recording.json B.recording.json ... --output NAME`: unite recordings of
//! replicas or test runs into one merged recording (with coverage) and its profile.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use clap::Args;
use profile_gen::{
    generate, group_by_workload, merge_all, merge_workloads, native_arch, profile_to_json, Content,
    Input, InputKind, Level, MergedRecording,
};

use crate::{
    shared_args::{docker_default_caps, EvalArgs},
    sys::inputs::read_inputs,
    sys::outputs::{refuse_overlaps, write_output},
    sys::workload_trees::{read_recording_trees, refuse_nested, write_tree},
};

/// Merge recordings of several runs or replicas into one, with coverage, and write its profile.
///
/// Writes NAME.recording.json, a merged recording that keeps every run's header and, per
/// syscall (per ABI: 32-bit compat calls apart from native ones), the total count, the earliest
/// first sighting, how many runs saw it (seen_in) and the union of its recorded argument values,
/// and NAME.json, the profile generated from it (as `generate` writes it). Merged recordings can
/// be merged again. A syscall seen in only some runs is one that other runs never reached: check
/// the tests cover it.
///
/// With --workloads, merges the trees `record --all` wrote on one or many nodes by Kubernetes
/// workload: every recording under the directories (found by its content, not its name;
/// profiles and other files are passed over) is grouped by its (namespace, workload, container),
/// each group is merged, and OUT/NAMESPACE/WORKLOAD/CONTAINER.json (the profile) and
/// CONTAINER.recording.json (the merged recording, whose runs keep each pod) are written. A
/// summary table goes to stdout. Recordings without Kubernetes identity are reported and left
/// out; a symbolic link leading out of a tree is refused.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    syscage merge replica-*.recording.json --output app\n  \
    (writes app.recording.json and app.json)\n  \
    syscage merge --workloads node-a/ node-b/ --output-dir merged/\n  \
    (writes merged/NAMESPACE/WORKLOAD/CONTAINER.json and .recording.json)")]
pub(crate) struct MergeArgs {
    /// Recordings or merged recordings to merge (at least one).
    #[arg(
        required_unless_present = "workloads",
        conflicts_with = "workloads",
        value_name = "RECORDING"
    )]
    pub(crate) inputs: Vec<PathBuf>,

    /// Where to write: NAME.recording.json and NAME.json (a trailing .json is dropped first).
    #[arg(
        short,
        long,
        value_name = "NAME",
        required_unless_present = "workloads",
        conflicts_with = "workloads"
    )]
    pub(crate) output: Option<PathBuf>,

    /// Directories of recordings (`record --all` output, from any number of nodes) to merge by
    /// Kubernetes workload and container.
    #[arg(long, value_name = "DIR", num_args = 1.., requires = "output_dir")]
    pub(crate) workloads: Vec<PathBuf>,

    /// --workloads: where to write OUT/NAMESPACE/WORKLOAD/CONTAINER.json and
    /// CONTAINER.recording.json (created if missing; outside the trees read).
    #[arg(long, value_name = "OUT", requires = "workloads")]
    pub(crate) output_dir: Option<PathBuf>,
}

pub(crate) fn run(args: MergeArgs, quiet: bool) -> Result<u8> {
    let (Some(output), None) = (&args.output, &args.output_dir) else {
        return run_workloads(&args.workloads, args.output_dir.as_deref(), quiet);
    };
    let (recording_path, profile_path) = output_paths(output);
    // Recordings need no Docker evaluation; the conditions only matter for a profile given by
    // mistake, which is refused below anyway.
    let eval = EvalArgs {
        arch: Some(native_arch()),
        cap_add: Vec::new(),
        cap_drop: Vec::new(),
        kernel: Some(profile_gen::KernelVersion { major: 0, minor: 0 }),
    };
    let inputs: Vec<&Path> = args.inputs.iter().map(PathBuf::as_path).collect();
    refuse_overlaps(&[&recording_path, &profile_path], &inputs)?;
    let (inputs, _) = read_inputs(&args.inputs, eval.arch, |arch| {
        eval.conditions(arch, docker_default_caps())
    })?;
    let mut merged_inputs = Vec::new();
    for input in &inputs {
        merged_inputs.push(match &input.content {
            Content::Recording(rec) => MergedRecording::from_recording(rec),
            Content::Merged(m) => m.clone(),
            Content::Profile(_) => {
                return Err(crate::sys::exit::Failure::new(
                    crate::sys::exit::EXIT_BAD_INPUT,
                    anyhow::anyhow!(
                        "{}: is a {}, expected a syscage recording: merge counts how many runs saw \
                         each syscall; to unite profiles use `syscage generate --from A B`",
                        input.origin,
                        input.kind
                    ),
                )
                .into())
            }
        });
    }
    let merged = merge_all(
        merged_inputs
            .iter()
            .zip(&inputs)
            .map(|(m, i)| (m, i.origin.as_str())),
    )?;

    let merged_input = Input {
        origin: recording_path.display().to_string(),
        kind: InputKind::MergedRecording,
        content: Content::Merged(merged.clone()),
        warnings: Vec::new(),
    };
    let generated = generate(std::slice::from_ref(&merged_input), native_arch())?;
    for (_, nr) in &generated.unknown_numbers {
        log::warn!("syscall number {nr} is not known to libseccomp: kept in the merged recording, left out of the profile");
    }
    for note in &generated.notes {
        match note.level {
            Level::Warning => log::warn!("{}", note.message),
            Level::Info => log::info!("{}", note.message),
        }
    }

    write_output(&recording_path, &merged.to_json())?;
    write_output(&profile_path, &profile_to_json(&generated.profile))?;
    if !quiet {
        let runs = merged.runs.len() as u64;
        let everywhere = merged.syscalls.iter().filter(|s| s.seen_in == runs).count();
        eprintln!(
            "syscage: merged {} runs: {} distinct syscalls, {} seen in every run, {} in some; \
             wrote {} and {}",
            runs,
            merged.syscalls.len(),
            everywhere,
            merged.syscalls.len() - everywhere,
            recording_path.display(),
            profile_path.display()
        );
    }
    Ok(0)
}

/// `merge --workloads`: read the trees, group and merge by workload, generate each profile, and
/// only then write.
fn run_workloads(roots: &[PathBuf], output_dir: Option<&Path>, quiet: bool) -> Result<u8> {
    let output_dir = output_dir.context("--workloads needs --output-dir")?;
    refuse_nested(output_dir, roots)?;
    let grouping = group_by_workload(read_recording_trees(roots)?)?;
    for origin in &grouping.unidentified {
        log::warn!("{origin}: no Kubernetes identity (target.kubernetes), left out");
    }
    let merges = merge_workloads(&grouping)?;
    if merges.is_empty() {
        return Err(crate::sys::exit::Failure::new(
            crate::sys::exit::EXIT_BAD_INPUT,
            anyhow::anyhow!(
                "no recording with Kubernetes identity (target.kubernetes) under {}, expected \
                 the trees `syscage record --all` writes",
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .into());
    }
    let mut files = Vec::new();
    for merge in &merges {
        for origin in &merge.duplicates {
            log::warn!(
                "{origin}: the same as another recording of {}, counted once",
                merge.key
            );
        }
        let input = Input {
            origin: merge.key.merged_recording_path().display().to_string(),
            kind: InputKind::MergedRecording,
            content: Content::Merged(merge.merged.clone()),
            warnings: Vec::new(),
        };
        let arch = profile_gen::parse_arch_name(&merge.merged.arch)?;
        let generated = generate(std::slice::from_ref(&input), arch)?;
        for (_, nr) in &generated.unknown_numbers {
            log::warn!("{}: syscall number {nr} is not known to libseccomp: kept in the merged recording, left out of the profile", merge.key);
        }
        files.push((merge.key.merged_recording_path(), merge.merged.to_json()));
        files.push((
            merge.key.profile_path(),
            profile_to_json(&generated.profile),
        ));
    }
    write_tree(output_dir, &files)?;
    write_output(
        Path::new("-"),
        &profile_gen::build::workloads::merge_summary(&merges),
    )?;
    if !quiet {
        eprintln!(
            "syscage: merged {} workload containers; wrote {}",
            merges.len(),
            output_dir.display()
        );
    }
    Ok(0)
}

/// `app` or `app.json` -> (`app.recording.json`, `app.json`).
fn output_paths(output: &Path) -> (PathBuf, PathBuf) {
    let stem = match output.extension() {
        Some(ext) if ext == "json" => output.with_extension(""),
        _ => output.to_path_buf(),
    };
    let with = |suffix: &str| {
        let mut name = stem.file_name().map(OsString::from).unwrap_or_default();
        name.push(suffix);
        stem.with_file_name(name)
    };
    (with(".recording.json"), with(".json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::write_recording;

    #[test]
    fn merge_keeps_coverage_and_writes_both_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_recording(dir.path(), "a.recording.json", &[0, 1, 56]);
        let b = write_recording(dir.path(), "b.recording.json", &[0, 1]);
        let c = write_recording(dir.path(), "c.recording.json", &[0, 318]);
        let ab = dir.path().join("ab");
        run(
            MergeArgs {
                inputs: vec![a, b],
                output: Some(ab.clone()),
                workloads: Vec::new(),
                output_dir: None,
            },
            true,
        )
        .unwrap();
        // Merging a merged recording again counts its runs.
        let all = dir.path().join("all.json");
        run(
            MergeArgs {
                inputs: vec![dir.path().join("ab.recording.json"), c],
                output: Some(all),
                workloads: Vec::new(),
                output_dir: None,
            },
            true,
        )
        .unwrap();
        let merged = MergedRecording::read(&dir.path().join("all.recording.json")).unwrap();
        assert_eq!(merged.runs.len(), 3);
        let coverage: Vec<(u32, u64, u64)> = merged
            .syscalls
            .iter()
            .map(|s| (s.nr, s.seen_in, s.count))
            .collect();
        assert_eq!(coverage, [(0, 3, 6), (1, 2, 4), (56, 1, 2), (318, 1, 2)]);
        let profile = profile_gen::read_profile(&dir.path().join("all.json")).unwrap();
        let names = profile.syscalls().clone().unwrap()[0].names().clone();
        for name in ["read", "write", "clone", "getrandom", "exit", "exit_group"] {
            assert!(names.iter().any(|n| n == name), "{name}: {names:?}");
        }

        // A profile is refused with a message saying what to do instead.
        let err = run(
            MergeArgs {
                inputs: vec![dir.path().join("all.json")],
                output: Some(dir.path().join("x")),
                workloads: Vec::new(),
                output_dir: None,
            },
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("expected a syscage recording"), "{err}");
        assert!(err.contains("syscage generate --from A B"), "{err}");
    }

    #[test]
    fn merge_unites_argument_values_and_keeps_abis_apart() {
        use crate::test_fixtures::{with_args, write_records};
        use profile_gen::{ScmpArch, SyscallRecord};
        let dir = tempfile::tempdir().unwrap();
        let getpid_i386 = || {
            let mut r = SyscallRecord::new(ScmpArch::X86, 20, 1, 0);
            r.arch = Some("SCMP_ARCH_X86".into());
            r
        };
        // writev (20) natively, getpid (20) for i386; socket (41) AF_UNIX, then AF_INET too.
        let a = write_records(
            dir.path(),
            "a.recording.json",
            vec![
                SyscallRecord::new(ScmpArch::X8664, 20, 1, 0),
                with_args(41, &[0, 1], &[&[1, 1]]),
            ],
        );
        let b = write_records(
            dir.path(),
            "b.recording.json",
            vec![getpid_i386(), with_args(41, &[0, 1], &[&[2, 2]])],
        );
        run(
            MergeArgs {
                inputs: vec![a, b],
                output: Some(dir.path().join("ab")),
                workloads: Vec::new(),
                output_dir: None,
            },
            true,
        )
        .unwrap();
        let merged = MergedRecording::read(&dir.path().join("ab.recording.json")).unwrap();
        let entries: Vec<(Option<&str>, u32, Option<&str>)> = merged
            .syscalls
            .iter()
            .map(|s| (s.arch.as_deref(), s.nr, s.name.as_deref()))
            .collect();
        assert_eq!(
            entries,
            [
                (None, 20, Some("writev")),
                (None, 41, Some("socket")),
                (Some("SCMP_ARCH_X86"), 20, Some("getpid"))
            ]
        );
        assert_eq!(
            merged.syscalls[1].args.as_ref().unwrap().values,
            [vec![1, 1], vec![2, 2]]
        );
        let profile = profile_gen::read_profile(&dir.path().join("ab.json")).unwrap();
        let policy = profile_gen::Policy::from_profile(&profile);
        assert_eq!(policy.verdict("getpid"), profile_gen::Verdict::Allow);
        assert_eq!(policy.verdict("writev"), profile_gen::Verdict::Allow);
        let profile_gen::Verdict::AllowIf { conditions } = policy.verdict("socket") else {
            panic!("socket: {:?}", policy.verdict("socket"));
        };
        assert_eq!(conditions.len(), 2);
    }

    #[test]
    fn output_names() {
        assert_eq!(
            output_paths(Path::new("out/merged")),
            (
                PathBuf::from("out/merged.recording.json"),
                PathBuf::from("out/merged.json")
            )
        );
        assert_eq!(
            output_paths(Path::new("app.json")),
            (
                PathBuf::from("app.recording.json"),
                PathBuf::from("app.json")
            )
        );
    }
}
