//! Real containers for the end-to-end tests: busybox bundles run by runc and crun, a busybox
//! image run by containerd's `ctr` or imported into Podman, and the phases of a container
//! recording.
//!
//! Every container and image gets a name unique to this test process and is removed by a guard's
//! `Drop`, so a failed assertion leaves nothing running. A missing runtime or tool fails the test
//! with what to install; nothing is skipped.

use std::{
    collections::BTreeSet,
    fs,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::{
    allowed_names, cgroup2_mount, describe, read_json, recording_names, recording_syscalls,
    require_root, run, spawn, syscage_bin, unique_name, v1_hierarchy_has, wait, wait_status,
    write_json, Outcome, ALWAYS_ALLOWED,
};

/// How long a container (or `ctr run`) may take before the test calls it hung.
pub(crate) const CONTAINER_DEADLINE: Duration = Duration::from_secs(60);

/// The busybox applets the containers use, as symlinks in their /bin.
const APPLETS: [&str; 12] = [
    "sh", "echo", "cat", "mkdir", "rmdir", "rm", "ls", "sleep", "uname", "ln", "touch", "true",
];

/// A seccomp profile that lets everything through (it denies only `reboot`, so that the runtime
/// has a filter to load). Recording a container under it shows syscage where the runtime loads
/// the filter, so the profile can leave out what the runtime did before. `SCMP_ACT_ALLOW`, not
/// `SCMP_ACT_LOG`: the filter load is what matters, and LOG would write every syscall of every
/// test container to the kernel's audit log.
pub(crate) fn permissive_seccomp() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": [native_arch()],
        "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]
    })
}

/// libseccomp's name of this machine's architecture.
pub(crate) fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        other => panic!("the container tests know no seccomp architecture name for {other}"),
    }
}

/// The syscalls syscage's data says `runtime` makes after loading the filter (observed over
/// many starts with `cargo xtask observe-runtimes`); containerd runs containers through runc.
pub(crate) fn observed_after_filter(runtime: &str) -> BTreeSet<String> {
    let data: Value = serde_json::from_str(include_str!(
        "../../../profile-gen/data/runtime-after-filter.json"
    ))
    .expect("profile-gen/data/runtime-after-filter.json is JSON");
    let key = match runtime {
        "containerd" => "runc",
        other => other,
    };
    data["runtimes"][key]["after_filter"]
        .as_array()
        .unwrap_or_else(|| panic!("no observations for runtime {runtime:?} in profile-gen/data"))
        .iter()
        .map(|n| n.as_str().expect("name").to_owned())
        .collect()
}

/// Fails the test unless `program` is on PATH, saying which Debian package has it.
#[track_caller]
pub(crate) fn require_tool(program: &str, package: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| dir.join(program).is_file());
    assert!(
        found,
        "`{program}` is not installed (not on PATH): install the Debian package {package}; \
         `cargo xtask test` installs it"
    );
}

/// Runs a short administrative command (runtime `state`, `spec`, umoci, ctr image handling) to
/// its end, with output captured, and panics with everything it printed unless it succeeded.
#[track_caller]
pub(crate) fn run_ok(cmd: &mut Command) -> String {
    let outcome = run(cmd);
    outcome.assert_code(0);
    outcome.stdout
}

/// Both streams of an outcome, for looking for a message wherever the runtime put it.
pub(crate) fn all_output(outcome: &Outcome) -> String {
    format!("{}{}", outcome.stdout, outcome.stderr)
}

/// The OCI runtimes that run bundles directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Runc,
    Crun,
}

impl Runtime {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Runc => "runc",
            Self::Crun => "crun",
        }
    }

    /// `runc`/`crun` as a command, after checking it is installed (and, for crun, that it can
    /// run containers with this machine's cgroup layout).
    #[track_caller]
    pub(crate) fn command(self) -> Command {
        require_root();
        require_tool(self.name(), self.name());
        if self == Self::Crun {
            prepare_crun_for_hybrid_cgroups();
        }
        Command::new(self.name())
    }
}

