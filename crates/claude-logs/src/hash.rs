//! Stable hashing of response ids, and the hashers of this workspace's maps.
//!
//! Dedup keys are 128-bit FNV-1a hashes of the ids. The function is fixed here (not std's
//! `DefaultHasher`, whose output may change between Rust versions) so that a dedup index can be
//! stored and reused by a later run. Maps keyed by values that are already hashes, or by
//! machine words (addresses), take the cheap hashers below instead of SipHash.

use std::hash::{BuildHasherDefault, Hasher};

const FNV128_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The 128-bit FNV-1a hash of `bytes`. Stable across platforms, Rust versions and runs.
pub fn fnv1a_128(bytes: &[u8]) -> u128 {
    fnv1a_128_on(FNV128_OFFSET, bytes)
}

/// [`fnv1a_128`] of `a` and of `b`. Each hash is a chain of multiplications, one per byte,
/// each waiting for the one before; the two chains go side by side in one loop, so that each
/// multiplication overlaps one of the other chain. The two ids of the 110 thousand usage lines
/// of the 1 GiB bench corpus (about 28 bytes each): about 9.5 ms of CPU time one after the
/// other, about 7 ms side by side (perf samples of `--rescan`, 5 runs each).
pub(crate) fn fnv1a_128_pair(a: &[u8], b: &[u8]) -> (u128, u128) {
    let common = a.len().min(b.len());
    let (mut hash_a, mut hash_b) = (FNV128_OFFSET, FNV128_OFFSET);
    for (&x, &y) in a[..common].iter().zip(&b[..common]) {
        hash_a = fnv1a_128_step(hash_a, x);
        hash_b = fnv1a_128_step(hash_b, y);
    }
    (
        fnv1a_128_on(hash_a, &a[common..]),
        fnv1a_128_on(hash_b, &b[common..]),
    )
}

/// FNV-1a 128 from the state `hash` on, over `bytes`.
#[inline]
fn fnv1a_128_on(hash: u128, bytes: &[u8]) -> u128 {
    bytes
        .iter()
        .fold(hash, |hash, &byte| fnv1a_128_step(hash, byte))
}

/// One byte of FNV-1a 128, the step both loops above take.
#[inline]
fn fnv1a_128_step(hash: u128, byte: u8) -> u128 {
    (hash ^ u128::from(byte)).wrapping_mul(FNV128_PRIME)
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

/// A hasher for keys made of machine words (a multiply-rotate per word): not resistant to
/// chosen keys, which addresses are not. For the maps that look strings up by the address of
/// their shared copy (an [`Interner`](crate::Interner)'s, a ledger's), where SipHash, the
/// default, costs more than the lookup saves.
#[derive(Debug, Default)]
pub struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0 ^ word)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(26);
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `BuildHasher` for maps keyed by machine words ([`WordHasher`]).
pub type WordHashed = BuildHasherDefault<WordHasher>;

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
    fn the_pair_gives_what_each_gives() {
        let bytes: Vec<u8> = (0..70u32).map(|i| (i * 53 + 5) as u8).collect();
        for a in 0..bytes.len() {
            for b in [0, 1, 27, 28, 29, 70] {
                let (x, y) = (&bytes[..a], &bytes[70 - b..]);
                assert_eq!(
                    fnv1a_128_pair(x, y),
                    (fnv1a_128(x), fnv1a_128(y)),
                    "{a} {b}"
                );
            }
        }
    }

    #[test]
    fn different_ids_hash_differently() {
        assert_ne!(fnv1a_128(b"msg_01A"), fnv1a_128(b"msg_01B"));
        assert_ne!(fnv1a_128(b"req_1"), fnv1a_128(b"req_2"));
    }
}
