//! Authenticated encryption at rest: XChaCha20-Poly1305 with a fresh random nonce per
//! sealed message. Its 192-bit nonces can be drawn at random for any number of messages
//! under one key, so no nonce counter has to survive crashes.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};

/// Key length in bytes.
pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes a sealed message adds to its plaintext: the nonce in front, the tag behind.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// A key ready to seal and open messages.
#[derive(Clone)]
pub struct Cipher {
    aead: XChaCha20Poly1305,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// A cipher for a 32-byte key.
    pub fn new(key: &[u8]) -> Result<Cipher> {
        if key.len() != KEY_LEN {
            return Err(Error::InvalidArgument(format!(
                "encryption keys are {KEY_LEN} bytes, not {}",
                key.len()
            )));
        }
        Ok(Cipher {
            aead: XChaCha20Poly1305::new_from_slice(key).expect("key length checked"),
        })
    }

    /// Appends `nonce ‖ ciphertext ‖ tag` of `plain` to `out`; `aad` is authenticated
    /// but not stored.
    pub fn seal(&self, plain: &[u8], aad: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .aead
            .encrypt(&nonce, Payload { msg: plain, aad })
            .map_err(|_| Error::Internal("encryption failed".into()))?;
        out.reserve(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(())
    }

    /// The plaintext of a sealed message, or `None` when the key is wrong, `aad` differs
    /// or a byte of `sealed` changed.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < SEAL_OVERHEAD {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_open_only_with_the_same_key_and_context() {
        let a = Cipher::new(&[7; 32]).unwrap();
        let b = Cipher::new(&[8; 32]).unwrap();
        for plain in [&b""[..], b"x", &[0u8; 70_000]] {
            let mut one = Vec::new();
            let mut two = Vec::new();
            a.seal(plain, b"ctx", &mut one).unwrap();
            a.seal(plain, b"ctx", &mut two).unwrap();
            assert_eq!(one.len(), plain.len() + SEAL_OVERHEAD);
            assert_ne!(one, two, "every message gets a fresh nonce");
            assert_eq!(a.open(&one, b"ctx").unwrap(), plain);
            assert!(b.open(&one, b"ctx").is_none());
            assert!(a.open(&one, b"other").is_none());
            let mut bent = one.clone();
            let last = bent.len() - 1;
            bent[last] ^= 1;
            assert!(a.open(&bent, b"ctx").is_none());
            assert!(a.open(&one[..SEAL_OVERHEAD - 1], b"ctx").is_none());
        }
        assert!(Cipher::new(&[0; 31]).is_err());
    }
}
