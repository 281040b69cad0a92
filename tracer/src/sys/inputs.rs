//! Reading the input files of `generate`, `diff` and `merge` (recordings and profiles of every
//! format) for one architecture. The files themselves are read by profile-gen's one capped,
//! regular-files-only reader.

use std::path::PathBuf;

use anyhow::Result;
use profile_gen::{native_arch, read_input, Conditions, Input, InputKind, ScmpArch};

/// Reads every input. Docker-format profiles are evaluated for the architecture: `arch`, else
/// the first other input's, else this machine's; `conditions` gives what they are evaluated
/// for on an architecture. Warnings are logged.
pub(crate) fn read_inputs(
    paths: &[PathBuf],
    arch: Option<ScmpArch>,
    conditions: impl Fn(ScmpArch) -> Result<Conditions>,
) -> Result<(Vec<Input>, ScmpArch)> {
    let native = native_arch();
    let first_pass = conditions(arch.unwrap_or(native))?;
    let mut inputs = paths
        .iter()
        .map(|p| read_input(p, &first_pass))
        .collect::<Result<Vec<_>, _>>()?;
    let arch = arch.unwrap_or_else(|| {
        inputs
            .iter()
            .filter(|i| i.kind != InputKind::DockerProfile)
            .find_map(Input::arch)
            .unwrap_or(native)
    });
    if arch != first_pass.arch {
        let conditions = conditions(arch)?;
        inputs = paths
            .iter()
            .map(|p| read_input(p, &conditions))
            .collect::<Result<Vec<_>, _>>()?;
    }
    for input in &inputs {
        for warning in &input.warnings {
            log::warn!("{warning}");
        }
    }
    Ok((inputs, arch))
}
