//! `kat_txn`: snapshot transactions.

use std::time::Duration;

use super::{
    boundary, boundary_void, bytes, give, handle, handle_mut, kat_buf, kat_db, kat_error,
    kat_status, out_param,
};
use crate::{Error, Txn, TxnOptions};

/// `kat_txn_begin` flag: the transaction only reads; writes return `KAT_READ_ONLY`.
pub const KAT_TXN_READ_ONLY: u32 = 1;
/// `kat_txn_begin` flag: serializable; commit also fails with `KAT_CONFLICT` when a key
/// or range the transaction read was written by another commit after its snapshot.
pub const KAT_TXN_SERIALIZABLE: u32 = 2;

/// A transaction. Reads see the snapshot taken at begin plus the transaction's own
/// writes. May move between threads; must not be used by two threads at once.
pub struct kat_txn {
    pub(crate) txn: Txn,
}

/// Starts a transaction on `db` with `flags` (`KAT_TXN_READ_ONLY`,
/// `KAT_TXN_SERIALIZABLE`, or 0 for read-write snapshot isolation). Release the handle
/// with `kat_txn_free`, after `kat_txn_commit` or `kat_txn_abort` (free aborts an
/// unfinished transaction).
///
/// # Safety
/// `db` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_begin(
    db: *mut kat_db,
    flags: u32,
    out: *mut *mut kat_txn,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract; pointers are checked before use.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            if flags & !(KAT_TXN_READ_ONLY | KAT_TXN_SERIALIZABLE) != 0 {
                return Err(Error::InvalidArgument(format!(
                    "unknown txn flags {flags:#x}"
                )));
            }
            let txn = db.begin_with(TxnOptions {
                read_only: flags & KAT_TXN_READ_ONLY != 0,
                serializable: flags & KAT_TXN_SERIALIZABLE != 0,
            })?;
            give(out, kat_txn { txn });
            Ok(())
        })
    }
}

/// Reads `key` in the transaction's view into `*out` (release with `kat_buf_free`);
/// `KAT_NOT_FOUND` if absent.
///
/// # Safety
/// `txn` NULL or live; `key` readable for `key_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_get(
    txn: *mut kat_txn,
    key: *const u8,
    key_len: usize,
    out: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            out_param(out, "out")?;
            let v = t
                .txn
                .get(bytes(key, key_len, "key")?)?
                .ok_or(Error::NotFound)?;
            out.write(kat_buf::from_vec(v));
            Ok(())
        })
    }
}

/// Sets `*found` to whether `key` is present in the transaction's view.
///
/// # Safety
/// `txn` NULL or live; `key` readable for `key_len`; `found`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_contains(
    txn: *mut kat_txn,
    key: *const u8,
    key_len: usize,
    found: *mut bool,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            out_param(found, "found")?;
            let f = t.txn.contains(bytes(key, key_len, "key")?)?;
            found.write(f);
            Ok(())
        })
    }
}

/// Sets `key` to `val` when the transaction commits (the bytes are copied now).
///
/// # Safety
/// `txn` NULL or live; `key`/`val` readable for their lengths; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_put(
    txn: *mut kat_txn,
    key: *const u8,
    key_len: usize,
    val: *const u8,
    val_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            t.txn
                .put(bytes(key, key_len, "key")?, bytes(val, val_len, "value")?)
        })
    }
}

/// Like `kat_txn_put`, with the key expiring `ttl_ms` (at least 1) milliseconds after
/// this call.
///
/// # Safety
/// `txn` NULL or live; `key`/`val` readable for their lengths; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_put_ttl(
    txn: *mut kat_txn,
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
            let t = handle_mut(txn, "txn")?;
            let ttl = ttl_from_ms(ttl_ms)?;
            t.txn.put_with_ttl(
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
                ttl,
            )
        })
    }
}

/// Removes `key` when the transaction commits.
///
/// # Safety
/// `txn` NULL or live; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_delete(
    txn: *mut kat_txn,
    key: *const u8,
    key_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            t.txn.delete(bytes(key, key_len, "key")?)
        })
    }
}

/// Applies every write atomically (durably under `KAT_SYNC_ALWAYS`) and ends the
/// transaction. `KAT_CONFLICT`: another commit after this transaction's snapshot wrote
/// a key it writes (or, serializable, one it read); nothing was written. Any other
/// failure also writes nothing. The transaction has ended either way.
///
/// # Safety
/// `txn` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_commit(txn: *mut kat_txn, err: *mut *mut kat_error) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            handle_mut(txn, "txn")?.txn.commit_inner().map(|_| ())
        })
    }
}

/// Discards the transaction's writes and ends it. Aborting an ended transaction is
/// `KAT_OK`.
///
/// # Safety
/// `txn` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_abort(txn: *mut kat_txn, err: *mut *mut kat_error) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            handle_mut(txn, "txn")?.txn.abort_inner();
            Ok(())
        })
    }
}

/// Aborts the transaction if it is still open and frees the handle. NULL is allowed.
///
/// # Safety
/// `txn` NULL or a handle from `kat_txn_begin` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_free(txn: *mut kat_txn) {
    boundary_void(|| {
        if !txn.is_null() {
            // SAFETY: per the contract, `txn` came from Box::into_raw in kat_txn_begin.
            drop(unsafe { Box::from_raw(txn) });
        }
    })
}

/// A TTL in milliseconds as a duration; 0 is not a TTL.
pub(crate) fn ttl_from_ms(ms: u64) -> Result<Duration, Error> {
    if ms == 0 {
        return Err(Error::InvalidArgument("ttl_ms must be at least 1".into()));
    }
    Ok(Duration::from_millis(ms))
}
