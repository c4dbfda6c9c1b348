//! `kat_bucket`, `kat_blob_writer`, `kat_blob_reader`: versioned objects with metadata,
//! checksums, compression, encryption and streaming.

use std::ffi::c_char;

use parking_lot::Mutex;

use super::{
    boundary, boundary_void, bytes, give, handle, handle_mut, kat_buf, kat_db, kat_error,
    kat_status, kat_txn, out_param,
};
use crate::{
    BlobReader, BlobWriter, Bucket, BucketOptions, Compression, Error, ObjectInfo, PutOptions,
};

/// Chunks are stored as written.
pub const KAT_COMPRESSION_NONE: i32 = 0;
/// zlib, level 0 to 9.
pub const KAT_COMPRESSION_ZLIB: i32 = 1;
/// zstd, level 1 to 22.
pub const KAT_COMPRESSION_ZSTD: i32 = 2;
/// Length of a bucket encryption key in bytes.
pub const KAT_KEY_LEN: usize = 32;
/// Length of a SHA-256 checksum in bytes.
pub const KAT_SHA256_LEN: usize = 32;

/// Settings for `kat_bucket_open`. Unset settings keep the bucket's stored ones (the
/// defaults for a new bucket: versioning on, no compression, 1 MiB chunks, no
/// encryption); a set one that differs is stored. May be freed right after the open.
pub struct kat_bucket_options {
    opts: BucketOptions,
}

/// What a put says about the new version: content type, user metadata, and an
/// optional expected SHA-256. May be freed right after the call that takes it.
pub struct kat_put_options {
    opts: PutOptions,
}

/// A bucket of a database. Safe to use from many threads at once. After the bucket is
/// dropped its calls return `KAT_INVALID_ARGUMENT`; after `kat_db_close`, `KAT_CLOSED`.
pub struct kat_bucket {
    bucket: Bucket,
}

/// A streamed upload: `kat_blob_writer_write` the content in pieces, then
/// `kat_blob_writer_commit` (the version appears atomically) or `kat_blob_writer_abort`.
/// Memory stays bounded by the chunk size. May move between threads; a call while
/// another thread is inside one returns `KAT_INVALID_ARGUMENT`.
pub struct kat_blob_writer {
    writer: Mutex<Option<BlobWriter>>,
}

/// A streaming reader of one object version, on the snapshot taken when it was opened.
/// Reading start to end checks the content's SHA-256 before the last bytes are handed
/// out. Same threading rules as `kat_blob_writer`.
pub struct kat_blob_reader {
    reader: Mutex<BlobReader>,
}

/// One user metadata pair; both are UTF-8 text, not NUL-terminated.
#[repr(C)]
pub struct kat_metadata_entry {
    pub key: *const u8,
    pub key_len: usize,
    pub value: *const u8,
    pub value_len: usize,
}

/// What a stored object version is. Owned by the caller: release with
/// `kat_object_info_free` (or, inside a `kat_object_list`, with the list). The pointers
/// inside stay valid until then.
#[repr(C)]
pub struct kat_object_info {
    /// Version number: increases with every put of the key and is never reused.
    pub version: u64,
    /// Content length in bytes.
    pub size: u64,
    /// Bytes stored after compression and encryption.
    pub stored_size: u64,
    /// Commit time of the version, ms since the Unix epoch.
    pub created_ms: u64,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
    /// The same as 64 lower-case hex digits and a NUL.
    pub sha256_hex: [c_char; 65],
    /// The object key.
    pub key: *const u8,
    pub key_len: usize,
    /// Content type (UTF-8, may be empty).
    pub content_type: *const u8,
    pub content_type_len: usize,
    /// User metadata, sorted by key.
    pub metadata: *const kat_metadata_entry,
    pub metadata_count: usize,
}

/// Several object infos: `items[0 .. len)`. Release with `kat_object_list_free`.
#[repr(C)]
pub struct kat_object_list {
    pub items: *const kat_object_info,
    pub len: usize,
}

/// The bytes a `kat_object_info`'s pointers point into.
struct InfoStore {
    key: Vec<u8>,
    content_type: String,
    metadata: Vec<(String, String)>,
    entries: Vec<kat_metadata_entry>,
}

