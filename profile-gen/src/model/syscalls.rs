//! Syscall numbers and names, as the installed libseccomp knows them.
//!
//! libseccomp's tables are the single source of names: the profile a runtime enforces is resolved
//! through the same tables (runc, crun and youki all link libseccomp), so a name that libseccomp
//! gives for a recorded number is exactly the name that will block or allow that number later.

use libseccomp::{ScmpArch, ScmpSyscall};

/// The name of syscall `nr` on `arch`, or `None` when this libseccomp has no name for it
/// (a syscall newer than libseccomp's tables, or a number that is no syscall).
pub fn syscall_name(arch: ScmpArch, nr: u32) -> Option<String> {
    // Numbers above i32::MAX are no syscall on any arch; libseccomp's negative numbers are its
    // pseudo-syscalls, which a recorded (kernel) number can never be.
    let nr = i32::try_from(nr).ok()?;
    ScmpSyscall::from(nr).get_name_by_arch(arch).ok()
}

/// Whether libseccomp knows `name` on at least one architecture.
///
/// libseccomp resolves names against the native arch, but a name that exists only on other
/// arches (`socketcall` on x86_64) still resolves, to a negative pseudo-syscall number; only a
/// name unknown everywhere is an error.
pub fn syscall_known(name: &str) -> bool {
    ScmpSyscall::from_name(name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_to_names_per_arch() {
        let cases: &[(ScmpArch, u32, &str)] = &[
            (ScmpArch::X8664, 0, "read"),
            (ScmpArch::X8664, 39, "getpid"),
            (ScmpArch::X8664, 435, "clone3"),
            (ScmpArch::X86, 20, "getpid"),
            (ScmpArch::Aarch64, 172, "getpid"),
        ];
        for (arch, nr, name) in cases {
            assert_eq!(
                syscall_name(*arch, *nr).as_deref(),
                Some(*name),
                "{arch:?} {nr}"
            );
        }
    }

    #[test]
    fn unknown_numbers_have_no_name() {
        assert_eq!(syscall_name(ScmpArch::X8664, 100_000), None);
        assert_eq!(syscall_name(ScmpArch::X8664, u32::MAX), None);
        assert_eq!(syscall_name(ScmpArch::X8664, i32::MAX as u32), None);
    }

    #[test]
    fn names_known_on_some_arch() {
        assert!(syscall_known("getpid"));
        assert!(syscall_known("openat"));
        // i386-only on an x86_64 host: still a name libseccomp knows.
        assert!(syscall_known("socketcall"));
        assert!(!syscall_known("getpidd"));
        assert!(!syscall_known(""));
        assert!(!syscall_known("get\0pid"));
    }
}
