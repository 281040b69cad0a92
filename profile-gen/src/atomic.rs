//! Writing output files so that readers see the old file or the whole new one, never a part.
//!
//! A recording or profile is written to a hidden temporary file next to the target, flushed to
//! disk, and renamed over the target; rename within one directory is atomic. An interrupted run
//! can leave at most a hidden temporary file, never a truncated profile that a runtime would
//! then refuse (or worse, accept).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes temporary files of concurrent writes within one process.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// How many temporary names to try before giving up; only a crowd of stale files from earlier
/// processes with the same pid could use them all.
const ATTEMPTS: u32 = 16;

/// Replaces `path` with `contents` atomically; see the module documentation.
///
/// `path` may be a bare file name (the current directory is used). On any error the temporary
/// file is removed and `path` is left as it was.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file path", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };

    let (temp_path, file) = create_temp(dir, file_name)?;
    let result = fill_and_rename(file, contents, &temp_path, path);
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&temp_path);
    }
    result?;
    sync_dir(dir);
    Ok(())
}

/// Creates `.<name>.tmp.<pid>.<n>` in `dir` with O_EXCL, so an existing file (another writer's,
/// or a symlink planted there) is never opened or followed.
fn create_temp(dir: &Path, file_name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    let pid = std::process::id();
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let mut name = OsString::from(".");
        name.push(file_name);
        name.push(format!(".tmp.{pid}.{sequence}"));
        let temp_path = dir.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last_error = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no temporary file name was free")))
}

fn fill_and_rename(
    mut file: File,
    contents: &[u8],
    temp_path: &Path,
    path: &Path,
) -> io::Result<()> {
    file.write_all(contents)?;
    // Data must be on disk before the rename is, or a crash could leave an empty file under the
    // final name (the classic ext4 delayed-allocation surprise).
    file.sync_all()?;
    drop(file);
    fs::rename(temp_path, path)
}

/// Makes the rename itself durable. Failures are ignored: the new file is already in place and
/// readable, and some filesystems refuse fsync on a directory.
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
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
        // The test harness runs in the crate directory; write there under a unique name and
        // clean up, rather than change the process-wide current directory under other tests.
        let name = format!("write-atomic-test-{}.tmp-out", std::process::id());
        let path = Path::new(&name);
        write_atomic(path, b"here").unwrap();
        let written = fs::read(path);
        let leftovers: Vec<String> = entries(Path::new("."))
            .into_iter()
            .filter(|n| n.starts_with(&format!(".{name}")))
            .collect();
        fs::remove_file(path).unwrap();
        assert_eq!(written.unwrap(), b"here");
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn a_stale_temporary_name_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.json");
        // Occupy the next name this process would pick.
        let next = SEQUENCE.load(Ordering::Relaxed);
        let stale = dir
            .path()
            .join(format!(".app.json.tmp.{}.{next}", std::process::id()));
        fs::write(&stale, b"stale").unwrap();
        write_atomic(&path, b"fresh").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"fresh");
        // Only the planted file is left besides the output (other tests may race for `next`,
        // in which case nothing collided; either way no temp file of ours remains).
        let left: Vec<String> = entries(dir.path());
        assert!(
            left.iter().all(|n| n == "app.json" || stale.ends_with(n)),
            "{left:?}"
        );
    }
}
