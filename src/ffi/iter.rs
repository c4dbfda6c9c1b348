//! `kat_iter`: ordered iteration over a snapshot.

use super::{
    boundary, boundary_void, bytes, give, handle, handle_mut, kat_buf, kat_db, kat_error,
    kat_status, kat_txn, out_param,
};
use crate::{Error, Iter, IterOptions};

/// `kat_iter_opts.flags`: iterate from the largest key down.
pub const KAT_ITER_REVERSE: u32 = 1;

/// What an iterator covers. Each bound is set when its pointer is non-NULL; the
/// iterator sees keys that start with `prefix`, are `>= start` and `< end`. A zeroed
/// struct (or a NULL `opts`) means every key, ascending.
#[repr(C)]
pub struct kat_iter_opts {
    pub prefix: *const u8,
    pub prefix_len: usize,
    pub start: *const u8,
    pub start_len: usize,
    pub end: *const u8,
    pub end_len: usize,
    /// `KAT_ITER_REVERSE` or 0.
    pub flags: u32,
}

/// An ordered cursor over one snapshot; it sees the same data however long it lives.
/// Key and value views it returns stay valid until the next call on the iterator. May
/// move between threads; must not be used by two threads at once.
pub struct kat_iter {
    pub(crate) it: Iter,
}

/// # Safety
/// `opts` is NULL or points at a valid `kat_iter_opts` whose set pointers are readable
/// for their lengths.
pub(crate) unsafe fn iter_options(opts: *const kat_iter_opts) -> Result<IterOptions, Error> {
    // SAFETY: per the caller.
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(IterOptions::default());
    };
    if o.flags & !KAT_ITER_REVERSE != 0 {
        return Err(Error::InvalidArgument(format!(
            "unknown iterator flags {:#x}",
            o.flags
        )));
    }
    let bound = |p: *const u8, len: usize, what: &str| -> Result<Option<Vec<u8>>, Error> {
        if p.is_null() {
            if len != 0 {
                return Err(Error::InvalidArgument(format!(
                    "{what} is NULL with a length"
                )));
            }
            return Ok(None);
        }
        // SAFETY: per the caller, a non-NULL bound is readable for its length.
        Ok(Some(unsafe { bytes(p, len, what) }?.to_vec()))
    };
    Ok(IterOptions {
        prefix: bound(o.prefix, o.prefix_len, "prefix")?,
        start: bound(o.start, o.start_len, "start")?,
        end: bound(o.end, o.end_len, "end")?,
        reverse: o.flags & KAT_ITER_REVERSE != 0,
    })
}

/// Creates an iterator over a snapshot of `db` taken now. Release with `kat_iter_free`.
///
/// # Safety
/// `db` NULL or live; `opts` NULL or valid; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_iter_new(
    db: *mut kat_db,
    opts: *const kat_iter_opts,
    out: *mut *mut kat_iter,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            let it = db.iter(&iter_options(opts)?)?;
            give(out, kat_iter { it });
            Ok(())
        })
    }
}

/// Creates an iterator over `txn`'s view: its snapshot plus the writes it made before
/// this call. It stays usable after the transaction ends. Release with `kat_iter_free`.
///
/// # Safety
/// `txn` NULL or live; `opts` NULL or valid; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_iter_new(
    txn: *mut kat_txn,
    opts: *const kat_iter_opts,
    out: *mut *mut kat_iter,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            out_param(out, "out")?;
            let it = t.txn.iter(&iter_options(opts)?)?;
            give(out, kat_iter { it });
            Ok(())
        })
    }
}

/// Writes the views of the current entry.
///
/// # Safety
/// Each pointer is NULL (value views only) or writable.
unsafe fn write_views(
    entry: Option<(&[u8], &[u8])>,
    key: *mut *const u8,
    key_len: *mut usize,
    val: *mut *const u8,
    val_len: *mut usize,
) -> Result<(), Error> {
    let (k, v) = entry.ok_or(Error::NotFound)?;
    // SAFETY: checked non-NULL by the callers (key views) or here (value views).
    unsafe {
        key.write(k.as_ptr());
        key_len.write(k.len());
        if !val.is_null() {
            val.write(v.as_ptr());
        }
        if !val_len.is_null() {
            val_len.write(v.len());
        }
    }
    Ok(())
}

