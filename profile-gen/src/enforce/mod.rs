//! A profile as a libseccomp filter, and loading it.

pub mod filter;
pub(crate) mod translate;
