//! `kat_keyspace`: named keyspaces and the operations scoped to one.

use super::{
    boundary, boundary_void, bytes, give, handle, handle_mut, iter_options, kat_batch, kat_buf,
    kat_db, kat_error, kat_iter, kat_iter_opts, kat_status, kat_txn, out_param, ttl_from_ms,
};
use crate::{Error, Keyspace};

/// A named keyspace of a database: keys in different keyspaces never collide. Safe to
/// use from many threads at once. After `kat_keyspace_drop` of its name, its calls
/// return `KAT_INVALID_ARGUMENT`; after `kat_db_close`, `KAT_CLOSED`.
pub struct kat_keyspace {
    ks: Keyspace,
}

/// # Safety
/// `ks` is NULL or a live handle.
unsafe fn ks_ref<'a>(ks: *const kat_keyspace) -> Result<&'a Keyspace, Error> {
    // SAFETY: per the caller.
    Ok(&unsafe { handle(ks, "keyspace") }?.ks)
}

/// Opens keyspace `name` (1 to 255 bytes; a leading NUL byte is reserved), creating it
/// if missing. Release the handle with `kat_keyspace_free`.
///
/// # Safety
/// `db` NULL or live; `name` readable for `name_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_open(
    db: *mut kat_db,
    name: *const u8,
    name_len: usize,
    out: *mut *mut kat_keyspace,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            let ks = db.keyspace(bytes(name, name_len, "name")?)?;
            give(out, kat_keyspace { ks });
            Ok(())
        })
    }
}

/// Drops keyspace `name` and every key in it. `KAT_NOT_FOUND` if it does not exist.
///
/// # Safety
/// `db` NULL or live; `name` readable for `name_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_drop(
    db: *mut kat_db,
    name: *const u8,
    name_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            db.drop_keyspace(bytes(name, name_len, "name")?)
        })
    }
}

/// Lists the keyspace names, sorted, into `*out` (release with `kat_buf_free`) as
/// repeated (u32 little-endian length, name bytes); `*count` receives how many.
///
/// # Safety
/// `db` NULL or live; `out`, `count`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_list(
    db: *mut kat_db,
    out: *mut kat_buf,
    count: *mut usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            out_param(count, "count")?;
            let names = db.keyspaces()?;
            let mut buf = Vec::new();
            for n in &names {
                buf.extend_from_slice(&(n.len() as u32).to_le_bytes());
                buf.extend_from_slice(n);
            }
            out.write(kat_buf::from_vec(buf));
            count.write(names.len());
            Ok(())
        })
    }
}

/// Releases a keyspace handle (the keyspace itself stays). NULL is allowed.
///
/// # Safety
/// `ks` NULL or a handle from `kat_keyspace_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_free(ks: *mut kat_keyspace) {
    boundary_void(|| {
        if !ks.is_null() {
            // SAFETY: per the contract, `ks` came from Box::into_raw in kat_keyspace_open.
            drop(unsafe { Box::from_raw(ks) });
        }
    })
}

/// `kat_db_put` in keyspace `ks`.
///
/// # Safety
/// `ks` NULL or live; `key`/`val` readable for their lengths; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_put(
    ks: *mut kat_keyspace,
    key: *const u8,
    key_len: usize,
    val: *const u8,
    val_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            ks_ref(ks)?.put(bytes(key, key_len, "key")?, bytes(val, val_len, "value")?)
        })
    }
}

/// `kat_db_put_ttl` in keyspace `ks`.
///
/// # Safety
/// As for `kat_keyspace_put`.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_put_ttl(
    ks: *mut kat_keyspace,
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
            let ks = ks_ref(ks)?;
            let ttl = ttl_from_ms(ttl_ms)?;
            ks.put_with_ttl(
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
                ttl,
            )
        })
    }
}

/// `kat_db_get` in keyspace `ks`.
///
/// # Safety
/// `ks` NULL or live; `key` readable for `key_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_get(
    ks: *mut kat_keyspace,
    key: *const u8,
    key_len: usize,
    out: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let ks = ks_ref(ks)?;
            out_param(out, "out")?;
            let v = ks
                .get(bytes(key, key_len, "key")?)?
                .ok_or(Error::NotFound)?;
            out.write(kat_buf::from_vec(v));
            Ok(())
        })
    }
}

/// `kat_db_delete` in keyspace `ks`.
///
/// # Safety
/// `ks` NULL or live; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_delete(
    ks: *mut kat_keyspace,
    key: *const u8,
    key_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe { boundary(err, || ks_ref(ks)?.delete(bytes(key, key_len, "key")?)) }
}

/// `kat_db_contains` in keyspace `ks`.
///
/// # Safety
/// `ks` NULL or live; `key` readable for `key_len`; `found`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_contains(
    ks: *mut kat_keyspace,
    key: *const u8,
    key_len: usize,
    found: *mut bool,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let ks = ks_ref(ks)?;
            out_param(found, "found")?;
            let f = ks.contains(bytes(key, key_len, "key")?)?;
            found.write(f);
            Ok(())
        })
    }
}

