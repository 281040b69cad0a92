//! The one place that writes any output: profiles, recordings, reports, snippets.
//!
//! syscage usually runs as root and writes where users (and, for the OCI hook, container
//! annotations) say, so every output follows the same rules:
//! - `-` is stdout.
//! - A regular file, or a name that does not exist yet, is replaced atomically (a temporary file
//!   next to it, renamed over it). A replaced file keeps its owner and mode; a new one gets
//!   mode 0644 (whatever the umask) and, under sudo, the invoking user as owner. Owner and
//!   mode are set on the temporary file's descriptor before the rename, never by path after.
//! - A character device or FIFO (`/dev/null`, a named pipe) is written through, never replaced.
//!   Block devices, sockets and directories are refused.
//! - A symbolic link is refused, except a link owned by root or by syscage's own user that
//!   leads to a character device or FIFO (`/dev/stdout`, `/dev/fd/N`): a link someone else
//!   planted in a shared directory must not send root's output elsewhere, and replacing a
//!   link with a plain file would silently cut it.
//! - An output that is one of the command's inputs, or another of its outputs, is refused.

use std::{
    ffi::OsString,
    fs::{self, File, OpenOptions},
    io::Write as _,
    os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _},
    path::{Path, PathBuf},
    sync::Mutex,
};

use anyhow::{bail, Context as _, Result};
use profile_gen::{
    directory_of, profile_from_recording, profile_to_json, Owner, Recording, Replacement,
};

use crate::{
    sys::exit::{ExitCodeExt as _, Failure, EXIT_CANNOT_WRITE, EXIT_ERROR},
    sys::user::Credentials,
};

/// One output, checked (and, for a file, its temporary file created) before the work starts.
#[derive(Debug)]
pub(crate) struct Output {
    path: PathBuf,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Stdout,
    /// A character device or FIFO: opened and written when the contents are ready. `follow`:
    /// reached through a link that may be followed.
    Through {
        follow: bool,
    },
    Replace(Replacement),
}

impl Output {
    /// Checks `path` against the rules in the module documentation and, for a file, creates
    /// its temporary file now, so an output that cannot be written fails before any work.
    pub(crate) fn prepare(path: &Path) -> Result<Self> {
        let kind = destination(path)
            .with_context(|| format!("output {}", path.display()))
            .exit_code(EXIT_CANNOT_WRITE)?;
        Ok(Self {
            path: path.to_path_buf(),
            kind,
        })
    }

    /// Writes `contents`; a new file is given to `owner` (see the module documentation).
    pub(crate) fn write(self, contents: &[u8], owner: Option<&Credentials>) -> Result<()> {
        let path = self.path;
        match self.kind {
            Kind::Stdout => {
                let mut out = std::io::stdout().lock();
                match out.write_all(contents).and_then(|()| out.flush()) {
                    // A reader that has seen enough (`| head`) is not an error.
                    Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e)
                        .context("writing to stdout")
                        .exit_code(EXIT_CANNOT_WRITE),
                    _ => Ok(()),
                }
            }
            Kind::Through { follow } => write_through(&path, follow, contents)
                .with_context(|| format!("writing {}", path.display()))
                .exit_code(EXIT_CANNOT_WRITE),
            Kind::Replace(replacement) => replacement
                .commit(contents, owner.map(owner_of))
                .with_context(|| format!("writing {}", path.display()))
                .exit_code(EXIT_CANNOT_WRITE),
        }
    }
}

/// Writes `text` to `path` (`-`: stdout) by the rules of this module.
pub(crate) fn write_output(path: &Path, text: &str) -> Result<()> {
    Output::prepare(path)?.write(text.as_bytes(), None)
}

/// Refuses an output that is also an input, or that two outputs are the same file: the command
/// would read what it is about to replace, or write one output over the other.
pub(crate) fn refuse_overlaps(outputs: &[&Path], inputs: &[&Path]) -> Result<()> {
    let is_stdout = |p: &Path| p == Path::new("-");
    for (i, output) in outputs.iter().enumerate() {
        for input in inputs {
            if !is_stdout(output) && !is_stdout(input) && same_file(output, input) {
                let error = anyhow::anyhow!(
                    "output {} is also an input: give the output another name",
                    output.display()
                );
                return Err(Failure::new(EXIT_ERROR, error).into());
            }
        }
        for other in &outputs[i + 1..] {
            let both_stdout = is_stdout(output) && is_stdout(other);
            if both_stdout || (!is_stdout(output) && same_file(output, other)) {
                let error = anyhow::anyhow!(
                    "{} is given for two outputs: give each its own file",
                    output.display()
                );
                return Err(Failure::new(EXIT_ERROR, error).into());
            }
        }
    }
    Ok(())
}

