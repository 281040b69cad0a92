//! The setups a workload is timed under (untraced, the probe programs, syscage, bpftrace,
//! strace) and how a workload runs under each: start the tracer, run the workload in its cgroup,
//! stop the tracer, and check that a watching tracer saw at least the workload's syscalls.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use anyhow::{ensure, Result};

use super::{
    env::{cgroup_id, BenchEnv},
    peers::{bpftrace_argv, bpftrace_calls, strace_argv},
    process::{run_timed, Ran, Tracer},
    syscage::{
        bench_attach_all_argv, bench_attach_argv, bench_attach_calls, record_argv, recording_calls,
    },
    workload::Workload,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Setup {
    Untraced,
    Empty,
    /// The empty program again, as a setup of its own: the two should be equal, so their
    /// ratio shows how far apart two measurements of the same thing land on this machine.
    EmptyAgain,
    CgroupId,
    SyscageUnwatched,
    SyscageWatched,
    SyscageWatchedNamesOnly,
    SyscageRecord,
    BpftraceUnwatched,
    BpftraceWatched,
    Strace,
    SyscageAllWatched,
    SyscageAllFilteredOut,
    /// The two above with the binary given as `--all-before` (not run without it).
    BeforeAllWatched,
    BeforeAllFilteredOut,
}

impl Setup {
    /// Every setup, in the order of the table (and of the discriminants, which index it).
    pub(super) const ALL: [Self; 15] = [
        Self::Untraced,
        Self::Empty,
        Self::EmptyAgain,
        Self::CgroupId,
        Self::SyscageUnwatched,
        Self::SyscageWatched,
        Self::SyscageWatchedNamesOnly,
        Self::SyscageRecord,
        Self::BpftraceUnwatched,
        Self::BpftraceWatched,
        Self::Strace,
        Self::SyscageAllWatched,
        Self::SyscageAllFilteredOut,
        Self::BeforeAllWatched,
        Self::BeforeAllFilteredOut,
    ];

    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Untraced => "untraced",
            Self::Empty => "cost floor: empty eBPF program on sys_enter (BTF-typed raw tracepoint)",
            Self::EmptyAgain => "the same empty program again (how far repeats land apart)",
            Self::CgroupId => "a program that reads the cgroup id on every call (no per-CPU cache)",
            Self::SyscageUnwatched => "syscage attached, workload not watched",
            Self::SyscageWatched => "syscage attached, workload watched",
            Self::SyscageWatchedNamesOnly => {
                "syscage attached, workload watched, names only (no ABI check, no argument capture)"
            }
            Self::SyscageRecord => "`syscage record -- WORKLOAD` (end to end)",
            Self::BpftraceUnwatched => "bpftrace one-liner, workload not watched",
            Self::BpftraceWatched => "bpftrace one-liner, workload watched",
            Self::Strace => "`strace -f -c` (shorter run, scaled; with strace's own CPU time)",
            Self::SyscageAllWatched => "syscage --all attached, workload's cgroup recorded",
            Self::SyscageAllFilteredOut => {
                "syscage --all attached, workload's cgroup seen and not recorded (filtered out)"
            }
            Self::BeforeAllWatched => "the --all-before binary: --all, workload's cgroup recorded",
            Self::BeforeAllFilteredOut => {
                "the --all-before binary: --all, workload's cgroup filtered out"
            }
        }
    }
}

/// What the runs showed besides CPU time: how long the tracers took to attach, and memory.
#[derive(Default)]
pub(super) struct Readings {
    pub(super) ready_empty_ms: Vec<f64>,
    pub(super) ready_recorder_ms: Vec<f64>,
    pub(super) ready_recorder_inner_ms: Vec<f64>,
    /// The recorder's own steps (`load=12.3` on its ready line), in milliseconds.
    pub(super) ready_recorder_steps: BTreeMap<String, Vec<f64>>,
    /// VmHWM of the watching recorder after each watched run.
    pub(super) rss_kb: Vec<u64>,
    /// Peak RSS of each `syscage record -- WORKLOAD`.
    pub(super) record_rss_kb: Vec<u64>,
}

