//! Recording: one module per kind of target (a command, an existing cgroup, every container),
//! and what they share (a session's lifetime, the live view, the watch on a cgroup tree, the
//! stop conditions, what a recording says about its target).

pub(crate) mod all;
pub(crate) mod command;
pub(crate) mod existing;
pub(crate) mod live;
pub(crate) mod options;
pub(crate) mod session;
pub(crate) mod stop;
pub(crate) mod target;
pub(crate) mod tree_watch;
pub(crate) mod workloads;
