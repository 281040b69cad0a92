//! One `syscage audit` run: listen to the kernel's seccomp log records until told to stop,
//! attribute each to its target at once, and write one `seccomp-log` recording per target.
//!
//! Where records can be lost, and how each loss is caught:
//! - The kernel's audit queue (`audit_backlog_limit`, the rate limit `audit_rate_limit`, the
//!   hold queue when no auditd runs): each drop adds to the audit status' `lost` counter, read
//!   at the start and the end. The counter is the whole system's, so any rise makes the result
//!   incomplete.
//! - This socket's receive buffer: a full buffer drops records and netlink says so (ENOBUFS).
//! - The kernel log: when nobody reads the multicast group (and no auditd runs), records go
//!   only to printk, which is rate limited ("kauditd_printk_skb: N callbacks suppressed"):
//!   that is why syscage reads the group instead of the kernel log.
//! - A record whose process is gone and was never seen cannot be attributed.
//!
//! Any of these ends the run with [`EXIT_INCOMPLETE`] and says what was lost.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::atomic::Ordering,
    time::{Duration, Instant, SystemTime},
};

use anyhow::{Context as _, Result};
use profile_gen::{host_info, native_arch, SeccompLogRecord, SeccompLogTally, AUDIT_SECCOMP};

use crate::{
    audit::{
        attribute::{Attribution, Attributor, Scope},
        forks::{ForkEvents, Forks},
        live::LiveTable,
        netlink::{audit_status, AuditReader, AuditStatus, Received},
    },
    recorder::{
        stop::stop_on_signals,
        target::observed_target,
        workloads::{workload_dir, WorkloadFilter},
    },
    sys::{
        cgroup, containers,
        exit::{ExitCodeExt as _, EXIT_INCOMPLETE, EXIT_NO_TARGET},
        outputs::{check_output_dir, Output},
    },
};

/// What to audit.
pub(crate) enum AuditTarget<'a> {
    Cgroup(&'a Path),
    Pid(u32),
    Container(&'a str),
    All,
}

pub(crate) struct AuditOptions<'a> {
    pub(crate) target: AuditTarget<'a>,
    /// Single targets: the recording.
    pub(crate) output: Option<PathBuf>,
    /// `--all`: where the recordings go.
    pub(crate) output_dir: PathBuf,
    /// `--all`: `--namespace`, `--workload`.
    pub(crate) workloads: WorkloadFilter,
    pub(crate) duration: Option<Duration>,
    /// The netlink socket's receive buffer, in bytes.
    pub(crate) receive_buffer: usize,
    pub(crate) quiet: bool,
}

/// How long a read of the group waits, which is also how often a single target's processes
/// are read again.
const READ_TIMEOUT: Duration = Duration::from_millis(20);
/// How often `--all` reads every container's processes again (a walk of the whole tree).
const ALL_SCAN: Duration = Duration::from_millis(500);
/// After the stop, how long records of calls made before it may still be on their way.
const SETTLE: Duration = Duration::from_millis(300);

/// What was lost or could not be attributed.
#[derive(Default)]
struct Losses {
    kernel_lost: Option<u32>,
    overruns: u64,
    fork_overruns: u64,
    unreadable: u64,
    unattributed: BTreeMap<String, u64>,
    unknown_arch: u64,
    status_unknown: bool,
}

impl Losses {
    fn any(&self) -> bool {
        self.kernel_lost.is_some_and(|n| n > 0)
            || self.overruns > 0
            || self.fork_overruns > 0
            || self.unreadable > 0
            || !self.unattributed.is_empty()
            || self.unknown_arch > 0
            || self.status_unknown
    }

    fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(n) = self.kernel_lost.filter(|&n| n > 0) {
            lines.push(format!(
                "the kernel dropped {n} audit records while syscage listened (audit status \
                 `lost`: backlog limit or rate limit); some may have been seccomp records"
            ));
        }
        if self.status_unknown {
            lines.push(
                "the kernel's audit `lost` counter could not be read: losses in the kernel \
                 cannot be ruled out"
                    .to_owned(),
            );
        }
        if self.overruns > 0 {
            lines.push(format!(
                "syscage's netlink receive buffer overflowed {} time(s): the kernel dropped \
                 records it could not deliver (a larger --receive-buffer helps)",
                self.overruns
            ));
        }
        if self.fork_overruns > 0 {
            lines.push(format!(
                "fork events were dropped {} time(s): short-lived processes may be unattributed",
                self.fork_overruns
            ));
        }
        if self.unreadable > 0 {
            lines.push(format!(
                "{} seccomp record(s) could not be read",
                self.unreadable
            ));
        }
        if self.unknown_arch > 0 {
            lines.push(format!(
                "{} record(s) of an architecture libseccomp does not know were left out",
                self.unknown_arch
            ));
        }
        for (what, n) in &self.unattributed {
            lines.push(format!(
                "{n} record(s) of {what}: the process was gone before its cgroup was known; \
                 not attributed to any target"
            ));
        }
        lines
    }
}

