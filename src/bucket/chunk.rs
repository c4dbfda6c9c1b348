//! Stored chunks: `[encoding byte][body]`. The encoding byte's low bits name the
//! compression (raw, zlib, zstd); bit 7 says the body is sealed (nonce ‖ ciphertext ‖
//! tag) with the bucket key, the chunk's bucket, blob, index and encoding byte bound in
//! as associated data, so a chunk can't be moved, swapped or reordered unnoticed.

use crate::codec::{self, Cipher, Compressor};
use crate::error::Result;

use super::layout::corrupt;

const SEALED: u8 = 0x80;

/// Encodes and decodes the chunks of one bucket.
pub struct ChunkCodec<'a> {
    pub bucket: u64,
    pub cipher: Option<&'a Cipher>,
}

impl ChunkCodec<'_> {
    fn aad(&self, blob: u64, index: u64, tag: u8) -> [u8; 26] {
        let mut a = [0; 26];
        a[0] = b'c';
        a[1..9].copy_from_slice(&self.bucket.to_le_bytes());
        a[9..17].copy_from_slice(&blob.to_le_bytes());
        a[17..25].copy_from_slice(&index.to_le_bytes());
        a[25] = tag;
        a
    }

    /// Replaces `out` with the stored form of chunk `index` of `blob`; `scratch` holds
    /// the compressed form in between.
    pub fn encode(
        &self,
        compressor: &mut Compressor,
        blob: u64,
        index: u64,
        raw: &[u8],
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let (tag, body): (u8, &[u8]) = if compressor.is_none() {
            (codec::TAG_RAW, raw)
        } else {
            let tag = compressor.compress(raw, scratch)?;
            (tag, scratch)
        };
        out.clear();
        match self.cipher {
            None => {
                out.reserve(1 + body.len());
                out.push(tag);
                out.extend_from_slice(body);
            }
            Some(c) => {
                let tag = tag | SEALED;
                out.push(tag);
                c.seal(body, &self.aad(blob, index, tag), out)?;
            }
        }
        Ok(())
    }

    /// Decodes stored chunk `index` of `blob`, which must hold `len` bytes of content,
    /// into `out`, and returns where in `out` the content starts: a raw chunk is taken
    /// over as it is (content from byte 1), anything else is decoded. Any mismatch is
    /// corruption: wrong data is never returned.
    pub fn decode(
        &self,
        blob: u64,
        index: u64,
        stored: Vec<u8>,
        len: usize,
        out: &mut Vec<u8>,
    ) -> Result<usize> {
        let bad = |why: String| corrupt(&format!("chunk {index} of blob {blob}: {why}"));
        let (&tag, body) = stored.split_first().ok_or_else(|| bad("empty".into()))?;
        let opened;
        let body = match (self.cipher, tag & SEALED != 0) {
            (None, false) if tag == codec::TAG_RAW => {
                if body.len() != len {
                    return Err(bad(format!("holds {} bytes, expected {len}", body.len())));
                }
                *out = stored;
                return Ok(1);
            }
            (None, false) => body,
            (Some(c), true) => {
                opened = c
                    .open(body, &self.aad(blob, index, tag))
                    .ok_or_else(|| bad("fails authentication".into()))?;
                &opened[..]
            }
            (None, true) => return Err(bad("sealed, but the bucket is not encrypted".into())),
            (Some(_), false) => return Err(bad("not sealed, but the bucket is encrypted".into())),
        };
        codec::decompress(tag & !SEALED, body, len, out).map_err(bad)?;
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Compression;
    use crate::Error;

    #[test]
    fn chunks_round_trip_and_refuse_tampering() {
        let key = Cipher::new(&[1; 32]).unwrap();
        let data: Vec<u8> = b"abc".iter().cycle().take(10_000).copied().collect();
        for cipher in [None, Some(&key)] {
            for comp in [
                Compression::None,
                Compression::Zlib(1),
                Compression::Zstd(1),
            ] {
                let cc = ChunkCodec { bucket: 1, cipher };
                let mut z = Compressor::new(comp).unwrap();
                let (mut scratch, mut stored, mut out) = (Vec::new(), Vec::new(), Vec::new());
                cc.encode(&mut z, 9, 2, &data, &mut scratch, &mut stored)
                    .unwrap();
                let at = cc
                    .decode(9, 2, stored.clone(), data.len(), &mut out)
                    .unwrap();
                assert_eq!(out[at..], data[..]);
                // Another position, another blob, another bucket: refused when sealed.
                if cipher.is_some() {
                    assert!(cc
                        .decode(9, 3, stored.clone(), data.len(), &mut out)
                        .is_err());
                    assert!(cc
                        .decode(8, 2, stored.clone(), data.len(), &mut out)
                        .is_err());
                    let other = ChunkCodec { bucket: 2, cipher };
                    assert!(other
                        .decode(9, 2, stored.clone(), data.len(), &mut out)
                        .is_err());
                    let plain = ChunkCodec {
                        bucket: 1,
                        cipher: None,
                    };
                    assert!(plain
                        .decode(9, 2, stored.clone(), data.len(), &mut out)
                        .is_err());
                }
                for i in 0..stored.len() {
                    let mut bent = stored.clone();
                    bent[i] ^= 0x10;
                    if cc.decode(9, 2, bent, data.len(), &mut out).is_ok() {
                        // Only an unsealed raw chunk can decode after a flip, and then
                        // the engine's record CRC and the object checksum catch it.
                        assert!(cipher.is_none());
                    }
                }
                assert!(matches!(
                    cc.decode(9, 2, Vec::new(), 0, &mut out),
                    Err(Error::Corruption(_))
                ));
            }
        }
    }
}
