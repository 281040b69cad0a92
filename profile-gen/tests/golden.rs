//! Every output the library produces, for a fixed set of inputs, compared byte for byte with the
//! files under `tests/golden/`. Refactoring must leave them unchanged; a deliberate change to an
//! output is reviewed by regenerating them with `SYSCAGE_BLESS=1 cargo test -p profile-gen --test
//! golden` and reading the diff.

#![expect(
    unused_crate_dependencies,
    reason = "an integration test links all of the crate's dependencies"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use profile_gen::analysis::diff::{baseline_diff, release_diff, FailOn, Report, ReportFormat};
use profile_gen::baselines::runtime_default::{self, Flavour};
use profile_gen::formats::input::parse_input;
use profile_gen::formats::kube;
use profile_gen::formats::security_context::Evidence;
use profile_gen::model::merged_security::MergedSecurity;
use profile_gen::model::security::{
    CapabilityUse, Identity, PrivilegeGain, PrivilegeGainKind, RootFilesystemWrites, SecurityFacts,
};
use profile_gen::{
    generate_for_runtime, log_profile, merge_all, missed_container_start, profile_from_recording,
    profile_to_json, Conditions, Content, Generated, Input, InputKind, KernelVersion,
    MergedRecording, PolicyOptions, Recording, ScmpArch,
};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn conditions(arch: ScmpArch) -> Conditions {
    Conditions::new(
        arch,
        Flavour::Moby.default_caps(),
        KernelVersion { major: 6, minor: 1 },
    )
    .unwrap()
}

/// The inputs, by file name.
fn inputs() -> BTreeMap<String, Input> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(golden_dir().join("inputs"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    // A Docker-format profile: moby's default, as shipped.
    files.push((
        "moby-default.json".to_owned(),
        Flavour::Moby.data().to_owned(),
    ));
    files
        .into_iter()
        .map(|(name, text)| {
            let input = parse_input(&text, &name, &conditions(ScmpArch::X8664))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, input)
        })
        .collect()
}

fn notes_text(generated: &Generated) -> String {
    let mut out = format!("arch: {:?}\n", generated.arch);
    for (origin, nr) in &generated.unknown_numbers {
        writeln!(out, "unknown number: {origin}: {nr}").unwrap();
    }
    writeln!(out, "out of range: {}", generated.out_of_range_count).unwrap();
    for note in &generated.notes {
        writeln!(out, "{:?}: {}", note.level, note.message).unwrap();
    }
    out
}

/// All outputs of `generate` for `inputs`, appended to `out` under `key`.
fn generate_outputs(
    out: &mut BTreeMap<String, String>,
    key: &str,
    inputs: &[Input],
    options: &PolicyOptions,
    runtime: Option<&str>,
) {
    let generated = match generate_for_runtime(inputs, ScmpArch::X8664, options, runtime) {
        Ok(g) => g,
        Err(e) => {
            out.insert(format!("{key}.error.txt"), format!("{e}\n"));
            return;
        }
    };
    let mut notes = notes_text(&generated);
    for input in inputs {
        writeln!(
            notes,
            "missed container start: {}: {:?}",
            input.origin,
            missed_container_start(input)
        )
        .unwrap();
    }
    out.insert(format!("{key}.notes.txt"), notes);
    out.insert(
        format!("{key}.oci.json"),
        profile_to_json(&generated.profile),
    );
    out.insert(
        format!("{key}.log.json"),
        profile_to_json(&log_profile(&generated.profile)),
    );
    out.insert(
        format!("{key}.spo.yaml"),
        kube::spo_yaml_in("my-app", Some("prod"), &generated.profile).unwrap(),
    );
}

fn report_outputs(out: &mut BTreeMap<String, String>, key: &str, report: &Report) {
    out.insert(
        format!("{key}.txt"),
        report.render(ReportFormat::Text { color: false }),
    );
    out.insert(format!("{key}.md"), report.render(ReportFormat::Markdown));
    out.insert(format!("{key}.json"), report.render(ReportFormat::Json));
    for fail_on in [FailOn::Added, FailOn::Risky, FailOn::Denied] {
        let name = fail_on.name();
        match report.verdict(fail_on) {
            Ok(verdict) => {
                out.insert(
                    format!("{key}.fail-on-{name}.json"),
                    report.render_with(ReportFormat::Json, Some(&verdict)),
                );
            }
            Err(e) => {
                out.insert(format!("{key}.fail-on-{name}.error.txt"), format!("{e}\n"));
            }
        }
    }
}

