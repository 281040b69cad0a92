//! `syscage generate --from FILE... --format oci|localhost|spo|log`: turn recordings (or
//! profiles) into what users ship.

use std::path::{Path, PathBuf};

use crate::{
    shared_args::{docker_default_caps, EvalArgs},
    sys::inputs::read_inputs,
    sys::outputs::{refuse_overlaps, write_output},
};
use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use profile_gen::{
    formats::kube::{self, KUBELET_SECCOMP_DIR},
    generate_for_runtime, log_profile, missed_container_start, profile_to_json, Format,
    Generated, Input, Level, PolicyOptions,
};

/// Generate the profile to ship from one or more recordings (or profiles).
///
/// Inputs are united: a syscall any of them uses or allows is allowed. Readable inputs: syscage
/// recordings and merged recordings, OCI runtime-spec profiles, Docker-format profiles (their
/// archMap/includes/excludes are evaluated for --arch, the capabilities and --kernel), and
/// Security Profiles Operator SeccompProfile resources (YAML or JSON).
///
/// The profile denies everything else with EPERM; always allows exit, exit_group and
/// rt_sigreturn (a process that cannot exit spins forever); and denies a newer syscall with
/// ENOSYS when its older fallback was used but it was not (clone3 when clone was used), so
/// libcs fall back instead of failing.
///
/// Recorded argument values become argument conditions: clone and unshare only for the
/// namespaces seen, socket only for the address families and types seen, personality, prctl
/// and ioctl only for the values seen, mmap and mprotect without PROT_EXEC unless it was seen.
/// clone3, whose flags seccomp cannot read, is then answered with ENOSYS so libcs use the
/// checked clone. --args off gives the names-only profile.
///
/// --arch sets the profile's architecture: recordings of another architecture are projected
/// onto it (x86_64 open becomes aarch64 openat, stat becomes newfstatat, ...), and what has no
/// counterpart there is reported.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    syscage generate --from app.recording.json -o app.json\n  \
    syscage generate --from app.recording.json --args off -o app-names-only.json\n  \
    syscage generate --from app.recording.json --arch aarch64 -o app-arm64.json\n  \
    syscage generate --from run1.recording.json run2.recording.json --format localhost -o app.json\n  \
    syscage generate --from app.recording.json --format spo --name my-app > app-seccomp.yaml\n  \
    syscage generate --from host-run.recording.json --for-runtime runc -o app.json\n  \
    syscage generate --from app.recording.json --format log -o app-warn.json")]
pub(crate) struct GenerateArgs {
    /// Recordings or profiles to generate from; repeat --from or list several after it.
    #[arg(long = "from", value_name = "FILE", required = true, num_args = 1..)]
    pub(crate) from: Vec<PathBuf>,

    /// What to write.
    #[arg(long, value_enum, default_value_t = FormatArg::Oci)]
    pub(crate) format: FormatArg,

    /// Where to write it; `-` is stdout. For localhost: the profile file to copy to the nodes
    /// (required), while the Pod snippet goes to stdout or --snippet.
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub(crate) output: PathBuf,

    /// localhost: write the Pod snippet here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) snippet: Option<PathBuf>,

    /// Name of the SPO resource, or of the Pod and container in the localhost snippet.
    /// Default: from --output, else from the first input's file name.
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// spo: the resource's namespace, for Security Profiles Operator releases before v0.9.0
    /// (where SeccompProfile is namespaced); v0.9.0 and later make it cluster-scoped: leave it
    /// out. Pods reference the profile as operator/NAMESPACE/NAME.json instead of
    /// operator/NAME.json.
    #[arg(long, value_name = "NAMESPACE")]
    pub(crate) namespace: Option<String>,

    /// localhost: the profile's path relative to the kubelet's seccomp directory
    /// (/var/lib/kubelet/seccomp). Default: profiles/NAME.json.
    #[arg(long, value_name = "PATH")]
    pub(crate) localhost_profile: Option<String>,

    /// Turn recorded argument values into argument conditions (on), or allow every recorded
    /// syscall whatever its arguments (off: the names-only profile).
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ArgsArg::On)]
    pub(crate) args: ArgsArg,

    /// Also allow what this runtime was observed doing after loading the filter and before
    /// exec'ing the entrypoint (profile-gen/data/runtime-after-filter.json). Needed to run a
    /// profile from `record -- COMMAND` or from `record --container` attached to a running
    /// container (neither saw the container start) in a container: without it the runtime
    /// fails under the filter before the entrypoint runs.
    #[arg(long, value_enum, value_name = "RUNTIME")]
    pub(crate) for_runtime: Option<RuntimeArg>,

    #[command(flatten)]
    pub(crate) eval: EvalArgs,
}

/// `--for-runtime` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RuntimeArg {
    Runc,
    Crun,
    /// Runs containers through runc.
    Containerd,
    /// Runs containers through crun.
    Podman,
}

