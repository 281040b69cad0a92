//! The Markdown report: its heading, and where it is written when complete.

use std::{fmt::Write as _, fs, path::Path};

use anyhow::{Context as _, Result};

/// The report's heading and how to read its tables.
pub(super) fn heading(machine: &str, reps: usize) -> Result<String> {
    let mut report = String::new();
    writeln!(
        report,
        "### syscage benchmark: {machine}\n\nMeasured by `cargo xtask bench` ({reps} repetitions, \
         setups alternating within each; time = CPU time (user + system) of the workload's process \
         tree; ratio = time / untraced time of the same repetition, median [min-max]).\n",
    )?;
    Ok(report)
}

/// Writes the finished report to `output` and to stdout.
pub(super) fn save(report: &str, output: &Path) -> Result<()> {
    if let Some(dir) = output.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(output, report).with_context(|| format!("writing {}", output.display()))?;
    println!("{report}");
    eprintln!("xtask: report written to {}", output.display());
    Ok(())
}
