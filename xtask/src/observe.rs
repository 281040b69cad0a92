//! `cargo xtask observe-runtimes`: what each installed OCI runtime does after it loads a
//! container's seccomp filter, observed over many container starts.
//!
//! Between loading the filter and exec'ing the entrypoint, runc keeps running Go code, and which
//! syscalls its runtime makes there depends on scheduling (`futex`, `epoll_pwait`, `nanosleep`,
//! `tgkill` come and go from one start to the next). One recording cannot be trusted to list
//! them, so profile-gen adds the union observed here for the runtime that will run the profile.
//! This task regenerates that data (`profile-gen/data/runtime-after-filter.json`) from real
//! starts: each runtime runs a busybox container N times under a permissive filter with syscage
//! as its createRuntime hook, and the syscalls of every recording's `runtime_after_filter`
//! phase are united.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

use crate::shell::{run, Cmd};

const RUNTIMES: [&str; 2] = ["runc", "crun"];
pub(crate) const DATA_FILE: &str = "profile-gen/data/runtime-after-filter.json";

pub(crate) fn observe(syscage: &Path, runs: usize) -> Result<()> {
    anyhow::ensure!(
        crate::shell::is_root(),
        "observe-runtimes runs containers: run it as root"
    );
    let work = std::env::temp_dir().join(format!("syscage-observe-{}", std::process::id()));
    let result = observe_in(&work, syscage, runs);
    let _ = fs::remove_dir_all(&work);
    result
}

fn observe_in(work: &Path, syscage: &Path, runs: usize) -> Result<()> {
    // Half the starts run while every CPU is busy: preemption is what makes the Go runtime's
    // rarer calls (signals between threads, yields) show up.
    let cpus = std::thread::available_parallelism().map_or(2, usize::from);
    let mut runtimes = BTreeMap::new();
    for runtime in RUNTIMES {
        let version = Cmd::new(runtime)
            .args(["--version"])
            .output_if_ok()
            .with_context(|| format!("{runtime} is not installed"))?;
        let version = version.lines().next().unwrap_or_default().to_owned();
        let bundle = work.join(runtime);
        let outputs = work.join(format!("{runtime}-profiles"));
        fs::create_dir_all(&outputs)?;
        make_bundle(&bundle, runtime, syscage, &outputs)?;
        let mut after_filter = BTreeSet::new();
        let mut load = Vec::new();
        for i in 0..runs {
            if i == runs / 2 {
                for _ in 0..cpus {
                    load.push(
                        std::process::Command::new("sh")
                            .args(["-c", "while :; do :; done"])
                            .spawn()?,
                    );
                }
            }
            let id = format!("syscage-observe-{}-{runtime}-{i}", std::process::id());
            let status = Cmd::new(runtime)
                .args(["run", "--bundle"])
                .arg_path(&bundle)
                .args([id.as_str()])
                .status()?;
            let _ = Cmd::new(runtime)
                .args(["delete", "-f", id.as_str()])
                .output_if_ok();
            if !status.success() {
                bail!("{runtime} run {id} failed: {status}");
            }
            let recording = wait_for(&outputs.join(format!("{id}.recording.json")))?;
            let recording: Value = serde_json::from_str(&recording)?;
            anyhow::ensure!(
                !recording["phases"]["filter_loaded_us"].is_null(),
                "{id}: syscage saw no filter load; cannot tell what {runtime} does after it"
            );
            for syscall in recording["syscalls"].as_array().context("syscalls")? {
                let after = syscall["phases"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == "runtime_after_filter"));
                if after {
                    after_filter.insert(syscall["name"].as_str().context("name")?.to_owned());
                }
            }
        }
        for mut busy in load {
            let _ = busy.kill();
            let _ = busy.wait();
        }
        eprintln!("xtask: {runtime} ({version}), {runs} starts: {} syscalls after the filter: {after_filter:?}", after_filter.len());
        runtimes.insert(
            runtime,
            json!({"version": version, "runs": runs, "after_filter": after_filter}),
        );
    }
    let data = json!({
        "about": "Syscalls each OCI runtime made between loading a container's seccomp filter and exec'ing its entrypoint, united over many starts of a busybox container (half of them with every CPU busy) on Debian 12 / Linux 6.18 x86_64. Regenerate with `sudo cargo xtask observe-runtimes`.",
        "runtimes": runtimes,
    });
    let mut text = serde_json::to_string_pretty(&data)?;
    text.push('\n');
    fs::write(DATA_FILE, text).with_context(|| format!("writing {DATA_FILE}"))?;
    eprintln!("xtask: wrote {DATA_FILE}");
    Ok(())
}

/// A busybox bundle whose container runs `true` under a filter that allows everything but
/// `reboot` (so that the runtime loads one), with syscage as its createRuntime hook.
fn make_bundle(bundle: &Path, runtime: &str, syscage: &Path, outputs: &Path) -> Result<()> {
    let bin = bundle.join("rootfs/bin");
    fs::create_dir_all(&bin)?;
    fs::create_dir_all(bundle.join("rootfs/tmp"))?;
    fs::copy("/bin/busybox", bin.join("busybox"))
        .context("copying /bin/busybox (Debian's busybox-static)")?;
    for applet in ["sh", "true"] {
        symlink("busybox", bin.join(applet))?;
    }
    let _ = fs::remove_file(bundle.join("config.json"));
    run(Cmd::new(runtime)
        .args(["spec", "--bundle"])
        .arg_path(bundle))?;
    let config_path = bundle.join("config.json");
    let mut config: Value = serde_json::from_str(&fs::read_to_string(&config_path)?)?;
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(["/bin/true"]);
    config["root"]["path"] = json!(bundle.join("rootfs"));
    config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]
    });
    config["hooks"] = json!({"createRuntime": [{
        "path": syscage,
        "args": ["syscage", "oci-hook", "--output-dir", outputs]
    }]});
    fs::write(&config_path, serde_json::to_string_pretty(&config)?)?;
    Ok(())
}

fn wait_for(path: &PathBuf) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            bail!("{} did not appear", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
