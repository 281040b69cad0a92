//! Finds, in the running kernel's BTF (`/sys/kernel/btf/vmlinux`), the byte offsets of the
//! struct fields the eBPF program reads through the task pointer: `task_struct -> css_set ->
//! cgroup -> kernfs_node -> id` for the caller's cgroup id (when its per-CPU cache misses), and
//! `thread_info.status` for the ABI of a watched task's syscall.
//!
//! Why walk at all: `bpf_get_current_cgroup_id()` takes and drops the RCU read lock in two
//! out-of-line calls, which cost more than the whole rest of the unwatched path; four loads
//! through the BTF-typed task pointer cost a fraction of that. The offsets differ between kernel builds, so they come from the kernel's own
//! BTF at load time (the eBPF side reads them as read-only constants); the verifier then checks
//! every load against that same BTF and refuses the program if an offset were wrong.
//!
//! It also finds the id of the typedef the kernel declares for a raw tracepoint
//! (`btf_trace_sys_enter`), which a BTF-typed tracepoint program is loaded against, and writes
//! the small stand-in BTF that hands that id to aya (see [`typedef_stand_in`]).
//!
//! Only what is needed is parsed: type headers, struct members and names.

use std::path::Path;

use anyhow::{bail, ensure, Context as _, Result};
use tracer_common::{security::SecurityOffsets, KernelOffsets};

/// Where the kernel publishes its own BTF.
pub(crate) const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

const BTF_MAGIC: u16 = 0xeb9f;

/// BTF kinds (`BTF_KIND_*` in include/uapi/linux/btf.h).
mod kind {
    pub(super) const INT: u32 = 1;
    pub(super) const PTR: u32 = 2;
    pub(super) const ARRAY: u32 = 3;
    pub(super) const STRUCT: u32 = 4;
    pub(super) const UNION: u32 = 5;
    pub(super) const ENUM: u32 = 6;
    pub(super) const FWD: u32 = 7;
    pub(super) const TYPEDEF: u32 = 8;
    pub(super) const VOLATILE: u32 = 9;
    pub(super) const CONST: u32 = 10;
    pub(super) const RESTRICT: u32 = 11;
    pub(super) const FUNC: u32 = 12;
    pub(super) const FUNC_PROTO: u32 = 13;
    pub(super) const VAR: u32 = 14;
    pub(super) const DATASEC: u32 = 15;
    pub(super) const FLOAT: u32 = 16;
    pub(super) const DECL_TAG: u32 = 17;
    pub(super) const TYPE_TAG: u32 = 18;
    pub(super) const ENUM64: u32 = 19;
}

/// One type of the BTF: its header words and where its trailing data starts.
#[derive(Clone, Copy)]
struct TypeHeader {
    name_off: u32,
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    /// `size` for structs, unions, ints; `type` for pointers, typedefs and modifiers.
    size_or_type: u32,
    /// Byte offset of the trailing data in `data`.
    extra: usize,
}

/// A parsed BTF blob. The kernel's has some 100,000 types: only where each starts is indexed
/// (and which ones are structs), headers are decoded when asked for, so that reading it adds
/// little to the attach time.
pub(crate) struct KernelBtf {
    data: BtfBytes,
    /// Byte range of the string section in `data`.
    strings: std::ops::Range<usize>,
    /// Where type `id` starts in `data` (index 0, `void`, is unused).
    type_at: Vec<u32>,
    /// The ids of the named structs, with their name offsets.
    structs: Vec<(u32, u32)>,
    /// The ids of the named typedefs, with their name offsets.
    typedefs: Vec<(u32, u32)>,
}

/// A struct member: its byte offset and the id of its type.
struct Member {
    offset: u32,
    type_id: u32,
}

