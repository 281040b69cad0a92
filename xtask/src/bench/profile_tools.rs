//! `generate`, `merge` and `diff` on many recordings: clones with variations of a few
//! recordings of real commands made here, so the set differs between clones as replicas' do.

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::{env::BenchEnv, process::run_timed, stats::median, syscage::record_argv};

/// The timings of the profile tools, per run.
#[derive(Default)]
pub(super) struct Tools {
    generate_s: Vec<f64>,
    merge_s: Vec<f64>,
    diff_total_s: f64,
    diff_each_ms: Vec<f64>,
    diff_merged_ms: Vec<f64>,
}

/// Times `generate`, `merge` and `diff` on `count` recordings (`reps` runs, at most 5);
/// `getppid` is the loop binary, one of the commands recorded.
pub(super) fn measure(
    env: &BenchEnv,
    syscage: &Path,
    getppid: &Path,
    reps: usize,
    count: usize,
) -> Result<Tools> {
    let dir = env.tmp.join("recordings");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let bases = record_bases(syscage, getppid, &dir)?;
    let files = clone_recordings(&bases, &dir, count)?;
    let runner = ToolRunner {
        syscage: syscage.display().to_string(),
        dir,
        files,
    };
    let mut t = Tools::default();
    let reps = reps.clamp(1, 5);
    for rep in 0..reps {
        eprintln!(
            "xtask: bench generate/merge on {} recordings {}/{reps}",
            runner.files.len(),
            rep + 1
        );
        runner.time_generate_merge(&mut t)?;
    }
    runner.time_diff_pairs(&mut t)?;
    Ok(t)
}

/// Records a few real commands into `dir`; returns their recordings.
fn record_bases(syscage: &Path, getppid: &Path, dir: &Path) -> Result<Vec<Value>> {
    let commands: [&[&str]; 5] = [
        &["ls", "-l", "/"],
        &["sh", "-c", "echo hi | cat > /dev/null"],
        &[
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=1k",
            "count=10",
            "status=none",
        ],
        &["date"],
        &[&getppid.display().to_string(), "10"],
    ];
    let mut bases = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let out = dir.join(format!("base-{i}.json"));
        run_timed(&record_argv(syscage, &out, command), None)?;
        let path = dir.join(format!("base-{i}.recording.json"));
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        bases.push(serde_json::from_str::<Value>(&text)?);
    }
    Ok(bases)
}

/// Runs the profile tools on the cloned recordings.
struct ToolRunner {
    syscage: String,
    dir: PathBuf,
    /// The cloned recordings' paths.
    files: Vec<String>,
}

impl ToolRunner {
    /// `syscage WORDS...`, timed from spawn to exit, in seconds.
    fn time(&self, words: impl IntoIterator<Item = String>) -> Result<f64> {
        let argv: Vec<String> = std::iter::once(self.syscage.clone()).chain(words).collect();
        Ok(run_timed(&argv, None)?.elapsed.as_secs_f64())
    }

    /// `generate --from` all, `merge` all, and `diff` of one recording against the merge.
    fn time_generate_merge(&self, t: &mut Tools) -> Result<()> {
        let generated = self.dir.join("generated.json").display().to_string();
        let merged = self.dir.join("merged");
        t.generate_s.push(
            self.time(
                words(&["--quiet", "generate", "--from"])
                    .chain(self.files.iter().cloned())
                    .chain(words(&["-o"]))
                    .chain([generated]),
            )?,
        );
        t.merge_s.push(
            self.time(
                words(&["--quiet", "merge"])
                    .chain(self.files.iter().cloned())
                    .chain(words(&["--output"]))
                    .chain([merged.display().to_string()]),
            )?,
        );
        let merged_recording = format!("{}.recording.json", merged.display());
        t.diff_merged_ms.push(
            self.time(words(&["diff"]).chain([self.files[0].clone(), merged_recording]))? * 1000.0,
        );
        Ok(())
    }

    /// `diff` of each recording with the next.
    fn time_diff_pairs(&self, t: &mut Tools) -> Result<()> {
        eprintln!("xtask: bench diff of {} pairs", self.files.len() - 1);
        let started = Instant::now();
        for pair in self.files.windows(2) {
            let ms = self.time(words(&["diff"]).chain([pair[0].clone(), pair[1].clone()]))?;
            t.diff_each_ms.push(ms * 1000.0);
        }
        t.diff_total_s = started.elapsed().as_secs_f64();
        Ok(())
    }
}

