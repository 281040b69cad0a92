//! Real servers from Debian's packages, in real containers, driven by their own clients: the
//! profile syscage records under one traffic pattern must carry the server through a different
//! one, a graceful shutdown and a restart, with no request failing.
//!
//! The servers run from a root filesystem that debootstrap builds from Debian's packages once
//! and keeps under `target/quality/` (keyed by the suite, the packages and the mount points), read
//! only, with tmpfs where a server writes, as the user the package made for it, with Docker's
//! default capabilities and the host's network (each test on a port of its own, so clients on
//! the host reach the server; clients run from the same root filesystem through `chroot`).
//!
//! For each server and runtime (runc, crun, Podman): record the container with syscage's OCI hook (and a permissive
//! filter, so the runtime's setup stays out of the profile) under traffic pattern A in rounds,
//! then run it under the recorded profile (its default action is an error) with traffic pattern
//! B: other keys, queries, sizes and concurrency, then a graceful stop, a restart with B again
//! and a second graceful stop. A failed client command or unclean stop under the profile that
//! does not happen under the permissive filter is a false deny. The figures
//! (profile size, what RuntimeDefault allows that the profile removes, the dangerous ones, false
//! denies, how many syscalls each round of A added) go to `target/quality/results/`, from which
//! `cargo xtask quality` writes its report.
//!
//! A second view: each server recorded on the host (`syscage record` of `chroot --userspec` into
//! the same root filesystem) under pattern B, merged with its runc recording; what only one of
//! them saw goes to `target/quality/host/`. A control test cuts a syscall the web application
//! needs from its profile and checks that the suite reports false denies.

mod common;

