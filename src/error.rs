//! Typed errors and the stable status codes they map to.

use std::ffi::CStr;
use std::fmt;
use std::io;

/// Stable numeric status of an operation. The values are part of the C ABI and are never
/// renumbered; new codes are only ever appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    Ok = 0,
    NotFound = 1,
    InvalidArgument = 2,
    Io = 3,
    Corruption = 4,
    Conflict = 5,
    Closed = 6,
    Locked = 7,
    NoSpace = 8,
    TooLarge = 9,
    AuthFailed = 10,
    ReadOnly = 11,
    Panic = 12,
    Internal = 13,
    BufferTooSmall = 14,
}

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 15] = [
        Status::Ok,
        Status::NotFound,
        Status::InvalidArgument,
        Status::Io,
        Status::Corruption,
        Status::Conflict,
        Status::Closed,
        Status::Locked,
        Status::NoSpace,
        Status::TooLarge,
        Status::AuthFailed,
        Status::ReadOnly,
        Status::Panic,
        Status::Internal,
        Status::BufferTooSmall,
    ];

    /// The status for a raw code, if it is one we know.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.get(usize::try_from(code).ok()?).copied()
    }

    /// Static human-readable text for the status.
    pub fn as_str(self) -> &'static str {
        self.as_c_str().to_str().expect("status text is ASCII")
    }

    /// The same text, NUL-terminated, for C callers.
    pub fn as_c_str(self) -> &'static CStr {
        match self {
            Status::Ok => c"ok",
            Status::NotFound => c"not found",
            Status::InvalidArgument => c"invalid argument",
            Status::Io => c"I/O error",
            Status::Corruption => c"data corruption detected",
            Status::Conflict => c"transaction conflict",
            Status::Closed => c"database is closed",
            Status::Locked => c"database is locked by another writer",
            Status::NoSpace => c"no space left on device",
            Status::TooLarge => c"key or value too large",
            Status::AuthFailed => c"authentication failed",
            Status::ReadOnly => c"read-only",
            Status::Panic => c"internal panic",
            Status::Internal => c"internal error",
            Status::BufferTooSmall => c"buffer too small",
        }
    }
}

/// An error from a Katamari operation. Match on the variant (or on [`Error::status`]);
/// the message is for people, never for parsing.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The key (or object) does not exist.
    NotFound,
    /// The caller passed something the operation cannot accept.
    InvalidArgument(String),
    /// The operating system reported an I/O failure.
    Io { context: String, source: io::Error },
    /// Stored data failed a checksum or structural check.
    Corruption(String),
    /// A concurrent transaction committed a conflicting write first.
    Conflict,
    /// The database has been closed.
    Closed,
    /// Another writer holds the database directory.
    Locked(String),
    /// The device is full.
    NoSpace(String),
    /// A key or value exceeds the documented limits.
    TooLarge(String),
    /// The database (or transaction) is read-only.
    ReadOnly,
    /// An encryption key is wrong: stored data does not authenticate under it.
    AuthFailed,
    /// A broken internal invariant; please report it.
    Internal(String),
    /// A caller-supplied buffer is too small; the value needs this many bytes.
    BufferTooSmall(usize),
}

/// Shorthand for results of Katamari operations.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The stable status code of this error.
    pub fn status(&self) -> Status {
        match self {
            Error::NotFound => Status::NotFound,
            Error::InvalidArgument(_) => Status::InvalidArgument,
            Error::Io { .. } => Status::Io,
            Error::Corruption(_) => Status::Corruption,
            Error::Conflict => Status::Conflict,
            Error::Closed => Status::Closed,
            Error::Locked(_) => Status::Locked,
            Error::NoSpace(_) => Status::NoSpace,
            Error::TooLarge(_) => Status::TooLarge,
            Error::ReadOnly => Status::ReadOnly,
            Error::AuthFailed => Status::AuthFailed,
            Error::Internal(_) => Status::Internal,
            Error::BufferTooSmall(_) => Status::BufferTooSmall,
        }
    }

    /// Wraps an OS error with what we were doing; a full disk becomes [`Error::NoSpace`].
    pub fn io(context: impl Into<String>, source: io::Error) -> Error {
        let context = context.into();
        if source.kind() == io::ErrorKind::StorageFull {
            return Error::NoSpace(format!("{context}: {source}"));
        }
        Error::Io { context, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound
            | Error::Conflict
            | Error::Closed
            | Error::ReadOnly
            | Error::AuthFailed => f.write_str(self.status().as_str()),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::BufferTooSmall(n) => write!(f, "buffer too small: {n} bytes needed"),
            Error::InvalidArgument(m)
            | Error::Corruption(m)
            | Error::Locked(m)
            | Error::NoSpace(m)
            | Error::TooLarge(m)
            | Error::Internal(m) => write!(f, "{}: {m}", self.status().as_str()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_round_trip() {
        for (i, s) in Status::ALL.iter().enumerate() {
            assert_eq!(*s as i32, i as i32);
            assert_eq!(Status::from_code(i as i32), Some(*s));
        }
        assert_eq!(Status::from_code(-1), None);
        assert_eq!(Status::from_code(Status::ALL.len() as i32), None);
    }

    #[test]
    fn full_disk_maps_to_no_space() {
        let e = Error::io("append", io::Error::from(io::ErrorKind::StorageFull));
        assert_eq!(e.status(), Status::NoSpace);
        let e = Error::io("append", io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(e.status(), Status::Io);
    }
}