fn words<'a>(words: &'a [&'a str]) -> impl Iterator<Item = String> + 'a {
    words.iter().map(|&w| w.to_owned())
}

/// Writes `count` recordings: clone `i` is base `i % len` with a tenth of its syscalls dropped
/// (never execve), its counts scaled and its first sightings shifted, by a fixed pseudo-random
/// sequence, so the set differs between clones as replicas' do.
fn clone_recordings(bases: &[Value], dir: &Path, count: usize) -> Result<Vec<String>> {
    let mut rng = XorShift64(0x9e37_79b9_7f4a_7c15);
    let mut files = Vec::with_capacity(count);
    for i in 0..count {
        let mut rec = bases[i % bases.len()].clone();
        vary(&mut rec, i, &mut rng);
        let path = dir.join(format!("r{i:04}.recording.json"));
        let text = serde_json::to_string_pretty(&rec)? + "\n";
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        files.push(path.display().to_string());
    }
    Ok(files)
}

/// Makes `rec` replica `i`: its command marked, some syscalls dropped, the rest's counts and
/// first sightings changed.
fn vary(rec: &mut Value, i: usize, rng: &mut XorShift64) {
    if let Some(command) = rec["command"].as_array_mut() {
        command.push(Value::from(format!("--replica={i}")));
    }
    if let Some(syscalls) = rec["syscalls"].as_array_mut() {
        syscalls.retain_mut(|s| {
            if s["name"] != "execve" && rng.next().is_multiple_of(10) {
                return false;
            }
            let scale = 1 + rng.next() % 5;
            let count = s["count"].as_u64().unwrap_or(1);
            s["count"] = Value::from(count * scale);
            let first = s["first_seen_us"].as_u64().unwrap_or(0);
            s["first_seen_us"] = Value::from(first + rng.next() % 1000);
            true
        });
    }
}

/// A fixed pseudo-random sequence (xorshift64), so every run clones the same variations.
struct XorShift64(u64);

impl XorShift64 {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl Tools {
    pub(super) fn write_table(&self, out: &mut String, count: usize) -> Result<()> {
        writeln!(
            out,
            "\n| on {count} recordings | median | runs |\n|---|---|---|"
        )?;
        writeln!(
            out,
            "| `syscage generate --from` all {count} | {:.3} s | {} |",
            median(&self.generate_s),
            self.generate_s.len()
        )?;
        writeln!(
            out,
            "| `syscage merge` all {count} | {:.3} s | {} |",
            median(&self.merge_s),
            self.merge_s.len()
        )?;
        writeln!(
            out,
            "| `syscage diff A B`, one pair | {:.1} ms | {} (all: {:.1} s) |",
            median(&self.diff_each_ms),
            self.diff_each_ms.len(),
            self.diff_total_s
        )?;
        writeln!(
            out,
            "| `syscage diff` one recording against the merge of all {count} | {:.1} ms | {} |",
            median(&self.diff_merged_ms),
            self.diff_merged_ms.len()
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_keep_execve_and_differ_from_each_other() {
        let syscalls: Vec<Value> = (0..40)
            .map(|n| {
                let name = if n == 0 {
                    "execve".to_owned()
                } else {
                    format!("s{n}")
                };
                serde_json::json!({"name": name, "count": 1, "first_seen_us": 0})
            })
            .collect();
        let base = serde_json::json!({"command": ["true"], "syscalls": syscalls});
        let mut rng = XorShift64(0x9e37_79b9_7f4a_7c15);
        let (mut a, mut b) = (base.clone(), base);
        vary(&mut a, 0, &mut rng);
        vary(&mut b, 1, &mut rng);
        assert_ne!(a["syscalls"], b["syscalls"]);
        assert_eq!(a["command"], serde_json::json!(["true", "--replica=0"]));
        for rec in [&a, &b] {
            let kept = rec["syscalls"].as_array().unwrap();
            assert!(kept.len() < 40, "a tenth of the syscalls is dropped: {rec}");
            assert!(kept.iter().any(|s| s["name"] == "execve"), "{rec}");
        }
    }
}
