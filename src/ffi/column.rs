//! `kat_column`, `kat_column_appender`: typed, list-like sequences.

use parking_lot::Mutex;

use super::{
    boundary, boundary_void, bytes, give, handle, handle_mut, kat_buf, kat_db, kat_error,
    kat_status, kat_txn, out_param,
};
use crate::{Appender, Column, ColumnType, Error};

/// Column of 64-bit signed integers (8 bytes little-endian each).
pub const KAT_COLUMN_I64: i32 = 1;
/// Column of 64-bit floats (8 bytes little-endian IEEE 754 each).
pub const KAT_COLUMN_F64: i32 = 2;
/// Column of values of exactly `width` bytes (`bytes:N`).
pub const KAT_COLUMN_BYTES: i32 = 3;
/// Column of byte strings of any length.
pub const KAT_COLUMN_VAR_BYTES: i32 = 4;

/// A column of a database. Safe to use from many threads at once. After the column is
/// dropped its calls return `KAT_INVALID_ARGUMENT`; after `kat_db_close`, `KAT_CLOSED`.
/// Indices may be negative (counting from the end); an index outside the column is
/// `KAT_NOT_FOUND`, a range outside it `KAT_INVALID_ARGUMENT`.
pub struct kat_column {
    column: Column,
}

/// Buffered appends to one column: values become visible (and durable per the sync
/// mode) when the buffer fills, on `kat_column_appender_flush`, and on free. May move
/// between threads; a call while another thread is inside one returns
/// `KAT_INVALID_ARGUMENT`.
pub struct kat_column_appender {
    appender: Mutex<Appender>,
}

fn type_code(ty: ColumnType) -> (i32, u32) {
    match ty {
        ColumnType::I64 => (KAT_COLUMN_I64, 8),
        ColumnType::F64 => (KAT_COLUMN_F64, 8),
        ColumnType::Bytes(n) => (KAT_COLUMN_BYTES, n),
        ColumnType::VarBytes => (KAT_COLUMN_VAR_BYTES, 0),
    }
}

/// # Safety
/// `c` is NULL or a live handle.
unsafe fn col<'a>(c: *const kat_column) -> Result<&'a Column, Error> {
    // SAFETY: per the caller.
    Ok(&unsafe { handle(c, "column") }?.column)
}

/// Writes `v` to `out` when `out` is not NULL.
///
/// # Safety
/// `out` is NULL or valid for a write.
unsafe fn put_opt<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: per the caller.
        unsafe { out.write(v) };
    }
}

/// Borrows `count + 1` offsets.
///
/// # Safety
/// A non-NULL `offsets` points at `count + 1` readable u64 values.
unsafe fn offsets_arg<'a>(offsets: *const u64, count: usize) -> Result<&'a [u64], Error> {
    if offsets.is_null() {
        return Err(Error::InvalidArgument("offsets is NULL".into()));
    }
    let n = count
        .checked_add(1)
        .filter(|n| *n <= isize::MAX as usize / 8)
        .ok_or_else(|| Error::InvalidArgument("count is impossible".into()))?;
    // SAFETY: non-NULL and, per the caller, valid for `count + 1` values.
    Ok(unsafe { std::slice::from_raw_parts(offsets, n) })
}

/// Creates column `name` (1 to 255 bytes) of `column_type` (`KAT_COLUMN_*`; `width` is N for
/// `KAT_COLUMN_BYTES` and ignored otherwise). A column of that name already existing is
/// `KAT_INVALID_ARGUMENT`. Release the handle with `kat_column_free`.
///
/// # Safety
/// `db` NULL or live; `name` readable for `name_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_create(
    db: *mut kat_db,
    name: *const u8,
    name_len: usize,
    column_type: i32,
    width: u32,
    out: *mut *mut kat_column,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            let ty = match column_type {
                KAT_COLUMN_I64 => ColumnType::I64,
                KAT_COLUMN_F64 => ColumnType::F64,
                KAT_COLUMN_BYTES => ColumnType::Bytes(width),
                KAT_COLUMN_VAR_BYTES => ColumnType::VarBytes,
                t => return Err(Error::InvalidArgument(format!("unknown column type {t}"))),
            };
            let column = db.create_column(bytes(name, name_len, "name")?, ty)?;
            give(out, kat_column { column });
            Ok(())
        })
    }
}

