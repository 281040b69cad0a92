//! What `record` watches and for how long: an empty cgroup is waited for, a recording without
//! syscalls is refused, the root cgroup and pid 1 are recorded for the whole --duration, a
//! parent cgroup records its sub-cgroups, a process that moves out and sub-cgroups a command
//! makes are reported (and cleaned up, also after a SIGKILLed run), a command that daemonises is recorded until its daemon
//! ends, --duration 0 is refused, attaching to a running container says its start is missing,
//! and the live view fits an 80-column terminal and also runs for a COMMAND.

mod common;

use std::{
    fs,
    io::BufReader,
    path::Path,
    process::{Child, Command},
    thread,
    time::{Duration, Instant},
};

use common::{
    bpf_ids, cgroup2_mount, checked_outputs, default_recording_path, describe, fault_prober,
    is_running, kill_and_wait_gone, leaves_of, own_cgroup_dir, read_line, recording_names, spawn,
    spawn_in_cgroup, syscage, syscage_bin, temp_dir, wait, wait_for, TopCgroup,
};
use serde_json::Value;

/// Starts `syscage ARGS... --output PROFILE` and waits until its recorder is attached.
#[track_caller]
fn start_recording(args: &[&str], profile: &Path) -> (Child, String) {
    let mut cmd = syscage(args);
    cmd.arg("--output").arg(profile);
    let description = describe(&cmd);
    let child = spawn(&mut cmd);
    let pid = child.id();
    wait_for(Duration::from_secs(30), "syscage to attach", || {
        bpf_ids(pid)
            .iter()
            .any(|(kind, _)| *kind == "link")
            .then_some(())
    });
    (child, description)
}

// ---------------------------------------------------------------------------------------------
// Targets that are empty, idle, the root, or a parent.

/// `record --cgroup X` of an empty X waits for a process instead of returning at once with
/// nothing; it records what the process does and ends when X is empty again.
#[test]
fn an_empty_cgroup_is_waited_for_until_a_process_arrives() {
    let dir = temp_dir();
    let cgroup = TopCgroup::create("empty-at-first");
    let profile = dir.path().join("late.json");
    let (child, description) = start_recording(
        &["record", "--cgroup", &cgroup.name, "--duration", "60s"],
        &profile,
    );
    thread::sleep(Duration::from_millis(500));
    let mut workload = cgroup.spawn(fault_prober(), &["call", "getresuid", "200"]);
    let mut out = BufReader::new(workload.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut out, "the workload"), "made getresuid");
    assert!(workload.wait().expect("waiting").success());
    let outcome = wait(child, description, Duration::from_secs(30));
    outcome.assert_code(0);
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert!(
        recording_names(&recording).contains("getresuid"),
        "the process that arrived later is not recorded\n{outcome}"
    );
    assert!(
        outcome.stderr.contains("waiting for one"),
        "syscage should say it waits for a process\n{outcome}"
    );
}

/// A cgroup nothing runs in while recorded: exit 122 with a message naming --allow-empty and no
/// output, instead of a profile that allows nothing; with --allow-empty the profile is written.
#[test]
fn a_recording_without_syscalls_is_refused_unless_allowed() {
    let dir = temp_dir();
    let cgroup = TopCgroup::create("idle");
    let profile = dir.path().join("idle.json");
    let mut cmd = syscage([
        "record",
        "--cgroup",
        &cgroup.name,
        "--duration",
        "1s",
        "--output",
    ]);
    cmd.arg(&profile);
    let outcome = common::run(&mut cmd);
    outcome.assert_code(122);
    assert!(
        outcome.stderr.contains("no syscall was recorded")
            && outcome.stderr.contains("--allow-empty"),
        "the refusal must say why and how to override it\n{outcome}"
    );
    assert!(
        !profile.exists() && !default_recording_path(&profile).exists(),
        "nothing may be written\n{outcome}"
    );

    cmd.arg("--allow-empty");
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert!(recording_names(&recording).is_empty(), "{outcome}");
}

