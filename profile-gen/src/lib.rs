//! profile-gen: the part of syscage that needs neither root nor eBPF.
//!
//! It turns a [`Recording`] of the syscalls a workload made into an OCI runtime-spec seccomp
//! profile ([`profile_from_recording`]), reads and checks such profiles ([`read_profile`],
//! [`validate_profile`]), and turns them into libseccomp filters ([`build_filter`]) that the
//! `syscage` binary loads into a child before exec ([`load_filter`]).
//!
//! It must stay a plain library: no aya, tokio, clap or nix; no printing (warnings such as
//! unknown syscall numbers are returned for the caller to show); errors are `thiserror` enums
//! whose `Display` is one line naming the file, the JSON field and what was expected. Output is
//! deterministic: sorted names, pretty JSON with a trailing newline, written atomically
//! ([`write_atomic`]).
//!
//! Modules, by layer; a file has one job, and no two files import each other:
//! - [`model`]: what syscage knows, whatever the file format.
//!   [`model::arch`] (native arch, 32-bit companions, libseccomp <-> runtime-spec names),
//!   [`model::syscalls`] (numbers <-> names through libseccomp's tables),
//!   [`model::arg_values`] (uniting recorded argument values, bounded),
//!   [`model::recording`] (the versioned recording format, see `RECORDING_FORMAT.md`),
//!   [`model::merged`] (merged recordings with per-syscall coverage, and merging),
//!   [`model::security`] and [`model::merged_security`] (security facts: capabilities,
//!   identity, root filesystem writes, privilege gain; one run's, and united with coverage),
//!   [`model::policy`] (a profile regrouped per syscall: verdicts, union, canonical form),
//!   [`model::host`] (`uname` facts for recordings).
//! - [`formats`]: files in and out. [`formats::input`] (any input recognised by its content),
//!   [`formats::read`] (regular files or stdin, size-capped), [`formats::oci`] (runtime-spec
//!   profiles: JSON, reading, validating), [`formats::docker`] (moby's `archMap`/`includes`
//!   format evaluated for an architecture, capability set and kernel), [`formats::kube`] (the
//!   Localhost Pod snippet and the SPO `SeccompProfile`), [`formats::security_context`] (the
//!   container's whole `securityContext` from security facts), [`formats::oci_process`] (the
//!   runtime-spec `process` capabilities and `noNewPrivileges`), [`formats::atomic`]
//!   (all-or-nothing writes).
//! - [`build`]: inputs -> the profile users ship. [`build::rules`] (an input as per-syscall
//!   rules), [`build::args`] (argument conditions from recorded values, and the risk of new
//!   ones), [`build::project`] (names projected onto another architecture, `generate --arch`),
//!   [`build::generate`] (uniting inputs, errno semantics, output formats, the notes),
//!   [`build::workloads`] (recordings grouped and merged by Kubernetes workload, and the names
//!   of their outputs).
//!   [`build::security`] (the inputs' security facts united, or which inputs lack them).
//! - [`analysis`]: reports. [`analysis::diff`] (release and RuntimeDefault diffs as text,
//!   markdown or JSON), [`analysis::risk`] (how risky allowing a syscall or needing a
//!   capability is), [`analysis::security_diff`] (security facts between releases, and against a
//!   runtime's default capabilities),
//!   [`analysis::arg_names`] (names of argument values for reports).
//! - [`baselines`]: what the runtimes bring. [`baselines::runtime_default`] (Kubernetes'
//!   RuntimeDefault of moby, containerd and CRI-O, from `data/`),
//!   [`baselines::runtime_after_filter`] (what runtimes do after loading a container's filter).
//! - [`enforce`]: profile -> libseccomp filter, and loading it.
//! - [`error`]: the error types shared by several layers.
//!
//! Dependencies point one way: `model` uses [`error`] (and [`formats::read`] to read its
//! files); `formats` uses `model`; `build` uses both and `analysis`'s names and risks of
//! argument values; `analysis` and `baselines` use the layers below; `enforce` uses `model`
//! and `build::args`. No file imports one that imports it back.

pub mod analysis;
pub mod baselines;
pub mod build;
pub mod enforce;
pub mod error;
pub mod formats;
pub mod model;
#[cfg(test)]
mod test_support;

pub use build::generate::profile_from_recording;
pub use build::generate::{
    generate, generate_for_runtime, generate_with, log_profile, missed_container_start, Format,
    GenerateError, Generated, Level, Note,
};
pub use build::rules::PolicyOptions;
pub use build::workloads::{
    group_by_workload, merge_workloads, WorkloadError, WorkloadKey, WorkloadMerge,
};
pub use enforce::filter::{
    build_filter, build_filter_report, filter_pfc, load_filter, BuiltFilter, SkippedRule,
};
pub use error::{ActionError, ArchError, EnforceError, FieldPath, ProfileError};
pub use formats::atomic::{directory_of, write_atomic, Owner, Replacement};
pub use formats::docker::{Conditions, DockerError, KernelVersion};
pub use formats::input::{read_input, Content, Input, InputError, InputKind};
pub use formats::oci::{profile_from_json, profile_to_json, read_profile, validate_profile};
pub use model::arch::{
    arch_name, native_arch, oci_arch_from_scmp, oci_arch_name, parse_arch_name, scmp_arch_from_oci,
    sub_arches,
};
pub use model::host::{host_info, HostInfo};
pub use model::kubernetes::{pod_container, workload_of_pod, PodContainer};
pub use model::merged::{merge_all, MergeError, MergedRecording};
pub use model::policy::{Policy, Verdict};
pub use model::recording::{
    format_timestamp, ArgsSeen, ExitInfo, KubernetesIdentity, Phase, PhaseTimes, Recording,
    RecordingError, RecordingSource, SyscallRecord, Target, RECORDING_FORMAT, RECORDING_VERSION,
    SYSCAGE_VERSION,
};
pub use model::seccomp_log::{
    action_name, scmp_arch_of_audit, SeccompLogError, SeccompLogRecord, SeccompLogTally,
    AUDIT_SECCOMP,
};
pub use model::security::{
    CapabilityUse, Identity, PrivilegeGain, PrivilegeGainKind, RootFilesystemWrites, SecurityFacts,
};
pub use model::syscalls::{syscall_known, syscall_name};

/// The libseccomp and oci-spec types that appear in this crate's API, so callers need not
/// depend on (and keep in step with) those crates themselves.
pub use libseccomp::{ScmpArch, ScmpFilterContext};
pub use oci_spec::runtime::LinuxSeccomp;
