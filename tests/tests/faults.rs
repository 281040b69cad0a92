//! Faults: a workload that crashes, is killed, leaves a daemon behind or ends at once
//! still gets a complete profile; syscage stopped by SIGTERM/SIGINT while recording an existing
//! cgroup writes its profile and leaves no eBPF program behind; a SIGKILLed syscage leaves the
//! workload running, and the next run removes its leftover cgroup once it is empty; a cgroup
//! removed while it is recorded ends the recording with a profile.

mod common;

use std::{fs, io::BufReader, thread, time::Duration};

use common::{
    bpf_ids, checked_outputs, describe, exerciser, fault_prober, is_running, kill_and_wait_gone,
    leaves_of, read_line, record, recording_names, recording_syscalls, spawn, syscage, temp_dir,
    wait, wait_for, TopCgroup,
};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// The workload ends badly.

/// A workload that dies of SIGSEGV (a write through a null pointer, not a kill(2)): exit status
/// 139, the recording says signal 11, and holds what the workload made before.
#[test]
fn a_crashing_workload_gets_its_profile_and_exit_status_139() {
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "segv", &[fault_prober(), "segv", "getcpu"]);
    outcome.assert_code(128 + libc::SIGSEGV);
    assert!(outcome.stdout.contains("made getcpu"), "{outcome}");
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert_eq!(
        recording["exit"],
        json!({"signal": libc::SIGSEGV}),
        "{outcome}"
    );
    let names = recording_names(&recording);
    for name in ["execve", "getcpu"] {
        assert!(
            names.contains(name),
            "{name} not recorded: {names:?}\n{outcome}"
        );
    }
}

/// A workload SIGKILLed from outside (as the OOM killer or `kill -9` would): exit status 137, the
/// profile written with what it made before, its cgroup removed.
#[test]
fn a_workload_killed_with_sigkill_gets_its_profile_and_exit_status_137() {
    let dir = temp_dir();
    let profile = dir.path().join("killed.json");
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(&profile)
        .args(["--", fault_prober(), "call", "sysinfo", "60000"]);
    let mut child = spawn(&mut cmd);
    let syscage_pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut stdout, "the workload"), "made sysinfo");
    let leaf = leaves_of(syscage_pid)
        .pop()
        .expect("syscage's leaf cgroup while the workload runs");
    let workload: i32 = fs::read_to_string(leaf.join("cgroup.procs"))
        .expect("reading the leaf's members")
        .trim()
        .parse()
        .expect("one pid in the leaf");
    // SAFETY: plain kill(2) of the workload.
    assert_eq!(unsafe { libc::kill(workload, libc::SIGKILL) }, 0);
    child.stdout = Some(stdout.into_inner());
    let outcome = wait(child, describe(&cmd), Duration::from_secs(30));
    outcome.assert_code(128 + libc::SIGKILL);
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert_eq!(
        recording["exit"],
        json!({"signal": libc::SIGKILL}),
        "{outcome}"
    );
    assert!(
        recording_names(&recording).contains("sysinfo"),
        "what the workload made before the kill is lost\n{outcome}"
    );
    assert!(
        !leaf.exists(),
        "{} is left behind\n{outcome}",
        leaf.display()
    );
}

