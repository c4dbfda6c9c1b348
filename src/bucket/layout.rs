//! How bucket data is laid out in its internal keyspaces, and the byte encodings of the
//! bucket configuration and object infos. Documented in `docs/FORMAT.md` (Buckets).
//!
//! Per bucket (id `B`), four keyspaces named `\0bucket/B/<tag>`:
//! - `h` heads: object key → head record: the last version number the key was given
//!   and the info of its newest version (none once every version is deleted);
//! - `v` versions: `u32 BE key length ‖ key ‖ u64 BE version` → info (prefix-free, so
//!   one key's versions are one prefix, in version order);
//! - `c` chunks: `u64 BE blob ‖ u64 BE chunk index` → stored chunk;
//! - `u` uploads: `u64 BE blob` → object key, while a streamed upload is in progress.

use std::collections::BTreeMap;

use crate::engine::format::MAX_KEY_LEN;
use crate::error::{Error, Result};

/// Longest object key: its version key must fit the engine's key limit.
pub const MAX_OBJECT_KEY_LEN: usize = MAX_KEY_LEN - 12;
/// Longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 1024;
/// Largest total of metadata keys and values, in bytes.
pub const MAX_METADATA_LEN: usize = 64 * 1024;

const INFO_FORMAT: u8 = 1;
const HEAD_FORMAT: u8 = 2;
const CONFIG_FORMAT: u8 = 1;

/// Name of the keyspace with tag `tag` of bucket `id`.
pub fn keyspace_name(id: u64, tag: char) -> Vec<u8> {
    format!("\0bucket/{id}/{tag}").into_bytes()
}

/// The bucket id a keyspace name of [`keyspace_name`]'s form belongs to.
pub fn keyspace_owner(name: &[u8]) -> Option<u64> {
    let rest = name.strip_prefix(b"\0bucket/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    std::str::from_utf8(&rest[..slash]).ok()?.parse().ok()
}

pub fn version_key(key: &[u8], version: u64) -> Vec<u8> {
    let mut k = version_prefix(key);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// The prefix every version key of `key` starts with, and no other key does.
pub fn version_prefix(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 12);
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k
}

pub fn chunk_key(blob: u64, index: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k[..8].copy_from_slice(&blob.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// What a stored object is: the version, its size and checksum, and what the writer
/// said about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: Vec<u8>,
    /// Version number: increases with every put of the key and is never reused, across
    /// deletes and restarts.
    pub version: u64,
    /// Content length in bytes.
    pub size: u64,
    /// Bytes the content takes in storage after compression and encryption.
    pub stored_size: u64,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
    /// When the version was committed, in ms since the Unix epoch.
    pub created_ms: u64,
    /// Content type the writer gave (may be empty).
    pub content_type: String,
    /// User metadata.
    pub metadata: BTreeMap<String, String>,
    pub(crate) blob: u64,
    pub(crate) chunk_size: u32,
}

impl ObjectInfo {
    /// The content checksum as lower-case hex, as object stores report it.
    pub fn sha256_hex(&self) -> String {
        crate::codec::to_hex(&self.sha256)
    }

    /// Number of stored chunks.
    pub(crate) fn chunks(&self) -> u64 {
        self.size.div_ceil(u64::from(self.chunk_size.max(1)))
    }

    /// Content length of chunk `index`.
    pub(crate) fn chunk_len(&self, index: u64) -> usize {
        let cs = u64::from(self.chunk_size);
        (self.size - index * cs).min(cs) as usize
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(80 + self.content_type.len());
        b.push(INFO_FORMAT);
        for n in [self.version, self.blob, self.size, self.stored_size] {
            b.extend_from_slice(&n.to_le_bytes());
        }
        b.extend_from_slice(&self.sha256);
        b.extend_from_slice(&self.created_ms.to_le_bytes());
        b.extend_from_slice(&self.chunk_size.to_le_bytes());
        put_bytes(&mut b, self.content_type.as_bytes());
        b.extend_from_slice(&(self.metadata.len() as u32).to_le_bytes());
        for (k, v) in &self.metadata {
            put_bytes(&mut b, k.as_bytes());
            put_bytes(&mut b, v.as_bytes());
        }
        b
    }

    pub(crate) fn decode(key: &[u8], bytes: &[u8]) -> Result<ObjectInfo> {
        let mut r = Reader(bytes);
        if r.u8()? != INFO_FORMAT {
            return Err(corrupt("unknown object info format"));
        }
        let version = r.u64()?;
        let blob = r.u64()?;
        let size = r.u64()?;
        let stored_size = r.u64()?;
        let sha256 = r.take(32)?.try_into().expect("32 bytes");
        let created_ms = r.u64()?;
        let chunk_size = r.u32()?;
        let content_type = r.string()?;
        let mut metadata = BTreeMap::new();
        for _ in 0..r.u32()? {
            let k = r.string()?;
            metadata.insert(k, r.string()?);
        }
        if !r.0.is_empty() || chunk_size == 0 || version == 0 {
            return Err(corrupt("malformed object info"));
        }
        Ok(ObjectInfo {
            key: key.to_vec(),
            version,
            size,
            stored_size,
            sha256,
            created_ms,
            content_type,
            metadata,
            blob,
            chunk_size,
        })
    }
}

/// What the heads keyspace holds for a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The highest version number the key was ever given; the next put gets one more,
    /// also after every version was deleted.
    pub last_version: u64,
    pub newest: Option<ObjectInfo>,
}

impl Head {
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![HEAD_FORMAT];
        b.extend_from_slice(&self.last_version.to_le_bytes());
        match &self.newest {
            None => b.push(0),
            Some(info) => {
                b.push(1);
                b.extend_from_slice(&info.encode());
            }
        }
        b
    }

    pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Head> {
        let bad = || corrupt("malformed object head");
        if bytes.len() < 10 || bytes[0] != HEAD_FORMAT {
            return Err(bad());
        }
        let last_version = u64::from_le_bytes(bytes[1..9].try_into().expect("8 bytes"));
        let newest = match bytes[9] {
            0 if bytes.len() == 10 => None,
            1 => Some(ObjectInfo::decode(key, &bytes[10..])?),
            _ => return Err(bad()),
        };
        if newest.as_ref().is_some_and(|i| i.version > last_version) || last_version == 0 {
            return Err(bad());
        }
        Ok(Head {
            last_version,
            newest,
        })
    }
}