fn check_views(
    key: *mut *const u8,
    key_len: *mut usize,
    val: *mut *const u8,
    val_len: *mut usize,
) -> Result<(), Error> {
    out_param(key, "key")?;
    out_param(key_len, "key_len")?;
    if val.is_null() != val_len.is_null() {
        return Err(Error::InvalidArgument(
            "val and val_len must both be set or both NULL".into(),
        ));
    }
    Ok(())
}

/// Moves to the next entry in iteration order and returns views of its key and value
/// (valid until the next call on `it`). `KAT_NOT_FOUND` at the end. `val`/`val_len`
/// may both be NULL to skip the value.
///
/// # Safety
/// `it` NULL or live; the view pointers NULL or writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_iter_next(
    it: *mut kat_iter,
    key: *mut *const u8,
    key_len: *mut usize,
    val: *mut *const u8,
    val_len: *mut usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let h = handle_mut(it, "iterator")?;
            check_views(key, key_len, val, val_len)?;
            h.it.check_open()?;
            let e = h.it.next_entry()?;
            write_views(e, key, key_len, val, val_len)
        })
    }
}

/// Moves to the previous entry in iteration order; `KAT_NOT_FOUND` before the first.
/// Views as for `kat_iter_next`.
///
/// # Safety
/// `it` NULL or live; the view pointers NULL or writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_iter_prev(
    it: *mut kat_iter,
    key: *mut *const u8,
    key_len: *mut usize,
    val: *mut *const u8,
    val_len: *mut usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let h = handle_mut(it, "iterator")?;
            check_views(key, key_len, val, val_len)?;
            h.it.check_open()?;
            let e = h.it.prev_entry()?;
            write_views(e, key, key_len, val, val_len)
        })
    }
}

/// Positions the iterator so the next `kat_iter_next` returns the first entry at or
/// after `key` in iteration order (at or below `key` for a reverse iterator).
///
/// # Safety
/// `it` NULL or live; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_iter_seek(
    it: *mut kat_iter,
    key: *const u8,
    key_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let h = handle_mut(it, "iterator")?;
            h.it.check_open()?;
            h.it.seek(bytes(key, key_len, "key")?);
            Ok(())
        })
    }
}

/// Moves forward over up to `max_items` entries (at least 1) and copies them into one
/// owned buffer `*out` (release with `kat_buf_free`), stopping early once `max_bytes` of
/// output is reached (at least one entry is always returned). `*count` receives the
/// number of entries. Each entry is encoded as key length (u32, little-endian), value
/// length (u32, little-endian), key bytes, value bytes. `KAT_NOT_FOUND` (and nothing
/// written) when no entry is left. Lets bindings cross the boundary once per batch.
/// Afterwards the iterator is on the last entry returned, as if `kat_iter_next` had
/// returned it, unless the batch stopped because the entries ran out: then it is past
/// the end, and `kat_iter_prev` returns the last entry.
///
/// # Safety
/// `it` NULL or live; `out`, `count`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_iter_next_batch(
    it: *mut kat_iter,
    max_items: usize,
    max_bytes: usize,
    out: *mut kat_buf,
    count: *mut usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let h = handle_mut(it, "iterator")?;
            out_param(out, "out")?;
            out_param(count, "count")?;
            if max_items == 0 {
                return Err(Error::InvalidArgument(
                    "max_items must be at least 1".into(),
                ));
            }
            h.it.check_open()?;
            let mut buf = Vec::new();
            let mut n = 0usize;
            while n < max_items && (n == 0 || buf.len() < max_bytes) {
                let Some((k, v)) = h.it.next_entry()? else {
                    break;
                };
                buf.extend_from_slice(&(k.len() as u32).to_le_bytes());
                buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
                buf.extend_from_slice(k);
                buf.extend_from_slice(v);
                n += 1;
            }
            if n == 0 {
                return Err(Error::NotFound);
            }
            out.write(kat_buf::from_vec(buf));
            count.write(n);
            Ok(())
        })
    }
}

/// Releases the iterator and its snapshot. NULL is allowed.
///
/// # Safety
/// `it` NULL or a handle from `kat_iter_new`/`kat_txn_iter_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_iter_free(it: *mut kat_iter) {
    boundary_void(|| {
        if !it.is_null() {
            // SAFETY: per the contract, `it` came from Box::into_raw in an iter_new.
            drop(unsafe { Box::from_raw(it) });
        }
    })
}
