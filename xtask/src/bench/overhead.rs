//! The syscall overhead: every workload under every setup, the setups alternating within each
//! repetition in a rotating order, and the ratios of each repetition to its own untraced run.

use std::{fmt::Write as _, path::Path};

use anyhow::Result;

use super::{
    env::BenchEnv,
    programs::{foreign_sys_enter_tracers, wait_for_quiet, ProgramSettle, SETTLE_CAP},
    setups::{Readings, Setup, SetupRunner},
    stats::{median, ratio_cell},
    workload::Workload,
};

/// Per (setup, workload): the times and the ratios of each repetition.
pub(super) struct Overhead {
    /// [setup][workload] -> seconds per repetition (scaled for strace).
    pub(super) times: Vec<Vec<Vec<f64>>>,
    /// [setup][workload] -> time / untraced time of the same repetition.
    pub(super) ratios: Vec<Vec<Vec<f64>>>,
    /// [workload] -> watched / empty and unwatched / empty of the same repetition.
    pub(super) watched_vs_floor: Vec<Vec<f64>>,
    pub(super) unwatched_vs_floor: Vec<Vec<f64>>,
    /// [workload] -> `--all` with the workload's cgroup recorded / empty, and filtered out /
    /// empty, same repetition; `before_*` the same for the `--all-before` binary (empty without
    /// it).
    pub(super) all_watched_vs_floor: Vec<Vec<f64>>,
    pub(super) all_filtered_vs_floor: Vec<Vec<f64>>,
    pub(super) before_all_watched_vs_floor: Vec<Vec<f64>>,
    pub(super) before_all_filtered_vs_floor: Vec<Vec<f64>>,
    /// [workload] -> unwatched / the uncached cgroup-id program, same repetition.
    unwatched_vs_cgroup_id: Vec<Vec<f64>>,
    /// [workload] -> the empty program's second measurement / its first, same repetition.
    pub(super) empty_again_vs_empty: Vec<Vec<f64>>,
    /// [workload] -> watched / watched names-only of the same repetition: what the ABI check and
    /// argument capture cost.
    capture_vs_names_only: Vec<Vec<f64>>,
    /// [workload] -> syscalls of the full workload.
    pub(super) syscalls: Vec<u64>,
    /// [workload] -> whether the `sys_enter` targets are judged on it (not on a workload whose
    /// every call checks a capability: that one measures the security programs).
    pub(super) judges_sys_enter: Vec<bool>,
    /// Attach times and memory seen along the way.
    pub(super) readings: Readings,
    /// Measurements during which another process had a program on sys_enter.
    disturbed: Vec<String>,
    measurements: usize,
    /// Measurements that started before the previous one's programs were freed.
    unsettled: usize,
}

/// Times every workload under every setup, `reps` times.
pub(super) fn measure(
    env: &BenchEnv,
    syscage: &Path,
    before: Option<&Path>,
    no_peers: bool,
    workloads: &[Workload],
    reps: usize,
    strace_divisor: u64,
) -> Result<Overhead> {
    let mut session = Session {
        runner: SetupRunner::new(env, syscage, before, no_peers, strace_divisor)?,
        settle: ProgramSettle::new(),
        reps,
    };
    let mut o = Overhead::new(workloads);
    for rep in 0..reps {
        for (w, workload) in workloads.iter().enumerate() {
            let rep_time = o.measure_rep(&mut session, rep, w, workload)?;
            o.add_rep_ratios(w, &rep_time);
        }
    }
    o.unsettled = session.settle.gave_up;
    Ok(o)
}

/// What every measurement of one overhead run shares.
struct Session<'a> {
    runner: SetupRunner<'a>,
    settle: ProgramSettle,
    reps: usize,
}

impl Overhead {
    fn new(workloads: &[Workload]) -> Self {
        let per_setup = vec![vec![Vec::new(); workloads.len()]; Setup::ALL.len()];
        let per_workload = vec![Vec::new(); workloads.len()];
        Self {
            times: per_setup.clone(),
            ratios: per_setup,
            watched_vs_floor: per_workload.clone(),
            unwatched_vs_floor: per_workload.clone(),
            all_watched_vs_floor: per_workload.clone(),
            all_filtered_vs_floor: per_workload.clone(),
            before_all_watched_vs_floor: per_workload.clone(),
            before_all_filtered_vs_floor: per_workload.clone(),
            unwatched_vs_cgroup_id: per_workload.clone(),
            empty_again_vs_empty: per_workload.clone(),
            capture_vs_names_only: per_workload,
            syscalls: workloads.iter().map(Workload::syscalls).collect(),
            judges_sys_enter: workloads.iter().map(|w| !w.checks_capabilities).collect(),
            readings: Readings::default(),
            disturbed: Vec::new(),
            measurements: 0,
            unsettled: 0,
        }
    }

