//! Reading an input file (a recording, a profile, a container state) the one way every reader
//! does: regular files only, or stdin for `-`, and never more than [`MAX_INPUT_BYTES`].
//!
//! syscage often runs as root and reads paths users give it: `/dev/zero` would otherwise fill
//! memory and a FIFO with no writer would block forever.

use std::{
    fs::OpenOptions,
    io::{self, Read},
    os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _},
    path::Path,
};

/// The largest input accepted. Real profiles and recordings are a few hundred KiB at most
/// (every syscall of an architecture with every recorded argument value stays far below this).
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Reads `path` whole, or stdin for `-`; see the module documentation.
pub fn read_input_file(path: &Path) -> io::Result<Vec<u8>> {
    if path == Path::new("-") {
        return read_limited(io::stdin().lock(), MAX_INPUT_BYTES);
    }
    // O_NONBLOCK: opening a FIFO must not wait for a writer before the type check below can
    // refuse it. It does not change how a regular file is read.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("is {what}, expected a regular file (or - for stdin)"),
        ));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    read_limited(file, MAX_INPUT_BYTES)
}

/// Reads `reader` to its end, failing once more than `limit` bytes came.
pub fn read_limited(reader: impl Read, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn too_large() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "larger than {} MiB, which no profile or recording is",
            MAX_INPUT_BYTES / (1024 * 1024)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, b"{}\n").unwrap();
        assert_eq!(read_input_file(&path).unwrap(), b"{}\n");
    }

    #[test]
    fn refuses_devices_directories_and_fifos_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        for (path, what) in [
            (Path::new("/dev/zero"), "character device"),
            (dir.path(), "directory"),
            (fifo.as_path(), "FIFO"),
        ] {
            let err = read_input_file(path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{path:?}");
            assert!(err.to_string().contains(what), "{path:?}: {err}");
        }
    }

    #[test]
    fn stops_reading_past_the_limit() {
        assert_eq!(read_limited(&b"12345"[..], 5).unwrap(), b"12345");
        let err = read_limited(io::repeat(0), 1024).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("larger than 64 MiB"), "{err}");
    }
}
