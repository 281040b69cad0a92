//! Map keys and values of the security programs (tracer-ebpf/src/security.rs): what a watched
//! cgroup needed besides syscalls. Each map is keyed by cgroup id and filled only from
//! tracepoints that fire far less often than `sys_enter` (capability checks, exec, a file
//! getting dirty data), never from the per-syscall path.

/// Name of the per-CPU hash map `(cgroup, capability) -> CapabilityCounts`.
pub const CAPABILITY_MAP: &str = "SEC_CAPABILITIES";
/// Name of the hash map `(cgroup, uid or gid) -> 1`: the effective ids seen.
pub const IDENTITY_MAP: &str = "SEC_IDENTITIES";
/// Name of the per-CPU hash map `cgroup id -> RootWrites`.
pub const ROOT_WRITES_MAP: &str = "SEC_ROOT_WRITES";
/// Name of the hash map `WriteKey -> 1`: the root filesystem files written.
pub const ROOT_WRITE_PATHS_MAP: &str = "SEC_ROOT_WRITE_PATHS";
/// Name of the hash map `(cgroup, path) -> PrivilegeGainKind bits`: privilege-raising execs.
pub const PRIVILEGE_GAIN_MAP: &str = "SEC_PRIVILEGE_GAIN";
/// Name of the read-only global ([`SecurityOffsets`]).
pub const SECURITY_OFFSETS_GLOBAL: &str = "SYSCAGE_SECURITY_OFFSETS";
/// Name of the read-only global ([`NoauditRanges`]).
pub const NOAUDIT_RANGES_GLOBAL: &str = "SYSCAGE_NOAUDIT_RANGES";
/// Raw tracepoints the security programs attach to, with the programs' names.
pub const CAPABILITY_PROGRAM: (&str, &str) = ("syscage_cap_capable", "cap_capable");
pub const EXEC_SECURITY_PROGRAM: (&str, &str) = ("syscage_exec_security", "sched_process_exec");
pub const EXIT_IDENTITY_PROGRAM: (&str, &str) = ("syscage_exit_identity", "sched_process_exit");
pub const INODE_DIRTY_PROGRAM: (&str, &str) = ("syscage_inode_dirty", "writeback_mark_inode_dirty");

/// Kernel text ranges `[start, end)`, found in /proc/kallsyms at load time: `ranges[0]` is
/// `cap_capable`, `ranges[1]` `security_capable`, the others the functions that check with
/// `CAP_OPT_NOAUDIT` (probes). The `cap_capable` tracepoint does not carry the options, so a
/// check is a probe when its caller (the frame after `cap_capable`, and after
/// `security_capable` if that comes next) is in one of them. Unused ranges are `(0, 0)`.
pub const NOAUDIT_RANGES: usize = 32;
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoauditRanges {
    pub ranges: [[u64; 2]; NOAUDIT_RANGES],
}
impl NoauditRanges {
    pub const EMPTY: Self = Self {
        ranges: [[0; 2]; NOAUDIT_RANGES],
    };
}
/// Kernel stack frames the capability program looks at for [`NoauditRanges`].
pub const NOAUDIT_STACK_DEPTH: usize = 6;

/// Capacity of the maps above (entries, over all watched cgroups).
pub const SECURITY_MAP_ENTRIES: u32 = 4096;
/// Root filesystem paths kept per cgroup in the kernel, at most (userspace keeps the first 16
/// of them, sorted; the count goes on).
pub const MAX_ROOT_WRITE_PATHS: u32 = 32;
/// Bytes of an executed program's path, NUL included (longer paths are cut).
pub const PATH_LEN: usize = 256;

/// Highest capability number the kernel knows as of Linux 6.18 (CAP_CHECKPOINT_RESTORE).
pub const CAP_LAST: u32 = 40;

/// The kernel's fallbacks: `(first, then)`, where a failed check of `first` followed at once
/// (by the same task) by a granted check of `then` means `then` stood in for `first`.
pub const CAPABILITY_FALLBACKS: [(u32, u32); 5] = [
    // perfmon_capable(), bpf_capable(), checkpoint_restore_ns_capable(), syslog: the new
    // capability first, then CAP_SYS_ADMIN.
    (38, 21),
    (39, 21),
    (40, 21),
    (34, 21),
    // generic_permission() on a directory read or search: CAP_DAC_READ_SEARCH, then
    // CAP_DAC_OVERRIDE.
    (2, 1),
];

/// Map key: one capability of one cgroup.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapabilityKey {
    pub cgroup_id: u64,
    pub capability: u32,
    /// Explicit padding, always zero.
    pub _pad: u32,
}

/// Counters of one capability's checks (this CPU's share).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapabilityCounts {
    /// Audited checks that succeeded.
    pub granted: u64,
    /// Audited checks that failed.
    pub denied: u64,
    /// Checks with CAP_OPT_NOAUDIT, whatever their result.
    pub noaudit: u64,
    /// Denied checks that the next check of the same task, of the kernel's fallback
    /// capability, made up for (see [`CAPABILITY_FALLBACKS`]).
    pub made_up: u64,
    /// Granted checks that came right after a denied check of the capability this one is the
    /// fallback for (the denied one would have sufficed).
    pub as_fallback: u64,
    /// Granted audited checks while the checked credentials' effective uid was 0.
    pub granted_as_root: u64,
}

/// Which kind of id an [`IdentityKey`] holds.
pub const ID_UID: u32 = 0;
pub const ID_GID: u32 = 1;

