//! syscage's exit status conventions (documented in `--help` and the README).
//!
//! `record` and `run` pass the command's own status through (128 + n when a signal n ended it),
//! so the codes syscage uses for its own failures sit where programs rarely exit: the
//! `env`/docker convention (125 for a syscage error, 126 when the command cannot be executed,
//! 127 when it is not found) and, just below it, one code per kind of failure a script may want
//! to act on (120-124).

use std::fmt;

/// `audit` wrote its recordings, but records were lost (the kernel's audit `lost` counter
/// rose, the receive buffer overflowed) or could not be attributed: they are incomplete.
pub(crate) const EXIT_INCOMPLETE: u8 = 119;
/// Missing privileges: not root, no CAP_BPF/CAP_PERFMON.
pub(crate) const EXIT_NO_PRIVILEGE: u8 = 120;
/// The kernel lacks what recording needs (cgroup v2, BPF raw tracepoints) or refused the program.
pub(crate) const EXIT_NO_KERNEL_SUPPORT: u8 = 121;
/// The target does not exist: unknown container id, cgroup or process.
pub(crate) const EXIT_NO_TARGET: u8 = 122;
/// An output cannot be written: directory missing or not writable, disk full.
pub(crate) const EXIT_CANNOT_WRITE: u8 = 123;
/// An input file is unreadable or not what was expected (profile, recording).
pub(crate) const EXIT_BAD_INPUT: u8 = 124;
/// Any other syscage failure (bad arguments, ...).
pub(crate) const EXIT_ERROR: u8 = 125;
/// The command exists but could not be executed.
pub(crate) const EXIT_CANNOT_EXECUTE: u8 = 126;
/// The command was not found.
pub(crate) const EXIT_NOT_FOUND: u8 = 127;

/// An error that carries the exit code it should produce.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) error: anyhow::Error,
}

impl Failure {
    pub(crate) fn new(code: u8, error: anyhow::Error) -> Self {
        Self { code, error }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for Failure {}

/// Gives a fallible step's error the exit code of its kind (unless it already has one).
pub(crate) trait ExitCodeExt<T> {
    fn exit_code(self, code: u8) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ExitCodeExt<T> for Result<T, E> {
    fn exit_code(self, code: u8) -> anyhow::Result<T> {
        self.map_err(|e| {
            let e = e.into();
            if has_failure(&e) {
                e
            } else {
                Failure::new(code, e).into()
            }
        })
    }
}

fn has_failure(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<Failure>())
}

/// The exit code for an error returned by a subcommand: the code it was given, else
/// [`EXIT_BAD_INPUT`] for a profile-gen reader's error (every file reader reports through those
/// types), else [`EXIT_ERROR`].
pub(crate) fn code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            return failure.code;
        }
    }
    let bad_input = err.chain().any(|e| {
        e.is::<profile_gen::ProfileError>()
            || e.is::<profile_gen::RecordingError>()
            || e.is::<profile_gen::InputError>()
            || e.is::<profile_gen::MergeError>()
            || e.is::<profile_gen::DockerError>()
            || e.is::<profile_gen::GenerateError>()
            || e.is::<profile_gen::WorkloadError>()
    });
    if bad_input {
        EXIT_BAD_INPUT
    } else {
        EXIT_ERROR
    }
}
