#![allow(non_camel_case_types)]
//! The C ABI. The only module with `extern "C"`; `include/katamari.h` is generated from it.
//!
//! Every exported function body is one call to [`boundary`], [`boundary_void`] or
//! [`boundary_value`], which catch panics so none unwinds into C (a test checks this).

mod batch;
mod bucket;
mod column;
mod db;
mod iter;
mod keyspace;
mod maintenance;
mod options;
mod txn;

pub use batch::*;
pub use bucket::*;
pub use column::*;
pub use db::*;
pub use iter::*;
pub use keyspace::*;
pub use maintenance::*;
pub use options::*;
pub use txn::*;

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{Error, Status};

/// Status code returned by every fallible function; 0 is success. Codes are never
/// renumbered.
#[allow(non_camel_case_types)]
pub type kat_status = i32;

/// Success.
pub const KAT_OK: kat_status = 0;
/// The key (or object) does not exist. An ordinary outcome: no error object is made.
pub const KAT_NOT_FOUND: kat_status = 1;
/// A NULL pointer where one is not allowed, or an unacceptable value.
pub const KAT_INVALID_ARGUMENT: kat_status = 2;
/// The operating system reported an I/O failure.
pub const KAT_IO: kat_status = 3;
/// Stored data failed a checksum or structural check; it is never returned as data.
pub const KAT_CORRUPTION: kat_status = 4;
/// A concurrent transaction committed a conflicting write first; nothing was written.
pub const KAT_CONFLICT: kat_status = 5;
/// The database was closed.
pub const KAT_CLOSED: kat_status = 6;
/// Another writer holds the database directory.
pub const KAT_LOCKED: kat_status = 7;
/// The device is full.
pub const KAT_NO_SPACE: kat_status = 8;
/// A key (over 64 KiB) or value (over 4 GiB - 1) is too large; nothing was written.
pub const KAT_TOO_LARGE: kat_status = 9;
/// Authentication of encrypted data failed (wrong key or tampering).
pub const KAT_AUTH_FAILED: kat_status = 10;
/// The database or transaction is read-only.
pub const KAT_READ_ONLY: kat_status = 11;
/// A bug inside the library was caught at the boundary; the handle may be unusable.
pub const KAT_PANIC: kat_status = 12;
/// A broken internal invariant; please report it.
pub const KAT_INTERNAL: kat_status = 13;
/// A caller-supplied buffer is too small; the needed length was reported.
pub const KAT_BUFFER_TOO_SMALL: kat_status = 14;

/// Major version of this header.
pub const KAT_VERSION_MAJOR: u32 = 0;
/// Minor version of this header.
pub const KAT_VERSION_MINOR: u32 = 1;
/// Patch version of this header.
pub const KAT_VERSION_PATCH: u32 = 0;
/// `MAJOR * 1000000 + MINOR * 1000 + PATCH`; compare with `kat_version_number()`.
pub const KAT_VERSION_NUMBER: u32 =
    KAT_VERSION_MAJOR * 1_000_000 + KAT_VERSION_MINOR * 1000 + KAT_VERSION_PATCH;

/// Detail of a failed call: a status code and a message. Owned by the caller; release
/// with `kat_error_free`.
pub struct kat_error {
    code: kat_status,
    message: CString,
}

/// Bytes owned by the library, handed to the caller. Release with `kat_buf_free`, never
/// with `free()`. An empty value has `len == 0` and may have `data == NULL`.
#[repr(C)]
pub struct kat_buf {
    /// First byte, or NULL when `len` is 0.
    pub data: *mut u8,
    /// Number of bytes.
    pub len: usize,
}

impl kat_buf {
    fn from_vec(v: Vec<u8>) -> kat_buf {
        if v.is_empty() {
            return kat_buf {
                data: std::ptr::null_mut(),
                len: 0,
            };
        }
        let len = v.len();
        let data = Box::into_raw(v.into_boxed_slice()) as *mut u8;
        kat_buf { data, len }
    }
}