/// The root cgroup has no `cgroup.events`; `--cgroup /` and `--pid 1` (in the root cgroup on
/// hosts without systemd) used to take that for "empty" and stop at once. Whether anything in
/// the root cgroup itself makes a syscall depends on the host: a profile (exit 0) or the
/// refusal of an empty recording (exit 122), but only once --duration is up.
#[test]
fn the_root_cgroup_and_pid_1_are_recorded_for_the_whole_duration() {
    let dir = temp_dir();
    for (name, target) in [("root", ["--cgroup", "/"]), ("pid1", ["--pid", "1"])] {
        let profile = dir.path().join(format!("{name}.json"));
        let mut cmd = syscage(["record", "--duration", "2s"]);
        cmd.args(target).arg("--output").arg(&profile);
        let started = Instant::now();
        let outcome = common::run(&mut cmd);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(2),
            "{name}: syscage stopped after {took:?}, before --duration 2s\n{outcome}"
        );
        match outcome.code() {
            0 => assert!(
                outcome.stderr.contains("until --duration is up"),
                "{name}: the recording must end with --duration\n{outcome}"
            ),
            122 => assert!(
                outcome.stderr.contains("no syscall was recorded"),
                "{name}\n{outcome}"
            ),
            _ => panic!("{name}: unexpected exit status\n{outcome}"),
        }
    }
}

/// A parent cgroup whose only process lives in a sub-cgroup: the sub-cgroup is recorded with it.
#[test]
fn a_parent_cgroup_records_the_processes_of_its_sub_cgroups() {
    let dir = temp_dir();
    let parent = TopCgroup::create("parent");
    let sub = parent.dir.join("worker");
    fs::create_dir(&sub).expect("creating the sub-cgroup");
    let mut workload = spawn_in_cgroup(&sub, fault_prober(), &["spin", "uname"]);
    let mut out = BufReader::new(workload.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut out, "the workload"), "spinning");

    let profile = dir.path().join("parent.json");
    let mut cmd = syscage([
        "record",
        "--cgroup",
        &parent.name,
        "--duration",
        "2s",
        "--output",
    ]);
    cmd.arg(&profile);
    let outcome = common::run(&mut cmd);
    let _ = workload.kill();
    let _ = workload.wait();
    let _ = fs::remove_dir(&sub);
    outcome.assert_code(0);
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert!(
        recording_names(&recording).contains("uname"),
        "the sub-cgroup's process is not recorded\n{outcome}"
    );
}

/// A process that moves out of the recorded cgroup is reported by pid; the recording ends when
/// the cgroup is empty. A top-level cgroup without a runtime's state is not called a container.
#[test]
fn a_process_that_moves_out_is_reported_and_a_plain_cgroup_is_no_container() {
    let dir = temp_dir();
    let cgroup = TopCgroup::create("leaver");
    let mut workload = cgroup.spawn(fault_prober(), &["spin", "getresuid"]);
    let mut out = BufReader::new(workload.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut out, "the workload"), "spinning");
    let pid = workload.id();

    let profile = dir.path().join("leaver.json");
    let (child, description) = start_recording(
        &["record", "--cgroup", &cgroup.name, "--duration", "60s"],
        &profile,
    );
    thread::sleep(Duration::from_millis(300));
    fs::write(own_cgroup_dir().join("cgroup.procs"), pid.to_string()).expect("moving it out");
    let outcome = wait(child, description, Duration::from_secs(30));
    let _ = workload.kill();
    let _ = workload.wait();
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains(&format!("process {pid} ")) && outcome.stderr.contains("moved out"),
        "syscage must report the process that left\n{outcome}"
    );
    let (_, recording) = checked_outputs(&profile, &outcome);
    let target = &recording["target"];
    assert_eq!(target["cgroup"], format!("/{}", cgroup.name), "{outcome}");
    assert!(
        target.get("container_id").is_none_or(Value::is_null)
            && target.get("runtime").is_none_or(Value::is_null),
        "a plain top-level cgroup was labelled a container: {target}\n{outcome}"
    );
}