/// Whether `a` and `b` name the same file: the same inode when both exist, else the same
/// directory and file name.
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        (Err(_), Err(_)) => lexical_identity(a) == lexical_identity(b),
        _ => false,
    }
}

fn lexical_identity(path: &Path) -> Option<PathBuf> {
    let dir = directory_of(path);
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    Some(dir.join(path.file_name()?))
}

fn destination(path: &Path) -> Result<Kind> {
    if path == Path::new("-") {
        return Ok(Kind::Stdout);
    }
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return replace(path);
        }
        Err(e) => return Err(e.into()),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = fs::read_link(path).unwrap_or_default();
        let followed = fs::metadata(path).ok();
        let stream = followed
            .as_ref()
            .is_some_and(|m| m.file_type().is_char_device() || m.file_type().is_fifo());
        // SAFETY: geteuid cannot fail.
        let euid = unsafe { libc::geteuid() };
        if stream && (meta.uid() == 0 || meta.uid() == euid) {
            return Ok(Kind::Through { follow: true });
        }
        bail!(
            "is a symbolic link (to {}); syscage neither writes through links to files nor \
             replaces them: give the file's own path, or remove the link",
            target.display()
        );
    }
    if kind.is_file() {
        replace(path)
    } else if kind.is_char_device() || kind.is_fifo() {
        Ok(Kind::Through { follow: false })
    } else if kind.is_dir() {
        bail!("is a directory, expected a file path")
    } else if kind.is_block_device() {
        bail!("is a block device; syscage writes profiles to files, not to disks")
    } else {
        bail!("is a socket or other special file, expected a file path")
    }
}

fn replace(path: &Path) -> Result<Kind> {
    Ok(Kind::Replace(Replacement::prepare(path)?))
}

/// Writes into an existing character device or FIFO, refusing anything else found there now.
fn write_through(path: &Path, follow: bool, contents: &[u8]) -> Result<()> {
    let mut flags = libc::O_NOCTTY;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let mut file: File = OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if !(kind.is_char_device() || kind.is_fifo()) {
        bail!("was replaced by another kind of file while syscage ran; not written");
    }
    file.write_all(contents)?;
    Ok(())
}

/// Where one recording goes: the profile (`-`: stdout) and the recording, if any.
#[derive(Debug)]
pub(crate) struct OutputPaths {
    pub(crate) profile: PathBuf,
    /// Not written when the profile goes to stdout and no recording file was given.
    pub(crate) recording: Option<PathBuf>,
    /// The outputs prepared before the recording started, taken when they are written.
    prepared: Mutex<Option<(Output, Option<Output>)>>,
}

impl OutputPaths {
    /// `--output` and `--recording` (default: next to the profile; none for `-o -`). Both
    /// outputs are prepared now, before anything is recorded, so a directory that cannot take
    /// them fails before the workload runs.
    pub(crate) fn new(profile: PathBuf, recording: Option<PathBuf>) -> Result<Self> {
        let recording = match recording {
            Some(path) => Some(path),
            None if profile == Path::new("-") => {
                log::warn!(
                    "the profile goes to stdout and no recording is kept; give --recording FILE \
                     to keep it"
                );
                None
            }
            None => Some(recording_path_for(&profile)),
        };
        let mut outputs = vec![profile.as_path()];
        outputs.extend(recording.as_deref());
        refuse_overlaps(&outputs, &[])?;
        let prepared = (
            Output::prepare(&profile)?,
            recording.as_deref().map(Output::prepare).transpose()?,
        );
        Ok(Self {
            profile,
            recording,
            prepared: Mutex::new(Some(prepared)),
        })
    }

    /// `DIR/<name>.json` and `DIR/<name>.recording.json`, prepared when written.
    pub(crate) fn in_dir(dir: &Path, name: &str) -> Self {
        Self::next_to(dir.join(format!("{name}.json")))
    }

