//! Ground truth for the stress test: many processes and threads, each making its own mix of rare
//! syscalls at full speed, and printing the names of every syscall it made.
//!
//! ```text
//! stress-prober run PROCESSES THREADS MILLIS     the workload (see below); prints the names made
//! stress-prober quiet PROCESSES THREADS          the same processes and threads, no rare syscalls
//! stress-prober list                             every name `run` can make, one per line
//! ```
//!
//! `run` starts PROCESSES copies of itself (`process P THREADS MILLIS`, by fork and exec), all at
//! once; each starts THREADS threads, all released together, so PROCESSES x THREADS workers run
//! at the same time. Worker `w` calls its own pair of [`HOT`] syscalls in a tight loop for MILLIS
//! ms (no two workers have the same pair), and the first [`ONCE`]`.len()` workers each make one
//! [`ONCE`] syscall exactly once, at a point spread over the run: a recorder that loses a single
//! sighting under contention misses it. Every process prints `w<W> <name>` for each syscall its
//! workers made; `run` checks that every worker reported and prints the union of the names, one
//! per line, sorted. Every call is a raw `libc::syscall(SYS_...)` with arguments that change
//! nothing, and is made whatever it returns: `sys_enter` sees it either way.
//!
//! None of these syscalls is made by the Rust runtime or glibc on their own (`quiet` shows it:
//! a recording of it holds none of the names `list` prints).

use std::{
    collections::BTreeSet,
    io::Write as _,
    process::{Command, ExitCode, Stdio},
    sync::{Arc, Barrier},
    thread,
    time::{Duration, Instant},
};

#[path = "../rare.rs"]
mod rare;

use rare::call;

// `cargo clippy --all-targets` checks this binary as a test target, with the package's
// dev-dependencies, which only the integration tests use.
#[cfg(test)]
use {serde_json as _, tempfile as _};

/// Called in tight loops, two per worker: the first half of the shared table.
const HOT: &[&str] = rare::NAMES.split_at(16).0;

/// Each made exactly once in the whole run, by one worker: the second half.
const ONCE: &[&str] = rare::NAMES.split_at(16).1;

const USAGE: &str =
    "usage: stress-prober run PROCESSES THREADS MILLIS | quiet PROCESSES THREADS | list";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["run", processes, threads, millis] => {
            coordinate(parse(processes), parse(threads), Some(parse(millis)))
        }
        ["quiet", processes, threads] => coordinate(parse(processes), parse(threads), None),
        ["process", p, threads, millis] => process(parse(p), parse(threads), millis),
        ["list"] => {
            for name in HOT.iter().chain(ONCE) {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse<T: std::str::FromStr>(s: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| panic!("not a number: {s:?}\n{USAGE}"))
}

/// Starts the processes, collects their reports, checks every worker reported, prints the union.
/// `millis` is `None` for `quiet`: the workers start and end without a rare syscall.
fn coordinate(processes: usize, threads: usize, millis: Option<u64>) -> ExitCode {
    let exe = std::env::current_exe().expect("finding my own executable");
    // "quiet" is passed on as MILLIS: the process starts its threads and makes nothing.
    let millis_arg = millis.map_or_else(|| "quiet".to_owned(), |m| m.to_string());
    let children: Vec<_> = (0..processes)
        .map(|p| {
            Command::new(&exe)
                .args(["process", &p.to_string(), &threads.to_string(), &millis_arg])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("starting a worker process")
        })
        .collect();
    let mut names = BTreeSet::new();
    let mut workers = BTreeSet::new();
    let mut ok = true;
    for (p, child) in children.into_iter().enumerate() {
        let output = child
            .wait_with_output()
            .expect("waiting for a worker process");
        if !output.status.success() {
            eprintln!("stress-prober: process {p} ended with {}", output.status);
            ok = false;
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let (worker, name) = line.split_once(' ').unwrap_or((line, ""));
            workers.insert(worker.to_owned());
            if !name.is_empty() {
                names.insert(name.to_owned());
            }
        }
    }
    if workers.len() != processes * threads {
        eprintln!(
            "stress-prober: {} of {} workers reported",
            workers.len(),
            processes * threads
        );
        ok = false;
    }
    let mut out = std::io::stdout().lock();
    for name in &names {
        writeln!(out, "{name}").expect("writing stdout");
    }
    eprintln!(
        "stress-prober: {} workers in {processes} processes made {} distinct rare syscalls",
        workers.len(),
        names.len()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One process: `threads` workers released together by a barrier.
fn process(p: usize, threads: usize, millis: &str) -> ExitCode {
    let millis: Option<u64> = (millis != "quiet").then(|| parse(millis));
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let barrier = Arc::clone(&barrier);
            let w = p * threads + t;
            thread::spawn(move || {
                barrier.wait();
                match millis {
                    Some(ms) => work(w, Duration::from_millis(ms)),
                    None => Vec::new(),
                }
            })
        })
        .collect();
    let mut report = String::new();
    for (t, handle) in handles.into_iter().enumerate() {
        let w = p * threads + t;
        let made = handle.join().expect("a worker thread panicked");
        // One line per worker even when it made nothing, so the coordinator can count them.
        report.push_str(&format!("w{w} \n"));
        for name in made {
            report.push_str(&format!("w{w} {name}\n"));
        }
    }
    std::io::stdout()
        .write_all(report.as_bytes())
        .expect("writing stdout");
    ExitCode::SUCCESS
}

/// Worker `w`: its HOT pair in a tight loop for `length`, and ONCE[w] (if any) exactly once, at
/// a fraction of the run that depends on `w`. Returns the names it made.
fn work(w: usize, length: Duration) -> Vec<&'static str> {
    let a = w % HOT.len();
    // Distinct pairs for up to 16 x 7 workers: the offset (1..=7) never wraps to the same pair.
    let b = (a + 1 + (w / HOT.len()) % 7) % HOT.len();
    let once = ONCE.get(w);
    let once_at = length.mul_f64(((w * 37) % 90) as f64 / 100.0 + 0.05);
    let mut once_done = false;
    let start = Instant::now();
    let mut made = vec![HOT[a], HOT[b]];
    loop {
        for _ in 0..64 {
            call(HOT[a]);
            call(HOT[b]);
        }
        let elapsed = start.elapsed();
        if let Some(name) = once {
            if !once_done && elapsed >= once_at {
                call(name);
                made.push(name);
                once_done = true;
            }
        }
        if elapsed >= length && (once.is_none() || once_done) {
            break;
        }
    }
    made
}
