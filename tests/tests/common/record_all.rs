//! `syscage record --all` in the background, and waiting for the profiles it writes.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::{default_recording_path, describe, dir_listing, read_json, syscage, wait_status};

/// How long after a container ended its profile may take to appear.
pub(crate) const PROFILE_DEADLINE: Duration = Duration::from_secs(15);

/// Starts `syscage record --all -v --output-dir DIR [extra...]` with its stderr in `log`, and
/// waits until it records: its `-v` line "recording every container" comes after the eBPF
/// program is attached and the existing cgroups are indexed.
#[track_caller]
pub(crate) fn spawn_record_all(output_dir: &Path, log: &Path, extra: &[&str]) -> Child {
    fs::create_dir_all(output_dir).expect("creating the output directory");
    let log_file = fs::File::create(log).expect("creating the recorder's log");
    let mut cmd = syscage(["record", "--all", "-v", "--output-dir"]);
    cmd.arg(output_dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", describe(&cmd)));
    let log_text = || fs::read_to_string(log).unwrap_or_default();
    let start = Instant::now();
    while !log_text().contains("recording every container") {
        if let Some(status) = child.try_wait().expect("waiting for syscage") {
            panic!(
                "{} ended before it recorded: {status}\n{}",
                describe(&cmd),
                log_text()
            );
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "syscage record --all did not start recording within 30 s\n{}",
                log_text()
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
    child
}

/// `syscage record --all -v` in the background, writing into `WORK/profiles` with its stderr in
/// `WORK/record-all.log`. Killed on drop if the test did not stop it.
pub(crate) struct RecordAll {
    child: Option<Child>,
    pub(crate) pid: i32,
    pub(crate) output_dir: PathBuf,
    log: PathBuf,
}

impl RecordAll {
    /// Starts it with `extra` arguments and waits until it records (see [`spawn_record_all`]).
    #[track_caller]
    pub(crate) fn start(work: &Path, extra: &[&str]) -> Self {
        let output_dir = work.join("profiles");
        let log = work.join("record-all.log");
        let child = spawn_record_all(&output_dir, &log, extra);
        let pid = i32::try_from(child.id()).expect("pid fits in pid_t");
        Self {
            child: Some(child),
            pid,
            output_dir,
            log,
        }
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log without the eBPF program's per-syscall lines (`-v`), for messages.
    pub(crate) fn log_summary(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("first entered syscall"))
            .collect();
        let skip = lines.len().saturating_sub(60);
        lines[skip..].join("\n")
    }

    /// Waits up to `timeout` for the profile of cgroup `name` (see [`wait_for_outputs`]).
    #[track_caller]
    pub(crate) fn outputs_of(&self, name: &str, timeout: Duration) -> (PathBuf, Value, Value) {
        wait_for_outputs(&self.output_dir, name, timeout, &|| {
            let log = self.log_text();
            let about: Vec<&str> = log
                .lines()
                .filter(|l| l.contains(name) || l.contains("disappeared") || l.contains("error"))
                .collect();
            format!(
                "--- what syscage's log says about it (and every error) ---\n{}\n--- syscage's log (end) ---\n{}",
                about.join("\n"),
                self.log_summary()
            )
        })
    }

    /// [`Self::outputs_of`] container `id`, which a container that ends while recorded gets at
    /// once.
    #[track_caller]
    pub(crate) fn wait_for_container(&self, id: &str) -> (PathBuf, Value, Value) {
        self.outputs_of(id, PROFILE_DEADLINE)
    }

    /// Waits until every cgroup in `names` has its profile, as long as syscage keeps writing
    /// profiles (it is given `stall` without a new one, and two minutes in all); returns the
    /// (profile, recording) of each that has one, and the names of those that have none.
    pub(crate) fn outputs_of_all<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str> + Clone,
        stall: Duration,
    ) -> (Vec<(&'a str, Value, Value)>, Vec<&'a str>) {
        let profile = |name: &str| self.output_dir.join(format!("{name}.json"));
        let start = Instant::now();
        let mut last_progress = Instant::now();
        let mut present = 0;
        loop {
            let now_present = names
                .clone()
                .into_iter()
                .filter(|n| profile(n).exists())
                .count();
            let all = names.clone().into_iter().count();
            if now_present == all
                || last_progress.elapsed() > stall
                || start.elapsed() > Duration::from_secs(120)
            {
                break;
            }
            if now_present > present {
                present = now_present;
                last_progress = Instant::now();
            }
            thread::sleep(Duration::from_millis(50));
        }
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            let path = profile(name);
            if path.exists() {
                let recording = default_recording_path(&path);
                found.push((name, read_json(&path), read_json(&recording)));
            } else {
                missing.push(name);
            }
        }
        (found, missing)
    }

    /// Stops it with SIGINT, as Ctrl-C would; returns its exit code and log.
    #[track_caller]
    pub(crate) fn stop(mut self) -> (i32, String) {
        let mut child = self.child.take().expect("stopped once");
        // SAFETY: plain kill(2) to our own child, which has not been reaped.
        let sent = unsafe { libc::kill(self.pid, libc::SIGINT) };
        assert_eq!(sent, 0, "kill: {}", std::io::Error::last_os_error());
        let status = wait_status(
            &mut child,
            Duration::from_secs(60),
            "syscage record --all after SIGINT",
        );
        let code = status.code().unwrap_or_else(|| {
            panic!(
                "syscage record --all died: {status}\n{}",
                self.log_summary()
            )
        });
        (code, self.log_text())
    }
}

impl Drop for RecordAll {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits up to `timeout` for `DIR/<name>.json` (written after `<name>.recording.json`) and
/// returns (profile path, profile, recording). `log` explains a timeout.
#[track_caller]
pub(crate) fn wait_for_outputs(
    dir: &Path,
    name: &str,
    timeout: Duration,
    log: &dyn Fn() -> String,
) -> (PathBuf, Value, Value) {
    let profile = dir.join(format!("{name}.json"));
    let start = Instant::now();
    while !profile.exists() {
        assert!(
            start.elapsed() < timeout,
            "no profile {} within {timeout:?} after its cgroup ended; {} holds {:?}\n{}",
            profile.display(),
            dir.display(),
            dir_listing(dir),
            log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let recording = read_json(&default_recording_path(&profile));
    let profile_value = read_json(&profile);
    (profile, profile_value, recording)
}