/// crun 1.8 refuses to run on hybrid cgroup hosts (cgroup v1 controllers, cgroup2 at
/// `/sys/fs/cgroup/unified`) with "cgroups in hybrid mode not supported, drop all controllers
/// from cgroupv2" unless the hugetlb controller is bound to a v1 hierarchy, which Debian's
/// hybrid layout does not do. This binds it (`mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup
/// -o hugetlb cgroup /sys/fs/cgroup/hugetlb`), only on hybrid hosts where no v1 hierarchy has
/// hugetlb yet; unified hosts and hosts that have it are left alone. The mount stays: it is what
/// an administrator running crun on such a host does once.
#[track_caller]
pub(crate) fn prepare_crun_for_hybrid_cgroups() {
    if cgroup2_mount() == Path::new("/sys/fs/cgroup") {
        return; // unified: crun is happy.
    }
    let hugetlb_bound = v1_hierarchy_has("hugetlb");
    if hugetlb_bound {
        return;
    }
    eprintln!(
        "hybrid cgroups and no v1 hugetlb hierarchy: mounting one at /sys/fs/cgroup/hugetlb, \
         without which crun refuses to run containers here"
    );
    fs::create_dir_all("/sys/fs/cgroup/hugetlb").expect("creating /sys/fs/cgroup/hugetlb");
    run_ok(Command::new("mount").args([
        "-t",
        "cgroup",
        "-o",
        "hugetlb",
        "cgroup",
        "/sys/fs/cgroup/hugetlb",
    ]));
}

/// Fills `rootfs` with a static busybox, its applets and the mount points a runtime needs.
#[track_caller]
pub(crate) fn fill_rootfs(rootfs: &Path) {
    let bin = rootfs.join("bin");
    fs::create_dir_all(&bin).expect("creating rootfs/bin");
    for dir in ["proc", "dev", "sys", "tmp"] {
        fs::create_dir_all(rootfs.join(dir)).expect("creating a mount point");
    }
    fs::copy("/bin/busybox", bin.join("busybox")).expect(
        "copying /bin/busybox: install the Debian package busybox-static (a static busybox, the \
         containers have no libc); `cargo xtask test` installs it",
    );
    for applet in APPLETS {
        symlink("busybox", bin.join(applet)).expect("linking an applet");
    }
}

/// Packs the contents of `dir` into the tar archive `tar`, as image importers take them.
#[track_caller]
fn tar_of(dir: &Path, tar: &Path) {
    run_ok(
        Command::new("tar")
            .arg("-cf")
            .arg(tar)
            .arg("-C")
            .arg(dir)
            .arg("."),
    );
}

/// An OCI bundle for runc or crun: a busybox rootfs and the runtime's own `spec`, with `script`
/// as the container's `/bin/sh -c` command, no terminal and a writable root.
pub(crate) struct Bundle {
    pub(crate) dir: PathBuf,
    pub(crate) runtime: Runtime,
}

impl Bundle {
    #[track_caller]
    pub(crate) fn new(parent: &Path, name: &str, runtime: Runtime, script: &str) -> Self {
        let dir = parent.join(name);
        fill_rootfs(&dir.join("rootfs"));
        run_ok(runtime.command().arg("spec").current_dir(&dir));
        let bundle = Self { dir, runtime };
        bundle.edit_config(|config| {
            config["process"]["args"] = json!(["/bin/sh", "-c", script]);
            config["process"]["terminal"] = json!(false);
            config["root"]["readonly"] = json!(false);
        });
        bundle
    }

    pub(crate) fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    #[track_caller]
    pub(crate) fn edit_config(&self, edit: impl FnOnce(&mut Value)) {
        let path = self.dir.join("config.json");
        let mut config = read_json(&path);
        edit(&mut config);
        write_json(&path, &config);
    }

    /// Sets (or, with `None`, removes) `linux.seccomp`.
    #[track_caller]
    pub(crate) fn set_seccomp(&self, seccomp: Option<&Value>) {
        self.edit_config(|config| match seccomp {
            Some(s) => config["linux"]["seccomp"] = s.clone(),
            None => {
                if let Some(linux) = config["linux"].as_object_mut() {
                    linux.remove("seccomp");
                }
            }
        });
    }

