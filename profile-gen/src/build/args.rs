//! Argument conditions learnt from recorded argument values, and what a change in them means.
//!
//! The tracer records the distinct values of a few integer arguments ([`ArgsSeen`]) for the
//! syscalls where RuntimeDefault itself checks arguments, or where one value changes what the
//! call can do: `clone`/`unshare` flags, `socket` domain and type, `personality`, the `prctl`
//! option, the `ioctl` request, and `mmap`/`mprotect` protection. [`rules_for`] turns them into
//! runtime-spec conditions of the shapes runc, crun, containerd and libseccomp apply as written:
//!
//! - `clone`, `unshare`: `arg0 & NAMESPACE_FLAGS == v` (`SCMP_CMP_MASKED_EQ`) for every observed
//!   `v = flags & NAMESPACE_FLAGS`, one rule each: the namespaces created are checked, the other
//!   flags (threads, `vfork`, exit signal) are not. moby's default profile has the same shape
//!   for `arg0 & 0x7e020000 == 0`.
//! - `socket`: `arg0 == domain && arg1 & 0xf == type` per observed pair: the conditions of one
//!   rule are on different arguments, which libseccomp ANDs; `SOCK_NONBLOCK`/`SOCK_CLOEXEC` are
//!   masked off.
//! - `personality`, `prctl`: `arg0 == v`; `ioctl`: `arg1 == v`; one rule per value.
//! - `mmap`, `mprotect`: when `PROT_EXEC` was never asked for, `arg2 & PROT_EXEC == 0` (no
//!   executable memory); otherwise no condition.
//!
//! Several values of one argument are always several rules: conditions on the same argument in
//! one rule are not an OR (libseccomp ANDs them where it can, runc splits them into separate
//! rules), so a profile never relies on either reading.
//!
//! Past [`MAX_RULES`] rules for one syscall (a workload issuing many `ioctl` requests) the
//! syscall is allowed for any arguments, and the generator says so.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use oci_spec::runtime::{LinuxSeccompArg, LinuxSeccompArgBuilder, LinuxSeccompOperator};

use crate::analysis::arg_names::{describe_named, family_name, socket_type_name};
use crate::analysis::risk::{risk_of, Risk};
use crate::model::recording::ArgsSeen;

/// `CLONE_NEWTIME` (Linux 5.6): only `clone3` and `unshare` accept it; in `clone`'s flags the
/// bit belongs to the exit signal byte, where no valid signal (at most 64) sets it.
pub const CLONE_NEWTIME: u64 = 0x0000_0080;
pub const CLONE_NEWNS: u64 = 0x0002_0000;
pub const CLONE_NEWCGROUP: u64 = 0x0200_0000;
pub const CLONE_NEWUTS: u64 = 0x0400_0000;
pub const CLONE_NEWIPC: u64 = 0x0800_0000;
pub const CLONE_NEWUSER: u64 = 0x1000_0000;
pub const CLONE_NEWPID: u64 = 0x2000_0000;
pub const CLONE_NEWNET: u64 = 0x4000_0000;

/// Every namespace flag of `clone`/`unshare`: moby's `0x7e020000` plus `CLONE_NEWTIME`.
pub const NAMESPACE_FLAGS: u64 = CLONE_NEWNS
    | CLONE_NEWCGROUP
    | CLONE_NEWUTS
    | CLONE_NEWIPC
    | CLONE_NEWUSER
    | CLONE_NEWPID
    | CLONE_NEWNET
    | CLONE_NEWTIME;

/// The namespace flags by name, for reports.
const NAMESPACE_NAMES: [(u64, &str); 8] = [
    (CLONE_NEWUSER, "CLONE_NEWUSER"),
    (CLONE_NEWNS, "CLONE_NEWNS"),
    (CLONE_NEWNET, "CLONE_NEWNET"),
    (CLONE_NEWPID, "CLONE_NEWPID"),
    (CLONE_NEWIPC, "CLONE_NEWIPC"),
    (CLONE_NEWUTS, "CLONE_NEWUTS"),
    (CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
    (CLONE_NEWTIME, "CLONE_NEWTIME"),
];

/// `SOCK_TYPE_MASK`: the socket type without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
pub const SOCK_TYPE_MASK: u64 = 0xf;

/// `PROT_EXEC`.
pub const PROT_EXEC: u64 = 0x4;

/// `SIGCHLD` on the architectures syscage projects between (x86, arm, riscv, ...): the exit
/// signal `fork` passes to `clone`.
const SIGCHLD: u64 = 17;
/// `CLONE_VM | CLONE_VFORK`, what `vfork` adds.
const CLONE_VM_VFORK: u64 = 0x0000_0100 | 0x0000_4000;

/// The `clone` flags `fork` stands for, when projecting onto an architecture without `fork`.
pub const FORK_CLONE_FLAGS: u64 = SIGCHLD;
/// The `clone` flags `vfork` stands for.
pub const VFORK_CLONE_FLAGS: u64 = CLONE_VM_VFORK | SIGCHLD;

/// The most rules one syscall gets; past it, it is allowed for any arguments.
pub const MAX_RULES: usize = 16;

/// What to allow for one syscall, given its recorded argument values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgRules {
    /// Allowed when one of these condition sets holds (all conditions of a set must).
    Conditions(Vec<Vec<LinuxSeccompArg>>),
    /// Allowed for any arguments, and why.
    Any(AnyReason),
}

