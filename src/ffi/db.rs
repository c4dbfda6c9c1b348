//! `kat_db`: opening, closing, reading and writing a database.

use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{
    boundary, boundary_void, bytes, give, handle, kat_buf, kat_error, kat_options, kat_status,
    out_param,
};
use crate::{Db, Error, Options};

/// An open database. Safe to use from many threads at once.
pub struct kat_db {
    pub(crate) db: Db,
}

/// Counters describing a database (see `kat_db_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct kat_stats {
    /// Keys whose newest version is a value.
    pub live_keys: u64,
    /// Bytes of records holding newest values.
    pub live_bytes: u64,
    /// Bytes in segments not holding newest values (reclaimable by merge).
    pub dead_bytes: u64,
    /// Bytes in all segment files.
    pub total_bytes: u64,
    /// Number of segment files.
    pub segments: u64,
    /// Estimated heap bytes of the in-memory index.
    pub keydir_bytes: u64,
    /// Sequence number of the newest commit.
    pub last_seq: u64,
    /// Merges completed since open (`kat_db_merge` or automatic).
    pub merges: u64,
    /// Automatic merges that failed since open (a failed `kat_db_merge` reports its own
    /// error instead).
    pub merge_failures: u64,
    /// Reserved for future counters; zero.
    pub reserved: [u64; 7],
}

/// Borrows the database of a handle.
///
/// # Safety
/// `db` is NULL or a live handle.
unsafe fn db_ref<'a>(db: *const kat_db) -> Result<&'a Db, Error> {
    // SAFETY: per the caller.
    Ok(&unsafe { handle(db, "db") }?.db)
}

/// Opens (creating if missing, unless disabled in `opts`) the database in directory
/// `path`, recovering from any crash. `opts` may be NULL for the defaults. On success
/// `*out` receives the handle (release with `kat_db_free`); on failure it is untouched.
/// A second open of the same directory while it is open fails with `KAT_LOCKED`.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `opts` NULL or live options; `out` and
/// `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_open(
    path: *const c_char,
    opts: *const kat_options,
    out: *mut *mut kat_db,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: `err` is NULL or writable per the contract; pointers are checked before use.
    unsafe {
        boundary(err, || {
            out_param(out, "out")?;
            if path.is_null() {
                return Err(Error::InvalidArgument("path is NULL".into()));
            }
            // SAFETY: non-NULL and NUL-terminated per the contract.
            let path = Path::new(OsStr::from_bytes(CStr::from_ptr(path).to_bytes()));
            if path.as_os_str().is_empty() {
                return Err(Error::InvalidArgument("path is empty".into()));
            }
            // SAFETY: NULL or live options per the contract.
            let options = match opts.as_ref() {
                Some(o) => o.opts.clone(),
                None => Options::default(),
            };
            let db = Db::open(path, options)?;
            give(out, kat_db { db });
            Ok(())
        })
    }
}

/// Waits for calls in flight, syncs and releases the directory. The handle stays valid
/// (release it with `kat_db_free`); every later call on it or its children returns
/// `KAT_CLOSED`. Closing twice is `KAT_OK`.
///
/// # Safety
/// `db` is NULL or a live handle; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_close(db: *mut kat_db, err: *mut *mut kat_error) -> kat_status {
    // SAFETY: per the contract.
    unsafe { boundary(err, || db_ref(db)?.close()) }
}

/// Closes the database if needed and frees the handle. NULL is allowed. No call on the
/// handle may be in flight or follow.
///
/// # Safety
/// `db` is NULL or a handle from `kat_db_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_db_free(db: *mut kat_db) {
    boundary_void(|| {
        if !db.is_null() {
            // SAFETY: per the contract, `db` came from Box::into_raw in kat_db_open.
            let h = unsafe { Box::from_raw(db) };
            let _ = h.db.close();
        }
    })
}

/// Sets `key` to `val`, atomically and (with the default sync mode) durably on return.
/// Keys up to 64 KiB, values up to 4 GiB - 1; larger is `KAT_TOO_LARGE`, nothing written.
///
/// # Safety
/// `db` NULL or live; `key`/`val` NULL (with length 0) or readable for their lengths;
/// `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_put(
    db: *mut kat_db,
    key: *const u8,
    key_len: usize,
    val: *const u8,
    val_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = db_ref(db)?;
            db.put(bytes(key, key_len, "key")?, bytes(val, val_len, "value")?)
        })
    }
}

/// Like `kat_db_put`, with the key expiring `ttl_ms` (at least 1) milliseconds from
/// now: afterwards it is invisible to every read and its space is reclaimable.
///
/// # Safety
/// As for `kat_db_put`.
#[no_mangle]
pub unsafe extern "C" fn kat_db_put_ttl(
    db: *mut kat_db,
    key: *const u8,
    key_len: usize,
    val: *const u8,
    val_len: usize,
    ttl_ms: u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = db_ref(db)?;
            let ttl = super::ttl_from_ms(ttl_ms)?;
            db.put_with_ttl(
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
                ttl,
            )
        })
    }
}

