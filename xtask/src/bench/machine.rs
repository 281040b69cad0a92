//! What the machine is and how busy it is, for the report's heading and notes.

use std::{fs, process::Command};

/// `2026-11-26, Linux 6.18.44 x86_64, 2 CPUs (model name)`.
pub(crate) fn description() -> String {
    let date = output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let kernel = output("uname", &["-rm"]);
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!("{date}, Linux {kernel}, {cpus} CPUs ({})", cpu_model())
}

/// The 1, 5 and 15 minute load averages.
pub(super) fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The program's trimmed stdout, or "" when it cannot run.
fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default()
}