use std::{
    collections::BTreeSet,
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use common::{
    allowed_names,
    containers::{
        permissive_seccomp, podman_command, prepare_crun_for_hybrid_cgroups, require_tool, run_ok,
        Bundle, Container, PhaseSets, Runtime, PODMAN_RUN_OPTIONS,
    },
    default_recording_path, describe, profile_without, read_json, recording_names,
    recording_syscalls, spawn, syscage, syscage_bin, temp_dir, unique_name, wait, wait_for_outputs,
    write_json, Outcome, ENOSYS_FALLBACKS, PROFILE_DEADLINE,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// The tests: one per server and runtime.

#[test]
fn memcached_in_runc() {
    check_server(&MEMCACHED, Engine::Oci(Runtime::Runc));
}

#[test]
fn memcached_in_crun() {
    check_server(&MEMCACHED, Engine::Oci(Runtime::Crun));
}

#[test]
fn memcached_in_podman() {
    check_server(&MEMCACHED, Engine::Podman);
}

#[test]
fn postgresql_in_runc() {
    check_server(&POSTGRESQL, Engine::Oci(Runtime::Runc));
}

#[test]
fn postgresql_in_crun() {
    check_server(&POSTGRESQL, Engine::Oci(Runtime::Crun));
}

#[test]
fn postgresql_in_podman() {
    check_server(&POSTGRESQL, Engine::Podman);
}

#[test]
fn python_web_app_in_runc() {
    check_server(&WEB_APP, Engine::Oci(Runtime::Runc));
}

#[test]
fn python_web_app_in_crun() {
    check_server(&WEB_APP, Engine::Oci(Runtime::Crun));
}

#[test]
fn python_web_app_in_podman() {
    check_server(&WEB_APP, Engine::Podman);
}

#[test]
fn forking_file_server_in_runc() {
    check_server(&FORKING_FILES, Engine::Oci(Runtime::Runc));
}

#[test]
fn forking_file_server_in_crun() {
    check_server(&FORKING_FILES, Engine::Oci(Runtime::Crun));
}

#[test]
fn forking_file_server_in_podman() {
    check_server(&FORKING_FILES, Engine::Podman);
}

/// The check can fail: the web application's recorded profile without `pipe2` (which its
/// subprocess needs for the child's output, and nothing else in it uses) makes its /system
/// requests fail under pattern B, and the suite counts them as false denies.
#[test]
fn a_profile_missing_a_needed_syscall_shows_false_denies() {
    let recorded = record_server(&WEB_APP, Engine::Oci(Runtime::Runc));
    let cut = profile_without(&recorded.profile, &["pipe2"]);
    let cut_path = recorded.work.path().join("without-pipe2.json");
    write_json(&cut_path, &cut);
    let (failures, _) = run_pattern_b(&WEB_APP, &recorded, &cut_path, &cut);
    assert!(
        !failures.is_empty(),
        "{}: no false deny without pipe2; the check cannot see a broken profile",
        recorded.label
    );
    let all = failures.join("\n");
    assert!(
        all.contains("FAILED: /system"),
        "{}: expected the subprocess requests to fail without pipe2:\n{all}",
        recorded.label
    );
    // Without any profile the same traffic passes: those failures are the profile's.
    let permissive = permissive_seccomp();
    let permissive_path = recorded.work.path().join("permissive-for-b.json");
    write_json(&permissive_path, &permissive);
    let (without, _) = run_pattern_b(&WEB_APP, &recorded, &permissive_path, &permissive);
    assert!(
        without.is_empty(),
        "{}: pattern B fails without a profile too:\n{}",
        recorded.label,
        without.join("\n")
    );
}

#[test]
fn memcached_on_the_host_and_merged() {
    check_host_view(&MEMCACHED);
}

#[test]
fn postgresql_on_the_host_and_merged() {
    check_host_view(&POSTGRESQL);
}

#[test]
fn python_web_app_on_the_host_and_merged() {
    check_host_view(&WEB_APP);
}

#[test]
fn forking_file_server_on_the_host_and_merged() {
    check_host_view(&FORKING_FILES);
}

// ---------------------------------------------------------------------------------------------
// The servers.

/// A server of the suite: how its container runs it and how its clients drive it.
struct Server {
    name: &'static str,
    /// The user (from the root filesystem's /etc/passwd) the server runs as.
    user: &'static str,
    /// The container's command; `{port}` is replaced by the test's port.
    args: &'static [&'static str],
    /// tmpfs mounts where the server writes: (destination, options).
    tmpfs: &'static [(&'static str, &'static str)],
    /// The signal that stops it gracefully (exit status 0).
    stop_signal: &'static str,
    /// A client command that waits until the server answers (it retries for three minutes).
    ready: fn(port: u16) -> Vec<String>,
    /// The client commands (run in the root filesystem through chroot) that drive `pattern`
    /// ("a" or "b"), round `round`.
    traffic: fn(port: u16, pattern: &str, round: usize) -> Vec<Vec<String>>,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

const MEMCACHED: Server = Server {
    name: "memcached",
    user: "memcache",
    args: &[
        "/usr/bin/memcached",
        "--listen=127.0.0.1",
        "--port={port}",
        "--udp-port=0",
        "--threads=4",
        "--memory-limit=64",
    ],
    tmpfs: &[],
    stop_signal: "TERM",
    ready: |port| python_client("memcached_client.py", &[&port.to_string(), "ready", "0"]),
    traffic: |port, pattern, round| {
        vec![python_client(
            "memcached_client.py",
            &[&port.to_string(), pattern, &round.to_string()],
        )]
    },
};

const POSTGRESQL: Server = Server {
    name: "postgresql",
    user: "postgres",
    args: &[
        "/bin/sh",
        "-c",
        "/usr/lib/postgresql/15/bin/initdb --pgdata=/var/lib/postgresql/data --auth=trust \
         --username=postgres >/dev/null && exec /usr/lib/postgresql/15/bin/postgres \
         -D /var/lib/postgresql/data -c listen_addresses=127.0.0.1 -p {port} \
         -c unix_socket_directories=/run/postgresql",
    ],
    tmpfs: &[
        ("/var/lib/postgresql/data", "mode=0700"),
        ("/run/postgresql", "mode=0755"),
        ("/tmp", "mode=1777"),
    ],
    // Fast shutdown: rolls back open transactions, checkpoints, exits 0.
    stop_signal: "INT",
    ready: |port| pg_isready(&port.to_string()),
    traffic: |port, pattern, round| {
        let port = port.to_string();
        let pgbench = |extra: &[&str]| {
            let mut args: Vec<String> = [
                &format!("{PG_BIN}/pgbench"),
                "--host=127.0.0.1",
                "--port",
                &port,
                "--username=postgres",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(extra.iter().map(|s| s.to_string()));
            args.push("postgres".into());
            args
        };
        let mut commands = Vec::new();
        match (pattern, round) {
            ("a", 1) => commands.push(pgbench(&["--initialize", "--scale=1", "--quiet"])),
            ("a", _) => {}
            _ => commands.push(pgbench(&["--initialize", "--scale=2", "--quiet"])),
        }
        if pattern == "a" {
            // The built-in TPC-B-like transaction, one client.
            commands.push(pgbench(&["--client=1", "--transactions=100"]));
        } else {
            // Select-only with prepared statements at four clients, then the simple-update
            // script over the extended protocol at two.
            commands.push(pgbench(&[
                "--builtin=select-only",
                "--protocol=prepared",
                "--client=4",
                "--jobs=2",
                "--transactions=200",
            ]));
            commands.push(pgbench(&[
                "--builtin=simple-update",
                "--protocol=extended",
                "--client=2",
                "--transactions=100",
            ]));
        }
        commands
    },
};

const WEB_APP: Server = Server {
    name: "python-web-app",
    user: "nobody",
    args: &[
        "/usr/bin/python3",
        "-B",
        "/opt/quality/web_app.py",
        "{port}",
    ],
    tmpfs: &[("/tmp", "mode=1777")],
    stop_signal: "TERM",
    ready: |port| python_client("http_client.py", &[&port.to_string(), "web", "ready", "0"]),
    traffic: |port, pattern, round| {
        vec![python_client(
            "http_client.py",
            &[&port.to_string(), "web", pattern, &round.to_string()],
        )]
    },
};

const FORKING_FILES: Server = Server {
    name: "python-forking-file-server",
    user: "nobody",
    args: &[
        "/usr/bin/python3",
        "-B",
        "/opt/quality/forking_server.py",
        "{port}",
    ],
    tmpfs: &[],
    stop_signal: "TERM",
    ready: |port| {
        python_client(
            "http_client.py",
            &[&port.to_string(), "files", "ready", "0"],
        )
    },
    traffic: |port, pattern, round| {
        vec![python_client(
            "http_client.py",
            &[&port.to_string(), "files", pattern, &round.to_string()],
        )]
    },
};

/// The Python programs the servers and clients run, installed into each test's script
/// directory (bind-mounted read-only at /opt/quality in the container; clients get them as
/// `python3 -c`).
const SCRIPTS: [(&str, &str); 4] = [
    (
        "memcached_client.py",
        include_str!("real_workloads/memcached_client.py"),
    ),
    (
        "http_client.py",
        include_str!("real_workloads/http_client.py"),
    ),
    ("web_app.py", include_str!("real_workloads/web_app.py")),
    (
        "forking_server.py",
        include_str!("real_workloads/forking_server.py"),
    ),
];

/// `python3 -c <script> ARGS...` (its `sys.argv[0]` is `-c`): the chroot has no /opt/quality.
fn python_client(script: &str, args: &[&str]) -> Vec<String> {
    let source = SCRIPTS
        .iter()
        .find(|(name, _)| *name == script)
        .unwrap_or_else(|| panic!("no script {script}"))
        .1;
    let mut argv = vec![
        "/usr/bin/python3".into(),
        "-B".into(),
        "-c".into(),
        source.into(),
    ];
    argv.extend(args.iter().map(|s| s.to_string()));
    argv
}

/// `pg_isready` until it says yes, for up to three minutes.
fn pg_isready(port: &str) -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!(
            "i=0; until {PG_BIN}/pg_isready --quiet --host=127.0.0.1 --port={port}; do \
             i=$((i+1)); [ $i -lt 360 ] || exit 1; sleep 0.5; done"
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// The root filesystem.

const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
const PACKAGES: [&str; 4] = ["postgresql", "memcached", "python3", "python3-pymemcache"];
/// Mount points the containers need, made once: the root is read-only when they start.
const MOUNT_POINTS: [&str; 3] = ["opt/quality", "var/lib/postgresql/data", "run/postgresql"];
/// Written last into a finished root filesystem.
const COMPLETE_MARK: &str = ".syscage-quality-complete";

/// Where the suite keeps its root filesystem and results: `target/quality/`.
fn quality_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/quality")
}

/// The root filesystem, built with debootstrap unless a finished one for the same key exists.
#[track_caller]
fn rootfs() -> PathBuf {
    let key = fnv1a(&format!("{SUITE} {MIRROR} {PACKAGES:?} {MOUNT_POINTS:?}"));
    let dir = quality_dir().join(format!("rootfs-{SUITE}-{key:016x}"));
    if dir.join(COMPLETE_MARK).exists() {
        return dir;
    }
    require_tool("debootstrap", "debootstrap");
    let building = dir.with_extension("building");
    if building.exists() {
        fs::remove_dir_all(&building).expect("removing an unfinished root filesystem");
    }
    fs::create_dir_all(quality_dir()).expect("creating target/quality");
    let start = Instant::now();
    let mut cmd = Command::new("debootstrap");
    cmd.arg("--variant=minbase")
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(SUITE)
        .arg(&building)
        .arg(MIRROR);
    wait(spawn(&mut cmd), describe(&cmd), Duration::from_secs(3600)).assert_code(0);
    for mount_point in MOUNT_POINTS {
        fs::create_dir_all(building.join(mount_point)).expect("creating a mount point");
    }
    fs::write(building.join(COMPLETE_MARK), "").expect("marking the root filesystem complete");
    fs::rename(&building, &dir).expect("moving the root filesystem into place");
    eprintln!(
        "FIGURES rootfs: debootstrap of {PACKAGES:?} took {:?}; {}",
        start.elapsed(),
        run_ok(Command::new("du").arg("-sh").arg(&dir)).trim()
    );
    dir
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// (uid, gid) of `user` in the root filesystem's /etc/passwd.
#[track_caller]
fn user_ids(rootfs: &Path, user: &str) -> (u32, u32) {
    let passwd = fs::read_to_string(rootfs.join("etc/passwd")).expect("reading etc/passwd");
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields[0] == user)
        .map(|fields| {
            (
                fields[2].parse().expect("uid"),
                fields[3].parse().expect("gid"),
            )
        })
        .unwrap_or_else(|| panic!("no user {user} in {}/etc/passwd", rootfs.display()))
}

// ---------------------------------------------------------------------------------------------
// Containers.

/// Docker's default capability set (moby's `oci/caps/defaults.go`).
const DOCKER_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The server's command for `port`.
fn server_args(server: &Server, port: u16) -> Vec<String> {
    server
        .args
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect()
}

/// A free port on the loopback interface (the kernel's choice; free when this returns).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("asking the kernel for a free port")
        .port()
}

/// The bundle of `server` for `runtime`: the shared root filesystem read-only, tmpfs where it
/// writes, the scripts at /opt/quality, the host's network, Docker's capabilities.
#[track_caller]
fn server_bundle(
    work: &Path,
    scripts: &Path,
    rootfs: &Path,
    server: &Server,
    runtime: Runtime,
    port: u16,
) -> Bundle {
    let dir = work.join("bundle");
    fs::create_dir_all(&dir).expect("creating the bundle");
    run_ok(runtime.command().arg("spec").current_dir(&dir));
    let bundle = Bundle { dir, runtime };
    let (uid, gid) = user_ids(rootfs, server.user);
    let args = server_args(server, port);
    bundle.edit_config(|config| {
        config["root"] = json!({"path": rootfs, "readonly": true});
        let process = &mut config["process"];
        process["args"] = json!(args);
        process["terminal"] = json!(false);
        process["cwd"] = json!("/");
        process["user"] = json!({"uid": uid, "gid": gid});
        process["env"] = json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
            "HOME=/tmp",
        ]);
        process["capabilities"] = json!({
            "bounding": DOCKER_CAPABILITIES,
            "effective": DOCKER_CAPABILITIES,
            "permitted": DOCKER_CAPABILITIES,
        });
        let namespaces = config["linux"]["namespaces"]
            .as_array_mut()
            .expect("the spec has namespaces");
        namespaces.retain(|ns| ns["type"] != "network");
        let mounts = config["mounts"]
            .as_array_mut()
            .expect("the spec has mounts");
        for (destination, options) in server.tmpfs {
            let mut options: Vec<String> = ["nosuid", "nodev", *options]
                .iter()
                .map(|s| s.to_string())
                .collect();
            options.push(format!("uid={uid}"));
            options.push(format!("gid={gid}"));
            mounts.push(json!({
                "destination": destination, "type": "tmpfs", "source": "tmpfs",
                "options": options,
            }));
        }
        mounts.push(json!({
            "destination": "/opt/quality", "type": "bind", "source": scripts,
            "options": ["rbind", "ro"],
        }));
    });
    bundle
}

