//! The kernel's seccomp log records (audit record type 1326, `AUDIT_SECCOMP`) and the
//! recording they add up to.
//!
//! The kernel writes one such record each time a filter's action is logged: `SCMP_ACT_LOG`
//! always, `SCMP_ACT_KILL_*` always, and the other actions (`ERRNO`, `TRAP`, ...) when the filter
//! was loaded with `SECCOMP_FILTER_FLAG_LOG`, in every case only if the action is listed in
//! `/proc/sys/kernel/seccomp/actions_logged`. The text is `kernel/auditsc.c`'s
//! `audit_seccomp()` (Linux 4.14 and later):
//!
//! ```text
//! audit(1795850341.536:17): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=4776 comm="ls"
//!   exe="/usr/bin/ls" sig=0 arch=c000003e syscall=137 compat=0 ip=0x7f3676111c07 code=0x7ffc0000
//! ```
//!
//! `arch` is the `AUDIT_ARCH_*` of the calling task's syscall, which is also libseccomp's number
//! for that architecture: a 32-bit call on a 64-bit kernel says `arch=40000003` (i386) and its
//! number is an i386 number, so it is named from the i386 table, never the native one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use libseccomp::ScmpArch;

use crate::model::arch::arch_name;
use crate::model::host::HostInfo;
use crate::model::recording::{Recording, RecordingSource, SyscallRecord, Target};

/// The audit record type of a seccomp log record.
pub const AUDIT_SECCOMP: u16 = 1326;

/// One seccomp log record, as the kernel wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompLogRecord {
    /// When the kernel stamped it (`audit(SECONDS.MILLIS:SERIAL)`).
    pub time: SystemTime,
    /// The record's serial number, unique per boot.
    pub serial: u64,
    /// The calling process (thread group id, in the initial pid namespace).
    pub pid: i32,
    /// The task's name, as the kernel gave it (hex-encoded names are decoded).
    pub comm: String,
    /// The executable, when the kernel could name it.
    pub exe: Option<String>,
    /// The `AUDIT_ARCH_*` value of the call.
    pub audit_arch: u32,
    /// The syscall number on that architecture.
    pub syscall: u32,
    /// Whether the call came through the 32-bit compat entry of a 64-bit kernel.
    pub compat: bool,
    /// The filter's return value: the action in the high 16 bits (`SECCOMP_RET_ACTION_FULL`),
    /// data (an errno) in the low 16.
    pub code: u32,
    /// The signal the action sends, 0 for none.
    pub signal: i32,
}

/// Why a record's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seccomp log record: {field}: {message} in {text:?}")]
pub struct SeccompLogError {
    pub field: &'static str,
    pub message: String,
    pub text: String,
}

impl SeccompLogRecord {
    /// Reads the text of an `AUDIT_SECCOMP` record (what follows the netlink header, or what
    /// follows `type=SECCOMP msg=` in audit.log).
    pub fn parse(text: &str) -> Result<Self, SeccompLogError> {
        let text = text.trim_end_matches(['\0', '\n']);
        let err = |field: &'static str, message: &str| SeccompLogError {
            field,
            message: message.to_owned(),
            text: text.to_owned(),
        };
        let stamp = text
            .strip_prefix("audit(")
            .and_then(|rest| rest.split_once("):"))
            .ok_or_else(|| err("audit(...)", "missing the time stamp"))?;
        let (time, serial) = parse_stamp(stamp.0).ok_or_else(|| err("audit(...)", "bad stamp"))?;
        let fields = fields_of(stamp.1);
        let get = |name: &'static str| {
            fields
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| err(name, "missing"))
        };
        let number = |name: &'static str| -> Result<u64, SeccompLogError> {
            let value = get(name)?;
            value.parse().map_err(|_| err(name, "not a decimal number"))
        };
        let hex = |name: &'static str| -> Result<u32, SeccompLogError> {
            let value = get(name)?;
            u32::from_str_radix(value.trim_start_matches("0x"), 16)
                .map_err(|_| err(name, "not a hexadecimal number"))
        };
        let pid = i32::try_from(number("pid")?).map_err(|_| err("pid", "out of range"))?;
        let syscall =
            u32::try_from(number("syscall")?).map_err(|_| err("syscall", "out of range"))?;
        let signal = get("sig")?
            .parse()
            .map_err(|_| err("sig", "not a decimal number"))?;
        Ok(Self {
            time,
            serial,
            pid,
            comm: fields.get("comm").cloned().unwrap_or_default(),
            exe: fields.get("exe").cloned(),
            audit_arch: hex("arch")?,
            syscall,
            compat: number("compat")? != 0,
            code: hex("code")?,
            signal,
        })
    }

    /// The architecture whose table the number belongs to, when libseccomp knows it.
    pub fn arch(&self) -> Option<ScmpArch> {
        scmp_arch_of_audit(self.audit_arch, self.syscall)
    }

    /// The runtime-spec name of the action that logged the call.
    pub fn action(&self) -> &'static str {
        action_name(self.code)
    }
}

