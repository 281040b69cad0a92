//! `syscage`: the single user-facing binary. It parses arguments, sets up logging and hands over
//! to one subcommand; the work lives in the modules below and in the `profile-gen` library.
//! Errors are printed once, here, as `syscage: <error with context>`.

mod audit;
mod cli;
mod cmd;
mod ebpf;
mod recorder;
mod shared_args;
mod sys;
#[cfg(test)]
mod test_fixtures;

use std::process::ExitCode;

use clap::Parser as _;

use crate::{
    cli::{Cli, Command},
    sys::exit,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are not errors; bad arguments exit with syscage's error status,
        // so a wrapper can tell them from the recorded command's own status.
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(exit::EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_logging(&cli);
    let result = match cli.command {
        Command::Record(args) => cmd::record::run(args, cli.verbose, cli.quiet),
        Command::Run(args) => cmd::run::run(args, cli.verbose, cli.quiet),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Diff(args) => cmd::diff::run(args),
        Command::Merge(args) => cmd::merge::run(args, cli.quiet),
        Command::OciHook(args) => cmd::oci_hook::run(args, cli.verbose),
        Command::Ready(args) => cmd::ready::run(args, cli.quiet),
        Command::Audit(args) => cmd::audit::run(args, cli.quiet),
        Command::BenchAttach(args) => cmd::bench_attach::run(args, cli.verbose),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("syscage: {err:#}");
            ExitCode::from(exit::code_of(&err))
        }
    }
}

fn init_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => log::LevelFilter::Error,
        (false, 0) => log::LevelFilter::Warn,
        (false, 1) => log::LevelFilter::Info,
        (false, _) => log::LevelFilter::Debug,
    };
    // Libraries (aya's feature probing, ...) only speak up from -vvv on. The "syscage" prefix
    // covers this binary and the eBPF side's aya-log lines (target `syscage_ebpf`).
    let libraries = if cli.verbose >= 3 {
        log::LevelFilter::Debug
    } else {
        level.min(log::LevelFilter::Warn)
    };
    env_logger::Builder::new()
        .filter_level(libraries)
        .filter_module("syscage", level)
        // One prefix for all of syscage's own lines on stderr, so they stand out from the
        // workload's output that passes through the same terminal.
        .format(|buf, record| {
            use std::io::Write as _;
            let level = match record.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                log::Level::Info | log::Level::Debug | log::Level::Trace => "",
            };
            writeln!(buf, "syscage: {level}{}", record.args())
        })
        .parse_env("SYSCAGE_LOG")
        .init();
}
