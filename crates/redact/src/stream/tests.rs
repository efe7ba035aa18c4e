use std::io::{self, BufReader, Read, Write};

use super::*;
use crate::redact;

/// Redacts a text the way `redact` does, on bytes.
fn redact_bytes(text: &[u8]) -> Vec<u8> {
    rules::replace(text, &rules::find(text), Context::default())
}

fn stream(input: &[u8], capacity: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let read = redact_stream(BufReader::with_capacity(capacity, input), &mut out)
        .expect("in-memory streams do not fail");
    assert_eq!(read, input.len() as u64);
    out
}

/// A small deterministic generator (xorshift64).
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Distinct lines (each ending in a line end) that the large stream is drawn from.
fn pool() -> Vec<Vec<u8>> {
    let oat = "sk-ant-oat01-FAKE-oauth-access-for-tests-only-0123456789abcdefABCDEF_0123456789abcdefABCDEF_0123456789abcdef";
    let mut lines: Vec<Vec<u8>> = [
        r#"{"type":"assistant","message":{"usage":{"input_tokens":12,"output_tokens":345,"cache_read_input_tokens":6789}}}"#.to_owned(),
        "2025-01-01T00:00:00Z INFO usage window=5h utilization=42 resets_at=14:00".to_owned(),
        "the token expired; 3 tokens left; max_tokens: 4096".to_owned(),
        format!("2025-01-01T00:00:00Z DEBUG request headers: Authorization: Bearer {oat}"),
        format!(r#"{{"access_token":"{oat}","token_type":"bearer","expires_in":28800,"refresh_token":"sk-ant-ort01-FAKE"}}"#),
        format!(r#"{{"level":"debug","body":"{{\"accessToken\":\"{oat}\",\"n\":1}}"}}"#),
        format!("error: request failed: caused by: Bearer {oat}: connection reset"),
        "GET https://x.test/api/oauth/usage?access_token=FAKE123&page=2 200".to_owned(),
        r#"Credentials { access_token: "FAKE", refresh_token: Some("FAKE2"), expires_at: 1 }"#.to_owned(),
        "Cookie: sessionKey=sk-ant-sid01-FAKE-session-0123456789; lang=en\r".to_owned(),
        "failed to refresh token: expired.".to_owned(),
        "password=p\u{e4}ssw\u{f6}rd x-api-key: sk-ant-api03-FAKEAA".to_owned(),
        String::new(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    lines.push(b"bytes \xff\xfe token=FAKE9 \xc3(".to_vec());
    // Long lines (under a piece) with secrets throughout.
    for repeat in [100, 1000, 2500] {
        let segment = format!("word {oat} and \"password\":\"FAKE pass\" and ?token=x1&a=b, ");
        lines.push(segment.repeat(repeat).into_bytes());
    }
    lines.push("filler-without-any-blank-".repeat(2000).into_bytes());
    for line in &mut lines {
        line.push(b'\n');
    }
    lines
}

/// Yields lines drawn from `pool` until at least `len` bytes were produced.
struct Generated<'a> {
    pool: &'a [Vec<u8>],
    rng: Rng,
    left: usize,
    line: &'a [u8],
}

impl Read for Generated<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.line.is_empty() {
            if self.left == 0 {
                return Ok(0);
            }
            self.line = &self.pool[self.rng.below(self.pool.len())];
            self.left = self.left.saturating_sub(self.line.len());
        }
        let n = buf.len().min(self.line.len());
        buf[..n].copy_from_slice(&self.line[..n]);
        self.line = &self.line[n..];
        Ok(n)
    }
}

/// Checks written bytes against the redacted lines drawn in the same order.
struct Expected<'a> {
    redacted: &'a [Vec<u8>],
    rng: Rng,
    line: &'a [u8],
    written: u64,
    mismatch: Option<u64>,
}

