//! The recorder's per-CPU cache of "which cgroup is the task on this CPU in" (see
//! `tracer-ebpf/src/main.rs`, CGROUP_CACHE) must never hide a syscall: a task that keeps
//! entering syscalls on a CPU, so that its cgroup sits in the cache, and is then moved into the
//! watched cgroup by another process is recorded from its next syscall on.

mod common;

use std::{fs, io::BufReader, time::Duration};

use common::{
    bpf_ids, default_recording_path, describe, fault_prober, read_json, read_line, recording_names,
    spawn, syscage, temp_dir, wait, wait_for, TopCgroup,
};

/// The recorder's links: sched_process_exec, sched_process_fork, cgroup_attach_task and
/// sys_enter, attached in that order.
const RECORDER_LINKS: usize = 4;

/// A prober spins on getppid in cgroup A while syscage records cgroup B (kept alive by a
/// holder); the test moves the prober into B (the write returns once the kernel has moved it),
/// then creates the file that tells the prober to make `getpriority` from its one, still
/// spinning thread. The recording of B must hold getpriority: a stale cache entry, one not
/// voided by the move, would keep answering "cgroup A" for that thread and lose the call.
///
/// First, the same holder recorded alone makes neither getppid nor getpriority, so their
/// presence below is the prober's. (One test, not two: a test running alongside would fork, and
/// every fork voids the cache anyway, which would hide the very bug this looks for.)
#[test]
fn a_busy_task_moved_into_the_watched_cgroup_is_recorded_from_its_next_syscall() {
    let dir = temp_dir();
    let (outcome, profile) =
        common::record(dir.path(), "holder", &[fault_prober(), "hold", "getcpu"]);
    outcome.assert_code(0);
    let names = recording_names(&read_json(&default_recording_path(&profile)));
    assert!(
        names.contains("getcpu") && !names.contains("getpriority") && !names.contains("getppid"),
        "the holder alone: {names:?}\n{outcome}"
    );

    let home = TopCgroup::create("cache-home");
    let watched = TopCgroup::create("cache-watched");
    let mut holder = watched.spawn(fault_prober(), &["hold", "getcpu"]);
    let mut holder_out = BufReader::new(holder.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut holder_out, "the holder"), "made getcpu");

    let flag = dir.path().join("go");
    let flag_arg = flag.to_str().expect("UTF-8 temp path");
    let mut prober = home.spawn(fault_prober(), &["busy", "getpriority", flag_arg]);
    let mut prober_out = BufReader::new(prober.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut prober_out, "the prober"), "busy");

    let profile = dir.path().join("moved.json");
    let mut cmd = syscage(["record", "-v", "--cgroup", &watched.name, "--output"]);
    cmd.arg(&profile);
    let child = spawn(&mut cmd);
    let pid = child.id();
    wait_for(
        Duration::from_secs(20),
        "syscage to attach all its programs",
        || {
            let links = bpf_ids(pid)
                .iter()
                .filter(|(kind, _)| *kind == "link")
                .count();
            (links >= RECORDER_LINKS).then_some(())
        },
    );
    // The prober has been spinning all along, in a cgroup syscage does not watch.
    std::thread::sleep(Duration::from_millis(200));

    fs::write(watched.dir.join("cgroup.procs"), prober.id().to_string())
        .expect("moving the prober into the watched cgroup");
    fs::write(&flag, "").expect("creating the flag file");
    assert_eq!(read_line(&mut prober_out, "the prober"), "made getpriority");
    assert!(prober.wait().expect("waiting for the prober").success());
    // Stop the recording the way a user does.
    // SAFETY: kill(2) of our own child, not reaped yet.
    assert_eq!(
        unsafe { libc::kill(i32::try_from(pid).expect("pid"), libc::SIGINT) },
        0
    );
    let outcome = wait(child, describe(&cmd), Duration::from_secs(30));
    drop(holder.stdin.take());
    let _ = holder.wait();
    outcome.assert_code(0);
    let names = recording_names(&read_json(&default_recording_path(&profile)));
    assert!(
        names.contains("getpriority"),
        "the moved task's getpriority is not in the watched cgroup's recording {names:?}\n\
         {outcome}"
    );
    assert!(
        names.contains("getppid"),
        "the moved task's spinning after the move is not recorded {names:?}\n{outcome}"
    );
}
