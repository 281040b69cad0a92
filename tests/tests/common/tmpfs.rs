//! Small tmpfs mounts, for outputs that meet a full or read-only filesystem.

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use super::{run, temp_dir};

/// A tmpfs mounted on a fresh directory (`size` like `64k`, `ro` for a read-only one); unmounted
/// on drop.
pub(crate) struct Tmpfs {
    pub(crate) dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    #[track_caller]
    pub(crate) fn mount(options: &str) -> Self {
        let parent = temp_dir();
        let dir = parent.path().join("mnt");
        fs::create_dir(&dir).expect("creating a mount point");
        let outcome = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir));
        outcome.assert_code(0);
        Self {
            dir,
            _parent: parent,
        }
    }

    /// Fills it with `fill` until only `leave` bytes remain free (0: completely full); returns
    /// the free bytes the kernel reports afterwards.
    #[track_caller]
    pub(crate) fn fill_leaving(&self, leave: u64) -> u64 {
        let free = free_bytes(&self.dir);
        assert!(
            free >= leave,
            "only {free} bytes free in {}",
            self.dir.display()
        );
        let mut file = fs::File::create(self.dir.join("fill")).expect("creating the filler");
        let block = vec![0u8; 4096];
        let mut left = free - leave;
        while left > 0 {
            let n = usize::try_from(left.min(4096)).expect("small");
            match file.write(&block[..n]) {
                Ok(0) => break,
                Ok(written) => left -= written as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("filling {}: {e}", self.dir.display()),
            }
        }
        drop(file);
        free_bytes(&self.dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Free bytes in the filesystem holding `dir` (statvfs).
#[track_caller]
pub(crate) fn free_bytes(dir: &Path) -> u64 {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).expect("no NUL");
    // SAFETY: statvfs with a valid path and an out-struct of the right type.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    assert_eq!(
        rc,
        0,
        "statvfs {}: {}",
        dir.display(),
        std::io::Error::last_os_error()
    );
    st.f_bavail * st.f_frsize
}