    /// `profile` and the recording next to it, prepared when written.
    pub(crate) fn next_to(profile: PathBuf) -> Self {
        let recording = Some(recording_path_for(&profile));
        Self {
            profile,
            recording,
            prepared: Mutex::new(None),
        }
    }

    /// What was written, for the final message.
    pub(crate) fn describe(&self) -> String {
        let profile = if self.profile == Path::new("-") {
            "profile to stdout".to_owned()
        } else {
            format!("profile {}", self.profile.display())
        };
        match &self.recording {
            Some(path) if path == Path::new("-") => format!("{profile} and recording to stdout"),
            Some(path) => format!("{profile} and recording {}", path.display()),
            None => format!("{profile} (no recording kept)"),
        }
    }

    /// The prepared outputs, or prepares them now.
    fn take_prepared(&self) -> (Result<Output>, Option<Result<Output>>) {
        let prepared = self
            .prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        match prepared {
            Some((profile, recording)) => (Ok(profile), recording.map(Ok)),
            None => (
                Output::prepare(&self.profile),
                self.recording.as_deref().map(Output::prepare),
            ),
        }
    }
}

/// Checks, before recording, that `dir` can take outputs: creates a temporary file there.
pub(crate) fn check_output_dir(dir: &Path) -> Result<()> {
    let meta = fs::metadata(dir)
        .with_context(|| format!("output directory {}", dir.display()))
        .exit_code(EXIT_CANNOT_WRITE)?;
    if !meta.is_dir() {
        let error = anyhow::anyhow!("output directory {}: not a directory", dir.display());
        return Err(Failure::new(EXIT_CANNOT_WRITE, error).into());
    }
    Replacement::prepare(&dir.join("syscage-check"))
        .with_context(|| format!("output directory {}", dir.display()))
        .exit_code(EXIT_CANNOT_WRITE)?;
    Ok(())
}

/// Creates `base/<parts...>` one level at a time and returns its path. Each level is opened
/// relative to the one above without following symbolic links, so a link planted anywhere
/// below `base` cannot send root's outputs out of it. `parts` are single path components (no
/// `/`, not `.` or `..`); anything else is refused.
pub(crate) fn create_dirs_below(base: &Path, parts: &[&str]) -> Result<PathBuf> {
    use nix::{
        errno::Errno,
        fcntl::{openat, OFlag},
        sys::stat::{mkdirat, Mode},
    };
    let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut dir = nix::fcntl::open(base, flags, Mode::empty())
        .with_context(|| format!("output directory {}", base.display()))
        .exit_code(EXIT_CANNOT_WRITE)?;
    let mut path = base.to_path_buf();
    for part in parts {
        if part.is_empty() || *part == "." || *part == ".." || part.contains('/') {
            bail!(
                "{part:?} cannot be a directory name below {}",
                base.display()
            );
        }
        path.push(part);
        match mkdirat(&dir, *part, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(anyhow::Error::from(e))
                    .with_context(|| format!("creating {}", path.display()))
                    .exit_code(EXIT_CANNOT_WRITE)
            }
        }
        dir = match openat(&dir, *part, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                let error = anyhow::anyhow!(
                    "{}: not a directory (symbolic links are not followed)",
                    path.display()
                );
                return Err(Failure::new(EXIT_CANNOT_WRITE, error).into());
            }
            Err(e) => {
                return Err(anyhow::Error::from(e))
                    .with_context(|| format!("opening {}", path.display()))
                    .exit_code(EXIT_CANNOT_WRITE)
            }
        };
    }
    Ok(path)
}

