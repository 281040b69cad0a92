//! Argument values and ABIs: the recording holds exactly the argument values a
//! program used, the generated profile lets those values through and refuses others with EPERM,
//! and a 32-bit program's compat calls are recorded under SCMP_ARCH_X86 with i386 names.

mod common;

use std::{collections::BTreeSet, process::Command};

use common::{read_json, record, recording_syscalls, require_root, run_with_profile, temp_dir};
use serde_json::Value;

const CLONE_NEWUSER: u64 = libc::CLONE_NEWUSER as u64;
const CLONE_NEWNS: u64 = libc::CLONE_NEWNS as u64;
const CLONE_NEWNET: u64 = libc::CLONE_NEWNET as u64;
const SIGCHLD: u64 = libc::SIGCHLD as u64;

fn prober() -> &'static str {
    env!("CARGO_BIN_EXE_arg-prober")
}

/// The `args` object of the recording's entry for a native syscall.
#[track_caller]
fn args_of<'a>(recording: &'a Value, name: &str) -> &'a Value {
    let entry = recording_syscalls(recording)
        .iter()
        .find(|s| s["name"] == name && s.get("arch").is_none())
        .unwrap_or_else(|| panic!("{name} is not in the recording"));
    entry
        .get("args")
        .unwrap_or_else(|| panic!("{name} has no captured arguments: {entry}"))
}

#[track_caller]
fn value_tuples(args: &Value) -> BTreeSet<Vec<u64>> {
    assert_eq!(args["overflow"], false, "{args}");
    args["values"]
        .as_array()
        .expect("values array")
        .iter()
        .map(|t| {
            t.as_array()
                .expect("tuple")
                .iter()
                .map(|v| v.as_u64().expect("u64"))
                .collect()
        })
        .collect()
}

#[test]
fn recording_holds_exactly_the_argument_values_used() {
    require_root();
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "script", &[prober(), "script"]);
    outcome.assert_code(0);
    let recording = read_json(&common::default_recording_path(&profile));

    assert_eq!(
        args_of(&recording, "clone")["indexes"],
        serde_json::json!([0])
    );
    assert_eq!(
        value_tuples(args_of(&recording, "clone")),
        BTreeSet::from([
            vec![SIGCHLD],
            vec![CLONE_NEWUSER | SIGCHLD],
            vec![CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD],
        ]),
        "clone flags"
    );
    assert_eq!(
        args_of(&recording, "socket")["indexes"],
        serde_json::json!([0, 1])
    );
    assert_eq!(
        value_tuples(args_of(&recording, "socket")),
        BTreeSet::from([
            vec![libc::AF_UNIX as u64, libc::SOCK_STREAM as u64],
            vec![libc::AF_INET as u64, libc::SOCK_DGRAM as u64],
        ]),
        "socket domain and type"
    );
    assert_eq!(
        value_tuples(args_of(&recording, "personality")),
        BTreeSet::from([vec![0xffff_ffff]])
    );
}

#[test]
fn profile_allows_recorded_argument_values_and_refuses_others() {
    require_root();
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "script", &[prober(), "script"]);
    outcome.assert_code(0);

    // What was recorded runs.
    run_with_profile(&profile, &[prober(), "script"]).assert_code(0);
    // Another socket family, and a namespace the program never created, are refused.
    let inet6 = run_with_profile(&profile, &[prober(), "socket", "10", "1"]);
    assert!(
        inet6.stdout.contains("EPERM"),
        "AF_INET6 socket should get EPERM\n{inet6}"
    );
    let netns = format!("{:#x}", CLONE_NEWUSER | CLONE_NEWNET);
    let clone_net = run_with_profile(&profile, &[prober(), "clone", netns.as_str()]);
    assert!(
        clone_net.stdout.contains("EPERM"),
        "clone with CLONE_NEWNET should get EPERM\n{clone_net}"
    );
    // The recorded values in another order still pass.
    let unix = run_with_profile(&profile, &[prober(), "socket", "1", "1"]);
    assert!(unix.stdout.contains(": ok"), "{unix}");
    let userns = format!("{CLONE_NEWUSER:#x}");
    let clone_user = run_with_profile(&profile, &[prober(), "clone", userns.as_str()]);
    assert!(clone_user.stdout.contains(": ok"), "{clone_user}");
}