fn fill_info(info: ObjectInfo) -> (kat_object_info, InfoStore) {
    let mut store = InfoStore {
        key: info.key.clone(),
        content_type: info.content_type.clone(),
        metadata: info.metadata.clone().into_iter().collect(),
        entries: Vec::new(),
    };
    store.entries = store
        .metadata
        .iter()
        .map(|(k, v)| kat_metadata_entry {
            key: k.as_ptr(),
            key_len: k.len(),
            value: v.as_ptr(),
            value_len: v.len(),
        })
        .collect();
    let mut hex = [0 as c_char; 65];
    for (d, s) in hex.iter_mut().zip(info.sha256_hex().bytes()) {
        *d = s as c_char;
    }
    let c = kat_object_info {
        version: info.version,
        size: info.size,
        stored_size: info.stored_size,
        created_ms: info.created_ms,
        sha256: info.sha256,
        sha256_hex: hex,
        key: store.key.as_ptr(),
        key_len: store.key.len(),
        content_type: store.content_type.as_ptr(),
        content_type_len: store.content_type.len(),
        metadata: store.entries.as_ptr(),
        metadata_count: store.entries.len(),
    };
    (c, store)
}

/// A lone `kat_object_info` with its storage; the info comes first so a pointer to it
/// is a pointer to the whole.
#[repr(C)]
struct OwnedInfo {
    info: kat_object_info,
    store: InfoStore,
}

/// A `kat_object_list` with its storage, laid out the same way.
#[repr(C)]
struct OwnedList {
    list: kat_object_list,
    infos: Vec<kat_object_info>,
    stores: Vec<InfoStore>,
}

/// Writes a new owned info to `out` when `out` is not NULL.
///
/// # Safety
/// `out` is NULL or valid for a pointer write.
unsafe fn give_info(out: *mut *mut kat_object_info, info: ObjectInfo) {
    if out.is_null() {
        return;
    }
    let (info, store) = fill_info(info);
    let owned = Box::into_raw(Box::new(OwnedInfo { info, store }));
    // SAFETY: per the caller; `OwnedInfo` is repr(C) with the info first.
    unsafe { out.write(owned.cast()) };
}

/// # Safety
/// `out` is non-NULL and valid for a pointer write.
unsafe fn give_list(out: *mut *mut kat_object_list, infos: Vec<ObjectInfo>) {
    let (infos, stores): (Vec<_>, Vec<_>) = infos.into_iter().map(fill_info).unzip();
    let mut owned = Box::new(OwnedList {
        list: kat_object_list {
            items: std::ptr::null(),
            len: infos.len(),
        },
        infos,
        stores,
    });
    owned.list.items = owned.infos.as_ptr();
    // SAFETY: per the caller; `OwnedList` is repr(C) with the list first.
    unsafe { out.write(Box::into_raw(owned).cast()) };
}

/// # Safety
/// `b` is NULL or a live handle.
unsafe fn bucket_ref<'a>(b: *const kat_bucket) -> Result<&'a Bucket, Error> {
    // SAFETY: per the caller.
    Ok(&unsafe { handle(b, "bucket") }?.bucket)
}

/// # Safety
/// `o` is NULL or live options.
unsafe fn put_opts(o: *const kat_put_options) -> PutOptions {
    // SAFETY: per the caller.
    unsafe { o.as_ref() }.map_or_else(PutOptions::default, |o| o.opts.clone())
}

fn version_arg(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

fn text(b: &[u8], what: &str) -> Result<String, Error> {
    String::from_utf8(b.to_vec())
        .map_err(|_| Error::InvalidArgument(format!("{what} is not UTF-8")))
}

/// Creates bucket options with nothing set.
///
/// # Safety
/// `out` is NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_options_new(out: *mut *mut kat_bucket_options) -> kat_status {
    // SAFETY: error reporting is disabled; `out` is checked before the write.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            out_param(out, "out")?;
            give(
                out,
                kat_bucket_options {
                    opts: BucketOptions::default(),
                },
            );
            Ok(())
        })
    }
}

/// Releases bucket options. NULL is allowed.
///
/// # Safety
/// `o` is NULL or options from `kat_bucket_options_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_options_free(o: *mut kat_bucket_options) {
    boundary_void(|| {
        if !o.is_null() {
            // SAFETY: per the contract, `o` came from Box::into_raw.
            drop(unsafe { Box::from_raw(o) });
        }
    })
}

