//! The tools an engineer would reach for instead of syscage, as the benchmark runs them: the
//! bpftrace one-liner (a classic tracepoint with a cgroup filter and a count map) and
//! `strace -f -c`.

use std::path::Path;

/// bpftrace counting `cgroup`'s syscalls by number; it prints "ready" once attached.
pub(super) fn bpftrace_argv(cgroup: &Path) -> Vec<String> {
    vec![
        "bpftrace".into(),
        "-B".into(),
        "line".into(),
        "-e".into(),
        format!(
            "tracepoint:raw_syscalls:sys_enter /cgroup == cgroupid(\"{}\")/ \
             {{ @[args->id] = count(); }} BEGIN {{ printf(\"ready\\n\"); }}",
            cgroup.display()
        ),
    ]
}

/// The sum of bpftrace's `@[nr]: count` lines.
pub(super) fn bpftrace_calls(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter(|l| l.starts_with("@["))
        .filter_map(|l| l.rsplit(": ").next()?.trim().parse::<u64>().ok())
        .sum()
}

/// `strace -f -c -o SUMMARY -- COMMAND...`.
pub(super) fn strace_argv(summary: &Path, command: Vec<String>) -> Vec<String> {
    let mut argv = vec![
        "strace".to_owned(),
        "-f".into(),
        "-c".into(),
        "-o".into(),
        summary.display().to_string(),
        "--".into(),
    ];
    argv.extend(command);
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpftrace_counts_are_summed() {
        let lines = [
            "Attaching 2 probes...",
            "",
            "@[39]: 7",
            "@[0]: 100",
            "@[1]: 101",
        ]
        .map(String::from);
        assert_eq!(bpftrace_calls(&lines), 208);
    }
}