impl RuntimeArg {
    fn name(self) -> &'static str {
        match self {
            Self::Runc => "runc",
            Self::Crun => "crun",
            Self::Containerd => "containerd",
            Self::Podman => "podman",
        }
    }
}

/// `--args` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ArgsArg {
    On,
    Off,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatArg {
    /// The OCI runtime-spec profile (what runc, crun, containerd and CRI-O load).
    Oci,
    /// The profile plus a Pod securityContext snippet for a Kubernetes Localhost profile.
    Localhost,
    /// A Security Profiles Operator SeccompProfile resource (YAML).
    Spo,
    /// The profile with defaultAction SCMP_ACT_LOG: logs what it would deny (warn first).
    Log,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Oci => Self::Oci,
            FormatArg::Localhost => Self::Localhost,
            FormatArg::Spo => Self::Spo,
            FormatArg::Log => Self::Log,
        }
    }
}

pub(crate) fn run(args: GenerateArgs) -> Result<u8> {
    let format = Format::from(args.format);
    let stdout = args.output == Path::new("-");
    if format == Format::Localhost && stdout {
        bail!(
            "--format localhost needs -o FILE: the profile file to copy to the nodes (the Pod \
             snippet goes to stdout or --snippet)"
        );
    }
    if args.namespace.is_some() && format != Format::Spo {
        bail!("--namespace applies to --format spo, expected it only with that format");
    }
    let mut outputs = vec![args.output.as_path()];
    outputs.extend(args.snippet.as_deref());
    let inputs: Vec<&Path> = args.from.iter().map(PathBuf::as_path).collect();
    refuse_overlaps(&outputs, &inputs)?;
    let (inputs, arch) = read_inputs(&args.from, args.eval.arch, |arch| {
        args.eval.conditions(arch, docker_default_caps())
    })?;
    let options = PolicyOptions {
        args: args.args == ArgsArg::On,
        target: args.eval.arch,
    };
    let for_runtime = args.for_runtime.map(RuntimeArg::name);
    let generated = generate_for_runtime(&inputs, arch, &options, for_runtime)?;
    report(&generated);
    if matches!(format, Format::Localhost | Format::Spo) && for_runtime.is_none() {
        warn_missed_starts(&inputs, format);
    }

    let name = || object_name(args.name.as_deref(), &args.output, &args.from);
    let (text, snippet) = match format {
        Format::Oci => (profile_to_json(&generated.profile), None),
        Format::Log => (profile_to_json(&log_profile(&generated.profile)), None),
        Format::Spo => {
            let name = name()?;
            let yaml = kube::spo_yaml_in(&name, args.namespace.as_deref(), &generated.profile)?;
            log::info!(
                "Pods reference it as localhostProfile: {}",
                kube::spo_localhost_profile(&name, args.namespace.as_deref())
            );
            (yaml, None)
        }
        Format::Localhost => {
            let name = name()?;
            let file_name = args
                .output
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| format!("{name}.json"));
            let relative = args
                .localhost_profile
                .clone()
                .unwrap_or_else(|| format!("profiles/{file_name}"));
            let yaml = kube::localhost_pod_yaml(&name, &relative, &file_name)?;
            log::info!("copy {file_name} to {KUBELET_SECCOMP_DIR}/{relative} on every node");
            (profile_to_json(&generated.profile), Some(yaml))
        }
    };
    write_output(&args.output, &text)?;
    if let Some(yaml) = snippet {
        match &args.snippet {
            Some(path) => write_output(path, &yaml)?,
            None => write_output(Path::new("-"), &yaml)?,
        }
    }
    Ok(0)
}

/// Tells the user what generation added or could not include: the unknown numbers here, the
/// rest through [`Generated::notes`], which `record` shows too.
fn report(generated: &Generated) {
    for (origin, nr) in &generated.unknown_numbers {
        log::warn!(
            "{origin}: syscall number {nr} is not known to libseccomp for {}: left out of the \
             profile",
            profile_gen::arch_name(generated.arch)
        );
    }
    if generated.out_of_range_count > 0 {
        log::warn!(
            "{} recorded syscalls had numbers beyond the tracer's table and are not in the profile",
            generated.out_of_range_count
        );
    }
    for note in &generated.notes {
        match note.level {
            Level::Warning => log::warn!("{}", note.message),
            Level::Info => log::info!("{}", note.message),
        }
    }
}

/// Warns about each recording that did not see its container start being turned into a
/// container or Pod profile: the runtime's calls after loading the filter are missing, so the
/// container would fail before its entrypoint runs.
fn warn_missed_starts(inputs: &[Input], format: Format) {
    for input in inputs {
        if missed_container_start(input) == Some(true) {
            log::warn!(
                "{}: this recording did not see its container start (a command recorded on the \
                 host, or a container attached to while it ran), so it lacks what the runtime \
                 does after loading the filter; as a {format} profile the container will likely \
                 fail to start: pass --for-runtime runc|crun|containerd|podman",
                input.origin
            );
        }
    }
}

