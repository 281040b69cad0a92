//! `syscage merge A.recording.json B.recording.json ... --output NAME`: unite recordings of
//! replicas or test runs into one merged recording (with coverage) and its profile.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
};

use anyhow::Result;
use clap::Args;
use profile_gen::{
    generate, merge_all, native_arch, profile_to_json, Content, Input, InputKind, Level,
    MergedRecording,
};

use crate::{
    shared_args::{docker_default_caps, EvalArgs},
    sys::inputs::read_inputs,
    sys::outputs::{refuse_overlaps, write_output},
};

/// Merge recordings of several runs or replicas into one, with coverage, and write its profile.
///
/// Writes NAME.recording.json, a merged recording that keeps every run's header and, per
/// syscall (per ABI: 32-bit compat calls apart from native ones), the total count, the earliest
/// first sighting, how many runs saw it (seen_in) and the union of its recorded argument values,
/// and NAME.json, the profile generated from it (as `generate` writes it). Merged recordings can
/// be merged again. A syscall seen in only some runs is one that other runs never reached: check
/// the tests cover it.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    syscage merge replica-*.recording.json --output app\n  \
    (writes app.recording.json and app.json)")]
pub(crate) struct MergeArgs {
    /// Recordings or merged recordings to merge (at least one).
    #[arg(required = true, value_name = "RECORDING")]
    pub(crate) inputs: Vec<PathBuf>,

    /// Where to write: NAME.recording.json and NAME.json (a trailing .json is dropped first).
    #[arg(short, long, value_name = "NAME")]
    pub(crate) output: PathBuf,
}

pub(crate) fn run(args: MergeArgs, quiet: bool) -> Result<u8> {
    let (recording_path, profile_path) = output_paths(&args.output);
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
                output: ab.clone(),
            },
            true,
        )
        .unwrap();
        // Merging a merged recording again counts its runs.
        let all = dir.path().join("all.json");
        run(
            MergeArgs {
                inputs: vec![dir.path().join("ab.recording.json"), c],
                output: all,
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
                output: dir.path().join("x"),
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
                output: dir.path().join("ab"),
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
