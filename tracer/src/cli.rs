//! Command-line interface: the subcommands and the global flags. Each subcommand's arguments
//! live with it in `cmd/`; the doc comments are the help text.

use clap::{ArgAction, Parser, Subcommand};

const EXIT_STATUS_HELP: &str = "\
Exit status:
  record and run exit with the command's own status (128+N if signal N ended it).
  diff exits 1 when --fail-on trips; ready exits 1 when the agent is not recording.
  119  audit: records were lost or could not be attributed; the recordings are incomplete
  120  missing privileges (not root, no CAP_BPF/CAP_PERFMON)
  121  missing kernel support (no cgroup v2, the eBPF program refused)
  122  the target does not exist (container id, cgroup, process), or made no syscall while
       recorded (see record --allow-empty)
  123  an output cannot be written (directory missing or read-only, disk full; record then
       saves the recording to a file it names)
  124  an input file is unreadable or invalid (profile, recording)
  125  any other syscage failure (bad arguments, ...)
  126  the command could not be executed
  127  the command was not found";

/// Record the system calls a workload really makes (with eBPF) and turn them into the
/// tightest seccomp profile that still runs it.
#[derive(Debug, Parser)]
#[command(name = "syscage", version, after_help = EXIT_STATUS_HELP)]
pub(crate) struct Cli {
    /// Say more about what syscage does (-v: the steps; -vv: details; -vvv: the libraries' debug
    /// output).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    Record(crate::cmd::record::RecordArgs),
    Run(crate::cmd::run::RunArgs),
    Generate(crate::cmd::generate::GenerateArgs),
    Diff(crate::cmd::diff::DiffArgs),
    Merge(crate::cmd::merge::MergeArgs),
    OciHook(crate::cmd::oci_hook::OciHookArgs),
    Ready(crate::cmd::ready::ReadyArgs),
    Audit(crate::cmd::audit::AuditArgs),
    /// For `cargo xtask bench` only.
    #[command(hide = true)]
    BenchAttach(crate::cmd::bench_attach::BenchAttachArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn long_help(subcommand: &str) -> String {
        let mut cli = Cli::command();
        cli.build();
        cli.find_subcommand_mut(subcommand)
            .unwrap_or_else(|| panic!("no subcommand {subcommand}"))
            .render_long_help()
            .to_string()
            // The help is wrapped to the terminal: compare words, not lines.
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn only_commands_that_load_the_ebpf_program_mention_its_log_lines() {
        for subcommand in ["diff", "generate", "merge", "run"] {
            let help = long_help(subcommand);
            assert!(
                !help.contains("eBPF program's own log"),
                "`{subcommand} --help` talks about the eBPF program's log lines:\n{help}"
            );
        }
        assert!(long_help("record").contains("eBPF program's own log"));
    }

    #[test]
    fn a_zero_duration_is_refused_when_parsing() {
        let zero = Cli::try_parse_from([
            "syscage",
            "record",
            "-o",
            "x.json",
            "--duration",
            "0s",
            "--",
            "true",
        ]);
        let err = zero.expect_err("--duration 0s must be refused");
        assert!(err.to_string().contains("longer than zero"), "{err}");
        assert!(Cli::try_parse_from([
            "syscage",
            "record",
            "-o",
            "x.json",
            "--duration",
            "1s",
            "--",
            "true"
        ])
        .is_ok());
    }
}
