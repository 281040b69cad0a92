//! Reading and checking what syscage writes: profiles, recordings and output directories.

use std::{
    collections::BTreeSet,
    fmt, fs,
    path::{Path, PathBuf},
};

use serde_json::{json, Value};

use super::Outcome;

/// Syscalls every syscage profile allows, recorded or not: a short recording may miss them, and
/// a process that cannot exit loops forever.
pub(crate) const ALWAYS_ALLOWED: [&str; 4] =
    ["exit", "exit_group", "restart_syscall", "rt_sigreturn"];

/// Newer syscalls a profile may answer with ENOSYS although they were recorded, because libcs
/// then use the older one, which the profile checks (README, `generate --help`): (newer, older).
pub(crate) const ENOSYS_FALLBACKS: [(&str, &str); 6] = [
    ("clone3", "clone"),
    ("faccessat2", "faccessat"),
    ("fchmodat2", "fchmodat"),
    ("statx", "newfstatat"),
    ("preadv2", "preadv"),
    ("pwritev2", "pwritev"),
];

/// The recording written next to `profile` when `--recording` is not given.
pub(crate) fn default_recording_path(profile: &Path) -> PathBuf {
    let stem = profile
        .file_stem()
        .expect("profile path has a file name")
        .to_string_lossy();
    profile.with_file_name(format!("{stem}.recording.json"))
}

/// Parses a JSON file, panicking with its path and contents if it is missing or not JSON.
#[track_caller]
pub(crate) fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}\n{text}", path.display()))
}

