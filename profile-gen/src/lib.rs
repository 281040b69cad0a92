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
//! Modules, one job each:
//! - [`arch`]: native arch, 32-bit companions, libseccomp <-> runtime-spec arch conversion.
//! - [`syscalls`]: numbers <-> names through libseccomp's tables.
//! - [`recording`]: the versioned recording format (see `RECORDING_FORMAT.md`).
//! - [`profile`]: generating, writing, reading and validating runtime-spec profiles.
//! - [`enforce`]: profile -> libseccomp filter; loading it.
//! - [`atomic`]: all-or-nothing file writes.
//! - [`host`]: `uname` facts for recordings.
//! - [`error`]: the error types.
//! - [`policy`]: a profile regrouped per syscall (verdicts, union, canonical form).
//! - [`docker`]: Docker/moby-format profiles (`archMap`, `includes`/`excludes`) and their
//!   evaluation for an architecture, capability set and kernel.
//! - [`runtime_default`]: Kubernetes' RuntimeDefault of moby, containerd and CRI-O, embedded
//!   from `data/` and rendered for a node.
//! - [`input_file`]: reading an input file: regular files or stdin, size-capped.
//! - [`input`]: reading any input (recordings, OCI, Docker and SPO profiles) by its content.
//! - [`generate`]: inputs -> the profile users ship, with its errno semantics; output formats.
//! - [`kube`]: the Localhost Pod snippet and the SPO `SeccompProfile` resource.
//! - [`merge`]: merged recordings with per-syscall coverage.
//! - [`diff`]: release diffs and RuntimeDefault comparisons, as text, markdown or JSON.
//! - [`risk`]: how risky allowing a syscall is, with a reason.
//! - [`arg_names`]: names of argument values (families, ioctl requests, clone flags) for reports.
//! - [`args`]: argument conditions from recorded argument values, and the risk of new ones.
//! - [`project`]: syscall names projected onto another architecture (`generate --arch`).

pub mod arch;
pub mod arg_names;
pub mod args;
pub mod atomic;
pub mod diff;
pub mod docker;
pub mod enforce;
pub mod error;
pub mod generate;
pub mod host;
pub mod input;
pub mod input_file;
pub mod kube;
pub mod merge;
pub mod policy;
pub mod profile;
pub mod project;
pub mod recording;
pub mod risk;
pub mod runtime_after_filter;
pub mod runtime_default;
pub mod syscalls;
mod translate;

pub use arch::{
    arch_name, native_arch, oci_arch_from_scmp, oci_arch_name, parse_arch_name, scmp_arch_from_oci,
    sub_arches,
};
pub use atomic::{write_atomic, Owner, Replacement};
pub use enforce::{
    build_filter, build_filter_report, filter_pfc, load_filter, BuiltFilter, SkippedRule,
};
pub use error::{ActionError, ArchError, EnforceError, FieldPath, ProfileError, RecordingError};
pub use host::{host_info, HostInfo};
pub use profile::{
    profile_from_json, profile_from_recording, profile_from_recording_with, profile_to_json,
    read_profile, validate_profile, GeneratedProfile,
};
pub use recording::{
    format_timestamp, ArgsSeen, ExitInfo, Phase, PhaseTimes, Recording, SyscallRecord, Target,
    RECORDING_FORMAT, RECORDING_VERSION, SYSCAGE_VERSION,
};
pub use syscalls::{syscall_known, syscall_name};

/// The libseccomp and oci-spec types that appear in this crate's API, so callers need not
/// depend on (and keep in step with) those crates themselves.
pub use libseccomp::{ScmpArch, ScmpFilterContext};
pub use oci_spec::runtime::LinuxSeccomp;
