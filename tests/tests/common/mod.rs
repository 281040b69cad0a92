//! Helpers shared by the end-to-end tests, one module per kind of thing they handle:
//!
//! - [`command`]: starting syscage and the ground-truth programs, with deadlines;
//! - [`outputs`]: reading and checking profiles, recordings and output directories;
//! - [`cgroups`]: the cgroup2 mount, a process's cgroup, cgroups the tests make;
//! - [`processes`]: what the kernel says about a process, and unwatched load;
//! - [`tmpfs`]: small tmpfs mounts for full and read-only outputs;
//! - [`record_all`]: `syscage record --all` in the background;
//! - [`audit`]: `syscage audit` in the background;
//! - [`containers`]: real containers run by runc, crun, containerd and Podman;
//! - [`kubernetes`]: the annotations that make a bundle a pod's container;
//! - [`spo`]: the SPO `SeccompProfile` resource checked against its CRD schema.
//!
//! Everything here panics with context instead of returning errors, so a failing test shows what
//! syscage printed and keeps its backtrace; every guard undoes what it did in `Drop`, so a
//! failed assertion leaves no process, cgroup, container or mount behind. The items are
//! re-exported here so a test names them as `common::NAME` whichever module holds them.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test binary uses its own subset of these helpers"
)]

pub(crate) mod audit;
pub(crate) mod cgroups;
pub(crate) mod command;
pub(crate) mod containers;
pub(crate) mod kubernetes;
pub(crate) mod outputs;
pub(crate) mod processes;
pub(crate) mod record_all;
pub(crate) mod spo;
pub(crate) mod tmpfs;

pub(crate) use audit::*;
pub(crate) use cgroups::*;
pub(crate) use command::*;
pub(crate) use kubernetes::*;
pub(crate) use outputs::*;
pub(crate) use processes::*;
pub(crate) use record_all::*;
pub(crate) use spo::*;
pub(crate) use tmpfs::*;