// ---------------------------------------------------------------------------------------------
// Commands: sub-cgroups, daemons, --duration 0.

/// A command that makes a sub-cgroup of its own and moves into it: syscage says the sub-cgroup
/// was not recorded and removes it with its leaf (it used to leave both behind, "Device or
/// resource busy").
#[test]
fn a_sub_cgroup_the_command_makes_is_reported_and_removed() {
    let dir = temp_dir();
    let profile = dir.path().join("nested.json");
    let script = r#"d="$0$(sed -n 's/^0:://p' /proc/self/cgroup)/nested" && mkdir "$d" && echo $$ > "$d/cgroup.procs" && exec "$1" call uname"#;
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(&profile)
        .args(["--", "/bin/sh", "-c", script])
        .arg(cgroup2_mount())
        .arg(fault_prober());
    let child = spawn(&mut cmd);
    let pid = child.id();
    let outcome = wait(child, describe(&cmd), Duration::from_secs(60));
    outcome.assert_code(0);
    assert!(
        outcome.stdout.contains("made uname"),
        "the command did not run as planned\n{outcome}"
    );
    assert!(
        leaves_of(pid).is_empty(),
        "syscage left cgroups behind: {:?}\n{outcome}",
        leaves_of(pid)
    );
    assert!(
        outcome.stderr.contains("/nested appeared below")
            && outcome.stderr.contains("not recorded"),
        "syscage must say the sub-cgroup's syscalls are not recorded\n{outcome}"
    );
}

/// The leaf of a syscage that was SIGKILLed, with an empty sub-cgroup its command made: the
/// next run removes both (it used to fail on the non-empty directory and leave them).
#[test]
fn a_stale_leaf_with_a_sub_cgroup_is_removed_by_the_next_run() {
    let dir = temp_dir();
    // A pid that ran and is gone: its "syscage" cannot be running any more.
    let mut gone = Command::new("/bin/true")
        .spawn()
        .expect("running /bin/true");
    gone.wait().expect("waiting for /bin/true");
    let stale = cgroup2_mount()
        .join("syscage")
        .join(format!("{}-0", gone.id()));
    fs::create_dir_all(stale.join("nested")).expect("making a stale leaf with a sub-cgroup");
    let (outcome, _) = common::record(dir.path(), "after", &["/bin/true"]);
    let left = stale.exists();
    let _ = fs::remove_dir(stale.join("nested"));
    let _ = fs::remove_dir(&stale);
    outcome.assert_code(0);
    assert!(
        !left,
        "{} (a stale leaf with a sub-cgroup) is still there after the next run\n{outcome}",
        stale.display()
    );
}

/// A command that exits at once, leaving a child in its cgroup that makes a syscall a second
/// later: syscage says it keeps recording, and the child's syscall is in the profile.
#[test]
fn what_a_command_leaves_running_is_recorded_until_it_exits() {
    let dir = temp_dir();
    let profile = dir.path().join("left.json");
    let script = r#"(sleep 1; exec "$0" call getresuid) >/dev/null 2>&1 & exit 0"#;
    let mut cmd = syscage(["record", "--output"]);
    cmd.arg(&profile)
        .args(["--", "/bin/sh", "-c", script])
        .arg(fault_prober());
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains("recording them until they exit"),
        "syscage must say it waits for what the command left\n{outcome}"
    );
    let (_, recording) = checked_outputs(&profile, &outcome);
    assert!(
        recording_names(&recording).contains("getresuid"),
        "the leftover process's syscall is not recorded\n{outcome}"
    );
}

