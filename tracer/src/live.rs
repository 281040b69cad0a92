//! The live view on stderr while recording: each syscall as it first appears, how many so far,
//! and how long since the last new one, so a user can see when a workload has converged.
//! Only drawn on a terminal, and not with `--quiet`.

use std::{
    collections::BTreeSet,
    io::{IsTerminal as _, Write as _},
    time::Instant,
};

use profile_gen::{native_arch, syscall_name};

use crate::bpf::CgroupSyscalls;

pub(crate) struct LiveView {
    enabled: bool,
    known: BTreeSet<(usize, u32)>,
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
        let mut new: Vec<(u64, (usize, u32))> = seen
            .seen
            .iter()
            .filter(|(key, _)| !self.known.contains(key))
            .map(|(&key, s)| (s.first_seen_ns, key))
            .collect();
        new.sort_unstable();
        let mut err = std::io::stderr().lock();
        if !new.is_empty() {
            self.clear_status(&mut err);
            for (_, (abi_index, nr)) in new {
                self.known.insert((abi_index, nr));
                let name = match abi_index {
                    tracer_common::abi::NATIVE => {
                        syscall_name(arch, nr).unwrap_or_else(|| format!("#{nr}"))
                    }
                    _ => format!("compat #{nr}"),
                };
                let _ = writeln!(err, "  + {name}");
            }
            self.last_new = Instant::now();
        }
        let _ = write!(
            err,
            "\r\x1b[2Ksyscage: {label}: {} syscalls so far, last new one {:.1}s ago",
            self.known.len(),
            self.last_new.elapsed().as_secs_f64()
        );
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
