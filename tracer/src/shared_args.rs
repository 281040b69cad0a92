//! Argument groups that several subcommands flatten into theirs: the user a command runs as
//! (`record`, `run`), what Docker-format profiles are evaluated for (`generate`, `diff`,
//! `merge`, `run`), and `--all`'s Kubernetes filters (`record`, `audit`).

use std::collections::BTreeSet;

use crate::recorder::workloads::WorkloadFilter;
use anyhow::{Context as _, Result};
use clap::Args;
use profile_gen::{parse_arch_name, Conditions, KernelVersion, ScmpArch};

/// `--all`'s Kubernetes filters.
#[derive(Debug, Args)]
pub(crate) struct WorkloadFilterArgs {
    /// With --all: only Kubernetes containers of this namespace (repeatable; any of them).
    /// Containers without a Kubernetes identity are then left out.
    #[arg(long, value_name = "NS", requires = "all")]
    pub(crate) namespace: Vec<String>,

    /// With --all: only Kubernetes containers of this workload, the pod's owner as derived
    /// from the pod name (`web-7d4b9c6f8-x2x5z` -> `web`; repeatable; any of them). With
    /// --namespace too, a container must match both.
    #[arg(long, value_name = "NAME", requires = "all")]
    pub(crate) workload: Vec<String>,
}

impl WorkloadFilterArgs {
    /// The filter, refused without `--all` (clap's `requires` takes a flag's default value
    /// for presence, so it cannot say this).
    pub(crate) fn into_filter(self, all: bool) -> Result<WorkloadFilter> {
        if !all && !(self.namespace.is_empty() && self.workload.is_empty()) {
            anyhow::bail!(
                "--namespace and --workload filter --all's containers: expected --all with them"
            );
        }
        Ok(WorkloadFilter {
            namespaces: self.namespace.into_iter().collect(),
            workloads: self.workload.into_iter().collect(),
        })
    }
}

#[derive(Debug, Args)]
pub(crate) struct UserArg {
    /// Run the command as this user (`name`, `uid`, `name:group` or `uid:gid`). Default: the
    /// user who invoked sudo (SUDO_UID/SUDO_GID), else syscage's own user. `--user root`
    /// keeps root.
    #[arg(short, long, value_name = "USER")]
    pub(crate) user: Option<String>,
}

/// What Docker-format profiles and RuntimeDefault are evaluated for.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// Architecture (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, x86_64, arm64, ...) whose syscall
    /// table is used and for which Docker-format profiles and RuntimeDefault are evaluated.
    /// Default: the inputs', else this machine's.
    #[arg(long, value_name = "ARCH", value_parser = parse_arch)]
    pub(crate) arch: Option<ScmpArch>,

    /// Add a capability to the container's default set (CAP_SYS_ADMIN or SYS_ADMIN); repeatable.
    #[arg(long, value_name = "CAP")]
    pub(crate) cap_add: Vec<String>,

    /// Drop a capability from the container's default set, or ALL (what the Pod Security
    /// Standard "restricted" level requires); repeatable.
    #[arg(long, value_name = "CAP")]
    pub(crate) cap_drop: Vec<String>,

    /// The node's kernel version (e.g. 6.1). Default: this machine's.
    #[arg(long, value_name = "VERSION", value_parser = parse_kernel)]
    pub(crate) kernel: Option<KernelVersion>,
}

fn parse_arch(text: &str) -> Result<ScmpArch, String> {
    let scmp = match text {
        "x86_64" | "amd64" => "SCMP_ARCH_X86_64",
        "aarch64" | "arm64" => "SCMP_ARCH_AARCH64",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "s390x" => "SCMP_ARCH_S390X",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        other => other,
    };
    parse_arch_name(scmp).map_err(|e| e.to_string())
}

fn parse_kernel(text: &str) -> Result<KernelVersion, String> {
    text.parse()
}

impl EvalArgs {
    /// The conditions for `arch`, starting from `default_caps`.
    pub(crate) fn conditions(
        &self,
        arch: ScmpArch,
        default_caps: BTreeSet<String>,
    ) -> Result<Conditions> {
        let mut caps = default_caps;
        for cap in &self.cap_drop {
            if cap.eq_ignore_ascii_case("ALL") {
                caps.clear();
            } else {
                let cap = profile_gen::formats::docker::normalize_cap(cap).with_context(|| {
                    format!("--cap-drop: unknown capability {cap:?}, expected one such as CAP_NET_RAW or ALL")
                })?;
                caps.remove(&cap);
            }
        }
        let kernel = match self.kernel {
            Some(kernel) => kernel,
            None => host_kernel()?,
        };
        Conditions::new(
            arch,
            caps.into_iter().chain(self.cap_add.iter().cloned()),
            kernel,
        )
        .map_err(|e| anyhow::anyhow!("--cap-add: {e}"))
    }
}

fn host_kernel() -> Result<KernelVersion> {
    let host = profile_gen::host_info().context("uname")?;
    host.kernel_release
        .parse()
        .map_err(|e| anyhow::anyhow!("this machine's kernel: {e}; pass --kernel"))
}

/// The capabilities Docker gives a container by default; Docker-format inputs are evaluated
/// for them unless --cap-add/--cap-drop say otherwise.
pub(crate) fn docker_default_caps() -> BTreeSet<String> {
    profile_gen::baselines::runtime_default::Flavour::Moby.default_caps()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_filters_need_all() {
        let args = || WorkloadFilterArgs {
            namespace: vec!["shop".to_owned()],
            workload: Vec::new(),
        };
        assert!(args().into_filter(false).is_err());
        let filter = args().into_filter(true).unwrap();
        assert!(filter.is_active());
        let none = WorkloadFilterArgs {
            namespace: Vec::new(),
            workload: Vec::new(),
        };
        assert!(!none.into_filter(false).unwrap().is_active());
    }

    #[test]
    fn arches_and_kernels_parse() {
        assert_eq!(parse_arch("amd64").unwrap(), ScmpArch::X8664);
        assert_eq!(parse_arch("SCMP_ARCH_AARCH64").unwrap(), ScmpArch::Aarch64);
        assert!(parse_arch("vax").is_err());
        assert!(parse_kernel("6.1").is_ok());
        assert!(parse_kernel("six").is_err());
    }

    #[test]
    fn capability_flags() {
        let eval = EvalArgs {
            arch: None,
            cap_add: vec!["sys_admin".into()],
            cap_drop: vec!["ALL".into()],
            kernel: Some(KernelVersion { major: 6, minor: 1 }),
        };
        let c = eval
            .conditions(ScmpArch::X8664, docker_default_caps())
            .unwrap();
        assert_eq!(c.caps.into_iter().collect::<Vec<_>>(), ["CAP_SYS_ADMIN"]);
        let eval = EvalArgs {
            cap_add: vec!["SYS_WIZARD".into()],
            cap_drop: vec![],
            ..eval
        };
        let err = eval
            .conditions(ScmpArch::X8664, docker_default_caps())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown capability \"SYS_WIZARD\""), "{err}");
    }
}
