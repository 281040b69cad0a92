//! The node agent's readiness signal, for a Kubernetes exec probe in an image without a shell.
//!
//! `record --all --ready-file FILE` creates FILE once the eBPF program is attached and the
//! containers already running are adopted (from then on every container is recorded), and
//! removes it when recording stops. `syscage ready FILE` succeeds while FILE exists. A FILE left
//! by an earlier run is removed before recording starts: an emptyDir outlives the container's
//! restarts, and a stale file would report a restarted agent ready before it records.

use std::{
    io::ErrorKind,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};

use crate::sys::{
    exit::{ExitCodeExt as _, EXIT_CANNOT_WRITE},
    outputs::write_output,
};

/// What the file holds: a word for a person who looks, not for the probe (which checks that
/// the file exists).
const CONTENTS: &str = "recording\n";

/// The ready file of one recording; removed on drop.
#[derive(Debug)]
pub(crate) struct ReadyFile {
    path: PathBuf,
    announced: bool,
}

impl ReadyFile {
    /// Removes a stale `path`, before anything is recorded; fails when it cannot be removed.
    pub(crate) fn prepare(path: &Path) -> Result<Self> {
        remove_if_present(path)
            .with_context(|| format!("--ready-file {}: removing the last run's", path.display()))
            .exit_code(EXIT_CANNOT_WRITE)?;
        Ok(Self {
            path: path.to_owned(),
            announced: false,
        })
    }

    /// Creates the file: recording has started.
    pub(crate) fn announce(&mut self) -> Result<()> {
        write_output(&self.path, CONTENTS).context("--ready-file")?;
        self.announced = true;
        log::info!("ready: {}", self.path.display());
        Ok(())
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        if self.announced {
            if let Err(e) = remove_if_present(&self.path) {
                log::warn!("removing the ready file {}: {e}", self.path.display());
            }
        }
    }
}

/// Whether `path` is a ready file: a regular file (a directory or a dangling link is not).
pub(crate) fn is_ready(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_file_is_removed_before_and_the_new_one_after_recording() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        std::fs::write(&path, "old run\n").unwrap();
        let mut ready = ReadyFile::prepare(&path).unwrap();
        assert!(
            !is_ready(&path),
            "the last run's file must go before recording"
        );
        ready.announce().unwrap();
        assert!(is_ready(&path));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), CONTENTS);
        drop(ready);
        assert!(!is_ready(&path), "the file must go when recording stops");
    }

    #[test]
    fn a_file_never_announced_is_not_touched_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ready");
        let ready = ReadyFile::prepare(&path).unwrap();
        std::fs::write(&path, "someone else's\n").unwrap();
        drop(ready);
        assert!(is_ready(&path));
    }

    #[test]
    fn a_directory_is_not_a_ready_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!is_ready(dir.path()));
        assert!(!is_ready(&dir.path().join("missing")));
    }
}