/// Keep every version (`on` non-zero, the default) or let a put replace the object.
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_options_set_versioning(
    o: *mut kat_bucket_options,
    on: i32,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            o.opts = std::mem::take(&mut o.opts).versioning(on != 0);
            Ok(())
        })
    }
}

/// How chunks are compressed: `KAT_COMPRESSION_NONE`, `_ZLIB` (level 0 to 9) or
/// `_ZSTD` (level 1 to 22). Incompressible chunks are stored raw whatever is set. An
/// unknown codec or level is `KAT_INVALID_ARGUMENT` and changes nothing.
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_options_set_compression(
    o: *mut kat_bucket_options,
    codec: i32,
    level: i32,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            let c = match codec {
                KAT_COMPRESSION_NONE => Compression::None,
                KAT_COMPRESSION_ZLIB => Compression::Zlib(
                    u32::try_from(level).map_err(|_| Error::InvalidArgument("bad level".into()))?,
                ),
                KAT_COMPRESSION_ZSTD => Compression::Zstd(level),
                _ => return Err(Error::InvalidArgument("unknown codec".into())),
            };
            c.check()?;
            o.opts = std::mem::take(&mut o.opts).compression(c);
            Ok(())
        })
    }
}

/// Chunk size of writes, 4 KiB to 64 MiB (default 1 MiB); other values are
/// `KAT_INVALID_ARGUMENT` and change nothing.
///
/// # Safety
/// `o` is NULL or live options not used by another thread.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_options_set_chunk_size(
    o: *mut kat_bucket_options,
    bytes: u32,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` is checked by handle_mut.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            crate::bucket::check_chunk_size(bytes)?;
            o.opts = std::mem::take(&mut o.opts).chunk_size(bytes);
            Ok(())
        })
    }
}

/// The `KAT_KEY_LEN`-byte key of an encrypted bucket (XChaCha20-Poly1305): a new bucket
/// is created encrypted; an existing encrypted bucket opens only with its key
/// (`KAT_AUTH_FAILED` otherwise). The options keep a copy until freed.
///
/// # Safety
/// `o` is NULL or live options not used by another thread; `key` readable for `key_len`.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_options_set_encryption_key(
    o: *mut kat_bucket_options,
    key: *const u8,
    key_len: usize,
) -> kat_status {
    // SAFETY: error reporting is disabled; `o` and `key` are checked.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            let key = bytes(key, key_len, "key")?;
            if key.len() != KAT_KEY_LEN {
                return Err(Error::InvalidArgument("keys are 32 bytes".into()));
            }
            o.opts = std::mem::take(&mut o.opts).encryption_key(key);
            Ok(())
        })
    }
}

/// Opens bucket `name` (1 to 255 bytes), creating it if missing; `opts` may be NULL.
/// Release the handle with `kat_bucket_free`.
///
/// # Safety
/// `db` NULL or live; `name` readable for `name_len`; `opts` NULL or live; `out`, `err`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_open(
    db: *mut kat_db,
    name: *const u8,
    name_len: usize,
    opts: *const kat_bucket_options,
    out: *mut *mut kat_bucket,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            out_param(out, "out")?;
            let defaults = BucketOptions::default();
            let opts = opts.as_ref().map_or(&defaults, |o| &o.opts);
            let bucket = db.bucket(bytes(name, name_len, "name")?, opts)?;
            give(out, kat_bucket { bucket });
            Ok(())
        })
    }
}

/// Drops bucket `name` and every object in it; `KAT_NOT_FOUND` if there is none.
///
/// # Safety
/// `db` NULL or live; `name` readable for `name_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_drop(
    db: *mut kat_db,
    name: *const u8,
    name_len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let db = &handle(db, "db")?.db;
            db.drop_bucket(bytes(name, name_len, "name")?)
        })
    }
}

/// Lists the bucket names, sorted, into `*out` (release with `kat_buf_free`) as repeated
/// (u32 little-endian length, name bytes); `*count` receives how many.
///
/// # Safety
/// `db` NULL or live; `out`, `count`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_list(
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
            let names = db.buckets()?;
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

