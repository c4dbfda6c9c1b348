//! Byte transforms with no I/O: checksums now; compression and encryption join here.

/// CRC32 (IEEE) of `data`, as stored in every segment, batch and record header.
pub fn checksum(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}
