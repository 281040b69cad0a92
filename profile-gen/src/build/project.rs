//! Projecting syscall names onto another architecture (`syscage generate --arch`).
//!
//! A recording names what one architecture's programs call; the same program built for another
//! architecture makes the same requests through that architecture's syscalls. Most names are
//! the same everywhere. The newer architectures (aarch64, riscv64, loongarch64) use the
//! asm-generic table, which left out the calls that have a more general successor, and their
//! libcs call the successor instead: glibc's `open` is `openat(AT_FDCWD, ...)` there, `stat` is
//! `newfstatat`, `pipe` is `pipe2`, `fork` is `clone(SIGCHLD)`. [`REPLACEMENTS`] lists those
//! successors, each in the order a libc tries them; [`Projector`] keeps a name the target knows,
//! else takes the first replacement the target's libseccomp table has, else reports the name as
//! unmappable with the reason.
//!
//! Names of the recording's native calls are projected onto the target's native table, names of
//! its 32-bit compat calls onto the target's 32-bit companions (aarch64's arm); a target without
//! companions has no place for them.

use std::collections::BTreeSet;

use libseccomp::ScmpArch;

use crate::model::arch::{arch_name, sub_arches};
use crate::model::policy::arch_syscall_names;

/// Syscalls and their successors on architectures that lack them, in the order libcs try
/// them (glibc's `sysdeps/unix/sysv/linux` wrappers for architectures without the old call).
pub const REPLACEMENTS: &[(&str, &[&str])] = &[
    ("open", &["openat"]),
    ("creat", &["openat"]),
    ("stat", &["newfstatat", "fstatat64", "statx"]),
    ("lstat", &["newfstatat", "fstatat64", "statx"]),
    ("fstat", &["newfstatat", "fstatat64", "statx"]),
    ("newfstatat", &["fstatat64", "statx"]),
    ("access", &["faccessat", "faccessat2"]),
    ("pipe", &["pipe2"]),
    ("dup2", &["dup3"]),
    ("poll", &["ppoll", "ppoll_time64"]),
    ("select", &["pselect6", "pselect6_time64"]),
    ("_newselect", &["pselect6", "pselect6_time64"]),
    ("epoll_wait", &["epoll_pwait"]),
    ("epoll_create", &["epoll_create1"]),
    ("mkdir", &["mkdirat"]),
    ("rmdir", &["unlinkat"]),
    ("unlink", &["unlinkat"]),
    ("rename", &["renameat", "renameat2"]),
    ("renameat", &["renameat2"]),
    ("link", &["linkat"]),
    ("symlink", &["symlinkat"]),
    ("readlink", &["readlinkat"]),
    ("chmod", &["fchmodat"]),
    ("chown", &["fchownat"]),
    ("lchown", &["fchownat"]),
    ("mknod", &["mknodat"]),
    ("utime", &["utimensat", "utimensat_time64"]),
    ("utimes", &["utimensat", "utimensat_time64"]),
    ("futimesat", &["utimensat", "utimensat_time64"]),
    ("getdents", &["getdents64"]),
    ("fork", &["clone"]),
    ("vfork", &["clone"]),
    ("inotify_init", &["inotify_init1"]),
    ("eventfd", &["eventfd2"]),
    ("signalfd", &["signalfd4"]),
    ("alarm", &["setitimer"]),
    ("time", &["clock_gettime", "clock_gettime64"]),
    ("pause", &["ppoll", "ppoll_time64"]),
    ("getpgrp", &["getpgid"]),
    ("getrlimit", &["prlimit64"]),
    ("setrlimit", &["prlimit64"]),
    ("umount", &["umount2"]),
    ("waitpid", &["wait4"]),
    ("signal", &["rt_sigaction"]),
    ("sigaction", &["rt_sigaction"]),
    ("sigprocmask", &["rt_sigprocmask"]),
    ("sigreturn", &["rt_sigreturn"]),
    ("sigsuspend", &["rt_sigsuspend"]),
    ("sigpending", &["rt_sigpending"]),
    ("nice", &["setpriority"]),
    ("olduname", &["uname"]),
    ("oldolduname", &["uname"]),
    ("_llseek", &["lseek"]),
    ("lseek", &["_llseek"]),
    ("mmap2", &["mmap"]),
    ("mmap", &["mmap2"]),
    ("sendfile64", &["sendfile"]),
    ("sendfile", &["sendfile64"]),
    ("fadvise64_64", &["fadvise64"]),
    ("fadvise64", &["fadvise64_64", "arm_fadvise64_64"]),
    (
        "sync_file_range",
        &["sync_file_range2", "arm_sync_file_range"],
    ),
];

