//! `record --all`'s own cost at node scale: its CPU time and peak RSS over a fixed recording
//! time, on the machine as it is and with many more containers' cgroups (each a cgroup of its own
//! holding one sleeping process, named the way containerd's `ctr` names a container, so that
//! `--all` tracks every one), side by side.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use anyhow::{Context as _, Result};

use super::{
    env::{cgroup2_mount, BenchEnv},
    process::run_timed,
};

/// The collector's CPU time and peak RSS, per case.
pub(super) struct AllScale {
    /// (what, CPU seconds, peak RSS in KiB), in table order.
    rows: Vec<(String, f64, u64)>,
    seconds: u64,
}

/// Runs `record --all` for `seconds` without and then with `cgroups` extra containers' cgroups
/// (and, with `before`, that binary's `record --all` with them too).
pub(super) fn measure(
    env: &BenchEnv,
    syscage: &Path,
    before: Option<&Path>,
    cgroups: usize,
    seconds: u64,
) -> Result<AllScale> {
    let out = env.tmp.join("all-scale");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut rows = Vec::new();
    eprintln!("xtask: bench record --all for {seconds} s, the machine as it is");
    let (cpu, rss) = record_all(syscage, &out, seconds)?;
    rows.push(("the machine as it is".to_owned(), cpu, rss));

    let many = Sleepers::start(cgroups)?;
    eprintln!("xtask: bench record --all for {seconds} s, {cgroups} more containers' cgroups");
    let (cpu, rss) = record_all(syscage, &out, seconds)?;
    rows.push((
        format!(
            "{} more containers' cgroups, a sleeping process each",
            many.len()
        ),
        cpu,
        rss,
    ));
    if let Some(before) = before {
        let (cpu, rss) = record_all(before, &out, seconds)?;
        rows.push((
            format!("the same {} cgroups, the --all-before binary", many.len()),
            cpu,
            rss,
        ));
    }
    drop(many);
    Ok(AllScale { rows, seconds })
}

impl AllScale {
    pub(super) fn write_table(&self, out: &mut String) -> Result<()> {
        writeln!(
            out,
            "\n| `record --all` for {} s | collector CPU time | share of one CPU | peak RSS \
             |\n|---|---|---|---|",
            self.seconds
        )?;
        for (what, cpu, rss_kb) in &self.rows {
            writeln!(
                out,
                "| {what} | {cpu:.3} s | {:.2}% | {:.1} MB |",
                cpu / self.seconds as f64 * 100.0,
                *rss_kb as f64 / 1024.0
            )?;
        }
        Ok(())
    }
}

/// `syscage record --all` for `seconds`: its CPU time and peak RSS.
fn record_all(syscage: &Path, out: &Path, seconds: u64) -> Result<(f64, u64)> {
    let argv: Vec<String> = vec![
        syscage.display().to_string(),
        "record".into(),
        "--all".into(),
        "--quiet".into(),
        "--max-cgroups".into(),
        "8192".into(),
        "--duration".into(),
        format!("{seconds}s"),
        "--output-dir".into(),
        out.display().to_string(),
    ];
    let ran = run_timed(&argv, None)?;
    Ok((ran.cpu_seconds, ran.max_rss_kb))
}

/// Cgroups `<cgroup2>/syscage-scale-<pid>/cNNNN`, each holding one `sleep`; killed and removed
/// on drop.
struct Sleepers {
    parent: PathBuf,
    children: Vec<(PathBuf, Child)>,
}

impl Sleepers {
    fn start(count: usize) -> Result<Self> {
        let parent = cgroup2_mount()?.join(format!("syscage-scale-{}", std::process::id()));
        fs::create_dir(&parent).with_context(|| format!("creating cgroup {}", parent.display()))?;
        let mut sleepers = Self {
            parent,
            children: Vec::with_capacity(count),
        };
        for i in 0..count {
            let dir = sleepers.parent.join(format!("c{i:04}"));
            fs::create_dir(&dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
            let child = Command::new("sleep")
                .arg("3600")
                .stdin(Stdio::null())
                .spawn()
                .context("starting sleep")?;
            let pid = child.id();
            sleepers.children.push((dir.clone(), child));
            fs::write(dir.join("cgroup.procs"), pid.to_string())
                .with_context(|| format!("moving sleep into {}", dir.display()))?;
        }
        Ok(sleepers)
    }

    fn len(&self) -> usize {
        self.children.len()
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for (dir, _) in &self.children {
            if let Err(e) = fs::remove_dir(dir) {
                eprintln!("xtask: warning: removing cgroup {}: {e}", dir.display());
            }
        }
        if let Err(e) = fs::remove_dir(&self.parent) {
            eprintln!(
                "xtask: warning: removing cgroup {}: {e}",
                self.parent.display()
            );
        }
    }
}