/// `SECONDS.MILLIS:SERIAL`.
fn parse_stamp(stamp: &str) -> Option<(SystemTime, u64)> {
    let (time, serial) = stamp.split_once(':')?;
    let (secs, millis) = time.split_once('.')?;
    let at = Duration::from_secs(secs.parse().ok()?) + Duration::from_millis(millis.parse().ok()?);
    Some((SystemTime::UNIX_EPOCH + at, serial.parse().ok()?))
}

/// The `key=value` fields; quoted values are unquoted, unquoted hex strings (how audit writes a
/// `comm` or `exe` with spaces or odd bytes) are decoded, `(null)` is left out.
fn fields_of(text: &str) -> BTreeMap<&str, String> {
    let mut fields = BTreeMap::new();
    let mut rest = text.trim_start();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v.to_owned(), n),
                None => (quoted.to_owned(), ""),
            }
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            let raw = &after[..end];
            let value = if matches!(key, "comm" | "exe") {
                decode_hex(raw).unwrap_or_else(|| raw.to_owned())
            } else {
                raw.to_owned()
            };
            (value, &after[end..])
        };
        if value != "(null)" {
            fields.insert(key, value);
        }
        rest = next.trim_start();
    }
    fields
}

fn decode_hex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) || text.is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

/// The x32 ABI shares `AUDIT_ARCH_X86_64` and marks its numbers with this bit.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// libseccomp's architecture for an `AUDIT_ARCH_*` value (libseccomp numbers its architectures
/// with those values). `None` for one this syscage does not map.
pub fn scmp_arch_of_audit(audit_arch: u32, syscall: u32) -> Option<ScmpArch> {
    Some(match audit_arch {
        0xc000_003e if syscall & X32_SYSCALL_BIT != 0 => ScmpArch::X32,
        0xc000_003e => ScmpArch::X8664,
        0x4000_0003 => ScmpArch::X86,
        0xc000_00b7 => ScmpArch::Aarch64,
        0x4000_0028 => ScmpArch::Arm,
        0xc000_00f3 => ScmpArch::Riscv64,
        0x8000_0016 => ScmpArch::S390X,
        0x0000_0016 => ScmpArch::S390,
        0x8000_0015 => ScmpArch::Ppc64,
        0xc000_0015 => ScmpArch::Ppc64Le,
        0x0000_0014 => ScmpArch::Ppc,
        0xc000_0102 => ScmpArch::Loongarch64,
        _ => return None,
    })
}

/// The runtime-spec name of a filter's return value (its `SECCOMP_RET_ACTION_FULL` bits,
/// `include/uapi/linux/seccomp.h`).
pub fn action_name(code: u32) -> &'static str {
    match code & 0xffff_0000 {
        0x8000_0000 => "SCMP_ACT_KILL_PROCESS",
        0x0000_0000 => "SCMP_ACT_KILL_THREAD",
        0x0003_0000 => "SCMP_ACT_TRAP",
        0x0005_0000 => "SCMP_ACT_ERRNO",
        0x7fc0_0000 => "SCMP_ACT_NOTIFY",
        0x7ff0_0000 => "SCMP_ACT_TRACE",
        0x7ffc_0000 => "SCMP_ACT_LOG",
        0x7fff_0000 => "SCMP_ACT_ALLOW",
        _ => "unknown",
    }
}