/// Opens column `name`; `KAT_NOT_FOUND` if there is none. Release with
/// `kat_column_free`.
///
/// # Safety
/// `db` NULL or live; `name` readable for `name_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_open(
    db: *mut kat_db,
    name: *const u8,
    name_len: usize,
    out: *mut *mut kat_column,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            let column = db.column(bytes(name, name_len, "name")?)?;
            give(out, kat_column { column });
            Ok(())
        })
    }
}

/// Drops column `name` and all its values; `KAT_NOT_FOUND` if there is none. Merge
/// reclaims the space.
///
/// # Safety
/// `db` NULL or live; `name` readable for `name_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_drop(
    db: *mut kat_db,
    name: *const u8,
    name_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            handle(db, "db")?
                .db
                .drop_column(bytes(name, name_len, "name")?)
        })
    }
}

/// Lists the columns, sorted by name, into `*out` (release with `kat_buf_free`) as
/// repeated records: u32 LE name length, name bytes, i32 LE type, u32 LE width (N of
/// `bytes:N`, 8 for i64/f64, 0 for variable bytes), u64 LE length. `*count` receives
/// how many.
///
/// # Safety
/// `db` NULL or live; `out`, `count`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_list(
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
            let all = db.columns()?;
            let mut buf = Vec::new();
            for c in &all {
                let (t, w) = type_code(c.ty);
                buf.extend_from_slice(&(c.name.len() as u32).to_le_bytes());
                buf.extend_from_slice(&c.name);
                buf.extend_from_slice(&t.to_le_bytes());
                buf.extend_from_slice(&w.to_le_bytes());
                buf.extend_from_slice(&c.len.to_le_bytes());
            }
            out.write(kat_buf::from_vec(buf));
            count.write(all.len());
            Ok(())
        })
    }
}

/// Releases a column handle (the column stays). NULL is allowed.
///
/// # Safety
/// `c` NULL or a handle from `kat_column_create`/`kat_column_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_column_free(c: *mut kat_column) {
    boundary_void(|| {
        if !c.is_null() {
            // SAFETY: per the contract, `c` came from Box::into_raw.
            drop(unsafe { Box::from_raw(c) });
        }
    })
}

/// The column's type (`KAT_COLUMN_*`) and value width in bytes (0 for variable bytes).
///
/// # Safety
/// `c` NULL or live; `column_type`, `width` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_type(
    c: *mut kat_column,
    column_type: *mut i32,
    width: *mut u32,
) -> kat_status {
    // SAFETY: error reporting is disabled; arguments are checked.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let (t, w) = type_code(col(c)?.ty());
            put_opt(column_type, t);
            put_opt(width, w);
            Ok(())
        })
    }
}

/// The number of values into `*len`.
///
/// # Safety
/// `c` NULL or live; `len`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_len(
    c: *mut kat_column,
    len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            out_param(len, "len")?;
            len.write(col(c)?.len()?);
            Ok(())
        })
    }
}

/// Appends one value (8 little-endian bytes for i64/f64, exactly N for `bytes:N`, any
/// length for variable bytes) in one commit; the new length into `*new_len` when not
/// NULL. A wrong size is `KAT_INVALID_ARGUMENT` and writes nothing.
///
/// # Safety
/// `c` NULL or live; `value` readable for `len`; `new_len`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_append(
    c: *mut kat_column,
    value: *const u8,
    len: usize,
    new_len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let n = col(c)?.append(bytes(value, len, "value")?)?;
            put_opt(new_len, n);
            Ok(())
        })
    }
}

/// Appends `len` bytes of packed fixed-size values (a whole number of them) in one
/// commit; the new length into `*new_len` when not NULL.
///
/// # Safety
/// `c` NULL or live; `data` readable for `len`; `new_len`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_extend(
    c: *mut kat_column,
    data: *const u8,
    len: usize,
    new_len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let n = col(c)?.extend(bytes(data, len, "data")?)?;
            put_opt(new_len, n);
            Ok(())
        })
    }
}

