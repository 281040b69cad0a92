//! `syscage diff`: two releases' profiles or recordings against each other, or a workload
//! against Kubernetes' RuntimeDefault (or another baseline profile).

use std::{io::IsTerminal as _, path::PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::{Args, ValueEnum};
use profile_gen::{
    analysis::diff::{baseline_diff, release_diff, FailOn, Report, ReportFormat},
    analysis::security_diff::capabilities_against_default,
    baselines::runtime_default::{self, Flavour},
    read_input,
};

use crate::{
    shared_args::{docker_default_caps, EvalArgs},
    sys::exit::{Failure, EXIT_BAD_INPUT},
    sys::inputs::read_inputs,
    sys::outputs::{refuse_overlaps, write_output},
};

/// Exit status of `diff` when --fail-on trips.
pub(crate) const EXIT_POLICY_FAILED: u8 = 1;

/// Compare two releases' profiles or recordings, or a workload against RuntimeDefault.
///
/// `syscage diff OLD NEW` lists the syscalls NEW adds (riskiest first, each with a one-line
/// reason) and removes. `syscage diff APP --against runtime-default[=moby|containerd|crio]`
/// lists the syscalls APP needs that the runtime's default profile denies (APP would break
/// under RuntimeDefault), those it allows only for some arguments, and how many it allows that
/// APP never uses (the attack surface APP's own profile removes), with the dangerous ones.
/// RuntimeDefault is rendered for --arch, the runtime's default capabilities adjusted by
/// --cap-add/--cap-drop, and --kernel. --against also takes a profile file as the baseline.
///
/// Recordings with security facts are compared on those too: capabilities newly needed, root
/// newly used, privilege newly gained through exec, the root filesystem newly written (a new
/// CAP_SYS_ADMIN or other dangerous capability, or root, trips --fail-on risky); against
/// runtime-default, the default capabilities the workload never needed are listed.
///
/// Inputs: syscage recordings and merged recordings, OCI runtime-spec, Docker-format and SPO
/// SeccompProfile profiles.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    syscage diff v1.2/app.json v1.3/app.json --fail-on risky --format markdown\n  \
    syscage diff app.recording.json --against runtime-default\n  \
    syscage diff app.json --against runtime-default=crio --cap-drop ALL\n\n\
Exit status:\n  \
    0    no --fail-on given, or it did not trip\n  \
    1    --fail-on tripped: added (any syscall added), risky (a dangerous one added), denied\n       \
         (the workload needs a syscall the baseline denies)\n  \
    123  the report cannot be written (-o FILE)\n  \
    124  an input file (OLD, NEW, --against FILE) is missing, unreadable or invalid\n  \
    125  syscage itself failed (bad arguments)")]
pub(crate) struct DiffArgs {
    /// The old profile or recording (or, with --against, the workload's).
    #[arg(value_name = "OLD")]
    pub(crate) old: PathBuf,

    /// The new profile or recording; not with --against.
    #[arg(
        value_name = "NEW",
        conflicts_with = "against",
        required_unless_present = "against"
    )]
    pub(crate) new: Option<PathBuf>,

    /// Compare against runtime-default (moby), runtime-default=moby|containerd|crio, or a
    /// profile file.
    #[arg(long, value_name = "BASELINE")]
    pub(crate) against: Option<String>,

    /// Exit with status 1 when: added (a syscall, or an unknown syscall number, was added),
    /// risky (a dangerous one was added), denied (with --against: the workload needs a syscall
    /// the baseline denies; one it answers with ENOSYS while allowing the libcs' fallback, as
    /// RuntimeDefault does for clone3, is no denial). One line on stderr says what tripped, and
    /// the JSON report has a `verdict`.
    #[arg(long, value_enum, value_name = "WHEN")]
    pub(crate) fail_on: Option<FailOnArg>,

    /// How to report: text (colour in a terminal only), markdown (a pull-request comment),
    /// json (for machines).
    #[arg(long, value_enum, default_value_t = ReportArg::Text)]
    pub(crate) format: ReportArg,

    /// Where to write the report; `-` is stdout.
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub(crate) output: PathBuf,

    #[command(flatten)]
    pub(crate) eval: EvalArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOnArg {
    Added,
    Risky,
    Denied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportArg {
    Text,
    Markdown,
    Json,
}

/// What `--against` names.
#[derive(Debug)]
enum Baseline {
    RuntimeDefault(Flavour),
    File(PathBuf),
}

fn parse_against(text: &str) -> Result<Baseline> {
    if let Some(rest) = text.strip_prefix("runtime-default") {
        if rest.is_empty() {
            return Ok(Baseline::RuntimeDefault(Flavour::Moby));
        }
        if let Some(flavour) = rest.strip_prefix('=') {
            return flavour
                .parse()
                .map(Baseline::RuntimeDefault)
                .map_err(|e| anyhow::anyhow!("--against: {e}"));
        }
    }
    let path = PathBuf::from(text);
    if let Err(e) = std::fs::metadata(&path) {
        let error = anyhow::anyhow!(
            "--against {text}: cannot read it ({e}); expected runtime-default, \
             runtime-default=moby|containerd|crio or a profile file"
        );
        return Err(Failure::new(EXIT_BAD_INPUT, error).into());
    }
    Ok(Baseline::File(path))
}

pub(crate) fn run(args: DiffArgs) -> Result<u8> {
    let report = match (&args.new, &args.against) {
        (Some(new), None) => {
            refuse_overlaps(&[&args.output], &[&args.old, new])?;
            let (inputs, arch) =
                read_inputs(&[args.old.clone(), new.clone()], args.eval.arch, |arch| {
                    args.eval.conditions(arch, docker_default_caps())
                })?;
            for input in &inputs {
                warn_unknown_numbers(input);
            }
            Report::Release(release_diff(&inputs[0], &inputs[1], arch)?)
        }
        (None, Some(against)) => {
            let baseline = parse_against(against)?;
            let default_caps = match &baseline {
                Baseline::RuntimeDefault(flavour) => flavour.default_caps(),
                Baseline::File(_) => docker_default_caps(),
            };
            match &baseline {
                Baseline::File(path) => refuse_overlaps(&[&args.output], &[&args.old, path])?,
                Baseline::RuntimeDefault(_) => refuse_overlaps(&[&args.output], &[&args.old])?,
            }
            let (inputs, arch) =
                read_inputs(std::slice::from_ref(&args.old), args.eval.arch, |arch| {
                    args.eval.conditions(arch, default_caps.clone())
                })?;
            let workload = &inputs[0];
            warn_unknown_numbers(workload);
            let conditions = args.eval.conditions(arch, default_caps)?;
            let capabilities = match baseline {
                Baseline::RuntimeDefault(_) => {
                    capabilities_against_default(workload, &conditions.caps)
                }
                Baseline::File(_) => None,
            };
            let (policy, label) = match baseline {
                Baseline::RuntimeDefault(flavour) => {
                    let rd = runtime_default::render(flavour, &conditions)?;
                    log::info!("RuntimeDefault data: {}", flavour.source());
                    let label = rd.label();
                    (rd.policy, label)
                }
                Baseline::File(path) => {
                    let input = read_input(&path, &conditions)?;
                    for warning in &input.warnings {
                        log::warn!("{warning}");
                    }
                    let policy = input
                        .policy()
                        .with_context(|| format!("{}: architecture", path.display()))?;
                    (policy, input.describe())
                }
            };
            let mut diff = baseline_diff(workload, &policy, &label, arch)?;
            diff.capabilities = capabilities;
            Report::Baseline(diff)
        }
        // clap enforces exactly one of NEW and --against.
        _ => bail!("expected NEW or --against, not both"),
    };

    let verdict = match args.fail_on {
        Some(when) => {
            let when = match when {
                FailOnArg::Added => FailOn::Added,
                FailOnArg::Risky => FailOn::Risky,
                FailOnArg::Denied => FailOn::Denied,
            };
            Some(report.verdict(when).map_err(anyhow::Error::msg)?)
        }
        None => None,
    };

    let stdout = args.output == std::path::Path::new("-");
    let format = match args.format {
        ReportArg::Text => ReportFormat::Text {
            color: stdout && use_color(),
        },
        ReportArg::Markdown => ReportFormat::Markdown,
        ReportArg::Json => ReportFormat::Json,
    };
    write_output(&args.output, &report.render_with(format, verdict.as_ref()))?;
    match verdict {
        Some(v) if v.tripped => {
            log::error!("--fail-on {} tripped: {}", v.fail_on, v.reason);
            Ok(EXIT_POLICY_FAILED)
        }
        _ => Ok(0),
    }
}

fn warn_unknown_numbers(input: &profile_gen::Input) {
    let unknown = input.unknown_numbers();
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(u32::to_string).collect();
        log::warn!(
            "{}: syscall numbers libseccomp cannot name are not compared: {}",
            input.origin,
            list.join(", ")
        );
    }
}

