//! Running commands: echoed before they run, failing with the command line on a non-zero exit,
//! and wrapped in `sudo` when they need root and we are not root.

use std::{
    ffi::{OsStr, OsString},
    path::PathBuf,
    process::{Command, ExitStatus},
};

use anyhow::{bail, Context as _, Result};

pub(crate) struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    as_root: bool,
}

impl Cmd {
    pub(crate) fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            dir: None,
            as_root: false,
        }
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub(crate) fn arg_path(mut self, path: &std::path::Path) -> Self {
        self.args.push(path.as_os_str().to_owned());
        self
    }

    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub(crate) fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Run through `sudo` unless we are root already.
    pub(crate) fn with_sudo(mut self) -> Self {
        self.as_root = true;
        self
    }

    fn command(&self) -> Command {
        let needs_sudo = self.as_root && !is_root();
        let mut cmd = if needs_sudo {
            let mut c = Command::new("sudo");
            // sudo drops most of the environment: pass ours (PATH with cargo, test variables).
            c.arg("--preserve-env").arg(format!(
                "PATH={}",
                std::env::var("PATH").unwrap_or_default()
            ));
            for (k, v) in &self.envs {
                let mut kv = k.clone();
                kv.push("=");
                kv.push(v);
                c.arg(kv);
            }
            c.arg(&self.program);
            c
        } else {
            let mut c = Command::new(&self.program);
            c.envs(self.envs.iter().map(|(k, v)| (k, v)));
            c
        };
        cmd.args(&self.args);
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    pub(crate) fn display(&self) -> String {
        let mut s = String::new();
        if self.as_root && !is_root() {
            s.push_str("sudo ");
        }
        s.push_str(&self.program.to_string_lossy());
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    pub(crate) fn status(&self) -> Result<ExitStatus> {
        eprintln!("xtask: $ {}", self.display());
        self.command()
            .status()
            .with_context(|| format!("starting `{}`", self.display()))
    }

    /// Runs quietly and returns stdout, or None when the command fails or does not exist.
    pub(crate) fn output_if_ok(&self) -> Option<String> {
        let out = self.command().output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

pub(crate) fn run(cmd: Cmd) -> Result<()> {
    let status = cmd.status()?;
    if !status.success() {
        bail!("`{}` failed: {status}", cmd.display());
    }
    Ok(())
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `cargo install` puts bpf-linker in $CARGO_HOME/bin; make sure children find it even when
/// that directory is not on the caller's PATH (CI shells, sudo).
pub(crate) fn put_cargo_bin_on_path() {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(bin) = cargo_home.map(|h| h.join("bin")) else {
        return;
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|p| p == bin) {
        return;
    }
    let joined = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&path)))
        .expect("PATH entries came from PATH");
    // SAFETY: single-threaded at this point of xtask's main.
    unsafe { std::env::set_var("PATH", joined) };
}