/// Generates the profile and writes both files; returns the number of syscalls the profile allows.
///
/// When the recording cannot be written where asked, it is saved in a fallback file (named in
/// the error) so the workload's run is not lost; the profile is written if it can be.
pub(crate) fn write_recording_and_profile(
    recording: &Recording,
    paths: &OutputPaths,
    owner: Option<&Credentials>,
) -> Result<usize> {
    let generated = profile_from_recording(recording)
        .with_context(|| format!("generating the profile for {}", paths.profile.display()))?;
    for note in &generated.notes {
        match note.level {
            profile_gen::Level::Warning => log::warn!("{}", note.message),
            profile_gen::Level::Info => log::info!("{}", note.message),
        }
    }
    for (_, nr) in &generated.unknown_numbers {
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
    let recording_json = recording.to_json();
    let profile_json = profile_to_json(&generated.profile);
    let (profile_out, recording_out) = paths.take_prepared();
    let recording_result =
        recording_out.map(|out| out.and_then(|o| o.write(recording_json.as_bytes(), owner)));
    let profile_result = profile_out.and_then(|o| o.write(profile_json.as_bytes(), owner));

    // The recording is the one output that cannot be made again (the profile can, from it):
    // keep it somewhere when it did not get where it should.
    let (first, second) = match (recording_result, profile_result) {
        (Some(Ok(())) | None, Ok(())) => {
            return Ok(generated
                .profile
                .syscalls()
                .as_ref()
                .map_or(0, |rules| rules.iter().map(|r| r.names().len()).sum()));
        }
        (Some(Ok(())), Err(profile)) => {
            return Err(profile).exit_code(EXIT_CANNOT_WRITE);
        }
        (Some(Err(recording)), Ok(())) => (recording, None),
        (Some(Err(recording)), Err(profile)) => (recording, Some(profile)),
        (None, Err(profile)) => (profile, None),
    };
    let mut message = format!("{first:#}");
    if let Some(second) = second {
        message.push_str(&format!("; {second:#}"));
    }
    match save_fallback(&recording_json, owner) {
        Ok(path) => message.push_str(&format!(
            "; the recording was saved to {} instead (`syscage generate --from` makes the profile \
             from it)",
            path.display()
        )),
        Err(e) => message.push_str(&format!(
            "; saving the recording elsewhere failed too: {e:#}"
        )),
    }
    Err(Failure::new(EXIT_CANNOT_WRITE, anyhow::anyhow!(message)).into())
}

fn owner_of(c: &Credentials) -> Owner {
    Owner {
        uid: c.uid,
        gid: c.gid,
    }
}

/// Saves a recording that could not be written where asked, under a fresh name in `/var/tmp`
/// (kept across reboots), else in the temporary directory; returns its path.
fn save_fallback(recording_json: &str, owner: Option<&Credentials>) -> Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = format!("syscage-{}-{stamp}.recording.json", std::process::id());
    let mut errors = Vec::new();
    for dir in [PathBuf::from("/var/tmp"), std::env::temp_dir()] {
        let path = dir.join(&name);
        let saved = Replacement::prepare(&path)
            .and_then(|r| r.commit(recording_json.as_bytes(), owner.map(owner_of)));
        match saved {
            Ok(()) => return Ok(path),
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
    bail!("{}", errors.join("; "))
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

    #[test]
    fn overlapping_outputs_and_inputs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{}").unwrap();
        let new = dir.path().join("new.json");
        let dash = Path::new("-");
        assert!(refuse_overlaps(&[&a], &[&a]).is_err());
        assert!(refuse_overlaps(&[&dir.path().join(".").join("a.json")], &[&a]).is_err());
        assert!(refuse_overlaps(&[&new, &new], &[]).is_err());
        assert!(refuse_overlaps(&[dash, dash], &[]).is_err());
        assert!(refuse_overlaps(&[&new, dash], &[&a]).is_ok());
    }

    #[test]
    fn directories_below_are_created_without_following_links() {
        let base = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let made = create_dirs_below(base.path(), &["shop", "web", "nginx"]).unwrap();
        assert_eq!(made, base.path().join("shop/web/nginx"));
        assert!(made.is_dir());
        assert_eq!(
            create_dirs_below(base.path(), &["shop", "web", "nginx"]).unwrap(),
            made,
            "existing directories are reused"
        );
        std::os::unix::fs::symlink(outside.path(), base.path().join("shop/evil")).unwrap();
        let error = create_dirs_below(base.path(), &["shop", "evil", "x"]).unwrap_err();
        assert!(format!("{error:#}").contains("symbolic links"), "{error:#}");
        assert!(
            !outside.path().join("x").exists(),
            "nothing made through the link"
        );
        for bad in ["..", ".", "", "a/b"] {
            assert!(create_dirs_below(base.path(), &[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn devices_are_written_through_and_links_to_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        write_output(Path::new("/dev/null"), "x").unwrap();
        assert!(std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());

        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = dir.path().join("out.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = write_output(&link, "x").unwrap_err();
        assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
