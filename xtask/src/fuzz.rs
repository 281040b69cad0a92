//! `cargo xtask fuzz`: runs every cargo-fuzz target in `fuzz/` (one per file reader of
//! profile-gen) for a fixed time and fails if any of them found a crash.
//!
//! cargo-fuzz builds optimised but with debug assertions and overflow checks (an overflow on a
//! crafted count is a bug too), with `-Zsanitizer=address` and libFuzzer's coverage flags, which
//! stable rustc accepts with `RUSTC_BOOTSTRAP=1` (its sanitizer runtimes ship in rust-std). It
//! is set for cargo-fuzz's own build only: `fuzz/` is a separate workspace with its own target
//! directory, so the main build cache is untouched. A nightly toolchain is not needed.
//!
//! Each target starts from its corpus of earlier runs (`fuzz/corpus/<target>`, not checked in),
//! the checked-in seeds (`fuzz/seeds/`: made with `syscage generate`/`merge`, plus hand-written
//! ones), the reference profiles (`profile-gen/data/`) and the test fixtures
//! (`profile-gen/tests/fixtures/`), with a dictionary of the formats' keys and values.
//! Crashes are written to `fuzz/artifacts/<target>/`; every one found belongs in profile-gen's
//! unit tests once fixed.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context as _, Result};

use crate::shell::{run, Cmd};

/// One target per reader; the names of `fuzz/fuzz_targets/*.rs`.
pub(crate) const TARGETS: [&str; 5] = [
    "recording",
    "merged_recording",
    "oci_profile",
    "docker_profile",
    "spo_profile",
];

const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// A slow input is a bug too (a reader that goes quadratic on a crafted file): libFuzzer reports
/// one that takes longer than this as a crash ("timeout").
const TIMEOUT_S: u32 = 10;

pub(crate) fn run_all(root: &Path, seconds: u32, only: &[String]) -> Result<()> {
    for name in only {
        if !TARGETS.contains(&name.as_str()) {
            bail!(
                "unknown fuzz target {name:?}, expected one of {}",
                TARGETS.join(", ")
            );
        }
    }
    let targets: Vec<&str> = TARGETS
        .into_iter()
        .filter(|t| only.is_empty() || only.iter().any(|o| o == t))
        .collect();
    cargo_fuzz()?;
    let bootstrap = !rustc_is_nightly();
    let mut build = Cmd::new("cargo").args(["fuzz", "build"]);
    if bootstrap {
        build = build.env("RUSTC_BOOTSTRAP", "1");
    }
    run(build.current_dir(root))?;

    let fuzz = root.join("fuzz");
    let host = host_triple()?;
    let logs = fuzz.join("target/logs");
    fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut results = Vec::new();
    for target in &targets {
        results.push(run_target(root, &fuzz, &host, &logs, target, seconds)?);
    }

    println!("\n| target | seconds | runs | corpus entries | result |");
    println!("|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {:.0} | {} | {} | {} |",
            r.target,
            r.seconds,
            r.runs.map_or("?".to_owned(), |n| n.to_string()),
            r.corpus,
            r.outcome
        );
    }
    let failed: Vec<&FuzzResult> = results.iter().filter(|r| !r.ok).collect();
    if failed.is_empty() {
        return Ok(());
    }
    for r in &failed {
        eprintln!(
            "xtask: fuzz target {} failed: {} (log: {})",
            r.target,
            r.outcome,
            r.log.display()
        );
    }
    bail!(
        "{} of {} fuzz targets found crashes; reproduce one with `RUSTC_BOOTSTRAP=1 cargo fuzz \
         run TARGET fuzz/artifacts/TARGET/FILE`, fix it in profile-gen and add the input as a \
         unit test there",
        failed.len(),
        results.len()
    )
}

struct FuzzResult {
    target: String,
    seconds: f64,
    runs: Option<u64>,
    corpus: usize,
    ok: bool,
    outcome: String,
    log: PathBuf,
}

fn run_target(
    root: &Path,
    fuzz: &Path,
    host: &str,
    logs: &Path,
    target: &str,
    seconds: u32,
) -> Result<FuzzResult> {
    let binary = fuzz.join(format!("target/{host}/release/{target}"));
    let corpus = fuzz.join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let log = logs.join(format!("{target}.log"));
    let log_file = fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let mut artifact_prefix = artifacts.clone().into_os_string();
    artifact_prefix.push("/");
    let mut cmd = Command::new(&binary);
    cmd.current_dir(root)
        .arg(&corpus)
        .arg(fuzz.join("seeds"))
        .arg(root.join("profile-gen/data"))
        .arg(root.join("profile-gen/tests/fixtures"))
        .arg(format!(
            "-dict={}",
            fuzz.join("dict/seccomp.dict").display()
        ))
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={TIMEOUT_S}"))
        .arg("-print_final_stats=1")
        .arg({
            let mut a = std::ffi::OsString::from("-artifact_prefix=");
            a.push(&artifact_prefix);
            a
        })
        .stdout(Stdio::null())
        .stderr(log_file);
    eprintln!(
        "xtask: fuzzing {target} for {seconds} s (log: {})",
        log.display()
    );
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", binary.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let text = fs::read_to_string(&log).unwrap_or_default();
    let runs = text
        .lines()
        .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .find_map(|n| n.trim().parse().ok());
    let corpus_entries = fs::read_dir(&corpus).map_or(0, Iterator::count);
    let crash = text
        .lines()
        .find(|l| l.contains("Test unit written to"))
        .map(|l| l.trim().to_owned());
    let (ok, outcome) = match (status.success(), crash) {
        (true, _) => (true, "no crash".to_owned()),
        (false, Some(line)) => (false, format!("CRASH: {line}")),
        (false, None) => (false, format!("libFuzzer exited with {status}")),
    };
    if !ok {
        // The panic message and the stack are what a fix needs; show them here.
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.iter().rev() {
            eprintln!("  {line}");
        }
    }
    Ok(FuzzResult {
        target: target.to_owned(),
        seconds: elapsed,
        runs,
        corpus: corpus_entries,
        ok,
        outcome,
        log,
    })
}

/// Installs cargo-fuzz when `cargo fuzz` does not run.
fn cargo_fuzz() -> Result<()> {
    let installed = Cmd::new("cargo")
        .args(["fuzz", "--version"])
        .output_if_ok()
        .is_some();
    if installed {
        return Ok(());
    }
    run(Cmd::new("cargo").args([
        "install",
        "--locked",
        &format!("cargo-fuzz@{CARGO_FUZZ_VERSION}"),
    ]))
}

fn rustc_is_nightly() -> bool {
    Cmd::new("rustc")
        .args(["--version"])
        .output_if_ok()
        .is_some_and(|v| v.contains("nightly"))
}

fn host_triple() -> Result<String> {
    let out = Cmd::new("rustc")
        .args(["-vV"])
        .output_if_ok()
        .context("running rustc -vV")?;
    out.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .context("rustc -vV printed no host triple")
}
