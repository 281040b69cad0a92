//! What every recording mode shares: a session's lifetime, the live view, the watch on a
//! cgroup tree.

pub(crate) mod live;
pub(crate) mod session;
pub(crate) mod tree_watch;