fn status_of(e: &Error) -> kat_status {
    e.status() as kat_status
}

/// Writes a new error object to `*err` when `err` is not NULL.
///
/// # Safety
/// `err` is NULL or valid for a pointer write.
unsafe fn set_error(err: *mut *mut kat_error, code: kat_status, message: String) {
    if err.is_null() {
        return;
    }
    let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    let boxed = Box::into_raw(Box::new(kat_error { code, message }));
    // SAFETY: the caller guarantees a non-NULL `err` is writable.
    unsafe { err.write(boxed) };
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs the body of a fallible export: maps `Err` to its status (with an error object in
/// `*err`, except for `KAT_NOT_FOUND`) and a panic to `KAT_PANIC`.
///
/// # Safety
/// `err` is NULL or valid for a pointer write.
pub(crate) unsafe fn boundary(
    err: *mut *mut kat_error,
    f: impl FnOnce() -> Result<(), Error>,
) -> kat_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => KAT_OK,
        Ok(Err(Error::NotFound)) => KAT_NOT_FOUND,
        Ok(Err(e)) => {
            let code = status_of(&e);
            // SAFETY: forwarded caller guarantee on `err`.
            unsafe { set_error(err, code, e.to_string()) };
            code
        }
        Err(p) => {
            let msg = format!("internal panic: {}", panic_message(p.as_ref()));
            // SAFETY: forwarded caller guarantee on `err`.
            unsafe { set_error(err, KAT_PANIC, msg) };
            KAT_PANIC
        }
    }
}

/// Runs the body of an export with no result (a release function); a panic is swallowed.
pub(crate) fn boundary_void(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// Runs the body of an export that returns a value; a panic yields `fallback`.
pub(crate) fn boundary_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Borrows `len` bytes at `ptr`; NULL is allowed only with a zero length.
///
/// # Safety
/// A non-NULL `ptr` points at `len` readable bytes that outlive the returned slice.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::InvalidArgument(format!(
            "{what} is NULL with length {len}"
        )));
    }
    if len > isize::MAX as usize {
        return Err(Error::InvalidArgument(format!(
            "{what} length {len} is impossible"
        )));
    }
    // SAFETY: non-NULL and, per the caller, valid for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows a handle; NULL is `KAT_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `ptr` was returned by this library and has not been freed.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: per the caller, a non-NULL pointer is a live handle.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::InvalidArgument(format!("{what} is NULL")))
}

/// Borrows a handle mutably; NULL is `KAT_INVALID_ARGUMENT`.
///
/// # Safety
/// A non-NULL `ptr` was returned by this library, has not been freed and is not in use
/// by another thread.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: per the caller, a non-NULL pointer is a live handle used by this thread only.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::InvalidArgument(format!("{what} is NULL")))
}