/// Appends `count` variable values, value `i` being `data[offsets[i] .. offsets[i+1])`
/// (`offsets` holds `count + 1` ascending positions), in one commit.
///
/// # Safety
/// `c` NULL or live; `offsets` readable for `count + 1` values; `data` readable for
/// `data_len`; `new_len`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_extend_var(
    c: *mut kat_column,
    offsets: *const u64,
    count: usize,
    data: *const u8,
    data_len: usize,
    new_len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let n =
                col(c)?.extend_var(offsets_arg(offsets, count)?, bytes(data, data_len, "data")?)?;
            put_opt(new_len, n);
            Ok(())
        })
    }
}

/// The value at `index` (negative: from the end) into `*out` (release with
/// `kat_buf_free`); `KAT_NOT_FOUND` outside the column.
///
/// # Safety
/// `c` NULL or live; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_get(
    c: *mut kat_column,
    index: i64,
    out: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            out_param(out, "out")?;
            out.write(kat_buf::from_vec(col(c)?.get(index)?));
            Ok(())
        })
    }
}

/// The `i64` at `index` of an i64 column into `*value`.
///
/// # Safety
/// `c` NULL or live; `value`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_get_i64(
    c: *mut kat_column,
    index: i64,
    value: *mut i64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            out_param(value, "value")?;
            value.write(col(c)?.get_i64(index)?);
            Ok(())
        })
    }
}

/// The `f64` at `index` of an f64 column into `*value`.
///
/// # Safety
/// `c` NULL or live; `value`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_get_f64(
    c: *mut kat_column,
    index: i64,
    value: *mut f64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            out_param(value, "value")?;
            value.write(col(c)?.get_f64(index)?);
            Ok(())
        })
    }
}

/// Replaces the value at `index` (negative: from the end).
///
/// # Safety
/// `c` NULL or live; `value` readable for `len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_set(
    c: *mut kat_column,
    index: i64,
    value: *const u8,
    len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe { boundary(err, || col(c)?.set(index, bytes(value, len, "value")?)) }
}

/// Copies the packed values `[start, end)` of a fixed-size column into `buf`; the
/// bytes needed go to `*len`. `KAT_BUFFER_TOO_SMALL` (nothing copied) when `cap` is less.
///
/// # Safety
/// `c` NULL or live; `buf` writable for `cap` bytes; `len`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_read(
    c: *mut kat_column,
    start: u64,
    end: u64,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let c = col(c)?;
            out_param(len, "len")?;
            if c.ty() == ColumnType::VarBytes {
                return Err(Error::InvalidArgument(
                    "read variable bytes with kat_column_read_buf".into(),
                ));
            }
            let (_, data) = c.range(start, end)?;
            len.write(data.len());
            if data.len() > cap {
                return Err(Error::BufferTooSmall(data.len()));
            }
            if !data.is_empty() {
                if buf.is_null() {
                    return Err(Error::InvalidArgument("buf is NULL".into()));
                }
                // SAFETY: `buf` is non-NULL and writable for `cap` >= data.len() bytes.
                std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len());
            }
            Ok(())
        })
    }
}

/// Values `[start, end)` into owned buffers (release each with `kat_buf_free`): `*data`
/// holds them packed; for a variable column `*offsets` holds `end - start + 1` u64
/// positions into `*data` (from 0); for a fixed column it is left empty. `offsets` may
/// be NULL for a fixed column.
///
/// # Safety
/// `c` NULL or live; `data`, `offsets`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_read_buf(
    c: *mut kat_column,
    start: u64,
    end: u64,
    data: *mut kat_buf,
    offsets: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let c = col(c)?;
            out_param(data, "data")?;
            if offsets.is_null() && c.ty() == ColumnType::VarBytes {
                return Err(Error::InvalidArgument("offsets is NULL".into()));
            }
            let (offs, bytes) = c.range(start, end)?;
            data.write(kat_buf::from_vec(bytes));
            let packed: Vec<u8> = offs.iter().flat_map(|o| o.to_le_bytes()).collect();
            put_opt(offsets, kat_buf::from_vec(packed));
            Ok(())
        })
    }
}

/// Shortens the column to `len` values (`KAT_INVALID_ARGUMENT` if it has fewer).
///
/// # Safety
/// `c` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_truncate(
    c: *mut kat_column,
    len: u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe { boundary(err, || col(c)?.truncate(len)) }
}

/// Removes the last value and returns it in `*out` (release with `kat_buf_free`);
/// `KAT_NOT_FOUND` when the column is empty.
///
/// # Safety
/// `c` NULL or live; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_pop(
    c: *mut kat_column,
    out: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            out_param(out, "out")?;
            let v = col(c)?.pop()?.ok_or(Error::NotFound)?;
            out.write(kat_buf::from_vec(v));
            Ok(())
        })
    }
}

