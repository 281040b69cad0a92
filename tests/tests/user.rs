//! Which user the workload runs as: under sudo the invoking user (SUDO_UID/SUDO_GID), not root,
//! unless `--user` says otherwise; for `record` and `run` alike.

mod common;

use std::process::Command;

use common::{exerciser, temp_dir};

/// nobody/nogroup on Debian.
const NOBODY: &str = "65534";

/// Runs `syscage SUBCOMMAND OPTION FILE [EXTRA...] -- exerciser whoami`, with sudo's variables
/// saying the caller was nobody, and returns what the exerciser printed.
fn whoami(subcommand: &str, extra: &[&str]) -> String {
    let dir = temp_dir();
    let profile = dir.path().join("whoami.json");
    // `run` needs a profile; record one as root for it (this run is not the one under test).
    if subcommand == "run" {
        let (outcome, _) = common::record(dir.path(), "whoami", &[exerciser(), "whoami"]);
        outcome.assert_code(0);
    }
    let option = if subcommand == "run" {
        "--profile"
    } else {
        "--output"
    };
    let mut cmd: Command = common::syscage([subcommand, option]);
    cmd.arg(&profile)
        .args(extra)
        .args(["--", exerciser(), "whoami"]);
    cmd.env("SUDO_UID", NOBODY)
        .env("SUDO_GID", NOBODY)
        .env("SUDO_USER", "nobody");
    let outcome = common::run(&mut cmd);
    outcome.assert_code(0);
    if subcommand == "record" {
        common::read_json(&profile);
    }
    outcome.stdout.trim_end().to_owned()
}

#[test]
fn record_under_sudo_runs_the_command_as_the_invoking_user() {
    assert_eq!(
        whoami("record", &[]),
        "uid=65534 gid=65534 euid=65534 egid=65534 groups=65534",
        "root's supplementary groups must be dropped too"
    );
}

#[test]
fn run_under_sudo_runs_the_command_as_the_invoking_user() {
    assert_eq!(
        whoami("run", &[]),
        "uid=65534 gid=65534 euid=65534 egid=65534 groups=65534"
    );
}

#[test]
fn user_root_keeps_root_under_sudo() {
    let line = whoami("record", &["--user", "root"]);
    assert!(line.starts_with("uid=0 gid=0 euid=0 egid=0 "), "{line}");
    let line = whoami("run", &["--user", "root"]);
    assert!(line.starts_with("uid=0 gid=0 euid=0 egid=0 "), "{line}");
}

#[test]
fn user_option_takes_uid_and_gid() {
    assert_eq!(
        whoami("run", &["--user", "65534:65534"]),
        "uid=65534 gid=65534 euid=65534 egid=65534 groups=65534"
    );
}
