//! The bodies of syscage's fuzz targets: one per file reader of `profile-gen` (recordings,
//! merged recordings, OCI runtime-spec profiles, Docker/moby-format profiles, SPO
//! `SeccompProfile` resources). `cargo xtask fuzz` runs them; each `fuzz_targets/*.rs` only
//! hands libFuzzer's bytes to the function of the same name here.
//!
//! What a target checks, besides "does not crash":
//! - bad input gives an error whose message is one line (`syscage: <file>: <field>: ...`);
//! - what reads back goes on through everything syscage does with a read input: its policy,
//!   `generate` (and the generated profile must read back, validate and build a libseccomp
//!   filter), `diff` against itself (which must be empty) and its three renderings;
//! - recordings and merged recordings that read write JSON that reads back to the same value.
//!
//! The input is text the way `read_input` makes it (lossy UTF-8), and every target also goes
//! through `parse_input`, which tells the kinds apart, so the dispatch is fuzzed with them.
//! This crate is not part of the main workspace: it builds with sanitizers and coverage
//! instrumentation that must not reach the main build.

use std::{borrow::Cow, collections::BTreeSet, fmt::Display};

// The target binaries link libFuzzer through this crate's dependency.
use libfuzzer_sys as _;

use profile_gen::{
    analysis::diff::{release_diff, Report, ReportFormat},
    build_filter,
    formats::{docker, input::parse_input, kube},
    generate, log_profile, profile_from_json, profile_from_recording, profile_to_json,
    validate_profile, Conditions, Content, Input, InputKind, KernelVersion, MergedRecording,
    Recording, ScmpArch,
};

const ORIGIN: &str = "fuzz.json";

/// The architecture inputs that name none are evaluated for (the one CI and users run on).
const ARCH: ScmpArch = ScmpArch::X8664;