impl Readings {
    /// Notes the recorder's attach time and the steps its ready line names
    /// (`ready <ms in main> checks=<ms> load=<ms> ...`).
    fn note_recorder_ready(&mut self, tracer: &Tracer) {
        self.ready_recorder_ms
            .push(tracer.ready_after.as_secs_f64() * 1000.0);
        let mut words = tracer.ready_line.split_whitespace().skip(1);
        if let Some(inner) = words.next().and_then(|v| v.parse::<f64>().ok()) {
            self.ready_recorder_inner_ms.push(inner);
        }
        for (step, ms) in words.filter_map(|w| w.split_once('=')) {
            if let Ok(ms) = ms.parse::<f64>() {
                self.ready_recorder_steps
                    .entry(step.to_owned())
                    .or_default()
                    .push(ms);
            }
        }
    }

    /// The watching recorder's peak RSS over all runs (0: none measured).
    pub(super) fn peak_rss_kb(&self) -> u64 {
        self.rss_kb.iter().copied().max().unwrap_or(0)
    }

    /// `syscage record`'s peak RSS over all runs (0: none measured).
    pub(super) fn peak_record_rss_kb(&self) -> u64 {
        self.record_rss_kb.iter().copied().max().unwrap_or(0)
    }
}

/// Runs a workload under a setup: everything a measurement needs besides the two.
pub(super) struct SetupRunner<'a> {
    env: &'a BenchEnv,
    syscage: &'a Path,
    /// Another syscage binary whose `--all` is measured too (`--all-before`).
    before: Option<&'a Path>,
    /// Leave out bpftrace and strace (`--no-peers`).
    no_peers: bool,
    /// The id of the cgroup the workload runs in.
    work_id: u64,
    /// strace runs workloads this many times shorter.
    strace_divisor: u64,
    record_out: PathBuf,
    tracer_log: PathBuf,
}

impl<'a> SetupRunner<'a> {
    pub(super) fn new(
        env: &'a BenchEnv,
        syscage: &'a Path,
        before: Option<&'a Path>,
        no_peers: bool,
        strace_divisor: u64,
    ) -> Result<Self> {
        Ok(Self {
            env,
            syscage,
            before,
            no_peers,
            work_id: cgroup_id(&env.work)?,
            strace_divisor,
            record_out: env.tmp.join("record.json"),
            tracer_log: env.tmp.join("tracer.log"),
        })
    }

    /// The workload's CPU time under `setup`, in seconds (for strace, scaled to the full
    /// length); attach times and memory go to `readings`.
    pub(super) fn cpu_seconds(
        &self,
        setup: Setup,
        workload: &Workload,
        readings: &mut Readings,
    ) -> Result<f64> {
        match setup {
            Setup::Untraced => Ok(self.run_workload(workload)?.cpu_seconds),
            Setup::Empty | Setup::EmptyAgain | Setup::CgroupId => {
                self.under_probe(setup, workload, readings)
            }
            Setup::SyscageUnwatched | Setup::SyscageWatched | Setup::SyscageWatchedNamesOnly => {
                self.under_recorder(setup, workload, readings)
            }
            Setup::SyscageRecord => self.under_record(workload, readings),
            Setup::BpftraceUnwatched | Setup::BpftraceWatched => {
                self.under_bpftrace(setup == Setup::BpftraceWatched, workload)
            }
            Setup::Strace => self.under_strace(workload),
            Setup::SyscageAllWatched | Setup::SyscageAllFilteredOut => {
                self.under_all(self.syscage, setup == Setup::SyscageAllWatched, workload)
            }
            Setup::BeforeAllWatched | Setup::BeforeAllFilteredOut => match self.before {
                Some(before) => self.under_all(before, setup == Setup::BeforeAllWatched, workload),
                None => Ok(f64::NAN),
            },
        }
    }

    /// Whether `setup` is measured in this run.
    pub(super) fn runs(&self, setup: Setup) -> bool {
        match setup {
            Setup::BeforeAllWatched | Setup::BeforeAllFilteredOut => self.before.is_some(),
            Setup::BpftraceUnwatched | Setup::BpftraceWatched | Setup::Strace => !self.no_peers,
            _ => true,
        }
    }

    /// Under `bench-attach --all` of `syscage`, with the workload's cgroup recorded or seen and
    /// not recorded (the other cgroup is then the recorded one).
    fn under_all(&self, syscage: &Path, recorded: bool, workload: &Workload) -> Result<f64> {
        let (watch, ignore) = if recorded {
            (&self.env.work, &self.env.other)
        } else {
            (&self.env.other, &self.env.work)
        };
        let argv = bench_attach_all_argv(syscage, Some(watch), Some(ignore));
        let tracer = Tracer::start(&argv, &self.tracer_log)?;
        let ran = self.run_workload(workload)?;
        let lines = tracer.stop()?;
        if recorded {
            let calls = bench_attach_calls(&lines, self.work_id)?;
            ensure_counted("the --all recorder", calls, workload)?;
        }
        Ok(ran.cpu_seconds)
    }

