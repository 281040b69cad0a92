//! What a watched cgroup needed besides syscalls, recorded from raw tracepoints that fire far
//! less often than `sys_enter`: every capability check (`cap_capable`, with the capability
//! module's verdict), each completed exec (identity and privilege gain) and each time a file
//! gets dirty data (root filesystem writes). main.rs holds the entry points and decides whether
//! the caller's cgroup is watched; this file holds what they record. Counters are per CPU, so
//! concurrent tasks never lose an update.
//!
//! This kernel kind refuses fentry/fexit and BPF LSM programs at load (EPERM), so the hooks
//! with richer arguments (`security_capable`'s options, `file_open`'s file) are out of reach;
//! what the tracepoints lack is made up for as README's "Security facts" section describes.

use core::ffi::c_void;

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::{
        bpf_get_current_pid_tgid, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes,
        generated::{bpf_get_current_task_btf, bpf_get_stack},
    },
    macros::map,
    maps::{HashMap, LruHashMap, PerCpuArray, PerCpuHashMap},
    programs::RawTracePointContext,
    EbpfContext as _,
};
use tracer_common::security::{
    CapabilityCounts, CapabilityKey, IdentityKey, NoauditRanges, PathKey, RootWrites,
    SecurityOffsets, WriteKey, CAPABILITY_FALLBACKS, CAP_LAST, GAIN_FILE_CAPABILITIES, GAIN_SETGID,
    GAIN_SETUID, ID_GID, ID_UID, MAX_ROOT_WRITE_PATHS, NAME_LEN, NOAUDIT_RANGES,
    NOAUDIT_STACK_DEPTH, SECURITY_MAP_ENTRIES, WRITE_DEPTH,
};

/// Field offsets, set by userspace at load time from the kernel's BTF.
#[unsafe(no_mangle)]
static SYSCAGE_SECURITY_OFFSETS: SecurityOffsets = SecurityOffsets::ZERO;

/// The NOAUDIT callers' text ranges, set by userspace at load time.
#[unsafe(no_mangle)]
static SYSCAGE_NOAUDIT_RANGES: NoauditRanges = NoauditRanges::EMPTY;

#[map(name = "SEC_CAPABILITIES")]
static CAPABILITIES: PerCpuHashMap<CapabilityKey, CapabilityCounts> =
    PerCpuHashMap::with_max_entries(SECURITY_MAP_ENTRIES, 0);

#[map(name = "SEC_IDENTITIES")]
static IDENTITIES: HashMap<IdentityKey, u8> = HashMap::with_max_entries(SECURITY_MAP_ENTRIES, 0);

#[map(name = "SEC_ROOT_WRITES")]
static ROOT_WRITES: PerCpuHashMap<u64, RootWrites> =
    PerCpuHashMap::with_max_entries(SECURITY_MAP_ENTRIES, 0);

#[map(name = "SEC_ROOT_WRITE_PATHS")]
static ROOT_WRITE_PATHS: HashMap<WriteKey, u8> = HashMap::with_max_entries(SECURITY_MAP_ENTRIES, 0);

#[map(name = "SEC_PRIVILEGE_GAIN")]
static PRIVILEGE_GAIN: HashMap<PathKey, u32> = HashMap::with_max_entries(SECURITY_MAP_ENTRIES, 0);

/// thread id -> the capability its last audited check was denied, until its next check.
#[map(name = "SEC_PENDING_DENIAL")]
static PENDING_DENIAL: LruHashMap<u32, u32> = LruHashMap::with_max_entries(SECURITY_MAP_ENTRIES, 0);

/// Room for keys and stacks too large for the 512-byte stack.
#[map(name = "SEC_PATH_SCRATCH")]
static PATH_SCRATCH: PerCpuArray<PathKey> = PerCpuArray::with_max_entries(1, 0);
#[map(name = "SEC_WRITE_SCRATCH")]
static WRITE_SCRATCH: PerCpuArray<WriteKey> = PerCpuArray::with_max_entries(1, 0);
#[map(name = "SEC_STACK_SCRATCH")]
static STACK_SCRATCH: PerCpuArray<[u64; NOAUDIT_STACK_DEPTH]> = PerCpuArray::with_max_entries(1, 0);

/// One of the offsets (a constant to the verifier).
#[inline(always)]
fn offset(field: &u32) -> u32 {
    // SAFETY: a read-only global; volatile so the value set at load time is read.
    unsafe { core::ptr::read_volatile(field) }
}

