//! Attach time and memory: `syscage record -- true` against `true`, and the table that shows it
//! beside the attach times and peak RSS the overhead runs saw.

use std::{fmt::Write as _, path::Path};

use anyhow::Result;

use super::{
    env::BenchEnv, process::run_timed, setups::Readings, stats::median, syscage::record_argv,
};

/// What `syscage record -- true` costs over `true`.
pub(super) struct Attach {
    pub(super) record_minus_true_ms: f64,
    runs: usize,
}

/// `syscage record -- true` against `true`, alternating, `reps` times each.
pub(super) fn measure(env: &BenchEnv, syscage: &Path, reps: usize) -> Result<Attach> {
    let out = env.tmp.join("true.json");
    let record = record_argv(syscage, &out, &["true"]);
    let plain = vec!["true".to_owned()];
    let mut diffs = Vec::new();
    for rep in 0..reps {
        eprintln!("xtask: bench attach {}/{reps}", rep + 1);
        let a = run_timed(&plain, None)?.elapsed.as_secs_f64();
        let b = run_timed(&record, None)?.elapsed.as_secs_f64();
        diffs.push((b - a) * 1000.0);
    }
    Ok(Attach {
        record_minus_true_ms: median(&diffs),
        runs: reps,
    })
}

impl Attach {
    /// The attach-and-memory table: this measurement and the overhead runs' `readings`.
    pub(super) fn write_table(&self, out: &mut String, readings: &Readings) -> Result<()> {
        writeln!(
            out,
            "\n| attach and memory | median | runs |\n|---|---|---|"
        )?;
        write_ready_rows(out, readings)?;
        writeln!(
            out,
            "| `syscage record -- true` minus `true` (end to end: cgroup, load, attach, run, read, \
             write two files, clean up) | {:.1} ms | {} |",
            self.record_minus_true_ms, self.runs
        )?;
        write_rss_rows(out, readings)
    }
}

/// How long `bench-attach` took to attach, from outside and inside the process.
fn write_ready_rows(out: &mut String, readings: &Readings) -> Result<()> {
    writeln!(
        out,
        "| `syscage bench-attach --program empty`: start to attached | {:.1} ms | {} |",
        median(&readings.ready_empty_ms),
        readings.ready_empty_ms.len()
    )?;
    writeln!(
        out,
        "| `syscage bench-attach --program recorder`: start to attached (and watching) | {:.1} \
         ms | {} |",
        median(&readings.ready_recorder_ms),
        readings.ready_recorder_ms.len()
    )?;
    let steps: Vec<String> = ["checks", "load", "watch", "attach"]
        .iter()
        .filter_map(|step| {
            let ms = readings.ready_recorder_steps.get(*step)?;
            Some(format!("{step} {:.1}", median(ms)))
        })
        .collect();
    writeln!(
        out,
        "| of which after `main` started (ms: {}) | {:.1} ms | {} |",
        steps.join(", "),
        median(&readings.ready_recorder_inner_ms),
        readings.ready_recorder_inner_ms.len()
    )?;
    Ok(())
}

/// The collector's and `syscage record`'s peak RSS.
fn write_rss_rows(out: &mut String, readings: &Readings) -> Result<()> {
    writeln!(
        out,
        "| collector peak RSS (VmHWM of `bench-attach --program recorder` after a watched run; \
         max) | {:.1} MB | {} |",
        readings.peak_rss_kb() as f64 / 1024.0,
        readings.rss_kb.len()
    )?;
    writeln!(
        out,
        "| `syscage record -- WORKLOAD` peak RSS (wait4 ru_maxrss; max) | {:.1} MB | {} |",
        readings.peak_record_rss_kb() as f64 / 1024.0,
        readings.record_rss_kb.len()
    )?;
    Ok(())
}