/// Where the servers run: runc or crun from a bundle, or Podman (its default runtime) from an
/// image of the same root filesystem.
#[derive(Clone, Copy)]
enum Engine {
    Oci(Runtime),
    Podman,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Self::Oci(runtime) => runtime.name(),
            Self::Podman => "podman",
        }
    }
}

/// How one test starts its server containers.
enum Launcher {
    Bundle(Bundle),
    Podman(PodmanServer),
}

impl Launcher {
    #[track_caller]
    fn new(work: &Path, rootfs: &Path, server: &Server, engine: Engine, port: u16) -> Self {
        let scripts = work.join("scripts");
        fs::create_dir_all(&scripts).expect("creating the scripts directory");
        for (name, source) in SCRIPTS {
            fs::write(scripts.join(name), source).expect("writing a script");
        }
        match engine {
            Engine::Oci(runtime) => {
                Self::Bundle(server_bundle(work, &scripts, rootfs, server, runtime, port))
            }
            Engine::Podman => Self::Podman(PodmanServer::new(work, &scripts, rootfs, server, port)),
        }
    }

    /// Starts the server recorded by syscage's OCI hook (writing into `output_dir`), under a
    /// permissive filter.
    #[track_caller]
    fn start_recorded(&self, work: &Path, output_dir: &Path, log: &Path) -> RunningServer {
        match self {
            Self::Bundle(bundle) => {
                bundle.set_seccomp(Some(&permissive_seccomp()));
                bundle.set_oci_hook(output_dir, log);
                RunningServer::start_oci(bundle, "record")
            }
            Self::Podman(podman) => {
                let permissive = work.join("permissive.json");
                write_json(&permissive, &permissive_seccomp());
                podman.write_hook(output_dir, log);
                podman.start("record", &permissive, true)
            }
        }
    }