/// Parses a YAML file (a Kubernetes manifest) into a JSON value, panicking with its path if it
/// is missing or not YAML.
#[track_caller]
pub(crate) fn read_yaml(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

#[track_caller]
pub(crate) fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("serialising JSON");
    fs::write(path, text + "\n").unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The names a syscage profile allows (outright or for some arguments), in file order, after
/// checking its overall shape: a default that denies with an errno, ALLOW rules first (one
/// without conditions, then any with argument conditions), then at most rules that answer
/// ENOSYS (newer syscalls whose older fallback was recorded, so libc falls back).
#[track_caller]
pub(crate) fn allowed_names_in_order(profile: &Value) -> Vec<String> {
    let pretty = || serde_json::to_string_pretty(profile).unwrap_or_default();
    assert_eq!(
        profile["defaultAction"],
        "SCMP_ACT_ERRNO",
        "profile:\n{}",
        pretty()
    );
    let rules = profile["syscalls"]
        .as_array()
        .unwrap_or_else(|| panic!("no syscalls array:\n{}", pretty()));
    assert!(
        rules
            .first()
            .is_some_and(|r| r["action"] == "SCMP_ACT_ALLOW" && r.get("args").is_none()),
        "expected an unconditional ALLOW rule first:\n{}",
        pretty()
    );
    let mut names = Vec::new();
    let mut in_allow_rules = true;
    for rule in rules {
        if rule["action"] == "SCMP_ACT_ALLOW" {
            assert!(
                in_allow_rules,
                "ALLOW rule after an ENOSYS rule:\n{}",
                pretty()
            );
            for n in rule["names"]
                .as_array()
                .unwrap_or_else(|| panic!("rule without names:\n{}", pretty()))
            {
                let n = n
                    .as_str()
                    .unwrap_or_else(|| panic!("non-string name {n}"))
                    .to_owned();
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        } else {
            in_allow_rules = false;
            assert_eq!(
                (&rule["action"], &rule["errnoRet"]),
                (&json!("SCMP_ACT_ERRNO"), &json!(38)),
                "rules after the ALLOW rules may only answer ENOSYS:\n{}",
                pretty()
            );
        }
    }
    names
}

/// Checks that a profile allows exactly the recorded names plus what every process needs to end
/// (`exit`, `exit_group`, `rt_sigreturn`, `restart_syscall`: a short recording may miss them,
/// and a process that cannot exit loops forever), minus what it answers with ENOSYS on purpose: `clone3` when
/// `clone` has argument conditions (seccomp cannot see clone3's flags; libc falls back to clone).
#[track_caller]
pub(crate) fn assert_profile_allows_recorded(
    profile: &Value,
    recorded: &BTreeSet<String>,
    context: &dyn fmt::Display,
) {
    let enosys = enosys_names(profile);
    let mut expected: BTreeSet<String> = recorded.difference(&enosys).cloned().collect();
    expected.extend(ALWAYS_ALLOWED.map(String::from));
    assert_eq!(
        allowed_names(profile),
        expected,
        "profile names differ from the recording's\n{context}"
    );
    for name in recorded.intersection(&enosys) {
        assert_eq!(
            name, "clone3",
            "only clone3 may be recorded and answered with ENOSYS\n{context}"
        );
    }
}

/// Every name a profile allows, for all arguments or for some (see
/// [`allowed_names_in_order`], which also checks the profile's shape).
#[track_caller]
pub(crate) fn allowed_names(profile: &Value) -> BTreeSet<String> {
    allowed_names_in_order(profile).into_iter().collect()
}

/// The recording's syscall entries, in file order.
#[track_caller]
pub(crate) fn recording_syscalls(recording: &Value) -> &Vec<Value> {
    recording["syscalls"].as_array().unwrap_or_else(|| {
        panic!(
            "recording without a syscalls array:\n{}",
            serde_json::to_string_pretty(recording).unwrap_or_default()
        )
    })
}

/// The set of syscall names in a recording.
#[track_caller]
pub(crate) fn recording_names(recording: &Value) -> BTreeSet<String> {
    recording_syscalls(recording)
        .iter()
        .map(|s| {
            s["name"]
                .as_str()
                .unwrap_or_else(|| panic!("entry without a name: {s}"))
                .to_owned()
        })
        .collect()
}

/// The names a profile answers with ENOSYS (errnoRet 38).
fn enosys_names(profile: &Value) -> BTreeSet<String> {
    profile["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rule| rule["action"] == "SCMP_ACT_ERRNO" && rule["errnoRet"] == 38)
        .flat_map(|rule| rule["names"].as_array().into_iter().flatten())
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// Asserts a profile lets every syscall its recording holds work: allowed (for some arguments
/// or all), or a newer syscall answered with ENOSYS whose older fallback is allowed.
#[track_caller]
pub(crate) fn assert_profile_covers_recording(profile: &Value, recording: &Value, context: &str) {
    let mut allowed = allowed_names(profile);
    let enosys = enosys_names(profile);
    for (newer, older) in ENOSYS_FALLBACKS {
        if enosys.contains(newer) && allowed.contains(older) {
            allowed.insert(newer.to_owned());
        }
    }
    let recorded = recording_names(recording);
    let lost: Vec<_> = recorded.difference(&allowed).collect();
    assert!(
        lost.is_empty(),
        "the profile lost syscalls its recording has: {lost:?}\n{context}\nprofile:\n{}",
        serde_json::to_string_pretty(profile).unwrap_or_default()
    );
}

/// The profile at `profile` and the recording next to it, after checking that the profile
/// covers the recording (see [`assert_profile_covers_recording`]); `outcome` is the run that
/// wrote them.
#[track_caller]
pub(crate) fn checked_outputs(profile: &Path, outcome: &Outcome) -> (Value, Value) {
    let recording = read_json(&default_recording_path(profile));
    let profile = read_json(profile);
    assert_profile_covers_recording(&profile, &recording, &outcome.to_string());
    (profile, recording)
}

/// `profile` with each of `names` taken out of every ALLOW rule (and rules left without names
/// dropped); panics if one of them was not allowed (the test would then prove nothing).
#[track_caller]
pub(crate) fn profile_without(profile: &Value, names: &[&str]) -> Value {
    let allowed = allowed_names(profile);
    for name in names {
        assert!(
            allowed.contains(*name),
            "the profile does not allow {name}:\n{}",
            serde_json::to_string_pretty(profile).unwrap_or_default()
        );
    }
    let mut profile = profile.clone();
    let rules = profile["syscalls"]
        .as_array_mut()
        .expect("checked by allowed_names");
    for rule in rules.iter_mut() {
        if rule["action"] == "SCMP_ACT_ALLOW" {
            if let Some(rule_names) = rule["names"].as_array_mut() {
                rule_names.retain(|n| !names.iter().any(|name| n == name));
            }
        }
    }
    rules.retain(|rule| rule["names"].as_array().is_some_and(|n| !n.is_empty()));
    profile
}

/// Every file below `dir` (relative paths), sorted.
pub(crate) fn files_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("below base");
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Files in `dir`, by name (hidden ones included).
pub(crate) fn dir_listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| {
            e.expect("reading a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}