/// Commands that end within microseconds of their exec: the recording still starts with the
/// execve and holds the exit_group.
#[test]
fn a_command_that_exits_at_once_is_recorded_from_execve_to_exit_group() {
    let dir = temp_dir();
    for (name, command) in [
        ("true", &["/bin/true"][..]),
        ("busybox-true", &["/usr/bin/busybox", "true"][..]),
    ] {
        let (outcome, profile) = record(dir.path(), name, command);
        outcome.assert_code(0);
        let (_, recording) = checked_outputs(&profile, &outcome);
        let syscalls = recording_syscalls(&recording);
        assert_eq!(
            syscalls.first().map(|s| &s["name"]),
            Some(&json!("execve")),
            "{name}: the first syscall recorded is not the execve\n{outcome}"
        );
        assert!(
            recording_names(&recording).contains("exit_group"),
            "{name}: exit_group not recorded\n{outcome}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// syscage is stopped or killed.

/// Whether the kernel still has the BPF program or link with this id (bpf(2)
/// BPF_PROG_GET_FD_BY_ID = 13, BPF_LINK_GET_FD_BY_ID = 30).
fn bpf_object_exists(kind: &str, id: u32) -> bool {
    let cmd: libc::c_long = if kind == "link" { 30 } else { 13 };
    // union bpf_attr: the id first, then next_id and open_flags; the rest zero.
    let mut attr = [0u32; 16];
    attr[0] = id;
    // SAFETY: bpf(2) reads `size` bytes of attr, which is that large.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    if fd >= 0 {
        // SAFETY: the fd was just returned to us.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT)
}

/// `syscage record --cgroup` of a cgroup whose process makes `uname` every 10 ms, stopped with
/// `signal`: exit 0, the profile holds uname, the workload (not syscage's to end) still runs in
/// its cgroup, and the BPF programs and links syscage held are gone from the kernel. A following
/// `record` works and sees only its own command.
fn stopping_syscage_mid_recording(signal: i32) {
    let dir = temp_dir();
    let cgroup = TopCgroup::create("stopped");
    let mut workload = cgroup.spawn(fault_prober(), &["spin", "uname"]);
    let mut out = BufReader::new(workload.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut out, "the workload"), "spinning");
    let workload_pid = i32::try_from(workload.id()).expect("pid");

    let profile = dir.path().join("stopped.json");
    let mut cmd = syscage(["record", "-v", "--cgroup", &cgroup.name, "--output"]);
    cmd.arg(&profile);
    let child = spawn(&mut cmd);
    let pid = child.id();
    let ids = wait_for(
        Duration::from_secs(20),
        "syscage to hold its attached BPF links",
        || {
            let ids = bpf_ids(pid);
            ids.iter().any(|(kind, _)| *kind == "link").then_some(ids)
        },
    );
    assert!(
        ids.iter().all(|(kind, id)| bpf_object_exists(kind, *id)),
        "the kernel does not know syscage's BPF objects {ids:?} while it runs"
    );
    // Ten of the workload's uname calls happen while syscage records.
    thread::sleep(Duration::from_millis(100));
    // SAFETY: plain kill(2) to our own child, not reaped yet.
    assert_eq!(
        unsafe { libc::kill(i32::try_from(pid).expect("pid"), signal) },
        0
    );
    let outcome = wait(child, describe(&cmd), Duration::from_secs(30));
    outcome.assert_code(0);
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert!(
        recording_names(&recording).contains("uname"),
        "the workload's uname is not recorded\n{outcome}"
    );
    assert_eq!(
        recording["target"]["cgroup"],
        format!("/{}", cgroup.name),
        "{outcome}"
    );
    assert!(
        is_running(workload_pid) && cgroup.procs().contains(&workload_pid),
        "stopping syscage ended or moved the workload it only watched\n{outcome}"
    );
    let left = wait_for(
        Duration::from_secs(10),
        "the kernel to free syscage's BPF programs and links",
        || {
            let left: Vec<_> = ids
                .iter()
                .filter(|(kind, id)| bpf_object_exists(kind, *id))
                .collect();
            left.is_empty().then_some(left)
        },
    );
    assert!(left.is_empty());

    let (next, next_profile) = record(dir.path(), "next", &[exerciser(), "exit", "0"]);
    next.assert_code(0);
    let (_, next_recording) = checked_outputs(&next_profile, &next);
    assert!(
        !recording_names(&next_recording).contains("uname"),
        "the next recording holds the other cgroup's uname\n{next}"
    );
    drop(workload.stdin.take());
    let _ = workload.kill();
    let _ = workload.wait();
}

#[test]
fn sigterm_mid_recording_of_a_cgroup_writes_the_profile_and_detaches() {
    stopping_syscage_mid_recording(libc::SIGTERM);
}

#[test]
fn sigint_mid_recording_of_a_cgroup_writes_the_profile_and_detaches() {
    stopping_syscage_mid_recording(libc::SIGINT);
}

/// syscage SIGKILLed during `record -- exerciser sleep 30`: the workload keeps running in the
/// leaf; a later `record` leaves that leaf alone while the workload lives, and removes it once
/// it is empty.
#[test]
fn a_sigkilled_syscage_leaves_the_workload_running_and_the_next_run_cleans_up() {
    let dir = temp_dir();
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(dir.path().join("killed.json"))
        .args(["--", exerciser(), "sleep", "30"]);
    let mut child = spawn(&mut cmd);
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut stdout, "the workload"), "sleeping");
    let leaf = leaves_of(pid)
        .pop()
        .expect("syscage's leaf while it records");
    let workload: i32 = fs::read_to_string(leaf.join("cgroup.procs"))
        .expect("reading the leaf")
        .trim()
        .parse()
        .expect("one pid in the leaf");
    child.kill().expect("SIGKILL to syscage");
    child.wait().expect("reaping syscage");

    let alive_after_kill = is_running(workload);
    // The workload lives on: the next run must not touch its leaf.
    let (busy, _) = record(dir.path(), "while-alive", &[exerciser(), "exit", "0"]);
    let leaf_kept = leaf.exists();
    let still_inside = fs::read_to_string(leaf.join("cgroup.procs")).unwrap_or_default();
    kill_and_wait_gone(workload);
    assert!(alive_after_kill, "the workload died with syscage");
    busy.assert_code(0);
    assert!(
        leaf_kept && still_inside.trim() == workload.to_string(),
        "a later run removed or emptied the leaf of a workload that still ran\n{busy}"
    );

    wait_for(
        Duration::from_secs(10),
        "the dead workload's leaf to be empty",
        || {
            fs::read_to_string(leaf.join("cgroup.procs"))
                .is_ok_and(|p| p.trim().is_empty())
                .then_some(())
        },
    );
    let (after, _) = record(dir.path(), "after", &[exerciser(), "exit", "0"]);
    after.assert_code(0);
    assert!(
        !leaf.exists(),
        "{} (an empty leaf of a syscage that was killed) is still there after the next run\n{after}",
        leaf.display()
    );
}

