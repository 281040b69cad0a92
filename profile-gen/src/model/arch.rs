//! Architectures: the native one, the 32-bit companions a profile must cover, and conversion
//! between libseccomp's `ScmpArch` and the runtime spec's `Arch`.
//!
//! Both enums spell names the same way (`SCMP_ARCH_X86_64`); the conversions are written out as
//! exhaustive matches so that a new variant on either side is a compile error here rather than a
//! silent mismatch. `ScmpArch` is `#[non_exhaustive]`, so matches on it need a last `_` arm; that
//! arm is only reached by architectures added to libseccomp after this code was written.

use std::str::FromStr;

use libseccomp::ScmpArch;
use oci_spec::runtime::Arch;

use crate::error::ArchError;

/// The architecture this process runs as, as libseccomp sees it.
pub fn native_arch() -> ScmpArch {
    ScmpArch::native()
}

/// `arch` followed by the architectures whose syscalls a process on `arch` can also make.
///
/// A 64-bit kernel runs 32-bit binaries of its companion ABIs (an x86_64 kernel runs i386 and x32
/// programs), and those syscalls carry other numbers under another audit arch. A profile that
/// lists only the 64-bit arch lets the kernel's bad-arch action decide about them; listing the
/// companions makes the profile's rules apply to them too. The pairs are those of moby's
/// `archMap` (moby/profiles `seccomp/default.json`), which runc and containerd users expect.
pub fn sub_arches(arch: ScmpArch) -> Vec<ScmpArch> {
    use ScmpArch as A;
    let arch = if arch == A::Native {
        native_arch()
    } else {
        arch
    };
    match arch {
        A::X8664 => vec![A::X8664, A::X86, A::X32],
        A::Aarch64 => vec![A::Aarch64, A::Arm],
        A::Mips64 => vec![A::Mips64, A::Mips64N32, A::Mips],
        A::Mips64N32 => vec![A::Mips64N32, A::Mips64, A::Mips],
        A::Mipsel64 => vec![A::Mipsel64, A::Mipsel64N32, A::Mipsel],
        A::Mipsel64N32 => vec![A::Mipsel64N32, A::Mipsel64, A::Mipsel],
        A::S390X => vec![A::S390X, A::S390],
        // 32-bit arches, and 64-bit ones whose runtimes pair nothing with them (moby lists
        // riscv64 and loongarch64 with no sub-architectures, and none for ppc64le).
        A::Native
        | A::X86
        | A::X32
        | A::Arm
        | A::Loongarch64
        | A::M68k
        | A::Mips
        | A::Mipsel
        | A::Ppc
        | A::Ppc64
        | A::Ppc64Le
        | A::S390
        | A::Parisc
        | A::Parisc64
        | A::Riscv64
        | A::Sheb
        | A::Sh => vec![arch],
        // An arch from a newer libseccomp: nothing is known about its companions.
        _ => vec![arch],
    }
}

/// The runtime-spec architecture for a libseccomp one.
pub fn oci_arch_from_scmp(arch: ScmpArch) -> Result<Arch, ArchError> {
    use ScmpArch as A;
    Ok(match arch {
        A::Native => Arch::ScmpArchNative,
        A::X86 => Arch::ScmpArchX86,
        A::X8664 => Arch::ScmpArchX86_64,
        A::X32 => Arch::ScmpArchX32,
        A::Arm => Arch::ScmpArchArm,
        A::Aarch64 => Arch::ScmpArchAarch64,
        A::Loongarch64 => Arch::ScmpArchLoongarch64,
        A::M68k => Arch::ScmpArchM68k,
        A::Mips => Arch::ScmpArchMips,
        A::Mips64 => Arch::ScmpArchMips64,
        A::Mips64N32 => Arch::ScmpArchMips64n32,
        A::Mipsel => Arch::ScmpArchMipsel,
        A::Mipsel64 => Arch::ScmpArchMipsel64,
        A::Mipsel64N32 => Arch::ScmpArchMipsel64n32,
        A::Ppc => Arch::ScmpArchPpc,
        A::Ppc64 => Arch::ScmpArchPpc64,
        A::Ppc64Le => Arch::ScmpArchPpc64le,
        A::S390 => Arch::ScmpArchS390,
        A::S390X => Arch::ScmpArchS390x,
        A::Parisc => Arch::ScmpArchParisc,
        A::Parisc64 => Arch::ScmpArchParisc64,
        A::Riscv64 => Arch::ScmpArchRiscv64,
        A::Sheb => Arch::ScmpArchSheb,
        A::Sh => Arch::ScmpArchSh,
        _ => {
            return Err(ArchError::NotInRuntimeSpec {
                arch: format!("{arch:?}"),
            })
        }
    })
}

