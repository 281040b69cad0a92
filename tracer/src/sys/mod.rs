//! The operating system around syscage: cgroups and their names, containers, users, child
//! processes, preconditions, input and output files (and trees of them), exit codes.

pub(crate) mod bundles;
pub(crate) mod capabilities;
pub(crate) mod cgroup;
pub(crate) mod cgroup_names;
pub(crate) mod containers;
pub(crate) mod exit;
pub(crate) mod inputs;
pub(crate) mod outputs;
pub(crate) mod overlay_writes;
pub(crate) mod preflight;
pub(crate) mod ready_file;
pub(crate) mod supervise;
pub(crate) mod user;
pub(crate) mod workload_trees;
