//! Per-chunk compression: none, zlib or zstd, with incompressible data kept raw.

use std::io::{Read, Write};

use crate::error::{Error, Result};

/// How chunks are compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// Stored as written.
    #[default]
    None,
    /// zlib (RFC 1950) at level 0 to 9.
    Zlib(u32),
    /// zstd at level 1 to 22.
    Zstd(i32),
}

/// Tags naming how one stored chunk is encoded.
pub const TAG_RAW: u8 = 0;
pub const TAG_ZLIB: u8 = 1;
pub const TAG_ZSTD: u8 = 2;

impl Compression {
    /// Fails unless the level is one the codec accepts.
    pub fn check(self) -> Result<()> {
        match self {
            Compression::None => Ok(()),
            Compression::Zlib(l) if l <= 9 => Ok(()),
            Compression::Zstd(l) if (1..=22).contains(&l) => Ok(()),
            Compression::Zlib(_) => {
                Err(Error::InvalidArgument("zlib levels run from 0 to 9".into()))
            }
            Compression::Zstd(_) => Err(Error::InvalidArgument(
                "zstd levels run from 1 to 22".into(),
            )),
        }
    }
}

/// Compresses chunks with one codec, reusing its state between chunks.
pub struct Compressor {
    kind: Compression,
    zstd: Option<zstd::bulk::Compressor<'static>>,
}

impl Compressor {
    pub fn new(kind: Compression) -> Result<Compressor> {
        kind.check()?;
        let zstd = match kind {
            Compression::Zstd(level) => Some(
                zstd::bulk::Compressor::new(level)
                    .map_err(|e| Error::Internal(format!("starting zstd: {e}")))?,
            ),
            _ => None,
        };
        Ok(Compressor { kind, zstd })
    }

    /// Whether this compressor leaves data as it is.
    pub fn is_none(&self) -> bool {
        self.kind == Compression::None
    }

    /// Replaces `out` with `raw` encoded and returns the tag saying how: the raw bytes
    /// themselves when compression would not make them smaller.
    pub fn compress(&mut self, raw: &[u8], out: &mut Vec<u8>) -> Result<u8> {
        out.clear();
        let tag = match self.kind {
            Compression::None => TAG_RAW,
            Compression::Zlib(level) => {
                let mut enc = flate2::write::ZlibEncoder::new(
                    std::mem::take(out),
                    flate2::Compression::new(level),
                );
                enc.write_all(raw)
                    .and_then(|_| enc.finish())
                    .map(|v| *out = v)
                    .map_err(|e| Error::Internal(format!("zlib: {e}")))?;
                TAG_ZLIB
            }
            Compression::Zstd(_) => {
                let z = self.zstd.as_mut().expect("zstd compressor");
                out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
                z.compress_to_buffer(raw, out)
                    .map_err(|e| Error::Internal(format!("zstd: {e}")))?;
                TAG_ZSTD
            }
        };
        if tag == TAG_RAW || out.len() >= raw.len() {
            out.clear();
            out.extend_from_slice(raw);
            return Ok(TAG_RAW);
        }
        Ok(tag)
    }
}

/// Replaces `out` with the decoding of `data` (encoded as `tag`), which must come to
/// exactly `len` bytes. The error text says what is wrong with the stored bytes.
pub fn decompress(
    tag: u8,
    data: &[u8],
    len: usize,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    out.clear();
    match tag {
        TAG_RAW => out.extend_from_slice(data),
        TAG_ZLIB => {
            out.reserve(len);
            // One byte past the expected length shows a chunk that decodes too long,
            // without ever inflating more than that.
            flate2::read::ZlibDecoder::new(data)
                .take(len as u64 + 1)
                .read_to_end(out)
                .map_err(|e| format!("zlib data does not decode: {e}"))?;
        }
        TAG_ZSTD => {
            out.reserve(len + 1);
            zstd::bulk::Decompressor::new()
                .and_then(|mut d| d.decompress_to_buffer(data, out))
                .map_err(|e| format!("zstd data does not decode: {e}"))?;
        }
        other => return Err(format!("unknown chunk encoding {other}")),
    }
    if out.len() != len {
        return Err(format!(
            "chunk decodes to {} bytes, expected {len}",
            out.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(kind: Compression, raw: &[u8]) -> u8 {
        let mut c = Compressor::new(kind).unwrap();
        let mut enc = Vec::new();
        let tag = c.compress(raw, &mut enc).unwrap();
        let mut dec = Vec::new();
        decompress(tag, &enc, raw.len(), &mut dec).unwrap();
        assert_eq!(dec, raw);
        tag
    }

    #[test]
    fn every_codec_round_trips_and_keeps_incompressible_data_raw() {
        let text: Vec<u8> = b"katamari ".iter().cycle().take(100_000).copied().collect();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..50_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for kind in [
            Compression::None,
            Compression::Zlib(6),
            Compression::Zstd(3),
        ] {
            for data in [&b""[..], b"x", &text, &noise] {
                round_trip(kind, data);
            }
        }
        assert_eq!(round_trip(Compression::Zlib(6), &text), TAG_ZLIB);
        assert_eq!(round_trip(Compression::Zstd(3), &text), TAG_ZSTD);
        assert_eq!(round_trip(Compression::Zstd(3), &noise), TAG_RAW);
        assert_eq!(round_trip(Compression::Zlib(9), b"x"), TAG_RAW);
    }

    #[test]
    fn bad_levels_and_bad_data_are_errors() {
        assert!(Compressor::new(Compression::Zlib(10)).is_err());
        assert!(Compressor::new(Compression::Zstd(0)).is_err());
        assert!(Compressor::new(Compression::Zstd(23)).is_err());
        let mut out = Vec::new();
        assert!(decompress(TAG_ZLIB, b"not zlib", 10, &mut out).is_err());
        assert!(decompress(TAG_ZSTD, b"not zstd", 10, &mut out).is_err());
        assert!(decompress(9, b"", 0, &mut out).is_err());
        assert!(decompress(TAG_RAW, b"abc", 4, &mut out).is_err());
        // A chunk that inflates past its stated length is refused, not truncated.
        let text = vec![b'a'; 1000];
        let mut enc = Vec::new();
        let tag = Compressor::new(Compression::Zlib(6))
            .unwrap()
            .compress(&text, &mut enc)
            .unwrap();
        assert!(decompress(tag, &enc, 999, &mut out).is_err());
        let tag = Compressor::new(Compression::Zstd(3))
            .unwrap()
            .compress(&text, &mut enc)
            .unwrap();
        assert!(decompress(tag, &enc, 999, &mut out).is_err());
    }
}
