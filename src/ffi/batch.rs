//! `kat_batch`: puts and deletes committed atomically by `kat_db_write`.

use super::{
    boundary, boundary_void, bytes, give, handle, handle_mut, kat_db, kat_error, kat_status,
    out_param,
};
use crate::WriteBatch;

/// An ordered list of operations applied all-or-nothing by `kat_db_write`. Not tied to a
/// database; reusable after `kat_batch_clear`. Must not be used by two threads at once.
pub struct kat_batch {
    pub(crate) batch: WriteBatch,
}

/// Creates an empty batch; release with `kat_batch_free`.
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_new(out: *mut *mut kat_batch) -> kat_status {
    // SAFETY: error reporting disabled; `out` checked before the write.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            out_param(out, "out")?;
            give(
                out,
                kat_batch {
                    batch: WriteBatch::new(),
                },
            );
            Ok(())
        })
    }
}

/// Adds a put (the bytes are copied). Over the size limits: `KAT_TOO_LARGE`, nothing
/// added.
///
/// # Safety
/// `b` NULL or a live batch; `key`/`val` readable for their lengths; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_put(
    b: *mut kat_batch,
    key: *const u8,
    key_len: usize,
    val: *const u8,
    val_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = handle_mut(b, "batch")?;
            b.batch
                .put(bytes(key, key_len, "key")?, bytes(val, val_len, "value")?)?;
            Ok(())
        })
    }
}

/// Adds a put whose key expires `ttl_ms` (at least 1) milliseconds after the batch is
/// written.
///
/// # Safety
/// As for `kat_batch_put`.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_put_ttl(
    b: *mut kat_batch,
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
            let b = handle_mut(b, "batch")?;
            let ttl = super::ttl_from_ms(ttl_ms)?;
            b.batch.put_with_ttl(
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
                ttl,
            )?;
            Ok(())
        })
    }
}

/// Adds a delete (the key is copied).
///
/// # Safety
/// `b` NULL or a live batch; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_delete(
    b: *mut kat_batch,
    key: *const u8,
    key_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = handle_mut(b, "batch")?;
            b.batch.delete(bytes(key, key_len, "key")?)?;
            Ok(())
        })
    }
}

/// Sets `*count` to the number of operations in the batch.
///
/// # Safety
/// `b` NULL or a live batch; `count` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_count(b: *const kat_batch, count: *mut usize) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let b = handle(b, "batch")?;
            out_param(count, "count")?;
            count.write(b.batch.len());
            Ok(())
        })
    }
}

/// Removes every operation from the batch.
///
/// # Safety
/// `b` NULL or a live batch.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_clear(b: *mut kat_batch) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            handle_mut(b, "batch")?.batch.clear();
            Ok(())
        })
    }
}

/// Releases a batch. NULL is allowed.
///
/// # Safety
/// `b` NULL or a batch from `kat_batch_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_free(b: *mut kat_batch) {
    boundary_void(|| {
        if !b.is_null() {
            // SAFETY: per the contract, `b` came from Box::into_raw in kat_batch_new.
            drop(unsafe { Box::from_raw(b) });
        }
    })
}

/// Commits every operation of `batch` as one atomic unit: after a crash it is wholly
/// present or wholly absent. An empty batch is `KAT_OK` and writes nothing. The batch is
/// left as it was.
///
/// # Safety
/// `db` NULL or live; `batch` NULL or a live batch; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_db_write(
    db: *mut kat_db,
    batch: *const kat_batch,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            let b = handle(batch, "batch")?;
            db.write(&b.batch)
        })
    }
}
