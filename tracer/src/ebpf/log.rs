//! Relays the eBPF program's aya-log lines (`syscage -v`) to syscage's logger.

use std::io::Write as _;

/// aya-log level for the eBPF side's messages (`AYA_LOG_LEVEL`): 0 keeps it silent so that no
/// ring-buffer write happens at all unless the user asked for `-v`.
pub(crate) fn ebpf_log_level(verbosity: u8) -> u8 {
    // aya-log-common's `Level` is Error = 1, Warn, Info = 3, Debug, Trace = 5.
    const INFO: u8 = 3;
    if verbosity >= 1 {
        INFO
    } else {
        0
    }
}

/// The eBPF side's logger, when `log_level` (see [`ebpf_log_level`]) asks for one; a missing
/// one is a warning, not an error: only the program's own log lines are lost.
pub(crate) fn init_ebpf_logger(
    ebpf: &mut aya::Ebpf,
    log_level: u8,
) -> Option<aya_log::EbpfLogger<&'static dyn log::Log>> {
    if log_level == 0 {
        return None;
    }
    aya_log::EbpfLogger::init(ebpf)
        .inspect_err(|e| log::warn!("eBPF log messages unavailable: {e}"))
        .ok()
}

/// Relays the eBPF program's aya-log lines to our logger from a background thread with a
/// small tokio runtime, for as long as the returned guard lives.
pub(crate) fn spawn_log_pump(logger: aya_log::EbpfLogger<&'static dyn log::Log>) -> LogPump {
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return log::warn!("eBPF log relay unavailable: {e}"),
        };
        rt.block_on(async move {
            // SAFETY: the logger owns its ring buffer's fd and keeps it open, unchanged, for as
            // long as it lives, and the AsyncFd owns the logger.
            let registered = unsafe {
                tokio::io::unix::AsyncFd::register_with_interest(
                    logger,
                    tokio::io::Interest::READABLE,
                )
            };
            let mut fd = match registered {
                Ok(fd) => fd,
                Err(e) => return log::warn!("eBPF log relay unavailable: {e}"),
            };
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    guard = fd.readable_mut() => match guard {
                        Ok(mut guard) => {
                            guard.get_inner_mut().flush();
                            guard.clear_ready();
                        }
                        Err(_) => break,
                    },
                }
            }
            fd.get_mut().flush();
        });
        let _ = std::io::stderr().flush();
    });
    LogPump {
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

pub(crate) struct LogPump {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogPump {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