/// Why a syscall with recorded arguments is allowed for any arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyReason {
    /// The tracer saw more distinct values than it keeps (or a merge found the values of some
    /// run incomplete): the values are not all known.
    Overflow,
    /// More distinct conditions than [`MAX_RULES`].
    TooMany { count: usize },
    /// `mmap`/`mprotect` asked for executable memory: there is nothing to restrict.
    ExecUsed,
    /// syscage has no condition shape for this syscall.
    NoShape,
    /// The recording does not hold the argument the shape needs.
    MissingIndex { index: u8 },
    /// Some calls were recorded without argument values (another ABI, an older syscage).
    NotCaptured { arch: String },
    /// The values were recorded for arguments other than the ones expected, or for different
    /// arguments in different inputs.
    Mismatch,
    /// Projected from a syscall whose arguments are at other positions.
    Renamed { from: String },
}

impl AnyReason {
    /// Whether a user should hear about it: everything but the ordinary "executable memory was
    /// used, so there is nothing to restrict".
    pub fn is_loss(&self) -> bool {
        !matches!(self, Self::ExecUsed)
    }

    /// One line, saying why the syscall is allowed for any arguments.
    pub fn describe(&self) -> String {
        match self {
            Self::Overflow => {
                "its recorded values are incomplete (overflow: more distinct values than the \
                 tracer keeps, or a merged run that did not record them)"
                    .to_owned()
            }
            Self::TooMany { count } => {
                format!("{count} distinct argument values, more than the {MAX_RULES} rules syscage writes per syscall")
            }
            Self::ExecUsed => "PROT_EXEC was used".to_owned(),
            Self::NoShape => "syscage has no argument rule for it".to_owned(),
            Self::MissingIndex { index } => {
                format!("the recording holds no values for argument {index}")
            }
            Self::NotCaptured { arch } => {
                format!("some calls ({arch}) were recorded without argument values")
            }
            Self::Mismatch => {
                "its argument values were recorded for different arguments".to_owned()
            }
            Self::Renamed { from } => {
                format!("projected from {from}, whose arguments are at other positions")
            }
        }
    }
}