pub(crate) fn audit(options: &AuditOptions<'_>) -> Result<u8> {
    let mount = cgroup::cgroup2_mount()?;
    let (scope, output) = match &options.target {
        AuditTarget::All => {
            check_output_dir(&options.output_dir)?;
            (
                Scope::AllContainers {
                    filter: options.workloads.clone(),
                },
                None,
            )
        }
        target => {
            let path = options.output.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "audit: --output FILE is required (only --all writes into --output-dir)"
                )
            })?;
            let output = Output::prepare(&path)?;
            let (dir, named_as_container) = find(&mount, target).exit_code(EXIT_NO_TARGET)?;
            let target = observed_target(&mount, &dir, named_as_container);
            (
                Scope::Under {
                    dir,
                    target: Box::new(target),
                },
                Some((path, output)),
            )
        }
    };
    let start_status = audit_status();
    let mut reader = AuditReader::open(options.receive_buffer, READ_TIMEOUT)?;
    let mut forks = match ForkEvents::open() {
        Ok(f) => Some(f),
        Err(e) => {
            log::warn!(
                "{e:#}: processes that exit before their record arrives cannot be attributed"
            );
            None
        }
    };
    let mut attributor = Attributor::new(&mount, scope);
    let single = attributor.single_target();
    let label = single.as_deref().map_or_else(
        || "every container".to_owned(),
        |k| containers::short_id(k).to_owned(),
    );
    // Before saying it listens: what the cgroup looked like when listening began.
    let mut seen_populated = attributor.watched_dir().is_some_and(cgroup::is_populated);
    let stop = stop_on_signals()?;
    let started = SystemTime::now();
    let deadline = options.duration.map(|d| Instant::now() + d);
    if !options.quiet {
        eprintln!("syscage: audit: listening for seccomp log records of {label}");
    }

    let mut tallies: BTreeMap<String, SeccompLogTally> = BTreeMap::new();
    let mut losses = Losses::default();
    let mut live = LiveTable::new(options.quiet);
    let mut last_scan = Instant::now();
    let scan_every = if single.is_some() {
        READ_TIMEOUT
    } else {
        ALL_SCAN
    };
    let mut settle_until: Option<Instant> = None;
    let why = loop {
        take_forks(forks.as_mut(), &mut attributor, &mut losses);
        match reader.receive()? {
            Received::Records(records) => {
                // Forks queued before these records were made: known before attributing.
                take_forks(forks.as_mut(), &mut attributor, &mut losses);
                for (kind, text) in records {
                    if kind == AUDIT_SECCOMP {
                        count(&text, &mut attributor, &mut tallies, &mut losses);
                    }
                }
            }
            Received::Overrun => losses.overruns += 1,
            Received::Nothing => {}
        }
        if last_scan.elapsed() >= scan_every {
            attributor.scan();
            last_scan = Instant::now();
        }
        live.update(|| rows(&tallies));
        if let Some(until) = settle_until {
            if Instant::now() >= until {
                break "the cgroup is empty";
            }
            continue;
        }
        if stop.load(Ordering::Relaxed) {
            break "interrupted";
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break "--duration is up";
        }
        if let Some(dir) = attributor.watched_dir() {
            let populated = dir.exists() && cgroup::is_populated(dir);
            if seen_populated && !populated {
                settle_until = Some(Instant::now() + SETTLE);
            }
            seen_populated |= populated;
        }
    };
    // Records of calls made just before the stop may still be queued in the kernel.
    let drain_until = Instant::now() + SETTLE;
    while Instant::now() < drain_until {
        take_forks(forks.as_mut(), &mut attributor, &mut losses);
        match reader.receive()? {
            Received::Records(records) => {
                for (kind, text) in records {
                    if kind == AUDIT_SECCOMP {
                        count(&text, &mut attributor, &mut tallies, &mut losses);
                    }
                }
            }
            Received::Overrun => losses.overruns += 1,
            Received::Nothing => break,
        }
    }
    live.finish();
    let ended = SystemTime::now();
    log::info!("stopping: {why}");
    match (start_status, audit_status()) {
        (Ok(AuditStatus { lost: before, .. }), Ok(AuditStatus { lost: after, .. })) => {
            losses.kernel_lost = Some(after.wrapping_sub(before));
        }
        (Err(e), _) | (_, Err(e)) => {
            log::warn!("{e:#}");
            losses.status_unknown = true;
        }
    }
    for tally in tallies.values() {
        losses.unknown_arch += tally.unknown_arch().values().sum::<u64>();
    }

    let host = host_info().context("uname")?;
    let arch = native_arch();
    let mut written = Vec::new();
    if let (Some(key), Some((path, output))) = (single, output) {
        let tally = tallies.remove(&key).unwrap_or_default();
        let recording =
            tally.to_recording(arch, started, ended, host, attributor.target(&key).cloned());
        output.write(recording.to_json().as_bytes(), None)?;
        written.push((
            label.clone(),
            tally.records(),
            recording.syscalls.len(),
            path,
        ));
    } else {
        for (key, tally) in &tallies {
            let target = attributor.target(key).cloned();
            let file = format!("{key}.denials.json");
            // Beside `record --all`'s recordings of the same container, so one tree holds both.
            let path = match target.as_ref().and_then(|t| t.kubernetes.as_ref()) {
                Some(identity) => workload_dir(&options.output_dir, identity)
                    .with_context(|| format!("container {key}"))?
                    .join(file),
                None => options.output_dir.join(file),
            };
            let recording = tally.to_recording(arch, started, ended, host.clone(), target);
            Output::prepare(&path)?.write(recording.to_json().as_bytes(), None)?;
            written.push((
                containers::short_id(key).to_owned(),
                tally.records(),
                recording.syscalls.len(),
                path,
            ));
        }
    }
    if !options.quiet {
        for (label, records, syscalls, path) in &written {
            eprintln!(
                "syscage: {label}: {records} seccomp log record(s), {syscalls} distinct syscall(s); wrote {}",
                path.display()
            );
        }
        if written.is_empty() {
            eprintln!("syscage: audit: no seccomp log record of any container until {why}");
        }
    }
    if losses.any() {
        for line in losses.describe() {
            eprintln!("syscage: audit: INCOMPLETE: {line}");
        }
        eprintln!(
            "syscage: audit: the recordings above may miss calls (exit status {EXIT_INCOMPLETE})"
        );
        return Ok(EXIT_INCOMPLETE);
    }
    Ok(0)
}