/// Why some syscalls have no counterpart anywhere else.
const NO_COUNTERPART: &[(&[&str], &str)] = &[
    (
        &["arch_prctl"],
        "x86-specific (FS/GS segment bases); other architectures set the thread pointer without a \
         syscall",
    ),
    (
        &["iopl", "ioperm"],
        "x86 I/O port access has no counterpart",
    ),
    (
        &[
            "modify_ldt",
            "vm86",
            "vm86old",
            "set_thread_area",
            "get_thread_area",
        ],
        "x86 segmentation has no counterpart",
    ),
    (
        &["socketcall", "ipc"],
        "a 32-bit multiplexer: which of its operations ran is not recorded; record on the \
         target instead",
    ),
    (
        &[
            "uselib",
            "_sysctl",
            "sysfs",
            "ustat",
            "create_module",
            "get_kernel_syms",
            "query_module",
            "nfsservctl",
            "tuxcall",
            "security",
            "vserver",
            "afs_syscall",
            "putpmsg",
            "getpmsg",
            "epoll_ctl_old",
            "epoll_wait_old",
        ],
        "obsolete or never implemented; no successor",
    ),
];

/// Where one name goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// The target knows the name.
    Same,
    /// The target has this successor instead.
    Renamed(String),
    /// Nothing on the target stands for it.
    Unmapped(String),
}

/// A name that could not be projected, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unmapped {
    pub name: String,
    pub reason: String,
}

/// A name replaced by its successor on the target architecture.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Renamed {
    pub from: String,
    pub to: String,
}

/// Projects names onto one target architecture; holds the target's tables.
#[derive(Debug, Clone)]
pub struct Projector {
    target: ScmpArch,
    native: BTreeSet<String>,
    /// The target's 32-bit companions' names (aarch64: arm's); empty when it has none.
    compat: BTreeSet<String>,
}

impl Projector {
    /// A projector onto `target` and its companion architectures.
    pub fn new(target: ScmpArch) -> Self {
        let compat = sub_arches(target)
            .into_iter()
            .skip(1)
            .flat_map(arch_syscall_names)
            .collect();
        Self {
            target,
            native: arch_syscall_names(target),
            compat,
        }
    }

    /// The target.
    pub fn target(&self) -> ScmpArch {
        self.target
    }

    /// Where `name` goes: a native call onto the target's own table, a compat (32-bit) call
    /// onto its companions'.
    pub fn project(&self, name: &str, compat: bool) -> Projection {
        let (table, which) = if compat {
            if self.compat.is_empty() {
                return Projection::Unmapped(format!(
                    "a 32-bit compat call, and {} runs no 32-bit programs",
                    arch_name(self.target)
                ));
            }
            (&self.compat, "its 32-bit companions")
        } else {
            (&self.native, "it")
        };
        if table.contains(name) {
            return Projection::Same;
        }
        if let Some((_, successors)) = REPLACEMENTS.iter().find(|(from, _)| *from == name) {
            if let Some(to) = successors.iter().find(|s| table.contains(**s)) {
                return Projection::Renamed((*to).to_owned());
            }
            return Projection::Unmapped(format!(
                "{} has neither {name} nor {} in {which}",
                arch_name(self.target),
                successors.join(" nor ")
            ));
        }
        if let Some((_, reason)) = NO_COUNTERPART
            .iter()
            .find(|(names, _)| names.contains(&name))
        {
            return Projection::Unmapped((*reason).to_owned());
        }
        Projection::Unmapped(format!(
            "{} has no syscall of that name{}, and syscage knows no successor",
            arch_name(self.target),
            if compat { " for 32-bit programs" } else { "" }
        ))
    }

