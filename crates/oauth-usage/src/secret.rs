//! The OAuth access token as an opaque secret.

use std::fmt;

use sha2::{Digest, Sha256};

/// An OAuth access token (`sk-ant-oat01-...`).
///
/// It has no `Display` and no `Serialize`; `Debug` prints `AccessToken(REDACTED)`. The only
/// way to see the text is [`AccessToken::expose_secret`], which this crate calls in exactly one
/// place: where the `Authorization` header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token. The caller is responsible for the text being a token.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// The token text. Use it only to build the `Authorization` header.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// A stable bucket key for this token: the first 16 hex characters of its SHA-256.
    ///
    /// The key names per-token state (cool-down, cached reading) and reveals nothing about the
    /// token itself.
    pub fn bucket_key(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        hex_lower(&digest[..8])
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(REDACTED)")
    }
}

impl Drop for AccessToken {
    fn drop(&mut self) {
        // Best effort: overwrite the bytes before the allocation is released.
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAKE: &str = "sk-ant-oat01-FAKEFAKEFAKEFAKE";

    #[test]
    fn debug_is_redacted() {
        let token = AccessToken::new(FAKE.to_owned());
        let shown = format!("{token:?} {token:#?}");
        assert!(!shown.contains("sk-ant"), "{shown}");
        assert!(shown.contains("AccessToken(REDACTED)"));
    }

    #[test]
    fn bucket_key_is_sixteen_hex_and_stable() {
        let a = AccessToken::new(FAKE.to_owned());
        let b = AccessToken::new(format!("{FAKE}X"));
        let key = a.bucket_key();
        assert_eq!(key.len(), 16);
        assert!(
            key.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(key, AccessToken::new(FAKE.to_owned()).bucket_key());
        assert_ne!(key, b.bucket_key());
        assert!(!FAKE.contains(&key));
    }

    #[test]
    fn hex_lower_encodes() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