    /// One repetition of workload `w` under every setup; returns the time of each (indexed as
    /// [`Setup::ALL`]).
    fn measure_rep(
        &mut self,
        session: &mut Session<'_>,
        rep: usize,
        w: usize,
        workload: &Workload,
    ) -> Result<Vec<f64>> {
        let n_setups = Setup::ALL.len();
        let mut rep_time = vec![f64::NAN; n_setups];
        // Rotate the order so that no setup always runs first or right after another.
        let offset = (rep + w) % n_setups;
        for k in 0..n_setups {
            let s = (offset + k) % n_setups;
            let setup = Setup::ALL[s];
            if !session.runner.runs(setup) {
                continue;
            }
            eprintln!(
                "xtask: bench rep {}/{} {}: {}",
                rep + 1,
                session.reps,
                workload.key,
                setup.label()
            );
            let seconds = self.measure_one(session, setup, workload, rep)?;
            rep_time[s] = seconds;
            self.times[s][w].push(seconds);
        }
        Ok(rep_time)
    }

    /// One measurement, started once other tracers are gone and the previous measurement's
    /// programs are freed; notes any other program on sys_enter before or during it.
    fn measure_one(
        &mut self,
        session: &mut Session<'_>,
        setup: Setup,
        workload: &Workload,
        rep: usize,
    ) -> Result<f64> {
        let foreign = wait_for_quiet();
        session.settle.wait();
        self.measurements += 1;
        self.note_disturbed(&foreign, workload, setup, &format!("rep {}", rep + 1));
        let seconds = session
            .runner
            .cpu_seconds(setup, workload, &mut self.readings)?;
        // One may have started while this ran, too.
        if foreign.is_empty() {
            let during = foreign_sys_enter_tracers();
            self.note_disturbed(&during, workload, setup, &format!("rep {}, after", rep + 1));
        }
        Ok(seconds)
    }

    fn note_disturbed(
        &mut self,
        foreign: &[String],
        workload: &Workload,
        setup: Setup,
        when: &str,
    ) {
        if !foreign.is_empty() {
            self.disturbed.push(format!(
                "{} / {} ({when}): {}",
                workload.key,
                setup.label(),
                foreign.join(", ")
            ));
        }
    }

    /// The ratios of one repetition of workload `w`, each to a time of the same repetition.
    fn add_rep_ratios(&mut self, w: usize, rep_time: &[f64]) {
        let time = |setup: Setup| rep_time[setup as usize];
        let untraced = time(Setup::Untraced);
        for (ratios, time) in self.ratios.iter_mut().zip(rep_time) {
            if time.is_finite() {
                ratios[w].push(time / untraced);
            }
        }
        let empty = time(Setup::Empty);
        for (ratios, setup) in [
            (&mut self.all_watched_vs_floor, Setup::SyscageAllWatched),
            (
                &mut self.all_filtered_vs_floor,
                Setup::SyscageAllFilteredOut,
            ),
            (
                &mut self.before_all_watched_vs_floor,
                Setup::BeforeAllWatched,
            ),
            (
                &mut self.before_all_filtered_vs_floor,
                Setup::BeforeAllFilteredOut,
            ),
        ] {
            if time(setup).is_finite() {
                ratios[w].push(time(setup) / empty);
            }
        }
        self.unwatched_vs_floor[w].push(time(Setup::SyscageUnwatched) / empty);
        self.watched_vs_floor[w].push(time(Setup::SyscageWatched) / empty);
        self.capture_vs_names_only[w]
            .push(time(Setup::SyscageWatched) / time(Setup::SyscageWatchedNamesOnly));
        self.unwatched_vs_cgroup_id[w].push(time(Setup::SyscageUnwatched) / time(Setup::CgroupId));
        self.empty_again_vs_empty[w].push(time(Setup::EmptyAgain) / empty);
    }

