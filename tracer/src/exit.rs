//! syscage's exit status conventions (documented in `--help` and the README).
//!
//! `record` and `run` pass the command's own status through (128 + n when a signal n ended it),
//! so the codes syscage uses for its own failures follow the `env`/docker convention: 125 for
//! a syscage error, 126 when the command cannot be executed, 127 when it is not found.

use std::fmt;

/// syscage itself failed (bad arguments, bad input file, missing privileges...).
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

/// The exit code for an error returned by a subcommand.
pub(crate) fn code_of(err: &anyhow::Error) -> u8 {
    err.downcast_ref::<Failure>().map_or(EXIT_ERROR, |f| f.code)
}
