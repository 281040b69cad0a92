//! `cargo xtask quality`: the real-workload suite (tests/tests/real_workloads.rs: Debian's
//! servers in runc, crun and Podman, recorded under one traffic pattern and run under their
//! profiles with another) and its report: `target/quality/report.md`, and with `--readme` the
//! table in README.md's "Profile quality on real servers" section.
//!
//! The suite writes one JSON file of figures per server and runtime into
//! `target/quality/results/`; this reads them back, whatever the tests' verdicts, so a failing
//! run still shows its figures. It fails when the suite failed, when a result is missing, or
//! when any false-deny count is not 0.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::{
    bench::machine,
    shell::{run, Cmd},
};

/// The e2e test file of the suite (a `[[test]]` with `test = false`: only run by name).
const SUITE: &str = "real_workloads";
/// Where README.md's table goes: between these two lines.
const README_BEGIN: &str = "<!-- quality table: written by `cargo xtask quality --readme` -->";
const README_END: &str = "<!-- end of quality table -->";

/// Runs the suite as root with `bin`, writes the report (and the README's table when
/// `readme`), and fails on any false deny or failed test.
pub(crate) fn run_suite(root: &Path, bin: &Path, readme: bool) -> Result<()> {
    let results = root.join("target/quality/results");
    let host_results = root.join("target/quality/host");
    // Made here, as the user, so that the report can be written into it after the suite
    // (which runs as root) made its subdirectories.
    let quality = root.join("target/quality");
    fs::create_dir_all(&quality).with_context(|| format!("creating {}", quality.display()))?;
    // The suite runs as root, so its old results are root's: removed as root.
    for dir in [&results, &host_results] {
        if dir.exists() {
            run(Cmd::new("rm").args(["-rf"]).arg_path(dir).with_sudo())?;
        }
    }
    run(Cmd::new("cargo").args([
        "test",
        "--release",
        "--package",
        "syscage-e2e",
        "--test",
        SUITE,
        "--no-run",
    ]))?;
    let start = Instant::now();
    let suite = run(Cmd::new("cargo")
        .args([
            "test",
            "--release",
            "--no-fail-fast",
            "--package",
            "syscage-e2e",
            "--test",
            SUITE,
            "--",
            "--test-threads=1",
        ])
        .env("SYSCAGE_BIN", bin)
        .env("RUST_BACKTRACE", "1")
        .with_sudo());
    let minutes = start.elapsed().as_secs_f64() / 60.0;

    let rows = read_results(&results)?;
    let host_rows = read_results(&host_results)?;
    let mut report = render(&rows, minutes);
    render_host_view(&mut report, &host_rows);
    let report_path = root.join("target/quality/report.md");
    fs::write(&report_path, &report)
        .with_context(|| format!("writing {}", report_path.display()))?;
    eprintln!("xtask: wrote {}", report_path.display());
    if readme {
        write_readme_table(&root.join("README.md"), &report)?;
    }
    suite.context("the real-workload suite failed (figures in target/quality/report.md)")?;
    let denying: Vec<String> = rows
        .iter()
        .filter(|r| r["false_denies"].as_u64() != Some(0))
        .map(label)
        .collect();
    if !denying.is_empty() {
        bail!(
            "false denies under the recorded profile: {}",
            denying.join(", ")
        );
    }
    if rows.is_empty() {
        bail!(
            "the real-workload suite wrote no results into {}",
            results.display()
        );
    }
    Ok(())
}

/// Every result file, sorted by workload and runtime.
fn read_results(dir: &Path) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(rows),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    paths.sort();
    for path in paths {
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let row: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a result (JSON expected)", path.display()))?;
        rows.push(row);
    }
    rows.sort_by_key(label);
    Ok(rows)
}

/// The second view: each server recorded on the host (no container) under pattern B, and the
/// merge of that recording with the container's (runc, pattern A).
fn render_host_view(out: &mut String, rows: &[Value]) {
    if rows.is_empty() {
        return;
    }
    let names = |value: &Value| -> String {
        value
            .as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| workload | host profile | runc profile | merged profile (seen in one run) | only in the container | only on the host |"
    );
    let _ = writeln!(out, "| --- | ---: | ---: | ---: | --- | --- |");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({}) | {} | {} |",
            text(&row["workload"]),
            text(&row["host_profile_syscalls"]),
            text(&row["container_profile_syscalls"]),
            text(&row["merged_profile_syscalls"]),
            text(&row["merged_seen_in_one_run"]),
            names(&row["only_in_container"]),
            names(&row["only_on_host"]),
        );
    }
    let _ = writeln!(out);
    let left_out = rows
        .iter()
        .map(|r| names(&r["container_profile_not_in_merged"]))
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>();
    let merged_note = if left_out.is_empty() {
        "The merged profiles keep every call the container's profile adds for its runtime (the \
         container run names the runtime)."
            .to_owned()
    } else {
        format!(
            "The merged profiles leave out calls the container's profile adds for its runtime: {}.",
            left_out.join("; ")
        )
    };
    let _ = writeln!(
        out,
        "Host: `syscage record` of the same server from the same root filesystem (`chroot \
         --userspec`, pattern B). Only on the host: what chroot and the switch of user add. Only \
         in the container: the runtime's calls after the filter load, and what the container's \
         tmpfs and read-only root make the server do. {merged_note}"
    );
}