/// Reads a `T` at `base + offset` in kernel memory (checked by the helper).
#[inline(always)]
fn read_at<T>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel checks the address.
    unsafe { bpf_probe_read_kernel(base.wrapping_add(offset as usize) as *const T).ok() }
}

/// The current task.
#[inline(always)]
fn current_task() -> *const u8 {
    // SAFETY: a helper without arguments, for tracing programs.
    unsafe { bpf_get_current_task_btf() as *const u8 }
}

/// The current task's effective credentials.
#[inline(always)]
fn current_cred() -> *const u8 {
    read_at::<*const u8>(current_task(), offset(&SYSCAGE_SECURITY_OFFSETS.task_cred))
        .unwrap_or(core::ptr::null())
}

/// Notes the effective uid and gid of `cred` for the cgroup; returns the euid.
#[inline(always)]
fn note_identity(cgroup_id: u64, cred: *const u8) -> Option<u32> {
    let off = &SYSCAGE_SECURITY_OFFSETS;
    let euid = read_at::<u32>(cred, offset(&off.cred_euid))?;
    let egid = read_at::<u32>(cred, offset(&off.cred_egid))?;
    for (kind, id) in [(ID_UID, euid), (ID_GID, egid)] {
        let key = IdentityKey {
            cgroup_id,
            kind,
            id,
        };
        if IDENTITIES.get_ptr(&key).is_none() {
            let _ = IDENTITIES.insert(&key, &1, BPF_NOEXIST as u64);
        }
    }
    Some(euid)
}

/// This CPU's counters of capability `capability` for the cgroup, created on first use.
#[inline(always)]
fn capability_counts(cgroup_id: u64, capability: u32) -> Option<*mut CapabilityCounts> {
    let key = CapabilityKey {
        cgroup_id,
        capability,
        _pad: 0,
    };
    if let Some(counts) = CAPABILITIES.get_ptr_mut(&key) {
        return Some(counts);
    }
    let _ = CAPABILITIES.insert(&key, &CapabilityCounts::default(), BPF_NOEXIST as u64);
    CAPABILITIES.get_ptr_mut(&key)
}

/// Whether the check being traced was made by a NOAUDIT caller (see [`NoauditRanges`]).
#[inline(always)]
fn called_without_audit(ctx: &RawTracePointContext) -> bool {
    let Some(stack) = STACK_SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    let size = (NOAUDIT_STACK_DEPTH * 8) as u32;
    // SAFETY: the scratch slot is this CPU's and `size` bytes long.
    let got = unsafe { bpf_get_stack(ctx.as_ptr(), stack as *mut c_void, size, 0) };
    if got <= 0 {
        return false;
    }
    let frames = (got as usize / 8).min(NOAUDIT_STACK_DEPTH);

    let ranges = &SYSCAGE_NOAUDIT_RANGES.ranges;
    // SAFETY: read-only globals.
    let (cap_capable, security_capable) = unsafe {
        (
            core::ptr::read_volatile(&ranges[0]),
            core::ptr::read_volatile(&ranges[1]),
        )
    };
    let within = |ip: u64, [start, end]: [u64; 2]| start <= ip && ip < end;
    // The caller: the frame after cap_capable's, and after security_capable's if that is next.
    let mut caller = 0;
    let mut i = 0;
    while i + 2 < NOAUDIT_STACK_DEPTH && i + 2 < frames {
        // SAFETY: i + 2 < NOAUDIT_STACK_DEPTH.
        let ip = unsafe { *(*stack).get_unchecked(i) };
        if within(ip, cap_capable) {
            caller = unsafe { *(*stack).get_unchecked(i + 1) };
            if within(caller, security_capable) {
                caller = unsafe { *(*stack).get_unchecked(i + 2) };
            }
            break;
        }
        i += 1;
    }
    if caller == 0 {
        return false;
    }
    let mut r = 2;
    while r < NOAUDIT_RANGES {
        // SAFETY: read-only global, r < NOAUDIT_RANGES.
        let range = unsafe { core::ptr::read_volatile(ranges.get_unchecked(r)) };
        if within(caller, range) {
            return true;
        }
        r += 1;
    }
    false
}