    /// Starts the server under `profile`, not recorded.
    #[track_caller]
    fn start_enforced(&self, profile_path: &Path, profile: &Value, tag: &str) -> RunningServer {
        match self {
            Self::Bundle(bundle) => {
                bundle.remove_hooks();
                bundle.set_seccomp(Some(profile));
                RunningServer::start_oci(bundle, tag)
            }
            Self::Podman(podman) => podman.start(tag, profile_path, false),
        }
    }
}

/// Podman's side of a test: the image of the root filesystem, a hooks directory with the
/// README's hook file, and the `podman run` options that match the bundles' configuration.
struct PodmanServer {
    hooks_dir: PathBuf,
    work: PathBuf,
    options: Vec<String>,
    image: String,
    args: Vec<String>,
}

impl PodmanServer {
    #[track_caller]
    fn new(work: &Path, scripts: &Path, rootfs: &Path, server: &Server, port: u16) -> Self {
        require_tool("podman", "podman");
        prepare_crun_for_hybrid_cgroups();
        let image = podman_image(rootfs);
        let hooks_dir = work.join("hooks.d");
        fs::create_dir(&hooks_dir).expect("creating the hooks directory");
        let (uid, gid) = user_ids(rootfs, server.user);
        let mut options: Vec<String> = vec![
            "--network".into(),
            "host".into(),
            "--read-only".into(),
            "--user".into(),
            format!("{uid}:{gid}"),
            "--cap-drop=all".into(),
            format!("--cap-add={}", DOCKER_CAPABILITIES.join(",")),
            "--env=LANG=C.UTF-8".into(),
            "--env=HOME=/tmp".into(),
            "--volume".into(),
            format!("{}:/opt/quality:ro", scripts.display()),
        ];
        // The same ulimits as the other Podman tests (see PODMAN_RUN_OPTIONS), not its network.
        for option in PODMAN_RUN_OPTIONS.chunks(2) {
            if option[0] != "--network" {
                options.extend(option.iter().map(|s| s.to_string()));
            }
        }
        // Podman 4.3 takes no uid=/gid= for tmpfs; `U` chowns it to --user.
        for (destination, tmpfs_options) in server.tmpfs {
            options.push("--tmpfs".into());
            options.push(format!("{destination}:rw,nosuid,nodev,{tmpfs_options},U"));
        }
        Self {
            hooks_dir,
            work: work.to_owned(),
            options,
            image,
            args: server_args(server, port),
        }
    }