/// Releases a bucket handle (the bucket stays). NULL is allowed.
///
/// # Safety
/// `b` NULL or a handle from `kat_bucket_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_free(b: *mut kat_bucket) {
    boundary_void(|| {
        if !b.is_null() {
            // SAFETY: per the contract, `b` came from Box::into_raw.
            drop(unsafe { Box::from_raw(b) });
        }
    })
}

/// Creates empty put options (no content type, no metadata, no expected checksum).
///
/// # Safety
/// `out` is NULL or valid for a pointer write.
#[no_mangle]
pub unsafe extern "C" fn kat_put_options_new(out: *mut *mut kat_put_options) -> kat_status {
    // SAFETY: error reporting is disabled; `out` is checked before the write.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            out_param(out, "out")?;
            give(
                out,
                kat_put_options {
                    opts: PutOptions::default(),
                },
            );
            Ok(())
        })
    }
}

/// Releases put options. NULL is allowed.
///
/// # Safety
/// `o` is NULL or options from `kat_put_options_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_put_options_free(o: *mut kat_put_options) {
    boundary_void(|| {
        if !o.is_null() {
            // SAFETY: per the contract, `o` came from Box::into_raw.
            drop(unsafe { Box::from_raw(o) });
        }
    })
}

/// Sets the content type (UTF-8, at most 1024 bytes; checked at the put).
///
/// # Safety
/// `o` is NULL or live options not used by another thread; `ct` readable for `len`.
#[no_mangle]
pub unsafe extern "C" fn kat_put_options_set_content_type(
    o: *mut kat_put_options,
    ct: *const u8,
    len: usize,
) -> kat_status {
    // SAFETY: error reporting is disabled; arguments are checked.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            o.opts.content_type = text(bytes(ct, len, "content type")?, "content type")?;
            Ok(())
        })
    }
}

/// Adds (or replaces) user metadata `key` = `value`, both UTF-8 (non-UTF-8 is
/// `KAT_INVALID_ARGUMENT`); an empty key is refused at the put.
///
/// # Safety
/// `o` is NULL or live options not used by another thread; `key`/`value` readable for
/// their lengths.
#[no_mangle]
pub unsafe extern "C" fn kat_put_options_add_metadata(
    o: *mut kat_put_options,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> kat_status {
    // SAFETY: error reporting is disabled; arguments are checked.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            let k = text(bytes(key, key_len, "key")?, "metadata key")?;
            let v = text(bytes(value, value_len, "value")?, "metadata value")?;
            o.opts.metadata.insert(k, v);
            Ok(())
        })
    }
}

/// Makes the put fail with `KAT_INVALID_ARGUMENT`, storing nothing, unless the content's
/// SHA-256 is the `KAT_SHA256_LEN` bytes at `sum`.
///
/// # Safety
/// `o` is NULL or live options not used by another thread; `sum` readable for `len`.
#[no_mangle]
pub unsafe extern "C" fn kat_put_options_set_expected_sha256(
    o: *mut kat_put_options,
    sum: *const u8,
    len: usize,
) -> kat_status {
    // SAFETY: error reporting is disabled; arguments are checked.
    unsafe {
        boundary(std::ptr::null_mut(), || {
            let o = handle_mut(o, "options")?;
            let sum: [u8; 32] = bytes(sum, len, "checksum")?
                .try_into()
                .map_err(|_| Error::InvalidArgument("SHA-256 sums are 32 bytes".into()))?;
            o.opts.expected_sha256 = Some(sum);
            Ok(())
        })
    }
}

/// Stores `data` as a new version of `key` (1 to 65,524 bytes; any bytes) and, when
/// `info` is not NULL, returns its info there. `opts` may be NULL. Durable on return per
/// the database's sync mode.
///
/// # Safety
/// `b` NULL or live; `key`/`data` readable for their lengths; `opts` NULL or live;
/// `info`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_put(
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    data: *const u8,
    data_len: usize,
    opts: *const kat_put_options,
    info: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            let stored = b.put(
                bytes(key, key_len, "key")?,
                bytes(data, data_len, "data")?,
                &put_opts(opts),
            )?;
            give_info(info, stored);
            Ok(())
        })
    }
}