impl Write for Expected<'_> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.line.is_empty() {
                self.line = &self.redacted[self.rng.below(self.redacted.len())];
                continue;
            }
            let k = buf.len().min(self.line.len());
            if self.mismatch.is_none() && buf[..k] != self.line[..k] {
                self.mismatch = Some(self.written);
            }
            self.line = &self.line[k..];
            buf = &buf[k..];
            self.written += k as u64;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_generated_stream_equals_line_wise_redaction() {
    let pool = pool();
    let redacted: Vec<Vec<u8>> = pool.iter().map(|line| redact_bytes(line)).collect();
    assert!(pool.iter().zip(&redacted).filter(|(a, b)| a != b).count() >= 10);
    let len = 50 * 1024 * 1024;
    let seed = Rng(0x9e37_79b9_7f4a_7c15);
    let input = Generated {
        pool: &pool,
        rng: seed.clone(),
        left: len,
        line: &[],
    };
    let mut expected = Expected {
        redacted: &redacted,
        rng: seed,
        line: &[],
        written: 0,
        mismatch: None,
    };
    let read =
        redact_stream(BufReader::new(input), &mut expected).expect("generated streams do not fail");
    assert!(read >= len as u64);
    assert_eq!(expected.mismatch, None);
    assert!(expected.line.is_empty(), "output ended inside a line");
}

#[test]
fn lines_are_redacted_whatever_the_read_sizes() {
    let pool = pool();
    let text: Vec<u8> = pool[..14].concat();
    let expected: Vec<u8> = pool[..14]
        .iter()
        .flat_map(|line| redact_bytes(line))
        .collect();
    for capacity in [1, 7, 64, 8192, 1 << 20] {
        assert_eq!(stream(&text, capacity), expected, "capacity {capacity}");
    }
}

#[test]
fn invalid_utf8_passes_through_byte_exact() {
    let input = b"\xff\xfe token=FAKE123 \xc3(\nBearer abc123\x80\n\xe2\x82";
    assert_eq!(
        stream(input, 8192),
        b"\xff\xfe token=[REDACTED] \xc3(\nBearer [REDACTED]\x80\n\xe2\x82"
    );
}

#[test]
fn an_empty_stream_reads_nothing() {
    assert_eq!(stream(b"", 8192), b"");
}

#[test]
fn an_over_long_line_is_cut_between_secrets() {
    let segment = "some words sk-ant-oat01-FAKEbody_123 then Bearer abc.def-123 and \"refresh_token\":\"FAKE x\", Basic dXNlcg== ";
    let line = segment.repeat(40_000);
    assert!(line.len() > 50 * PIECE);
    let expected = redact(&line).into_owned();
    for capacity in [8192, 100_000] {
        assert_eq!(
            String::from_utf8(stream(line.as_bytes(), capacity))
                .ok()
                .as_deref(),
            Some(expected.as_str())
        );
    }
}

#[test]
fn an_over_long_line_without_blanks_passes_through() {
    let line = "x".repeat(10 * WINDOW + 17);
    assert_eq!(stream(line.as_bytes(), 8192), line.as_bytes());
    let line = "\u{e4}".repeat(5 * WINDOW);
    assert_eq!(stream(line.as_bytes(), 8192), line.as_bytes());
}

#[test]
fn a_value_longer_than_a_piece_is_redacted_to_its_end() {
    let long = "A1b2".repeat(2 * WINDOW);
    let words = "abc def ".repeat(WINDOW);
    let cases = [
        (
            format!("sk-ant-oat01-{long} tail\nnext\n"),
            "sk-ant-oat01-[REDACTED] tail\nnext\n",
        ),
        (
            format!("pre Bearer {long}, tail\nnext\n"),
            "pre Bearer [REDACTED], tail\nnext\n",
        ),
        (
            format!("Authorization: {words}\nnext\n"),
            "Authorization: [REDACTED]\nnext\n",
        ),
        (
            format!("{{\"password\":\"{words}\", \"n\":1}}\n"),
            "{\"password\":\"[REDACTED]\", \"n\":1}\n",
        ),
        (
            format!("{{\"m\":\"Cookie: {words}\\nnext\"}}"),
            "{\"m\":\"Cookie: [REDACTED]\\nnext\"}",
        ),
        (format!("x token={long} tail"), "x token=[REDACTED] tail"),
    ];
    for (input, expected) in cases {
        for capacity in [8192, 3 * WINDOW] {
            let out = stream(input.as_bytes(), capacity);
            assert_eq!(
                String::from_utf8_lossy(&out),
                expected,
                "capacity {capacity}"
            );
        }
    }
}