/// `kat_db_expires_at` in keyspace `ks`.
///
/// # Safety
/// `ks` NULL or live; `key` readable for `key_len`; `expires_at_ms`, `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_expires_at(
    ks: *mut kat_keyspace,
    key: *const u8,
    key_len: usize,
    expires_at_ms: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let ks = ks_ref(ks)?;
            out_param(expires_at_ms, "expires_at_ms")?;
            let at = ks
                .expiry(bytes(key, key_len, "key")?)?
                .ok_or(Error::NotFound)?;
            expires_at_ms.write(at);
            Ok(())
        })
    }
}

/// `kat_iter_new` over keyspace `ks`.
///
/// # Safety
/// `ks` NULL or live; `opts` NULL or valid; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_keyspace_iter_new(
    ks: *mut kat_keyspace,
    opts: *const kat_iter_opts,
    out: *mut *mut kat_iter,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let ks = ks_ref(ks)?;
            out_param(out, "out")?;
            let it = ks.iter(&iter_options(opts)?)?;
            give(out, kat_iter { it });
            Ok(())
        })
    }
}

/// `kat_txn_get` in keyspace `ks`.
///
/// # Safety
/// `txn`, `ks` NULL or live; `key` readable for `key_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_get_in(
    txn: *mut kat_txn,
    ks: *const kat_keyspace,
    key: *const u8,
    key_len: usize,
    out: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            let ks = ks_ref(ks)?;
            out_param(out, "out")?;
            let v = t
                .txn
                .get_in(ks, bytes(key, key_len, "key")?)?
                .ok_or(Error::NotFound)?;
            out.write(kat_buf::from_vec(v));
            Ok(())
        })
    }
}

/// `kat_txn_contains` in keyspace `ks` (no value is read).
///
/// # Safety
/// `txn`, `ks` NULL or live; `key` readable for `key_len`; `found`, `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_contains_in(
    txn: *mut kat_txn,
    ks: *const kat_keyspace,
    key: *const u8,
    key_len: usize,
    found: *mut bool,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            let ks = ks_ref(ks)?;
            out_param(found, "found")?;
            let f = t.txn.contains_in(ks, bytes(key, key_len, "key")?)?;
            found.write(f);
            Ok(())
        })
    }
}

/// `kat_txn_put_ttl` in keyspace `ks`.
///
/// # Safety
/// `txn`, `ks` NULL or live; `key`/`val` readable for their lengths; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_put_ttl_in(
    txn: *mut kat_txn,
    ks: *const kat_keyspace,
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
            let ks = ks_ref(ks)?;
            let ttl = ttl_from_ms(ttl_ms)?;
            t.txn.put_with_ttl_in(
                ks,
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
                ttl,
            )
        })
    }
}

/// `kat_batch_put_ttl` into keyspace `ks`.
///
/// # Safety
/// `b`, `ks` NULL or live; `key`/`val` readable for their lengths; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_put_ttl_in(
    b: *mut kat_batch,
    ks: *const kat_keyspace,
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
            let ks = ks_ref(ks)?;
            let ttl = ttl_from_ms(ttl_ms)?;
            b.batch.put_with_ttl_in(
                ks,
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
                ttl,
            )?;
            Ok(())
        })
    }
}

/// `kat_txn_put` in keyspace `ks`.
///
/// # Safety
/// `txn`, `ks` NULL or live; `key`/`val` readable for their lengths; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_put_in(
    txn: *mut kat_txn,
    ks: *const kat_keyspace,
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
            let ks = ks_ref(ks)?;
            t.txn.put_in(
                ks,
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
            )
        })
    }
}

/// `kat_txn_delete` in keyspace `ks`.
///
/// # Safety
/// `txn`, `ks` NULL or live; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_delete_in(
    txn: *mut kat_txn,
    ks: *const kat_keyspace,
    key: *const u8,
    key_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            let ks = ks_ref(ks)?;
            t.txn.delete_in(ks, bytes(key, key_len, "key")?)
        })
    }
}

/// `kat_txn_iter_new` over keyspace `ks`.
///
/// # Safety
/// `txn`, `ks` NULL or live; `opts` NULL or valid; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_iter_new_in(
    txn: *mut kat_txn,
    ks: *const kat_keyspace,
    opts: *const kat_iter_opts,
    out: *mut *mut kat_iter,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = handle_mut(txn, "txn")?;
            let ks = ks_ref(ks)?;
            out_param(out, "out")?;
            let it = t.txn.iter_in(ks, &iter_options(opts)?)?;
            give(out, kat_iter { it });
            Ok(())
        })
    }
}

/// `kat_batch_put` into keyspace `ks`.
///
/// # Safety
/// `b`, `ks` NULL or live; `key`/`val` readable for their lengths; `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_put_in(
    b: *mut kat_batch,
    ks: *const kat_keyspace,
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
            let ks = ks_ref(ks)?;
            b.batch.put_in(
                ks,
                bytes(key, key_len, "key")?,
                bytes(val, val_len, "value")?,
            )?;
            Ok(())
        })
    }
}

/// `kat_batch_delete` in keyspace `ks`.
///
/// # Safety
/// `b`, `ks` NULL or live; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_batch_delete_in(
    b: *mut kat_batch,
    ks: *const kat_keyspace,
    key: *const u8,
    key_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = handle_mut(b, "batch")?;
            let ks = ks_ref(ks)?;
            b.batch.delete_in(ks, bytes(key, key_len, "key")?)?;
            Ok(())
        })
    }
}
