//! A recording session's lifetime: the tracer loaded, its maps set up, attached, its log lines
//! relayed; and, when it ends, a check that the kernel ran the program on every syscall.

use anyhow::Result;

use crate::{
    ebpf::log::{ebpf_log_level, spawn_log_pump, LogPump},
    ebpf::tracer::{AttachOptions, Tracer, Watching},
    sys::exit::{ExitCodeExt as _, EXIT_NO_KERNEL_SUPPORT},
};

pub(crate) struct Session {
    pub(crate) tracer: Tracer,
    /// Declared after the tracer: dropped after it, so the last log lines are still relayed.
    _log_pump: Option<LogPump>,
}

impl Session {
    /// Loads the tracer for `watching`, lets `before_attach` fill its maps, then attaches it.
    pub(crate) fn start(
        watching: Watching,
        verbosity: u8,
        before_attach: impl FnOnce(&mut Tracer) -> Result<()>,
    ) -> Result<Self> {
        Self::start_with(watching, verbosity, false, before_attach)
    }

    /// [`Session::start`], also seeing failed syscalls at their exit when `failed_exits`
    /// (`run`: the calls a seccomp filter refused are seen nowhere else).
    pub(crate) fn start_with(
        watching: Watching,
        verbosity: u8,
        failed_exits: bool,
        before_attach: impl FnOnce(&mut Tracer) -> Result<()>,
    ) -> Result<Self> {
        let opts = AttachOptions {
            watching,
            log_level: ebpf_log_level(verbosity),
            names_only: false,
            failed_exits,
        };
        let (mut tracer, logger) = Tracer::load(&opts).exit_code(EXIT_NO_KERNEL_SUPPORT)?;
        let log_pump = logger.map(spawn_log_pump);
        before_attach(&mut tracer)?;
        tracer.attach().exit_code(EXIT_NO_KERNEL_SUPPORT)?;
        Ok(Self {
            tracer,
            _log_pump: log_pump,
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let skipped = self.tracer.sys_enter_runs_skipped();
        log::debug!("runs of the sys_enter program the kernel skipped: {skipped:?}");
        if let Some(skipped) = skipped.filter(|&n| n > 0) {
            log::error!(
                "the kernel skipped syscage's eBPF program {skipped} times (a run nested on one \
                 CPU): those syscalls are missing from the recordings"
            );
        }
    }
}
