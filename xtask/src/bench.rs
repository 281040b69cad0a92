//! placeholder
use anyhow::Result;
use std::path::Path;
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {}
pub(crate) fn run(_root: &Path, _bin: &Path, _args: &BenchArgs) -> Result<()> {
    Ok(())
}
