//! Small helpers over the raw bindings. They only shorten the tests: every call still
//! goes through `katamari_abi_check::sys`, i.e. through the generated bindings.
#![allow(dead_code)]

use std::ffi::{c_char, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use katamari_abi_check::sys::*;

/// Static or borrowed C text as a Rust string; fails on NULL or invalid UTF-8.
pub fn text(p: *const c_char) -> String {
    assert!(!p.is_null(), "the library returned a NULL string");
    // SAFETY: non-NULL and, per the header, NUL-terminated and alive while we read it.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("library text is UTF-8")
        .to_owned()
}

/// `kat_status_str(code)` as a string.
pub fn status_str(code: kat_status) -> String {
    // SAFETY: takes any code.
    text(unsafe { kat_status_str(code) })
}

/// Reads code and message of an error object, then frees it.
pub fn take_error(err: *mut kat_error) -> (kat_status, String) {
    assert!(!err.is_null(), "expected an error object");
    // SAFETY: `err` came from the library and is freed exactly once, here.
    unsafe {
        let code = kat_error_code(err);
        let msg = text(kat_error_message(err));
        kat_error_free(err);
        (code, msg)
    }
}

/// Asserts that a call failed with `want` and left a matching error object.
pub fn expect_failure(got: kat_status, err: *mut kat_error, want: kat_status, what: &str) {
    assert_eq!(
        got,
        want,
        "{what}: got {got} ({}), want {want} ({})",
        status_str(got),
        status_str(want)
    );
    let (code, msg) = take_error(err);
    assert_eq!(
        code, want,
        "{what}: error object carries another code: {msg}"
    );
    assert!(!msg.is_empty(), "{what}: error message is empty");
}

/// Panics with the status and message unless `st` is KAT_OK.
pub fn check(st: kat_status, err: *mut kat_error, what: &str) {
    if st != KAT_OK {
        let msg = if err.is_null() {
            String::new()
        } else {
            take_error(err).1
        };
        panic!("{what}: status {st} ({}): {msg}", status_str(st));
    }
    assert!(
        err.is_null(),
        "{what}: KAT_OK must not write an error object"
    );
}

pub fn c_path(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path has no NUL")
}

/// Opens `dir` with `opts` (NULL for defaults), asserting success.
pub fn open_with(dir: &Path, opts: *const kat_options) -> *mut kat_db {
    let path = c_path(dir);
    let mut db: *mut kat_db = ptr::null_mut();
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: valid path, options and out-parameters.
    let st = unsafe { kat_db_open(path.as_ptr(), opts, &mut db, &mut err) };
    check(st, err, "kat_db_open");
    assert!(
        !db.is_null(),
        "kat_db_open returned KAT_OK without a handle"
    );
    db
}

pub fn open(dir: &Path) -> *mut kat_db {
    open_with(dir, ptr::null())
}

/// Options with sync never (fast tests), asserting success.
pub fn fast_options() -> *mut kat_options {
    let mut o: *mut kat_options = ptr::null_mut();
    // SAFETY: valid out-parameter, then a live handle.
    unsafe {
        assert_eq!(kat_options_new(&mut o), KAT_OK);
        assert!(!o.is_null());
        assert_eq!(kat_options_set_sync(o, KAT_SYNC_NEVER, 0), KAT_OK);
    }
    o
}

pub fn put(db: *mut kat_db, key: &[u8], val: &[u8]) {
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: `db` live; slices valid for their lengths.
    let st = unsafe {
        kat_db_put(
            db,
            key.as_ptr(),
            key.len(),
            val.as_ptr(),
            val.len(),
            &mut err,
        )
    };
    check(st, err, "kat_db_put");
}

pub fn delete(db: *mut kat_db, key: &[u8]) {
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: `db` live; slice valid for its length.
    let st = unsafe { kat_db_delete(db, key.as_ptr(), key.len(), &mut err) };
    check(st, err, "kat_db_delete");
}

/// `kat_db_get`: `Ok(value)`, or `Err(status)` for any status but KAT_OK (and then no
/// error object for KAT_NOT_FOUND).
pub fn get(db: *mut kat_db, key: &[u8]) -> Result<Vec<u8>, kat_status> {
    let mut buf = kat_buf {
        data: ptr::null_mut(),
        len: 0,
    };
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: `db` live; `key` valid; `buf`/`err` writable.
    let st = unsafe { kat_db_get(db, key.as_ptr(), key.len(), &mut buf, &mut err) };
    if st != KAT_OK {
        if st == KAT_NOT_FOUND {
            assert!(err.is_null(), "KAT_NOT_FOUND must not make an error object");
        } else if !err.is_null() {
            take_error(err);
        }
        return Err(st);
    }
    assert!(err.is_null());
    let v = if buf.len == 0 {
        Vec::new()
    } else {
        assert!(!buf.data.is_null(), "non-empty kat_buf with NULL data");
        // SAFETY: the library filled `buf` with `len` readable bytes.
        unsafe { std::slice::from_raw_parts(buf.data, buf.len) }.to_vec()
    };
    // SAFETY: `buf` was filled by the library.
    unsafe { kat_buf_free(&mut buf) };
    assert!(
        buf.data.is_null() && buf.len == 0,
        "kat_buf_free zeroes the buffer"
    );
    Ok(v)
}

pub fn contains(db: *mut kat_db, key: &[u8]) -> bool {
    let mut found = false;
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: `db` live; `key` valid; `found`/`err` writable.
    let st = unsafe { kat_db_contains(db, key.as_ptr(), key.len(), &mut found, &mut err) };
    check(st, err, "kat_db_contains");
    found
}

pub fn stats(db: *mut kat_db) -> kat_stats {
    // SAFETY: kat_stats is plain integers; all-zero is valid.
    let mut s: kat_stats = unsafe { std::mem::zeroed() };
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: `db` live; `s`/`err` writable.
    let st = unsafe { kat_db_stats(db, &mut s, &mut err) };
    check(st, err, "kat_db_stats");
    s
}

pub fn close(db: *mut kat_db) {
    let mut err: *mut kat_error = ptr::null_mut();
    // SAFETY: `db` live.
    let st = unsafe { kat_db_close(db, &mut err) };
    check(st, err, "kat_db_close");
}

/// Closes and frees.
pub fn shut(db: *mut kat_db) {
    close(db);
    // SAFETY: `db` came from kat_db_open and is freed once.
    unsafe { kat_db_free(db) };
}