impl KernelBtf {
    /// Reads and indexes the BTF at `path`.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let data = BtfBytes::open(path).with_context(|| {
            format!(
                "reading the kernel's BTF {} (the kernel needs CONFIG_DEBUG_INFO_BTF)",
                path.display()
            )
        })?;
        Self::parse(data).with_context(|| format!("parsing the kernel's BTF {}", path.display()))
    }

    fn parse(data: impl Into<BtfBytes>) -> Result<Self> {
        let data = data.into();
        let magic = data.get(..2).context("truncated header")?;
        ensure!(
            u16::from_ne_bytes([magic[0], magic[1]]) == BTF_MAGIC,
            "not BTF in this machine's byte order"
        );
        let hdr_len = read_u32(&data, 4)? as usize;
        let section = |off_at: usize, what: &str| -> Result<std::ops::Range<usize>> {
            let off = read_u32(&data, off_at)? as usize;
            let len = read_u32(&data, off_at + 4)? as usize;
            let start = hdr_len
                .checked_add(off)
                .context("section offset overflows")?;
            let end = start.checked_add(len).context("section length overflows")?;
            ensure!(
                end <= data.len(),
                "{what} section runs past the end ({end} > {})",
                data.len()
            );
            Ok(start..end)
        };
        let types = section(8, "type")?;
        let strings = section(16, "string")?;

        let mut type_at = Vec::with_capacity(types.len() / 24);
        type_at.push(0);
        let mut structs = Vec::new();
        let mut typedefs = Vec::new();
        let mut at = types.start;
        while at < types.end {
            let at_u32 = u32::try_from(at).context("BTF larger than 4 GiB")?;
            let name_off = read_u32(&data, at)?;
            let info = read_u32(&data, at + 4)?;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let extra_len = match kind {
                kind::INT | kind::VAR | kind::DECL_TAG => 4,
                kind::PTR
                | kind::FWD
                | kind::TYPEDEF
                | kind::VOLATILE
                | kind::CONST
                | kind::RESTRICT
                | kind::FUNC
                | kind::FLOAT
                | kind::TYPE_TAG => 0,
                kind::ARRAY => 12,
                kind::STRUCT | kind::UNION | kind::DATASEC | kind::ENUM64 => 12 * vlen,
                kind::ENUM | kind::FUNC_PROTO => 8 * vlen,
                other => bail!("type {} has unknown kind {other}", type_at.len()),
            };
            if name_off != 0 {
                let id = type_at.len() as u32;
                match kind {
                    kind::STRUCT => structs.push((id, name_off)),
                    kind::TYPEDEF => typedefs.push((id, name_off)),
                    _ => {}
                }
            }
            type_at.push(at_u32);
            at += 12 + extra_len;
        }
        ensure!(at == types.end, "the last type runs past the type section");
        Ok(Self {
            data,
            strings,
            type_at,
            structs,
            typedefs,
        })
    }

    /// The id of `btf_trace_<tracepoint>`, the typedef the kernel declares for each raw
    /// tracepoint: a `tp_btf` program names its tracepoint by this id when it is loaded.
    pub(crate) fn raw_tracepoint_type_id(&self, tracepoint: &str) -> Result<u32> {
        let name = format!("btf_trace_{tracepoint}");
        self.typedefs
            .iter()
            .find(|&&(_, name_off)| self.string_is(name_off, &name))
            .map(|&(id, _)| id)
            .with_context(|| {
                format!("kernel BTF: no raw tracepoint {tracepoint} (no typedef {name})")
            })
    }

    /// The offsets the eBPF program needs, checked for the shape it assumes.
    pub(crate) fn kernel_offsets(&self) -> Result<KernelOffsets> {
        let (task_cgroups, _) = self.pointer_field("task_struct", "cgroups", "css_set")?;
        let (css_set_dfl_cgrp, _) = self.pointer_field("css_set", "dfl_cgrp", "cgroup")?;
        let (cgroup_kn, _) = self.pointer_field("cgroup", "kn", "kernfs_node")?;
        let kernfs_node_id = self.integer_field("kernfs_node", "id", 8)?;
        // THREAD_INFO_IN_TASK kernels (x86_64, arm64, riscv, s390) embed thread_info in
        // task_struct; only x86's has the `status` word that carries TS_COMPAT.
        let task_thread_info = self.field("task_struct", "thread_info")?.offset;
        let thread_info_status = if cfg!(target_arch = "x86_64") {
            self.integer_field("thread_info", "status", 4)?
        } else {
            0
        };
        Ok(KernelOffsets {
            task_cgroups,
            css_set_dfl_cgrp,
            cgroup_kn,
            kernfs_node_id,
            task_status: task_thread_info + thread_info_status,
            _pad: 0,
        })
    }

    /// The offsets the security programs read (credentials, the task's root, an inode's
    /// superblock and names, an exec's file name); they read through checked helper copies.
    pub(crate) fn security_offsets(&self) -> Result<SecurityOffsets> {
        // kuid_t, kgid_t and kernel_cap_t are one-member structs around the value.
        let at =
            |strukt: &str, field: &str| -> Result<u32> { Ok(self.field(strukt, field)?.offset) };
        Ok(SecurityOffsets {
            cred_uid: at("cred", "uid")?,
            cred_gid: at("cred", "gid")?,
            cred_euid: at("cred", "euid")?,
            cred_egid: at("cred", "egid")?,
            cred_cap_permitted: at("cred", "cap_permitted")?,
            cred_cap_ambient: at("cred", "cap_ambient")?,
            task_cred: self.pointer_field("task_struct", "cred", "cred")?.0,
            task_fs: self.pointer_field("task_struct", "fs", "fs_struct")?.0,
            fs_root: at("fs_struct", "root")?,
            vfsmount_sb: self.pointer_field("vfsmount", "mnt_sb", "super_block")?.0,
            inode_sb: self.pointer_field("inode", "i_sb", "super_block")?.0,
            inode_dentry: at("inode", "i_dentry")?,
            dentry_alias: at("dentry", "d_u")?,
            dentry_parent: self.pointer_field("dentry", "d_parent", "dentry")?.0,
            dentry_name: at("dentry", "d_name")?,
            bprm_filename: at("linux_binprm", "filename")?,
            i_dirty_data: self.enum_value("I_DIRTY_DATASYNC")?
                | self.enum_value("I_DIRTY_PAGES")?,
            _pad: 0,
        })
    }

    /// The value of the enumerator `name` (of any 4-byte enum): the inode dirty flags, which
    /// moved between kernel versions.
    pub(crate) fn enum_value(&self, name: &str) -> Result<u32> {
        for id in 1..self.type_at.len() as u32 {
            let header = self.header(id)?;
            if header.kind != kind::ENUM {
                continue;
            }
            for i in 0..header.vlen as usize {
                let at = header.extra + 8 * i;
                if self.string_is(read_u32(&self.data, at)?, name) {
                    return read_u32(&self.data, at + 4);
                }
            }
        }
        bail!("kernel BTF: no enumerator {name}")
    }

    /// The offset of `strukt.field`, a pointer to `struct target`.
    fn pointer_field(&self, strukt: &str, field: &str, target: &str) -> Result<(u32, u32)> {
        let member = self.field(strukt, field)?;
        let pointer = self.skip_modifiers(member.type_id)?;
        let header = self.header(pointer)?;
        ensure!(
            header.kind == kind::PTR,
            "kernel BTF: {strukt}.{field} is not a pointer"
        );
        let pointee = self.skip_modifiers(header.size_or_type)?;
        let pointee_header = self.header(pointee)?;
        ensure!(
            pointee_header.kind == kind::STRUCT && self.name(pointee_header)? == target,
            "kernel BTF: {strukt}.{field} does not point to struct {target}"
        );
        Ok((member.offset, pointee))
    }

    /// The offset of `strukt.field`, an integer of `size` bytes.
    fn integer_field(&self, strukt: &str, field: &str, size: u32) -> Result<u32> {
        let member = self.field(strukt, field)?;
        let ty = self.header(self.skip_modifiers(member.type_id)?)?;
        ensure!(
            (ty.kind == kind::INT || ty.kind == kind::ENUM) && ty.size_or_type == size,
            "kernel BTF: {strukt}.{field} is not a {size}-byte integer"
        );
        Ok(member.offset)
    }

    /// The member `field` of the first struct named `strukt` that has it, looking into anonymous
    /// struct and union members too.
    fn field(&self, strukt: &str, field: &str) -> Result<Member> {
        let mut found_struct = false;
        for &(id, name_off) in &self.structs {
            if !self.string_is(name_off, strukt) {
                continue;
            }
            found_struct = true;
            if let Some(member) = self.find_member(id, field, 0, 0)? {
                return Ok(member);
            }
        }
        if found_struct {
            bail!("kernel BTF: struct {strukt} has no field {field}")
        }
        bail!("kernel BTF: no struct {strukt}")
    }

    fn find_member(&self, id: u32, field: &str, base: u32, depth: u32) -> Result<Option<Member>> {
        // Anonymous members nest a few levels at most; the bound only guards against a cycle.
        ensure!(depth < 16, "kernel BTF: anonymous members nest too deeply");
        let header = self.header(id)?;
        for i in 0..header.vlen as usize {
            let at = header.extra + 12 * i;
            let name_off = read_u32(&self.data, at)?;
            let type_id = read_u32(&self.data, at + 4)?;
            let raw_offset = read_u32(&self.data, at + 8)?;
            // With kind_flag the top 8 bits are a bitfield's width; pointers are not bitfields.
            let bits = if header.kind_flag {
                raw_offset & 0x00ff_ffff
            } else {
                raw_offset
            };
            let offset = base + bits / 8;
            if name_off == 0 {
                let inner = self.skip_modifiers(type_id)?;
                let inner_kind = self.header(inner)?.kind;
                if inner_kind == kind::STRUCT || inner_kind == kind::UNION {
                    if let Some(found) = self.find_member(inner, field, offset, depth + 1)? {
                        return Ok(Some(found));
                    }
                }
            } else if self.string_is(name_off, field) {
                ensure!(
                    bits % 8 == 0,
                    "kernel BTF: field {field} is not byte-aligned"
                );
                return Ok(Some(Member { offset, type_id }));
            }
        }
        Ok(None)
    }

    /// Follows typedefs and qualifiers to the type they name.
    fn skip_modifiers(&self, mut id: u32) -> Result<u32> {
        for _ in 0..32 {
            let header = self.header(id)?;
            match header.kind {
                kind::TYPEDEF | kind::VOLATILE | kind::CONST | kind::RESTRICT | kind::TYPE_TAG => {
                    id = header.size_or_type;
                }
                _ => return Ok(id),
            }
        }
        bail!("kernel BTF: type {id} is a chain of more than 32 typedefs/qualifiers")
    }

    fn header(&self, id: u32) -> Result<TypeHeader> {
        let at = *self
            .type_at
            .get(id as usize)
            .filter(|_| id != 0)
            .with_context(|| format!("kernel BTF: type id {id} out of range"))?
            as usize;
        let info = read_u32(&self.data, at + 4)?;
        Ok(TypeHeader {
            name_off: read_u32(&self.data, at)?,
            kind: (info >> 24) & 0x1f,
            vlen: info & 0xffff,
            kind_flag: info >> 31 != 0,
            size_or_type: read_u32(&self.data, at + 8)?,
            extra: at + 12,
        })
    }

    fn name(&self, header: TypeHeader) -> Result<&str> {
        self.string(header.name_off)
    }

    /// The NUL-terminated bytes at `off` of the string section.
    fn string_bytes(&self, off: u32) -> Result<&[u8]> {
        let tail = self
            .data
            .get(self.strings.start + off as usize..self.strings.end)
            .with_context(|| format!("kernel BTF: string offset {off} out of range"))?;
        let end = tail
            .iter()
            .position(|&b| b == 0)
            .context("kernel BTF: unterminated string")?;
        Ok(&tail[..end])
    }

    fn string(&self, off: u32) -> Result<&str> {
        std::str::from_utf8(self.string_bytes(off)?).context("kernel BTF: a name is not UTF-8")
    }

    /// Whether the string at `off` is `expected` (false if `off` is out of range).
    fn string_is(&self, off: u32, expected: &str) -> bool {
        let start = self.strings.start + off as usize;
        let end = start + expected.len();
        end < self.strings.end
            && self.data.get(start..end) == Some(expected.as_bytes())
            && self.data[end] == 0
    }
}

