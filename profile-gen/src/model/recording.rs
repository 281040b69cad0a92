//! The recording: which syscalls a workload made, as a versioned JSON document.
//!
//! A recording is what `syscage record` writes and what `generate`, `diff` and `merge` read, so
//! its format is a contract between syscage versions. `profile-gen/RECORDING_FORMAT.md` is the
//! full description; in short:
//!
//! ```json
//! {
//!   "format": "syscage-recording",
//!   "version": 1,
//!   "syscage_version": "0.1.0",
//!   "command": ["/bin/true"],
//!   "started_at": "2024-05-01T12:00:00.000Z",
//!   "ended_at": "2024-05-01T12:00:00.250Z",
//!   "kernel_release": "6.1.0-18-amd64",
//!   "machine": "x86_64",
//!   "arch": "SCMP_ARCH_X86_64",
//!   "exit": {"code": 0},
//!   "syscalls": [
//!     {"nr": 12, "name": "brk", "count": 3, "first_seen_us": 41}
//!   ],
//!   "out_of_range_count": 0
//! }
//! ```
//!
//! - `format` and `version` come first when reading: a file that is not a recording, or one from a
//!   newer syscage, is refused with that reason before any other field is looked at.
//! - Numbers are the truth; names are a convenience for people and for tools without libseccomp.
//!   `nr` is a syscall number of `arch`; `name` is libseccomp's name for it, or `null` when the
//!   recording libseccomp did not know the number. Reading checks every name against this
//!   libseccomp where it knows the number, so a recording cannot claim that `getpid` is `reboot`.
//! - `exit` is `{"code": N}` or `{"signal": N}` (exactly one key), or `null` when unknown or when
//!   the target was not a command.
//! - Unknown fields are errors: a change of fields is a change of `version`.
//!
//! Writing is deterministic: fields in the order above, syscalls in order of first appearance
//! (ties by number), pretty-printed with a trailing newline.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, SystemTime};

use libseccomp::ScmpArch;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::arch::{arch_name, parse_arch_name};
use thiserror::Error;

use crate::error::{deserialize_at, json_kind, ArchError, FieldPath};
use crate::model::host::HostInfo;
pub use crate::model::security::SecurityFacts;
use crate::model::syscalls::{syscall_known, syscall_name};

/// Syscalls have six arguments, numbered 0 to 5.
pub(crate) const MAX_ARG_INDEX: usize = 5;

/// Reading or checking a recording.
#[derive(Debug, Error)]
pub enum RecordingError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {cause}")]
    Read {
        origin: String,
        cause: std::io::Error,
    },

    /// The text is not JSON at all.
    #[error("{origin}: not JSON: {cause}")]
    NotJson {
        origin: String,
        cause: serde_json::Error,
    },

    /// The `format` field is missing or names something else.
    #[error(
        "{origin}: format: expected \"{expected}\", found {found}; this is not a syscage recording",
        expected = RECORDING_FORMAT
    )]
    Format { origin: String, found: String },

    /// Written by a newer syscage whose format this one cannot read.
    #[error(
        "{origin}: version: written by a newer syscage: version {version}, this syscage reads {reads}",
        reads = RECORDING_VERSION
    )]
    NewerVersion { origin: String, version: u64 },

    /// A version number that no syscage ever wrote.
    #[error(
        "{origin}: version: {version} is not a recording format version, expected {reads}",
        reads = RECORDING_VERSION
    )]
    BadVersion { origin: String, version: u64 },

    /// A field has the wrong type or shape (the message comes from serde_json).
    #[error("{origin}: {field}{message}")]
    Field {
        origin: String,
        field: FieldPath,
        message: String,
    },

    /// `arch` is not an architecture the numbers can belong to.
    #[error("{origin}: arch: {cause}")]
    Arch { origin: String, cause: ArchError },

    /// A syscall's name disagrees with libseccomp's name for its number.
    #[error(
        "{origin}: syscalls[{index}].name: {name:?} is not syscall {nr} on {arch}, \
         libseccomp names it {expected:?}"
    )]
    NameMismatch {
        origin: String,
        index: usize,
        nr: u32,
        name: String,
        arch: String,
        expected: String,
    },

    /// The same number appears twice; merges and diffs need one entry per number.
    #[error("{origin}: syscalls[{index}].nr: {nr} is listed twice, first at syscalls[{first}]")]
    DuplicateNr {
        origin: String,
        index: usize,
        nr: u32,
        first: usize,
    },

    /// A timestamp that is not RFC 3339 UTC.
    #[error(
        "{origin}: {field}: {value:?} is not an RFC 3339 UTC timestamp \
         such as 2024-01-02T03:04:05.678Z ({cause})"
    )]
    Timestamp {
        origin: String,
        field: &'static str,
        value: String,
        cause: humantime::TimestampError,
    },
    /// A value that breaks the format's rules (a compat arch of another kernel, argument values
    /// that do not fit their indexes).
    #[error("{origin}: {field}: {message}")]
    Invalid {
        origin: String,
        field: String,
        message: String,
    },
}

/// The value of every recording's `format` field.
pub const RECORDING_FORMAT: &str = "syscage-recording";

/// The recording format version this syscage writes and reads.
pub const RECORDING_VERSION: u32 = 1;