    /// The full workload in its cgroup.
    fn run_workload(&self, workload: &Workload) -> Result<Ran> {
        run_timed(&workload.full_argv(), Some(&self.env.work))
    }

    /// The cgroup a tracer watches: the workload's, or the empty one.
    fn watched_cgroup(&self, watched: bool) -> &Path {
        if watched {
            &self.env.work
        } else {
            &self.env.other
        }
    }

    /// Under `bench-attach` with the empty or the cgroup-id program.
    fn under_probe(
        &self,
        setup: Setup,
        workload: &Workload,
        readings: &mut Readings,
    ) -> Result<f64> {
        let program = if setup == Setup::CgroupId {
            "cgroup-id"
        } else {
            "empty"
        };
        let argv = bench_attach_argv(self.syscage, program, None);
        let tracer = Tracer::start(&argv, &self.tracer_log)?;
        if setup == Setup::Empty {
            readings
                .ready_empty_ms
                .push(tracer.ready_after.as_secs_f64() * 1000.0);
        }
        let ran = self.run_workload(workload)?;
        tracer.stop()?;
        Ok(ran.cpu_seconds)
    }

    /// Under `bench-attach` with syscage's recorder, watching the workload's cgroup or not.
    fn under_recorder(
        &self,
        setup: Setup,
        workload: &Workload,
        readings: &mut Readings,
    ) -> Result<f64> {
        let watched = setup != Setup::SyscageUnwatched;
        let program = if setup == Setup::SyscageWatchedNamesOnly {
            "recorder-names-only"
        } else {
            "recorder"
        };
        let argv = bench_attach_argv(self.syscage, program, Some(self.watched_cgroup(watched)));
        let tracer = Tracer::start(&argv, &self.tracer_log)?;
        readings.note_recorder_ready(&tracer);
        let ran = self.run_workload(workload)?;
        if watched {
            if let Some(kb) = tracer.vm_hwm_kb() {
                readings.rss_kb.push(kb);
            }
        }
        let lines = tracer.stop()?;
        if watched {
            let calls = bench_attach_calls(&lines, self.work_id)?;
            ensure_counted("the watched recorder", calls, workload)?;
        }
        Ok(ran.cpu_seconds)
    }

    /// `syscage record -- WORKLOAD`, end to end.
    fn under_record(&self, workload: &Workload, readings: &mut Readings) -> Result<f64> {
        let argv = record_argv(self.syscage, &self.record_out, &workload.full_argv());
        let ran = run_timed(&argv, None)?;
        readings.record_rss_kb.push(ran.max_rss_kb);
        let calls = recording_calls(&self.env.tmp.join("record.recording.json"))?;
        ensure_counted("`syscage record`", calls, workload)?;
        Ok(ran.cpu_seconds)
    }

    /// Under the bpftrace one-liner, watching the workload's cgroup or not.
    fn under_bpftrace(&self, watched: bool, workload: &Workload) -> Result<f64> {
        let argv = bpftrace_argv(self.watched_cgroup(watched));
        let tracer = Tracer::start(&argv, &self.tracer_log)?;
        let ran = self.run_workload(workload)?;
        let lines = tracer.stop()?;
        if watched {
            ensure_counted("bpftrace", bpftrace_calls(&lines), workload)?;
        }
        Ok(ran.cpu_seconds)
    }

    /// Under `strace -f -c`, on a shorter run.
    fn under_strace(&self, workload: &Workload) -> Result<f64> {
        let short = (workload.units / self.strace_divisor).max(1);
        let argv = strace_argv(&self.env.tmp.join("strace.txt"), (workload.argv)(short));
        let ran = run_timed(&argv, Some(&self.env.work))?;
        // Scaled per unit of work to the full length.
        Ok(ran.cpu_seconds * workload.units as f64 / short as f64)
    }
}

/// Fails unless `counter` saw at least the workload's syscalls: a tracer that silently
/// recorded nothing must not look cheap.
fn ensure_counted(counter: &str, calls: u64, workload: &Workload) -> Result<()> {
    ensure!(
        calls >= workload.syscalls(),
        "{counter} counted {calls} syscalls of `{}`, fewer than its {}",
        workload.full_argv().join(" "),
        workload.syscalls()
    );
    Ok(())
}
