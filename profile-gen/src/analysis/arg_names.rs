//! Names of the argument values syscage checks, for reports: address families and socket types,
//! `ioctl` requests, `prctl` options, `personality` values and `clone` flags, so a condition
//! reads `FIONBIO` or `AF_NETLINK/SOCK_RAW` rather than `arg1 == 0x5421`.

use oci_spec::runtime::{LinuxSeccompArg, LinuxSeccompOperator};

/// The address families by number, for reports.
pub(crate) fn family_name(domain: u64) -> Option<&'static str> {
    const NAMES: [&str; 46] = [
        "AF_UNSPEC",
        "AF_UNIX",
        "AF_INET",
        "AF_AX25",
        "AF_IPX",
        "AF_APPLETALK",
        "AF_NETROM",
        "AF_BRIDGE",
        "AF_ATMPVC",
        "AF_X25",
        "AF_INET6",
        "AF_ROSE",
        "AF_DECnet",
        "AF_NETBEUI",
        "AF_SECURITY",
        "AF_KEY",
        "AF_NETLINK",
        "AF_PACKET",
        "AF_ASH",
        "AF_ECONET",
        "AF_ATMSVC",
        "AF_RDS",
        "AF_SNA",
        "AF_IRDA",
        "AF_PPPOX",
        "AF_WANPIPE",
        "AF_LLC",
        "AF_IB",
        "AF_MPLS",
        "AF_CAN",
        "AF_TIPC",
        "AF_BLUETOOTH",
        "AF_IUCV",
        "AF_RXRPC",
        "AF_ISDN",
        "AF_PHONET",
        "AF_IEEE802154",
        "AF_CAIF",
        "AF_ALG",
        "AF_NFC",
        "AF_VSOCK",
        "AF_KCM",
        "AF_QIPCRTR",
        "AF_SMC",
        "AF_XDP",
        "AF_MCTP",
    ];
    usize::try_from(domain)
        .ok()
        .and_then(|d| NAMES.get(d).copied())
}

/// The socket types by number (`SOCK_NONBLOCK`/`SOCK_CLOEXEC` masked off), for reports.
pub(crate) fn socket_type_name(ty: u64) -> Option<&'static str> {
    Some(match ty {
        1 => "SOCK_STREAM",
        2 => "SOCK_DGRAM",
        3 => "SOCK_RAW",
        4 => "SOCK_RDM",
        5 => "SOCK_SEQPACKET",
        6 => "SOCK_DCCP",
        10 => "SOCK_PACKET",
        _ => return None,
    })
}

/// `ioctl` requests by number (the generic and tty ones of `asm-generic/ioctls.h`, which
/// x86, arm64 and riscv share), for reports.
pub(crate) fn ioctl_name(request: u64) -> Option<&'static str> {
    Some(match request & 0xffff_ffff {
        0x5401 => "TCGETS",
        0x5402 => "TCSETS",
        0x5403 => "TCSETSW",
        0x5404 => "TCSETSF",
        0x5409 => "TCSBRK",
        0x540a => "TCXONC",
        0x540b => "TCFLSH",
        0x540e => "TIOCSCTTY",
        0x540f => "TIOCGPGRP",
        0x5410 => "TIOCSPGRP",
        0x5411 => "TIOCOUTQ",
        0x5412 => "TIOCSTI",
        0x5413 => "TIOCGWINSZ",
        0x5414 => "TIOCSWINSZ",
        0x541b => "FIONREAD",
        0x541c => "TIOCLINUX",
        0x5421 => "FIONBIO",
        0x5422 => "TIOCNOTTY",
        0x5429 => "TIOCGSID",
        0x5450 => "FIONCLEX",
        0x5451 => "FIOCLEX",
        0x5452 => "FIOASYNC",
        0x8004_5430 => "TIOCGPTN",
        0x4004_5431 => "TIOCSPTLCK",
        0x5441 => "TIOCGPTPEER",
        0x8008_6601 => "FS_IOC_GETFLAGS",
        0x4008_6602 => "FS_IOC_SETFLAGS",
        0x8933 => "SIOCGIFINDEX",
        0x8913 => "SIOCGIFFLAGS",
        0x8915 => "SIOCGIFADDR",
        0x8927 => "SIOCGIFHWADDR",
        0x8912 => "SIOCGIFCONF",
        0x8921 => "SIOCGIFMTU",
        _ => return None,
    })
}

/// `prctl` options by number (`linux/prctl.h`), for reports.
pub(crate) fn prctl_name(option: u64) -> Option<&'static str> {
    Some(match option {
        1 => "PR_SET_PDEATHSIG",
        2 => "PR_GET_PDEATHSIG",
        3 => "PR_GET_DUMPABLE",
        4 => "PR_SET_DUMPABLE",
        7 => "PR_GET_KEEPCAPS",
        8 => "PR_SET_KEEPCAPS",
        15 => "PR_SET_NAME",
        16 => "PR_GET_NAME",
        21 => "PR_GET_SECCOMP",
        22 => "PR_SET_SECCOMP",
        23 => "PR_CAPBSET_READ",
        24 => "PR_CAPBSET_DROP",
        29 => "PR_SET_TIMERSLACK",
        35 => "PR_SET_MM",
        36 => "PR_SET_CHILD_SUBREAPER",
        37 => "PR_GET_CHILD_SUBREAPER",
        38 => "PR_SET_NO_NEW_PRIVS",
        39 => "PR_GET_NO_NEW_PRIVS",
        41 => "PR_SET_THP_DISABLE",
        42 => "PR_GET_THP_DISABLE",
        47 => "PR_CAP_AMBIENT",
        0x5356_4d41 => "PR_SET_VMA",
        0x5961_6d61 => "PR_SET_PTRACER",
        _ => return None,
    })
}