    /// Projects a name of a profile, which does not say which ABI it is for: as a native call,
    /// and kept as it is too when the target's companions know it (an x86_64 profile's `open`
    /// becomes `openat` for aarch64 and stays `open` for arm programs). `Err` says why nothing
    /// on the target stands for it.
    pub fn project_profile_name(&self, name: &str) -> Result<Vec<String>, String> {
        let for_compat = self.compat.contains(name);
        match self.project(name, false) {
            Projection::Same => Ok(vec![name.to_owned()]),
            Projection::Renamed(to) if for_compat => Ok(vec![to, name.to_owned()]),
            Projection::Renamed(to) => Ok(vec![to]),
            Projection::Unmapped(_) if for_compat => Ok(vec![name.to_owned()]),
            Projection::Unmapped(reason) => Err(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_names_onto_aarch64() {
        let p = Projector::new(ScmpArch::Aarch64);
        let cases = [
            ("read", Projection::Same),
            ("openat", Projection::Same),
            ("clone", Projection::Same),
            ("open", Projection::Renamed("openat".into())),
            ("creat", Projection::Renamed("openat".into())),
            ("stat", Projection::Renamed("newfstatat".into())),
            ("lstat", Projection::Renamed("newfstatat".into())),
            ("access", Projection::Renamed("faccessat".into())),
            ("pipe", Projection::Renamed("pipe2".into())),
            ("dup2", Projection::Renamed("dup3".into())),
            ("poll", Projection::Renamed("ppoll".into())),
            ("select", Projection::Renamed("pselect6".into())),
            ("epoll_wait", Projection::Renamed("epoll_pwait".into())),
            ("epoll_create", Projection::Renamed("epoll_create1".into())),
            ("mkdir", Projection::Renamed("mkdirat".into())),
            ("rmdir", Projection::Renamed("unlinkat".into())),
            ("unlink", Projection::Renamed("unlinkat".into())),
            ("link", Projection::Renamed("linkat".into())),
            ("symlink", Projection::Renamed("symlinkat".into())),
            ("readlink", Projection::Renamed("readlinkat".into())),
            ("chmod", Projection::Renamed("fchmodat".into())),
            ("chown", Projection::Renamed("fchownat".into())),
            ("lchown", Projection::Renamed("fchownat".into())),
            ("mknod", Projection::Renamed("mknodat".into())),
            ("utime", Projection::Renamed("utimensat".into())),
            ("utimes", Projection::Renamed("utimensat".into())),
            ("futimesat", Projection::Renamed("utimensat".into())),
            ("getdents", Projection::Renamed("getdents64".into())),
            ("fork", Projection::Renamed("clone".into())),
            ("vfork", Projection::Renamed("clone".into())),
            ("inotify_init", Projection::Renamed("inotify_init1".into())),
            ("eventfd", Projection::Renamed("eventfd2".into())),
            ("signalfd", Projection::Renamed("signalfd4".into())),
            ("alarm", Projection::Renamed("setitimer".into())),
            ("time", Projection::Renamed("clock_gettime".into())),
            ("pause", Projection::Renamed("ppoll".into())),
            ("getpgrp", Projection::Renamed("getpgid".into())),
        ];
        for (name, expected) in cases {
            assert_eq!(p.project(name, false), expected, "{name}");
        }
        // aarch64 kept renameat (arch/arm64 defines __ARCH_WANT_RENAMEAT); riscv64 did not.
        assert!(
            matches!(p.project("rename", false), Projection::Renamed(ref to) if to.starts_with("renameat"))
        );
        let riscv = Projector::new(ScmpArch::Riscv64);
        assert_eq!(
            riscv.project("renameat", false),
            Projection::Renamed("renameat2".into())
        );

        let Projection::Unmapped(reason) = p.project("arch_prctl", false) else {
            panic!("arch_prctl mapped");
        };
        assert!(reason.contains("x86-specific"), "{reason}");
        let Projection::Unmapped(reason) = p.project("iopl", false) else {
            panic!("iopl mapped");
        };
        assert!(reason.contains("I/O port"), "{reason}");
    }

    /// Every successor syscage may choose exists on some architecture (no typos), and every
    /// replacement of an x86_64 name that aarch64 lacks lands on an aarch64 name.
    #[test]
    fn replacement_table_is_checked_against_libseccomp() {
        for (from, successors) in REPLACEMENTS {
            assert!(crate::model::syscalls::syscall_known(from), "{from}");
            for s in *successors {
                assert!(crate::model::syscalls::syscall_known(s), "{from} -> {s}");
            }
        }
        let x86_64 = arch_syscall_names(ScmpArch::X8664);
        let aarch64 = Projector::new(ScmpArch::Aarch64);
        for (from, _) in REPLACEMENTS.iter().filter(|(f, _)| x86_64.contains(*f)) {
            match aarch64.project(from, false) {
                Projection::Same => {}
                Projection::Renamed(to) => assert!(aarch64.native.contains(&to), "{from} -> {to}"),
                Projection::Unmapped(reason) => panic!("{from}: {reason}"),
            }
        }
    }

    #[test]
    fn compat_calls_go_to_the_companions() {
        let p = Projector::new(ScmpArch::Aarch64);
        // arm has these, as i386 has.
        assert_eq!(p.project("mmap2", true), Projection::Same);
        assert_eq!(p.project("open", true), Projection::Same);
        assert!(matches!(
            p.project("socketcall", true),
            Projection::Unmapped(_)
        ));
        let riscv = Projector::new(ScmpArch::Riscv64);
        let Projection::Unmapped(reason) = riscv.project("read", true) else {
            panic!("a compat call onto riscv64");
        };
        assert!(reason.contains("runs no 32-bit programs"), "{reason}");
        // A profile's names: native first, else what the companions know.
        assert_eq!(p.project_profile_name("open").unwrap(), ["openat", "open"]);
        assert_eq!(p.project_profile_name("mmap2").unwrap(), ["mmap", "mmap2"]);
        assert_eq!(p.project_profile_name("read").unwrap(), ["read"]);
        assert!(p.project_profile_name("arch_prctl").is_err());
    }
}