/// Starts a buffered appender on `c`. Release with `kat_column_appender_free`.
///
/// # Safety
/// `c` NULL or live; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_appender_open(
    c: *mut kat_column,
    out: *mut *mut kat_column_appender,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            out_param(out, "out")?;
            let a = col(c)?.appender()?;
            give(
                out,
                kat_column_appender {
                    appender: Mutex::new(a),
                },
            );
            Ok(())
        })
    }
}

/// # Safety
/// `a` is NULL or a live appender.
unsafe fn with_appender<T>(
    a: *const kat_column_appender,
    f: impl FnOnce(&mut Appender) -> Result<T, Error>,
) -> Result<T, Error> {
    // SAFETY: per the caller.
    let a = unsafe { handle(a, "appender") }?;
    let mut guard = a
        .appender
        .try_lock()
        .ok_or_else(|| Error::InvalidArgument("the appender is in use by another thread".into()))?;
    f(&mut guard)
}

/// Buffers one value (sized as for `kat_column_append`); a full buffer is committed.
///
/// # Safety
/// `a` NULL or live; `value` readable for `len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_appender_append(
    a: *mut kat_column_appender,
    value: *const u8,
    len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let v = bytes(value, len, "value")?;
            with_appender(a, |a| a.append(v))
        })
    }
}

/// Commits the buffered values as one batch; the column's new length into `*new_len`
/// when not NULL.
///
/// # Safety
/// `a` NULL or live; `new_len`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_column_appender_flush(
    a: *mut kat_column_appender,
    new_len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let n = with_appender(a, |a| a.flush())?;
            put_opt(new_len, n);
            Ok(())
        })
    }
}

/// Commits what is buffered (an error here is lost: flush first to see it) and
/// releases the appender. NULL is allowed.
///
/// # Safety
/// `a` NULL or an appender from `kat_column_appender_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_column_appender_free(a: *mut kat_column_appender) {
    boundary_void(|| {
        if !a.is_null() {
            // SAFETY: per the contract, `a` came from Box::into_raw.
            drop(unsafe { Box::from_raw(a) });
        }
    })
}

/// `kat_column_len` in `txn`'s view.
///
/// # Safety
/// `txn` NULL or live and not used by another thread; `c` NULL or live; `len`, `err`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_column_len(
    txn: *mut kat_txn,
    c: *mut kat_column,
    len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            out_param(len, "len")?;
            len.write(col(c)?.len_in(t)?);
            Ok(())
        })
    }
}

/// `kat_column_append` as part of `txn`.
///
/// # Safety
/// As for `kat_txn_column_len`; `value` readable for `len`.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_column_append(
    txn: *mut kat_txn,
    c: *mut kat_column,
    value: *const u8,
    len: usize,
    new_len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            let n = col(c)?.append_in(t, bytes(value, len, "value")?)?;
            put_opt(new_len, n);
            Ok(())
        })
    }
}

/// `kat_column_extend` as part of `txn`.
///
/// # Safety
/// As for `kat_txn_column_len`; `data` readable for `len`.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_column_extend(
    txn: *mut kat_txn,
    c: *mut kat_column,
    data: *const u8,
    len: usize,
    new_len: *mut u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            let n = col(c)?.extend_in(t, bytes(data, len, "data")?)?;
            put_opt(new_len, n);
            Ok(())
        })
    }
}

/// `kat_column_get` in `txn`'s view.
///
/// # Safety
/// As for `kat_txn_column_len`; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_column_get(
    txn: *mut kat_txn,
    c: *mut kat_column,
    index: i64,
    out: *mut kat_buf,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            out_param(out, "out")?;
            out.write(kat_buf::from_vec(col(c)?.get_in(t, index)?));
            Ok(())
        })
    }
}

/// `kat_column_set` as part of `txn`.
///
/// # Safety
/// As for `kat_txn_column_len`; `value` readable for `len`.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_column_set(
    txn: *mut kat_txn,
    c: *mut kat_column,
    index: i64,
    value: *const u8,
    len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            col(c)?.set_in(t, index, bytes(value, len, "value")?)
        })
    }
}
