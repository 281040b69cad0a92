//! `syscage audit` in the background, once it listens for seccomp log records.

use std::{
    io::{BufReader, Read as _},
    process::{Child, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

use super::{describe, read_line, syscage, Outcome};

/// How long an audit may take to end once asked to (or once its target ended).
pub(crate) const AUDIT_DEADLINE: Duration = Duration::from_secs(60);

/// `syscage audit ARGS` in the background, once it listens.
pub(crate) struct Audit {
    child: Child,
    first: String,
    stderr: Option<thread::JoinHandle<String>>,
    command: String,
}

impl Audit {
    #[track_caller]
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut cmd = syscage(["audit"]);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = describe(&cmd);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command}: {e}"));
        let mut reader = BufReader::new(child.stderr.take().expect("piped stderr"));
        let first = read_line(&mut reader, "audit's first line");
        assert!(
            first.contains("listening for seccomp log records"),
            "{command}: {first}"
        );
        let stderr = thread::spawn(move || {
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            rest
        });
        Self {
            child,
            first,
            stderr: Some(stderr),
            command,
        }
    }

    pub(crate) fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// Waits for syscage to end (after `signal`, if given).
    #[track_caller]
    pub(crate) fn finish(mut self, signal: Option<libc::c_int>) -> Outcome {
        if let Some(s) = signal {
            self.signal(s);
        }
        let start = Instant::now();
        let status: ExitStatus = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for audit") {
                break status;
            }
            if start.elapsed() > AUDIT_DEADLINE {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let rest = self.stderr.take().map(|t| t.join().unwrap_or_default());
                panic!(
                    "{} did not end within {AUDIT_DEADLINE:?}; it said:\n{}\n{}",
                    self.command,
                    self.first,
                    rest.unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut stdout);
        }
        let rest = self.stderr.take().map(|t| t.join().unwrap_or_default());
        Outcome {
            command: self.command.clone(),
            status,
            stdout,
            stderr: format!("{}\n{}", self.first, rest.unwrap_or_default()),
        }
    }
}

impl Drop for Audit {
    /// Kills an audit a failed test left running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