/// The content of `key` at `version` (0: the newest) into `*out` (release with
/// `kat_buf_free`), checked against its SHA-256 (`KAT_CORRUPTION` on mismatch, never
/// wrong data); its info into `*info` when not NULL. `KAT_NOT_FOUND` if absent.
///
/// # Safety
/// `b` NULL or live; `key` readable for `key_len`; `out`, `info`, `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_get(
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    version: u64,
    out: *mut kat_buf,
    info: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            let key = bytes(key, key_len, "key")?;
            let found = match version_arg(version) {
                None => b.get(key)?,
                Some(v) => b.get_version(key, v)?,
            };
            let (i, data) = found.ok_or(Error::NotFound)?;
            out.write(kat_buf::from_vec(data));
            give_info(info, i);
            Ok(())
        })
    }
}

/// The info of `key` at `version` (0: the newest) without its content; `KAT_NOT_FOUND`
/// if absent.
///
/// # Safety
/// `b` NULL or live; `key` readable for `key_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_head(
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    version: u64,
    out: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            let key = bytes(key, key_len, "key")?;
            let found = match version_arg(version) {
                None => b.head(key)?,
                Some(v) => b.head_version(key, v)?,
            };
            give_info(out, found.ok_or(Error::NotFound)?);
            Ok(())
        })
    }
}

/// Deletes version `version` of `key`, or every version with 0. `KAT_NOT_FOUND` when
/// there was nothing to delete. Deleting the newest version makes the next older one
/// the newest.
///
/// # Safety
/// `b` NULL or live; `key` readable for `key_len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_delete(
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    version: u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            let key = bytes(key, key_len, "key")?;
            let deleted = match version_arg(version) {
                None => b.delete(key)? > 0,
                Some(v) => b.delete_version(key, v)?,
            };
            if deleted {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
    }
}

/// Every version of `key`, oldest first, into `*out` (release with
/// `kat_object_list_free`); an empty list when there is none.
///
/// # Safety
/// `b` NULL or live; `key` readable for `key_len`; `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_versions(
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    out: *mut *mut kat_object_list,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            give_list(out, b.versions(bytes(key, key_len, "key")?)?);
            Ok(())
        })
    }
}

/// Up to `limit` objects (0: no limit) whose keys start with `prefix` and sort after
/// `after` (NULL: from the first), in key order, each with its newest version's info,
/// into `*out` (release with `kat_object_list_free`). Page with `after` = the last key.
///
/// # Safety
/// `b` NULL or live; `prefix`/`after` readable for their lengths (`after` may be NULL);
/// `out`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_bucket_list_objects(
    b: *mut kat_bucket,
    prefix: *const u8,
    prefix_len: usize,
    after: *const u8,
    after_len: usize,
    limit: usize,
    out: *mut *mut kat_object_list,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            let after = if after.is_null() {
                None
            } else {
                Some(bytes(after, after_len, "after")?)
            };
            give_list(
                out,
                b.list(bytes(prefix, prefix_len, "prefix")?, after, limit)?,
            );
            Ok(())
        })
    }
}

/// Releases an object info. NULL is allowed.
///
/// # Safety
/// `info` NULL or an info returned on its own (not an item of a list) not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_object_info_free(info: *mut kat_object_info) {
    boundary_void(|| {
        if !info.is_null() {
            // SAFETY: per the contract, `info` came from give_info's Box<OwnedInfo>.
            drop(unsafe { Box::from_raw(info.cast::<OwnedInfo>()) });
        }
    })
}

/// Releases a list of object infos. NULL is allowed.
///
/// # Safety
/// `list` NULL or a list from this library not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_object_list_free(list: *mut kat_object_list) {
    boundary_void(|| {
        if !list.is_null() {
            // SAFETY: per the contract, `list` came from give_list's Box<OwnedList>.
            drop(unsafe { Box::from_raw(list.cast::<OwnedList>()) });
        }
    })
}

// ---- streaming ----

/// Starts a streamed upload of a new version of `key`; `opts` may be NULL. Release the
/// writer with `kat_blob_writer_free` (which aborts an upload not committed).
///
/// # Safety
/// `b` NULL or live; `key` readable for `key_len`; `opts` NULL or live; `out`, `err`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_writer_open(
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    opts: *const kat_put_options,
    out: *mut *mut kat_blob_writer,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            let w = b.writer(bytes(key, key_len, "key")?, &put_opts(opts))?;
            give(
                out,
                kat_blob_writer {
                    writer: Mutex::new(Some(w)),
                },
            );
            Ok(())
        })
    }
}