/// `--name`, else the output's file stem, else the first input's (without `.recording`).
fn object_name(name: Option<&str>, output: &Path, inputs: &[PathBuf]) -> Result<String> {
    if let Some(name) = name {
        return match kube::object_name(name) {
            Some(valid) if valid == name => Ok(name.to_owned()),
            Some(valid) => bail!(
                "--name {name:?}: not a Kubernetes object name, expected lowercase letters, \
                 digits and '-', such as {valid:?}"
            ),
            None => bail!(
                "--name {name:?}: not a Kubernetes object name, expected lowercase letters, \
                 digits and '-', such as \"my-app\""
            ),
        };
    }
    let stem_of = |p: &Path| {
        p.file_name().map(|f| {
            let f = f.to_string_lossy();
            let f = f.strip_suffix(".json").unwrap_or(&f);
            let f = f.strip_suffix(".yaml").unwrap_or(f);
            f.strip_suffix(".recording").unwrap_or(f).to_owned()
        })
    };
    let candidate = if output == Path::new("-") {
        inputs.first().and_then(|p| stem_of(p))
    } else {
        stem_of(output)
    };
    candidate
        .as_deref()
        .and_then(kube::object_name)
        .context("cannot make a Kubernetes name from the file names; pass --name")
}

#[cfg(test)]
mod tests {
    use profile_gen::{KernelVersion, ScmpArch};

    use super::*;

    #[test]
    fn names_come_from_the_files() {
        let inputs = [PathBuf::from("dir/My_App.recording.json")];
        assert_eq!(
            object_name(None, Path::new("-"), &inputs).unwrap(),
            "my-app"
        );
        assert_eq!(
            object_name(None, Path::new("out/web.json"), &inputs).unwrap(),
            "web"
        );
        assert_eq!(
            object_name(Some("given"), Path::new("-"), &inputs).unwrap(),
            "given"
        );
        assert!(object_name(None, Path::new("-"), &[PathBuf::from("___.json")]).is_err());
        // A --name that is no Kubernetes name says so, naming the flag and a fix.
        let err = object_name(Some("Bad_Name"), Path::new("-"), &inputs)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--name \"Bad_Name\": not a Kubernetes object name, expected lowercase letters, \
             digits and '-', such as \"bad-name\""
        );
    }

    fn generate_args(
        from: &Path,
        output: &Path,
        args: ArgsArg,
        arch: Option<ScmpArch>,
    ) -> GenerateArgs {
        GenerateArgs {
            from: vec![from.to_path_buf()],
            format: FormatArg::Oci,
            output: output.to_path_buf(),
            snippet: None,
            name: None,
            localhost_profile: None,
            namespace: None,
            args,
            for_runtime: None,
            eval: EvalArgs {
                arch,
                cap_add: Vec::new(),
                cap_drop: Vec::new(),
                kernel: Some(KernelVersion { major: 6, minor: 1 }),
            },
        }
    }

    #[test]
    fn args_and_arch_flags() {
        use crate::test_fixtures::{with_args, write_records};
        use profile_gen::SyscallRecord;
        let dir = tempfile::tempdir().unwrap();
        // open (2), stat (4), pipe (22), arch_prctl (158), socket (41) AF_UNIX stream.
        let mut records: Vec<SyscallRecord> = [2, 4, 22, 158]
            .into_iter()
            .map(|nr| SyscallRecord::new(ScmpArch::X8664, nr, 1, u64::from(nr)))
            .collect();
        records.push(with_args(41, &[0, 1], &[&[1, 1]]));
        let rec = write_records(dir.path(), "app.recording.json", records);
        let out = dir.path().join("app.json");
        let read = |path: &Path| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };

        run(generate_args(&rec, &out, ArgsArg::On, None)).unwrap();
        let socket = serde_json::json!([
            {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 15, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}
        ]);
        let profile = read(&out);
        assert_eq!(
            profile["syscalls"][1]["names"],
            serde_json::json!(["socket"])
        );
        assert_eq!(profile["syscalls"][1]["args"], socket);

        run(generate_args(&rec, &out, ArgsArg::Off, None)).unwrap();
        let profile = read(&out);
        let allowed = &profile["syscalls"][0];
        assert!(allowed["names"]
            .as_array()
            .unwrap()
            .contains(&"socket".into()));
        assert!(profile["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("args").is_none()));

        run(generate_args(
            &rec,
            &out,
            ArgsArg::On,
            Some(ScmpArch::Aarch64),
        ))
        .unwrap();
        let profile = read(&out);
        assert_eq!(
            profile["architectures"],
            serde_json::json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        );
        assert_eq!(
            profile["syscalls"][0]["names"],
            serde_json::json!([
                "exit",
                "exit_group",
                "newfstatat",
                "openat",
                "pipe2",
                "restart_syscall",
                "rt_sigreturn"
            ])
        );
        assert_eq!(profile["syscalls"][1]["args"], socket);
    }
}