/// The libseccomp architecture for a runtime-spec one.
///
/// Every runtime-spec arch of oci-spec 0.10 exists in libseccomp 0.4, so this cannot fail today;
/// it returns a `Result` so that a newer oci-spec arch becomes an error rather than a panic.
pub fn scmp_arch_from_oci(arch: Arch) -> Result<ScmpArch, ArchError> {
    use ScmpArch as A;
    Ok(match arch {
        Arch::ScmpArchNative => A::Native,
        Arch::ScmpArchX86 => A::X86,
        Arch::ScmpArchX86_64 => A::X8664,
        Arch::ScmpArchX32 => A::X32,
        Arch::ScmpArchArm => A::Arm,
        Arch::ScmpArchAarch64 => A::Aarch64,
        Arch::ScmpArchMips => A::Mips,
        Arch::ScmpArchMips64 => A::Mips64,
        Arch::ScmpArchMips64n32 => A::Mips64N32,
        Arch::ScmpArchMipsel => A::Mipsel,
        Arch::ScmpArchMipsel64 => A::Mipsel64,
        Arch::ScmpArchMipsel64n32 => A::Mipsel64N32,
        Arch::ScmpArchPpc => A::Ppc,
        Arch::ScmpArchPpc64 => A::Ppc64,
        Arch::ScmpArchPpc64le => A::Ppc64Le,
        Arch::ScmpArchS390 => A::S390,
        Arch::ScmpArchS390x => A::S390X,
        Arch::ScmpArchParisc => A::Parisc,
        Arch::ScmpArchParisc64 => A::Parisc64,
        Arch::ScmpArchRiscv64 => A::Riscv64,
        Arch::ScmpArchLoongarch64 => A::Loongarch64,
        Arch::ScmpArchM68k => A::M68k,
        Arch::ScmpArchSh => A::Sh,
        Arch::ScmpArchSheb => A::Sheb,
    })
}

/// The runtime-spec spelling of a runtime-spec arch, as its serde form writes it.
pub fn oci_arch_name(arch: Arch) -> &'static str {
    match arch {
        Arch::ScmpArchNative => "SCMP_ARCH_NATIVE",
        Arch::ScmpArchX86 => "SCMP_ARCH_X86",
        Arch::ScmpArchX86_64 => "SCMP_ARCH_X86_64",
        Arch::ScmpArchX32 => "SCMP_ARCH_X32",
        Arch::ScmpArchArm => "SCMP_ARCH_ARM",
        Arch::ScmpArchAarch64 => "SCMP_ARCH_AARCH64",
        Arch::ScmpArchMips => "SCMP_ARCH_MIPS",
        Arch::ScmpArchMips64 => "SCMP_ARCH_MIPS64",
        Arch::ScmpArchMips64n32 => "SCMP_ARCH_MIPS64N32",
        Arch::ScmpArchMipsel => "SCMP_ARCH_MIPSEL",
        Arch::ScmpArchMipsel64 => "SCMP_ARCH_MIPSEL64",
        Arch::ScmpArchMipsel64n32 => "SCMP_ARCH_MIPSEL64N32",
        Arch::ScmpArchPpc => "SCMP_ARCH_PPC",
        Arch::ScmpArchPpc64 => "SCMP_ARCH_PPC64",
        Arch::ScmpArchPpc64le => "SCMP_ARCH_PPC64LE",
        Arch::ScmpArchS390 => "SCMP_ARCH_S390",
        Arch::ScmpArchS390x => "SCMP_ARCH_S390X",
        Arch::ScmpArchParisc => "SCMP_ARCH_PARISC",
        Arch::ScmpArchParisc64 => "SCMP_ARCH_PARISC64",
        Arch::ScmpArchRiscv64 => "SCMP_ARCH_RISCV64",
        Arch::ScmpArchLoongarch64 => "SCMP_ARCH_LOONGARCH64",
        Arch::ScmpArchM68k => "SCMP_ARCH_M68K",
        Arch::ScmpArchSh => "SCMP_ARCH_SH",
        Arch::ScmpArchSheb => "SCMP_ARCH_SHEB",
    }
}

/// The runtime-spec spelling of a libseccomp arch, e.g. `SCMP_ARCH_X86_64`.
///
/// An arch only a newer libseccomp knows has no spelling here; it is shown by its Rust name so
/// that a message can still say which one it was.
pub fn arch_name(arch: ScmpArch) -> String {
    match oci_arch_from_scmp(arch) {
        Ok(oci) => oci_arch_name(oci).to_owned(),
        Err(_) => format!("{arch:?}"),
    }
}

