//! The live view on stderr while recording: each syscall as it first appears, how many so far,
//! and how long since the last new one, so a user can see when a workload has converged.
//! Only drawn on a terminal, and not with `--quiet`.
//!
//! The status line is redrawn in place (`\r`, erase line), which only works while it fits on
//! one screen line: a line that wraps leaves its first rows behind on every redraw. So it is cut
//! to the terminal's width, the label first.

use std::{
    collections::BTreeSet,
    io::{IsTerminal as _, Write as _},
    time::Instant,
};

use profile_gen::{native_arch, syscall_name};

use crate::ebpf::decode::{Abi, CgroupSyscalls, SyscallKey};

pub(crate) struct LiveView {
    enabled: bool,
    known: BTreeSet<SyscallKey>,
    last_new: Instant,
    status_drawn: bool,
}

impl LiveView {
    pub(crate) fn new(quiet: bool) -> Self {
        Self {
            enabled: !quiet && std::io::stderr().is_terminal(),
            known: BTreeSet::new(),
            last_new: Instant::now(),
            status_drawn: false,
        }
    }

    /// Prints the syscalls not shown yet and redraws the status line.
    pub(crate) fn update(&mut self, label: &str, seen: &CgroupSyscalls) {
        if !self.enabled {
            return;
        }
        let arch = native_arch();
        let mut new: Vec<(u64, SyscallKey)> = seen
            .seen
            .iter()
            .filter(|(key, _)| !self.known.contains(key))
            .map(|(&key, s)| (s.first_seen_ns, key))
            .collect();
        new.sort_unstable();
        let mut err = std::io::stderr().lock();
        if !new.is_empty() {
            self.clear_status(&mut err);
            for (_, key) in new {
                self.known.insert(key);
                let nr = key.nr;
                let name = match key.abi {
                    Abi::Native => syscall_name(arch, nr).unwrap_or_else(|| format!("#{nr}")),
                    Abi::Compat => format!("compat #{nr}"),
                };
                let _ = writeln!(err, "  + {name}");
            }
            self.last_new = Instant::now();
        }
        let status = status_line(
            label,
            self.known.len(),
            self.last_new.elapsed().as_secs_f64(),
            terminal_width(),
        );
        let _ = write!(err, "\r\x1b[2K{status}");
        let _ = err.flush();
        self.status_drawn = true;
    }

    /// Removes the status line before other output.
    pub(crate) fn finish(&mut self) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            self.clear_status(&mut err);
        }
    }

    fn clear_status(&mut self, err: &mut impl std::io::Write) {
        if self.status_drawn {
            let _ = write!(err, "\r\x1b[2K");
            self.status_drawn = false;
        }
    }
}

/// Columns of the terminal on stderr; 80 when it does not say.
fn terminal_width() -> usize {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize through a valid pointer.
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        usize::from(size.ws_col)
    } else {
        80
    }
}

/// The status line, at most `width - 1` characters (a line that reaches the last column makes
/// some terminals wrap at once): the label loses its start first (`…` marks the cut; the end of
/// a cgroup path or a name is what tells targets apart), then the words.
fn status_line(label: &str, count: usize, since_new_secs: f64, width: usize) -> String {
    let news = format!("{count} syscalls so far, last new one {since_new_secs:.1}s ago");
    let fits = width.saturating_sub(1);
    let full = format!("syscage: {label}: {news}");
    if full.chars().count() <= fits {
        return full;
    }
    let frame = "syscage: …: ".chars().count() + news.chars().count();
    let room = fits.saturating_sub(frame);
    if room >= 8 {
        let chars: Vec<char> = label.chars().collect();
        let tail: String = chars[chars.len() - room.min(chars.len())..]
            .iter()
            .collect();
        return format!("syscage: …{tail}: {news}");
    }
    let short = format!("{count} syscalls, last new {since_new_secs:.0}s ago");
    short.chars().take(fits).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1e0bd0a3c5a7e2c4b7d3a1f0e9c8b7a6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1";

    #[test]
    fn the_status_line_fits_the_terminal() {
        for width in [20, 40, 80, 120] {
            for label in [
                ID,
                "/kubepods/burstable/pod0d8a6f0e/3f1e0bd0a3c5a7e2c4b7d3",
                "web",
            ] {
                let line = status_line(label, 123, 42.25, width);
                assert!(
                    line.chars().count() < width,
                    "{width} columns: {line:?} ({} characters)",
                    line.chars().count()
                );
            }
        }
    }

    #[test]
    fn a_short_label_is_kept_whole_and_a_long_one_keeps_its_end() {
        assert_eq!(
            status_line("web", 7, 1.0, 80),
            "syscage: web: 7 syscalls so far, last new one 1.0s ago"
        );
        let line = status_line(ID, 7, 1.0, 80);
        assert!(line.starts_with("syscage: …"), "{line}");
        assert!(line.contains("d3c2b1: 7 syscalls"), "{line}");
    }
}