/// Reads the value of `key` into `*out` (release with `kat_buf_free`). `KAT_NOT_FOUND`
/// if absent; an empty value is `KAT_OK` with `out->len == 0`. `*out` is written only on
/// `KAT_OK`.
///
/// # Safety
/// `db` NULL or live; `key` NULL (with length 0) or readable; `out` NULL or writable;
/// `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_get(
    db: *mut kat_db,
    key: *const u8,
    key_len: usize,
    out: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = db_ref(db)?;
            out_param(out, "out")?;
            let v = db
                .get(bytes(key, key_len, "key")?)?
                .ok_or(Error::NotFound)?;
            out.write(kat_buf::from_vec(v));
            Ok(())
        })
    }
}

/// Reads the value of `key` into the caller's buffer `buf` of `buf_len` bytes. On
/// `KAT_OK`, `*val_len` is the value's length and the value is in `buf`. If the buffer is
/// too small, returns `KAT_BUFFER_TOO_SMALL` with the needed length in `*val_len` and
/// `buf` untouched. `KAT_NOT_FOUND` if absent. `buf` may be NULL when `buf_len` is 0.
///
/// # Safety
/// `db` NULL or live; `key` readable for `key_len`; `buf` NULL or writable for
/// `buf_len` bytes; `val_len` NULL or writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_get_into(
    db: *mut kat_db,
    key: *const u8,
    key_len: usize,
    buf: *mut u8,
    buf_len: usize,
    val_len: *mut usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = db_ref(db)?;
            out_param(val_len, "val_len")?;
            if buf.is_null() && buf_len > 0 {
                return Err(Error::InvalidArgument("buf is NULL with a length".into()));
            }
            let v = db
                .get(bytes(key, key_len, "key")?)?
                .ok_or(Error::NotFound)?;
            val_len.write(v.len());
            if v.len() > buf_len {
                return Err(Error::BufferTooSmall(v.len()));
            }
            if !v.is_empty() {
                std::ptr::copy_nonoverlapping(v.as_ptr(), buf, v.len());
            }
            Ok(())
        })
    }
}

/// Removes `key`. Removing an absent key is `KAT_OK`.
///
/// # Safety
/// `db` NULL or live; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_delete(
    db: *mut kat_db,
    key: *const u8,
    key_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe { boundary(err, || db_ref(db)?.delete(bytes(key, key_len, "key")?)) }
}

/// Sets `*found` to whether `key` is present (no value is read).
///
/// # Safety
/// `db` NULL or live; `key` readable for `key_len`; `found` NULL or writable; `err`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_contains(
    db: *mut kat_db,
    key: *const u8,
    key_len: usize,
    found: *mut bool,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = db_ref(db)?;
            out_param(found, "found")?;
            let f = db.contains(bytes(key, key_len, "key")?)?;
            found.write(f);
            Ok(())
        })
    }
}

/// Sets `*expires_at_ms` to when `key` expires, in milliseconds since the Unix epoch, or
/// to 0 when it never does. `KAT_NOT_FOUND` (with `*expires_at_ms` untouched) when the
/// key has no live value.
///
/// # Safety
/// `db` NULL or live; `key` readable for `key_len`; `expires_at_ms` NULL or writable;
/// `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_expires_at(
    db: *mut kat_db,
    key: *const u8,
    key_len: usize,
    expires_at_ms: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = db_ref(db)?;
            out_param(expires_at_ms, "expires_at_ms")?;
            let at = db
                .expiry_in(crate::DEFAULT_KEYSPACE, bytes(key, key_len, "key")?)?
                .ok_or(Error::NotFound)?;
            expires_at_ms.write(at);
            Ok(())
        })
    }
}

/// Forces everything written so far onto stable storage (useful with
/// `KAT_SYNC_INTERVAL` and `KAT_SYNC_NEVER`).
///
/// # Safety
/// `db` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_sync(db: *mut kat_db, err: *mut *mut kat_error) -> kat_status {
    // SAFETY: per the contract.
    unsafe { boundary(err, || db_ref(db)?.sync()) }
}

/// Fills `*out` with the database's counters.
///
/// # Safety
/// `db` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_stats(
    db: *mut kat_db,
    out: *mut kat_stats,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = db_ref(db)?;
            out_param(out, "out")?;
            let s = db.stats()?;
            out.write(kat_stats {
                live_keys: s.live_keys,
                live_bytes: s.live_bytes,
                dead_bytes: s.dead_bytes,
                total_bytes: s.total_bytes,
                segments: s.segments,
                keydir_bytes: s.keydir_bytes,
                last_seq: s.last_seq,
                merges: s.merges,
                merge_failures: s.merge_failures,
                reserved: [0; 7],
            });
            Ok(())
        })
    }
}