/// The version of syscage (all crates of the workspace share it) written into recordings.
pub const SYSCAGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One recording; see the module documentation for the format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recording {
    /// Always [`RECORDING_FORMAT`].
    pub format: String,
    /// [`RECORDING_VERSION`] of the syscage that wrote it.
    pub version: u32,
    /// Version of the syscage that wrote it.
    pub syscage_version: String,
    /// argv of the recorded command; `None` for targets that are not a command (a cgroup).
    pub command: Option<Vec<String>>,
    /// When recording started: RFC 3339, UTC, milliseconds.
    pub started_at: String,
    /// When recording ended: RFC 3339, UTC, milliseconds.
    pub ended_at: String,
    /// `uname -r` of the recording machine.
    pub kernel_release: String,
    /// `uname -m` of the recording machine.
    pub machine: String,
    /// The runtime-spec arch whose numbers `syscalls[].nr` are, e.g. `SCMP_ARCH_X86_64`.
    pub arch: String,
    /// How the recorded command ended, when known.
    pub exit: Option<ExitInfo>,
    /// Syscalls seen, in order of first appearance (ties by number), one entry per number.
    pub syscalls: Vec<SyscallRecord>,
    /// Syscalls whose number was past the tracer's table; counted so they are never lost
    /// silently, but they have no entry (and no number) in `syscalls`.
    pub out_of_range_count: u64,
    /// What was recorded, when it was not (only) a command: a cgroup or a container, with what
    /// its cgroup path shows. Absent for `record -- COMMAND`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// For containers: when the runtime loaded a seccomp filter and exec'd the entrypoint, which
    /// separates the runtime's setup from what runs under the profile. Absent for commands
    /// (everything from their `execve` on is workload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<PhaseTimes>,
    /// Where the syscalls came from: absent for syscalls the tracer saw the workload make,
    /// `seccomp-log` for the kernel's seccomp log records (calls a loaded profile logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RecordingSource>,
    /// What the workload needed besides syscalls: capabilities, identity, root filesystem
    /// writes, privilege gain. Absent when the recorder did not watch for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecurityFacts>,
}

/// What produced a recording's syscalls, when it was not the tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordingSource {
    /// The kernel's seccomp log records (audit type 1326): calls a loaded filter logged.
    SeccompLog,
}

/// Where in a container's start a syscall was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The runtime set the container up before any seccomp filter was loaded: never runs under
    /// the profile.
    RuntimeSetup,
    /// The runtime, after it loaded the seccomp filter and before the entrypoint's exec: runs
    /// under the profile, so the profile must allow it.
    RuntimeAfterFilter,
    /// The entrypoint and everything it started.
    Workload,
}

/// Phase boundaries of a container recording, in microseconds since `started_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseTimes {
    /// The phase recording started in: `runtime_setup` when it started before the container's
    /// process ran user code (OCI hook), `workload` when it attached to a running container.
    pub started_in: Phase,
    /// When a task of the cgroup loaded a seccomp filter; `null` if none did.
    pub filter_loaded_us: Option<u64>,
    /// When the entrypoint's exec completed; `null` if it did not happen while recording.
    pub entrypoint_exec_us: Option<u64>,
}

impl PhaseTimes {
    /// Whether the runtime's setup syscalls belong in the profile: only when recording began
    /// before the runtime loaded a filter but no filter load was seen, so where the filter will
    /// be loaded is unknown and leaving them out could break the container.
    pub fn setup_needed(&self) -> bool {
        self.started_in == Phase::RuntimeSetup && self.filter_loaded_us.is_none()
    }
}

/// What a recording watched, besides or instead of a command.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The cgroup v2 path, relative to the cgroup2 mount (starting with `/`).
    pub cgroup: String,
    /// The container id, when the cgroup belongs to a container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The runtime or engine the cgroup path points at: `runc`, `crun`, `containerd`, `docker`,
    /// `podman`, `cri-o`, `kubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The Kubernetes pod UID, when the path shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The container's name, when known (OCI annotations, CRI labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// The containerd namespace, when the path shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Who the container is in Kubernetes terms, from its OCI bundle's annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesIdentity>,
}

/// A Kubernetes container's identity, as the CRI runtime wrote it into the bundle's annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesIdentity {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's UID, when the runtime gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The container's name in the pod spec.
    pub container: String,
    /// The pod's owner as derived from the pod name (`web-7d4b9c6f8-x2x5z` -> `web`).
    pub workload: String,
    /// The image the container runs, when the runtime gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// How the recorded command ended.
///
/// Serialised as `{"code": 0}` or `{"signal": 15}`: a map with exactly one key, whose name is the
/// variant. This keeps the JSON flat and readable with `jq .exit.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ExitRepr", into = "ExitRepr")]
pub enum ExitInfo {
    /// Exited with this status code.
    Code { code: i32 },
    /// Killed by this signal.
    Signal { signal: i32 },
}

impl ExitInfo {
    /// From a child's wait status; `None` for a status that is neither (a stopped child).
    pub fn from_status(status: ExitStatus) -> Option<Self> {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Some(Self::Code { code }),
            (None, Some(signal)) => Some(Self::Signal { signal }),
            (None, None) => None,
        }
    }
}