/// The bytes of a BTF file: mapped where the kernel allows it (Linux 6.16 and later map
/// `/sys/kernel/btf/vmlinux` read-only), read otherwise. Reading is the slow way: sysfs hands
/// the file out a page per `read`.
pub(crate) enum BtfBytes {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl BtfBytes {
    fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() > 0 {
            // A private read-only mapping: the kernel refuses shared or writable mappings of its
            // BTF.
            // SAFETY: the file is the running kernel's BTF (or a test's file), which nothing
            // truncates or rewrites while it is mapped.
            if let Ok(map) = unsafe { memmap2::MmapOptions::new().map_copy_read_only(&file) } {
                return Ok(Self::Mapped(map));
            }
        }
        std::fs::read(path).map(Self::Read)
    }
}

impl From<Vec<u8>> for BtfBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Read(bytes)
    }
}

impl std::ops::Deref for BtfBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Mapped(map) => map,
            Self::Read(bytes) => bytes,
        }
    }
}

/// A BTF blob in which type `id` is the typedef `name` and every type before it an unnamed
/// placeholder, for aya's `BtfTracePoint::load`. That takes a parsed BTF only to look the
/// tracepoint's typedef up by name and pass on its id; parsing the kernel's whole BTF for it
/// costs time and memory far beyond this stand-in's (aya's `EbpfLoader::new()` already parses
/// it once, into a copy nothing can reach). The kernel never sees the stand-in: it checks the
/// program against its own BTF, by that id.
///
/// Upstream, this stand-in is not needed once aya can load a BTF tracepoint program by the
/// target's BTF type id (`BtfTracePoint::load` taking the id, or the loader's own parsed kernel
/// BTF) instead of a caller-parsed `Btf`. No aya request for exactly that was found; the nearest
/// are https://github.com/aya-rs/aya/pull/1173 (closed: not parsing the system's BTF when the
/// loader is made) and https://github.com/aya-rs/aya/pull/1639 (kernel BTF loaded once). The
/// link to a request for the load-by-id API is still to be added.
pub(crate) fn typedef_stand_in(id: u32, name: &str) -> Vec<u8> {
    let mut writer = BtfWriter::new();
    for _ in 1..id {
        writer.header("", kind::PTR, 0, 0);
    }
    writer.header(name, kind::TYPEDEF, 0, 0);
    writer.finish()
}