/// Runs `f` on the writer of `w` if it is still open.
///
/// # Safety
/// `w` is NULL or a live writer.
unsafe fn with_writer<T>(
    w: *const kat_blob_writer,
    f: impl FnOnce(&mut Option<BlobWriter>) -> Result<T, Error>,
) -> Result<T, Error> {
    // SAFETY: per the caller.
    let w = unsafe { handle(w, "writer") }?;
    let mut guard = w
        .writer
        .try_lock()
        .ok_or_else(|| Error::InvalidArgument("the writer is in use by another thread".into()))?;
    if guard.is_none() {
        return Err(Error::InvalidArgument("the upload has ended".into()));
    }
    f(&mut guard)
}

/// Appends `len` bytes at `data` to the content. After a failed write the upload can
/// only be aborted.
///
/// # Safety
/// `w` NULL or live; `data` readable for `len`; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_writer_write(
    w: *mut kat_blob_writer,
    data: *const u8,
    len: usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let data = bytes(data, len, "data")?;
            with_writer(w, |wr| wr.as_mut().expect("open").write(data))
        })
    }
}

/// Makes the content the newest version of its key, atomically; its info into `*info`
/// when not NULL. The upload ends either way: on failure nothing becomes visible and the
/// chunks are discarded.
///
/// # Safety
/// `w` NULL or live; `info`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_writer_commit(
    w: *mut kat_blob_writer,
    info: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let stored = with_writer(w, |wr| wr.take().expect("open").commit())?;
            give_info(info, stored);
            Ok(())
        })
    }
}

/// Stages the version in transaction `txn`: it appears when `txn` commits; if `txn`
/// aborts or fails to commit, the chunks are discarded. The upload ends either way.
///
/// # Safety
/// `w`, `txn` NULL or live (`txn` not used by another thread); `info`, `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_writer_commit_txn(
    w: *mut kat_blob_writer,
    txn: *mut kat_txn,
    info: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            let stored = with_writer(w, |wr| wr.take().expect("open").commit_in(t))?;
            give_info(info, stored);
            Ok(())
        })
    }
}

/// Discards the upload: nothing becomes visible, the chunks written are deleted.
///
/// # Safety
/// `w` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_writer_abort(
    w: *mut kat_blob_writer,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            with_writer(w, |wr| wr.take().expect("open").abort())
        })
    }
}

/// Releases a writer, aborting its upload if it was neither committed nor aborted.
/// NULL is allowed.
///
/// # Safety
/// `w` NULL or a writer from `kat_blob_writer_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_writer_free(w: *mut kat_blob_writer) {
    boundary_void(|| {
        if !w.is_null() {
            // SAFETY: per the contract, `w` came from Box::into_raw.
            drop(unsafe { Box::from_raw(w) });
        }
    })
}

/// Opens a streaming reader of `key` at `version` (0: the newest) on a snapshot taken
/// now; its info into `*info` when not NULL. `KAT_NOT_FOUND` if absent. Release with
/// `kat_blob_reader_free`.
///
/// # Safety
/// `b` NULL or live; `key` readable for `key_len`; `out`, `info`, `err` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_reader_open(
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    version: u64,
    out: *mut *mut kat_blob_reader,
    info: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            let r = b
                .reader(bytes(key, key_len, "key")?, version_arg(version))?
                .ok_or(Error::NotFound)?;
            give_info(info, r.info().clone());
            give(
                out,
                kat_blob_reader {
                    reader: Mutex::new(r),
                },
            );
            Ok(())
        })
    }
}