/// The on-disk shape of [`ExitInfo`]: both keys optional so a wrong combination gets a message
/// that says what is wrong, instead of serde's "did not match any variant".
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExitRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
}

impl TryFrom<ExitRepr> for ExitInfo {
    type Error = &'static str;

    fn try_from(repr: ExitRepr) -> Result<Self, Self::Error> {
        match (repr.code, repr.signal) {
            (Some(code), None) => Ok(Self::Code { code }),
            (None, Some(signal)) => Ok(Self::Signal { signal }),
            _ => Err("expected exactly one of `code` or `signal`"),
        }
    }
}

impl From<ExitInfo> for ExitRepr {
    fn from(exit: ExitInfo) -> Self {
        match exit {
            ExitInfo::Code { code } => Self {
                code: Some(code),
                signal: None,
            },
            ExitInfo::Signal { signal } => Self {
                code: None,
                signal: Some(signal),
            },
        }
    }
}

/// One syscall number seen during the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyscallRecord {
    /// The syscall number on the recording's arch.
    pub nr: u32,
    /// libseccomp's name for `nr`; `None` when libseccomp does not know the number.
    pub name: Option<String>,
    /// How often it was seen (at least once, unless the tracer only records presence).
    pub count: u64,
    /// Microseconds from the start of the recording to the first time it was seen.
    pub first_seen_us: u64,
    /// The phases it was seen in, in order (container recordings); empty means workload only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<Phase>,
    /// The architecture whose syscall table `nr` and `name` come from, when it is not the
    /// recording's: 32-bit compat calls on a 64-bit kernel (`SCMP_ARCH_X86` on x86_64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The argument values seen, for the syscalls whose arguments the tracer captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<ArgsSeen>,
    /// `seccomp-log` recordings: the filter actions that logged the call, as runtime-spec
    /// action names (`SCMP_ACT_LOG`, `SCMP_ACT_ERRNO`, ...), sorted. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    /// Microseconds from the start of the recording to the last time it was seen, when the
    /// source tracks it (`seccomp-log` recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_us: Option<u64>,
}

/// Distinct argument values a syscall was called with.
///
/// The tracer keeps a bounded number of distinct tuples per syscall; past that it sets
/// `overflow`, and a profile must then allow the syscall whatever its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgsSeen {
    /// Which arguments (0-based) each tuple in `values` holds, e.g. `[0, 1]` for socket's domain
    /// and type.
    pub indexes: Vec<u8>,
    /// The distinct tuples of raw values (as the kernel saw the registers), sorted.
    pub values: Vec<Vec<u64>>,
    /// More distinct tuples were seen than the tracer keeps: `values` is incomplete.
    pub overflow: bool,
}