/// Builds one condition.
fn cond(
    index: u8,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> LinuxSeccompArg {
    let builder = LinuxSeccompArgBuilder::default()
        .index(usize::from(index))
        .value(value)
        .op(op);
    let builder = match value_two {
        Some(two) => builder.value_two(two),
        None => builder,
    };
    builder
        .build()
        .expect("every field of a LinuxSeccompArg has a default")
}

/// `arg{index} == value`.
pub fn eq(index: u8, value: u64) -> LinuxSeccompArg {
    cond(index, LinuxSeccompOperator::ScmpCmpEq, value, None)
}

/// `arg{index} & mask == value` (the runtime spec puts the mask in `value`).
pub fn masked_eq(index: u8, mask: u64, value: u64) -> LinuxSeccompArg {
    cond(
        index,
        LinuxSeccompOperator::ScmpCmpMaskedEq,
        mask,
        Some(value & mask),
    )
}

/// The conditions for a syscall with recorded arguments; see the module documentation.
pub fn rules_for(name: &str, seen: &ArgsSeen) -> ArgRules {
    if seen.overflow {
        return ArgRules::Any(AnyReason::Overflow);
    }
    // The position of argument `index` in each tuple.
    let column = |index: u8| seen.indexes.iter().position(|&i| i == index);
    let values = |index: u8| -> Result<BTreeSet<u64>, AnyReason> {
        let at = column(index).ok_or(AnyReason::MissingIndex { index })?;
        seen.values
            .iter()
            .map(|tuple| tuple.get(at).copied().ok_or(AnyReason::Mismatch))
            .collect()
    };
    let sets: Result<Vec<Vec<LinuxSeccompArg>>, AnyReason> = match name {
        "clone" | "unshare" => values(0).map(|vs| {
            vs.into_iter()
                .map(|v| v & NAMESPACE_FLAGS)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|v| vec![masked_eq(0, NAMESPACE_FLAGS, v)])
                .collect()
        }),
        "socket" => match (column(0), column(1)) {
            (Some(d), Some(t)) => seen
                .values
                .iter()
                .map(|tuple| match (tuple.get(d), tuple.get(t)) {
                    (Some(&domain), Some(&ty)) => Ok((domain, ty & SOCK_TYPE_MASK)),
                    _ => Err(AnyReason::Mismatch),
                })
                .collect::<Result<BTreeSet<_>, _>>()
                .map(|pairs| {
                    pairs
                        .into_iter()
                        .map(|(domain, ty)| vec![eq(0, domain), masked_eq(1, SOCK_TYPE_MASK, ty)])
                        .collect()
                }),
            (None, _) => Err(AnyReason::MissingIndex { index: 0 }),
            (_, None) => Err(AnyReason::MissingIndex { index: 1 }),
        },
        "personality" | "prctl" => {
            values(0).map(|vs| vs.into_iter().map(|v| vec![eq(0, v)]).collect())
        }
        "ioctl" => values(1).map(|vs| vs.into_iter().map(|v| vec![eq(1, v)]).collect()),
        "mmap" | "mprotect" => values(2).and_then(|vs| {
            if vs.iter().any(|v| v & PROT_EXEC != 0) {
                Err(AnyReason::ExecUsed)
            } else {
                Ok(vec![vec![masked_eq(2, PROT_EXEC, 0)]])
            }
        }),
        _ => Err(AnyReason::NoShape),
    };
    match sets {
        Err(reason) => ArgRules::Any(reason),
        // No values at all (an empty list without overflow) says nothing was called with
        // arguments, which cannot be for a recorded call: do not restrict.
        Ok(sets) if sets.is_empty() => ArgRules::Any(AnyReason::Mismatch),
        Ok(sets) if sets.len() > MAX_RULES => {
            ArgRules::Any(AnyReason::TooMany { count: sets.len() })
        }
        Ok(sets) => ArgRules::Conditions(sets),
    }
}

/// `AF_INET (2)`, or the number when it has no name.
fn describe_family(domain: u64) -> String {
    family_name(domain).map_or_else(|| format!("family {domain}"), str::to_owned)
}

/// The risk of starting to use an address family, and why.
fn family_risk(domain: u64) -> (Risk, &'static str) {
    match domain {
        1 => (Risk::Low, "starts using local (AF_UNIX) sockets"),
        2 | 10 => (
            Risk::Medium,
            "starts using the network (AF_INET/AF_INET6 sockets)",
        ),
        16 => (
            Risk::High,
            "starts using netlink (AF_NETLINK): configures kernel subsystems (routing, \
             netfilter, audit...), a large attack surface",
        ),
        17 => (
            Risk::High,
            "starts using packet sockets (AF_PACKET): sniffs and injects link-layer traffic, a \
             frequent source of kernel exploits",
        ),
        38 => (
            Risk::High,
            "starts using the kernel crypto API (AF_ALG), which RuntimeDefault denies",
        ),
        40 => (
            Risk::High,
            "starts using vsock (AF_VSOCK): talks to the hypervisor; RuntimeDefault denies it",
        ),
        15 => (
            Risk::High,
            "starts using IPsec key management sockets (AF_KEY)",
        ),
        44 => (
            Risk::High,
            "starts using AF_XDP sockets: shares packet rings with the kernel",
        ),
        _ => (
            Risk::High,
            "starts using a rarely used address family, whose kernel code is a frequent source \
             of exploits",
        ),
    }
}

/// `CLONE_NEWUSER|CLONE_NEWNS`, or `no namespace flags`.
fn describe_namespaces(flags: u64) -> String {
    let names: Vec<&str> = NAMESPACE_NAMES
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "no namespace flags".to_owned()
    } else {
        names.join("|")
    }
}