/// Parses a runtime-spec arch name (`SCMP_ARCH_X86_64`) into a concrete libseccomp arch.
///
/// `SCMP_ARCH_NATIVE` is refused: syscall numbers and saved profiles must say which arch they are
/// for, or they change meaning on another machine.
pub fn parse_arch_name(name: &str) -> Result<ScmpArch, ArchError> {
    match ScmpArch::from_str(name) {
        Ok(ScmpArch::Native) => Err(ArchError::Native),
        Ok(arch) => Ok(arch),
        Err(_) => Err(ArchError::UnknownName {
            name: name.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every runtime-spec arch of oci-spec 0.10.
    const ALL_OCI: [Arch; 24] = [
        Arch::ScmpArchNative,
        Arch::ScmpArchX86,
        Arch::ScmpArchX86_64,
        Arch::ScmpArchX32,
        Arch::ScmpArchArm,
        Arch::ScmpArchAarch64,
        Arch::ScmpArchMips,
        Arch::ScmpArchMips64,
        Arch::ScmpArchMips64n32,
        Arch::ScmpArchMipsel,
        Arch::ScmpArchMipsel64,
        Arch::ScmpArchMipsel64n32,
        Arch::ScmpArchPpc,
        Arch::ScmpArchPpc64,
        Arch::ScmpArchPpc64le,
        Arch::ScmpArchS390,
        Arch::ScmpArchS390x,
        Arch::ScmpArchParisc,
        Arch::ScmpArchParisc64,
        Arch::ScmpArchRiscv64,
        Arch::ScmpArchLoongarch64,
        Arch::ScmpArchM68k,
        Arch::ScmpArchSh,
        Arch::ScmpArchSheb,
    ];

    #[test]
    fn conversions_round_trip_and_names_agree_with_serde_and_libseccomp() {
        for oci in ALL_OCI {
            let name = oci_arch_name(oci);
            let serde_name = serde_json::to_value(oci).unwrap();
            assert_eq!(serde_json::Value::from(name), serde_name, "{oci:?}");

            let scmp = scmp_arch_from_oci(oci).unwrap();
            assert_eq!(oci_arch_from_scmp(scmp).unwrap(), oci, "{oci:?}");
            assert_eq!(arch_name(scmp), name);
            assert_eq!(ScmpArch::from_str(name).unwrap(), scmp, "{name}");
        }
    }

    #[test]
    fn parse_arch_name_wants_a_concrete_known_arch() {
        assert_eq!(
            parse_arch_name("SCMP_ARCH_X86_64").unwrap(),
            ScmpArch::X8664
        );
        assert_eq!(
            parse_arch_name("SCMP_ARCH_AARCH64").unwrap(),
            ScmpArch::Aarch64
        );
        assert_eq!(parse_arch_name("SCMP_ARCH_NATIVE"), Err(ArchError::Native));
        let err = parse_arch_name("x86_64").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown architecture \"x86_64\", expected a name such as SCMP_ARCH_X86_64"
        );
    }

    #[test]
    fn sub_arches_follow_moby_arch_map() {
        use ScmpArch as A;
        let cases: &[(A, &[A])] = &[
            (A::X8664, &[A::X8664, A::X86, A::X32]),
            (A::Aarch64, &[A::Aarch64, A::Arm]),
            (A::Mips64, &[A::Mips64, A::Mips64N32, A::Mips]),
            (A::Mips64N32, &[A::Mips64N32, A::Mips64, A::Mips]),
            (A::Mipsel64, &[A::Mipsel64, A::Mipsel64N32, A::Mipsel]),
            (A::Mipsel64N32, &[A::Mipsel64N32, A::Mipsel64, A::Mipsel]),
            (A::S390X, &[A::S390X, A::S390]),
            (A::Riscv64, &[A::Riscv64]),
            (A::Ppc64Le, &[A::Ppc64Le]),
            (A::Loongarch64, &[A::Loongarch64]),
            (A::X86, &[A::X86]),
            (A::Arm, &[A::Arm]),
        ];
        for (arch, expected) in cases {
            assert_eq!(sub_arches(*arch), expected.to_vec(), "{arch:?}");
        }
        // Native stands for the machine's arch, never for itself.
        assert_eq!(sub_arches(A::Native), sub_arches(native_arch()));
        assert_eq!(sub_arches(A::Native)[0], native_arch());
    }

    #[test]
    fn native_arch_is_concrete() {
        let native = native_arch();
        assert_ne!(native, ScmpArch::Native);
        assert!(oci_arch_from_scmp(native).is_ok());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(native, ScmpArch::X8664);
        #[cfg(target_arch = "aarch64")]
        assert_eq!(native, ScmpArch::Aarch64);
    }
}
