//! Facts about the machine a recording is made on (`uname -r`, `uname -m`).

use std::ffi::CStr;
use std::io;

/// The kernel release and machine name, as `uname -r` and `uname -m` print them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// `uname -r`, e.g. `6.1.0-18-amd64`.
    pub kernel_release: String,
    /// `uname -m`, e.g. `x86_64`.
    pub machine: String,
}

/// Reads [`HostInfo`] with uname(2), which needs no privileges.
pub fn host_info() -> io::Result<HostInfo> {
    // SAFETY: utsname is plain old data, all zeros is a valid value, and uname only writes into
    // the struct we pass.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(HostInfo {
        kernel_release: c_field(&uts.release),
        machine: c_field(&uts.machine),
    })
}

/// A NUL-terminated utsname field as a String; a field that fills its array without a NUL (which
/// the kernel never returns) is taken whole rather than read past.
fn c_field(field: &[libc::c_char]) -> String {
    // c_char is i8 or u8 depending on the target; either way each element is one byte.
    let bytes: Vec<u8> = field.iter().map(|&c| c as u8).collect();
    match CStr::from_bytes_until_nul(&bytes) {
        Ok(text) => text.to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_info_is_filled() {
        let host = host_info().unwrap();
        assert!(!host.kernel_release.is_empty());
        assert!(!host.machine.is_empty());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(host.machine, "x86_64");
    }

    #[test]
    fn c_field_stops_at_nul_and_survives_without_one() {
        let with_nul: Vec<libc::c_char> = b"6.1\0junk".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(c_field(&with_nul), "6.1");
        let without: Vec<libc::c_char> = b"abc".iter().map(|&b| b as libc::c_char).collect();
        assert_eq!(c_field(&without), "abc");
    }
}
