//! Writing what a recording produced: the recording and its profile, atomically, owned by the
//! user the workload ran as.

use std::{
    ffi::OsString,
    os::unix::fs::chown,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use profile_gen::{profile_from_recording, profile_to_json, write_atomic, Recording};

use crate::{
    exit::{ExitCodeExt as _, EXIT_CANNOT_WRITE},
    user::Credentials,
};

/// Where one recording goes.
#[derive(Debug, Clone)]
pub(crate) struct OutputPaths {
    pub(crate) profile: PathBuf,
    pub(crate) recording: PathBuf,
}

impl OutputPaths {
    /// `--output` and `--recording` (default: next to the profile), checked before recording.
    pub(crate) fn new(profile: PathBuf, recording: Option<PathBuf>) -> Result<Self> {
        let recording = recording.unwrap_or_else(|| recording_path_for(&profile));
        check_output_dir(&profile).exit_code(EXIT_CANNOT_WRITE)?;
        check_output_dir(&recording).exit_code(EXIT_CANNOT_WRITE)?;
        Ok(Self { profile, recording })
    }

    /// `DIR/<name>.json` and `DIR/<name>.recording.json`.
    pub(crate) fn in_dir(dir: &Path, name: &str) -> Self {
        let profile = dir.join(format!("{name}.json"));
        let recording = recording_path_for(&profile);
        Self { profile, recording }
    }
}

/// Generates the profile and writes both files; returns the number of syscalls the profile allows.
pub(crate) fn write_recording_and_profile(
    recording: &Recording,
    paths: &OutputPaths,
    owner: Option<&Credentials>,
) -> Result<usize> {
    let generated = profile_from_recording(recording)
        .with_context(|| format!("generating the profile for {}", paths.profile.display()))?;
    for note in &generated.notes {
        match note.level {
            profile_gen::generate::Level::Warning => log::warn!("{}", note.message),
            profile_gen::generate::Level::Info => log::info!("{}", note.message),
        }
    }
    for nr in &generated.unknown_numbers {
        log::warn!(
            "syscall number {nr} is not known to libseccomp for {}: kept in the recording, left out of the profile",
            recording.arch
        );
    }
    if recording.out_of_range_count > 0 {
        log::warn!(
            "{} syscalls had numbers beyond the tracer's table ({}); they are counted in the recording's out_of_range_count",
            recording.out_of_range_count,
            tracer_common::MAX_SYSCALLS
        );
    }
    if recording.phases.is_some_and(|p| p.setup_needed()) {
        log::warn!(
            "{}: no seccomp filter load was seen, so the profile also allows what the runtime did \
             before the entrypoint; record the container with a permissive profile (for example \
             defaultAction SCMP_ACT_LOG) for a tighter one",
            paths.profile.display()
        );
    }
    write_output(&paths.recording, recording.to_json().as_bytes(), owner)?;
    write_output(
        &paths.profile,
        profile_to_json(&generated.profile).as_bytes(),
        owner,
    )?;
    Ok(generated
        .profile
        .syscalls()
        .as_ref()
        .map_or(0, |rules| rules.iter().map(|r| r.names().len()).sum()))
}

/// `app.json` -> `app.recording.json`; `app` -> `app.recording.json`.
pub(crate) fn recording_path_for(profile: &Path) -> PathBuf {
    let stem = match profile.extension() {
        Some(ext) if ext == "json" => profile.with_extension(""),
        _ => profile.to_path_buf(),
    };
    let mut name = stem.file_name().map(OsString::from).unwrap_or_default();
    name.push(".recording.json");
    stem.with_file_name(name)
}

/// Fails early, before the workload runs, when an output could not be written afterwards.
pub(crate) fn check_output_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let meta =
        std::fs::metadata(dir).with_context(|| format!("output directory {}", dir.display()))?;
    anyhow::ensure!(
        meta.is_dir(),
        "output directory {}: not a directory",
        dir.display()
    );
    anyhow::ensure!(
        !path.is_dir(),
        "output {}: is a directory, expected a file path",
        path.display()
    );
    Ok(())
}

/// Writes atomically and, under sudo, hands the file to the user the workload ran as, so a user
/// can edit and move their own profile.
fn write_output(path: &Path, contents: &[u8], owner: Option<&Credentials>) -> Result<()> {
    write_atomic(path, contents)
        .with_context(|| format!("writing {}", path.display()))
        .exit_code(EXIT_CANNOT_WRITE)?;
    if let Some(c) = owner {
        chown(path, Some(c.uid), Some(c.gid))
            .with_context(|| format!("chown {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_path_sits_next_to_the_profile() {
        assert_eq!(
            recording_path_for(Path::new("app.json")),
            PathBuf::from("app.recording.json")
        );
        assert_eq!(
            recording_path_for(Path::new("/x/y/app.json")),
            PathBuf::from("/x/y/app.recording.json")
        );
        assert_eq!(
            recording_path_for(Path::new("profile")),
            PathBuf::from("profile.recording.json")
        );
        assert_eq!(
            recording_path_for(Path::new("a.b.json")),
            PathBuf::from("a.b.recording.json")
        );
    }
}
