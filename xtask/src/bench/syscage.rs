//! The syscage command lines the benchmark runs, and the syscall counts read back from what they
//! print and write (so a run that recorded nothing cannot look cheap).

use std::{fs, path::Path};

use anyhow::{Context as _, Result};
use serde_json::Value;

/// `syscage record --quiet --user root --output OUT -- COMMAND...` (as root the workload
/// stays root, as in the other setups).
pub(super) fn record_argv(syscage: &Path, out: &Path, command: &[impl AsRef<str>]) -> Vec<String> {
    let mut argv: Vec<String> = vec![
        syscage.display().to_string(),
        "record".into(),
        "--quiet".into(),
        "--user".into(),
        "root".into(),
        "--output".into(),
        out.display().to_string(),
        "--".into(),
    ];
    argv.extend(command.iter().map(|word| word.as_ref().to_owned()));
    argv
}

/// `syscage bench-attach --program PROGRAM [--watch-cgroup CGROUP]`.
pub(super) fn bench_attach_argv(
    syscage: &Path,
    program: &str,
    watch: Option<&Path>,
) -> Vec<String> {
    let mut argv = vec![
        syscage.display().to_string(),
        "bench-attach".into(),
        "--program".into(),
        program.to_owned(),
    ];
    if let Some(cgroup) = watch {
        argv.extend(["--watch-cgroup".into(), cgroup.display().to_string()]);
    }
    argv
}

/// `syscage bench-attach --program recorder --all [--watch-cgroup RECORDED] [--ignore-cgroup
/// IGNORED]`: the recorder as `record --all` loads it, with one cgroup recorded and one seen
/// and not recorded.
pub(super) fn bench_attach_all_argv(
    syscage: &Path,
    recorded: Option<&Path>,
    ignored: Option<&Path>,
) -> Vec<String> {
    let mut argv = bench_attach_argv(syscage, "recorder", recorded);
    argv.push("--all".into());
    if let Some(cgroup) = ignored {
        argv.extend(["--ignore-cgroup".into(), cgroup.display().to_string()]);
    }
    argv
}

/// The call count `bench-attach` printed for cgroup `id`.
pub(super) fn bench_attach_calls(lines: &[String], id: u64) -> Result<u64> {
    let prefix = format!("cgroup {id}: ");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|calls| calls.trim_end_matches(" calls").parse().ok())
        .with_context(|| format!("bench-attach printed no count for cgroup {id}: {lines:?}"))
}

/// The sum of a recording's call counts.
pub(super) fn recording_calls(path: &Path) -> Result<u64> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(value["syscalls"]
        .as_array()
        .map(|calls| calls.iter().filter_map(|c| c["count"].as_u64()).sum())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_attach_count_is_read_for_the_right_cgroup() {
        let lines = [
            "cgroup 7: 3 distinct syscalls, 12 calls",
            "cgroup 70: 40 distinct syscalls, 4000 calls",
        ]
        .map(String::from);
        assert_eq!(bench_attach_calls(&lines, 70).unwrap(), 4000);
        assert_eq!(bench_attach_calls(&lines, 7).unwrap(), 12);
        let missing = bench_attach_calls(&lines, 8).unwrap_err().to_string();
        assert!(missing.contains("no count for cgroup 8"), "{missing}");
    }
}
