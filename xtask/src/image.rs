//! `cargo xtask image`: the node agent's container image, built offline.
//!
//! The image is `FROM scratch` with the release binary and exactly the shared libraries `ldd`
//! names for it (libseccomp, libgcc_s, libc and the dynamic loader), at the paths the loader
//! looks in. A static binary would be smaller still, but a `+crt-static` glibc build is a second
//! full build of the workspace and the eBPF object, and static glibc cannot use NSS, which
//! `record --user`'s user lookups go through; copying four libraries keeps one binary for both.
//!
//! `podman build` (no registry needed: nothing is pulled) loads it into local Podman storage as
//! `localhost/syscage-agent:<version>`, and `podman save` writes it as an OCI archive to
//! `target/image/syscage-agent.oci.tar` for `podman load`, `ctr images import` or a registry.

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context as _, Result};

use crate::shell::{run, Cmd};

/// The image's name in local storage; the tag is the workspace version.
pub(crate) const IMAGE_NAME: &str = "localhost/syscage-agent";

/// Where the binary goes inside the image (the DaemonSet's `command` names it).
const BINARY_IN_IMAGE: &str = "usr/bin/syscage";

/// Builds the image from `binary`, loads it into Podman's storage and saves the OCI archive;
/// returns the archive's path.
pub(crate) fn build(root: &Path, binary: &Path) -> Result<PathBuf> {
    let out = root.join("target/image");
    let context = out.join("context");
    if context.exists() {
        fs::remove_dir_all(&context).with_context(|| format!("removing {}", context.display()))?;
    }
    let rootfs = context.join("rootfs");
    copy_into(binary, &rootfs.join(BINARY_IN_IMAGE))?;
    for library in linked_libraries(binary)? {
        let relative = library
            .strip_prefix("/")
            .with_context(|| format!("ldd named a relative path: {}", library.display()))?;
        copy_into(&library, &rootfs.join(relative))?;
    }
    // The ready file's directory, empty; the DaemonSet mounts an emptyDir over it.
    fs::create_dir_all(rootfs.join("run/syscage")).context("creating run/syscage")?;
    let containerfile = root.join("deploy/image/Containerfile");
    fs::copy(&containerfile, context.join("Containerfile"))
        .with_context(|| format!("copying {}", containerfile.display()))?;

    let reference = format!("{IMAGE_NAME}:{}", env!("CARGO_PKG_VERSION"));
    // `--timestamp 0`: the same binary gives the same image id, whenever it is built.
    run(Cmd::new("podman")
        .args([
            "build",
            "--pull=never",
            "--network=none",
            "--timestamp",
            "0",
        ])
        .args([
            "--label",
            &format!(
                "org.opencontainers.image.version={}",
                env!("CARGO_PKG_VERSION")
            ),
        ])
        .args(["--tag", &reference, "--file"])
        .arg_path(&context.join("Containerfile"))
        .arg_path(&context)
        .with_sudo())?;
    let archive = out.join("syscage-agent.oci.tar");
    if archive.exists() {
        fs::remove_file(&archive).with_context(|| format!("removing {}", archive.display()))?;
    }
    run(Cmd::new("podman")
        .args(["save", "--format", "oci-archive", "--output"])
        .arg_path(&archive)
        .args([&reference])
        .with_sudo())?;
    let size = fs::metadata(&archive)
        .with_context(|| format!("reading {}", archive.display()))?
        .len();
    eprintln!(
        "xtask: {reference} saved to {} ({:.1} MiB)",
        archive.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(archive)
}

/// Copies `from` (following symlinks, so a library's soname link becomes the file itself) to
/// `to`, creating its directory.
fn copy_into(from: &Path, to: &Path) -> Result<()> {
    let dir = to
        .parent()
        .context("a path inside the image has a parent")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// The files `ldd` says `binary` loads, the dynamic loader included.
fn linked_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let Some(listing) = Cmd::new("ldd").arg_path(binary).output_if_ok() else {
        bail!("`ldd {}` failed: is the binary built?", binary.display());
    };
    parse_ldd(&listing)
}

/// Parses `ldd` output: `name => /path (0x...)` for a library, `/path (0x...)` for the loader,
/// `name (0x...)` (no path) for the kernel's vDSO, which has no file.
fn parse_ldd(listing: &str) -> Result<Vec<PathBuf>> {
    let mut libraries = Vec::new();
    for line in listing.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let target = line.split_once("=>").map_or(line, |(_, path)| path).trim();
        if target.starts_with("not found") {
            bail!("ldd: a library the binary needs is missing: {line}");
        }
        let path = target.split_whitespace().next().unwrap_or_default();
        if path.starts_with('/') {
            libraries.push(PathBuf::from(path));
        }
    }
    libraries.sort();
    libraries.dedup();
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_libraries_and_loader_but_not_the_vdso() {
        let listing = "\tlinux-vdso.so.1 (0x00007ffd)\n\
            \tlibseccomp.so.2 => /lib/x86_64-linux-gnu/libseccomp.so.2 (0x00007f1)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)\n\
            \t/lib64/ld-linux-x86-64.so.2 (0x00007f3)\n";
        assert_eq!(
            parse_ldd(listing).unwrap(),
            [
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/lib/x86_64-linux-gnu/libseccomp.so.2",
                "/lib64/ld-linux-x86-64.so.2",
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn a_missing_library_is_an_error() {
        let listing = "\tlibseccomp.so.2 => not found\n";
        let error = parse_ldd(listing).unwrap_err().to_string();
        assert!(error.contains("libseccomp.so.2"), "{error}");
    }
}
