//! Brings a fresh machine to the point where syscage builds, records and is tested:
//! - Debian packages: libseccomp-dev (libseccomp crate links it), pkg-config; for the tests
//!   runc, busybox-static (container rootfs and workloads), gcc, and debootstrap (the
//!   real-workload suite's root filesystem of Debian's servers);
//! - the rust-src component of the toolchain in use (the eBPF crate builds `core` itself);
//! - bpf-linker, linked against the libLLVM that rustc itself ships, because the linker must use
//!   the same LLVM as the compiler and Debian has no package of that LLVM.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::shell::{run, Cmd};

const BPF_LINKER_VERSION: &str = "0.13.0";
const BUILD_PACKAGES: &[&str] = &["libseccomp-dev", "pkg-config"];
const TEST_PACKAGES: &[&str] = &[
    "podman",
    "gcc-multilib",
    "runc",
    "crun",
    "containerd",
    "umoci",
    "busybox-static",
    "gcc",
    "libc6-dev",
    "debootstrap",
];

/// What `cargo xtask image` needs besides the build: Podman builds and saves the image.
const IMAGE_PACKAGES: &[&str] = &["podman"];

pub(crate) fn image_tools() -> Result<()> {
    debian_packages(IMAGE_PACKAGES)
}

pub(crate) fn all(tests: bool) -> Result<()> {
    let mut packages = BUILD_PACKAGES.to_vec();
    if tests {
        packages.extend_from_slice(TEST_PACKAGES);
    }
    debian_packages(&packages)?;
    rust_src()?;
    bpf_linker()?;
    if tests {
        python_tools()?;
        containerd()?;
    }
    Ok(())
}

/// The container tests drive containerd through `ctr`; Debian's package starts it with systemd,
/// which CI machines and containers may not run, so start it here when nothing answers.
fn containerd() -> Result<()> {
    let answers = || {
        Cmd::new("ctr")
            .args(["version"])
            .with_sudo()
            .output_if_ok()
            .is_some()
    };
    if answers() {
        return Ok(());
    }
    let log = std::env::temp_dir().join("syscage-containerd.log");
    eprintln!(
        "xtask: starting containerd in the background (log: {})",
        log.display()
    );
    Cmd::new("sh")
        .args(["-c", &format!("nohup containerd >{} 2>&1 &", log.display())])
        .with_sudo()
        .status()?;
    for _ in 0..100 {
        if answers() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bail!(
        "containerd did not answer within 10 s; see {}",
        log.display()
    )
}

/// The Kubernetes schema validator the profile-gen tests check generated manifests with, offline.
const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.31.0";

fn python_tools() -> Result<()> {
    let installed = Cmd::new("kubernetes-validate")
        .args(["--version"])
        .output_if_ok();
    if installed.is_some_and(|v| v.contains("1.31.0")) {
        return Ok(());
    }
    run(Cmd::new("python3").args(["-m", "pip", "install", "-q", KUBERNETES_VALIDATE]))?;
    // pyenv installs console scripts behind shims that need a rehash; elsewhere this is a no-op.
    let _ = Cmd::new("sh")
        .args(["-c", "command -v pyenv >/dev/null && pyenv rehash"])
        .status();
    Ok(())
}

pub(crate) fn debian_packages(wanted: &[&str]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    let install = || {
        Cmd::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .with_sudo()
    };
    // A fresh machine's package lists may be missing or stale: update once, then retry.
    if install().status()?.success() {
        return Ok(());
    }
    run(Cmd::new("apt-get").args(["update", "-q"]).with_sudo())?;
    run(install())
}

fn dpkg_installed(package: &str) -> bool {
    Cmd::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output_if_ok()
        .is_some_and(|s| s.contains("install ok installed"))
}

fn sysroot() -> Result<PathBuf> {
    let out = Cmd::new("rustc")
        .args(["--print", "sysroot"])
        .output_if_ok()
        .context("running rustc --print sysroot")?;
    Ok(PathBuf::from(out.trim()))
}

fn rust_src() -> Result<()> {
    if sysroot()?
        .join("lib/rustlib/src/rust/library/core")
        .is_dir()
    {
        return Ok(());
    }
    run(Cmd::new("rustup").args(["component", "add", "rust-src"]))
}

/// rustc's own LLVM: `<sysroot>/lib/libLLVM-<major>-rust-<version>.so` (e.g.
/// `libLLVM-22-rust-1.95.0-stable.so`). Returns the library's link name and the LLVM major.
fn rustc_llvm(sysroot: &Path) -> Result<(String, String)> {
    let lib = sysroot.join("lib");
    for entry in std::fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(link_name) = name.strip_prefix("lib").and_then(|n| n.strip_suffix(".so")) {
            if let Some(rest) = link_name.strip_prefix("LLVM-") {
                if let Some((major, _)) = rest.split_once("-rust-") {
                    return Ok((link_name.to_owned(), major.to_owned()));
                }
            }
        }
    }
    bail!("no libLLVM-<major>-rust-<version>.so in {}: this toolchain does not ship its LLVM as a shared library", lib.display())
}

/// bpf-linker is usable when it runs and is linked against this toolchain's libLLVM (a toolchain
/// update removes the old library, and a linker built on another LLVM produces objects the
/// compiler's bitcode does not match).
fn bpf_linker() -> Result<()> {
    let sysroot = sysroot()?;
    let (link_name, major) = rustc_llvm(&sysroot)?;
    let lib = sysroot.join("lib");
    // ldd shows the library's soname (`libLLVM.so.22.1-rust-...`), resolved to a path: it must
    // be this toolchain's.
    let linked_here = Cmd::new("sh")
        .args(["-c", "ldd \"$(command -v bpf-linker)\""])
        .output_if_ok()
        .is_some_and(|ldd| {
            ldd.lines()
                .any(|l| l.contains("libLLVM") && l.contains(&*lib.to_string_lossy()))
                && !ldd.contains("not found")
        });
    let runs = Cmd::new("bpf-linker")
        .args(["--version"])
        .output_if_ok()
        .is_some();
    if linked_here && runs {
        return Ok(());
    }
    eprintln!(
        "xtask: building bpf-linker {BPF_LINKER_VERSION} against {link_name} (about a minute)"
    );
    let lib = sysroot.join("lib");
    let rustflags = format!(
        "-L native={lib} -l dylib={link_name} -C link-arg=-Wl,-rpath,{lib}",
        lib = lib.display()
    );
    run(Cmd::new("cargo")
        .args([
            "install",
            "--force",
            "--locked",
            &format!("bpf-linker@{BPF_LINKER_VERSION}"),
        ])
        .args([
            "--no-default-features",
            "--features",
            &format!("llvm-{major},no-llvm-linking"),
        ])
        .env("RUSTFLAGS", rustflags))
}