/// A daemon (new session) that would sleep 60 s: recorded until --duration, then sent SIGTERM,
/// so it is neither moved out of the recording nor left running.
#[test]
fn a_daemon_is_recorded_until_duration_and_then_terminated() {
    let dir = temp_dir();
    let profile = dir.path().join("daemon.json");
    let mut cmd = syscage(["record", "--duration", "3s", "--output"]);
    cmd.arg(&profile)
        .args(["--", fault_prober(), "daemon", "getcpu", "uname"]);
    let started = Instant::now();
    let outcome = common::run(&mut cmd);
    let took = started.elapsed();
    let daemon: i32 = outcome
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("daemon "))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("the prober did not report its daemon\n{outcome}"));
    let still_running = is_running(daemon);
    if still_running {
        kill_and_wait_gone(daemon);
    }
    outcome.assert_code(0);
    assert!(
        took >= Duration::from_secs(3),
        "syscage ended after {took:?}, before --duration 3s, while the daemon ran\n{outcome}"
    );
    assert!(
        !still_running,
        "the daemon {daemon} outlived the recording\n{outcome}"
    );
    assert!(
        outcome.stderr.contains("sending SIGTERM") && !outcome.stderr.contains("left running"),
        "syscage must say it ends the daemon, and not move it out\n{outcome}"
    );
    let (_, recording) = checked_outputs(&profile, &outcome);
    let names = recording_names(&recording);
    for name in ["getcpu", "uname"] {
        assert!(names.contains(name), "{name} not recorded\n{outcome}");
    }
}

/// `--duration 0` is refused before anything runs or is written.
#[test]
fn a_zero_duration_is_refused() {
    let dir = temp_dir();
    let profile = dir.path().join("zero.json");
    let mut cmd = syscage(["record", "--duration", "0s", "--output"]);
    cmd.arg(&profile).args(["--", "/bin/true"]);
    let outcome = common::run(&mut cmd);
    outcome.assert_code(125);
    assert!(
        outcome.stderr.contains("--duration") && outcome.stderr.contains("longer than zero"),
        "{outcome}"
    );
    assert!(!profile.exists(), "a profile was written\n{outcome}");
}

// ---------------------------------------------------------------------------------------------
// Attaching to a running container.

/// `record --container` of a container that is running already warns that its start is not in
/// the recording, and the recording says so: it started in the workload phase and saw no
/// entrypoint exec.
#[test]
fn attaching_to_a_running_container_says_its_start_is_missing() {
    use common::containers::{Bundle, Runtime};
    let work = temp_dir();
    let bundle = Bundle::new(
        work.path(),
        "running",
        Runtime::Runc,
        "while true; do uname -a >/dev/null; sleep 0.2; done",
    );
    let container = bundle.start_detached("attached");
    let profile = work.path().join("attached.json");
    let mut cmd = syscage([
        "record",
        "--container",
        &container.id,
        "--duration",
        "2s",
        "--output",
    ]);
    cmd.arg(&profile);
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    assert!(
        outcome.stderr.contains("is running already")
            && outcome.stderr.contains("start")
            && outcome.stderr.contains("not recorded"),
        "syscage must warn that the container's start is missing\n{outcome}"
    );
    let (_, recording) = checked_outputs(&profile, &outcome);
    let phases = &recording["phases"];
    assert_eq!(phases["started_in"], "workload", "{recording}");
    assert!(phases["entrypoint_exec_us"].is_null(), "{recording}");
}

// ---------------------------------------------------------------------------------------------
// The live view, in a real terminal (tmux) of 80 columns.

