//! Byte transforms with no I/O: checksums, compression and authenticated encryption.

mod cipher;
mod compress;

pub use cipher::{Cipher, KEY_LEN, SEAL_OVERHEAD};
pub use compress::{decompress, Compression, Compressor, TAG_RAW, TAG_ZLIB, TAG_ZSTD};

/// CRC32 (IEEE) of `data`, as stored in every segment, batch and record header.
pub fn checksum(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// A running SHA-256, the content checksum objects carry (as object stores report it).
pub type ContentHasher = sha2::Sha256;

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_per_byte() {
        assert_eq!(to_hex(&[0x0f, 0xa0, 0x00, 0xff]), "0fa000ff");
        assert_eq!(to_hex(&[]), "");
    }
}