/// Reads up to `cap` bytes at the read position into `buf`; `*n` receives how many (0
/// at the end of the content).
///
/// # Safety
/// `r` NULL or live; `buf` writable for `cap` bytes; `n`, `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_reader_read(
    r: *mut kat_blob_reader,
    buf: *mut u8,
    cap: usize,
    n: *mut usize,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let r = handle(r, "reader")?;
            out_param(n, "n")?;
            if cap > 0 && buf.is_null() {
                return Err(Error::InvalidArgument("buf is NULL".into()));
            }
            let mut guard = r.reader.try_lock().ok_or_else(|| {
                Error::InvalidArgument("the reader is in use by another thread".into())
            })?;
            let dest: &mut [u8] = if cap == 0 {
                &mut []
            } else {
                // SAFETY: non-NULL and, per the contract, writable for `cap` bytes.
                std::slice::from_raw_parts_mut(buf, cap)
            };
            n.write(guard.read(dest)?);
            Ok(())
        })
    }
}

/// Moves the read position to byte `offset` (at most the content length).
///
/// # Safety
/// `r` NULL or live; `err` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_reader_seek(
    r: *mut kat_blob_reader,
    offset: u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let r = handle(r, "reader")?;
            let mut guard = r.reader.try_lock().ok_or_else(|| {
                Error::InvalidArgument("the reader is in use by another thread".into())
            })?;
            guard.seek_to(offset).map(|_| ())
        })
    }
}

/// Releases a reader and its snapshot. NULL is allowed.
///
/// # Safety
/// `r` NULL or a reader from `kat_blob_reader_open` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn kat_blob_reader_free(r: *mut kat_blob_reader) {
    boundary_void(|| {
        if !r.is_null() {
            // SAFETY: per the contract, `r` came from Box::into_raw.
            drop(unsafe { Box::from_raw(r) });
        }
    })
}

// ---- inside a transaction ----

/// `kat_bucket_put` as part of `txn`: visible to others when `txn` commits. The content
/// is held in the transaction until then.
///
/// # Safety
/// `txn` NULL or live and not used by another thread; otherwise as for
/// `kat_bucket_put`.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_bucket_put(
    txn: *mut kat_txn,
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    data: *const u8,
    data_len: usize,
    opts: *const kat_put_options,
    info: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            let b = bucket_ref(b)?;
            let stored = b.put_in(
                t,
                bytes(key, key_len, "key")?,
                bytes(data, data_len, "data")?,
                &put_opts(opts),
            )?;
            give_info(info, stored);
            Ok(())
        })
    }
}

/// `kat_bucket_get` in `txn`'s view (its snapshot plus its own writes).
///
/// # Safety
/// `txn` NULL or live and not used by another thread; otherwise as for
/// `kat_bucket_get`.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_bucket_get(
    txn: *mut kat_txn,
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    version: u64,
    out: *mut kat_buf,
    info: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            let (i, data) = b
                .get_in(t, bytes(key, key_len, "key")?, version_arg(version))?
                .ok_or(Error::NotFound)?;
            out.write(kat_buf::from_vec(data));
            give_info(info, i);
            Ok(())
        })
    }
}

/// `kat_bucket_head` in `txn`'s view.
///
/// # Safety
/// `txn` NULL or live and not used by another thread; otherwise as for
/// `kat_bucket_head`.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_bucket_head(
    txn: *mut kat_txn,
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    version: u64,
    out: *mut *mut kat_object_info,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            let b = bucket_ref(b)?;
            out_param(out, "out")?;
            let found = b.head_in(t, bytes(key, key_len, "key")?, version_arg(version))?;
            give_info(out, found.ok_or(Error::NotFound)?);
            Ok(())
        })
    }
}

/// `kat_bucket_delete` as part of `txn`.
///
/// # Safety
/// `txn` NULL or live and not used by another thread; otherwise as for
/// `kat_bucket_delete`.
#[no_mangle]
pub unsafe extern "C" fn kat_txn_bucket_delete(
    txn: *mut kat_txn,
    b: *mut kat_bucket,
    key: *const u8,
    key_len: usize,
    version: u64,
    err: *mut *mut kat_error,
) -> kat_status {
    // SAFETY: per the contract.
    unsafe {
        boundary(err, || {
            let t = &mut handle_mut(txn, "txn")?.txn;
            let b = bucket_ref(b)?;
            let key = bytes(key, key_len, "key")?;
            let deleted = match version_arg(version) {
                None => b.delete_in(t, key)? > 0,
                Some(v) => b.delete_version_in(t, key, v)?,
            };
            if deleted {
                Ok(())
            } else {
                Err(Error::NotFound)
            }
        })
    }
}