/// Checks an object key and what a writer says about the object.
pub fn check_object(
    key: &[u8],
    content_type: &str,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    if key.is_empty() || key.len() > MAX_OBJECT_KEY_LEN {
        return Err(Error::InvalidArgument(format!(
            "object keys are 1 to {MAX_OBJECT_KEY_LEN} bytes"
        )));
    }
    if content_type.len() > MAX_CONTENT_TYPE_LEN {
        return Err(Error::InvalidArgument(format!(
            "content types are at most {MAX_CONTENT_TYPE_LEN} bytes"
        )));
    }
    let meta: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if meta > MAX_METADATA_LEN {
        return Err(Error::InvalidArgument(format!(
            "metadata is at most {MAX_METADATA_LEN} bytes in all"
        )));
    }
    if metadata.keys().any(|k| k.is_empty()) {
        return Err(Error::InvalidArgument(
            "metadata keys must not be empty".into(),
        ));
    }
    Ok(())
}

/// A bucket's stored configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub id: u64,
    pub versioning: bool,
    pub compression: crate::codec::Compression,
    pub chunk_size: u32,
    /// A sealed empty message proving the key, for encrypted buckets.
    pub key_check: Option<Vec<u8>>,
}

impl Config {
    pub fn encode(&self) -> Vec<u8> {
        use crate::codec::Compression;
        let mut b = vec![CONFIG_FORMAT];
        b.extend_from_slice(&self.id.to_le_bytes());
        b.push(u8::from(self.versioning) | if self.key_check.is_some() { 2 } else { 0 });
        let (kind, level) = match self.compression {
            Compression::None => (0u8, 0i32),
            Compression::Zlib(l) => (1, l as i32),
            Compression::Zstd(l) => (2, l),
        };
        b.push(kind);
        b.extend_from_slice(&level.to_le_bytes());
        b.extend_from_slice(&self.chunk_size.to_le_bytes());
        if let Some(check) = &self.key_check {
            put_bytes(&mut b, check);
        }
        b
    }

