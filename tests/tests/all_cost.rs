//! `record --all` keeps each cgroup's decision (its slot, or that it is not recorded) in a
//! per-CPU cache so that a task making syscalls in a row looks its cgroup up once. These tests
//! check that the decision follows the task: a task that moves between a recorded, a filtered-out
//! and another recorded cgroup has each of its syscalls attributed to the cgroup it made them in.
//! (What the cache saves is measured by `cargo xtask bench`, not asserted here.)

mod common;

use std::{fs, process::Command};

use common::{recording_names, temp_dir, RecordAll, TopCgroup};

/// One shell moves itself from container A to a cgroup `--all` does not record (named like a
/// systemd unit) to container C, making one distinctive syscall in each (dash builtins, so the
/// same task, with no fork or exec in between): `umask` in A, `getrlimit`/`prlimit64` (`ulimit
/// -n`) in the filtered-out cgroup, `kill` (`kill -0 $$`) in C.
#[test]
fn record_all_attributes_a_moving_task_to_each_cgroup_in_turn_and_none_to_the_filtered_out() {
    let work = temp_dir();
    let a = TopCgroup::create("allcost-a");
    let filtered_out = TopCgroup::create("allcost-b.slice");
    let c = TopCgroup::create("allcost-c");
    let recorder = RecordAll::start(work.path(), &[]);

    let script = r#"echo $$ > "$1/cgroup.procs"; umask 077
echo $$ > "$2/cgroup.procs"; ulimit -n > /dev/null
echo $$ > "$3/cgroup.procs"; kill -0 $$"#;
    let status = Command::new("/bin/sh")
        .args(["-c", script, "sh"])
        .args([&a.dir, &filtered_out.dir, &c.dir])
        .status()
        .expect("running /bin/sh");
    assert!(status.success(), "the moving shell failed: {status}");

    // A container's profile is written once its cgroup is gone (the shell passed through
    // faster than syscage polls, so it never saw them populated).
    let names = [a.name.clone(), filtered_out.name.clone(), c.name.clone()];
    for cgroup in [a, filtered_out, c] {
        cgroup.remove();
    }
    let (_, _, in_a) = recorder.wait_for_container(&names[0]);
    let (_, _, in_c) = recorder.wait_for_container(&names[2]);
    let summary = recorder.log_summary();
    let output_dir = recorder.output_dir.clone();
    let (code, _) = recorder.stop();
    assert_eq!(code, 0, "syscage record --all failed\n{summary}");

    let in_a = recording_names(&in_a);
    let in_c = recording_names(&in_c);
    let limits = ["getrlimit", "prlimit64"];
    assert!(
        in_a.contains("umask"),
        "A's recording lacks umask: {in_a:?}"
    );
    assert!(
        limits.iter().all(|n| !in_a.contains(*n)) && !in_a.contains("kill"),
        "A's recording has syscalls made after the task left it: {in_a:?}"
    );
    assert!(in_c.contains("kill"), "C's recording lacks kill: {in_c:?}");
    assert!(
        limits.iter().all(|n| !in_c.contains(*n)) && !in_c.contains("umask"),
        "C's recording has syscalls made before the task entered it: {in_c:?}"
    );
    let outputs: Vec<String> = fs::read_dir(&output_dir)
        .expect("listing the output directory")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        outputs.iter().all(|f| !f.contains(&names[1])),
        "the filtered-out cgroup got outputs: {outputs:?}"
    );
}