/// Map key: one effective uid or gid a cgroup's tasks ran as.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey {
    pub cgroup_id: u64,
    /// [`ID_UID`] or [`ID_GID`].
    pub kind: u32,
    pub id: u32,
}

/// Root filesystem writes of one cgroup (this CPU's share).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RootWrites {
    /// Times a file on the root filesystem got dirty data (page cache or size).
    pub count: u64,
    /// Paths stored in [`ROOT_WRITE_PATHS_MAP`] by this CPU (the kernel stops storing at
    /// [`MAX_ROOT_WRITE_PATHS`] over all CPUs, roughly).
    pub paths: u64,
    /// Writes whose path was not stored (too long, or past the limit).
    pub paths_dropped: u64,
}

/// Map key: a path one cgroup wrote or executed, NUL-terminated, zero-filled.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PathKey {
    pub cgroup_id: u64,
    pub path: [u8; PATH_LEN],
}

impl PathKey {
    pub const ZERO: Self = Self {
        cgroup_id: 0,
        path: [0; PATH_LEN],
    };
}

/// Path components a root write keeps, innermost first, and bytes per component (NUL
/// included; a longer name is cut).
pub const WRITE_DEPTH: usize = 8;
pub const NAME_LEN: usize = 32;

/// Map key: a file one cgroup wrote on its root filesystem, as the names from the file up to
/// the task's root directory (innermost first), zero-filled. `depth` is the number of names;
/// `complete` is 1 when the walk reached the root within [`WRITE_DEPTH`] names.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WriteKey {
    pub cgroup_id: u64,
    pub depth: u32,
    pub complete: u32,
    pub names: [[u8; NAME_LEN]; WRITE_DEPTH],
}

impl WriteKey {
    pub const ZERO: Self = Self {
        cgroup_id: 0,
        depth: 0,
        complete: 0,
        names: [[0; NAME_LEN]; WRITE_DEPTH],
    };
}

/// Bits of a [`PRIVILEGE_GAIN_MAP`] value.
pub const GAIN_SETUID: u32 = 1;
pub const GAIN_SETGID: u32 = 2;
pub const GAIN_FILE_CAPABILITIES: u32 = 4;

/// Field offsets the security programs read, from the kernel's BTF at load time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SecurityOffsets {
    /// `struct cred`: real and effective ids, permitted and ambient capabilities.
    pub cred_uid: u32,
    pub cred_gid: u32,
    pub cred_euid: u32,
    pub cred_egid: u32,
    pub cred_cap_permitted: u32,
    pub cred_cap_ambient: u32,
    /// `struct task_struct`: `cred` (the effective credentials), `fs`.
    pub task_cred: u32,
    pub task_fs: u32,
    /// `struct fs_struct`: `root` (a `struct path`: `mnt`, then `dentry`).
    pub fs_root: u32,
    /// `struct vfsmount`: `mnt_sb`.
    pub vfsmount_sb: u32,
    /// `struct inode`: `i_sb`, `i_dentry` (the first alias).
    pub inode_sb: u32,
    pub inode_dentry: u32,
    /// `struct dentry`: `d_u` (holding `d_alias`), `d_parent`, `d_name` (a `struct qstr`,
    /// whose `name` pointer follows an 8-byte hash and length).
    pub dentry_alias: u32,
    pub dentry_parent: u32,
    pub dentry_name: u32,
    /// `struct linux_binprm`: `filename`.
    pub bprm_filename: u32,
    /// Not an offset: `I_DIRTY_DATASYNC | I_DIRTY_PAGES`, the inode flags that mean data or
    /// size changed (an atime or mtime update alone sets neither); their values moved between
    /// kernel versions.
    pub i_dirty_data: u32,
    /// Explicit padding, always zero.
    pub _pad: u32,
}

impl SecurityOffsets {
    pub const ZERO: Self = Self {
        cred_uid: 0,
        cred_gid: 0,
        cred_euid: 0,
        cred_egid: 0,
        cred_cap_permitted: 0,
        cred_cap_ambient: 0,
        task_cred: 0,
        task_fs: 0,
        fs_root: 0,
        vfsmount_sb: 0,
        inode_sb: 0,
        inode_dentry: 0,
        dentry_alias: 0,
        dentry_parent: 0,
        dentry_name: 0,
        bprm_filename: 0,
        i_dirty_data: 0,
        _pad: 0,
    };
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all are `#[repr(C)]` plain integers and arrays, with explicit padding fields.
    unsafe impl aya::Pod for super::CapabilityKey {}
    unsafe impl aya::Pod for super::CapabilityCounts {}
    unsafe impl aya::Pod for super::IdentityKey {}
    unsafe impl aya::Pod for super::RootWrites {}
    unsafe impl aya::Pod for super::PathKey {}
    unsafe impl aya::Pod for super::SecurityOffsets {}
    unsafe impl aya::Pod for super::WriteKey {}
    unsafe impl aya::Pod for super::NoauditRanges {}
}

// The layouts must have no implicit padding: a padded key would carry garbage bytes.
const _: () = assert!(core::mem::size_of::<CapabilityKey>() == 16);
const _: () = assert!(core::mem::size_of::<CapabilityCounts>() == 6 * 8);
const _: () = assert!(core::mem::size_of::<IdentityKey>() == 16);
const _: () = assert!(core::mem::size_of::<PathKey>() == 8 + PATH_LEN);
const _: () = assert!(core::mem::size_of::<SecurityOffsets>() == 18 * 4);
const _: () = assert!(core::mem::size_of::<WriteKey>() == 16 + WRITE_DEPTH * NAME_LEN);