    pub fn decode(bytes: &[u8]) -> Result<Config> {
        use crate::codec::Compression;
        let mut r = Reader(bytes);
        if r.u8()? != CONFIG_FORMAT {
            return Err(corrupt("unknown bucket configuration format"));
        }
        let id = r.u64()?;
        let flags = r.u8()?;
        let kind = r.u8()?;
        let level = r.i32()?;
        let compression = match kind {
            0 => Compression::None,
            1 => Compression::Zlib(u32::try_from(level).map_err(|_| corrupt("bad zlib level"))?),
            2 => Compression::Zstd(level),
            _ => return Err(corrupt("unknown compression")),
        };
        let chunk_size = r.u32()?;
        let key_check = if flags & 2 != 0 {
            Some(r.bytes()?.to_vec())
        } else {
            None
        };
        if !r.0.is_empty() || flags & !3 != 0 || id == 0 || compression.check().is_err() {
            return Err(corrupt("malformed bucket configuration"));
        }
        super::check_chunk_size(chunk_size).map_err(|_| corrupt("bad chunk size"))?;
        Ok(Config {
            id,
            versioning: flags & 1 != 0,
            compression,
            chunk_size,
            key_check,
        })
    }
}

pub fn corrupt(what: &str) -> Error {
    Error::Corruption(format!("bucket: {what}"))
}

fn put_bytes(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
    b.extend_from_slice(s);
}

/// Reads the little-endian fields written above; running short is corruption.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(corrupt("record ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt("text is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ObjectInfo {
        ObjectInfo {
            key: b"a/b".to_vec(),
            version: 7,
            size: 3_000_000,
            stored_size: 1_000,
            sha256: [9; 32],
            created_ms: 1_700_000_000_000,
            content_type: "text/plain".into(),
            metadata: [("owner".to_string(), "ünïcode".to_string())].into(),
            blob: 5,
            chunk_size: 1 << 20,
        }
    }

    #[test]
    fn info_round_trips_and_every_truncation_is_corruption() {
        let info = sample();
        let enc = info.encode();
        assert_eq!(ObjectInfo::decode(b"a/b", &enc).unwrap(), info);
        assert_eq!(info.chunks(), 3);
        assert_eq!(info.chunk_len(2), 3_000_000 - 2 * (1 << 20));
        for cut in 0..enc.len() {
            assert!(matches!(
                ObjectInfo::decode(b"a/b", &enc[..cut]),
                Err(Error::Corruption(_))
            ));
        }
        let mut longer = enc.clone();
        longer.push(0);
        assert!(ObjectInfo::decode(b"a/b", &longer).is_err());
    }

    #[test]
    fn heads_round_trip_and_refuse_junk() {
        for newest in [None, Some(sample())] {
            let h = Head {
                last_version: 9,
                newest,
            };
            let enc = h.encode();
            assert_eq!(Head::decode(b"a/b", &enc).unwrap(), h);
            for cut in 0..enc.len() {
                assert!(Head::decode(b"a/b", &enc[..cut]).is_err());
            }
        }
        let behind = Head {
            last_version: 3,
            newest: Some(sample()),
        };
        assert!(Head::decode(b"a/b", &behind.encode()).is_err());
    }

    #[test]
    fn config_round_trips() {
        use crate::codec::Compression;
        for (compression, key_check) in [
            (Compression::None, None),
            (Compression::Zlib(9), Some(vec![1; 40])),
            (Compression::Zstd(19), None),
        ] {
            let c = Config {
                id: 3,
                versioning: key_check.is_none(),
                compression,
                chunk_size: 65536,
                key_check,
            };
            let enc = c.encode();
            assert_eq!(Config::decode(&enc).unwrap(), c);
            for cut in 0..enc.len() {
                assert!(Config::decode(&enc[..cut]).is_err());
            }
        }
    }

    #[test]
    fn version_keys_of_different_objects_never_share_a_prefix() {
        let a = version_prefix(b"a");
        let a0 = version_key(b"a\0", 1);
        assert!(!a0.starts_with(&a));
        assert!(version_key(b"a", u64::MAX).starts_with(&a));
        assert_eq!(keyspace_owner(&keyspace_name(42, 'h')), Some(42));
        assert_eq!(keyspace_owner(b"user"), None);
    }
}