/// A static i386 program, built for the test with `gcc -m32 -static`.
fn build_i386_program(dir: &std::path::Path) -> std::path::PathBuf {
    let source = dir.join("m32.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n#include <unistd.h>\n#include <sys/utsname.h>\n\
         int main(void) { struct utsname u; uname(&u); printf(\"pid>0:%d machine:%s\\n\", getpid() > 0, u.machine); return 0; }\n",
    )
    .expect("writing m32.c");
    let binary = dir.join("m32");
    let out = Command::new("gcc")
        .args(["-m32", "-static", "-O2", "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("running gcc (install gcc-multilib: `cargo xtask test` does)");
    assert!(
        out.status.success(),
        "gcc -m32 -static failed (needs Debian's gcc-multilib and libc6-dev-i386):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

#[test]
fn compat_calls_are_recorded_under_x86_with_i386_names_and_the_profile_runs_them() {
    require_root();
    let dir = temp_dir();
    let program = build_i386_program(dir.path());
    let (outcome, profile) = record(dir.path(), "m32", &[&program]);
    outcome.assert_code(0);
    let recording = read_json(&common::default_recording_path(&profile));
    let compat: BTreeSet<(u64, String)> = recording_syscalls(&recording)
        .iter()
        .filter(|s| s["arch"] == "SCMP_ARCH_X86")
        .map(|s| {
            (
                s["nr"].as_u64().expect("nr"),
                s["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    // i386 numbers: getpid is 20 (x86_64's 20 is writev), uname 122, set_thread_area 243.
    for expected in [(20, "getpid"), (122, "uname"), (243, "set_thread_area")] {
        assert!(
            compat.contains(&(expected.0, expected.1.to_owned())),
            "{expected:?} missing from the compat calls {compat:?}"
        );
    }
    assert!(
        !recording_syscalls(&recording)
            .iter()
            .any(|s| s["name"] == "writev"),
        "i386 getpid (20) was named with the x86_64 table"
    );
    let profile_json = read_json(&profile);
    assert!(
        profile_json["architectures"]
            .as_array()
            .expect("architectures")
            .contains(&Value::from("SCMP_ARCH_X86")),
        "{profile_json}"
    );
    let run = run_with_profile(&profile, &[&program]);
    run.assert_code(0);
    assert_eq!(run.stdout, "pid>0:1 machine:x86_64\n", "{run}");
}

/// The (arch, name) of every recorded entry named `a` or `b`; native entries have arch "native".
fn entries_named(recording: &Value, a: &str, b: &str) -> BTreeSet<(String, String)> {
    recording_syscalls(recording)
        .iter()
        .filter(|s| s["name"] == a || s["name"] == b)
        .map(|s| {
            (
                s["arch"].as_str().unwrap_or("native").to_owned(),
                s["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect()
}

/// i386 syscall 64 is getppid; x86_64's 64 is semget, which the prober never calls itself.
const I386_GETPPID: &str = "64";

#[test]
fn int80_from_a_64_bit_program_is_recorded_as_its_i386_call_and_the_profile_runs_it() {
    require_root();
    let dir = temp_dir();
    let (outcome, profile) = record(dir.path(), "int80", &[prober(), "int80", I386_GETPPID]);
    outcome.assert_code(0);
    let recording = read_json(&common::default_recording_path(&profile));
    assert_eq!(
        entries_named(&recording, "getppid", "semget"),
        BTreeSet::from([("SCMP_ARCH_X86".to_owned(), "getppid".to_owned())]),
        "the int $0x80 call was not recorded as i386 getppid alone"
    );
    let run = run_with_profile(&profile, &[prober(), "int80", I386_GETPPID]);
    run.assert_code(0);
    assert!(run.stdout.contains(": ok"), "{run}");
}

/// The documented limit of telling ABIs apart by the saved registers (README, Limitations): an
/// `int $0x80` made with rcx and r11 holding what a `syscall` instruction would leave there is
/// recorded as the 64-bit syscall of the same number. This pins that behaviour, so that a
/// change to it is seen.
#[test]
fn int80_disguised_as_a_syscall_instruction_is_recorded_as_the_64_bit_call() {
    require_root();
    let dir = temp_dir();
    let (outcome, profile) = record(
        dir.path(),
        "int80-as-syscall",
        &[prober(), "int80-as-syscall", I386_GETPPID],
    );
    outcome.assert_code(0);
    let recording = read_json(&common::default_recording_path(&profile));
    assert_eq!(
        entries_named(&recording, "getppid", "semget"),
        BTreeSet::from([("native".to_owned(), "semget".to_owned())]),
    );
}
