//! How often a recording looks at the maps again, and the signals that end it.

use std::{
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use anyhow::{Context as _, Result};

/// How often the maps are polled for the live view and the stop conditions.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// SIGINT/SIGTERM/SIGHUP end a recording of an existing cgroup (the workload is not ours to
/// signal): the returned flag turns true.
pub(crate) fn stop_on_signals() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    Ok(stop)
}
