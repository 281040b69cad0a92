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
