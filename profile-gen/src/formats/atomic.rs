//! Writing output files so that readers see the old file or the whole new one, never a part.
//!
//! A recording or profile is written to a hidden temporary file next to the target (created
//! with O_EXCL by `tempfile`, so nothing planted there is opened or followed), flushed to disk,
//! and renamed over the target; rename within one directory is atomic. An interrupted run can
//! leave at most a hidden temporary file, never a truncated profile that a runtime would then
//! refuse (or worse, accept).
//!
//! Owner and mode are set on the temporary file's descriptor before the rename, never on the
//! path afterwards: once the file is published, whoever can write the directory can swap the
//! name for a symlink, and a `chown` by path would follow it.

use std::{
    fs::{self, File, Permissions},
    io::{self, Write as _},
    os::unix::fs::{fchown, MetadataExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use tempfile::NamedTempFile;

/// The mode of a new output file, whatever the umask: profiles and recordings hold nothing
/// secret, and runtimes and other users need to read them.
pub const NEW_FILE_MODE: u32 = 0o644;

/// Who should own an output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// An output whose temporary file exists already and whose contents are still to come.
///
/// Creating it first tells, before any work is done, whether the directory can take the output
/// at all. Dropped without [`Replacement::commit`], it removes its temporary file.
#[derive(Debug)]
pub struct Replacement {
    temp: NamedTempFile,
    target: PathBuf,
    dir: PathBuf,
}

impl Replacement {
    /// Creates the temporary file next to `path`.
    ///
    /// `path` may be a bare file name (the current directory is used). What `path` is now (a
    /// symlink, a device) is the caller's business: the rename replaces whatever the name
    /// points at when it happens.
    pub fn prepare(path: &Path) -> io::Result<Self> {
        let file_name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file path", path.display()),
            )
        })?;
        let dir = directory_of(path);
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(file_name);
        prefix.push(".");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .tempfile_in(dir)?;
        Ok(Self {
            temp,
            target: path.to_path_buf(),
            dir: dir.to_path_buf(),
        })
    }

    /// Gives the file its final owner and mode: those of the regular file it replaces, else
    /// `owner` (default: this process's user) and [`NEW_FILE_MODE`]. Then writes `contents`,
    /// flushes them to disk and renames the file over the target. On any error the temporary
    /// file is removed and the target is left as it was.
    pub fn commit(mut self, contents: &[u8], owner: Option<Owner>) -> io::Result<()> {
        let existing = fs::symlink_metadata(&self.target)
            .ok()
            .filter(fs::Metadata::is_file);
        let (mode, wanted, keeping) = match &existing {
            Some(meta) => (
                // Set-id bits are not carried over to a file whose contents syscage wrote.
                meta.mode() & 0o777,
                Some(Owner {
                    uid: meta.uid(),
                    gid: meta.gid(),
                }),
                true,
            ),
            None => (NEW_FILE_MODE, owner, false),
        };
        let file = self.temp.as_file();
        file.set_permissions(Permissions::from_mode(mode))?;
        if let Some(wanted) = wanted {
            let meta = file.metadata()?;
            if (meta.uid(), meta.gid()) != (wanted.uid, wanted.gid) {
                match fchown(file, Some(wanted.uid), Some(wanted.gid)) {
                    Ok(()) => {}
                    // Only root may give a file away: an unprivileged caller replacing someone
                    // else's file (which the directory lets it do) ends up owning the new one.
                    Err(err) if keeping && err.kind() == io::ErrorKind::PermissionDenied => {}
                    Err(err) => return Err(err),
                }
            }
        }
        self.temp.write_all(contents)?;
        // Data must be on disk before the rename is, or a crash could leave an empty file under
        // the final name (the classic ext4 delayed-allocation surprise).
        self.temp.as_file().sync_all()?;
        self.temp.persist(&self.target).map_err(|err| err.error)?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// The path the output will have.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

/// Replaces `path` with `contents` atomically; see the module documentation and
/// [`Replacement::commit`] for owner and mode.
///
/// `path` may be a bare file name (the current directory is used). On any error the temporary
/// file is removed and `path` is left as it was.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    Replacement::prepare(path)?.commit(contents, None)
}

/// Makes the rename itself durable. Failures are ignored: the new file is already in place and
/// readable, and some filesystems refuse fsync on a directory.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// The directory a file path's name lives in: its parent, or `.` for a bare file name.
pub fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn writes_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.json");
        write_atomic(&path, b"first\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first\n");
        write_atomic(&path, b"second, longer\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second, longer\n");
        write_atomic(&path, b"").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        assert_eq!(entries(dir.path()), ["app.json"]);
    }

    #[test]
    fn new_files_are_0644_and_replaced_files_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.json");
        write_atomic(&path, b"new\n").unwrap();
        assert_eq!(mode_of(&path), 0o644);
        fs::set_permissions(&path, Permissions::from_mode(0o4600)).unwrap();
        write_atomic(&path, b"replaced\n").unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::read(&path).unwrap(), b"replaced\n");
    }

    #[test]
    fn an_unfinished_replacement_leaves_the_target_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.json");
        fs::write(&path, b"old\n").unwrap();
        let pending = Replacement::prepare(&path).unwrap();
        assert_eq!(
            entries(dir.path()).len(),
            2,
            "the temporary file exists early"
        );
        drop(pending);
        assert_eq!(entries(dir.path()), ["app.json"]);
        assert_eq!(fs::read(&path).unwrap(), b"old\n");
    }

    #[test]
    fn path_that_is_a_directory_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("keep"), b"x").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        assert_eq!(entries(dir.path()), ["out"]);
        assert_eq!(entries(&target), ["keep"]);
    }

    #[test]
    fn missing_or_non_directory_parent_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_atomic(&dir.path().join("no/such/dir/app.json"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);

        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        assert!(write_atomic(&file.join("app.json"), b"y").is_err());
        assert_eq!(entries(dir.path()), ["plain"]);
        assert_eq!(fs::read(&file).unwrap(), b"x");
    }

    #[test]
    fn paths_without_a_file_name_are_refused() {
        for path in ["/", "..", "dir/.."] {
            let err = write_atomic(Path::new(path), b"x").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{path}");
        }
    }

    #[test]
    fn bare_file_name_uses_the_current_directory() {
        // The current directory is the process's: change it in a child, not under other tests.
        let dir = tempfile::tempdir().unwrap();
        let code = crate::test_support::in_child(|| {
            if std::env::set_current_dir(dir.path()).is_err() {
                return 10;
            }
            if write_atomic(Path::new("out.json"), b"here").is_err() {
                return 11;
            }
            0
        });
        assert_eq!(code, 0, "the child failed at step {code}");
        assert_eq!(entries(dir.path()), ["out.json"]);
        assert_eq!(fs::read(dir.path().join("out.json")).unwrap(), b"here");
    }
}
