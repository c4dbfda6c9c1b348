//! Buckets: versioned objects with metadata, content checksums, per-chunk compression,
//! optional encryption at rest and streaming, stored in internal keyspaces so they can
//! never collide with user keys and one transaction can span KV and bucket operations.
//!
//! An object version is a list of chunks plus an info record. Chunks are written first
//! (by a streamed upload, in their own unsynced commits, under an upload record); the
//! version becomes visible only when the commit writing its info (and removing the
//! upload record) lands. An upload that never commits is cleaned up by its writer, by
//! the aborting transaction, or at the next open from its upload record.

mod chunk;
mod layout;
mod stream;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::codec::{Cipher, Compressor};
use crate::engine::format::{OpRef, RecordKind};
use crate::iter::IterOptions;
use crate::txn::retry;
use crate::{Db, Error, Result, Txn, TxnOptions};

pub use crate::codec::Compression;
pub use layout::{ObjectInfo, MAX_CONTENT_TYPE_LEN, MAX_METADATA_LEN, MAX_OBJECT_KEY_LEN};
pub use stream::{BlobReader, BlobWriter};

use chunk::ChunkCodec;
use layout::{chunk_key, corrupt, keyspace_name, version_key, version_prefix, Config, Head};

/// The internal keyspace holding the bucket catalog: `name:<name>` → configuration,
/// `next` → the next bucket id (u64 LE), `ids:<id u64 BE>` → how far that bucket's
/// version and blob numbers are reserved (u64 LE).
const CATALOG: &[u8] = b"\0buckets";
const NAME_PREFIX: &[u8] = b"name:";
const NEXT_KEY: &[u8] = b"next";
const IDS_PREFIX: &[u8] = b"ids:";

/// Chunk size of a new bucket.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 20;
pub const MIN_CHUNK_SIZE: u32 = 4 << 10;
pub const MAX_CHUNK_SIZE: u32 = 64 << 20;
/// Longest bucket name.
pub const MAX_BUCKET_NAME_LEN: usize = 255;
/// Version and blob numbers reserved per catalog write.
const ID_BLOCK: u64 = 4096;

pub(crate) fn check_chunk_size(n: u32) -> Result<()> {
    if (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&n) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "chunk sizes run from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE} bytes"
        )))
    }
}

/// How to open (or create) a bucket. Unset settings keep the bucket's stored ones (or
/// the defaults for a new bucket); a set one that differs is stored for later writes.
#[derive(Clone, Default)]
pub struct BucketOptions {
    versioning: Option<bool>,
    compression: Option<Compression>,
    chunk_size: Option<u32>,
    key: Option<Vec<u8>>,
}

impl std::fmt::Debug for BucketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketOptions")
            .field("versioning", &self.versioning)
            .field("compression", &self.compression)
            .field("chunk_size", &self.chunk_size)
            .field("encrypted", &self.key.is_some())
            .finish()
    }
}

impl BucketOptions {
    /// Keep every version (default) or let a put replace the object.
    pub fn versioning(mut self, on: bool) -> Self {
        self.versioning = Some(on);
        self
    }
    /// How later writes compress their chunks (default: none).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = Some(c);
        self
    }
    /// Chunk size of later writes, [`MIN_CHUNK_SIZE`] to [`MAX_CHUNK_SIZE`] (default
    /// [`DEFAULT_CHUNK_SIZE`]). Streaming memory is bounded by about two chunks.
    pub fn chunk_size(mut self, bytes: u32) -> Self {
        self.chunk_size = Some(bytes);
        self
    }
    /// The 32-byte key of an encrypted bucket: a new bucket is created encrypted with
    /// it; an existing encrypted bucket needs it ([`Error::AuthFailed`] when wrong).
    pub fn encryption_key(mut self, key: &[u8]) -> Self {
        self.key = Some(key.to_vec());
        self
    }
}

/// What a writer says about a new object version.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
    /// When set, the put fails with [`Error::InvalidArgument`] and stores nothing unless
    /// the content's SHA-256 is this.
    pub expected_sha256: Option<[u8; 32]>,
}

impl PutOptions {
    pub fn content_type(mut self, ct: &str) -> Self {
        self.content_type = ct.to_string();
        self
    }
    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }
    pub fn expected_sha256(mut self, sum: [u8; 32]) -> Self {
        self.expected_sha256 = Some(sum);
        self
    }
}