    /// The README's hooks.d file (plus `--log`), pointing at the syscage under test.
    #[track_caller]
    fn write_hook(&self, output_dir: &Path, log: &Path) {
        let bin = fs::canonicalize(syscage_bin()).expect("resolving the syscage binary's path");
        write_json(
            &self.hooks_dir.join("syscage.json"),
            &json!({
                "version": "1.0.0",
                "hook": {
                    "path": bin,
                    "args": ["syscage", "oci-hook", "--output-dir", output_dir, "--log", log],
                },
                "when": {"annotations": {"^io\\.syscage\\.record$": "true"}},
                "stages": ["createRuntime"],
            }),
        );
    }

    #[track_caller]
    fn start(&self, tag: &str, seccomp: &Path, record: bool) -> RunningServer {
        let name = unique_name(tag);
        let cidfile = self.work.join(format!("{name}.cid"));
        let mut cmd = podman_command();
        cmd.arg("--hooks-dir")
            .arg(&self.hooks_dir)
            .args(["run", "--rm", "--name", &name, "--cidfile"])
            .arg(&cidfile)
            .args(&self.options)
            .arg("--security-opt")
            .arg(format!("seccomp={}", seccomp.display()));
        if record {
            cmd.args(["--annotation", "io.syscage.record=true"]);
        }
        cmd.arg(&self.image).args(&self.args);
        let what = describe(&cmd);
        RunningServer {
            child: spawn(&mut cmd),
            handle: Handle::Podman(PodmanContainer { name, cidfile }),
            what,
        }
    }
}

/// `localhost/syscage-quality:<root filesystem's key>`, imported from the root filesystem
/// unless Podman's store has it already (like the root filesystem, a cache kept between runs).
#[track_caller]
fn podman_image(rootfs: &Path) -> String {
    let key = rootfs
        .file_name()
        .and_then(|n| n.to_str())
        .expect("the root filesystem's name");
    let image = format!("localhost/syscage-quality:{key}");
    let exists = podman_command()
        .args(["image", "exists", &image])
        .status()
        .expect("running podman image exists");
    if !exists.success() {
        run_ok(
            Command::new("sh")
                .args([
                    "-c",
                    "tar --exclude=./.syscage-quality-complete -C \"$1\" -c . | podman \
                     --cgroup-manager cgroupfs --events-backend file import - \"$2\"",
                    "sh",
                ])
                .arg(rootfs)
                .arg(&image),
        );
    }
    image
}

/// A running server's container (or, on the host, process), for signals and clean-up.
enum Handle {
    Oci(Container),
    Podman(PodmanContainer),
    /// `syscage record` of the server on the host: it relays signals to the server.
    Process(u32),
}

/// A Podman container name unique to this run; `podman rm -f` on drop (the runs use `--rm`;
/// this is for a run that did not end).
struct PodmanContainer {
    name: String,
    cidfile: PathBuf,
}