    /// The table of setups by workload, then a line of same-repetition ratios per workload.
    pub(super) fn write_table(&self, out: &mut String, workloads: &[Workload]) -> Result<()> {
        write_table_head(out, workloads)?;
        for (s, setup) in Setup::ALL.iter().enumerate() {
            if self.times[s].iter().all(Vec::is_empty) {
                continue; // not run
            }
            write!(out, "| {} |", setup.label())?;
            for w in 0..workloads.len() {
                self.write_cells(out, s, w)?;
            }
            writeln!(out)?;
        }
        writeln!(out)?;
        for (w, workload) in workloads.iter().enumerate() {
            self.write_workload_ratios(out, w, workload)?;
        }
        Ok(())
    }

    /// Setup `s`, workload `w`: median time, ratio, and time added per syscall.
    fn write_cells(&self, out: &mut String, s: usize, w: usize) -> Result<()> {
        let time = median(&self.times[s][w]);
        let untraced = median(&self.times[0][w]);
        let added_ns = (time - untraced) / self.syscalls[w] as f64 * 1e9;
        let added = if s == 0 {
            "-".to_owned()
        } else {
            format!("{added_ns:.0} ns")
        };
        write!(
            out,
            " {time:.3} s | {} | {added} |",
            ratio_cell(&self.ratios[s][w])
        )?;
        Ok(())
    }

    fn write_workload_ratios(&self, out: &mut String, w: usize, workload: &Workload) -> Result<()> {
        writeln!(
            out,
            "- {}: syscage / empty program of the same repetition: unwatched {}, watched {}; \
             the empty program measured twice (second / first): {}; unwatched / uncached \
             cgroup-id program: {}; watched / watched names-only (the cost of the ABI check \
             and argument capture): {}",
            workload.key,
            ratio_cell(&self.unwatched_vs_floor[w]),
            ratio_cell(&self.watched_vs_floor[w]),
            ratio_cell(&self.empty_again_vs_empty[w]),
            ratio_cell(&self.unwatched_vs_cgroup_id[w]),
            ratio_cell(&self.capture_vs_names_only[w])
        )?;
        write!(
            out,
            "- {}: `--all` / empty program of the same repetition: workload's cgroup recorded {}, \
             filtered out {}",
            workload.key,
            ratio_cell(&self.all_watched_vs_floor[w]),
            ratio_cell(&self.all_filtered_vs_floor[w]),
        )?;
        if !self.before_all_watched_vs_floor[w].is_empty() {
            write!(
                out,
                "; the --all-before binary: recorded {}, filtered out {}",
                ratio_cell(&self.before_all_watched_vs_floor[w]),
                ratio_cell(&self.before_all_filtered_vs_floor[w]),
            )?;
        }
        writeln!(out)?;
        Ok(())
    }

    /// The conditions of the runs: the load, and whether anything else touched sys_enter or
    /// kept programs alive.
    pub(super) fn write_notes(
        &self,
        out: &mut String,
        load_before: &str,
        load_after: &str,
    ) -> Result<()> {
        writeln!(
            out,
            "- load average before / after the overhead runs: {load_before} / {load_after}"
        )?;
        writeln!(
            out,
            "- each measurement started once the BPF programs of the one before were freed (a \
             tracer's detach leaves work on the CPUs for about 300 ms here){}",
            self.unsettled_note()
        )?;
        self.write_disturbed_note(out)
    }

    /// How many measurements started before the previous one's programs were freed, if any.
    fn unsettled_note(&self) -> String {
        if self.unsettled == 0 {
            return String::new();
        }
        format!(
            "; **{} started after waiting {} s without that** (another process keeps programs)",
            self.unsettled,
            SETTLE_CAP.as_secs()
        )
    }

    fn write_disturbed_note(&self, out: &mut String) -> Result<()> {
        if self.disturbed.is_empty() {
            writeln!(
                out,
                "- no other process had a program on sys_enter during the {} measurements",
                self.measurements
            )?;
        } else {
            writeln!(
                out,
                "- **{} of {} measurements ran while another process had a program on sys_enter** \
                 (it taxes every setup, the untraced one too): {}",
                self.disturbed.len(),
                self.measurements,
                self.disturbed.join("; ")
            )?;
        }
        Ok(())
    }
}

/// The header rows: three columns per workload.
fn write_table_head(out: &mut String, workloads: &[Workload]) -> Result<()> {
    write!(out, "| setup |")?;
    for w in workloads {
        write!(
            out,
            " {} ({:.1}M syscalls): CPU time | ratio | added per syscall |",
            w.label,
            w.syscalls() as f64 / 1e6
        )?;
    }
    write!(out, "\n|---|")?;
    for _ in workloads {
        write!(out, "---|---|---|")?;
    }
    writeln!(out)?;
    Ok(())
}