/// A tmux server of its own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `shell_command` in a detached 80x50 window.
    #[track_caller]
    fn start(tag: &str, shell_command: &str) -> Self {
        let socket = format!("syscage-e2e-{}-{tag}", std::process::id());
        let tmux = Self { socket };
        let status = tmux
            .command()
            .args(["new-session", "-d", "-x", "80", "-y", "50", shell_command])
            .status()
            .expect("running tmux (the live view tests need it)");
        assert!(status.success(), "tmux new-session failed: {status}");
        tmux
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]);
        cmd
    }

    /// Every screen line so far, scrolled-off ones included, trailing empty lines left out.
    #[track_caller]
    fn lines(&self) -> Vec<String> {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-S", "-", "-E", "-"])
            .output()
            .expect("tmux capture-pane");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        lines
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// `syscage ARGS` as a shell command line, run as root without sudo's variables (see
/// `common::syscage`), followed by a marker line once it ends.
fn shell_line(args: &[&str]) -> String {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    format!(
        "env -u SUDO_UID -u SUDO_GID -u SUDO_USER -u SYSCAGE_LOG '{}' {}; echo SYSCAGE-DONE; sleep 600",
        syscage_bin().display(),
        quoted.join(" ")
    )
}

/// 3 s of recording a cgroup with a long name on an 80-column terminal: the status line is
/// redrawn in place, so the screen holds one line per new syscall and a few of syscage's, and
/// no leftover status lines (a status line that wraps leaves one behind on every redraw).
#[test]
fn the_live_view_fits_an_80_column_terminal() {
    common::require_root();
    let dir = temp_dir();
    let cgroup =
        TopCgroup::create("a-cgroup-name-long-enough-to-wrap-an-eighty-column-status-line");
    let mut workload = cgroup.spawn(fault_prober(), &["spin", "uname"]);
    let mut out = BufReader::new(workload.stdout.take().expect("piped"));
    assert_eq!(read_line(&mut out, "the workload"), "spinning");
    let profile = dir.path().join("live.json");
    let profile_arg = profile.display().to_string();
    let tmux = Tmux::start(
        "width",
        &shell_line(&[
            "record",
            "--cgroup",
            &cgroup.name,
            "--duration",
            "3s",
            "--output",
            &profile_arg,
        ]),
    );
    let lines = wait_for(Duration::from_secs(60), "syscage to finish in tmux", || {
        let lines = tmux.lines();
        lines.iter().any(|l| l == "SYSCAGE-DONE").then_some(lines)
    });
    let _ = workload.kill();
    let _ = workload.wait();
    let screen = lines.join("\n");
    let new_syscalls = lines.iter().filter(|l| l.starts_with("  + ")).count();
    assert!(new_syscalls > 0, "no live view was drawn:\n{screen}");
    let leftover_status = lines.iter().filter(|l| l.contains("so far")).count();
    assert_eq!(
        leftover_status, 0,
        "status lines were left on the screen:\n{screen}"
    );
    // The new syscalls, the final summary (which wraps: it names the cgroup and two paths),
    // the marker.
    assert!(
        lines.len() <= new_syscalls + 8,
        "{} screen lines for {new_syscalls} new syscalls:\n{screen}",
        lines.len()
    );
}

/// `record -- COMMAND` on a terminal draws the live view too, with the time since the last new
/// syscall.
#[test]
fn a_recorded_command_has_a_live_view() {
    common::require_root();
    let dir = temp_dir();
    let profile = dir.path().join("command.json");
    let profile_arg = profile.display().to_string();
    let tmux = Tmux::start(
        "command",
        &shell_line(&["record", "--output", &profile_arg, "--", "sleep", "4"]),
    );
    let screen = wait_for(
        Duration::from_secs(30),
        "the live view of a recorded command",
        || {
            let lines = tmux.lines();
            lines
                .iter()
                .any(|l| l.contains("last new one"))
                .then(|| lines.join("\n"))
        },
    );
    assert!(
        screen.contains("syscage: sleep: "),
        "the status line should name the command:\n{screen}"
    );
    let lines = wait_for(Duration::from_secs(60), "syscage to finish in tmux", || {
        let lines = tmux.lines();
        lines.iter().any(|l| l == "SYSCAGE-DONE").then_some(lines)
    });
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  + nanosleep") || l.starts_with("  + clock_nanosleep")),
        "the command's syscalls should appear as they are first seen:\n{}",
        lines.join("\n")
    );
}