/// The value a condition set of one of [`rules_for`]'s shapes checks on `index`: `(mask, value)`
/// for a masked comparison, `(u64::MAX, value)` for equality.
fn checked(set: &[LinuxSeccompArg], index: usize) -> Option<(u64, u64)> {
    set.iter()
        .find(|a| a.index() == index)
        .and_then(|a| match a.op() {
            LinuxSeccompOperator::ScmpCmpEq => Some((u64::MAX, a.value())),
            LinuxSeccompOperator::ScmpCmpMaskedEq => Some((a.value(), a.value_two().unwrap_or(0))),
            _ => None,
        })
}

/// A condition set in words for `name`: `CLONE_NEWUSER`, `AF_PACKET/SOCK_RAW`, `FIONBIO`,
/// `without PROT_EXEC`, else the conditions with their values named
/// ([`crate::analysis::arg_names::describe_named`]).
pub fn describe_set(name: &str, set: &[LinuxSeccompArg]) -> String {
    let single = set.len() == 1;
    match name {
        "clone" | "unshare" => match checked(set, 0) {
            Some((mask, value))
                if single && (mask & NAMESPACE_FLAGS == NAMESPACE_FLAGS || mask == 0x7e02_0000) =>
            {
                describe_namespaces(value)
            }
            _ => describe_named(name, set),
        },
        "ioctl" => match checked(set, 1) {
            Some((u64::MAX, request)) if single => crate::analysis::arg_names::ioctl_name(request)
                .map_or_else(|| format!("request {request:#x}"), str::to_owned),
            _ => describe_named(name, set),
        },
        "prctl" => match checked(set, 0) {
            Some((u64::MAX, option)) if single => crate::analysis::arg_names::prctl_name(option)
                .map_or_else(|| format!("option {option}"), str::to_owned),
            _ => describe_named(name, set),
        },
        "personality" => match checked(set, 0) {
            Some((u64::MAX, persona)) if single => {
                crate::analysis::arg_names::personality_name(persona)
                    .map_or_else(|| format!("persona {persona:#x}"), str::to_owned)
            }
            _ => describe_named(name, set),
        },
        "mmap" | "mprotect" => match checked(set, 2) {
            Some((PROT_EXEC, 0)) if single => "without PROT_EXEC".to_owned(),
            _ => describe_named(name, set),
        },
        "socket" => match (checked(set, 0), checked(set, 1)) {
            (Some((u64::MAX, domain)), Some((_, ty))) => {
                let mut text = describe_family(domain);
                let _ = write!(
                    text,
                    "/{}",
                    socket_type_name(ty).map_or_else(|| format!("type {ty}"), str::to_owned)
                );
                text
            }
            (Some((u64::MAX, domain)), None) => describe_family(domain),
            _ => describe_named(name, set),
        },
        _ => describe_named(name, set),
    }
}

/// How risky it is that `name` is newly allowed, for the `conditions` (one set per rule; empty
/// when it is allowed for any arguments), and why: the syscall's own risk, raised by what its
/// argument values do, as for [`widening_risk`] from nothing (a first `AF_INET` socket is
/// medium, a first `AF_NETLINK` one high).
pub fn new_syscall_risk(name: &str, conditions: &[Vec<LinuxSeccompArg>]) -> (Risk, &'static str) {
    let own = risk_of(name);
    if conditions.is_empty() {
        return match name {
            "socket" if own.0 < Risk::Medium => (
                Risk::Medium,
                "starts using sockets, of any address family (the network included)",
            ),
            _ => own,
        };
    }
    let by_arguments = widening_risk(name, &[], conditions);
    if by_arguments.0 > own.0 {
        by_arguments
    } else {
        own
    }
}