/// `cap_capable(cred, target_ns, capable_ns, cap, ret)`: the capability module's verdict
/// (`ret` 0: granted).
#[inline(always)]
pub(crate) fn capability_checked(ctx: &RawTracePointContext, cgroup_id: u64) {
    let cred: *const u8 = ctx.arg(0);
    let capability: i32 = ctx.arg(3);
    let ret: i32 = ctx.arg(4);
    if capability < 0 || capability as u32 > CAP_LAST {
        return;
    }
    let capability = capability as u32;
    let euid = note_identity(cgroup_id, cred);
    let Some(counts) = capability_counts(cgroup_id, capability) else {
        return;
    };
    if called_without_audit(ctx) {
        // SAFETY (every deref below): this CPU's copy of a live map value.
        unsafe { (*counts).noaudit += 1 };
        return;
    }
    let tid = bpf_get_current_pid_tgid() as u32;
    // SAFETY: a live map value, copied out at once.
    let pending = unsafe { PENDING_DENIAL.get(&tid).copied() };
    if ret != 0 {
        unsafe { (*counts).denied += 1 };
        let _ = PENDING_DENIAL.insert(&tid, &capability, 0);
        return;
    }
    unsafe {
        (*counts).granted += 1;
        if euid == Some(0) {
            (*counts).granted_as_root += 1;
        }
    }
    let Some(denied) = pending else {
        return;
    };
    let _ = PENDING_DENIAL.remove(&tid);
    let mut i = 0;
    while i < CAPABILITY_FALLBACKS.len() {
        let (first, then) = CAPABILITY_FALLBACKS[i];
        if first == denied && then == capability {
            unsafe { (*counts).as_fallback += 1 };
            if let Some(first_counts) = capability_counts(cgroup_id, first) {
                unsafe { (*first_counts).made_up += 1 };
            }
            return;
        }
        i += 1;
    }
}

/// `sched_process_exec(p, old_pid, bprm)`: the exec completed and the task runs with its new
/// credentials. Notes its identity and, when they are raised above the real ids (a set-id
/// program) or it holds permitted capabilities it did not inherit as ambient ones (file
/// capabilities) while not root, the program as privilege gain.
#[inline(always)]
pub(crate) fn exec_completed(ctx: &RawTracePointContext, cgroup_id: u64) {
    let cred = current_cred();
    let Some(euid) = note_identity(cgroup_id, cred) else {
        return;
    };
    let off = &SYSCAGE_SECURITY_OFFSETS;
    let (Some(uid), Some(gid), Some(egid), Some(permitted), Some(ambient)) = (
        read_at::<u32>(cred, offset(&off.cred_uid)),
        read_at::<u32>(cred, offset(&off.cred_gid)),
        read_at::<u32>(cred, offset(&off.cred_egid)),
        read_at::<u64>(cred, offset(&off.cred_cap_permitted)),
        read_at::<u64>(cred, offset(&off.cred_cap_ambient)),
    ) else {
        return;
    };
    let mut kind = 0;
    if euid != uid {
        kind |= GAIN_SETUID;
    }
    if egid != gid {
        kind |= GAIN_SETGID;
    }
    if kind == 0 && uid != 0 && permitted & !ambient != 0 {
        kind |= GAIN_FILE_CAPABILITIES;
    }
    if kind == 0 {
        return;
    }
    let bprm: *const u8 = ctx.arg(2);
    let Some(filename) = read_at::<*const u8>(bprm, offset(&off.bprm_filename)) else {
        return;
    };
    let Some(key) = PATH_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: the scratch slot is this CPU's; the helper checks the source.
    unsafe {
        (*key).cgroup_id = cgroup_id;
        zero_words((*key).path.as_mut_ptr() as *mut u64, (*key).path.len() / 8);
        if bpf_probe_read_kernel_str_bytes(filename, &mut (*key).path).is_err() {
            return;
        }
        let _ = PRIVILEGE_GAIN.insert(&*key, &kind, 0);
    }
}

/// A task exits: note the identity it ended in.
#[inline(always)]
pub(crate) fn task_exiting(cgroup_id: u64) {
    note_identity(cgroup_id, current_cred());
}

/// Zeroes `words` u64s at `at` (map keys' unused bytes are part of the key).
#[inline(always)]
unsafe fn zero_words(at: *mut u64, words: usize) {
    let mut i = 0;
    while i < words {
        // SAFETY: the caller passes a buffer of `words` u64s.
        unsafe { *at.add(i) = 0 };
        i += 1;
    }
}