/// `record --cgroup X` while X's process is moved out and X removed (as a runtime deleting a
/// container does): the recording ends by itself, exit 0, with what X did before.
#[test]
fn a_cgroup_removed_while_recorded_ends_the_recording_with_a_profile() {
    let dir = temp_dir();
    let cgroup = TopCgroup::create("removed");
    let mut workload = cgroup.spawn(fault_prober(), &["spin", "getresuid"]);
    let mut out = BufReader::new(workload.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut out, "the workload"), "spinning");
    let workload_pid = workload.id();

    let profile = dir.path().join("removed.json");
    let mut cmd = syscage(["record", "-v", "--cgroup", &cgroup.name, "--output"]);
    cmd.arg(&profile);
    let child = spawn(&mut cmd);
    let pid = child.id();
    wait_for(Duration::from_secs(20), "syscage to attach", || {
        bpf_ids(pid)
            .iter()
            .any(|(kind, _)| *kind == "link")
            .then_some(())
    });
    thread::sleep(Duration::from_millis(100));
    // Out to the test's own cgroup, then the cgroup goes.
    let home = common::own_cgroup_dir();
    fs::write(home.join("cgroup.procs"), workload_pid.to_string())
        .expect("moving the workload out");
    let name = cgroup.name.clone();
    cgroup.remove();
    let outcome = wait(child, describe(&cmd), Duration::from_secs(30));
    let _ = workload.kill();
    let _ = workload.wait();
    outcome.assert_code(0);
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert!(
        recording_names(&recording).contains("getresuid"),
        "what the cgroup did before it was removed is lost\n{outcome}"
    );
    assert_eq!(
        recording["target"]["cgroup"],
        format!("/{name}"),
        "{outcome}"
    );
}