/// Version and blob numbers of the open buckets of one database, shared by all handles
/// on a bucket.
#[derive(Default)]
pub(crate) struct Registry {
    ids: Mutex<HashMap<u64, Arc<Mutex<IdRange>>>>,
}

/// Numbers handed out from a reserved block: `next` up to `until` (exclusive), with
/// `until` stored before any number below it is used, so none repeats after a restart.
#[derive(Default)]
struct IdRange {
    next: u64,
    until: u64,
    loaded: bool,
}

/// A handle on one bucket. Cheap to clone and safe to share between threads. A handle
/// writes with the settings in force when it was opened.
#[derive(Clone)]
pub struct Bucket {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    name: Vec<u8>,
    config: Config,
    cipher: Option<Cipher>,
    catalog: u32,
    heads: u32,
    versions: u32,
    chunks: u32,
    uploads: u32,
    ids: Arc<Mutex<IdRange>>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("name", &String::from_utf8_lossy(&self.inner.name))
            .field("id", &self.inner.config.id)
            .finish()
    }
}

fn check_bucket_name(name: &[u8]) -> Result<()> {
    if name.is_empty() || name.len() > MAX_BUCKET_NAME_LEN {
        return Err(Error::InvalidArgument(format!(
            "bucket names are 1 to {MAX_BUCKET_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

fn catalog_name_key(name: &[u8]) -> Vec<u8> {
    [NAME_PREFIX, name].concat()
}

fn key_check_aad(id: u64) -> Vec<u8> {
    [&b"katamari bucket key"[..], &id.to_le_bytes()].concat()
}

fn u64_le(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

impl Db {
    fn bucket_catalog(&self, create: bool) -> Result<Option<u32>> {
        self.with(|e| e.keyspace(CATALOG, create))
    }

    /// Opens bucket `name` (1 to 255 bytes), creating it with `opts` if missing.
    pub fn bucket(&self, name: &[u8], opts: &BucketOptions) -> Result<Bucket> {
        check_bucket_name(name)?;
        if let Some(c) = opts.compression {
            c.check()?;
        }
        if let Some(n) = opts.chunk_size {
            check_chunk_size(n)?;
        }
        let cipher = opts.key.as_deref().map(Cipher::new).transpose()?;
        let catalog = self.bucket_catalog(true)?.expect("created");
        let config = retry(self, |tx| {
            let name_key = catalog_name_key(name);
            let (mut config, mut changed) = match tx.get_ks(catalog, &name_key)? {
                Some(bytes) => (Config::decode(&bytes)?, false),
                None => {
                    let id = match tx.get_ks(catalog, NEXT_KEY)? {
                        Some(v) => u64_le(&v).ok_or_else(|| corrupt("bad next bucket id"))?,
                        None => 1,
                    };
                    tx.put_ks(catalog, NEXT_KEY, &(id + 1).to_le_bytes(), 0)?;
                    let key_check = match &cipher {
                        Some(c) => {
                            let mut sealed = Vec::new();
                            c.seal(&[], &key_check_aad(id), &mut sealed)?;
                            Some(sealed)
                        }
                        None => None,
                    };
                    let config = Config {
                        id,
                        versioning: true,
                        compression: Compression::None,
                        chunk_size: DEFAULT_CHUNK_SIZE,
                        key_check,
                    };
                    (config, true)
                }
            };
            match (&config.key_check, &cipher) {
                (Some(check), Some(c)) => {
                    if c.open(check, &key_check_aad(config.id)).is_none() {
                        return Err(Error::AuthFailed);
                    }
                }
                (Some(_), None) => {
                    return Err(Error::InvalidArgument(
                        "the bucket is encrypted: open it with its key".into(),
                    ))
                }
                (None, Some(_)) => {
                    return Err(Error::InvalidArgument(
                        "the bucket was created without encryption".into(),
                    ))
                }
                (None, None) => {}
            }
            let before = config.clone();
            config.versioning = opts.versioning.unwrap_or(config.versioning);
            config.compression = opts.compression.unwrap_or(config.compression);
            config.chunk_size = opts.chunk_size.unwrap_or(config.chunk_size);
            changed |= config != before;
            if changed {
                tx.put_ks(catalog, &name_key, &config.encode(), 0)?;
            }
            Ok(config)
        })?;
        let space = |tag| {
            self.with(|e| e.keyspace(&keyspace_name(config.id, tag), true))
                .map(|id| id.expect("created"))
        };
        let (heads, versions, chunks, uploads) =
            (space('h')?, space('v')?, space('c')?, space('u')?);
        let ids = self
            .shared
            .buckets
            .ids
            .lock()
            .entry(config.id)
            .or_default()
            .clone();
        Ok(Bucket {
            inner: Arc::new(Inner {
                db: self.clone(),
                name: name.to_vec(),
                config,
                cipher,
                catalog,
                heads,
                versions,
                chunks,
                uploads,
                ids,
            }),
        })
    }

    /// Drops bucket `name` and every object in it ([`Error::NotFound`] if there is no
    /// such bucket). Handles on it fail from then on; its space is reclaimed by merge.
    pub fn drop_bucket(&self, name: &[u8]) -> Result<()> {
        check_bucket_name(name)?;
        let Some(catalog) = self.bucket_catalog(false)? else {
            return Err(Error::NotFound);
        };
        let config = retry(self, |tx| {
            let key = catalog_name_key(name);
            let config = Config::decode(&tx.get_ks(catalog, &key)?.ok_or(Error::NotFound)?)?;
            tx.delete_ks(catalog, &key)?;
            Ok(config)
        })?;
        // The catalog entry is gone: from here the keyspaces are orphans, and an open
        // that finds them (after a crash right here) finishes the drop.
        self.drop_bucket_spaces(config.id)
    }

    fn drop_bucket_spaces(&self, id: u64) -> Result<()> {
        for tag in ['h', 'v', 'c', 'u'] {
            match self.with(|e| e.drop_keyspace(&keyspace_name(id, tag))) {
                Ok(()) | Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        self.shared.buckets.ids.lock().remove(&id);
        Ok(())
    }

    /// Names of the buckets, sorted.
    pub fn buckets(&self) -> Result<Vec<Vec<u8>>> {
        let Some(catalog) = self.bucket_catalog(false)? else {
            return Ok(Vec::new());
        };
        let mut it = self.begin_with(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })?;
        let mut iter = it.iter_ks(catalog, &IterOptions::prefix(NAME_PREFIX))?;
        let mut names = Vec::new();
        while let Some((k, _)) = iter.next_entry()? {
            names.push(k[NAME_PREFIX.len()..].to_vec());
        }
        Ok(names)
    }
}

/// Finishes what a crash interrupted: drops the keyspaces of dropped buckets and
/// removes the chunks of uploads that never committed. Runs when a database opens.
pub(crate) fn recover(db: &Db) -> Result<()> {
    let Some(catalog) = db.bucket_catalog(false)? else {
        return Ok(());
    };
    let mut configs = Vec::new();
    {
        let mut tx = db.begin_with(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })?;
        let mut iter = tx.iter_ks(catalog, &IterOptions::prefix(NAME_PREFIX))?;
        while let Some((_, v)) = iter.next_entry()? {
            configs.push(Config::decode(v)?);
        }
    }
    let live: std::collections::HashSet<u64> = configs.iter().map(|c| c.id).collect();
    let orphans: std::collections::BTreeSet<u64> = db
        .with(|e| Ok(e.keyspace_names()))?
        .iter()
        .filter_map(|n| layout::keyspace_owner(n))
        .filter(|id| !live.contains(id))
        .collect();
    for id in orphans {
        db.drop_bucket_spaces(id)?;
    }
    for config in configs {
        let space = |tag| db.with(|e| e.keyspace(&keyspace_name(config.id, tag), false));
        let (Some(uploads), Some(chunks)) = (space('u')?, space('c')?) else {
            continue;
        };
        let all = (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded);
        let pending = db.with(|e| e.scan(uploads, all, u64::MAX, false, usize::MAX))?;
        for (blob, _) in pending {
            let blob = u64::from_be_bytes(
                blob.as_slice()
                    .try_into()
                    .map_err(|_| corrupt("bad upload record"))?,
            );
            discard_upload(db, uploads, chunks, blob, None)?;
        }
    }
    Ok(())
}

/// Deletes the chunks of an upload that will not commit, and its upload record: the
/// first `written` chunks, or (unknown after a crash) every chunk from 0 up to the first
/// missing one, which is all of them since the log keeps commits in order.
fn discard_upload(
    db: &Db,
    uploads: u32,
    chunks: u32,
    blob: u64,
    written: Option<u64>,
) -> Result<()> {
    const PER_BATCH: u64 = 1024;
    let mut index = 0u64;
    loop {
        let keys: Vec<[u8; 16]> = db.with(|e| {
            let mut keys = Vec::new();
            while keys.len() < PER_BATCH as usize {
                let k = chunk_key(blob, index);
                let exists = match written {
                    Some(n) => index < n,
                    None => e.contains(chunks, &k)?,
                };
                if !exists {
                    break;
                }
                keys.push(k);
                index += 1;
            }
            Ok(keys)
        })?;
        let last = (keys.len() as u64) < PER_BATCH;
        let blob_key = blob.to_be_bytes();
        let mut ops: Vec<OpRef<'_>> = keys
            .iter()
            .map(|k| OpRef {
                keyspace: chunks,
                kind: RecordKind::Delete,
                key: k,
                value: &[],
                expires_at: 0,
            })
            .collect();
        if last {
            ops.push(OpRef {
                keyspace: uploads,
                kind: RecordKind::Delete,
                key: &blob_key,
                value: &[],
                expires_at: 0,
            });
        }
        db.with(|e| e.write_unsynced(&ops))?;
        if last {
            return Ok(());
        }
    }
}

impl Bucket {
    /// The bucket's name.
    pub fn name(&self) -> &[u8] {
        &self.inner.name
    }
    /// Whether a put keeps the older versions.
    pub fn versioning(&self) -> bool {
        self.inner.config.versioning
    }
    /// How this handle compresses chunks.
    pub fn compression(&self) -> Compression {
        self.inner.config.compression
    }
    /// The chunk size of this handle's writes.
    pub fn chunk_size(&self) -> u32 {
        self.inner.config.chunk_size
    }
    /// Whether the bucket is encrypted at rest.
    pub fn encrypted(&self) -> bool {
        self.inner.cipher.is_some()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    fn codec(&self) -> ChunkCodec<'_> {
        ChunkCodec {
            bucket: self.inner.config.id,
            cipher: self.inner.cipher.as_ref(),
        }
    }

    fn compressor(&self) -> Result<Compressor> {
        Compressor::new(self.inner.config.compression)
    }

    /// Fails once the bucket has been dropped.
    fn live(&self) -> Result<()> {
        self.inner
            .db
            .with(|e| e.check_keyspace(self.inner.heads))
            .map_err(|e| match e {
                Error::InvalidArgument(_) => {
                    Error::InvalidArgument("the bucket was dropped".into())
                }
                other => other,
            })
    }

    fn check_txn(&self, tx: &Txn) -> Result<()> {
        if tx.db().same(&self.inner.db) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(
                "the transaction belongs to another database".into(),
            ))
        }
    }

    /// The next version or blob number.
    fn next_id(&self) -> Result<u64> {
        let inner = &*self.inner;
        let mut ids = inner.ids.lock();
        let key = [IDS_PREFIX, &inner.config.id.to_be_bytes()].concat();
        if !ids.loaded {
            let stored = inner.db.with(|e| e.get(inner.catalog, &key))?;
            let from = match stored {
                Some(v) => u64_le(&v).ok_or_else(|| corrupt("bad reserved id"))?,
                None => 1,
            };
            *ids = IdRange {
                next: from,
                until: from,
                loaded: true,
            };
        }
        if ids.next >= ids.until {
            let until = ids.next.checked_add(ID_BLOCK).ok_or_else(|| {
                Error::InvalidArgument("the bucket has used up its version numbers".into())
            })?;
            inner.db.with(|e| {
                e.write(&[OpRef {
                    keyspace: inner.catalog,
                    kind: RecordKind::Put,
                    key: &key,
                    value: &until.to_le_bytes(),
                    expires_at: 0,
                }])
            })?;
            ids.until = until;
        }
        let id = ids.next;
        ids.next += 1;
        Ok(id)
    }

    fn aad(&self, kind: u8, key: &[u8]) -> Vec<u8> {
        let mut a = Vec::with_capacity(9 + key.len());
        a.push(kind);
        a.extend_from_slice(&self.inner.config.id.to_le_bytes());
        a.extend_from_slice(key);
        a
    }

    /// The stored form of an info record under `record_key` of kind `h` or `v`.
    fn seal_info(&self, kind: u8, record_key: &[u8], info: &ObjectInfo) -> Result<Vec<u8>> {
        let plain = info.encode();
        match &self.inner.cipher {
            None => Ok(plain),
            Some(c) => {
                let mut out = Vec::new();
                c.seal(&plain, &self.aad(kind, record_key), &mut out)?;
                Ok(out)
            }
        }
    }

    fn open_info(
        &self,
        kind: u8,
        record_key: &[u8],
        key: &[u8],
        stored: &[u8],
    ) -> Result<ObjectInfo> {
        let plain;
        let bytes = match &self.inner.cipher {
            None => stored,
            Some(c) => {
                plain = c
                    .open(stored, &self.aad(kind, record_key))
                    .ok_or_else(|| corrupt("object info fails authentication"))?;
                &plain[..]
            }
        };
        ObjectInfo::decode(key, bytes)
    }

    /// The head record of `key`: its newest version and the last version number ever
    /// given to it (which outlives deletes, so numbers never repeat).
    fn read_head(&self, tx: &mut Txn, key: &[u8]) -> Result<Option<Head>> {
        let Some(stored) = tx.get_ks(self.inner.heads, key)? else {
            return Ok(None);
        };
        let plain;
        let bytes = match &self.inner.cipher {
            None => &stored[..],
            Some(c) => {
                plain = c
                    .open(&stored, &self.aad(b'h', key))
                    .ok_or_else(|| corrupt("object head fails authentication"))?;
                &plain[..]
            }
        };
        Head::decode(key, bytes).map(Some)
    }

    fn write_head(&self, tx: &mut Txn, key: &[u8], head: &Head) -> Result<()> {
        let plain = head.encode();
        let stored = match &self.inner.cipher {
            None => plain,
            Some(c) => {
                let mut out = Vec::new();
                c.seal(&plain, &self.aad(b'h', key), &mut out)?;
                out
            }
        };
        tx.put_ks(self.inner.heads, key, &stored, 0)
    }

    // ---- the operations, on a transaction's view ----

    fn head_tx(
        &self,
        tx: &mut Txn,
        key: &[u8],
        version: Option<u64>,
    ) -> Result<Option<ObjectInfo>> {
        self.live()?;
        let info = match version {
            None => match self.read_head(tx, key)?.and_then(|h| h.newest) {
                Some(info) => info,
                None => return Ok(None),
            },
            Some(version) => {
                let vk = version_key(key, version);
                match tx.get_ks(self.inner.versions, &vk)? {
                    Some(v) => self.open_info(b'v', &vk, key, &v)?,
                    None => return Ok(None),
                }
            }
        };
        if version.is_some_and(|v| v != info.version) {
            return Err(corrupt("version record names another version"));
        }
        Ok(Some(info))
    }

    fn versions_tx(&self, tx: &mut Txn, key: &[u8]) -> Result<Vec<ObjectInfo>> {
        self.live()?;
        let prefix = version_prefix(key);
        let mut iter = tx.iter_ks(self.inner.versions, &IterOptions::prefix(&prefix))?;
        let mut out = Vec::new();
        while let Some((vk, v)) = iter.next_entry()? {
            let info = self.open_info(b'v', vk, key, v)?;
            if vk[prefix.len()..] != info.version.to_be_bytes() {
                return Err(corrupt("version record names another version"));
            }
            out.push(info);
        }
        Ok(out)
    }

    fn list_tx(
        &self,
        tx: &mut Txn,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>> {
        self.live()?;
        let mut opts = IterOptions::prefix(prefix);
        if let Some(after) = after {
            opts.start = Some([after, &[0]].concat());
        }
        let mut iter = tx.iter_ks(self.inner.heads, &opts)?;
        let mut out = Vec::new();
        while limit == 0 || out.len() < limit {
            let Some((k, v)) = iter.next_entry()? else {
                break;
            };
            let plain;
            let bytes = match &self.inner.cipher {
                None => v,
                Some(c) => {
                    plain = c
                        .open(v, &self.aad(b'h', k))
                        .ok_or_else(|| corrupt("object head fails authentication"))?;
                    &plain[..]
                }
            };
            // A key whose versions are all deleted keeps its head, without a newest.
            if let Some(info) = Head::decode(k, bytes)?.newest {
                out.push(info);
            }
        }
        Ok(out)
    }

    /// Reads and checks the whole content of `info` through `tx`.
    fn read_tx(&self, tx: &mut Txn, info: &ObjectInfo) -> Result<Vec<u8>> {
        use sha2::Digest;
        let codec = self.codec();
        let mut data = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
        let mut chunk = Vec::new();
        for index in 0..info.chunks() {
            let stored = tx
                .get_ks(self.inner.chunks, &chunk_key(info.blob, index))?
                .ok_or_else(|| {
                    corrupt(&format!("chunk {index} of blob {} is missing", info.blob))
                })?;
            let at = codec.decode(info.blob, index, stored, info.chunk_len(index), &mut chunk)?;
            data.extend_from_slice(&chunk[at..]);
        }
        if <[u8; 32]>::from(sha2::Sha256::digest(&data)) != info.sha256 {
            return Err(corrupt("content does not match its SHA-256"));
        }
        Ok(data)
    }

    /// Deletes the records of one version: its info and its chunks.
    fn delete_version_records(&self, tx: &mut Txn, info: &ObjectInfo) -> Result<()> {
        tx.delete_ks(self.inner.versions, &version_key(&info.key, info.version))?;
        for index in 0..info.chunks() {
            tx.delete_ks(self.inner.chunks, &chunk_key(info.blob, index))?;
        }
        Ok(())
    }

    /// Makes `info` (whose chunks are written) the newest version of its key in `tx`.
    fn add_version_tx(&self, tx: &mut Txn, mut info: ObjectInfo) -> Result<ObjectInfo> {
        if !self.inner.config.versioning {
            for old in self.versions_tx(tx, &info.key)? {
                self.delete_version_records(tx, &old)?;
            }
        }
        let last = self.read_head(tx, &info.key)?.map_or(0, |h| h.last_version);
        info.version = last.checked_add(1).ok_or_else(|| {
            Error::InvalidArgument("the key has used up its version numbers".into())
        })?;
        info.created_ms = self.inner.db.with(|e| Ok(e.now()))?;
        let vk = version_key(&info.key, info.version);
        let sealed = self.seal_info(b'v', &vk, &info)?;
        tx.put_ks(self.inner.versions, &vk, &sealed, 0)?;
        let head = Head {
            last_version: info.version,
            newest: Some(info.clone()),
        };
        self.write_head(tx, &info.key, &head)?;
        Ok(info)
    }

    fn delete_tx(&self, tx: &mut Txn, key: &[u8]) -> Result<usize> {
        let all = self.versions_tx(tx, key)?;
        for info in &all {
            self.delete_version_records(tx, info)?;
        }
        if let Some(head) = self.read_head(tx, key)? {
            if head.newest.is_some() {
                let marker = Head {
                    last_version: head.last_version,
                    newest: None,
                };
                self.write_head(tx, key, &marker)?;
            }
        }
        Ok(all.len())
    }

    fn delete_version_tx(&self, tx: &mut Txn, key: &[u8], version: u64) -> Result<bool> {
        let Some(info) = self.head_tx(tx, key, Some(version))? else {
            return Ok(false);
        };
        self.delete_version_records(tx, &info)?;
        let head = self
            .read_head(tx, key)?
            .ok_or_else(|| corrupt("a version without a head record"))?;
        if head.newest.as_ref().is_some_and(|h| h.version == version) {
            let head = Head {
                last_version: head.last_version,
                newest: self.versions_tx(tx, key)?.pop(),
            };
            self.write_head(tx, key, &head)?;
        }
        Ok(true)
    }

    /// Encodes `data` as the chunks of a new blob, in memory.
    fn encode_all(&self, data: &[u8], opts: &PutOptions) -> Result<(ObjectInfo, Vec<Vec<u8>>)> {
        use sha2::Digest;
        let sha256: [u8; 32] = sha2::Sha256::digest(data).into();
        check_expected(opts, &sha256)?;
        let blob = self.next_id()?;
        let cs = self.inner.config.chunk_size as usize;
        let mut z = self.compressor()?;
        let codec = self.codec();
        let mut scratch = Vec::new();
        let mut chunks = Vec::new();
        for (index, raw) in data.chunks(cs).enumerate() {
            let mut stored = Vec::new();
            codec.encode(&mut z, blob, index as u64, raw, &mut scratch, &mut stored)?;
            chunks.push(stored);
        }
        let info = ObjectInfo {
            key: Vec::new(),
            version: 0,
            size: data.len() as u64,
            stored_size: chunks.iter().map(|c| c.len() as u64).sum(),
            sha256,
            created_ms: 0,
            content_type: opts.content_type.clone(),
            metadata: opts.metadata.clone(),
            blob,
            chunk_size: self.inner.config.chunk_size,
        };
        Ok((info, chunks))
    }

    fn stage_put(
        &self,
        tx: &mut Txn,
        key: &[u8],
        info: &ObjectInfo,
        chunks: &[Vec<u8>],
    ) -> Result<ObjectInfo> {
        for (index, stored) in chunks.iter().enumerate() {
            tx.put_ks(
                self.inner.chunks,
                &chunk_key(info.blob, index as u64),
                stored,
                0,
            )?;
        }
        let info = ObjectInfo {
            key: key.to_vec(),
            ..info.clone()
        };
        self.add_version_tx(tx, info)
    }

    // ---- one-shot operations ----

    /// Stores `data` as a new version of `key` (replacing the object when versioning is
    /// off) and returns its info. Durable on return per the database's sync mode.
    pub fn put(&self, key: &[u8], data: &[u8], opts: &PutOptions) -> Result<ObjectInfo> {
        layout::check_object(key, &opts.content_type, &opts.metadata)?;
        self.live()?;
        if data.len() > self.inner.config.chunk_size as usize {
            // Larger objects go through a streamed upload, so memory stays bounded by
            // the chunk size rather than growing with a copy of the whole object.
            let mut w = self.writer(key, opts)?;
            w.write(data)?;
            return w.commit();
        }
        let (info, chunks) = self.encode_all(data, opts)?;
        retry(&self.inner.db, |tx| self.stage_put(tx, key, &info, &chunks))
    }

    /// The newest version of `key` with its content (checked against its SHA-256).
    pub fn get(&self, key: &[u8]) -> Result<Option<(ObjectInfo, Vec<u8>)>> {
        self.read_view(|b, tx| b.get_in_view(tx, key, None))
    }

    /// Version `version` of `key` with its content.
    pub fn get_version(&self, key: &[u8], version: u64) -> Result<Option<(ObjectInfo, Vec<u8>)>> {
        self.read_view(|b, tx| b.get_in_view(tx, key, Some(version)))
    }

    fn get_in_view(
        &self,
        tx: &mut Txn,
        key: &[u8],
        version: Option<u64>,
    ) -> Result<Option<(ObjectInfo, Vec<u8>)>> {
        match self.head_tx(tx, key, version)? {
            Some(info) => {
                let data = self.read_tx(tx, &info)?;
                Ok(Some((info, data)))
            }
            None => Ok(None),
        }
    }

    /// The info of the newest version of `key`, without its content.
    pub fn head(&self, key: &[u8]) -> Result<Option<ObjectInfo>> {
        self.read_view(|b, tx| b.head_tx(tx, key, None))
    }

    /// The info of version `version` of `key`.
    pub fn head_version(&self, key: &[u8], version: u64) -> Result<Option<ObjectInfo>> {
        self.read_view(|b, tx| b.head_tx(tx, key, Some(version)))
    }

    /// Up to `limit` objects (0: no limit) whose keys start with `prefix` and sort after
    /// `after`, in key order, each with the info of its newest version.
    pub fn list(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>> {
        self.read_view(|b, tx| b.list_tx(tx, prefix, after, limit))
    }

    /// Every stored version of `key`, oldest first.
    pub fn versions(&self, key: &[u8]) -> Result<Vec<ObjectInfo>> {
        self.read_view(|b, tx| b.versions_tx(tx, key))
    }

    /// Deletes every version of `key`; returns how many there were.
    pub fn delete(&self, key: &[u8]) -> Result<usize> {
        retry(&self.inner.db, |tx| self.delete_tx(tx, key))
    }

    /// Deletes version `version` of `key`; `false` if there is no such version. When it
    /// was the newest, the next older version becomes the newest.
    pub fn delete_version(&self, key: &[u8], version: u64) -> Result<bool> {
        retry(&self.inner.db, |tx| {
            self.delete_version_tx(tx, key, version)
        })
    }

    /// A streamed upload of a new version of `key`: write its content in pieces, then
    /// commit (or abort). Memory stays bounded by about two chunks whatever the size.
    pub fn writer(&self, key: &[u8], opts: &PutOptions) -> Result<BlobWriter> {
        layout::check_object(key, &opts.content_type, &opts.metadata)?;
        self.live()?;
        BlobWriter::start(self.clone(), key, opts.clone())
    }

    /// A streaming reader of the newest version of `key` (or of `version`), on a
    /// snapshot taken now: later writes and deletes do not disturb it.
    pub fn reader(&self, key: &[u8], version: Option<u64>) -> Result<Option<BlobReader>> {
        let mut tx = self.inner.db.begin_with(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })?;
        match self.head_tx(&mut tx, key, version)? {
            Some(info) => BlobReader::new(self.clone(), tx, info).map(Some),
            None => Ok(None),
        }
    }

    fn read_view<T>(&self, f: impl FnOnce(&Self, &mut Txn) -> Result<T>) -> Result<T> {
        let mut tx = self.inner.db.begin_with(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })?;
        f(self, &mut tx)
    }

    // ---- inside a transaction ----

    /// [`Bucket::put`] as part of `tx`: visible to others when `tx` commits. The
    /// content is held in the transaction until then.
    pub fn put_in(
        &self,
        tx: &mut Txn,
        key: &[u8],
        data: &[u8],
        opts: &PutOptions,
    ) -> Result<ObjectInfo> {
        self.check_txn(tx)?;
        layout::check_object(key, &opts.content_type, &opts.metadata)?;
        self.live()?;
        let (info, chunks) = self.encode_all(data, opts)?;
        self.stage_put(tx, key, &info, &chunks)
    }

    /// [`Bucket::get`] in `tx`'s view (its snapshot plus its own writes).
    pub fn get_in(
        &self,
        tx: &mut Txn,
        key: &[u8],
        version: Option<u64>,
    ) -> Result<Option<(ObjectInfo, Vec<u8>)>> {
        self.check_txn(tx)?;
        self.get_in_view(tx, key, version)
    }

    /// [`Bucket::head`] in `tx`'s view.
    pub fn head_in(
        &self,
        tx: &mut Txn,
        key: &[u8],
        version: Option<u64>,
    ) -> Result<Option<ObjectInfo>> {
        self.check_txn(tx)?;
        self.head_tx(tx, key, version)
    }

    /// [`Bucket::list`] in `tx`'s view.
    pub fn list_in(
        &self,
        tx: &mut Txn,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<ObjectInfo>> {
        self.check_txn(tx)?;
        self.list_tx(tx, prefix, after, limit)
    }

    /// [`Bucket::versions`] in `tx`'s view.
    pub fn versions_in(&self, tx: &mut Txn, key: &[u8]) -> Result<Vec<ObjectInfo>> {
        self.check_txn(tx)?;
        self.versions_tx(tx, key)
    }

    /// [`Bucket::delete`] as part of `tx`.
    pub fn delete_in(&self, tx: &mut Txn, key: &[u8]) -> Result<usize> {
        self.check_txn(tx)?;
        self.delete_tx(tx, key)
    }

    /// [`Bucket::delete_version`] as part of `tx`.
    pub fn delete_version_in(&self, tx: &mut Txn, key: &[u8], version: u64) -> Result<bool> {
        self.check_txn(tx)?;
        self.delete_version_tx(tx, key, version)
    }
}

fn check_expected(opts: &PutOptions, actual: &[u8; 32]) -> Result<()> {
    match &opts.expected_sha256 {
        Some(want) if want != actual => Err(Error::InvalidArgument(format!(
            "content SHA-256 is {}, not the expected {}",
            crate::codec::to_hex(actual),
            crate::codec::to_hex(want)
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;

    /// A chunk replaced by another valid chunk (intact record, wrong content) is caught
    /// by the content checksum, on a whole read and on a streamed one.
    #[test]
    fn content_that_does_not_match_its_checksum_is_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default().sync(crate::SyncMode::Never)).unwrap();
        let b = db
            .bucket(b"b", &BucketOptions::default().chunk_size(MIN_CHUNK_SIZE))
            .unwrap();
        let body = vec![7u8; 2 * MIN_CHUNK_SIZE as usize];
        let info = b.put(b"k", &body, &PutOptions::default()).unwrap();
        let mut z = b.compressor().unwrap();
        let (mut scratch, mut forged) = (Vec::new(), Vec::new());
        let other = vec![8u8; MIN_CHUNK_SIZE as usize];
        b.codec()
            .encode(&mut z, info.blob, 1, &other, &mut scratch, &mut forged)
            .unwrap();
        db.with(|e| {
            e.write(&[OpRef {
                keyspace: b.inner.chunks,
                kind: RecordKind::Put,
                key: &chunk_key(info.blob, 1),
                value: &forged,
                expires_at: 0,
            }])
        })
        .unwrap();
        assert!(matches!(b.get(b"k"), Err(Error::Corruption(_))));
        let mut r = b.reader(b"k", None).unwrap().unwrap();
        let mut buf = vec![0; body.len()];
        assert_eq!(r.read(&mut buf).unwrap(), MIN_CHUNK_SIZE as usize);
        assert!(matches!(r.read(&mut buf), Err(Error::Corruption(_))));
        // Seeking past the check does not bring the forged bytes back either.
        r.seek_to(MIN_CHUNK_SIZE as u64).unwrap();
        assert!(matches!(r.read(&mut buf), Err(Error::Corruption(_))));
    }
}
