//! Stable hashing of response ids.
//!
//! Dedup keys are 128-bit FNV-1a hashes of the ids. The function is fixed here (not std's
//! `DefaultHasher`, whose output may change between Rust versions) so that a dedup index can be
//! stored and reused by a later run.

use std::hash::{BuildHasherDefault, Hasher};

const FNV128_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The 128-bit FNV-1a hash of `bytes`. Stable across platforms, Rust versions and runs.
pub fn fnv1a_128(bytes: &[u8]) -> u128 {
    let mut hash = FNV128_OFFSET;
    for &byte in bytes {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(FNV128_PRIME);
    }
    hash
}

/// A hasher for maps keyed by values that already are good hashes (the 128-bit keys): it folds
/// the key instead of hashing it again.
#[derive(Default)]
pub(crate) struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than `u128`; FNV-1a 64 keeps it correct.
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u128(&mut self, value: u128) {
        // Truncation is the point: both halves of the key are mixed into 64 bits.
        self.0 ^= (value as u64) ^ ((value >> 64) as u64);
    }
}

/// `BuildHasher` for maps keyed by 128-bit hashes.
pub(crate) type Prehashed = BuildHasherDefault<PrehashedHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_128_known_values() {
        // Reference values of the FNV-1a 128-bit function.
        assert_eq!(fnv1a_128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn different_ids_hash_differently() {
        assert_ne!(fnv1a_128(b"msg_01A"), fnv1a_128(b"msg_01B"));
        assert_ne!(fnv1a_128(b"req_1"), fnv1a_128(b"req_2"));
    }
}