/// Checks an out-parameter is not NULL.
pub(crate) fn out_param<T>(ptr: *mut T, what: &str) -> Result<(), Error> {
    if ptr.is_null() {
        Err(Error::InvalidArgument(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// Moves `value` to the heap and writes the pointer to `out`.
///
/// # Safety
/// `out` is non-NULL and valid for a pointer write.
pub(crate) unsafe fn give<T>(out: *mut *mut T, value: T) {
    // SAFETY: per the caller.
    unsafe { out.write(Box::into_raw(Box::new(value))) }
}

/// Library version as static text "MAJOR.MINOR.PATCH".
#[no_mangle]
pub extern "C" fn kat_version() -> *const c_char {
    boundary_value(c"?".as_ptr(), || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// Library version as `MAJOR * 1000000 + MINOR * 1000 + PATCH`; equals
/// `KAT_VERSION_NUMBER` when header and library agree.
#[no_mangle]
pub extern "C" fn kat_version_number() -> u32 {
    boundary_value(0, || KAT_VERSION_NUMBER)
}

/// Static text describing `code`; never NULL (unknown codes give "unknown status").
#[no_mangle]
pub extern "C" fn kat_status_str(code: kat_status) -> *const c_char {
    boundary_value(c"unknown status".as_ptr(), || {
        Status::from_code(code).map_or(c"unknown status".as_ptr(), |s| s.as_c_str().as_ptr())
    })
}

/// The status code carried by `err`; `KAT_INVALID_ARGUMENT` for NULL.
///
/// # Safety
/// `err` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_error_code(err: *const kat_error) -> kat_status {
    boundary_value(KAT_INTERNAL, || {
        // SAFETY: per the contract above.
        unsafe { err.as_ref() }.map_or(KAT_INVALID_ARGUMENT, |e| e.code)
    })
}

/// The message of `err`, valid until `kat_error_free(err)`; "" for NULL.
///
/// # Safety
/// `err` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_error_message(err: *const kat_error) -> *const c_char {
    boundary_value(c"".as_ptr(), || {
        // SAFETY: per the contract above.
        unsafe { err.as_ref() }.map_or(c"".as_ptr(), |e| e.message.as_ptr())
    })
}

/// Releases an error object. NULL is allowed.
///
/// # Safety
/// `err` is NULL or an error from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_error_free(err: *mut kat_error) {
    boundary_void(|| {
        if !err.is_null() {
            // SAFETY: per the contract, `err` came from Box::into_raw in set_error.
            drop(unsafe { Box::from_raw(err) });
        }
    })
}

/// Frees the bytes of `buf` and zeroes it. NULL, and a zeroed buffer, are allowed.
///
/// # Safety
/// `buf` is NULL or points at a `kat_buf` filled by this library (or zeroed).
#[no_mangle]
pub unsafe extern "C" fn kat_buf_free(buf: *mut kat_buf) {
    boundary_void(|| {
        // SAFETY: per the contract, a non-NULL `buf` is a valid kat_buf.
        let Some(b) = (unsafe { buf.as_mut() }) else {
            return;
        };
        if !b.data.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(b.data, b.len);
            // SAFETY: `data`/`len` came from Box::into_raw of a boxed slice in from_vec.
            drop(unsafe { Box::from_raw(slice) });
        }
        b.data = std::ptr::null_mut();
        b.len = 0;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_constants_match_the_package_version() {
        assert_eq!(
            KAT_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            KAT_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            KAT_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }

    #[test]
    fn status_constants_match_the_rust_codes() {
        let consts = [
            KAT_OK,
            KAT_NOT_FOUND,
            KAT_INVALID_ARGUMENT,
            KAT_IO,
            KAT_CORRUPTION,
            KAT_CONFLICT,
            KAT_CLOSED,
            KAT_LOCKED,
            KAT_NO_SPACE,
            KAT_TOO_LARGE,
            KAT_AUTH_FAILED,
            KAT_READ_ONLY,
            KAT_PANIC,
            KAT_INTERNAL,
            KAT_BUFFER_TOO_SMALL,
        ];
        for (c, s) in consts.iter().zip(Status::ALL) {
            assert_eq!(*c, s as i32);
        }
        assert_eq!(consts.len(), Status::ALL.len());
    }

    #[test]
    fn a_panic_becomes_kat_panic_with_a_message() {
        let mut err: *mut kat_error = std::ptr::null_mut();
        // SAFETY: `err` is a valid local.
        let code = unsafe { boundary(&mut err, || panic!("boom")) };
        assert_eq!(code, KAT_PANIC);
        assert!(!err.is_null());
        // SAFETY: `err` was just produced by the boundary.
        unsafe {
            assert_eq!(kat_error_code(err), KAT_PANIC);
            let msg = std::ffi::CStr::from_ptr(kat_error_message(err));
            assert!(msg.to_str().unwrap().contains("boom"));
            kat_error_free(err);
        }
        assert_eq!(boundary_value(7, || panic!("x")), 7);
    }
}