/// Security facts of a server that starts as root, binds a low port, drops to uid 33, writes
/// its cache on the root filesystem and runs a file-capability program.
fn observed_server() -> MergedSecurity {
    let cap = |name: &str, needed: bool| CapabilityUse {
        name: name.into(),
        granted: u64::from(needed),
        denied: 0,
        noaudit: u64::from(!needed),
        needed,
    };
    MergedSecurity::from_facts(&SecurityFacts {
        capabilities: vec![
            cap("CAP_NET_BIND_SERVICE", true),
            cap("CAP_SETGID", true),
            cap("CAP_SETUID", true),
            cap("CAP_SYS_ADMIN", false),
        ],
        identity: Identity {
            uids: vec![0, 33],
            gids: vec![0, 33],
            root_used: true,
        },
        root_filesystem_writes: RootFilesystemWrites {
            count: 2,
            paths: vec!["/run/app.pid".into(), "/var/cache/app/index".into()],
            truncated: false,
            unobserved: None,
        },
        privilege_gain: vec![PrivilegeGain {
            path: "/usr/bin/ping".into(),
            kind: PrivilegeGainKind::FileCapabilities,
        }],
    })
}

fn all_outputs() -> BTreeMap<String, String> {
    let inputs = inputs();
    let mut out = BTreeMap::new();
    // `--format localhost`: the Pod snippet (the profile is the `oci` output).
    out.insert(
        "generate/localhost-pod.yaml".to_owned(),
        kube::localhost_pod_yaml(
            "my-app",
            "profiles/my-app.json",
            "my-app.json",
            Evidence::NotObserved {
                origins: &["app.recording.json".to_owned()],
            },
        )
        .unwrap(),
    );

    // The same for a server that used root, wrote its root filesystem and gained privilege.
    out.insert(
        "generate/localhost-pod-observed.yaml".to_owned(),
        kube::localhost_pod_yaml(
            "my-app",
            "profiles/my-app.json",
            "my-app.json",
            Evidence::Observed {
                facts: &observed_server(),
            },
        )
        .unwrap(),
    );

    // generate, one input at a time, in every format and option.
    for (name, input) in &inputs {
        let one = std::slice::from_ref(input);
        let stem = name.replace('.', "_");
        generate_outputs(
            &mut out,
            &format!("generate/{stem}"),
            one,
            &PolicyOptions::default(),
            None,
        );
        generate_outputs(
            &mut out,
            &format!("generate/{stem}.args-off"),
            one,
            &PolicyOptions {
                args: false,
                target: None,
            },
            None,
        );
        generate_outputs(
            &mut out,
            &format!("generate/{stem}.arch-aarch64"),
            one,
            &PolicyOptions {
                args: true,
                target: Some(ScmpArch::Aarch64),
            },
            None,
        );
        for runtime in ["runc", "crun", "containerd", "podman", "youki"] {
            generate_outputs(
                &mut out,
                &format!("generate/{stem}.for-{runtime}"),
                one,
                &PolicyOptions::default(),
                Some(runtime),
            );
        }
        let mut describe = format!("kind: {}\ndescribe: {}\n", input.kind, input.describe());
        for warning in &input.warnings {
            writeln!(describe, "warning: {warning}").unwrap();
        }
        writeln!(describe, "unknown numbers: {:?}", input.unknown_numbers()).unwrap();
        out.insert(format!("input/{stem}.txt"), describe);
    }

    // generate, all inputs together (the Docker profile evaluated for x86_64).
    let allow_lists: Vec<Input> = inputs.values().cloned().collect();
    generate_outputs(
        &mut out,
        "generate/all",
        &allow_lists,
        &PolicyOptions::default(),
        None,
    );
    generate_outputs(
        &mut out,
        "generate/all.for-runc",
        &allow_lists,
        &PolicyOptions::default(),
        Some("runc"),
    );

    // record's profile, from a recording alone.
    for (name, input) in &inputs {
        if let Content::Recording(rec) = &input.content {
            let generated = profile_from_recording(rec).unwrap();
            let mut text = profile_to_json(&generated.profile);
            writeln!(
                text,
                "unknown: {:?}\nout of range: {}",
                generated
                    .unknown_numbers
                    .iter()
                    .map(|(_, nr)| *nr)
                    .collect::<Vec<u32>>(),
                generated.out_of_range_count
            )
            .unwrap();
            for note in &generated.notes {
                writeln!(text, "{:?}: {}", note.level, note.message).unwrap();
            }
            out.insert(format!("record/{}.txt", name.replace('.', "_")), text);
        }
    }

    // merge: the recordings, then the merged recording again with one more.
    let recordings: Vec<(String, Recording)> = inputs
        .iter()
        .filter_map(|(name, input)| match &input.content {
            Content::Recording(rec) => Some((name.clone(), (**rec).clone())),
            _ => None,
        })
        .collect();
    let merged_inputs: Vec<(MergedRecording, &str)> = recordings
        .iter()
        .map(|(name, rec)| (MergedRecording::from_recording(rec), name.as_str()))
        .collect();
    let merged = merge_all(merged_inputs.iter().map(|(m, n)| (m, *n))).unwrap();
    out.insert("merge/all.recording.json".to_owned(), merged.to_json());
    let again = merge_all([
        (&merged, "all.recording.json"),
        (&merged_inputs[0].0, merged_inputs[0].1),
    ])
    .unwrap();
    out.insert("merge/again.recording.json".to_owned(), again.to_json());
    let merged_input = Input {
        origin: "all.recording.json".to_owned(),
        kind: InputKind::MergedRecording,
        content: Content::Merged(merged.clone()),
        warnings: Vec::new(),
    };
    generate_outputs(
        &mut out,
        "merge/all",
        std::slice::from_ref(&merged_input),
        &PolicyOptions::default(),
        None,
    );
    let reparsed = parse_input(
        &merged.to_json(),
        "merged.json",
        &conditions(ScmpArch::X8664),
    )
    .unwrap();
    out.insert(
        "merge/reparsed.txt".to_owned(),
        format!(
            "kind: {}\ndescribe: {}\n",
            reparsed.kind,
            reparsed.describe()
        ),
    );

    // diff between releases, every ordered pair of a few inputs (merged included).
    let mut diffable: Vec<(String, Input)> = inputs
        .iter()
        .map(|(n, i)| (n.replace('.', "_"), i.clone()))
        .collect();
    diffable.push(("merged".to_owned(), merged_input));
    let pairs = [
        ("recording-v1_json", "args_recording_json"),
        ("args_recording_json", "recording-v1_json"),
        ("recording-v1_json", "compat_recording_json"),
        ("profile-from-recording-v1_json", "moby-default_json"),
        ("spo_yaml", "container_recording_json"),
        ("attached_recording_json", "merged"),
        ("merged", "args_recording_json"),
    ];
    let find = |name: &str| &diffable.iter().find(|(n, _)| n == name).unwrap().1;
    for (old_name, new_name) in pairs {
        let (old, new) = (find(old_name), find(new_name));
        {
            let key = format!("diff/{old_name}--{new_name}");
            match release_diff(old, new, ScmpArch::X8664) {
                Ok(d) => report_outputs(&mut out, &key, &Report::Release(d)),
                Err(e) => {
                    out.insert(format!("{key}.error.txt"), format!("{e}\n"));
                }
            }
        }
    }

    // diff against RuntimeDefault of each runtime, and against a profile file.
    let no_caps =
        Conditions::new(ScmpArch::X8664, [], KernelVersion { major: 5, minor: 4 }).unwrap();
    let spo_policy = inputs["spo.yaml"].policy().unwrap();
    for (name, workload) in &diffable {
        for (flavour, cond_name, cond) in [
            (Flavour::Moby, "default-caps", conditions(ScmpArch::X8664)),
            (Flavour::Moby, "no-caps", no_caps.clone()),
            (
                Flavour::Containerd,
                "default-caps",
                Conditions::new(
                    ScmpArch::X8664,
                    Flavour::Containerd.default_caps(),
                    KernelVersion { major: 6, minor: 1 },
                )
                .unwrap(),
            ),
            (
                Flavour::Crio,
                "default-caps",
                Conditions::new(
                    ScmpArch::X8664,
                    Flavour::Crio.default_caps(),
                    KernelVersion { major: 6, minor: 1 },
                )
                .unwrap(),
            ),
        ] {
            {
                let rd = runtime_default::render(flavour, &cond).unwrap();
                let key = format!("against/{name}--{}-{cond_name}", flavour.name());
                match baseline_diff(workload, &rd.policy, &rd.label(), ScmpArch::X8664) {
                    Ok(d) => report_outputs(&mut out, &key, &Report::Baseline(d)),
                    Err(e) => {
                        out.insert(format!("{key}.error.txt"), format!("{e}\n"));
                    }
                }
            }
        }
        let key = format!("against/{name}--spo");
        match baseline_diff(workload, &spo_policy, "spo.yaml", ScmpArch::X8664) {
            Ok(d) => report_outputs(&mut out, &key, &Report::Baseline(d)),
            Err(e) => {
                out.insert(format!("{key}.error.txt"), format!("{e}\n"));
            }
        }
    }
    out
}

#[test]
fn outputs_match_the_golden_files() {
    let outputs = all_outputs();
    let dir = golden_dir().join("out");
    if std::env::var_os("SYSCAGE_BLESS").is_some_and(|v| v == "1") {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        for (name, text) in &outputs {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        return;
    }
    let mut mismatches = Vec::new();
    for (name, text) in &outputs {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(golden) if golden == *text => {}
            Ok(golden) => mismatches.push(format!(
                "{name}: differs\n--- golden\n{golden}\n+++ now\n{text}"
            )),
            Err(e) => mismatches.push(format!("{name}: {e} (new output? bless it)")),
        }
    }
    let mut on_disk = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                on_disk.push(
                    path.strip_prefix(&dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    for name in on_disk {
        if !outputs.contains_key(&name) {
            mismatches.push(format!("{name}: golden file no longer produced"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} outputs differ from tests/golden/out (SYSCAGE_BLESS=1 regenerates them):\n{}",
        mismatches.len(),
        outputs.len(),
        mismatches.join("\n")
    );
}
