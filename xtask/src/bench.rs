//! placeholder
use std::path::Path;
use anyhow::Result;
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {}
pub(crate) fn run(_root: &Path, _bin: &Path, _args: &BenchArgs) -> Result<()> { Ok(()) }
