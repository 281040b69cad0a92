//! Recordings written to temporary directories, for the subcommands' tests.

use std::path::{Path, PathBuf};

use profile_gen::{Recording, ScmpArch, SyscallRecord};

/// Writes a recording of these x86_64 syscall numbers to `dir/name`.
pub(crate) fn write_recording(dir: &Path, name: &str, nrs: &[u32]) -> PathBuf {
    let records = nrs
        .iter()
        .map(|&nr| SyscallRecord::new(ScmpArch::X8664, nr, 2, u64::from(nr)))
        .collect();
    write_records(dir, name, records)
}

/// Writes a recording of these records to `dir/name`.
pub(crate) fn write_records(dir: &Path, name: &str, records: Vec<SyscallRecord>) -> PathBuf {
    let mut rec = Recording::from_json(
        include_str!("../../profile-gen/tests/fixtures/recording-v1.json"),
        "fixture",
    )
    .unwrap();
    rec.syscalls = records;
    let path = dir.join(name);
    std::fs::write(&path, rec.to_json()).unwrap();
    path
}

/// An x86_64 record of `nr` with these argument values.
pub(crate) fn with_args(nr: u32, indexes: &[u8], values: &[&[u64]]) -> SyscallRecord {
    let mut record = SyscallRecord::new(ScmpArch::X8664, nr, 1, u64::from(nr));
    record.args = Some(profile_gen::ArgsSeen {
        indexes: indexes.to_vec(),
        values: values.iter().map(|v| v.to_vec()).collect(),
        overflow: false,
    });
    record
}
