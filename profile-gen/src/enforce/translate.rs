//! Runtime-spec actions and argument conditions to their libseccomp equivalents.
//!
//! Used by validation and by enforcement, so a profile that validates is one that builds. The
//! matches are exhaustive over oci-spec's enums (no `_` arm): a new action or operator in a newer
//! oci-spec stops the build here instead of being mistranslated.

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp};
use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompOperator};

use crate::error::ActionError;
use crate::model::policy::DEFAULT_ERRNO_RET;
use crate::model::recording::MAX_ARG_INDEX;

/// The largest errno the kernel passes through; larger values are capped to it
/// (Linux v6.1 kernel/seccomp.c, `__seccomp_filter`, the `SECCOMP_RET_ERRNO` case).
const MAX_ERRNO: u32 = 4095;

/// The libseccomp action for a runtime-spec action and its optional `errnoRet`.
///
/// `errnoRet` defaults to EPERM for `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` alike (runc does the
/// same) and is ignored by the other actions.
pub(crate) fn scmp_action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
) -> Result<ScmpAction, ActionError> {
    let value = errno_ret.unwrap_or(DEFAULT_ERRNO_RET);
    Ok(match action {
        // SCMP_ACT_KILL is libseccomp's old name for killing the thread.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            let errno = i32::try_from(value)
                .ok()
                .filter(|_| value <= MAX_ERRNO)
                .ok_or(ActionError::ErrnoRange { value })?;
            ScmpAction::Errno(errno)
        }
        LinuxSeccompAction::ScmpActNotify => return Err(ActionError::Notify),
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(u16::try_from(value).map_err(|_| ActionError::TraceRange { value })?)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    })
}

impl ActionError {
    /// Whether the error is about the `errnoRet` value rather than the action itself, so the
    /// message can point at the right field.
    pub(crate) fn blames_errno(&self) -> bool {
        match self {
            Self::Notify => false,
            Self::ErrnoRange { .. } | Self::TraceRange { .. } => true,
        }
    }
}

/// The libseccomp comparison for a runtime-spec argument condition, or the offending index.
///
/// For `SCMP_CMP_MASKED_EQ` the runtime spec, like libseccomp, takes `value` as the mask and
/// `valueTwo` as the value the masked argument must equal; every other operator compares with
/// `value` and ignores `valueTwo`.
pub(crate) fn scmp_condition(arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, usize> {
    let index = arg.index();
    let arg_number = u32::try_from(index)
        .ok()
        .filter(|_| index <= MAX_ARG_INDEX)
        .ok_or(index)?;
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(arg_number, op, datum))
}

/// Whether conditions must go into one rule each: libseccomp cannot AND two conditions on the
/// same argument, so runc (v1.1, libcontainer/seccomp/seccomp_linux.go, `matchCall`) then adds every condition of the
/// rule as a separate rule, which ORs them. syscage does the same so a profile means the same
/// under both.
pub(crate) fn needs_split(args: &[LinuxSeccompArg]) -> bool {
    let mut seen = [false; MAX_ARG_INDEX + 1];
    for arg in args {
        if let Some(slot) = seen.get_mut(arg.index()) {
            if *slot {
                return true;
            }
            *slot = true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompArgBuilder;

    fn arg(index: usize, op: LinuxSeccompOperator, value: u64) -> LinuxSeccompArg {
        LinuxSeccompArgBuilder::default()
            .index(index)
            .value(value)
            .op(op)
            .build()
            .unwrap()
    }

    #[test]
    fn actions_translate_with_errno_defaults() {
        use LinuxSeccompAction as L;
        let cases = [
            (L::ScmpActKill, None, ScmpAction::KillThread),
            (L::ScmpActKillThread, None, ScmpAction::KillThread),
            (L::ScmpActKillProcess, None, ScmpAction::KillProcess),
            (L::ScmpActTrap, None, ScmpAction::Trap),
            (L::ScmpActErrno, None, ScmpAction::Errno(1)),
            (L::ScmpActErrno, Some(38), ScmpAction::Errno(38)),
            (L::ScmpActErrno, Some(4095), ScmpAction::Errno(4095)),
            (L::ScmpActTrace, None, ScmpAction::Trace(1)),
            (L::ScmpActTrace, Some(7), ScmpAction::Trace(7)),
            (L::ScmpActLog, Some(7), ScmpAction::Log),
            (L::ScmpActAllow, None, ScmpAction::Allow),
        ];
        for (action, errno, expected) in cases {
            assert_eq!(
                scmp_action(action, errno),
                Ok(expected),
                "{action:?} {errno:?}"
            );
        }
    }

    #[test]
    fn action_display_is_the_runtime_spec_spelling() {
        // Error messages show actions through oci-spec's Display.
        assert_eq!(
            LinuxSeccompAction::ScmpActErrno.to_string(),
            "SCMP_ACT_ERRNO"
        );
        assert_eq!(
            LinuxSeccompAction::ScmpActKillProcess.to_string(),
            "SCMP_ACT_KILL_PROCESS"
        );
    }

    #[test]
    fn unenforceable_actions_are_errors() {
        use LinuxSeccompAction as L;
        assert_eq!(
            scmp_action(L::ScmpActNotify, None),
            Err(ActionError::Notify)
        );
        assert_eq!(
            scmp_action(L::ScmpActErrno, Some(4096)),
            Err(ActionError::ErrnoRange { value: 4096 })
        );
        assert_eq!(
            scmp_action(L::ScmpActErrno, Some(u32::MAX)),
            Err(ActionError::ErrnoRange { value: u32::MAX })
        );
        assert_eq!(
            scmp_action(L::ScmpActTrace, Some(70_000)),
            Err(ActionError::TraceRange { value: 70_000 })
        );
    }

    #[test]
    fn conditions_check_the_index() {
        assert!(scmp_condition(&arg(5, LinuxSeccompOperator::ScmpCmpEq, 1)).is_ok());
        assert_eq!(
            scmp_condition(&arg(6, LinuxSeccompOperator::ScmpCmpEq, 1)).err(),
            Some(6)
        );
        assert_eq!(
            scmp_condition(&arg(usize::MAX, LinuxSeccompOperator::ScmpCmpEq, 1)).err(),
            Some(usize::MAX)
        );
    }

    #[test]
    fn split_only_when_an_index_repeats() {
        use LinuxSeccompOperator as O;
        assert!(!needs_split(&[]));
        assert!(!needs_split(&[
            arg(0, O::ScmpCmpEq, 1),
            arg(1, O::ScmpCmpEq, 1)
        ]));
        assert!(needs_split(&[
            arg(0, O::ScmpCmpGe, 1),
            arg(0, O::ScmpCmpLe, 9)
        ]));
    }
}
