//! One module per subcommand: each takes its parsed arguments and returns the exit code.

pub(crate) mod audit;
pub(crate) mod bench_attach;
pub(crate) mod diff;
pub(crate) mod generate;
pub(crate) mod merge;
pub(crate) mod oci_hook;
pub(crate) mod ready;
pub(crate) mod record;
pub(crate) mod run;
