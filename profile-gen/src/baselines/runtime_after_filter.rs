//! What OCI runtimes do after they load a container's seccomp filter.
//!
//! A profile must allow what the runtime itself runs between loading the filter and exec'ing
//! the entrypoint. For runc (and so containerd, which runs containers through runc) that is Go
//! code whose syscalls depend on scheduling: one recording may show `futex` and the next not, and
//! a profile without it makes one start in a few dozen crash. So the syscalls observed over many
//! starts (`data/runtime-after-filter.json`, made by `cargo xtask observe-runtimes` with the
//! runtimes installed on a machine) are added to every container profile for the runtime that
//! recorded it.
//!
//! Those starts ran with `noNewPrivileges: true` (`runc spec`'s default, and Kubernetes with
//! `allowPrivilegeEscalation: false`). Without it (Podman's and Docker's default), a runtime
//! loads the filter earlier, before it drops capabilities and switches users, so it also needs
//! `capset`, `prctl`, `setresuid`, ... under the filter; `after_filter_without_no_new_privs` holds
//! what was observed then. [`after_filter_any_config`] unites both, for profiles whose recording
//! saw no container start (`generate --for-runtime`).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;

const DATA: &str = include_str!("../../data/runtime-after-filter.json");

#[derive(Deserialize)]
struct Data {
    runtimes: std::collections::BTreeMap<String, Observed>,
}

#[derive(Deserialize)]
struct Observed {
    after_filter: BTreeSet<String>,
    /// The same, for starts with `noNewPrivileges: false`.
    #[serde(default)]
    after_filter_without_no_new_privs: BTreeSet<String>,
}

fn data() -> &'static Data {
    static DATA_PARSED: OnceLock<Data> = OnceLock::new();
    DATA_PARSED.get_or_init(|| {
        serde_json::from_str(DATA)
            .expect("data/runtime-after-filter.json is valid (checked by a unit test)")
    })
}

/// The syscalls `runtime` (as a recording's `target.runtime` names it) was observed making after
/// loading the filter; `None` for a runtime without observations. containerd, Docker and
/// Kubernetes nodes run containers through runc here, Podman through crun; `runc/crun` (a runtime the cgroup path
/// could not tell) gets both.
pub fn after_filter(runtime: &str) -> Option<BTreeSet<String>> {
    observed(runtime, |o| o.after_filter.iter())
}

/// What `runtime` was observed making after loading the filter, with or without
/// `noNewPrivileges`: what a profile needs whichever way the container is configured.
pub fn after_filter_any_config(runtime: &str) -> Option<BTreeSet<String>> {
    observed(runtime, |o| {
        o.after_filter
            .iter()
            .chain(&o.after_filter_without_no_new_privs)
    })
}

fn observed<'a, I: Iterator<Item = &'a String>>(
    runtime: &str,
    names_of: impl Fn(&'a Observed) -> I,
) -> Option<BTreeSet<String>> {
    let runtimes: &[&str] = match runtime {
        "runc" | "containerd" | "docker" | "kubernetes" => &["runc"],
        "crun" => &["crun"],
        // Podman runs containers through crun, and its attach handshake adds calls of its own.
        "podman" => &["crun", "podman"],
        "runc/crun" => &["runc", "crun"],
        other => {
            return data()
                .runtimes
                .get(other)
                .map(|o| names_of(o).cloned().collect())
        }
    };
    let mut names = BTreeSet::new();
    for name in runtimes {
        names.extend(names_of(data().runtimes.get(*name)?).cloned());
    }
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_parse_and_name_real_syscalls() {
        let runc = after_filter("runc").expect("runc was observed");
        assert!(
            runc.contains("execve") && runc.contains("futex"),
            "{runc:?}"
        );
        for name in runc
            .iter()
            .chain(after_filter("crun").expect("crun was observed").iter())
        {
            assert!(
                crate::syscall_known(name),
                "{name} is not a syscall libseccomp knows"
            );
        }
    }

    #[test]
    fn without_no_new_privs_the_runtimes_drop_capabilities_under_the_filter() {
        for runtime in ["runc", "crun", "podman", "containerd"] {
            let any = after_filter_any_config(runtime).unwrap();
            assert!(after_filter(runtime).unwrap().is_subset(&any), "{runtime}");
            // crun: "prctl drop bounding", then capset and the user switch.
            for name in ["prctl", "capset", "execve"] {
                assert!(any.contains(name), "{runtime}: {name} in {any:?}");
            }
        }
        // Podman's attach handshake under crun.
        assert!(after_filter_any_config("podman")
            .unwrap()
            .contains("pselect6"));
        assert!(!after_filter_any_config("crun")
            .unwrap()
            .contains("pselect6"));
        assert_eq!(after_filter_any_config("lxc"), None);
    }

    #[test]
    fn engines_map_to_the_runtime_they_run() {
        assert_eq!(after_filter("containerd"), after_filter("runc"));
        let both = after_filter("runc/crun").unwrap();
        assert!(after_filter("crun").unwrap().is_subset(&both));
        assert_eq!(after_filter("no-such-runtime"), None);
    }
}