/// One syscall's tally.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tally {
    arch: ScmpArch,
    count: u64,
    first: SystemTime,
    last: SystemTime,
    actions: BTreeSet<&'static str>,
}

/// The seccomp log records of one target, added up per syscall, ready to become a recording.
#[derive(Debug, Clone, Default)]
pub struct SeccompLogTally {
    /// Keyed by (architecture, number): a compat call and a native call with the same number
    /// are different syscalls.
    syscalls: BTreeMap<(String, u32), Tally>,
    /// Records whose architecture libseccomp does not know, by `AUDIT_ARCH_*` value.
    unknown_arch: BTreeMap<u32, u64>,
}

impl SeccompLogTally {
    /// Counts one record.
    pub fn add(&mut self, record: &SeccompLogRecord) {
        let Some(arch) = record.arch() else {
            *self.unknown_arch.entry(record.audit_arch).or_default() += 1;
            return;
        };
        let tally = self
            .syscalls
            .entry((arch_name(arch), record.syscall))
            .or_insert_with(|| Tally {
                arch,
                count: 0,
                first: record.time,
                last: record.time,
                actions: BTreeSet::new(),
            });
        tally.count += 1;
        tally.first = tally.first.min(record.time);
        tally.last = tally.last.max(record.time);
        tally.actions.insert(record.action());
    }

    /// How many records were counted (with a known architecture).
    pub fn records(&self) -> u64 {
        self.syscalls.values().map(|t| t.count).sum()
    }

    /// Records that could not be named: their architecture is not one libseccomp knows.
    pub fn unknown_arch(&self) -> &BTreeMap<u32, u64> {
        &self.unknown_arch
    }

    /// Each syscall: name (or `#nr`), architecture, actions, count, last time.
    pub fn rows(&self) -> Vec<(String, ScmpArch, String, u64, SystemTime)> {
        self.syscalls
            .iter()
            .map(|((_, nr), t)| {
                let (arch, nr) = (t.arch, *nr);
                let name = crate::model::syscalls::syscall_name(arch, nr)
                    .unwrap_or_else(|| format!("#{nr}"));
                let actions: Vec<&str> = t.actions.iter().copied().collect();
                (name, arch, actions.join(","), t.count, t.last)
            })
            .collect()
    }

    /// The recording: `source` `seccomp-log`, one entry per syscall with its count, actions and
    /// first and last time (relative to `started_at`). `native` is the recording's arch;
    /// calls of another architecture carry their own.
    pub fn to_recording(
        &self,
        native: ScmpArch,
        started_at: SystemTime,
        ended_at: SystemTime,
        host: HostInfo,
        target: Option<Target>,
    ) -> Recording {
        let mut recording = Recording::new(native, None, started_at, host);
        recording.finish(ended_at, None);
        recording.target = target;
        recording.source = Some(RecordingSource::SeccompLog);
        let micros = |t: SystemTime| {
            t.duration_since(started_at)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        };
        recording.syscalls = self
            .syscalls
            .iter()
            .map(|((_, nr), t)| {
                let (arch, nr) = (t.arch, *nr);
                let mut record = SyscallRecord::new(arch, nr, t.count, micros(t.first));
                if arch != native {
                    record.arch = Some(arch_name(arch));
                }
                record.actions = t.actions.iter().map(|a| (*a).to_owned()).collect();
                record.last_seen_us = Some(micros(t.last));
                record
            })
            .collect();
        recording.sort_syscalls();
        recording
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from this kernel's netlink multicast group while `ls` ran under a LOG profile.
    const LS: &str = "audit(1795850341.536:17): auid=4294967295 uid=0 gid=0 ses=4294967295 \
        pid=4776 comm=\"ls\" exe=\"/usr/bin/ls\" sig=0 arch=c000003e syscall=137 compat=0 \
        ip=0x7f3676111c07 code=0x7ffc0000";

    fn host() -> HostInfo {
        HostInfo {
            kernel_release: "6.1.0".into(),
            machine: "x86_64".into(),
        }
    }

    #[test]
    fn reads_a_record() {
        let r = SeccompLogRecord::parse(LS).unwrap();
        assert_eq!(r.pid, 4776);
        assert_eq!(r.comm, "ls");
        assert_eq!(r.exe.as_deref(), Some("/usr/bin/ls"));
        assert_eq!(r.serial, 17);
        assert_eq!(r.syscall, 137);
        assert!(!r.compat);
        assert_eq!(r.arch(), Some(ScmpArch::X8664));
        assert_eq!(r.action(), "SCMP_ACT_LOG");
        assert_eq!(
            r.time,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_850_341_536)
        );
    }

