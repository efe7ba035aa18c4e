//! Arbitrary bytes as one candidate transcript line, classified by the reader's parser (its
//! fast path, with serde as the fallback) and by serde alone.
//!
//! Checked on every input: both give the same result (`LineKind` with every field, and which
//! strings are borrowed from the line). The fast path answers only when it is sure to read a
//! line as serde does, so any difference is a bug in it.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (parsed, serde) = claude_logs::__fuzz::parse_both(data);
    assert_eq!(parsed, serde, "on {:?}", String::from_utf8_lossy(data));
});