/// The cgroup a single target names, and whether the user named it as a container.
fn find(mount: &Path, target: &AuditTarget<'_>) -> Result<(PathBuf, bool)> {
    Ok(match *target {
        AuditTarget::Cgroup(path) => (cgroup::resolve_cgroup_arg(mount, path)?, false),
        AuditTarget::Pid(pid) => (
            cgroup::cgroup_of_pid(mount, &pid.to_string())
                .with_context(|| format!("--pid {pid}: no such process"))?,
            false,
        ),
        AuditTarget::Container(id) => (cgroup::find_container(mount, id)?, true),
        AuditTarget::All => unreachable!("--all has no single cgroup"),
    })
}

fn take_forks(forks: Option<&mut ForkEvents>, attributor: &mut Attributor, losses: &mut Losses) {
    if let Some(forks) = forks {
        match forks.drain() {
            Forks::Seen(seen) => {
                for (parent, child) in seen {
                    attributor.forked(parent, child);
                }
            }
            Forks::Overrun => losses.fork_overruns += 1,
        }
    }
}

/// Reads, attributes and counts one record.
fn count(
    text: &str,
    attributor: &mut Attributor,
    tallies: &mut BTreeMap<String, SeccompLogTally>,
    losses: &mut Losses,
) {
    let record = match SeccompLogRecord::parse(text) {
        Ok(r) => r,
        Err(e) => {
            log::warn!("{e}");
            losses.unreadable += 1;
            return;
        }
    };
    match attributor.attribute(record.pid) {
        Attribution::Target(key) => tallies.entry(key).or_default().add(&record),
        Attribution::Elsewhere => {}
        Attribution::Unknown => {
            let name = record
                .arch()
                .and_then(|a| profile_gen::syscall_name(a, record.syscall))
                .unwrap_or_else(|| format!("syscall {}", record.syscall));
            let what = format!("{name} by {:?} (pid {})", record.comm, record.pid);
            *losses.unattributed.entry(what).or_default() += 1;
        }
    }
}

fn rows(tallies: &BTreeMap<String, SeccompLogTally>) -> Vec<super::live::Row> {
    tallies
        .iter()
        .flat_map(|(key, tally)| {
            tally
                .rows()
                .into_iter()
                .map(move |(name, _, actions, n, last)| {
                    (containers::short_id(key).to_owned(), name, actions, n, last)
                })
        })
        .collect()
}