    #[test]
    fn hex_names_and_subject_labels_are_read() {
        // A comm with a space is hex-encoded; an LSM adds `subj=` before `pid`.
        let text = "audit(1.002:3): auid=0 uid=0 gid=0 ses=1 subj=unconfined pid=9 \
            comm=6D7920617070 exe=\"/a b\" sig=31 arch=40000003 syscall=20 compat=1 ip=0x1 \
            code=0x80000000";
        let r = SeccompLogRecord::parse(text).unwrap();
        assert_eq!(r.comm, "my app");
        assert_eq!(r.signal, 31);
        assert_eq!(r.action(), "SCMP_ACT_KILL_PROCESS");
        assert_eq!(r.arch(), Some(ScmpArch::X86));
    }

    #[test]
    fn broken_records_say_what_is_wrong() {
        let err = SeccompLogRecord::parse("audit(1.0:1): pid=1 sig=0 arch=zz syscall=1 compat=0")
            .unwrap_err();
        assert_eq!(err.field, "arch");
        let err = SeccompLogRecord::parse("pid=1").unwrap_err();
        assert_eq!(err.field, "audit(...)");
    }

    #[test]
    fn actions_are_named_from_the_action_bits_only() {
        assert_eq!(action_name(0x0005_0001), "SCMP_ACT_ERRNO");
        assert_eq!(action_name(0x7ffc_0000), "SCMP_ACT_LOG");
        assert_eq!(action_name(0), "SCMP_ACT_KILL_THREAD");
        assert_eq!(action_name(0x1234_0000), "unknown");
    }

    #[test]
    fn compat_calls_get_their_own_table_and_name() {
        // 20 is getpid on i386 but writev on x86_64.
        let native = SeccompLogRecord::parse(&LS.replace("syscall=137", "syscall=20")).unwrap();
        let compat = SeccompLogRecord::parse(
            &LS.replace("arch=c000003e", "arch=40000003")
                .replace("compat=0", "compat=1")
                .replace("syscall=137", "syscall=20")
                .replace("code=0x7ffc0000", "code=0x50001"),
        )
        .unwrap();
        let mut tally = SeccompLogTally::default();
        tally.add(&native);
        tally.add(&compat);
        tally.add(&compat);
        let start = native.time - Duration::from_secs(1);
        let rec = tally.to_recording(ScmpArch::X8664, start, native.time, host(), None);
        assert_eq!(rec.source, Some(RecordingSource::SeccompLog));
        assert_eq!(rec.syscalls.len(), 2);
        let writev = rec.syscalls.iter().find(|s| s.arch.is_none()).unwrap();
        assert_eq!(writev.name.as_deref(), Some("writev"));
        assert_eq!(writev.actions, ["SCMP_ACT_LOG"]);
        let getpid = rec.syscalls.iter().find(|s| s.arch.is_some()).unwrap();
        assert_eq!(getpid.name.as_deref(), Some("getpid"));
        assert_eq!(getpid.arch.as_deref(), Some("SCMP_ARCH_X86"));
        assert_eq!(getpid.count, 2);
        assert_eq!(getpid.actions, ["SCMP_ACT_ERRNO"]);
        assert_eq!(getpid.first_seen_us, 1_000_000);
        assert_eq!(getpid.last_seen_us, Some(1_000_000));
        // It reads back as a valid recording.
        Recording::from_json(&rec.to_json(), "x").unwrap();
    }

    #[test]
    fn unknown_architectures_are_counted_not_dropped() {
        let r = SeccompLogRecord::parse(&LS.replace("arch=c000003e", "arch=12345")).unwrap();
        let mut tally = SeccompLogTally::default();
        tally.add(&r);
        assert_eq!(tally.records(), 0);
        assert_eq!(tally.unknown_arch().get(&0x12345), Some(&1));
    }
}