/// The task's root directory's dentry, if `inode` is on the same superblock as its mount.
#[inline(never)]
fn root_dentry_if_on_root_filesystem(inode: *const u8) -> Option<u64> {
    let off = &SYSCAGE_SECURITY_OFFSETS;
    let fs = read_at::<*const u8>(current_task(), offset(&off.task_fs))?;
    let fs_root = offset(&off.fs_root);
    let root_mnt = read_at::<*const u8>(fs, fs_root)?;
    let root_sb = read_at::<u64>(root_mnt, offset(&off.vfsmount_sb))?;
    let inode_sb = read_at::<u64>(inode, offset(&off.inode_sb))?;
    if root_sb != inode_sb {
        return None;
    }
    read_at::<u64>(fs, fs_root + 8)
}

/// `writeback_mark_inode_dirty(inode, flags)`: a file gets dirty data, in the writer's
/// context. Counted when the inode is on the same superblock as the task's root directory's
/// mount (so not on tmpfs, proc, sys, dev or a volume of another filesystem), with the names
/// from the file up to that root.
#[inline(always)]
pub(crate) fn inode_dirtied(ctx: &RawTracePointContext, cgroup_id: u64) {
    let inode: *const u8 = ctx.arg(0);
    let flags: i32 = ctx.arg(1);
    if flags as u32 & offset(&SYSCAGE_SECURITY_OFFSETS.i_dirty_data) == 0 {
        return;
    }
    let off = &SYSCAGE_SECURITY_OFFSETS;
    let Some(root_dentry) = root_dentry_if_on_root_filesystem(inode) else {
        return;
    };
    let writes = match ROOT_WRITES.get_ptr_mut(&cgroup_id) {
        Some(writes) => writes,
        None => {
            let _ = ROOT_WRITES.insert(&cgroup_id, &RootWrites::default(), BPF_NOEXIST as u64);
            let Some(writes) = ROOT_WRITES.get_ptr_mut(&cgroup_id) else {
                return;
            };
            writes
        }
    };
    // SAFETY (each deref): this CPU's copy of a live map value.
    unsafe { (*writes).count += 1 };
    if unsafe { (*writes).paths } >= MAX_ROOT_WRITE_PATHS as u64 {
        unsafe { (*writes).paths_dropped += 1 };
        return;
    }
    // The first alias: `i_dentry` is an hlist whose first node is `d_u.d_alias` in a dentry.
    let Some(alias) = read_at::<u64>(inode, offset(&off.inode_dentry)) else {
        return;
    };
    if alias == 0 {
        return;
    }
    let mut dentry = (alias as *const u8).wrapping_sub(offset(&off.dentry_alias) as usize);
    let Some(key) = WRITE_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: the scratch slot is this CPU's.
    unsafe {
        (*key).cgroup_id = cgroup_id;
        (*key).depth = 0;
        (*key).complete = 0;
        zero_words(
            (*key).names.as_mut_ptr() as *mut u64,
            WRITE_DEPTH * NAME_LEN / 8,
        );
    }
    let name_at = offset(&off.dentry_name) + 8;
    let parent_at = offset(&off.dentry_parent);
    let mut depth = 0;
    for slot in 0..WRITE_DEPTH {
        if dentry as u64 == root_dentry || dentry.is_null() {
            break;
        }
        let name = read_at::<u64>(dentry, name_at).unwrap_or(0);
        let parent = read_at::<u64>(dentry, parent_at).unwrap_or(0) as *const u8;
        // SAFETY: slot < WRITE_DEPTH; the helper checks the source.
        unsafe {
            let names = &mut (*key).names;
            let _ =
                bpf_probe_read_kernel_str_bytes(name as *const u8, names.get_unchecked_mut(slot));
        }
        depth = slot + 1;
        // The filesystem's own root (its parent is itself), or a failed read: stop there.
        dentry = if parent == dentry {
            core::ptr::null()
        } else {
            parent
        };
    }
    if dentry as u64 == root_dentry {
        // SAFETY: as above.
        unsafe { (*key).complete = 1 };
    } else if dentry.is_null() {
        // Outside the task's root (or unreadable): not a root filesystem write after all.
        return;
    }
    // SAFETY: as above.
    unsafe {
        (*key).depth = depth as u32;
        if ROOT_WRITE_PATHS
            .insert(&*key, &1, BPF_NOEXIST as u64)
            .is_ok()
        {
            (*writes).paths += 1;
        }
    }
}
