//! Which user the workload runs as.
//!
//! syscage needs root to load eBPF, but the workload should not get root by accident: under
//! sudo it runs as the invoking user (SUDO_UID/SUDO_GID) unless `--user` says otherwise.

use std::io;

use anyhow::{bail, Context as _, Result};
use nix::unistd::{getgrouplist, Gid, Group, Uid, User};

/// The identity to switch to in the child before exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Supplementary groups, as login would set them.
    pub(crate) groups: Vec<u32>,
    pub(crate) name: String,
}

/// Resolves `--user` (a name, a uid, or `uid:gid` / `name:group`), falling back to the sudo
/// caller. `None` means: keep syscage's own identity.
pub(crate) fn workload_credentials(user: Option<&str>) -> Result<Option<Credentials>> {
    match user {
        Some(spec) => resolve(spec).map(Some),
        None if Uid::effective().is_root() => sudo_caller(
            std::env::var_os("SUDO_UID").as_deref(),
            std::env::var_os("SUDO_GID").as_deref(),
        ),
        None => Ok(None),
    }
}

/// The user who ran sudo, from SUDO_UID/SUDO_GID. Both or neither must be set: with only one
/// the workload would silently run as root, which is what the variables are there to avoid.
fn sudo_caller(
    uid: Option<&std::ffi::OsStr>,
    gid: Option<&std::ffi::OsStr>,
) -> Result<Option<Credentials>> {
    let number = |name: &str, value: &std::ffi::OsStr| -> Result<u32> {
        value
            .to_str()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|&n| n != u32::MAX)
            .with_context(|| {
                format!(
                    "{name}={}: expected a numeric id as sudo sets it; unset it, or choose the \
                     user with --user",
                    value.to_string_lossy()
                )
            })
    };
    match (uid, gid) {
        (None, None) => Ok(None),
        (Some(uid), Some(gid)) => {
            let uid = number("SUDO_UID", uid)?;
            let gid = number("SUDO_GID", gid)?;
            resolve(&format!("{uid}:{gid}"))
                .context("the user who ran sudo (SUDO_UID/SUDO_GID)")
                .map(Some)
        }
        (Some(_), None) | (None, Some(_)) => bail!(
            "SUDO_UID and SUDO_GID must be set together (only {} is): refusing to run the \
             command as root by mistake; set both, or choose the user with --user",
            if uid.is_some() {
                "SUDO_UID"
            } else {
                "SUDO_GID"
            }
        ),
    }
}

fn resolve(spec: &str) -> Result<Credentials> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = match user_part.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)).context("reading the user database")?,
        Err(_) => User::from_name(user_part).context("reading the user database")?,
    };
    let (uid, primary_gid, name) = match (&user, user_part.parse::<u32>()) {
        (Some(u), _) => (u.uid.as_raw(), u.gid.as_raw(), u.name.clone()),
        // A numeric uid without a passwd entry (common in containers): no groups to look up.
        (None, Ok(uid)) => (uid, uid, uid.to_string()),
        (None, Err(_)) => bail!("--user {spec:?}: no such user"),
    };
    let gid = match group_part {
        None => primary_gid,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => Group::from_name(g)
                .context("reading the group database")?
                .with_context(|| format!("--user {spec:?}: no such group {g:?}"))?
                .gid
                .as_raw(),
        },
    };
    // (uid_t)-1 and (gid_t)-1 mean "leave unchanged" to setuid/setgid and are no one's ids.
    if uid == u32::MAX || gid == u32::MAX {
        bail!("--user {spec:?}: 4294967295 is not a valid user or group id (it means -1)");
    }
    let groups = match &user {
        Some(u) => {
            let cname =
                std::ffi::CString::new(u.name.as_str()).context("user name contains NUL")?;
            getgrouplist(&cname, Gid::from_raw(gid))
                .with_context(|| format!("looking up the groups of {}", u.name))?
                .into_iter()
                .map(Gid::as_raw)
                .collect()
        }
        None => vec![gid],
    };
    Ok(Credentials {
        uid,
        gid,
        groups,
        name,
    })
}

/// Switches the calling process to `creds`. Runs in the child between fork and exec, so it only
/// makes raw, async-signal-safe calls; groups first, uid last (after setuid we could not change
/// the others any more).
pub(crate) fn switch_to(creds: &Credentials) -> io::Result<()> {
    // SAFETY: plain syscalls on data prepared before fork.
    unsafe {
        if libc::setgroups(creds.groups.len(), creds.groups.as_ptr()) != 0
            || libc::setgid(creds.gid) != 0
            || libc::setuid(creds.uid) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_root_by_name_and_number() {
        let by_name = resolve("root").unwrap();
        assert_eq!((by_name.uid, by_name.gid), (0, 0));
        let by_number = resolve("0:0").unwrap();
        assert_eq!((by_number.uid, by_number.gid), (0, 0));
        assert_eq!(by_number.name, "root");
    }

    #[test]
    fn unknown_names_are_errors() {
        let err = resolve("no-such-user-syscage").unwrap_err();
        assert!(format!("{err:#}").contains("no such user"), "{err:#}");
        let err = resolve("root:no-such-group-syscage").unwrap_err();
        assert!(format!("{err:#}").contains("no such group"), "{err:#}");
    }

    #[test]
    fn minus_one_is_not_an_id() {
        for spec in ["4294967295", "0:4294967295"] {
            let err = resolve(spec).unwrap_err();
            assert!(
                format!("{err:#}").contains("not a valid user or group id"),
                "{err:#}"
            );
        }
    }

    #[test]
    fn sudo_variables_must_come_together_and_be_numbers() {
        use std::ffi::OsStr;
        let err = sudo_caller(Some(OsStr::new("65534")), None).unwrap_err();
        assert!(
            format!("{err:#}").contains("SUDO_UID and SUDO_GID must be set together"),
            "{err:#}"
        );
        let err = sudo_caller(Some(OsStr::new("abc")), Some(OsStr::new("0"))).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.starts_with("SUDO_UID=abc: expected a numeric id"),
            "{text}"
        );
        assert!(!text.contains("--user \""), "{text}");
        assert_eq!(sudo_caller(None, None).unwrap(), None);
        let root = sudo_caller(Some(OsStr::new("0")), Some(OsStr::new("0"))).unwrap();
        assert_eq!(root.map(|c| c.uid), Some(0));
    }

    #[test]
    fn numeric_uid_without_passwd_entry_is_accepted() {
        let c = resolve("54321").unwrap();
        assert_eq!(
            (c.uid, c.gid, c.groups.clone()),
            (54321, 54321, vec![54321])
        );
    }
}
