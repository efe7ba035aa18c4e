//! Arbitrary text through `redact` and `redact_stream`.
//!
//! Checked on every input: no panic; redacting is idempotent (`redact(redact(x)) ==
//! redact(x)`) and the result holds no secret by `contains_secret`; no Anthropic key body
//! survives (`sk-ant-<kind><nn>-` followed by a body byte); for inputs shorter than the
//! stream's piece size, `redact_stream` gives exactly `redact` of the text and of its lines one
//! by one; on bytes that are not UTF-8 the stream still leaves no key body.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// Lines shorter than this are redacted by the stream exactly as by `redact`.
const STREAM_PIECE: usize = 64 * 1024;

fn is_body(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Where `sk-ant-<letters><2 digits>-<body byte>` occurs, if anywhere.
fn key_body_at(text: &[u8]) -> Option<usize> {
    const PREFIX: &[u8] = b"sk-ant-";
    let mut from = 0;
    while let Some(i) = find(&text[from..], PREFIX) {
        let at = from + i;
        let rest = &text[at + PREFIX.len()..];
        let letters = rest.iter().take_while(|b| b.is_ascii_lowercase()).count();
        let after = &rest[letters..];
        if letters > 0
            && after.len() >= 4
            && after[0].is_ascii_digit()
            && after[1].is_ascii_digit()
            && after[2] == b'-'
            && is_body(after[3])
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn stream(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let read = redact::redact_stream(input, &mut out).expect("memory never fails");
    assert_eq!(read, input.len() as u64);
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let once = redact::redact(&text);
    if let Some(at) = key_body_at(once.as_bytes()) {
        panic!("key body left at {at}: {once:?}");
    }
    let twice = redact::redact(&once);
    assert_eq!(twice, once, "not idempotent");
    assert!(!redact::contains_secret(&once));

    if text.len() < STREAM_PIECE {
        let streamed = stream(text.as_bytes());
        assert_eq!(
            String::from_utf8_lossy(&streamed),
            once,
            "stream differs from redact"
        );
        let by_line: String = text
            .split_inclusive('\n')
            .map(|line| redact::redact(line).into_owned())
            .collect();
        assert_eq!(by_line, once, "redact differs line by line");
    }

    if std::str::from_utf8(data).is_err() {
        let streamed = stream(data);
        if let Some(at) = key_body_at(&streamed) {
            panic!("key body left at {at} in the stream");
        }
    }
});