    /// Adds syscage as the `createRuntime` hook, the way the README tells users to, writing into
    /// `output_dir` and logging the background recorder's messages to `log`.
    #[track_caller]
    pub(crate) fn set_oci_hook(&self, output_dir: &Path, log: &Path) {
        let bin = fs::canonicalize(syscage_bin()).expect("resolving the syscage binary's path");
        self.edit_config(|config| {
            config["hooks"] = json!({"createRuntime": [{
                "path": bin,
                "args": ["syscage", "oci-hook", "--output-dir", output_dir, "--log", log],
            }]});
        });
    }

    /// Removes the hook again (runs that check a profile do not record).
    #[track_caller]
    pub(crate) fn remove_hooks(&self) {
        self.edit_config(|config| {
            if let Some(config) = config.as_object_mut() {
                config.remove("hooks");
            }
        });
    }

    /// Empties the container's /tmp, so every run starts from the same files.
    #[track_caller]
    pub(crate) fn reset_tmp(&self) {
        let tmp = self.rootfs().join("tmp");
        fs::remove_dir_all(&tmp).expect("emptying the container's /tmp");
        fs::create_dir(&tmp).expect("creating the container's /tmp");
    }

    /// `<runtime> run` in the foreground: the container runs to its end, its output captured.
    /// The container is deleted afterwards whatever happened.
    #[track_caller]
    pub(crate) fn run(&self, container: &Container) -> Outcome {
        assert_eq!(
            container.runtime, self.runtime,
            "container and bundle disagree"
        );
        let mut cmd = self.runtime.command();
        cmd.args(["run", "--bundle"])
            .arg(&self.dir)
            .arg(&container.id);
        let child = spawn(&mut cmd);
        wait(child, describe(&cmd), CONTAINER_DEADLINE)
    }

    /// `<runtime> run -d`: starts the container and returns while it runs. Its stdio are
    /// /dev/null (a detached container would otherwise hold the test's pipes open).
    #[track_caller]
    pub(crate) fn start_detached(&self, tag: &str) -> Container {
        let container = Container::new(self.runtime, tag);
        let stderr_path = self.dir.join(format!("{}.stderr", container.id));
        let stderr = fs::File::create(&stderr_path).expect("creating a file for runc's stderr");
        let mut cmd = self.runtime.command();
        cmd.args(["run", "-d", "--bundle"])
            .arg(&self.dir)
            .arg(&container.id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", describe(&cmd)));
        let status = wait_status(&mut child, CONTAINER_DEADLINE, &describe(&cmd));
        assert!(
            status.success(),
            "{} failed: {status}\n{}",
            describe(&cmd),
            fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        container
    }
}

/// A runc or crun container id unique to this run; `<runtime> delete -f` on drop, so a failed
/// assertion or a panic leaves no container (or its cgroup) behind.
pub(crate) struct Container {
    pub(crate) runtime: Runtime,
    pub(crate) id: String,
}

impl Container {
    pub(crate) fn new(runtime: Runtime, tag: &str) -> Self {
        Self {
            runtime,
            id: unique_name(tag),
        }
    }

    /// The pid of the container's init process, from `<runtime> state`.
    #[track_caller]
    pub(crate) fn init_pid(&self) -> u32 {
        let state = run_ok(Command::new(self.runtime.name()).args(["state", &self.id]));
        let state: Value = serde_json::from_str(&state).unwrap_or_else(|e| {
            panic!(
                "{} state {}: not JSON ({e}):\n{state}",
                self.runtime.name(),
                self.id
            )
        });
        state["pid"]
            .as_u64()
            .and_then(|pid| u32::try_from(pid).ok())
            .filter(|&pid| pid > 0)
            .unwrap_or_else(|| {
                panic!(
                    "{} state {}: no pid:\n{state}",
                    self.runtime.name(),
                    self.id
                )
            })
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // `run` in the foreground deletes a container that ran to its end; this is for the other
        // cases, so "does not exist" is expected and ignored.
        let _ = Command::new(self.runtime.name())
            .args(["delete", "-f", &self.id])
            .output();
    }
}

/// Checks that containerd answers `ctr`, with what to do if it does not.
#[track_caller]
pub(crate) fn require_containerd() {
    require_root();
    require_tool("containerd", "containerd");
    require_tool("ctr", "containerd");
    let answer = Command::new("ctr").arg("version").output();
    let running = answer.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        running,
        "containerd does not answer `ctr version` (socket /run/containerd/containerd.sock): start \
         it (`containerd &` as root); `cargo xtask test` installs and starts it\n{answer:?}"
    );
}

/// A busybox image imported into containerd (namespace `default`) from an OCI layout that umoci
/// builds out of the same rootfs the runc and crun tests use. Removed from containerd on drop.
pub(crate) struct CtrImage {
    pub(crate) reference: String,
}

impl CtrImage {
    #[track_caller]
    pub(crate) fn build(work: &Path) -> Self {
        require_containerd();
        require_tool("umoci", "umoci");
        let layout = work.join("image-layout");
        let unpacked = work.join("image-bundle");
        let tag = unique_name("busybox");
        let image = format!("{}:{tag}", layout.display());
        run_ok(
            Command::new("umoci")
                .arg("init")
                .arg("--layout")
                .arg(&layout),
        );
        run_ok(Command::new("umoci").args(["new", "--image", &image]));
        run_ok(
            Command::new("umoci")
                .args(["unpack", "--rootless", "--image", &image])
                .arg(&unpacked),
        );
        fill_rootfs(&unpacked.join("rootfs"));
        run_ok(
            Command::new("umoci")
                .args(["repack", "--image", &image])
                .arg(&unpacked),
        );
        run_ok(Command::new("umoci").args([
            "config",
            "--image",
            &image,
            "--config.cmd",
            "/bin/sh",
        ]));
        let tar = work.join("image.tar");
        tar_of(&layout, &tar);
        let base = "syscage-e2e.test/busybox";
        let imported = run_ok(
            Command::new("ctr")
                .args(["images", "import", "--base-name", base])
                .arg(&tar),
        );
        let reference = format!("{base}:{tag}");
        assert!(
            imported.contains(&reference),
            "ctr images import did not report {reference}:\n{imported}"
        );
        Self { reference }
    }

