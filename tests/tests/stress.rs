//! Completeness and scale: the recording holds every syscall a busy multi-process,
//! multi-threaded workload made while the machine is saturated; `record --all` gives each of
//! a thousand short-lived cgroups its own profile with bounded memory, reclaims the map entries
//! of removed cgroups, and says loudly when its maps are full.
//!
//! The cgroups here are made directly under the cgroup2 mount (`/syscage-e2e-<pid>-<n>-<tag>`),
//! the way runc makes a container's; a shell moves itself in and execs the fault prober, which
//! makes one of [`DISTINCTIVE`] syscalls and lingers 50 ms, about as long as `runc run` of a
//! short command keeps its cgroup (see [`LINGER_MS`] for why not shorter). syscage names a
//! cgroup from inotify's report of its creation; these exist well before anything runs in them
//! and for 50 ms after, so one syscage cannot name or record is syscage's miss, not the README's
//! "created, used and removed before inotify reports it" limitation.

mod common;

use std::{collections::BTreeSet, fs, sync::Mutex, thread, time::Duration};

use common::{
    assert_profile_covers_recording, default_recording_path, fault_prober, read_json, record,
    recording_names, status_kb, stress_prober, temp_dir, wait_for, RecordAll, TopCgroup,
    UnwatchedLoad, DISTINCTIVE,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Stress: 64 threads in 16 processes under unwatched load, five times.

const PROCESSES: &str = "16";
const THREADS_PER_PROCESS: &str = "4";
/// How long each worker runs its syscall mix, per repetition.
const MILLIS: &str = "800";
const REPETITIONS: usize = 5;

/// Every repetition records `stress-prober run 16 4 800` (64 worker threads in 16 processes,
/// each with its own pair of rare syscalls in a tight loop, 16 of them also making one rare
/// syscall exactly once) while `dd bs=1` and a busy loop per CPU keep the machine saturated
/// outside the recording. The recording must hold every name the prober logged, every time.
/// A recording of the same processes and threads without the rare calls holds none of them,
/// so a name in the recording was made by the workers.
#[test]
fn every_rare_syscall_of_64_threads_in_16_processes_is_recorded_under_load_every_time() {
    let dir = temp_dir();
    let pool: BTreeSet<String> =
        common::run(std::process::Command::new(stress_prober()).arg("list"))
            .assert_code(0)
            .stdout
            .lines()
            .map(str::to_owned)
            .collect();
    assert_eq!(
        pool.len(),
        32,
        "the prober's pool of rare syscalls: {pool:?}"
    );

    let (outcome, profile) = record(
        dir.path(),
        "quiet",
        &[stress_prober(), "quiet", PROCESSES, THREADS_PER_PROCESS],
    );
    outcome.assert_code(0);
    let baseline = recording_names(&read_json(&default_recording_path(&profile)));
    let not_rare: Vec<_> = pool.intersection(&baseline).collect();
    assert!(
        not_rare.is_empty(),
        "the prober's processes and threads make {not_rare:?} without being asked: a recording \
         that holds them proves nothing\n{outcome}"
    );

    let load = UnwatchedLoad::start();
    let mut failures = Vec::new();
    for rep in 0..REPETITIONS {
        load.assert_running();
        let name = format!("stress{rep}");
        let (outcome, profile) = record(
            dir.path(),
            &name,
            &[
                stress_prober(),
                "run",
                PROCESSES,
                THREADS_PER_PROCESS,
                MILLIS,
            ],
        );
        outcome.assert_code(0);
        assert!(
            outcome.stderr.contains("64 workers in 16 processes"),
            "the prober did not run all its workers\n{outcome}"
        );
        let logged: BTreeSet<String> = outcome.stdout.lines().map(str::to_owned).collect();
        assert_eq!(
            logged, pool,
            "the workers did not make every syscall of the pool\n{outcome}"
        );
        let recording = read_json(&default_recording_path(&profile));
        let recorded = recording_names(&recording);
        let missing: Vec<_> = logged.difference(&recorded).cloned().collect();
        if !missing.is_empty() {
            failures.push(format!(
                "repetition {rep}: made but not recorded: {missing:?}"
            ));
        }
        assert_profile_covers_recording(&read_json(&profile), &recording, &name);
    }
    load.assert_running();
    eprintln!(
        "FIGURES stress: {REPETITIONS} repetitions of 64 threads in 16 processes for {MILLIS} ms \
         each, beside {} unwatched load processes",
        load.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {REPETITIONS} recordings lost syscalls:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Many cgroups with `record --all`.

/// How long the process in a short-lived cgroup lingers after its syscall, in ms: `runc run` of
/// a short command keeps its cgroup about this long. Cgroups of a few ms (a fork and two execs,
/// no linger) are sometimes never named by syscage's inotify thread when several are created
/// at once on a machine with few CPUs, which syscage reports as "disappeared before it could be
/// named" (the README's limitation, which it puts at "well under a millisecond").
const LINGER_MS: &str = "50";

/// One short-lived cgroup: created, a process makes `syscall` in it, lingers [`LINGER_MS`] and
/// exits, removed.
#[track_caller]
fn short_lived_cgroup(tag: &str, syscall: &str) -> (String, u64) {
    let cgroup = TopCgroup::create(tag);
    let child = cgroup.spawn(fault_prober(), &["call", syscall, LINGER_MS]);
    let output = child.wait_with_output().expect("waiting for the prober");
    assert!(
        output.status.success() && output.stdout == format!("made {syscall}\n").as_bytes(),
        "the prober in {} failed: {} {:?}",
        cgroup.name,
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    // syscage's messages name a cgroup by id: the name carries it for the test's messages.
    let name = cgroup.name.clone();
    let id = cgroup.id;
    cgroup.remove();
    (name, id)
}

/// A short-lived cgroup that was: name, the syscall made in it, its id.
type Cgroup = (String, &'static str, u64);

/// Runs `count` short-lived cgroups, `parallel` at a time; cgroup `i` makes
/// `DISTINCTIVE[i % 8]`. Returns (cgroup name, its syscall, its id).
fn short_lived_cgroups(first: usize, count: usize, parallel: usize) -> Vec<Cgroup> {
    let done = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for worker in 0..parallel {
            let done = &done;
            scope.spawn(move || {
                for i in (first + worker..first + count).step_by(parallel) {
                    let syscall = DISTINCTIVE[i % DISTINCTIVE.len()];
                    let (name, id) = short_lived_cgroup(&format!("c{i}"), syscall);
                    done.lock().expect("lock").push((name, syscall, id));
                }
            });
        }
    });
    done.into_inner().expect("lock")
}

/// What syscage wrote for a short-lived cgroup: its own syscall, the exec into the prober, none
/// of the other cgroups' syscalls, a target naming it; a profile covering the recording.
#[track_caller]
fn check_cgroup_outputs(
    name: &str,
    own: &str,
    profile: &Value,
    recording: &Value,
) -> Option<String> {
    let names = recording_names(recording);
    let others: Vec<_> = DISTINCTIVE
        .iter()
        .filter(|s| **s != own && names.contains(**s))
        .collect();
    let target = &recording["target"];
    let problem = if !names.contains(own) {
        format!("{own} (its own syscall) is not recorded")
    } else if !names.contains("execve") {
        "the exec into the prober is not recorded".to_owned()
    } else if !others.is_empty() {
        format!("recorded {others:?}, which only other cgroups made")
    } else if target["cgroup"] != format!("/{name}") || target["container_id"] != name {
        format!("the target does not name the cgroup: {target}")
    } else {
        let allowed = common::allowed_names(profile);
        let lost: Vec<_> = names.difference(&allowed).collect();
        if lost.is_empty() {
            return None;
        }
        format!("the profile lost {lost:?}")
    };
    Some(format!("{name}: {problem}; recorded {names:?}"))
}

/// syscage's warnings and errors, except the expected one about containers that load no filter.
fn complaints(log: &str) -> String {
    log.lines()
        .filter(|l| {
            (l.contains("warning") || l.contains("error")) && !l.contains("no seccomp filter load")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks what syscage wrote for `cgroups` (see [`check_cgroup_outputs`]); returns one line per
/// cgroup without a profile or with a wrong one.
fn check_all(recorder: &RecordAll, cgroups: &[Cgroup]) -> Vec<String> {
    let (found, missing) = recorder.outputs_of_all(
        cgroups.iter().map(|(name, _, _)| name.as_str()),
        Duration::from_secs(5),
    );
    let of = |name: &str| {
        cgroups
            .iter()
            .find(|(n, _, _)| n == name)
            .expect("a cgroup of the list")
    };
    let mut problems: Vec<String> = missing
        .iter()
        .map(|name| format!("{name} (id {}): no profile", of(name).2))
        .collect();
    for (name, profile, recording) in found {
        let (_, own, id) = of(name);
        problems.extend(
            check_cgroup_outputs(name, own, &profile, &recording).map(|p| format!("(id {id}) {p}")),
        );
    }
    problems
}

#[track_caller]
fn assert_no_problems(problems: &[String], of: usize, log: &str) {
    if problems.is_empty() {
        return;
    }
    // What syscage said about the first three, by name or id (its -v log names cgroups by id).
    let about: Vec<&str> = problems
        .iter()
        .take(3)
        .flat_map(|p| {
            let name = p.split_whitespace().next().unwrap_or_default().to_owned();
            let id = p
                .split_once("(id ")
                .and_then(|(_, rest)| rest.split_once(')'))
                .map_or(String::new(), |(id, _)| id.to_owned());
            log.lines().filter(move |l| {
                (!name.is_empty() && l.contains(&name))
                    || (!id.is_empty() && l.contains(&format!("cgroup {id} ")))
                    || (!id.is_empty() && l.contains(&format!("cgroup id {id} ")))
            })
        })
        .collect();
    panic!(
        "{} of {of} cgroups have no profile or a wrong one; the first ones:\n{}\n--- syscage's \
         warnings and errors ---\n{}\n--- what syscage said about the first three ---\n{}",
        problems.len(),
        problems
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        complaints(log),
        about.join("\n")
    );
}

/// `record --all` while 1,000 cgroups are created, used and removed, eight at a time: each gets
/// `<name>.json` with its own syscall (and the exec into the prober: its recording is complete
/// from the start) and none of the others', nothing is reported unattributed or left out, and
/// syscage's resident memory after the 1,000 stays within 8 MB of what it was after the first
/// 100 (a leak of a few kB per removed cgroup breaks that), and its resident and peak memory
/// within 30 MB of the start.
#[test]
fn record_all_gives_each_of_1000_short_lived_cgroups_its_own_profile_in_bounded_memory() {
    let work = temp_dir();
    let recorder = RecordAll::start(work.path(), &[]);
    let rss_start = status_kb(recorder.pid, "VmRSS");
    let hwm_start = status_kb(recorder.pid, "VmHWM");

    let mut cgroups = short_lived_cgroups(0, 100, 8);
    let mut problems = check_all(&recorder, &cgroups);
    let rss_warm = status_kb(recorder.pid, "VmRSS");
    let more = short_lived_cgroups(100, 900, 8);
    problems.extend(check_all(&recorder, &more));
    cgroups.extend(more);
    assert_eq!(cgroups.len(), 1000);
    let rss_end = status_kb(recorder.pid, "VmRSS");
    let hwm_end = status_kb(recorder.pid, "VmHWM");
    let summary = recorder.log_summary();
    let (code, log) = recorder.stop();
    assert_eq!(code, 0, "syscage record --all failed\n{summary}");
    eprintln!(
        "FIGURES record --all, 1000 short-lived cgroups: VmRSS {rss_start} kB at the start, \
         {rss_warm} kB after 100 cgroups, {rss_end} kB after 1000; VmHWM {hwm_start} kB at the \
         start, {hwm_end} kB after 1000"
    );
    assert_no_problems(&problems, 1000, &log);
    assert!(
        full_map_reports(&log).is_empty() && !log.contains("disappeared before it could be named"),
        "syscage lost cgroups\n{}",
        complaints(&log)
    );
    assert!(
        rss_end < rss_warm + 8 * 1024,
        "syscage's memory grew from {rss_warm} kB (after 100 cgroups) to {rss_end} kB (after \
         1000): it keeps something per removed cgroup"
    );
    assert!(
        rss_end < rss_start + 30 * 1024 && hwm_end < hwm_start + 30 * 1024,
        "syscage's memory grew from {rss_start} kB to {rss_end} kB (peak from {hwm_start} kB to \
         {hwm_end} kB) over 1000 cgroups"
    );
}

/// With room for 64 cgroups, 200 short-lived cgroups in batches of 20 (four at a time, each
/// batch written before the next starts) all get their profiles: the entries of removed cgroups
/// are reclaimed, or the map would be full after 64 and syscage would say so.
#[test]
fn record_all_reclaims_the_map_entries_of_removed_cgroups() {
    let work = temp_dir();
    let recorder = RecordAll::start(work.path(), &["--max-cgroups", "64"]);
    let mut problems = Vec::new();
    for batch in 0..10 {
        let cgroups = short_lived_cgroups(batch * 20, 20, 4);
        problems.extend(check_all(&recorder, &cgroups));
    }
    let summary = recorder.log_summary();
    let (code, log) = recorder.stop();
    assert_eq!(code, 0, "syscage record --all failed\n{summary}");
    assert!(
        full_map_reports(&log).is_empty(),
        "200 cgroups, at most 20 alive or unwritten at once, filled a map of 64: the entries of \
         removed cgroups are not reclaimed\n{}",
        complaints(&log)
    );
    assert_no_problems(&problems, 200, &log);
}

// ---------------------------------------------------------------------------------------------
// A full map.

/// Cgroup directories under the cgroup2 mount right now (the root included).
fn cgroup_count() -> usize {
    fn count(dir: &std::path::Path) -> usize {
        1 + fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| count(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    }
    count(&common::cgroup2_mount())
}

/// syscage's reports of a full map: errors that point at --max-cgroups.
fn full_map_reports(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.starts_with("syscage: error:") && l.contains("--max-cgroups"))
        .collect()
}

/// Numbers of cgroups a report claims ("N cgroup(s)", "N cgroups"), if it claims any.
fn claimed_cgroup_counts(report: &str) -> Vec<u64> {
    let words: Vec<&str> = report.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[1].starts_with("cgroup") && !w[1].starts_with("cgroups'"))
        .filter_map(|w| w[0].parse().ok())
        .collect()
}

/// `record --all` holds every existing cgroup in its map (marked ignored) plus each new one.
/// With room for 4 new ones and 10 cgroups alive at once, each having made syscalls, syscage
/// must report the full map as an error pointing at --max-cgroups, every one of the test's
/// cgroups that got no profile (or one without its exec) must be named in its warnings or
/// errors, and a number of cgroups it reports must not exceed the cgroups there are.
#[test]
fn a_full_map_is_reported_loudly_naming_what_was_left_out() {
    let work = temp_dir();
    let existing = cgroup_count();
    let max = (existing + 4).to_string();
    let recorder = RecordAll::start(work.path(), &["--max-cgroups", &max]);
    thread::sleep(Duration::from_millis(300));
    assert!(
        full_map_reports(&recorder.log_text()).is_empty(),
        "the map was full before the test's cgroups existed (did cgroups appear meanwhile?)\n{}",
        recorder.log_summary()
    );

    let cgroups: Vec<TopCgroup> = (0..10)
        .map(|i| TopCgroup::create(&format!("full{i}")))
        .collect();
    let mut children: Vec<_> = cgroups
        .iter()
        .map(|cgroup| {
            let mut child = cgroup.spawn(fault_prober(), &["hold", "uname"]);
            let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
            assert_eq!(common::read_line(&mut stdout, "the prober"), "made uname");
            child.stdout = Some(stdout.into_inner());
            child
        })
        .collect();
    wait_for(
        Duration::from_secs(10),
        "syscage to report that its map is full",
        || (!full_map_reports(&recorder.log_text()).is_empty()).then_some(()),
    );
    let cgroups_now = cgroup_count();
    for child in &mut children {
        drop(child.stdin.take());
        assert!(child.wait().expect("waiting for the prober").success());
    }
    let names: Vec<String> = cgroups.iter().map(|c| c.name.clone()).collect();
    for cgroup in cgroups {
        cgroup.remove();
    }
    thread::sleep(Duration::from_millis(500));
    let (code, log) = recorder.stop();
    // Containers were left out: the run says so in its status too.
    assert_eq!(code, 125, "{}", complaints(&log));

    let reports = full_map_reports(&log);
    let bound = (cgroups_now.max(existing) + 10) as u64;
    for report in &reports {
        for claimed in claimed_cgroup_counts(report) {
            assert!(
                claimed <= bound,
                "syscage reports {claimed} cgroups, but at most {bound} cgroups existed \
                 ({existing} before the test, 10 of its own, {cgroups_now} at the report): it \
                 counts something else\n{report}"
            );
        }
    }
    let said = complaints(&log);
    let mut silent = Vec::new();
    let mut left_out = 0;
    for name in &names {
        let profile = work.path().join("profiles").join(format!("{name}.json"));
        let complete = profile.exists()
            && recording_names(&read_json(&default_recording_path(&profile))).contains("execve");
        if !complete {
            left_out += 1;
            if !said.contains(name.as_str()) {
                silent.push(name.as_str());
            }
        }
    }
    assert!(
        left_out >= 6,
        "only {left_out} of 10 cgroups were left out of a map with room for 4: the test proves \
         nothing\n{said}"
    );
    assert!(
        silent.is_empty(),
        "{} of the {left_out} cgroups left out (no profile, or one without their exec) are not \
         named in syscage's warnings or errors: {silent:?}\n--- syscage's warnings and errors \
         ---\n{said}",
        silent.len()
    );
}

/// With room for exactly one new cgroup: A takes it, B execs and makes `getcpu` while the map
/// is full. Then A ends (its entry is freed) and B makes `sysinfo` and ends. If syscage writes a
/// profile for B at all, it must hold B's exec and `getcpu`: a profile missing what the workload
/// did breaks it in production, whatever was printed at the time.
#[test]
fn a_cgroup_the_full_map_kept_out_gets_no_incomplete_profile() {
    let work = temp_dir();
    let existing = cgroup_count();
    let max = (existing + 1).to_string();
    let recorder = RecordAll::start(work.path(), &["--max-cgroups", &max]);

    let hold = |cgroup: &TopCgroup, args: &[&str]| {
        let mut child = cgroup.spawn(fault_prober(), args);
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let line = common::read_line(&mut stdout, "the prober");
        assert_eq!(line, format!("made {}", args[1]));
        child
    };
    let a = TopCgroup::create("full-a");
    let mut a_child = hold(&a, &["hold", "uname"]);
    wait_for(Duration::from_secs(10), "syscage to record A", || {
        recorder
            .log_text()
            .contains(&format!("recording container {}", a.name))
            .then_some(())
    });
    let b = TopCgroup::create("full-b");
    let mut b_child = hold(&b, &["hold", "getcpu", "sysinfo"]);
    wait_for(
        Duration::from_secs(10),
        "syscage to report that B could not be watched",
        || (!full_map_reports(&recorder.log_text()).is_empty()).then_some(()),
    );

    drop(a_child.stdin.take());
    assert!(a_child.wait().expect("waiting for A").success());
    let a_name = a.name.clone();
    a.remove();
    recorder.outputs_of(&a_name, Duration::from_secs(15));
    // A's entry is free now: B's next syscalls can take it.
    drop(b_child.stdin.take());
    assert!(b_child.wait().expect("waiting for B").success());
    let b_name = b.name.clone();
    b.remove();
    thread::sleep(Duration::from_millis(500));
    let (code, log) = recorder.stop();
    // B was left out: the run says so in its status too.
    assert_eq!(code, 125, "{log}");

    let profile_path = work.path().join("profiles").join(format!("{b_name}.json"));
    if profile_path.exists() {
        let recording = read_json(&default_recording_path(&profile_path));
        let names = recording_names(&recording);
        assert!(
            names.contains("getcpu") && names.contains("execve"),
            "syscage wrote {} for B, which the full map kept out while it exec'd and made getcpu: \
             it records only {names:?}. A profile missing what the workload did breaks it once \
             shipped; a cgroup not recorded from its start must get no profile (as syscage's \
             own report may claim) or a complete one.\n--- syscage's warnings and errors ---\n{}",
            profile_path.display(),
            complaints(&log)
        );
    }
}