/// `personality` values (`linux/personality.h`), for reports.
pub(crate) fn personality_name(persona: u64) -> Option<&'static str> {
    Some(match persona {
        0 => "PER_LINUX",
        8 => "PER_LINUX32",
        0x0002_0000 => "UNAME26",
        0x0002_0008 => "PER_LINUX32|UNAME26",
        0x0004_0000 => "ADDR_NO_RANDOMIZE",
        0xffff_ffff => "query (0xffffffff)",
        _ => return None,
    })
}

/// The `clone`/`unshare` flags by bit (`linux/sched.h`); the low byte of `clone`'s flags is the
/// exit signal, except `CLONE_NEWTIME` (0x80) for `unshare`.
const CLONE_FLAG_NAMES: [(u64, &str); 24] = [
    (0x0000_0080, "CLONE_NEWTIME"),
    (0x0000_0100, "CLONE_VM"),
    (0x0000_0200, "CLONE_FS"),
    (0x0000_0400, "CLONE_FILES"),
    (0x0000_0800, "CLONE_SIGHAND"),
    (0x0000_1000, "CLONE_PIDFD"),
    (0x0000_2000, "CLONE_PTRACE"),
    (0x0000_4000, "CLONE_VFORK"),
    (0x0000_8000, "CLONE_PARENT"),
    (0x0001_0000, "CLONE_THREAD"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0004_0000, "CLONE_SYSVSEM"),
    (0x0008_0000, "CLONE_SETTLS"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0040_0000, "CLONE_DETACHED"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
];

/// `clone` flags as `CLONE_NEWUSER|CLONE_NEWNS`; bits without a name stay hex; `0` for none.
pub(crate) fn clone_flags_name(flags: u64) -> String {
    let mut rest = flags;
    let mut parts: Vec<String> = Vec::new();
    for (bit, name) in CLONE_FLAG_NAMES {
        if flags & bit != 0 {
            parts.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

/// The name of `value` as argument `index` of `syscall`, when it has one.
fn value_name(syscall: &str, index: usize, value: u64) -> Option<String> {
    let name = match (syscall, index) {
        ("socket" | "socketpair", 0) => family_name(value),
        ("socket" | "socketpair", 1) => socket_type_name(value),
        ("ioctl", 1) => ioctl_name(value),
        ("prctl", 0) => prctl_name(value),
        ("personality", 0) => personality_name(value),
        ("clone" | "unshare", 0) => return Some(clone_flags_name(value)),
        ("mmap" | "mprotect", 2) if value == 0x4 => Some("PROT_EXEC"),
        _ => None,
    };
    name.map(str::to_owned)
}

/// A condition set as people write it, with the values named where [`value_name`] knows them:
/// `arg0 != AF_VSOCK`, `arg0 & CLONE_NEWNS|CLONE_NEWUSER == 0`, `arg1 == FIONBIO`; `always`
/// for none.
pub fn describe_named(syscall: &str, set: &[LinuxSeccompArg]) -> String {
    if set.is_empty() {
        return "always".to_owned();
    }
    let parts: Vec<String> = set
        .iter()
        .map(|a| {
            let i = a.index();
            let named = |v: u64| value_name(syscall, i, v).unwrap_or_else(|| format!("{v:#x}"));
            let v = named(a.value());
            match a.op() {
                LinuxSeccompOperator::ScmpCmpNe => format!("arg{i} != {v}"),
                LinuxSeccompOperator::ScmpCmpLt => format!("arg{i} < {:#x}", a.value()),
                LinuxSeccompOperator::ScmpCmpLe => format!("arg{i} <= {:#x}", a.value()),
                LinuxSeccompOperator::ScmpCmpEq => format!("arg{i} == {v}"),
                LinuxSeccompOperator::ScmpCmpGe => format!("arg{i} >= {:#x}", a.value()),
                LinuxSeccompOperator::ScmpCmpGt => format!("arg{i} > {:#x}", a.value()),
                LinuxSeccompOperator::ScmpCmpMaskedEq => {
                    let expected = a.value_two().unwrap_or(0);
                    let expected = if expected == 0 {
                        "0".to_owned()
                    } else {
                        named(expected)
                    };
                    format!("arg{i} & {v} == {expected}")
                }
            }
        })
        .collect();
    parts.join(" && ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::args::{eq, masked_eq};

    #[test]
    fn values_have_names() {
        assert_eq!(ioctl_name(0x5421), Some("FIONBIO"));
        assert_eq!(family_name(16), Some("AF_NETLINK"));
        assert_eq!(socket_type_name(3), Some("SOCK_RAW"));
        assert_eq!(prctl_name(38), Some("PR_SET_NO_NEW_PRIVS"));
        assert_eq!(clone_flags_name(0x1002_0000), "CLONE_NEWNS|CLONE_NEWUSER");
        assert_eq!(clone_flags_name(0x1_0000_0000), "0x100000000");
        assert_eq!(describe_named("ioctl", &[eq(1, 0x5421)]), "arg1 == FIONBIO");
        assert_eq!(describe_named("ioctl", &[eq(1, 0x1234)]), "arg1 == 0x1234");
        assert_eq!(
            describe_named(
                "socket",
                &[oci_spec::runtime::LinuxSeccompArgBuilder::default()
                    .index(0_usize)
                    .value(40_u64)
                    .op(LinuxSeccompOperator::ScmpCmpNe)
                    .build()
                    .unwrap()]
            ),
            "arg0 != AF_VSOCK"
        );
        assert_eq!(
            describe_named("clone", &[masked_eq(0, 0x1000_0000, 0)]),
            "arg0 & CLONE_NEWUSER == 0"
        );
        assert_eq!(describe_named("read", &[]), "always");
    }
}
