//! Error types of the library.
//!
//! Every `Display` is one line that names the input (a file name or another origin), the place in
//! it (a JSON field path such as `syscalls[3].count`) and what was expected, so the command line
//! can print it as it is. The lower-level cause is part of that line, in a field called `cause`
//! rather than a `#[source]`: an error chain printed with anyhow's `{:#}` would otherwise repeat
//! it.

use std::fmt;

use thiserror::Error;

/// A field path inside a JSON document, or the document itself.
///
/// Displayed as `syscalls[3].count: ` or, for the whole document, as nothing, so that messages
/// read `app.json: syscalls[3].count: invalid type ...` and `app.json: missing field ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(pub Option<String>);

impl FieldPath {
    /// The path of one named field.
    pub fn field(path: impl Into<String>) -> Self {
        Self(Some(path.into()))
    }

    /// Converts serde_path_to_error's path; its root (`.`) becomes "the document".
    /// Keys of the document are part of the path: control characters in them are escaped.
    pub(crate) fn from_serde(path: &serde_path_to_error::Path) -> Self {
        let text = path.to_string();
        if text == "." {
            Self(None)
        } else {
            Self(Some(one_line(text)))
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(path) => write!(f, "{path}: "),
            None => Ok(()),
        }
    }
}

/// `text` with line breaks and other control characters escaped (`\n`, `\u{1b}`), so that a
/// message quoting the input (serde's "unknown variant `...`", a key of the document) keeps an
/// error on one line.
pub(crate) fn one_line(text: impl fmt::Display) -> String {
    let text = text.to_string();
    if !text.contains(char::is_control) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// "an array", "a string", ...: what a JSON value is, for messages.
/// Deserialises `T`, or says where it failed: the field path and serde's message on one line,
/// for the caller's `Field` error.
pub(crate) fn deserialize_at<'de, T, D>(de: D) -> Result<T, (FieldPath, String)>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde_path_to_error::deserialize(de)
        .map_err(|err| (FieldPath::from_serde(err.path()), one_line(err.inner())))
}

pub(crate) fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Converting between architecture spellings and types.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ArchError {
    /// The text is not an architecture name libseccomp knows.
    #[error("unknown architecture {name:?}, expected a name such as SCMP_ARCH_X86_64")]
    UnknownName { name: String },

    /// `SCMP_ARCH_NATIVE` where a concrete architecture is needed.
    #[error(
        "SCMP_ARCH_NATIVE is not a concrete architecture, expected one such as SCMP_ARCH_X86_64"
    )]
    Native,

    /// A libseccomp architecture that the runtime spec has no name for.
    #[error("libseccomp architecture {arch} has no OCI runtime-spec name")]
    NotInRuntimeSpec { arch: String },

    /// A runtime-spec architecture that this libseccomp does not support.
    #[error("runtime-spec architecture {arch} is not supported by this libseccomp")]
    NotInLibseccomp { arch: String },
}

/// Why an action of a profile cannot be turned into a libseccomp action.
///
/// Shared by validation and enforcement so the two cannot disagree.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ActionError {
    /// `SCMP_ACT_NOTIFY` hands the syscall to a seccomp agent that syscage does not run.
    #[error(
        "SCMP_ACT_NOTIFY needs a seccomp agent listening on listenerPath; \
         syscage cannot enforce it, use SCMP_ACT_ERRNO or SCMP_ACT_LOG instead"
    )]
    Notify,

    /// The kernel caps errno values at MAX_ERRNO, so a larger one would silently change meaning.
    #[error("errnoRet {value} is above 4095 (MAX_ERRNO); the kernel would return 4095 instead")]
    ErrnoRange { value: u32 },

    /// SECCOMP_RET_TRACE carries 16 bits of data.
    #[error("errnoRet {value} is above 65535, the largest SCMP_ACT_TRACE message")]
    TraceRange { value: u32 },
}

/// Generating, reading or checking an OCI runtime-spec seccomp profile.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {cause}")]
    Read {
        origin: String,
        cause: std::io::Error,
    },

    /// The text is not JSON at all.
    #[error("{origin}: not JSON: {cause}")]
    NotJson {
        origin: String,
        cause: serde_json::Error,
    },

    /// A Docker/moby profile key that the OCI runtimes ignore.
    #[error(
        "{origin}: {field}: Docker-only key; runc, crun and containerd ignore it, so the profile \
         would not mean what it says there (write a plain runtime-spec profile instead)"
    )]
    DockerOnly { origin: String, field: String },

    /// A field has the wrong type or shape (the message comes from serde_json).
    #[error("{origin}: {field}{message}")]
    Field {
        origin: String,
        field: FieldPath,
        message: String,
    },

    /// An architecture libseccomp cannot handle.
    #[error("{origin}: {field}: {cause}")]
    Arch {
        origin: String,
        field: String,
        cause: ArchError,
    },

    /// The profile lists architectures, but not the one this machine runs.
    #[error(
        "{origin}: architectures: [{listed}] does not include the native architecture {native}"
    )]
    NativeMissing {
        origin: String,
        listed: String,
        native: String,
    },

    /// A syscall name that libseccomp does not know on any architecture.
    #[error("{origin}: {field}: unknown syscall name {name:?}")]
    UnknownSyscall {
        origin: String,
        field: String,
        name: String,
    },

    /// An action that cannot be enforced.
    #[error("{origin}: {field}: {cause}")]
    Action {
        origin: String,
        field: String,
        cause: ActionError,
    },

    /// An argument index past the sixth argument.
    #[error(
        "{origin}: {field}: argument index {index} is out of range, syscalls have arguments 0 to 5"
    )]
    ArgIndex {
        origin: String,
        field: String,
        index: usize,
    },
}

/// Turning a profile into a libseccomp filter, or loading it.
///
/// Fields are named as in the profile (`syscalls[2]`), since build_filter has no file name.
#[derive(Debug, Error)]
pub enum EnforceError {
    /// libseccomp refused to create a filter context.
    #[error("creating a libseccomp filter with default action {action}: {cause}")]
    Init {
        action: String,
        cause: libseccomp::error::SeccompError,
    },

    /// An architecture libseccomp cannot handle.
    #[error("{field}: {cause}")]
    Arch { field: String, cause: ArchError },

    /// libseccomp refused an architecture.
    #[error("{field}: adding architecture {arch} to the filter: {cause}")]
    AddArch {
        field: String,
        arch: String,
        cause: libseccomp::error::SeccompError,
    },

    /// libseccomp refused a filter attribute.
    #[error("{field}: setting {attribute}: {cause}")]
    Attribute {
        field: String,
        attribute: &'static str,
        cause: libseccomp::error::SeccompError,
    },

    /// An action that cannot be enforced.
    #[error("{field}: {cause}")]
    Action { field: String, cause: ActionError },

    /// A syscall name libseccomp does not know.
    #[error("{field}: unknown syscall name {name:?}")]
    UnknownSyscall { field: String, name: String },

    /// An argument index past the sixth argument.
    #[error("{field}: argument index {index} is out of range, syscalls have arguments 0 to 5")]
    ArgIndex { field: String, index: usize },

    /// libseccomp refused a rule.
    #[error("{field} ({name}): libseccomp rejected the rule: {cause}")]
    Rule {
        field: String,
        name: String,
        cause: libseccomp::error::SeccompError,
    },

    /// The kernel or libseccomp refused to load the filter.
    #[error("loading the seccomp filter: {cause}")]
    Load {
        cause: libseccomp::error::SeccompError,
    },

    /// The filter could not be exported as text.
    #[error("exporting the seccomp filter as text: {0}")]
    Export(String),
}