    /// `ctr run --rm --seccomp --seccomp-profile PROFILE IMAGE ID /bin/sh -c SCRIPT`, to its end.
    #[track_caller]
    pub(crate) fn run(&self, container: &CtrContainer, profile: &Path, script: &str) -> Outcome {
        let mut cmd = Command::new("ctr");
        cmd.args(["run", "--rm", "--seccomp", "--seccomp-profile"])
            .arg(profile)
            .args([
                self.reference.as_str(),
                container.id.as_str(),
                "/bin/sh",
                "-c",
                script,
            ]);
        let child = spawn(&mut cmd);
        wait(child, describe(&cmd), CONTAINER_DEADLINE)
    }
}

impl Drop for CtrImage {
    fn drop(&mut self) {
        let _ = Command::new("ctr")
            .args(["images", "rm", &self.reference])
            .output();
    }
}

/// A containerd container id unique to this run; its task and container (and snapshot) are
/// removed on drop. `ctr run --rm` removes them itself when the container ends normally.
pub(crate) struct CtrContainer {
    pub(crate) id: String,
}

impl CtrContainer {
    pub(crate) fn new(tag: &str) -> Self {
        Self {
            id: unique_name(tag),
        }
    }
}

impl Drop for CtrContainer {
    fn drop(&mut self) {
        let _ = Command::new("ctr")
            .args(["tasks", "rm", "-f", &self.id])
            .output();
        let _ = Command::new("ctr")
            .args(["containers", "rm", &self.id])
            .output();
    }
}

/// Which phases each syscall of a container recording was seen in.
pub(crate) struct PhaseSets {
    /// Seen only before the runtime loaded the filter: never runs under the profile.
    pub(crate) setup_only: BTreeSet<String>,
    /// Seen after the filter was loaded and before the entrypoint's exec.
    pub(crate) after_filter: BTreeSet<String>,
    /// Seen from the entrypoint's exec on.
    pub(crate) workload: BTreeSet<String>,
}

impl PhaseSets {
    #[track_caller]
    pub(crate) fn of(recording: &Value) -> Self {
        let mut sets = Self {
            setup_only: BTreeSet::new(),
            after_filter: BTreeSet::new(),
            workload: BTreeSet::new(),
        };
        for entry in recording_syscalls(recording) {
            let name = entry["name"]
                .as_str()
                .unwrap_or_else(|| panic!("a syscall libseccomp does not name: {entry}"))
                .to_owned();
            // Absent means workload (RECORDING_FORMAT.md).
            let phases: Vec<&str> = match entry.get("phases") {
                None => vec!["workload"],
                Some(p) => p
                    .as_array()
                    .unwrap_or_else(|| panic!("phases is not an array: {entry}"))
                    .iter()
                    .map(|p| {
                        p.as_str()
                            .unwrap_or_else(|| panic!("phase is not a string: {entry}"))
                    })
                    .collect(),
            };
            for phase in &phases {
                match *phase {
                    "runtime_setup" => {}
                    "runtime_after_filter" => {
                        sets.after_filter.insert(name.clone());
                    }
                    "workload" => {
                        sets.workload.insert(name.clone());
                    }
                    other => panic!("unknown phase {other}: {entry}"),
                }
            }
            if phases == ["runtime_setup"] {
                sets.setup_only.insert(name);
            }
        }
        sets
    }