/// Writes a BTF blob type by type (ids from 1, in order), in this machine's byte order.
struct BtfWriter {
    types: Vec<u8>,
    strings: Vec<u8>,
    next_id: u32,
}

impl BtfWriter {
    fn new() -> Self {
        Self {
            types: Vec::new(),
            strings: vec![0],
            next_id: 1,
        }
    }

    /// Adds `s` to the string section and returns its offset (0, the empty string, for "").
    fn string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    /// Adds a type's three header words; the caller appends its trailing data, if any.
    fn header(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32) -> u32 {
        let name_off = self.string(name);
        for word in [name_off, (kind << 24) | vlen, size_or_type] {
            self.push_word(word);
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn push_word(&mut self, word: u32) {
        self.types.extend_from_slice(&word.to_ne_bytes());
    }

    fn finish(self) -> Vec<u8> {
        const HEADER_LEN: u32 = 24;
        let types_len = self.types.len() as u32;
        let mut out =
            Vec::with_capacity(HEADER_LEN as usize + self.types.len() + self.strings.len());
        out.extend_from_slice(&BTF_MAGIC.to_ne_bytes());
        out.extend_from_slice(&[1, 0]); // version 1, no flags
                                        // hdr_len, type_off, type_len, str_off, str_len.
        for word in [
            HEADER_LEN,
            0,
            types_len,
            types_len,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&word.to_ne_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

fn read_u32(data: &[u8], at: usize) -> Result<u32> {
    let bytes = data
        .get(at..at + 4)
        .with_context(|| format!("truncated at byte {at}"))?;
    Ok(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds the walk needs, on top of the writer's headers.
    impl BtfWriter {
        fn int(&mut self, name: &str, size: u32) -> u32 {
            let id = self.header(name, kind::INT, 0, size);
            self.push_word(size * 8);
            id
        }
        fn ptr(&mut self, to: u32) -> u32 {
            self.header("", kind::PTR, 0, to)
        }
        fn fwd(&mut self, name: &str) -> u32 {
            self.header(name, kind::FWD, 0, 0)
        }
        fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            let id = self.header(name, kind::STRUCT, members.len() as u32, size);
            for &(member, type_id, byte_offset) in members {
                let name_off = self.string(member);
                for word in [name_off, type_id, byte_offset * 8] {
                    self.push_word(word);
                }
            }
            id
        }
    }

    /// Structs in the shapes of the kernel's, with made-up offsets; the pointees are defined
    /// after the pointers to them, as in vmlinux.
    fn sample() -> Vec<u8> {
        let mut b = BtfWriter::new();
        let u32_ty = b.int("unsigned int", 4);
        let u64_ty = b.int("u64", 8);
        let thread_info = b.strukt(
            "thread_info",
            24,
            &[
                ("flags", u64_ty, 0),
                ("syscall_work", u64_ty, 8),
                ("status", u32_ty, 16),
            ],
        );
        // Ids: 1 and 2 the ints, 3 thread_info, then as noted; the pointers name ids to come.
        let css_set_ptr = b.ptr(8); // 4
        let anon = b.strukt("", 16, &[("pad", u64_ty, 0), ("cgroups", css_set_ptr, 8)]); // 5
        let task_members = [("thread_info", thread_info, 0), ("", anon, 1000)];
        let _task = b.strukt("task_struct", 4096, &task_members); // 6
        let cgroup_ptr = b.ptr(10); // 7
        assert_eq!(
            b.strukt("css_set", 256, &[("dfl_cgrp", cgroup_ptr, 136)]),
            8
        );
        let kn_ptr = b.ptr(11); // 9
        assert_eq!(
            b.strukt("cgroup", 512, &[("self", u64_ty, 0), ("kn", kn_ptr, 288)]),
            10
        );
        assert_eq!(b.strukt("kernfs_node", 128, &[("id", u64_ty, 72)]), 11);
        let _ = b.fwd("unused");
        b.finish()
    }

    #[test]
    fn finds_the_walk_offsets_through_anonymous_members() {
        let btf = KernelBtf::parse(sample()).unwrap();
        let offsets = btf.kernel_offsets().unwrap();
        assert_eq!(offsets.task_cgroups, 1008);
        assert_eq!(offsets.css_set_dfl_cgrp, 136);
        assert_eq!(offsets.cgroup_kn, 288);
        assert_eq!(offsets.kernfs_node_id, 72);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(offsets.task_status, 16);
        }
    }

    #[test]
    fn a_missing_struct_or_field_is_named() {
        let btf = KernelBtf::parse(sample()).unwrap();
        let err = btf.field("css_set", "nope").err().unwrap().to_string();
        assert_eq!(err, "kernel BTF: struct css_set has no field nope");
        let err = btf.field("nothing", "id").err().unwrap().to_string();
        assert_eq!(err, "kernel BTF: no struct nothing");
        let err = btf
            .pointer_field("kernfs_node", "id", "x")
            .err()
            .unwrap()
            .to_string();
        assert_eq!(err, "kernel BTF: kernfs_node.id is not a pointer");
    }

    #[test]
    fn truncated_or_foreign_data_is_refused() {
        let blob = sample();
        assert!(KernelBtf::parse(blob[..blob.len() - 40].to_vec()).is_err());
        assert!(KernelBtf::parse(vec![0u8; 24]).is_err());
        assert!(KernelBtf::parse(Vec::new()).is_err());
    }

    #[test]
    #[ignore = "needs the running kernel's BTF (/sys/kernel/btf/vmlinux)"]
    fn the_running_kernels_btf_has_the_walk() {
        // Every kernel syscage runs on has BTF (the program needs it); where this test runs
        // without it, that is what it says.
        let btf = KernelBtf::read(Path::new(VMLINUX_BTF))
            .expect("this machine's kernel must publish BTF for syscage to run");
        let offsets = btf.kernel_offsets().unwrap();
        assert!(offsets.task_cgroups > 0 && offsets.cgroup_kn > 0);
        let sys_enter = btf.raw_tracepoint_type_id("sys_enter").unwrap();
        assert_eq!(aya_lookup(sys_enter, "btf_trace_sys_enter"), sys_enter);
    }

    /// The id aya finds for typedef `name` in the stand-in written for `id`.
    fn aya_lookup(id: u32, name: &str) -> u32 {
        let stand_in = aya::Btf::parse(&typedef_stand_in(id, name), aya::Endianness::default())
            .expect("aya parses the stand-in");
        stand_in
            .id_by_type_name_kind(name, aya_obj::btf::BtfKind::Typedef)
            .expect("aya finds the typedef")
    }

    #[test]
    fn the_stand_in_names_its_typedef_at_the_given_id() {
        for id in [1, 2, 11_318, 150_000] {
            assert_eq!(aya_lookup(id, "btf_trace_sys_enter"), id);
            let ours = KernelBtf::parse(typedef_stand_in(id, "btf_trace_x")).unwrap();
            assert_eq!(ours.raw_tracepoint_type_id("x").unwrap(), id);
        }
        let err = KernelBtf::parse(sample())
            .unwrap()
            .raw_tracepoint_type_id("sys_enter")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "kernel BTF: no raw tracepoint sys_enter (no typedef btf_trace_sys_enter)"
        );
    }
}