impl Drop for PodmanContainer {
    fn drop(&mut self) {
        let _ = podman_command()
            .args(["rm", "-f", "--ignore", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

impl Handle {
    /// The container id syscage names its outputs by.
    #[track_caller]
    fn id(&self) -> String {
        match self {
            Self::Oci(container) => container.id.clone(),
            Self::Podman(container) => fs::read_to_string(&container.cidfile)
                .unwrap_or_else(|e| panic!("podman wrote no container id ({e})"))
                .trim()
                .to_owned(),
            Self::Process(pid) => panic!("process {pid} is not a container"),
        }
    }

    fn signal(&self, signal: &str) -> std::io::Result<std::process::Output> {
        match self {
            Self::Oci(container) => Command::new(container.runtime.name())
                .args(["kill", &container.id, signal])
                .output(),
            Self::Podman(container) => podman_command()
                .args(["kill", "--signal", signal, &container.name])
                .stdin(Stdio::null())
                .output(),
            Self::Process(pid) => Command::new("kill")
                .args(["-s", signal, &pid.to_string()])
                .output(),
        }
    }
}

/// A server container running in the foreground of `<runtime> run` or `podman run`, its output
/// captured.
struct RunningServer {
    child: Child,
    handle: Handle,
    what: String,
}

/// How long a server may take to stop after its stop signal.
const STOP_DEADLINE: Duration = Duration::from_secs(180);
/// How long one client command may take.
const CLIENT_DEADLINE: Duration = Duration::from_secs(600);

impl RunningServer {
    #[track_caller]
    fn start_oci(bundle: &Bundle, tag: &str) -> Self {
        let container = Container::new(bundle.runtime, tag);
        let mut cmd = bundle.runtime.command();
        cmd.args(["run", "--bundle"])
            .arg(&bundle.dir)
            .arg(&container.id);
        let what = describe(&cmd);
        Self {
            child: spawn(&mut cmd),
            handle: Handle::Oci(container),
            what,
        }
    }

    fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("waiting for the runtime")
            .is_none()
    }

    /// Kills the container (after a failure) and returns what it printed.
    fn kill(self) -> Outcome {
        let _ = self.handle.signal("KILL");
        wait(self.child, self.what, STOP_DEADLINE)
    }

    /// Sends the stop signal and waits for the container to end.
    #[track_caller]
    fn stop(self, signal: &str) -> Outcome {
        let kill = self
            .handle
            .signal(signal)
            .expect("running the runtime's kill");
        assert!(
            kill.status.success(),
            "kill {signal} of {} failed (did the server die?): {}",
            self.what,
            String::from_utf8_lossy(&kill.stderr)
        );
        let outcome = wait(self.child, self.what, STOP_DEADLINE);
        drop(self.handle);
        outcome
    }
}

/// Runs one client command in the root filesystem; its outcome. A client is killed when the
/// server ends under it (its outcome then fails), rather than waiting out its own retries.
#[track_caller]
fn client(rootfs: &Path, argv: &[String], server: &mut RunningServer) -> Outcome {
    let mut cmd = Command::new("chroot");
    cmd.arg(rootfs).args(argv).env("HOME", "/root");
    let what = format!("chroot {} {}", rootfs.display(), argv[0]);
    let mut child = spawn(&mut cmd);
    let start = Instant::now();
    while child.try_wait().expect("waiting for a client").is_none()
        && server.is_running()
        && start.elapsed() < CLIENT_DEADLINE
    {
        thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    wait(child, what, CLIENT_DEADLINE)
}

/// Milliseconds since the epoch, now.
fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    u64::try_from(since.as_millis()).expect("a sane clock")
}

// ---------------------------------------------------------------------------------------------
// One server in one runtime.

/// Rounds of traffic pattern A while recording.
const ROUNDS_A: usize = 4;

/// A server recorded under traffic pattern A, ready to be run under its profile.
struct Recorded {
    rootfs: PathBuf,
    work: tempfile::TempDir,
    port: u16,
    label: String,
    launcher: Launcher,
    profile_path: PathBuf,
    profile: Value,
    convergence: Value,
}

#[track_caller]
fn check_server(server: &Server, engine: Engine) {
    let recorded = record_server(server, engine);
    let Recorded {
        label,
        profile_path,
        profile,
        ..
    } = &recorded;
    let (failures, requests) = run_pattern_b(server, &recorded, profile_path, profile);
    // A failure is a false deny only if it does not happen without the profile: after any,
    // pattern B runs again under the permissive filter to tell them apart.
    let failures_without_profile = if failures.is_empty() {
        Vec::new()
    } else {
        let permissive = permissive_seccomp();
        let permissive_path = recorded.work.path().join("permissive-for-b.json");
        write_json(&permissive_path, &permissive);
        run_pattern_b(server, &recorded, &permissive_path, &permissive).0
    };
    let false_denies = failures
        .len()
        .saturating_sub(failures_without_profile.len());
    let baselines = runtime_default(profile_path);
    let result = json!({
        "workload": server.name,
        "runtime": engine.name(),
        "profile_syscalls": allowed_names(profile).len(),
        "runtime_default": baselines,
        "false_denies": false_denies,
        "failures_under_profile": failures.len(),
        "failures_without_profile": failures_without_profile.len(),
        "client_commands_under_profile": requests,
        "convergence": recorded.convergence,
    });
    let results = quality_dir().join("results");
    fs::create_dir_all(&results).expect("creating target/quality/results");
    let name = format!("{}-{}.json", server.name, engine.name());
    fs::write(
        results.join(&name),
        serde_json::to_string_pretty(&result).expect("JSON") + "\n",
    )
    .expect("writing the result");
    eprintln!("FIGURES {label}: {result}");
    assert!(
        failures_without_profile.is_empty(),
        "{label}: pattern B fails without the profile too (not the profile's doing):\n{}",
        failures_without_profile.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{label}: {} false denies under the recorded profile {}:\n{}",
        failures.len(),
        profile_path.display(),
        failures.join("\n")
    );
}

/// Records `server` with syscage's OCI hook through the rounds of traffic pattern A and a
/// graceful stop.
#[track_caller]
fn record_server(server: &Server, engine: Engine) -> Recorded {
    let rootfs = rootfs();
    let work = temp_dir();
    let port = free_port();
    let label = format!("{} in {}", server.name, engine.name());
    let launcher = Launcher::new(work.path(), &rootfs, server, engine, port);

    // Record under pattern A, in rounds, then a graceful stop.
    let output_dir = work.path().join("profiles");
    let log = work.path().join("hook.log");
    fs::create_dir(&output_dir).expect("creating the output directory");
    let mut recorded = launcher.start_recorded(work.path(), &output_dir, &log);
    let mut round_ends = Vec::new();
    for round in 0..=ROUNDS_A {
        let commands = if round == 0 {
            vec![(server.ready)(port)]
        } else {
            (server.traffic)(port, "a", round)
        };
        for argv in commands {
            let outcome = client(&rootfs, &argv, &mut recorded);
            if outcome.code() != 0 {
                let server_output = recorded.kill();
                panic!(
                    "{label}: pattern A failed while recording (no profile yet)\n{outcome}\n\
                     --- the server ---\n{server_output}"
                );
            }
        }
        round_ends.push(now_ms());
    }
    let id = recorded.handle.id();
    let stopped = recorded.stop(server.stop_signal);
    assert_eq!(
        stopped.code(),
        0,
        "{label}: the server did not stop cleanly while recorded\n{stopped}"
    );
    let (profile_path, profile, recording) =
        wait_for_outputs(&output_dir, &id, PROFILE_DEADLINE, &|| {
            fs::read_to_string(&log).unwrap_or_default()
        });
    let convergence = convergence(&recording, &round_ends);
    Recorded {
        rootfs,
        work,
        port,
        label,
        launcher,
        profile_path,
        profile,
        convergence,
    }
}

/// Runs the recorded server under `profile` with traffic pattern B, stops it gracefully,
/// restarts it, drives B again and stops it again; returns the false denies (failed client
/// commands, unclean stops) and how many client commands ran.
#[track_caller]
fn run_pattern_b(
    server: &Server,
    recorded: &Recorded,
    profile_path: &Path,
    profile: &Value,
) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut requests = 0;
    for (run, tag) in ["enforced", "restarted"].iter().enumerate() {
        let mut running = recorded.launcher.start_enforced(profile_path, profile, tag);
        let mut commands = vec![(server.ready)(recorded.port)];
        commands.extend((server.traffic)(recorded.port, "b", run + 1));
        for argv in commands {
            let outcome = client(&recorded.rootfs, &argv, &mut running);
            requests += 1;
            if outcome.code() != 0 {
                failures.push(format!("{tag}: client failed\n{outcome}"));
            }
            if outcome.code() != 0 && !running.is_running() {
                break;
            }
        }
        let stopped = if running.is_running() {
            running.stop(server.stop_signal)
        } else {
            running.kill()
        };
        if stopped.code() != 0 {
            failures.push(format!("{tag}: the server did not stop cleanly\n{stopped}"));
        }
    }
    (failures, requests)
}

// ---------------------------------------------------------------------------------------------
// The host view and merge.

/// Records `server` in runc under pattern A and on the host (no container) under pattern B,
/// merges the two recordings, and writes what each saw that the other did not to
/// `target/quality/host/`.
#[track_caller]
fn check_host_view(server: &Server) {
    let recorded = record_server(server, Engine::Oci(Runtime::Runc));
    let (host_profile_path, host_profile, host_recording) = record_on_host(server, &recorded);
    let container_recording_path = default_recording_path(&recorded.profile_path);
    let merged = recorded.work.path().join("merged");
    let mut cmd = syscage(["merge", "--output"]);
    cmd.arg(&merged)
        .arg(&container_recording_path)
        .arg(default_recording_path(&host_profile_path));
    common::run(&mut cmd).assert_code(0);
    let merged_profile = read_json(&merged.with_extension("json"));
    let merged_recording = read_json(&merged.with_extension("recording.json"));
    let seen_in_one = recording_syscalls(&merged_recording)
        .iter()
        .filter(|e| e["seen_in"].as_u64() == Some(1))
        .count();

    let in_container = allowed_names(&recorded.profile);
    let on_host = allowed_names(&host_profile);
    let host_workload = recording_names(&host_recording);
    let merged_allowed = allowed_names(&merged_profile);
    // What ran (under the filter, in the container) in either run must be in the merged
    // profile. The runtime's observed after-filter calls that the container's profile adds are
    // not necessarily: the merge of a container and a host recording names no runtime.
    let ran = PhaseSets::of(&read_json(&container_recording_path)).needed_under_filter();
    // A newer syscall the profile answers with ENOSYS is covered by its older one.
    let covered = |name: &String| {
        merged_allowed.contains(name)
            || ENOSYS_FALLBACKS
                .iter()
                .any(|(newer, older)| name == newer && merged_allowed.contains(*older))
    };
    let missing: Vec<_> = ran.union(&host_workload).filter(|n| !covered(n)).collect();
    assert!(
        missing.is_empty(),
        "{}: the merged profile lacks {missing:?}, which one of the runs made",
        recorded.label
    );
    let result = json!({
        "workload": server.name,
        "container_profile_syscalls": in_container.len(),
        "host_profile_syscalls": on_host.len(),
        "merged_profile_syscalls": merged_allowed.len(),
        "merged_seen_in_one_run": seen_in_one,
        "only_in_container": in_container.difference(&on_host).collect::<Vec<_>>(),
        "only_on_host": on_host.difference(&in_container).collect::<Vec<_>>(),
        "host_recorded_syscalls": host_workload.len(),
        "container_profile_not_in_merged": in_container.difference(&merged_allowed).collect::<Vec<_>>(),
    });
    let dir = quality_dir().join("host");
    fs::create_dir_all(&dir).expect("creating target/quality/host");
    fs::write(
        dir.join(format!("{}.json", server.name)),
        serde_json::to_string_pretty(&result).expect("JSON") + "\n",
    )
    .expect("writing the result");
    eprintln!("FIGURES {} on the host and merged: {result}", server.name);
}

/// `syscage record` of the server on the host, from the same root filesystem through
/// `chroot --userspec`, in a private mount namespace that gives it the container's tmpfs and
/// scripts; driven with pattern B, stopped gracefully. Returns (profile path, profile,
/// recording).
#[track_caller]
fn record_on_host(server: &Server, recorded: &Recorded) -> (PathBuf, Value, Value) {
    let rootfs = &recorded.rootfs;
    let work = recorded.work.path();
    let port = free_port();
    let (uid, gid) = user_ids(rootfs, server.user);
    let profile = work.join("host.json");
    let mut setup = String::from("set -e; ");
    for (destination, options) in server.tmpfs {
        setup.push_str(&format!(
            "mount -t tmpfs -o nosuid,nodev,{options},uid={uid},gid={gid} tmpfs \"$1\"{destination}; "
        ));
    }
    setup.push_str("mount --bind \"$2\" \"$1\"/opt/quality; shift 2; exec \"$@\"");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &setup,
        "sh",
    ])
    .arg(rootfs)
    .arg(work.join("scripts"))
    .arg(syscage_bin())
    .args(["record", "--output"])
    .arg(&profile)
    .args(["--", "chroot", &format!("--userspec={uid}:{gid}")])
    .arg(rootfs)
    .args(server_args(server, port))
    // As syscage() does: under sudo, SUDO_UID would make syscage run the server as the
    // invoking user.
    .env_remove("SUDO_UID")
    .env_remove("SUDO_GID")
    .env_remove("SUDO_USER")
    .env_remove("SUDO_COMMAND")
    .env_remove("SYSCAGE_LOG");
    let what = describe(&cmd);
    let child = spawn(&mut cmd);
    let mut running = RunningServer {
        handle: Handle::Process(child.id()),
        child,
        what,
    };
    let mut commands = vec![(server.ready)(port)];
    commands.extend((server.traffic)(port, "b", 3));
    for argv in commands {
        let outcome = client(rootfs, &argv, &mut running);
        if outcome.code() != 0 {
            let output = running.kill();
            panic!(
                "{}: pattern B failed on the host\n{outcome}\n--- the server ---\n{output}",
                server.name
            );
        }
    }
    let stopped = running.stop(server.stop_signal);
    assert_eq!(
        stopped.code(),
        0,
        "{}: the server did not stop cleanly on the host\n{stopped}",
        server.name
    );
    let recording = read_json(&default_recording_path(&profile));
    let profile_value = read_json(&profile);
    (profile, profile_value, recording)
}

