//! Running a command with exactly the capabilities a recording says it needed
//! (`syscage run --capabilities-from REC`), the way a runtime applies a container's
//! `process.capabilities`: the bounding set cut to them, permitted and effective set to them,
//! and, for a command run as a non-root user, the ambient set too (without it a non-root
//! program loses every capability at exec).
//!
//! Everything is decided before fork; in the child only prctl and capset run, which do not
//! allocate on success.

use std::io;
use std::path::Path;
use std::str::FromStr as _;

use anyhow::Result;
use caps::{CapSet, Capability, CapsHashSet};
use profile_gen::{build::security::observed_security, read_input, Conditions};

/// The capabilities to keep, and every one this kernel knows (to cut the others from the
/// bounding set).
#[derive(Debug, Clone)]
pub(crate) struct KeptCapabilities {
    keep: CapsHashSet,
    supported: Vec<Capability>,
    /// Names, sorted, for messages.
    pub(crate) names: Vec<String>,
}

impl KeptCapabilities {
    /// The capabilities `recording` (a recording or merged recording with security facts)
    /// says the workload needed.
    pub(crate) fn from_recording(recording: &Path, conditions: &Conditions) -> Result<Self> {
        let input = read_input(recording, conditions)?;
        let facts = observed_security(std::slice::from_ref(&input)).map_err(|_| {
            anyhow::anyhow!(
                "--capabilities-from {}: recorded without security facts (capabilities), \
                 expected a recording or merged recording that carries them",
                recording.display()
            )
        })?;
        let names: Vec<String> = facts.needed_capabilities().map(str::to_owned).collect();
        let keep = names
            .iter()
            .map(|name| {
                Capability::from_str(name).map_err(|_| {
                    anyhow::anyhow!(
                        "--capabilities-from {}: {name} is a capability this syscage cannot set",
                        recording.display()
                    )
                })
            })
            .collect::<Result<CapsHashSet>>()?;
        let mut supported: Vec<Capability> =
            caps::runtime::thread_all_supported().into_iter().collect();
        supported.sort_by_key(Capability::index);
        Ok(Self {
            keep,
            supported,
            names,
        })
    }

    /// In the child, before it changes user: cuts the bounding set and, for a non-root user,
    /// keeps the permitted set across the uid change.
    pub(crate) fn before_user_switch(&self, non_root: bool) -> io::Result<()> {
        for cap in &self.supported {
            if !self.keep.contains(cap) {
                caps::drop(None, CapSet::Bounding, *cap).map_err(to_io)?;
            }
        }
        if non_root {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// In the child, after the user change and before the seccomp filter: sets effective,
    /// permitted and inheritable, and raises the ambient set for a non-root user.
    pub(crate) fn apply(&self, non_root: bool) -> io::Result<()> {
        caps::set(None, CapSet::Effective, &self.keep).map_err(to_io)?;
        caps::set(None, CapSet::Permitted, &self.keep).map_err(to_io)?;
        if non_root {
            caps::set(None, CapSet::Inheritable, &self.keep).map_err(to_io)?;
            for cap in &self.keep {
                caps::raise(None, CapSet::Ambient, *cap).map_err(to_io)?;
            }
        } else {
            caps::clear(None, CapSet::Inheritable).map_err(to_io)?;
        }
        Ok(())
    }
}

/// The OS error behind a failed prctl or capset (the caps crate keeps only its text).
fn to_io(error: caps::errors::CapsError) -> io::Error {
    let os = io::Error::last_os_error();
    if os.raw_os_error().is_some_and(|e| e != 0) {
        os
    } else {
        io::Error::other(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_without_security_facts_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.recording.json");
        std::fs::write(
            &path,
            include_str!("../../../profile-gen/tests/fixtures/recording-v1.json"),
        )
        .unwrap();
        let conditions = Conditions {
            arch: profile_gen::native_arch(),
            caps: Default::default(),
            kernel: profile_gen::KernelVersion { major: 6, minor: 1 },
        };
        let err = KeptCapabilities::from_recording(&path, &conditions)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--capabilities-from ") && err.contains("without security facts"),
            "{err}"
        );
    }
}