    /// What a profile must allow: everything that ran under the filter, and [`ALWAYS_ALLOWED`].
    pub(crate) fn needed_under_filter(&self) -> BTreeSet<String> {
        let mut needed: BTreeSet<String> =
            self.after_filter.union(&self.workload).cloned().collect();
        needed.extend(ALWAYS_ALLOWED.map(String::from));
        needed
    }

    /// In the profile only because the runtime made them after loading the filter.
    pub(crate) fn runtime_only(&self) -> BTreeSet<String> {
        self.after_filter
            .difference(&self.workload)
            .cloned()
            .collect()
    }
}

/// Syscalls only a runtime's setup makes (before any filter is loaded): never in a profile.
pub(crate) const SETUP_ONLY: [&str; 2] = ["pivot_root", "mount"];

/// The checks every recorded container passes, whichever runtime started it: recording began
/// before user code ran; the filter load and the entrypoint's exec were seen, in that order; the
/// entrypoint's `execve` ran under the filter and `mkdir` in the workload; `pivot_root` and
/// `mount` are setup only and not allowed; and the profile allows exactly what ran under the
/// filter plus the always-allowed syscalls plus what `runtime` was observed doing after the
/// filter in other starts. Prints the figures under `label`.
#[track_caller]
pub(crate) fn check_container_phases(
    recording: &Value,
    profile: &Value,
    runtime: &str,
    label: &str,
    context: &str,
) {
    let phases = &recording["phases"];
    assert_eq!(
        phases["started_in"], "runtime_setup",
        "recording began before the container ran user code\n{context}"
    );
    let filter = phases["filter_loaded_us"]
        .as_u64()
        .unwrap_or_else(|| panic!("the permissive filter's load was not seen\n{context}"));
    let exec = phases["entrypoint_exec_us"]
        .as_u64()
        .unwrap_or_else(|| panic!("the entrypoint's exec was not seen\n{context}"));
    assert!(
        filter <= exec,
        "the filter is loaded before the entrypoint's exec ({filter} > {exec} µs)\n{context}"
    );

    let sets = PhaseSets::of(recording);
    // The runtime execs the entrypoint under the filter: that exec is the runtime's, after it.
    assert!(
        sets.after_filter.contains("execve"),
        "execve is not in runtime_after_filter: {:?}\n{context}",
        sets.after_filter
    );
    assert!(
        sets.workload.contains("mkdir"),
        "mkdir is not a workload syscall: {:?}\n{context}",
        sets.workload
    );
    let allowed = allowed_names(profile);
    // What the runtime was seen doing after the filter load in other starts is allowed too (a
    // single start of runc may not show futex or tgkill; see profile-gen/data).
    let observed = observed_after_filter(runtime);
    for name in SETUP_ONLY {
        assert!(
            sets.setup_only.contains(name),
            "{name} (the runtime's setup) is not recorded as runtime_setup only: {:?}\n{context}",
            sets.setup_only
        );
        assert!(
            !allowed.contains(name),
            "the profile allows {name}, which only the runtime's setup made\n{context}"
        );
    }
    let leaked: Vec<_> = sets
        .setup_only
        .intersection(&allowed)
        .filter(|name| !observed.contains(*name))
        .collect();
    assert!(
        leaked.is_empty(),
        "the profile allows {leaked:?}, seen only before the filter load\n{context}"
    );
    let mut expected = sets.needed_under_filter();
    expected.extend(observed.iter().cloned());
    assert_eq!(
        allowed, expected,
        "the profile must allow exactly what ran under the filter (runtime_after_filter and \
         workload) plus {ALWAYS_ALLOWED:?} plus what {runtime} was observed doing after the filter \
         in other starts\n{context}"
    );

    let runtime_only = sets.runtime_only();
    eprintln!(
        "FIGURES {label}: profile allows {} names; {} of them only because the runtime made them \
         after the filter load: {runtime_only:?}; after-filter set: {:?}; {} names seen only in \
         the runtime's setup, left out; {} names in the whole recording",
        allowed.len(),
        runtime_only.len(),
        sets.after_filter,
        sets.setup_only.len(),
        recording_names(recording).len(),
    );
}

// ---------------------------------------------------------------------------------------------
// Podman.

/// Podman's global options, the same for every podman command of the tests:
/// - `--cgroup-manager cgroupfs`: no systemd runs as PID 1 here (Podman picks cgroupfs by itself
///   then; said explicitly because the tests check the cgroupfs path `/libpod_parent/libpod-<id>`);
/// - `--events-backend file`: no journald here either (again Podman's own choice without it).
const PODMAN_GLOBAL_OPTIONS: [&str; 4] =
    ["--cgroup-manager", "cgroupfs", "--events-backend", "file"];

/// The container options of every `podman run` of the tests, besides the runtime, seccomp and
/// annotations:
/// - `--network none`: the workload needs no network, and Podman's default bridge would add a
///   `cni-podman0` interface and iptables chains to the host;
/// - `--ulimit nofile=...,nproc=...`: rootful Podman 4.3 writes `RLIMIT_NOFILE` 1048576 into the
///   container's config by default, and the runtime's `setrlimit` then fails with EPERM ("crun:
///   setrlimit `RLIMIT_NOFILE`: Operation not permitted: OCI permission denied", exit 126) where
///   root lacks `CAP_SYS_RESOURCE` and the hard limit is lower, as in this project's sandboxes
///   (nofile 20000). NPROC likewise (conmon runs with 32768). 1024 is below any sane hard limit.
pub(crate) const PODMAN_RUN_OPTIONS: [&str; 6] = [
    "--network",
    "none",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// `podman PODMAN_GLOBAL_OPTIONS ...`.
pub(crate) fn podman_command() -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(PODMAN_GLOBAL_OPTIONS);
    cmd
}

/// A busybox image imported into Podman's store from the rootfs the other container tests use
/// (`tar -C ROOTFS -c . | podman import - REF`). Removed on drop.
pub(crate) struct PodmanImage {
    pub(crate) reference: String,
}

impl PodmanImage {
    #[track_caller]
    pub(crate) fn import(work: &Path) -> Self {
        let rootfs = work.join("image-rootfs");
        fill_rootfs(&rootfs);
        let reference = format!("localhost/syscage-e2e-busybox:{}", unique_name("busybox"));
        let tar = work.join("image.tar");
        tar_of(&rootfs, &tar);
        let image = Self { reference };
        run_ok(
            podman_command()
                .arg("import")
                .arg(&tar)
                .arg(&image.reference),
        );
        image
    }
}

impl Drop for PodmanImage {
    fn drop(&mut self) {
        let _ = podman_command()
            .args(["rmi", "-f", &self.reference])
            .stdin(Stdio::null())
            .output();
    }
}