/// How many syscalls the workload first made until the server answered (start-up), in each
/// round, and after the last (shutdown). `round_ends[0]` is when the server answered.
#[track_caller]
fn convergence(recording: &Value, round_ends: &[u64]) -> Value {
    let started = parse_rfc3339_ms(
        recording["started_at"]
            .as_str()
            .expect("the recording has started_at"),
    );
    let mut rounds = vec![0_usize; round_ends.len() + 1];
    let mut seen = BTreeSet::new();
    for entry in recording_syscalls(recording) {
        let phases = entry["phases"].as_array();
        let workload = phases.is_none_or(|p| p.iter().any(|p| p == "workload"));
        if !workload || !seen.insert(entry["nr"].as_u64()) {
            continue;
        }
        let at = started + entry["first_seen_us"].as_u64().expect("first_seen_us") / 1000;
        let bucket = round_ends
            .iter()
            .position(|&end| at <= end)
            .unwrap_or(round_ends.len());
        rounds[bucket] += 1;
    }
    let traffic = &rounds[1..round_ends.len()];
    let last_growth = traffic.iter().rposition(|&n| n > 0).map_or(0, |i| i + 1);
    json!({
        "new_at_startup": rounds[0],
        "new_per_round": traffic,
        "new_at_shutdown": rounds[round_ends.len()],
        "rounds": traffic.len(),
        "last_round_with_new": last_growth,
    })
}