#[test]
fn a_secret_after_a_long_value_is_still_found() {
    let words = "abc def ".repeat(WINDOW);
    let input = format!("{{\"password\":\"{words}\", \"token\":\"FAKE\"}} Bearer abc123\n");
    let out = stream(input.as_bytes(), 8192);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "{\"password\":\"[REDACTED]\", \"token\":\"[REDACTED]\"} Bearer [REDACTED]\n"
    );
}

/// Yields `len` bytes of a repeating pattern without a line end, without storing them.
struct Endless {
    left: u64,
    pattern: &'static [u8],
    at: usize,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            buf[n] = self.pattern[self.at];
            self.at = (self.at + 1) % self.pattern.len();
            self.left -= 1;
            n += 1;
        }
        Ok(n)
    }
}

/// Counts written bytes and checks them against the same pattern.
struct Counting {
    written: u64,
    pattern: &'static [u8],
    same: bool,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for &b in buf {
            let at = (self.written % self.pattern.len() as u64) as usize;
            self.same &= b == self.pattern[at];
            self.written += 1;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_huge_line_without_line_end_streams_in_pieces() {
    let pattern: &[u8] = b"usage input_tokens=12 output_tokens=34, the token expired; ";
    let len = 32 * 1024 * 1024;
    let input = Endless {
        left: len,
        pattern,
        at: 0,
    };
    let mut output = Counting {
        written: 0,
        pattern,
        same: true,
    };
    let read =
        redact_stream(BufReader::new(input), &mut output).expect("generated streams do not fail");
    assert_eq!(read, len);
    assert_eq!(output.written, len);
    assert!(output.same);
}

struct Failing {
    interrupted: bool,
}

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        if std::mem::take(&mut self.interrupted) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        Err(io::Error::other("disk gone"))
    }
}

#[test]
fn read_errors_are_returned_and_interruptions_retried() {
    let err = redact_stream(BufReader::new(Failing { interrupted: true }), io::sink())
        .expect_err("the reader fails");
    assert_eq!(err.to_string(), "disk gone");
}

#[test]
fn cuts_avoid_spans_and_prefer_blanks() {
    let text = b"ab cd,ef gh";
    assert_eq!(best_cut(text, &[], 11), Some(9));
    assert_eq!(best_cut(text, &[(4, 10)], 11), Some(3));
    assert_eq!(best_cut(text, &[(4, 7)], 11), Some(9));
    assert_eq!(best_cut(text, &[(4, 10)], 9), Some(3));
    assert_eq!(best_cut(b"abcdefgh", &[(2, 5)], 4), Some(2));
    assert_eq!(best_cut(b"abcdefgh", &[(0, usize::MAX)], 8), None);
    assert_eq!(best_cut(b"abcdefgh", &[], 8), Some(8));
}

#[test]
fn spans_run_from_head_to_value_end_and_merge() {
    let f = |shape, end, open| Finding {
        shape,
        start: shape + 1,
        end,
        open,
    };
    let found = [
        f(0, 5, None),
        f(3, 8, None),
        f(8, 9, None),
        f(20, 30, Some(Scan::Line { in_string: false })),
    ];
    assert_eq!(spans(&found), vec![(0, 8), (8, 9), (20, usize::MAX)]);
}