/// Colour only for a terminal, and not when NO_COLOR is set or TERM is dumb.
fn use_color() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;

    use profile_gen::{ScmpArch, SyscallRecord};

    use super::*;
    use crate::test_fixtures::{with_args, write_recording, write_records};

    #[test]
    fn a_release_that_starts_creating_user_namespaces_is_risky() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.json");
        // clone (56): fork-style in v1, CLONE_NEWUSER too in v2; getpid (39) in both.
        let plain = SyscallRecord::new(ScmpArch::X8664, 39, 1, 0);
        let v1 = write_records(
            dir.path(),
            "v1.recording.json",
            vec![plain.clone(), with_args(56, &[0], &[&[0x11]])],
        );
        let v2 = write_records(
            dir.path(),
            "v2.recording.json",
            vec![plain, with_args(56, &[0], &[&[0x11], &[0x1000_0011]])],
        );
        let code = run(args(&v1, Some(&v2), None, Some(FailOnArg::Risky), &out)).unwrap();
        assert_eq!(code, EXIT_POLICY_FAILED);
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(report["added"][0]["name"], "clone");
        assert_eq!(report["added"][0]["risk"], "high");
        assert_eq!(
            report["added"][0]["new_arguments"],
            serde_json::json!(["CLONE_NEWUSER"])
        );
        assert_eq!(
            run(args(&v1, Some(&v1), None, Some(FailOnArg::Risky), &out)).unwrap(),
            0
        );
    }

    fn eval() -> EvalArgs {
        EvalArgs {
            arch: None,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            kernel: Some(profile_gen::KernelVersion { major: 6, minor: 1 }),
        }
    }

    fn args(
        old: &Path,
        new: Option<&Path>,
        against: Option<&str>,
        fail_on: Option<FailOnArg>,
        out: &Path,
    ) -> DiffArgs {
        DiffArgs {
            old: old.to_path_buf(),
            new: new.map(Path::to_path_buf),
            against: against.map(str::to_owned),
            fail_on,
            format: ReportArg::Json,
            output: out.to_path_buf(),
            eval: eval(),
        }
    }

    #[test]
    fn exit_codes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report.json");
        // read, write -> read, write, getrandom (low) ; -> read, write, bpf (high).
        let old = write_recording(dir.path(), "old.recording.json", &[0, 1]);
        let low = write_recording(dir.path(), "low.recording.json", &[0, 1, 318]);
        let high = write_recording(dir.path(), "high.recording.json", &[0, 1, 321]);

        let code = |new: &Path, fail_on| run(args(&old, Some(new), None, fail_on, &out)).unwrap();
        assert_eq!(code(&old, Some(FailOnArg::Added)), 0);
        assert_eq!(code(&low, None), 0);
        assert_eq!(code(&low, Some(FailOnArg::Added)), EXIT_POLICY_FAILED);
        assert_eq!(code(&low, Some(FailOnArg::Risky)), 0);
        assert_eq!(code(&high, Some(FailOnArg::Risky)), EXIT_POLICY_FAILED);
        let report = std::fs::read_to_string(&out).unwrap();
        assert!(
            report.contains("\"added\": [\n    {\n      \"name\": \"bpf\""),
            "{report}"
        );

        // --fail-on that does not apply is an error (exit 125), not a pass.
        let err = run(args(&old, Some(&low), None, Some(FailOnArg::Denied), &out)).unwrap_err();
        assert_eq!(
            crate::sys::exit::code_of(&err),
            crate::sys::exit::EXIT_ERROR
        );

        // Against RuntimeDefault: mount (165) is denied by moby's default.
        let mounts = write_recording(dir.path(), "mounts.recording.json", &[0, 165]);
        let against = |file: &Path, spec: &str| {
            run(args(file, None, Some(spec), Some(FailOnArg::Denied), &out)).unwrap()
        };
        assert_eq!(against(&old, "runtime-default"), 0);
        assert_eq!(against(&mounts, "runtime-default"), EXIT_POLICY_FAILED);
        let report = std::fs::read_to_string(&out).unwrap();
        assert!(report.contains("\"diff\": \"baseline\""), "{report}");
        assert!(
            report.contains("\"denied\": [\n    {\n      \"name\": \"mount\""),
            "{report}"
        );
        // containers/common allows mount in seccomp (capabilities guard it).
        assert_eq!(against(&mounts, "runtime-default=crio"), 0);
        // A profile file as the baseline.
        assert_eq!(against(&mounts, old.to_str().unwrap()), EXIT_POLICY_FAILED);

        // A bad input is an error naming the file.
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"colour\": 1}").unwrap();
        let err = run(args(&bad, Some(&old), None, None, &out)).unwrap_err();
        assert!(format!("{err:#}").starts_with(&format!("{}: found an object", bad.display())));
    }

    #[test]
    fn against_values() {
        assert!(matches!(
            parse_against("runtime-default").unwrap(),
            Baseline::RuntimeDefault(Flavour::Moby)
        ));
        assert!(matches!(
            parse_against("runtime-default=crio").unwrap(),
            Baseline::RuntimeDefault(Flavour::Crio)
        ));
        let err = parse_against("runtime-default=lxc")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--against: unknown runtime \"lxc\", expected moby, containerd or crio"
        );
        assert!(parse_against("/nonexistent/base.json").is_err());
    }
}
