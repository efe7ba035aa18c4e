//! Hides credentials in log lines and error messages.
//!
//! Every log line and user-visible error message of the program passes through this crate, so
//! nothing it prints carries a credential. Each secret is replaced by the marker
//! [`REDACTED`]; what names the secret (a key prefix, a scheme, a header or field name) stays
//! readable so that the output still says *what* was hidden.
//!
//! # Shapes
//!
//! | input | output |
//! |---|---|
//! | `sk-ant-oat01-...`, `sk-ant-ort01-...`, `sk-ant-api03-...`, `sk-ant-admin01-...`, `sk-ant-sid01-...`, any `sk-ant-<letters><2 digits>-<body>` | `sk-ant-oat01-[REDACTED]` |
//! | `Bearer <token>`, `Basic <base64>` (scheme in any case) | `Bearer [REDACTED]` |
//! | `Authorization: <value>`, `Proxy-Authorization`, `authorization=...` | `Authorization: [REDACTED]` |
//! | `Cookie: <value>`, `Set-Cookie: <value>` | `Cookie: [REDACTED]` |
//! | `"accessToken":"..."`, `refresh_token=...`, `password: "..."`, ... | `"accessToken":"[REDACTED]"` |
//!
//! The head is kept as written (`bearer x1` becomes `bearer [REDACTED]`). Header values run to
//! the end of the line, or to the closing quote when the value is quoted
//! or the header stands inside a string. Field names are matched case-insensitively and only
//! as whole names followed by `:`, `=` or `:=`: `accessToken`, `refreshToken`, `access_token`,
//! `refresh_token`, `idToken`, `id_token`, `token`, `apiKey`, `api_key`, `x-api-key`,
//! `password`, `passwd`, `secret`, `clientSecret`, `client_secret`, `sessionKey`,
//! `session_key`. Their values may be quoted (JSON, Debug output, `'...'`), quoted inside
//! escaped JSON (`\"accessToken\":\"...\"`, at any escaping depth), wrapped (`Some("...")`) or
//! bare (`?access_token=...&x=1` keeps `&x=1`). Usage counters such as `input_tokens`,
//! `tokenCount` or `max_tokens` are other names and stay intact.
//!
//! Prose stays readable: a scheme followed by an ordinary word (`Bearer token`, `basic
//! usage`) is not a credential, and neither is a bare word or number after `token:` unless
//! the name stands where field names stand (first on a line, after `{`, `,`, a quote, ...),
//! so `failed to refresh token: expired` is unchanged while `token: abc123` is not.
//!
//! # Speed: the pre-filter
//!
//! Most lines carry no secret, so a line costs a byte scan, not a regular-expression pass.
//! Every rule needs a fixed needle: `sk-ant-` (case-sensitive, searched with `memchr::memmem`),
//! or `bearer`, `basic`, `authorization`, `cookie`, `token`, `key`, `secret`, `passw` in any
//! ASCII case. For those, the text is lowercased 4 KiB at a time into a stack buffer (blocks
//! overlap by twelve bytes, so a needle across a block edge is still seen) and searched with
//! precompiled `memmem` finders. Only the rules whose needles were found run their regular
//! expressions, which are compiled once. Text without any needle is returned borrowed without
//! being copied.
//!
//! # Streams
//!
//! [`redact_stream`] works in constant memory on any input: lines are redacted in blocks, and
//! a line longer than 64 KiB is cut only where no secret (head and value) is split; a value
//! longer than that is redacted through to its end. Input that is not UTF-8 passes through
//! byte-exact; secrets inside it are still redacted.

use std::borrow::Cow;
use std::io::{self, BufRead, Write};

mod prefilter;
mod rules;
mod scan;
mod stream;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod table_tests;

/// The marker that replaces every secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Replaces every secret in `text` with [`REDACTED`], keeping what names it.
///
/// Returns [`Cow::Borrowed`] when nothing was found. Redacting twice gives the same text as
/// redacting once (the result is checked again and, in the rare cases of malformed quoting
/// where a replaced value held the quote that closed another, redacted again), and redacting
/// a text gives the same as redacting each of its lines.
///
/// # Examples
///
/// ```
/// use std::borrow::Cow;
///
/// let line = r#"refresh failed: {"access_token":"sk-ant-oat01-FAKEabc","input_tokens":12}"#;
/// assert_eq!(
///     redact::redact(line),
///     r#"refresh failed: {"access_token":"[REDACTED]","input_tokens":12}"#,
/// );
/// assert_eq!(
///     redact::redact("caused by: Bearer sk-ant-oat01-FAKE_fake-123"),
///     "caused by: Bearer [REDACTED]",
/// );
/// assert_eq!(redact::redact("key sk-ant-api03-FAKEkeyAA"), "key sk-ant-api03-[REDACTED]");
/// assert!(matches!(redact::redact("3 tokens; the token expired"), Cow::Borrowed(_)));
/// ```
pub fn redact(text: &str) -> Cow<'_, str> {
    let findings = rules::find(text.as_bytes());
    if findings.is_empty() {
        return Cow::Borrowed(text);
    }
    let out = rules::replace(text.as_bytes(), &findings, rules::Context::default());
    // Every region starts and ends next to an ASCII byte or at an end of `text`, so `out`
    // is UTF-8; the lossy branch only guards that invariant.
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// Whether `text` contains a secret, that is whether [`redact`] would change it.
///
/// # Examples
///
/// ```
/// assert!(redact::contains_secret("Authorization: Bearer abc.def-123"));
/// assert!(redact::contains_secret("GET /usage?access_token=FAKE123&page=2"));
/// assert!(!redact::contains_secret(r#"{"output_tokens":42,"max_tokens":4096}"#));
/// assert!(!redact::contains_secret("Authorization: [REDACTED]"));
/// ```
pub fn contains_secret(text: &str) -> bool {
    !rules::find(text.as_bytes()).is_empty()
}

/// Copies `input` to `output` with every secret replaced, and returns the number of bytes
/// read.
///
/// Memory stays bounded whatever the input: lines are redacted in blocks, and a line longer
/// than 64 KiB (even one without any line end) is cut into pieces only where no secret is
/// split; a secret value longer than a piece is redacted through to its end. Output equals
/// [`redact`] applied line by line for lines shorter than that. Bytes that are not UTF-8 are
/// copied unchanged (byte-exact, not lossily replaced); secrets among them are still
/// redacted. The output is buffered internally and flushed before returning.
///
/// # Errors
///
/// Returns the first error of reading `input` or writing `output` (reads interrupted by a
/// signal are retried).
///
/// # Examples
///
/// ```
/// let log = "start\ncookie: sessionKey=sk-ant-sid01-FAKE\nusage input_tokens=7\n";
/// let mut out = Vec::new();
/// let read = redact::redact_stream(log.as_bytes(), &mut out)?;
/// assert_eq!(read, log.len() as u64);
/// assert_eq!(out, b"start\ncookie: [REDACTED]\nusage input_tokens=7\n");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn redact_stream<R: BufRead, W: Write>(input: R, output: W) -> io::Result<u64> {
    stream::redact_stream(input, output)
}