impl ArgsSeen {
    /// Checks the shape: indexes 0 to 5, none twice, every tuple one value per index. Errors are
    /// `(field, message)`, the field relative to the `args` object.
    pub fn check(&self) -> Result<(), (String, String)> {
        for (i, &index) in self.indexes.iter().enumerate() {
            if usize::from(index) > MAX_ARG_INDEX {
                return Err((
                    format!("indexes[{i}]"),
                    format!("{index} is out of range, syscalls have arguments 0 to 5"),
                ));
            }
            if self.indexes[..i].contains(&index) {
                return Err((format!("indexes[{i}]"), format!("{index} is listed twice")));
            }
        }
        if self.indexes.is_empty() {
            return Err((
                "indexes".to_owned(),
                "is empty, expected the arguments the values are of".to_owned(),
            ));
        }
        for (i, tuple) in self.values.iter().enumerate() {
            if tuple.len() != self.indexes.len() {
                return Err((
                    format!("values[{i}]"),
                    format!(
                        "has {} values, expected {} (one per index)",
                        tuple.len(),
                        self.indexes.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl SyscallRecord {
    /// A record for `nr` on `arch`, named by libseccomp.
    pub fn new(arch: ScmpArch, nr: u32, count: u64, first_seen_us: u64) -> Self {
        Self {
            nr,
            name: syscall_name(arch, nr),
            count,
            first_seen_us,
            phases: Vec::new(),
            arch: None,
            args: None,
            actions: Vec::new(),
            last_seen_us: None,
        }
    }

    /// Whether a profile must allow this syscall (see [`PhaseTimes::setup_needed`]).
    pub fn needed_under_filter(&self, phases: Option<&PhaseTimes>) -> bool {
        self.phases.is_empty()
            || self.phases.iter().any(|p| *p != Phase::RuntimeSetup)
            || phases.is_some_and(PhaseTimes::setup_needed)
    }
}

/// The name a runtime would resolve back to this record's number, if there is one.
///
/// The number is the truth: this libseccomp's name for it wins, and a recorded name is used
/// only when this libseccomp resolves it to the same number on the record's architecture. A
/// name that disagrees with the number (`{"nr": 100000, "name": "ptrace"}`) names nothing: the
/// number stays unknown ([`name_mismatch`] says why), so the profile never allows what was not
/// called.
pub(crate) fn enforceable_name(arch: ScmpArch, record: &SyscallRecord) -> Option<String> {
    let arch = record_arch(arch, record);
    syscall_name(arch, record.nr).or_else(|| {
        record
            .name
            .clone()
            .filter(|n| syscall_number(arch, n) == Some(record.nr))
    })
}

/// The architecture whose table numbers `record`: a compat call's own, else `arch`.
fn record_arch(arch: ScmpArch, record: &SyscallRecord) -> ScmpArch {
    record
        .arch
        .as_deref()
        .and_then(|a| parse_arch_name(a).ok())
        .unwrap_or(arch)
}

/// `name`'s number on `arch`, when it has one there.
fn syscall_number(arch: ScmpArch, name: &str) -> Option<u32> {
    let nr = libseccomp::ScmpSyscall::from_name_by_arch(name, arch).ok()?;
    u32::try_from(i32::from(nr)).ok()
}

/// When `record`'s name is one libseccomp knows but not the name of its number, the warning to
/// give: the name is ignored and the number counts.
pub(crate) fn name_mismatch(arch: ScmpArch, record: &SyscallRecord) -> Option<String> {
    let name = record.name.as_deref()?;
    let arch = record_arch(arch, record);
    if !syscall_known(name) || syscall_number(arch, name) == Some(record.nr) {
        return None;
    }
    let actual = syscall_name(arch, record.nr)
        .map_or_else(|| "no name".to_owned(), |n| format!("the name {n:?}"));
    Some(format!(
        "syscall {} is recorded as {name:?}, but on {} that number has {actual}; the number \
         counts, the name is ignored",
        record.nr,
        arch_name(arch)
    ))
}

/// Formats a time as recordings store it: RFC 3339, UTC, milliseconds.
///
/// Times before 1970 or after 9999 (a broken clock) are clamped, since the format cannot show them
/// and a recording is still worth writing.
pub fn format_timestamp(time: SystemTime) -> String {
    // 9999-12-31T23:59:59.999Z, the last instant humantime can format.
    let last = SystemTime::UNIX_EPOCH + Duration::from_millis(253_402_300_799_999);
    let time = time.clamp(SystemTime::UNIX_EPOCH, last);
    humantime::format_rfc3339_millis(time).to_string()
}

impl Recording {
    /// An empty recording of `command` on `arch`, started at `started_at` on `host`.
    ///
    /// `ended_at` equals `started_at` until [`Recording::finish`] is called.
    pub fn new(
        arch: ScmpArch,
        command: Option<Vec<String>>,
        started_at: SystemTime,
        host: HostInfo,
    ) -> Self {
        let started_at = format_timestamp(started_at);
        Self {
            format: RECORDING_FORMAT.to_owned(),
            version: RECORDING_VERSION,
            syscage_version: SYSCAGE_VERSION.to_owned(),
            command,
            ended_at: started_at.clone(),
            started_at,
            kernel_release: host.kernel_release,
            machine: host.machine,
            arch: arch_name(arch),
            exit: None,
            syscalls: Vec::new(),
            out_of_range_count: 0,
            target: None,
            phases: None,
            source: None,
            security: None,
        }
    }

    /// Records the end time and how the command ended.
    pub fn finish(&mut self, ended_at: SystemTime, exit: Option<ExitInfo>) {
        self.ended_at = format_timestamp(ended_at);
        self.exit = exit;
    }

    /// Reads and checks a recording file.
    pub fn read(path: &Path) -> Result<Self, RecordingError> {
        let origin = path.display().to_string();
        let bytes =
            crate::formats::read::read_input_file(path).map_err(|cause| RecordingError::Read {
                origin: origin.clone(),
                cause,
            })?;
        Self::from_slice(&bytes, &origin)
    }

    /// Parses and checks a recording; `origin` names it in errors (usually the file name).
    pub fn from_json(text: &str, origin: &str) -> Result<Self, RecordingError> {
        Self::from_slice(text.as_bytes(), origin)
    }

    fn from_slice(bytes: &[u8], origin: &str) -> Result<Self, RecordingError> {
        // Parsed twice: first loosely, to refuse other documents and newer versions by name
        // before a strict parse would trip over their fields; then strictly, from the text again
        // so serde_json's messages keep their line and column.
        let value: Value =
            serde_json::from_slice(bytes).map_err(|cause| RecordingError::NotJson {
                origin: origin.to_owned(),
                cause,
            })?;
        check_header(&value, origin)?;

        let mut de = serde_json::Deserializer::from_slice(bytes);
        let recording: Self =
            deserialize_at(&mut de).map_err(|(field, message)| RecordingError::Field {
                origin: origin.to_owned(),
                field,
                message,
            })?;
        recording.validate(origin)?;
        Ok(recording)
    }

    /// Checks what the types cannot: format and version, the arch, the timestamps, one entry per
    /// number, and names that agree with libseccomp.
    pub fn validate(&self, origin: &str) -> Result<(), RecordingError> {
        if self.format != RECORDING_FORMAT {
            return Err(RecordingError::Format {
                origin: origin.to_owned(),
                found: format!("{:?}", self.format),
            });
        }
        check_version(u64::from(self.version), origin)?;
        let arch = parse_arch_name(&self.arch).map_err(|cause| RecordingError::Arch {
            origin: origin.to_owned(),
            cause,
        })?;
        for (field, value) in [
            ("started_at", &self.started_at),
            ("ended_at", &self.ended_at),
        ] {
            humantime::parse_rfc3339(value).map_err(|cause| RecordingError::Timestamp {
                origin: origin.to_owned(),
                field,
                value: value.clone(),
                cause,
            })?;
        }

        let mut first_index: HashMap<(ScmpArch, u32), usize> = HashMap::new();
        for (index, record) in self.syscalls.iter().enumerate() {
            let record_arch = match &record.arch {
                None => arch,
                Some(name) => {
                    let invalid = |message: String| RecordingError::Invalid {
                        origin: origin.to_owned(),
                        field: format!("syscalls[{index}].arch"),
                        message,
                    };
                    let compat =
                        parse_arch_name(name).map_err(|cause| invalid(cause.to_string()))?;
                    // A compat call of this kernel: the recording's arch or one of its
                    // companions (x86_64: x86, x32).
                    if !crate::model::arch::sub_arches(arch).contains(&compat) {
                        return Err(invalid(format!(
                            "{name} is not an ABI of {} kernels, expected one of {}",
                            self.arch,
                            crate::model::arch::sub_arches(arch)
                                .into_iter()
                                .map(arch_name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                    compat
                }
            };
            if let Some(args) = &record.args {
                args.check()
                    .map_err(|(field, message)| RecordingError::Invalid {
                        origin: origin.to_owned(),
                        field: format!("syscalls[{index}].args.{field}"),
                        message,
                    })?;
            }
            let key = (record_arch, record.nr);
            if let Some(&first) = first_index.get(&key) {
                return Err(RecordingError::DuplicateNr {
                    origin: origin.to_owned(),
                    index,
                    nr: record.nr,
                    first,
                });
            }
            first_index.insert(key, index);

            // A number this libseccomp cannot name keeps whatever name a newer one gave it.
            if let (Some(name), Some(expected)) =
                (&record.name, syscall_name(record_arch, record.nr))
            {
                if *name != expected {
                    return Err(RecordingError::NameMismatch {
                        origin: origin.to_owned(),
                        index,
                        nr: record.nr,
                        name: name.clone(),
                        arch: record.arch.clone().unwrap_or_else(|| self.arch.clone()),
                        expected,
                    });
                }
            }
        }
        if let Some(security) = &self.security {
            security
                .check()
                .map_err(|(field, message)| RecordingError::Invalid {
                    origin: origin.to_owned(),
                    field: format!("security.{field}"),
                    message,
                })?;
        }
        Ok(())
    }

    /// The recording as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .expect("a Recording holds only strings and integers, which always serialise");
        text.push('\n');
        text
    }

    /// Puts syscalls in the canonical order: first appearance, then number.
    pub fn sort_syscalls(&mut self) {
        self.syscalls.sort_by_key(|s| (s.first_seen_us, s.nr));
    }

    /// The names of all syscalls libseccomp could name, sorted.
    pub fn names(&self) -> BTreeSet<String> {
        self.syscalls
            .iter()
            .filter_map(|s| s.name.clone())
            .collect()
    }

    /// The numbers that have no name, sorted; callers warn about them.
    pub fn unknown_numbers(&self) -> Vec<u32> {
        let numbers: BTreeSet<u32> = self
            .syscalls
            .iter()
            .filter(|s| s.name.is_none())
            .map(|s| s.nr)
            .collect();
        numbers.into_iter().collect()
    }

    /// The recording's arch as a libseccomp arch.
    pub fn scmp_arch(&self) -> Result<ScmpArch, RecordingError> {
        parse_arch_name(&self.arch).map_err(|cause| RecordingError::Arch {
            origin: "recording".to_owned(),
            cause,
        })
    }
}

/// Refuses documents that are not recordings, and versions this syscage cannot read, by name.
///
/// Anything else wrong with the header (a missing version, a version that is a string) is left
/// to the strict parse, whose message names the field and the expected type.
fn check_header(value: &Value, origin: &str) -> Result<(), RecordingError> {
    // serde would read an array as a struct's fields in order; nobody writes recordings so.
    let Some(object) = value.as_object() else {
        return Err(RecordingError::Field {
            origin: origin.to_owned(),
            field: FieldPath(None),
            message: format!("expected a JSON object, found {}", json_kind(value)),
        });
    };
    match object.get("format") {
        Some(Value::String(format)) if format == RECORDING_FORMAT => {}
        Some(other) => {
            return Err(RecordingError::Format {
                origin: origin.to_owned(),
                found: other.to_string(),
            })
        }
        None => {
            return Err(RecordingError::Format {
                origin: origin.to_owned(),
                found: "no format field".to_owned(),
            })
        }
    }
    if let Some(version) = object.get("version").and_then(Value::as_u64) {
        check_version(version, origin)?;
    }
    Ok(())
}

fn check_version(version: u64, origin: &str) -> Result<(), RecordingError> {
    if version > u64::from(RECORDING_VERSION) {
        Err(RecordingError::NewerVersion {
            origin: origin.to_owned(),
            version,
        })
    } else if version < u64::from(RECORDING_VERSION) {
        Err(RecordingError::BadVersion {
            origin: origin.to_owned(),
            version,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = include_str!("../../tests/fixtures/recording-v1.json");

    fn golden() -> Recording {
        Recording::from_json(GOLDEN, "recording-v1.json").unwrap()
    }

    /// The golden recording as a JSON value, to be broken one field at a time.
    fn golden_value() -> Value {
        serde_json::from_str(GOLDEN).unwrap()
    }

    fn read_err(value: &Value) -> String {
        let text = serde_json::to_string_pretty(value).unwrap();
        Recording::from_json(&text, "rec.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn golden_fixture_reads_and_is_canonical() {
        let rec = golden();
        assert_eq!(rec.format, RECORDING_FORMAT);
        assert_eq!(rec.version, 1);
        assert_eq!(rec.scmp_arch().unwrap(), ScmpArch::X8664);
        assert_eq!(rec.exit, Some(ExitInfo::Code { code: 0 }));
        assert_eq!(rec.unknown_numbers(), vec![1000]);
        assert_eq!(
            rec.names().into_iter().collect::<Vec<_>>(),
            [
                "brk",
                "close",
                "execve",
                "exit_group",
                "getpid",
                "openat",
                "read"
            ]
        );
        // The fixture is written exactly as to_json writes it.
        assert_eq!(rec.to_json(), GOLDEN);
    }

    #[test]
    fn json_round_trip() {
        let mut rec = golden();
        rec.exit = Some(ExitInfo::Signal { signal: 15 });
        rec.command = None;
        let text = rec.to_json();
        assert!(text.ends_with("}\n"));
        assert!(
            text.contains("\"exit\": {\n    \"signal\": 15\n  }"),
            "{text}"
        );
        assert!(text.contains("\"command\": null"), "{text}");
        assert_eq!(Recording::from_json(&text, "x").unwrap(), rec);
    }

    #[test]
    fn seccomp_log_fields_round_trip_and_stay_out_of_other_recordings() {
        let mut rec = golden();
        rec.source = Some(RecordingSource::SeccompLog);
        rec.syscalls[0].actions = vec!["SCMP_ACT_ERRNO".into(), "SCMP_ACT_LOG".into()];
        rec.syscalls[0].last_seen_us = Some(1234);
        let text = rec.to_json();
        assert!(text.contains("\"source\": \"seccomp-log\""), "{text}");
        assert!(text.contains("\"last_seen_us\": 1234"), "{text}");
        assert!(text.contains("\"SCMP_ACT_ERRNO\""), "{text}");
        assert_eq!(Recording::from_json(&text, "x").unwrap(), rec);
        // A recording without them (every older one) is written and read as before.
        assert!(!golden().to_json().contains("last_seen_us"));
        assert!(!golden().to_json().contains("actions"));
    }

    #[test]
    fn read_from_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.recording.json");
        std::fs::write(&path, GOLDEN).unwrap();
        assert_eq!(Recording::read(&path).unwrap(), golden());

        let missing = dir.path().join("missing.json");
        let err = Recording::read(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: cannot read: ", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn new_and_finish_fill_the_header() {
        let host = HostInfo {
            kernel_release: "6.1.0".into(),
            machine: "x86_64".into(),
        };
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_714_564_800_123);
        let mut rec = Recording::new(ScmpArch::X8664, Some(vec!["true".into()]), start, host);
        rec.finish(
            start + Duration::from_millis(250),
            Some(ExitInfo::Code { code: 3 }),
        );
        rec.syscalls
            .push(SyscallRecord::new(ScmpArch::X8664, 39, 1, 10));
        rec.syscalls
            .push(SyscallRecord::new(ScmpArch::X8664, 0, 2, 5));
        rec.sort_syscalls();
        assert_eq!(rec.started_at, "2024-05-01T12:00:00.123Z");
        assert_eq!(rec.ended_at, "2024-05-01T12:00:00.373Z");
        assert_eq!(rec.arch, "SCMP_ARCH_X86_64");
        assert_eq!(rec.syscalls[0].name.as_deref(), Some("read"));
        assert_eq!(rec.syscalls[1].name.as_deref(), Some("getpid"));
        rec.validate("new").unwrap();
        assert_eq!(Recording::from_json(&rec.to_json(), "x").unwrap(), rec);
    }

    #[test]
    fn sort_breaks_ties_by_number() {
        let mut rec = golden();
        rec.syscalls = vec![
            SyscallRecord::new(ScmpArch::X8664, 3, 1, 7),
            SyscallRecord::new(ScmpArch::X8664, 1, 1, 7),
            SyscallRecord::new(ScmpArch::X8664, 2, 1, 2),
        ];
        rec.sort_syscalls();
        let order: Vec<u32> = rec.syscalls.iter().map(|s| s.nr).collect();
        assert_eq!(order, [2, 1, 3]);
    }

    #[test]
    fn timestamps_are_clamped_not_panicking() {
        let early = SystemTime::UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(format_timestamp(early), "1970-01-01T00:00:00.000Z");
        let late = SystemTime::UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(format_timestamp(late), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn exit_status_conversion() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            ExitInfo::from_status(ExitStatus::from_raw(3 << 8)),
            Some(ExitInfo::Code { code: 3 })
        );
        assert_eq!(
            ExitInfo::from_status(ExitStatus::from_raw(9)),
            Some(ExitInfo::Signal { signal: 9 })
        );
    }

    #[test]
    fn rejects_non_json() {
        let err = Recording::from_json("nope", "rec.json").unwrap_err();
        assert_eq!(
            err.to_string(),
            "rec.json: not JSON: expected ident at line 1 column 2"
        );
    }

    #[test]
    fn rejects_other_documents_by_format() {
        let mut v = golden_value();
        v["format"] = "syscage-profile".into();
        assert_eq!(
            read_err(&v),
            "rec.json: format: expected \"syscage-recording\", found \"syscage-profile\"; \
             this is not a syscage recording"
        );
        v.as_object_mut().unwrap().remove("format");
        assert!(read_err(&v).contains("found no format field"));
        // A seccomp profile handed to `generate` by mistake.
        let err = Recording::from_json(r#"{"defaultAction": "SCMP_ACT_ERRNO"}"#, "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.json: format: "), "{err}");
    }

    #[test]
    fn rejects_newer_and_impossible_versions() {
        let mut v = golden_value();
        v["version"] = 2.into();
        // A newer syscage may also have added fields: the version message must win.
        v["new_field"] = true.into();
        assert_eq!(
            read_err(&v),
            "rec.json: version: written by a newer syscage: version 2, this syscage reads 1"
        );
        v["version"] = 0.into();
        assert_eq!(
            read_err(&v),
            "rec.json: version: 0 is not a recording format version, expected 1"
        );
        v.as_object_mut().unwrap().remove("new_field");
        v["version"] = "1".into();
        let err = read_err(&v);
        assert!(
            err.starts_with("rec.json: version: invalid type: string \"1\", expected u32"),
            "{err}"
        );
    }

    #[test]
    fn rejects_unknown_arch() {
        let mut v = golden_value();
        v["arch"] = "x86_64".into();
        assert_eq!(
            read_err(&v),
            "rec.json: arch: unknown architecture \"x86_64\", expected a name such as \
             SCMP_ARCH_X86_64"
        );
        v["arch"] = "SCMP_ARCH_NATIVE".into();
        assert!(read_err(&v).starts_with("rec.json: arch: SCMP_ARCH_NATIVE is not a concrete"));
    }

    #[test]
    fn rejects_a_name_that_is_not_the_number() {
        let mut v = golden_value();
        v["syscalls"][3]["name"] = "reboot".into();
        let nr = v["syscalls"][3]["nr"].clone();
        assert_eq!(
            read_err(&v),
            format!(
                "rec.json: syscalls[3].name: \"reboot\" is not syscall {nr} on SCMP_ARCH_X86_64, \
                 libseccomp names it \"getpid\""
            )
        );
    }

    #[test]
    fn keeps_a_name_for_a_number_libseccomp_does_not_know() {
        let mut v = golden_value();
        let last = v["syscalls"].as_array().unwrap().len() - 1;
        assert_eq!(v["syscalls"][last]["nr"], 1000);
        v["syscalls"][last]["name"] = "future_syscall".into();
        let text = serde_json::to_string(&v).unwrap();
        let rec = Recording::from_json(&text, "rec.json").unwrap();
        assert!(rec.names().contains("future_syscall"));
    }

    #[test]
    fn rejects_wrong_types_with_the_field_path() {
        let mut v = golden_value();
        v["syscalls"][3]["count"] = (-1).into();
        let err = read_err(&v);
        assert!(
            err.starts_with(
                "rec.json: syscalls[3].count: invalid value: integer `-1`, expected u64"
            ),
            "{err}"
        );

        let mut v = golden_value();
        v["exit"] = serde_json::json!({"code": 0, "signal": 9});
        let err = read_err(&v);
        assert!(
            err.starts_with("rec.json: exit: expected exactly one of `code` or `signal`"),
            "{err}"
        );

        let mut v = golden_value();
        v["syscalls"][0]["colour"] = "red".into();
        let err = read_err(&v);
        assert!(
            err.starts_with("rec.json: syscalls[0].colour: unknown field `colour`"),
            "{err}"
        );

        let mut v = golden_value();
        v.as_object_mut().unwrap().remove("machine");
        let err = read_err(&v);
        assert!(
            err.starts_with("rec.json: missing field `machine`"),
            "{err}"
        );

        let err = Recording::from_json("[1, 2]", "rec.json")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "rec.json: expected a JSON object, found an array");
    }

    #[test]
    fn rejects_duplicate_numbers_and_bad_timestamps() {
        let mut v = golden_value();
        let first = v["syscalls"][0].clone();
        v["syscalls"].as_array_mut().unwrap().push(first);
        let err = read_err(&v);
        assert!(err.starts_with("rec.json: syscalls[8].nr: "), "{err}");
        assert!(
            err.ends_with("is listed twice, first at syscalls[0]"),
            "{err}"
        );

        let mut v = golden_value();
        v["ended_at"] = "yesterday".into();
        let err = read_err(&v);
        assert!(
            err.starts_with("rec.json: ended_at: \"yesterday\" is not an RFC 3339 UTC timestamp"),
            "{err}"
        );
    }

    #[test]
    fn compat_entries_and_argument_values_are_checked() {
        // i386 20 (getpid) next to x86_64 20 (writev): one entry each.
        let mut v = golden_value();
        let calls = v["syscalls"].as_array_mut().unwrap();
        calls.push(
            serde_json::json!({"nr": 20, "name": "writev", "count": 1, "first_seen_us": 400}),
        );
        calls.push(
            serde_json::json!({"nr": 20, "name": "getpid", "count": 1, "first_seen_us": 401,
                                      "arch": "SCMP_ARCH_X86"}),
        );
        calls.push(
            serde_json::json!({"nr": 56, "name": "clone", "count": 1, "first_seen_us": 402,
            "args": {"indexes": [0], "values": [[17]], "overflow": false}}),
        );
        let rec = Recording::from_json(&v.to_string(), "rec.json").unwrap();
        assert_eq!(rec.syscalls[9].arch.as_deref(), Some("SCMP_ARCH_X86"));
        // Written back byte for byte.
        assert_eq!(Recording::from_json(&rec.to_json(), "again").unwrap(), rec);

        // The native arch spelled out is the same entry as none.
        let mut dup = v.clone();
        dup["syscalls"][8]["arch"] = "SCMP_ARCH_X86_64".into();
        dup["syscalls"][9]["arch"] = "SCMP_ARCH_X86_64".into();
        dup["syscalls"][9]["name"] = "writev".into();
        assert!(read_err(&dup).starts_with("rec.json: syscalls[9].nr: 20 is listed twice"));

        let mut bad = v.clone();
        bad["syscalls"][9]["name"] = "writev".into();
        assert_eq!(
            read_err(&bad),
            "rec.json: syscalls[9].name: \"writev\" is not syscall 20 on SCMP_ARCH_X86, \
             libseccomp names it \"getpid\""
        );
        let mut bad = v.clone();
        bad["syscalls"][9]["arch"] = "SCMP_ARCH_AARCH64".into();
        assert_eq!(
            read_err(&bad),
            "rec.json: syscalls[9].arch: SCMP_ARCH_AARCH64 is not an ABI of SCMP_ARCH_X86_64 \
             kernels, expected one of SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32"
        );
        let mut bad = v.clone();
        bad["syscalls"][10]["args"]["indexes"] = serde_json::json!([6]);
        assert_eq!(
            read_err(&bad),
            "rec.json: syscalls[10].args.indexes[0]: 6 is out of range, syscalls have arguments \
             0 to 5"
        );
        let mut bad = v;
        bad["syscalls"][10]["args"]["values"] = serde_json::json!([[17, 1]]);
        assert_eq!(
            read_err(&bad),
            "rec.json: syscalls[10].args.values[0]: has 2 values, expected 1 (one per index)"
        );
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        fn syscall_record() -> impl Strategy<Value = SyscallRecord> {
            (0u32..600, any::<u64>(), any::<u64>())
                .prop_map(|(nr, count, us)| SyscallRecord::new(ScmpArch::X8664, nr, count, us))
        }

        fn recording() -> impl Strategy<Value = Recording> {
            (
                proptest::option::of(proptest::collection::vec(".*", 0..4)),
                0u64..253_402_300_799_999,
                0u64..1_000_000,
                proptest::option::of(prop_oneof![
                    any::<i32>().prop_map(|code| ExitInfo::Code { code }),
                    any::<i32>().prop_map(|signal| ExitInfo::Signal { signal }),
                ]),
                proptest::collection::btree_map(0u32..600, syscall_record(), 0..40),
                any::<u64>(),
                ".*",
            )
                .prop_map(
                    |(command, start_ms, len_ms, exit, syscalls, oor, release)| {
                        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(start_ms);
                        let host = HostInfo {
                            kernel_release: release,
                            machine: "x86_64".into(),
                        };
                        let mut rec = Recording::new(ScmpArch::X8664, command, start, host);
                        rec.finish(start + Duration::from_millis(len_ms), exit);
                        rec.syscalls = syscalls
                            .into_iter()
                            .map(|(nr, mut s)| {
                                s.nr = nr;
                                s.name = syscall_name(ScmpArch::X8664, nr);
                                s
                            })
                            .collect();
                        rec.sort_syscalls();
                        rec.out_of_range_count = oor;
                        rec
                    },
                )
        }

        proptest! {
            #[test]
            fn serde_round_trip(rec in recording()) {
                let text = rec.to_json();
                prop_assert!(text.ends_with('\n'));
                let back = Recording::from_json(&text, "prop").unwrap();
                prop_assert_eq!(&back, &rec);
                prop_assert_eq!(back.to_json(), text);
            }

            #[test]
            fn reading_never_panics(text in ".*") {
                let _ = Recording::from_json(&text, "prop");
            }

            #[test]
            fn reading_mangled_recordings_never_panics(
                cut in 0usize..2000,
                byte in any::<u8>(),
            ) {
                let mut bytes = GOLDEN.as_bytes().to_vec();
                let at = cut % bytes.len();
                bytes[at] = byte;
                let _ = Recording::from_slice(&bytes, "prop");
                let _ = Recording::from_slice(&bytes[..at], "prop");
            }
        }
    }
}
