//! What the container runtimes bring: their RuntimeDefault profiles and what they were seen
//! doing after loading a container's filter.

pub mod runtime_after_filter;
pub mod runtime_default;
