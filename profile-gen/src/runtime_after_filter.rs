//! What OCI runtimes do after they load a container's seccomp filter.
//!
//! A profile must allow what the runtime itself runs between loading the filter and exec'ing
//! the entrypoint. For runc (and so containerd, which runs containers through runc) that is Go
//! code whose syscalls depend on scheduling: one recording may show `futex` and the next not, and
//! a profile without it makes one start in a few dozen crash. So the syscalls observed over many
//! starts (`data/runtime-after-filter.json`, made by `cargo xtask observe-runtimes` with the
//! runtimes installed on a machine) are added to every container profile for the runtime that
//! recorded it.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;

const DATA: &str = include_str!("../data/runtime-after-filter.json");

#[derive(Deserialize)]
struct Data {
    runtimes: std::collections::BTreeMap<String, Observed>,
}

#[derive(Deserialize)]
struct Observed {
    after_filter: BTreeSet<String>,
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
/// Kubernetes nodes run containers through runc here; `runc/crun` (a runtime the cgroup path
/// could not tell) gets both.
pub fn after_filter(runtime: &str) -> Option<BTreeSet<String>> {
    let runtimes: &[&str] = match runtime {
        "runc" | "containerd" | "docker" | "kubernetes" => &["runc"],
        "crun" | "podman" => &["crun"],
        "runc/crun" => &["runc", "crun"],
        other => return data().runtimes.get(other).map(|o| o.after_filter.clone()),
    };
    let mut names = BTreeSet::new();
    for name in runtimes {
        names.extend(data().runtimes.get(*name)?.after_filter.iter().cloned());
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
    fn engines_map_to_the_runtime_they_run() {
        assert_eq!(after_filter("containerd"), after_filter("runc"));
        let both = after_filter("runc/crun").unwrap();
        assert!(after_filter("crun").unwrap().is_subset(&both));
        assert_eq!(after_filter("no-such-runtime"), None);
    }
}