/// How risky it is that `name`, already allowed for the `old` condition sets, is now allowed for
/// the `added` ones too (sets the old profile did not have), and why.
pub fn widening_risk(
    name: &str,
    old: &[Vec<LinuxSeccompArg>],
    added: &[Vec<LinuxSeccompArg>],
) -> (Risk, &'static str) {
    let mut worst = (Risk::Low, "allowed for new argument values");
    let mut raise = |candidate: (Risk, &'static str)| {
        if candidate.0 > worst.0 {
            worst = candidate;
        }
    };
    match name {
        "clone" | "unshare" => {
            let old_flags: u64 = old
                .iter()
                .filter_map(|s| checked(s, 0))
                .fold(0, |acc, (_, v)| acc | v);
            for (_, value) in added.iter().filter_map(|s| checked(s, 0)) {
                let new_bits = value & NAMESPACE_FLAGS & !old_flags;
                if new_bits & CLONE_NEWUSER != 0 {
                    raise((
                        Risk::High,
                        "starts creating user namespaces (CLONE_NEWUSER), which expose kernel \
                         code otherwise reachable only by root",
                    ));
                } else if new_bits != 0 {
                    raise((
                        Risk::High,
                        "starts creating namespaces it did not create before",
                    ));
                } else if value & NAMESPACE_FLAGS != 0 {
                    raise((
                        Risk::Medium,
                        "creates a new combination of namespaces it already created",
                    ));
                }
            }
        }
        "socket" => {
            let old_domains: BTreeSet<u64> = old
                .iter()
                .filter_map(|s| checked(s, 0))
                .map(|(_, d)| d)
                .collect();
            for set in added {
                let domain = checked(set, 0).map(|(_, d)| d);
                let ty = checked(set, 1).map(|(_, t)| t);
                match domain {
                    Some(d) if !old_domains.contains(&d) => raise(family_risk(d)),
                    _ => {}
                }
                if matches!(domain, Some(2 | 10)) && ty == Some(3) {
                    raise((
                        Risk::High,
                        "starts using raw IP sockets (SOCK_RAW): crafts packets, sees others' \
                         traffic",
                    ));
                }
            }
        }
        "ioctl" => {
            // TIOCSTI pushes input into a terminal: the classic way out of a sandbox that
            // shares one.
            if added
                .iter()
                .any(|s| checked(s, 1).is_some_and(|(_, v)| v & 0xffff_ffff == 0x5412))
            {
                raise((
                    Risk::High,
                    "starts using TIOCSTI, which injects input into the controlling terminal",
                ));
            }
        }
        _ => {
            let (risk, reason) = risk_of(name);
            if risk > Risk::Low {
                raise((risk, reason));
            }
        }
    }
    worst
}

