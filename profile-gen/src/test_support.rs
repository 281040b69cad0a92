//! Helpers shared by the unit tests of several modules.

use libseccomp::ScmpArch;
use serde_json::Value;

use crate::model::recording::{ArgsSeen, SyscallRecord};

/// Compares JSON values, printing both sides in full on a mismatch.
pub(crate) fn assert_json_eq(actual: &Value, expected: &Value) {
    assert!(
        actual == expected,
        "JSON differs\n--- actual\n{}\n--- expected\n{}",
        serde_json::to_string_pretty(actual).unwrap(),
        serde_json::to_string_pretty(expected).unwrap()
    );
}

/// Argument values `values` of the arguments `indexes`.
pub(crate) fn seen(indexes: &[u8], values: &[&[u64]]) -> ArgsSeen {
    ArgsSeen {
        indexes: indexes.to_vec(),
        values: values.iter().map(|v| v.to_vec()).collect(),
        overflow: false,
    }
}

/// A record of x86_64 syscall `nr` with argument values.
pub(crate) fn with_args(nr: u32, indexes: &[u8], values: &[&[u64]]) -> SyscallRecord {
    let mut record = SyscallRecord::new(ScmpArch::X8664, nr, 1, u64::from(nr));
    record.args = Some(ArgsSeen {
        indexes: indexes.to_vec(),
        values: values.iter().map(|v| v.to_vec()).collect(),
        overflow: false,
    });
    record
}

/// Runs `child` in a forked child process and returns its exit code: for what must not happen
/// in the test harness's process (loading a seccomp filter, changing the current directory).
/// The child leaves with `_exit`, so no test-harness code runs after `child`.
pub(crate) fn in_child(child: impl FnOnce() -> i32) -> i32 {
    use std::io;
    // SAFETY: the child only runs `child` and `_exit`; it never returns into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        let code = child();
        // SAFETY: ends the child without running destructors or atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for our own child into a valid int.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid: {}", io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status),
        "child did not exit normally: status {status:#x}"
    );
    libc::WEXITSTATUS(status)
}