/// `2024-05-01T12:00:00.000Z` as milliseconds since the epoch.
#[track_caller]
fn parse_rfc3339_ms(text: &str) -> u64 {
    let number = |range: std::ops::Range<usize>| -> i64 {
        text.get(range)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an RFC 3339 time: {text}"))
    };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second, milli) = (
        number(11..13),
        number(14..16),
        number(17..19),
        number(20..23),
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + milli;
    u64::try_from(ms).expect("a time after 1970")
}

/// What each RuntimeDefault (moby, containerd, CRI-O; default capabilities) allows, and what
/// of it the profile removes, with the dangerous ones: `syscage diff --against`.
#[track_caller]
fn runtime_default(profile: &Path) -> Value {
    let mut baselines = serde_json::Map::new();
    for engine in ["moby", "containerd", "crio"] {
        let mut cmd = syscage(["diff", "--format", "json", "--against"]);
        cmd.arg(format!("runtime-default={engine}")).arg(profile);
        let outcome = common::run(&mut cmd);
        outcome.assert_code(0);
        let diff: Value = serde_json::from_str(&outcome.stdout)
            .unwrap_or_else(|e| panic!("diff's JSON: {e}\n{outcome}"));
        let dangerous: Vec<&Value> = diff["removed_dangerous"]
            .as_array()
            .expect("removed_dangerous")
            .iter()
            .map(|d| &d["name"])
            .collect();
        baselines.insert(
            engine.into(),
            json!({
                "allows": diff["baseline_allows"],
                "removed": diff["removed_surface"],
                "removed_dangerous": dangerous,
                "denied_by_it": diff["denied"].as_array().map_or(0, Vec::len),
            }),
        );
    }
    Value::Object(baselines)
}