fn text(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

fn conditions(arch: ScmpArch, caps: &[&str]) -> Conditions {
    Conditions {
        arch,
        caps: caps.iter().map(|c| (*c).to_owned()).collect(),
        kernel: KernelVersion { major: 6, minor: 1 },
    }
}

/// Errors are printed as one line, `syscage: {err:#}`.
#[track_caller]
fn one_line(err: &impl Display) {
    let message = err.to_string();
    assert!(
        !message.contains(['\n', '\r']),
        "an error message spans several lines: {message:?}"
    );
}

/// `syscage generate|diff|merge` all start by reading files through this. (The conditions
/// matter for Docker-format profiles only; `docker_profile` tries several.)
fn dispatch(text: &str) {
    match parse_input(text, ORIGIN, &conditions(ARCH, &[])) {
        Ok(input) => downstream(&input),
        Err(e) => one_line(&e),
    }
}

/// What syscage does with an input once it is read.
fn downstream(input: &Input) {
    let _ = input.describe();
    let _ = input.unknown_numbers();
    let _ = input.records();
    for w in &input.warnings {
        one_line(w);
    }
    match input.policy() {
        Ok(policy) => {
            let _ = policy.to_profile();
        }
        Err(e) => one_line(&e),
    }
    match release_diff(input, input, ARCH) {
        Ok(diff) => {
            assert!(
                diff.added.is_empty() && diff.removed.is_empty(),
                "diff of an input with itself is not empty: {diff:?}"
            );
            let report = Report::Release(diff);
            for format in [
                ReportFormat::Text { color: true },
                ReportFormat::Markdown,
                ReportFormat::Json,
            ] {
                let _ = report.render(format);
            }
        }
        Err(e) => one_line(&e),
    }
    match generate(std::slice::from_ref(input), ARCH) {
        Ok(generated) => {
            check_generated(&generated.profile, generated.arch, input.is_recording());
        }
        Err(e) => one_line(&e),
    }
}

/// A profile syscage generated must read back as itself. From a recording (`strict`) it must
/// also validate and compile on its architecture; from a profile it may keep names this
/// libseccomp does not know (generate warns about those), so it only has to fail in one line.
fn check_generated(profile: &profile_gen::LinuxSeccomp, arch: ScmpArch, strict: bool) {
    let json = profile_to_json(profile);
    let back = profile_from_json(&json, ORIGIN)
        .unwrap_or_else(|e| panic!("a generated profile does not read back: {e}\n{json}"));
    assert_eq!(&back, profile, "a generated profile reads back differently");
    let checked = validate_profile(profile, arch, ORIGIN)
        .map_err(|e| e.to_string())
        .and_then(|()| build_filter(profile, arch).map_err(|e| e.to_string()));
    match checked {
        Ok(_) => {}
        Err(e) if strict => panic!("a profile generated from a recording is unusable: {e}\n{json}"),
        Err(e) => one_line(&e),
    }
    let _ = log_profile(profile);
    match kube::spo_yaml("fuzz", profile) {
        Ok(yaml) => {
            let read =
                parse_input(&yaml, "fuzz.yaml", &conditions(arch, &[])).unwrap_or_else(|e| {
                    panic!("a generated SPO resource does not read back: {e}\n{yaml}")
                });
            assert_eq!(read.kind, InputKind::SpoProfile);
        }
        Err(e) => one_line(&e),
    }
}

/// `Recording::from_json`: syscage's own recordings.
pub fn recording(data: &[u8]) {
    let text = text(data);
    match Recording::from_json(&text, ORIGIN) {
        Ok(rec) => {
            let json = rec.to_json();
            let back = Recording::from_json(&json, ORIGIN).unwrap_or_else(|e| {
                panic!("a recording's own JSON does not read back: {e}\n{json}")
            });
            assert_eq!(back, rec, "a recording reads back differently");
            let _ = rec.names();
            let _ = rec.unknown_numbers();
            match profile_from_recording(&rec) {
                Ok(generated) => {
                    if let Ok(arch) = rec.scmp_arch() {
                        check_generated(&generated.profile, arch, true);
                    }
                }
                Err(e) => one_line(&e),
            }
            let merged = MergedRecording::from_recording(&rec);
            check_merged(&merged);
            downstream(&Input {
                origin: ORIGIN.to_owned(),
                kind: InputKind::Recording,
                content: Content::Recording(Box::new(rec)),
                warnings: Vec::new(),
            });
        }
        Err(e) => one_line(&e),
    }
    dispatch(&text);
}

/// `MergedRecording::from_json`: what `syscage merge` writes.
pub fn merged_recording(data: &[u8]) {
    let text = text(data);
    match MergedRecording::from_json(&text, ORIGIN) {
        Ok(merged) => {
            let json = merged.to_json();
            let back = MergedRecording::from_json(&json, ORIGIN).unwrap_or_else(|e| {
                panic!("a merged recording's own JSON does not read back: {e}\n{json}")
            });
            assert_eq!(back, merged, "a merged recording reads back differently");
            check_merged(&merged);
            downstream(&Input {
                origin: ORIGIN.to_owned(),
                kind: InputKind::MergedRecording,
                content: Content::Merged(merged),
                warnings: Vec::new(),
            });
        }
        Err(e) => one_line(&e),
    }
    dispatch(&text);
}

/// Merging with itself keeps the syscall set, and what merge writes reads back.
fn check_merged(merged: &MergedRecording) {
    match merged.merge(merged, ORIGIN) {
        Ok(twice) => {
            let set =
                |m: &MergedRecording| m.syscalls.iter().map(|s| s.nr).collect::<BTreeSet<_>>();
            assert_eq!(
                set(&twice),
                set(merged),
                "merging with itself changed the syscalls"
            );
            let json = twice.to_json();
            if let Err(e) = MergedRecording::from_json(&json, ORIGIN) {
                panic!("a merge result does not read back: {e}\n{json}");
            }
        }
        Err(e) => one_line(&e),
    }
}

/// `profile_from_json` + `validate_profile` (+ libseccomp), as `syscage run` reads a profile.
pub fn oci_profile(data: &[u8]) {
    let text = text(data);
    match profile_from_json(&text, ORIGIN) {
        Ok(profile) => {
            let _ = profile_to_json(&profile);
            match validate_profile(&profile, ARCH, ORIGIN) {
                Ok(()) => {
                    if let Err(e) = build_filter(&profile, ARCH) {
                        one_line(&e);
                    }
                }
                Err(e) => one_line(&e),
            }
            downstream(&Input {
                origin: ORIGIN.to_owned(),
                kind: InputKind::OciProfile,
                content: Content::Profile(profile),
                warnings: Vec::new(),
            });
        }
        Err(e) => one_line(&e),
    }
    dispatch(&text);
}

/// `docker::parse` + `docker::render`: Docker/moby-format profiles, evaluated for a few nodes.
pub fn docker_profile(data: &[u8]) {
    let text = text(data);
    match docker::parse(&text, ORIGIN) {
        Ok(parsed) => {
            for conditions in [
                conditions(ARCH, &[]),
                conditions(ARCH, &["CAP_SYS_ADMIN", "CAP_BPF"]),
                conditions(ScmpArch::Aarch64, &["CAP_SYS_PTRACE"]),
                conditions(ScmpArch::S390X, &[]),
            ] {
                match docker::render(&parsed, &conditions, ORIGIN) {
                    Ok(rendered) => downstream(&Input {
                        origin: ORIGIN.to_owned(),
                        kind: InputKind::DockerProfile,
                        content: Content::Profile(rendered.profile),
                        warnings: Vec::new(),
                    }),
                    Err(e) => one_line(&e),
                }
            }
        }
        Err(e) => one_line(&e),
    }
    dispatch(&text);
}

/// SPO `SeccompProfile` resources, YAML or JSON: `parse_input` reads YAML streams and hands the
/// resource to `kube::parse_spo`.
pub fn spo_profile(data: &[u8]) {
    dispatch(&text(data));
}