/// How risky it is that `name`, allowed only for some arguments before, is now allowed for any,
/// and why.
pub fn unrestricted_risk(name: &str, old: &[Vec<LinuxSeccompArg>]) -> (Risk, &'static str) {
    match name {
        "mmap" | "mprotect"
            if old.iter().all(|s| {
                checked(s, 2).is_some_and(|(m, v)| m & PROT_EXEC != 0 && v & PROT_EXEC == 0)
            }) =>
        {
            (
                Risk::Medium,
                "starts mapping executable memory (PROT_EXEC): code generated or loaded at run \
                 time",
            )
        }
        "clone" | "unshare" => (
            Risk::High,
            "may now create any namespace, user namespaces included",
        ),
        "socket" => (Risk::High, "may now use any address family"),
        _ => risk_of(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::seen;
    use serde_json::json;

    fn json_of(rules: &ArgRules) -> serde_json::Value {
        match rules {
            ArgRules::Conditions(sets) => serde_json::to_value(sets).unwrap(),
            ArgRules::Any(reason) => json!({"any": reason.describe()}),
        }
    }

    #[test]
    fn namespace_mask_is_mobys_plus_newtime() {
        assert_eq!(NAMESPACE_FLAGS, 0x7e02_0080);
        assert_eq!(NAMESPACE_FLAGS & !CLONE_NEWTIME, 0x7e02_0000);
    }

    #[test]
    fn clone_and_unshare_check_the_namespace_bits() {
        // SIGCHLD, CLONE_VM|CLONE_FS|...|SIGCHLD (threads), CLONE_NEWUSER|CLONE_NEWNS|SIGCHLD.
        let rules = rules_for(
            "clone",
            &seen(&[0], &[&[17], &[0x003d_0f00], &[0x1002_0011]]),
        );
        assert_eq!(
            json_of(&rules),
            json!([
                [{"index": 0, "value": 0x7e02_0080_u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                [{"index": 0, "value": 0x7e02_0080_u64, "valueTwo": 0x1002_0000_u64,
                  "op": "SCMP_CMP_MASKED_EQ"}]
            ])
        );
        let rules = rules_for("unshare", &seen(&[0], &[&[0x400]]));
        assert_eq!(
            json_of(&rules),
            json!([[{"index": 0, "value": 0x7e02_0080_u64, "valueTwo": 0,
                     "op": "SCMP_CMP_MASKED_EQ"}]])
        );
    }

    #[test]
    fn socket_checks_domain_and_type_in_one_rule_per_pair() {
        // AF_UNIX SOCK_STREAM|SOCK_CLOEXEC, AF_UNIX SOCK_STREAM, AF_INET SOCK_DGRAM|SOCK_NONBLOCK.
        let rules = rules_for(
            "socket",
            &seen(&[0, 1], &[&[1, 0x80001], &[1, 1], &[2, 0x802]]),
        );
        assert_eq!(
            json_of(&rules),
            json!([
                [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                 {"index": 1, "value": 15, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}],
                [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},
                 {"index": 1, "value": 15, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]
            ])
        );
        // Each rule's conditions are on different arguments: libseccomp ANDs them.
        if let ArgRules::Conditions(sets) = rules {
            assert!(sets
                .iter()
                .all(|s| !crate::enforce::translate::needs_split(s)));
        }
        assert_eq!(
            rules_for("socket", &seen(&[0], &[&[1]])),
            ArgRules::Any(AnyReason::MissingIndex { index: 1 })
        );
    }

    #[test]
    fn value_rules_are_one_per_value() {
        assert_eq!(
            json_of(&rules_for(
                "personality",
                &seen(&[0], &[&[0xffff_ffff], &[0]])
            )),
            json!([[{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
                   [{"index": 0, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_EQ"}]])
        );
        assert_eq!(
            json_of(&rules_for("prctl", &seen(&[0], &[&[15]]))),
            json!([[{"index": 0, "value": 15, "op": "SCMP_CMP_EQ"}]])
        );
        assert_eq!(
            json_of(&rules_for("ioctl", &seen(&[1], &[&[0x5401], &[0x5413]]))),
            json!([[{"index": 1, "value": 0x5401, "op": "SCMP_CMP_EQ"}],
                   [{"index": 1, "value": 0x5413, "op": "SCMP_CMP_EQ"}]])
        );
        let many: Vec<Vec<u64>> = (0..17).map(|v| vec![0x5400 + v]).collect();
        let many = ArgsSeen {
            indexes: vec![1],
            values: many,
            overflow: false,
        };
        assert_eq!(
            rules_for("ioctl", &many),
            ArgRules::Any(AnyReason::TooMany { count: 17 })
        );
    }

    #[test]
    fn mmap_without_exec_forbids_exec() {
        let no_exec = seen(&[2], &[&[0], &[1], &[3]]);
        for name in ["mmap", "mprotect"] {
            assert_eq!(
                json_of(&rules_for(name, &no_exec)),
                json!([[{"index": 2, "value": 4, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]])
            );
        }
        assert_eq!(
            rules_for("mmap", &seen(&[2], &[&[1], &[5]])),
            ArgRules::Any(AnyReason::ExecUsed)
        );
    }

    #[test]
    fn overflow_and_unknown_shapes_allow_any() {
        let mut s = seen(&[0], &[&[17]]);
        s.overflow = true;
        assert_eq!(rules_for("clone", &s), ArgRules::Any(AnyReason::Overflow));
        assert_eq!(
            rules_for("read", &seen(&[0], &[&[0]])),
            ArgRules::Any(AnyReason::NoShape)
        );
        assert_eq!(
            rules_for("clone", &seen(&[1], &[&[0]])),
            ArgRules::Any(AnyReason::MissingIndex { index: 0 })
        );
    }

    #[test]
    fn widening_is_ranked() {
        let ns = |v: u64| vec![masked_eq(0, NAMESPACE_FLAGS, v)];
        let (risk, reason) = widening_risk("clone", &[ns(0)], &[ns(CLONE_NEWUSER)]);
        assert_eq!(risk, Risk::High);
        assert!(reason.contains("user namespaces"), "{reason}");
        assert_eq!(
            describe_set("clone", &ns(CLONE_NEWUSER | CLONE_NEWNS)),
            "CLONE_NEWUSER|CLONE_NEWNS"
        );
        assert_eq!(describe_set("unshare", &ns(0)), "no namespace flags");

        let sock = |d: u64, t: u64| vec![eq(0, d), masked_eq(1, SOCK_TYPE_MASK, t)];
        let (risk, reason) = widening_risk("socket", &[sock(1, 1)], &[sock(17, 3)]);
        assert_eq!(risk, Risk::High);
        assert!(reason.contains("AF_PACKET"), "{reason}");
        assert_eq!(describe_set("socket", &sock(16, 3)), "AF_NETLINK/SOCK_RAW");
        assert_eq!(
            widening_risk("socket", &[sock(2, 1)], &[sock(2, 2)]).0,
            Risk::Low
        );
        assert_eq!(
            widening_risk("socket", &[sock(1, 1)], &[sock(2, 1)]).0,
            Risk::Medium
        );

        let (risk, _) = unrestricted_risk("mprotect", &[vec![masked_eq(2, PROT_EXEC, 0)]]);
        assert_eq!(risk, Risk::Medium);
    }
}
