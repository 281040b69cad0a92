//! `cargo xtask`: everything around the product that is not the product: installing what a
//! fresh machine lacks, building, recording a workload, and the privileged test suites.
//!
//! Each step checks before it changes anything, so running a command twice costs only the
//! checks. Privileged steps use `sudo` when not already root.

mod bench;
mod fuzz;
mod image;
mod observe;
mod quality;
mod setup;
mod shell;

use std::{ffi::OsString, path::PathBuf};

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

use crate::shell::{run, Cmd};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "syscage's build, setup and test tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install what building and running syscage needs (Debian packages, rust-src, bpf-linker
    /// built against this toolchain's own LLVM). Safe to run again.
    Setup {
        /// Also install what the test suites need (runc, busybox-static, gcc).
        #[arg(long)]
        tests: bool,
    },
    /// Set up, build syscage (release) and print the binary's path.
    Build,
    /// Set up, build syscage (release) and its node agent image, offline: `FROM scratch` with the
    /// binary and the libraries it links, loaded into Podman as localhost/syscage-agent:VERSION
    /// and saved as target/image/syscage-agent.oci.tar (as root, for Podman's storage).
    Image,
    /// Set up, build, and run `syscage record` with the given arguments, as root.
    ///
    /// Example: cargo xtask record --output ls.json -- ls -l /
    Record {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<OsString>,
    },
    /// Set up, then run every test: unit tests, then the end-to-end suite as root (real eBPF,
    /// real seccomp, real runc). Extra arguments go to the end-to-end test binary.
    Test {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Measure syscage's overhead side by side with an empty eBPF program, bpftrace and strace,
    /// its attach time and memory, and generate/diff/merge on 1,000 recordings; print a
    /// Markdown table (as root; takes several minutes). Not part of `test`.
    Bench(bench::BenchArgs),
    /// Regenerate profile-gen/data/runtime-after-filter.json: what runc and crun do after
    /// loading a container's seccomp filter, united over many starts (as root).
    ObserveRuntimes {
        /// Container starts per runtime.
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// Run the real-workload suite (Debian's PostgreSQL, memcached, a Python web application
    /// and a forking server in runc, crun and Podman, each under its recorded profile with
    /// other traffic; as root) and write target/quality/report.md. Also part of `test`.
    Quality {
        /// Also write the table into README.md's "Profile quality on real servers" section.
        #[arg(long)]
        readme: bool,
    },
    /// Run each cargo-fuzz target (one per file reader: recordings, merged recordings, OCI,
    /// Docker and SPO profiles) for a while; fails if any finds a crash. Not part of `test`.
    Fuzz {
        /// How long to run each target.
        #[arg(long, default_value_t = 180)]
        seconds: u32,
        /// Only these targets (default: all).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // Paths the user gives (`record --output ls.json`) are relative to where they ran cargo.
    let user_dir = std::env::current_dir().context("reading the current directory")?;
    let root = workspace_root();
    std::env::set_current_dir(&root).with_context(|| format!("cd {}", root.display()))?;
    shell::put_cargo_bin_on_path();
    match cli.task {
        Task::Setup { tests } => setup::all(tests),
        Task::Build => {
            setup::all(false)?;
            let bin = build_syscage()?;
            println!("{}", bin.display());
            Ok(())
        }
        Task::Image => {
            setup::all(false)?;
            setup::image_tools()?;
            let bin = build_syscage()?;
            let archive = image::build(&root, &bin)?;
            println!("{}", archive.display());
            Ok(())
        }
        Task::Record { args } => {
            setup::all(false)?;
            let bin = build_syscage()?;
            let status = Cmd::new(&bin)
                .args(["record"])
                .args(args)
                .current_dir(user_dir)
                .with_sudo()
                .status()?;
            std::process::exit(status.code().unwrap_or(125));
        }
        Task::Test { args } => {
            setup::all(true)?;
            test(&args)
        }
        Task::Bench(args) => {
            setup::all(false)?;
            let bin = build_syscage()?;
            bench::run(&root, &bin, &args)
        }
        Task::ObserveRuntimes { runs } => {
            setup::all(true)?;
            let bin = build_syscage()?;
            observe::observe(&bin, runs)
        }
        Task::Quality { readme } => {
            setup::all(true)?;
            let bin = build_syscage()?;
            quality::run_suite(&root, &bin, readme)
        }
        Task::Fuzz { seconds, targets } => fuzz::run_all(&root, seconds, &targets),
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Builds the release `syscage` (which builds and embeds the eBPF object) and returns its path.
fn build_syscage() -> Result<PathBuf> {
    run(Cmd::new("cargo").args([
        "build",
        "--release",
        "--package",
        "tracer",
        "--bin",
        "syscage",
    ]))?;
    Ok(workspace_root().join("target/release/syscage"))
}

fn test(extra: &[OsString]) -> Result<()> {
    // Unit tests of every crate in the default members, with those a plain `cargo test` leaves
    // out because they need root, the kernel's BTF or Python tools (`#[ignore = "needs ..."]`).
    run(Cmd::new("cargo").args([
        "test",
        "--no-fail-fast",
        "--workspace",
        "--exclude",
        "tracer-ebpf",
        "--exclude",
        "syscage-e2e",
        "--",
        "--include-ignored",
    ]))?;
    let bin = build_syscage()?;
    // The node agent's test (k8s_agent.rs) runs this binary's image.
    image::build(&workspace_root(), &bin)?;
    // The end-to-end suite: built as the user, run as root, one test at a time because the
    // tests share kernel state (the attached program, the cgroup tree).
    run(Cmd::new("cargo").args(["test", "--release", "--package", "syscage-e2e", "--no-run"]))?;
    let cmd = Cmd::new("cargo")
        .args([
            "test",
            "--release",
            "--no-fail-fast",
            "--package",
            "syscage-e2e",
            "--",
            "--test-threads=1",
        ])
        .args(extra.iter().cloned())
        .env("SYSCAGE_BIN", &bin)
        .env("RUST_BACKTRACE", "1")
        .with_sudo();
    run(cmd)?;
    // The real-workload suite is not in the e2e run above (its target is only run by name):
    // Debian's servers under their recorded profiles; any false deny fails the test.
    quality::run_suite(&workspace_root(), &bin, false)
}
