//! Builds the eBPF object from `tracer-ebpf` with aya-build and leaves it in OUT_DIR, where
//! `src/ebpf/tracer.rs` embeds it.
//!
//! The eBPF crate needs `-Z build-std=core`. Rather than requiring nightly, the inner cargo runs
//! the same toolchain as this build with RUSTC_BOOTSTRAP=1; setting it only for the inner build
//! keeps the userspace crates' fingerprints (and so their build cache) untouched.
use anyhow::{anyhow, Context as _};
use aya_build::{Package, Toolchain};
// Only a build-dependency so that cargo re-runs this script when the eBPF crate changes.
use tracer_ebpf as _;

fn main() -> anyhow::Result<()> {
    let toolchain = std::env::var("RUSTUP_TOOLCHAIN").unwrap_or_else(|_| "stable".to_owned());
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");
    // SAFETY: build scripts are single-threaded at this point; only the child cargo reads it.
    unsafe { std::env::set_var("RUSTC_BOOTSTRAP", "1") };
    let ebpf = Package {
        name: "tracer-ebpf",
        root_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../tracer-ebpf"),
        ..Default::default()
    };
    aya_build::build_ebpf([ebpf], Toolchain::Custom(&toolchain))
        .map_err(|e| anyhow!("{e:#}"))
        .context(
            "building the eBPF object failed; `cargo xtask setup` installs what it needs \
             (rust-src, bpf-linker built against this toolchain's LLVM)",
        )
}
