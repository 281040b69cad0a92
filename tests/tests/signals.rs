//! Signals sent to `syscage record` reach the command, and the outputs are still written: what
//! an orchestrator stopping a recorded service (SIGTERM) or a user pressing Ctrl-C relies on.

mod common;

use std::{
    io::{BufRead as _, BufReader},
    thread,
    time::Duration,
};

use common::{
    default_recording_path, exerciser, leaves_of, read_json, recording_names, spawn, syscage,
    temp_dir,
};
use serde_json::json;

/// Starts `syscage record -- exerciser sleep 30`, waits until the sleep has begun, sends
/// `signal` to syscage (as `kill` would), and checks syscage ends like the command did, soon,
/// with both outputs written.
fn signal_ends_the_recording(signal: i32, name: &str) {
    let dir = temp_dir();
    let profile = dir.path().join(format!("{name}.json"));
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(&profile).args(["--", exerciser(), "sleep", "30"]);
    let mut child = spawn(&mut cmd);
    let pid = child.id();

    // The exerciser says `sleeping` right before it sleeps; syscage passes its stdout through.
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("reading the command's output");
    assert_eq!(line, "sleeping\n", "the command did not start sleeping");
    assert!(
        !leaves_of(pid).is_empty(),
        "the command runs but syscage has no leaf cgroup"
    );
    // Let the sleep syscall itself happen before the signal arrives.
    thread::sleep(Duration::from_millis(300));

    // SAFETY: plain kill(2) to our own child, which has not been reaped.
    let sent = unsafe { libc::kill(pid as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
    child.stdout = Some(stdout.into_inner());
    let outcome = common::wait(child, common::describe(&cmd), Duration::from_secs(10));

    outcome.assert_code(128 + signal);
    assert!(
        !outcome.stdout.contains("slept"),
        "the command finished its sleep\n{outcome}"
    );
    let recording = read_json(&default_recording_path(&profile));
    assert_eq!(recording["exit"], json!({"signal": signal}), "{outcome}");
    let recorded = recording_names(&recording);
    assert!(
        recorded.contains("clock_nanosleep") || recorded.contains("nanosleep"),
        "the sleep was not recorded: {recorded:?}\n{outcome}"
    );
    common::assert_profile_allows_recorded(&read_json(&profile), &recorded, &outcome);
    assert!(
        leaves_of(pid).is_empty(),
        "syscage left cgroups behind: {:?}",
        leaves_of(pid)
    );
}

#[test]
fn sigterm_is_relayed_and_outputs_are_written() {
    signal_ends_the_recording(libc::SIGTERM, "term");
}

#[test]
fn sigint_is_relayed_and_outputs_are_written() {
    signal_ends_the_recording(libc::SIGINT, "int");
}
