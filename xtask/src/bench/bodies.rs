//! The sys_enter programs' body time per call, by the kernel's own BPF statistics
//! (`kernel.bpf_stats_enabled`, which adds two clock reads per run and so is off during the
//! overhead runs): what a program body costs apart from the price of calling a program on the
//! tracepoint at all, without the noise of timing whole runs. Counted over every syscall on the
//! machine while the workload runs.

use std::{fmt::Write as _, fs, path::Path};

use anyhow::{Context as _, Result};

use super::{
    env::BenchEnv,
    process::{run_timed, Tracer},
    programs::{busiest_prog_stats, ProgramSettle},
    stats::median,
    syscage::{bench_attach_all_argv, bench_attach_argv},
    workload::Workload,
};

/// How many times each program's body time is measured (alternating between programs).
const BODY_ROUNDS: usize = 3;

const BPF_STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// The programs' body times per call (median of [`BODY_ROUNDS`] runs each).
pub(super) struct BodyCosts {
    /// (label, median ns per call, calls of all rounds), in table order.
    rows: Vec<(&'static str, f64, u64)>,
}

impl BodyCosts {
    pub(super) const EMPTY: &'static str = "empty program";
    pub(super) const UNWATCHED: &'static str = "syscage, workload not watched";
    pub(super) const WATCHED: &'static str = "syscage, workload watched";
    pub(super) const ALL_WATCHED: &'static str = "syscage --all, workload's cgroup recorded";
    pub(super) const ALL_FILTERED: &'static str = "syscage --all, workload's cgroup filtered out";
    const BEFORE_ALL_WATCHED: &'static str = "the --all-before binary, --all, recorded";
    const BEFORE_ALL_FILTERED: &'static str = "the --all-before binary, --all, filtered out";

    /// The median ns per call of the program labelled `label` (NaN: not measured).
    pub(super) fn ns(&self, label: &str) -> f64 {
        self.rows
            .iter()
            .find(|(l, ..)| *l == label)
            .map_or(f64::NAN, |&(_, ns, _)| ns)
    }

    pub(super) fn write_table(&self, out: &mut String, workload: &Workload) -> Result<()> {
        writeln!(
            out,
            "\n| program body, per call (kernel BPF stats, {}; median of {BODY_ROUNDS} runs) | \
             run time | calls |\n|---|---|---|",
            workload.label
        )?;
        for (label, ns, calls) in &self.rows {
            writeln!(out, "| {label} | {ns:.1} ns | {calls} |")?;
        }
        Ok(())
    }
}

/// Turns the kernel's BPF statistics on, measures the programs' body times while `workload`
/// runs, and puts the setting back as it was.
pub(super) fn measure(
    env: &BenchEnv,
    syscage: &Path,
    all_before: Option<&Path>,
    workload: &Workload,
) -> Result<BodyCosts> {
    let sysctl = Path::new(BPF_STATS_SYSCTL);
    let before = fs::read_to_string(sysctl).context("reading kernel.bpf_stats_enabled")?;
    fs::write(sysctl, "1").context("enabling kernel.bpf_stats_enabled")?;
    let result = measure_with_stats_on(env, syscage, all_before, workload);
    fs::write(sysctl, before.trim()).context("restoring kernel.bpf_stats_enabled")?;
    result
}

fn measure_with_stats_on(
    env: &BenchEnv,
    syscage: &Path,
    before: Option<&Path>,
    workload: &Workload,
) -> Result<BodyCosts> {
    let log = env.tmp.join("stats.log");
    let programs = programs(env, syscage, before);
    let mut per_call = vec![Vec::new(); programs.len()];
    let mut calls = vec![0u64; programs.len()];
    let mut settle = ProgramSettle::new();
    for round in 0..BODY_ROUNDS {
        for (i, (label, argv)) in programs.iter().enumerate() {
            settle.wait();
            eprintln!(
                "xtask: bench BPF stats {}/{BODY_ROUNDS}: {label}",
                round + 1
            );
            let (run_time_ns, run_cnt) = run_with_stats(env, argv, &log, workload)?
                .with_context(|| format!("no BPF program statistics for {label}"))?;
            per_call[i].push(run_time_ns as f64 / run_cnt as f64);
            calls[i] += run_cnt;
        }
    }
    Ok(BodyCosts {
        rows: programs
            .iter()
            .zip(per_call.iter().zip(calls))
            .map(|((label, _), (ns, calls))| (*label, median(ns), calls))
            .collect(),
    })
}

/// The programs measured, labelled, in table order.
fn programs(
    env: &BenchEnv,
    syscage: &Path,
    before: Option<&Path>,
) -> Vec<(&'static str, Vec<String>)> {
    let all = |syscage, recorded: bool| {
        let (watch, ignore) = if recorded {
            (&env.work, &env.other)
        } else {
            (&env.other, &env.work)
        };
        bench_attach_all_argv(syscage, Some(watch), Some(ignore))
    };
    let mut programs = vec![
        (BodyCosts::EMPTY, bench_attach_argv(syscage, "empty", None)),
        (
            "cgroup id read on every call (no cache)",
            bench_attach_argv(syscage, "cgroup-id", None),
        ),
        (
            BodyCosts::UNWATCHED,
            bench_attach_argv(syscage, "recorder", Some(&env.other)),
        ),
        (
            BodyCosts::WATCHED,
            bench_attach_argv(syscage, "recorder", Some(&env.work)),
        ),
        (BodyCosts::ALL_WATCHED, all(syscage, true)),
        (BodyCosts::ALL_FILTERED, all(syscage, false)),
    ];
    if let Some(before) = before {
        programs.push((BodyCosts::BEFORE_ALL_WATCHED, all(before, true)));
        programs.push((BodyCosts::BEFORE_ALL_FILTERED, all(before, false)));
    }
    programs
}

/// Runs the workload under the tracer `argv`; returns its sys_enter program's
/// (run_time_ns, run_cnt), or None when it had no statistics.
fn run_with_stats(
    env: &BenchEnv,
    argv: &[String],
    log: &Path,
    workload: &Workload,
) -> Result<Option<(u64, u64)>> {
    let tracer = Tracer::start(argv, log)?;
    run_timed(&workload.full_argv(), Some(&env.work))?;
    // The sys_enter program is the tracer's program that ran most.
    let busiest = busiest_prog_stats(tracer.pid());
    tracer.stop()?;
    Ok(busiest)
}