fn label(row: &Value) -> String {
    format!("{} in {}", text(&row["workload"]), text(&row["runtime"]))
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The report: heading with date and machine, the table, then the details per row.
fn render(rows: &[Value], minutes: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured {}; the suite took {minutes:.1} min (root filesystem cached or built).",
        machine::description()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| workload | runtime | profile size | RuntimeDefault size (moby) | removed (dangerous) | false denies | convergence |"
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | --- | ---: | --- |");
    for row in rows {
        let moby = &row["runtime_default"]["moby"];
        let dangerous: Vec<String> = moby["removed_dangerous"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} ({}) | {} | {} |",
            text(&row["workload"]),
            text(&row["runtime"]),
            text(&row["profile_syscalls"]),
            text(&moby["allows"]),
            text(&moby["removed"]),
            dangerous.join(", "),
            text(&row["false_denies"]),
            convergence(&row["convergence"]),
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Profile size: names the recorded profile allows. Removed: what RuntimeDefault allows \
         that the profile does not. Convergence: syscalls first seen until the server answered, \
         in each round of traffic pattern A, and at shutdown; the rounds after the last one \
         with a new syscall added none. False denies: client commands that failed and servers \
         that did not stop cleanly under the profile with traffic pattern B, over a run and a \
         restart, and not without it."
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| workload | runtime | containerd: allows / removed | CRI-O: allows / removed (dangerous) |");
    let _ = writeln!(out, "| --- | --- | ---: | --- |");
    for row in rows {
        let baseline = |engine: &str| {
            let b = &row["runtime_default"][engine];
            (
                text(&b["allows"]),
                text(&b["removed"]),
                b["removed_dangerous"].as_array().map_or(0, Vec::len),
            )
        };
        let (c_allows, c_removed, _) = baseline("containerd");
        let (o_allows, o_removed, o_dangerous) = baseline("crio");
        let _ = writeln!(
            out,
            "| {} | {} | {c_allows} / {c_removed} | {o_allows} / {o_removed} ({o_dangerous}) |",
            text(&row["workload"]),
            text(&row["runtime"]),
        );
    }
    out
}

/// `startup 40, rounds 1/0/0/0, shutdown 2: none new after round 1 of 4`.
fn convergence(c: &Value) -> String {
    let rounds: Vec<String> = c["new_per_round"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    let last = c["last_round_with_new"].as_u64().unwrap_or(0);
    let settled = if last == 0 {
        "none new once serving".to_owned()
    } else {
        format!("none new after round {last} of {}", rounds.len())
    };
    format!(
        "startup {}, rounds {}, shutdown {}: {settled}",
        text(&c["new_at_startup"]),
        rounds.join("/"),
        text(&c["new_at_shutdown"]),
    )
}

/// Replaces what lies between [`README_BEGIN`] and [`README_END`] with `table`.
fn write_readme_table(readme: &Path, table: &str) -> Result<()> {
    let text =
        fs::read_to_string(readme).with_context(|| format!("reading {}", readme.display()))?;
    let (Some(begin), Some(end)) = (text.find(README_BEGIN), text.find(README_END)) else {
        bail!(
            "{}: no lines {README_BEGIN:?} and {README_END:?} to put the table between",
            readme.display()
        );
    };
    if end < begin {
        bail!(
            "{}: {README_END:?} comes before {README_BEGIN:?}",
            readme.display()
        );
    }
    let mut updated = String::with_capacity(text.len() + table.len());
    updated.push_str(&text[..begin + README_BEGIN.len()]);
    updated.push('\n');
    updated.push_str(table);
    updated.push_str(&text[end..]);
    fs::write(readme, updated).with_context(|| format!("writing {}", readme.display()))?;
    eprintln!("xtask: wrote the table into {}", readme.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn readme_table_replaces_only_what_lies_between_the_markers() {
        let dir = std::env::temp_dir().join(format!("xtask-quality-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let readme = dir.join("README.md");
        fs::write(
            &readme,
            format!("# top\n{README_BEGIN}\nold table\n{README_END}\n## next\n"),
        )
        .unwrap();
        write_readme_table(&readme, "| new |\n").unwrap();
        assert_eq!(
            fs::read_to_string(&readme).unwrap(),
            format!("# top\n{README_BEGIN}\n| new |\n{README_END}\n## next\n")
        );
        fs::write(&readme, "# no markers\n").unwrap();
        let error = write_readme_table(&readme, "| new |\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no lines"), "{error}");
        assert_eq!(fs::read_to_string(&readme).unwrap(), "# no markers\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn convergence_names_the_last_round_that_added_a_syscall() {
        let settled = json!({"new_at_startup": 40, "new_per_round": [4, 0, 1, 0],
                             "new_at_shutdown": 2, "last_round_with_new": 3});
        assert_eq!(
            convergence(&settled),
            "startup 40, rounds 4/0/1/0, shutdown 2: none new after round 3 of 4"
        );
        let quiet = json!({"new_at_startup": 40, "new_per_round": [0, 0],
                           "new_at_shutdown": 0, "last_round_with_new": 0});
        assert_eq!(
            convergence(&quiet),
            "startup 40, rounds 0/0, shutdown 0: none new once serving"
        );
    }
}
