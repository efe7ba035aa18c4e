//! The secret shapes and where they are in a text.
//!
//! Each rule finds a *head* with a regular expression (a key prefix, an authorization scheme,
//! a header name or a field name with its separator) and then scans the value that follows
//! with a [`Scan`]. A [`Finding`] records the bytes to replace; the head stays readable.
//!
//! No rule looks past a line end, so redacting a text equals redacting its lines one by one.

use std::sync::LazyLock;

use regex::bytes::Regex;

use crate::REDACTED;
use crate::prefilter;
use crate::scan::{Class, Scan, ScanCache};

/// One secret: `start..end` is replaced by the marker; `shape..start` is the head kept as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Where the head begins.
    pub(crate) shape: usize,
    /// First byte of the secret value.
    pub(crate) start: usize,
    /// One past the last byte of the secret value.
    pub(crate) end: usize,
    /// Set when the value runs to the end of the text: how to find where it really ends in
    /// the text that follows.
    pub(crate) open: Option<Scan>,
}

/// Anthropic keys and tokens; the body after the kind is the secret.
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        sk-ant-          # vendor prefix, kept
        [a-z]+ [0-9]{2}  # kind and version (oat01, ort01, api03, admin01, sid02, ...), kept
        -
        [A-Za-z0-9_-]+   # body, redacted
        ",
    )
    .expect("the key pattern is valid")
});

/// `Bearer <token>` and `Basic <base64>`; the credential is scanned after the match.
static SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?-u:\b)                 # not inside a longer word
        (?i-u: bearer | basic )  # the scheme, in any ASCII case
        (?: [\ \t]{1,64}         # the blank before the credential,
          | %20 | \+ )            # or an encoded one in a URL
        ",
    )
    .expect("the scheme pattern is valid")
});

/// `Authorization:` and `Cookie:` headers (also `Proxy-Authorization`, `Set-Cookie`, quoted
/// header names in dumps, and `=` instead of `:`); the whole value is the secret.
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        (?-u:\b)                         # not inside a longer word
        (?i-u: authorization | cookie )  # the header name, in any ASCII case
        (?: \\{0,8}" | ' )?              # the closing quote of a quoted name: " \" \\\" '
        [\ \t]{0,64}
        (?: := | [:=] )                  # the separator
        [\ \t]{0,64}
        "#,
    )
    .expect("the header pattern is valid")
});

/// Field names whose value is a secret. A name counts only as a whole name: the byte before it
/// is checked in code (no letter, digit, `_`, `-` or `/`), and the pattern requires a
/// separator right after it, so `input_tokens`, `tokenCount` or `/oauth/token` never match.
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?x)
        (?i-u:                        # field names, in any ASCII case
            access_?token             # accessToken, access_token
          | refresh_?token            # refreshToken, refresh_token
          | id_?token                 # idToken, id_token
          | token
          | x-api-key
          | api_?key                  # apiKey, api_key
          | client_?secret            # clientSecret, client_secret
          | secret
          | passw(?:or)?d             # password, passwd
          | session_?key              # sessionKey, session_key
        )
        (?: \\{0,8}" | ' )?           # the closing quote of a quoted name: " \" \\\" '
        [\ \t]{0,64}
        (?: := | [:=] )               # the separator: JSON, Debug, YAML, headers, key=value
        [\ \t]{0,64}
        "#,
    )
    .expect("the field pattern is valid")
});

/// What precedes a text on its line, for a text that continues a longer line (the pieces of
/// an over-long line in a stream). The default is the start of a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Context {
    /// The byte right before the text.
    prev: Option<u8>,
    /// The last byte before the text other than a space or a tab.
    last_non_blank: Option<u8>,
    /// Whether the text starts inside a double-quoted string.
    in_string: bool,
    /// Backslashes right before the text.
    backslashes: usize,
}

impl Context {
    /// The context of the text that follows `text`, which itself follows `self` and whose
    /// secret values are `redacted` (sorted, merged byte ranges).
    pub(crate) fn after(self, text: &[u8], redacted: &[(usize, usize)]) -> Context {
        let mut strings = StringTracker::new(self);
        let in_string = strings.inside_at(text, text.len(), redacted);
        let (mut context, line) = match memchr::memrchr(b'\n', text) {
            Some(nl) => (Context::default(), &text[nl + 1..]),
            None => (self, text),
        };
        context.in_string = in_string;
        context.backslashes = strings.backslashes;
        if let Some(&last) = line.last() {
            context.prev = Some(last);
        }
        if let Some(&b) = line.iter().rev().find(|&&b| b != b' ' && b != b'\t') {
            context.last_non_blank = Some(b);
        }
        context
    }

    /// The byte before `at` in `text`, which follows this context.
    fn byte_before(self, text: &[u8], at: usize) -> Option<u8> {
        if at == 0 {
            self.prev
        } else {
            Some(text[at - 1])
        }
    }
}

/// Finds every secret in `text`, in no particular order.
pub(crate) fn find(text: &[u8]) -> Vec<Finding> {
    find_in(text, Context::default())
}

/// Finds every secret in `text`, which follows `context` on its line.
pub(crate) fn find_in(text: &[u8], context: Context) -> Vec<Finding> {
    let hits = prefilter::scan(text);
    let mut found = Vec::new();
    if hits.none() {
        return found;
    }
    if hits.key_prefix {
        keys(text, &mut found);
    }
    if hits.scheme {
        schemes(text, context, &mut found);
    }
    // Bare values after `name:` that read as prose, kept unless another secret overlaps them.
    let mut lenient = Vec::new();
    if hits.field {
        fields(text, context, &mut found, &mut lenient);
    }
    if hits.header {
        // Whether a header stands inside a string is decided on the text as it reads once the
        // other secrets are replaced, so that redacting again decides the same.
        let redacted = regions(&found);
        headers(text, context, &redacted, &mut found);
    }
    // A prose-looking value that another secret overlaps or touches no longer reads as prose
    // once that secret is replaced; hide it too, so that redacting again changes nothing.
    while !lenient.is_empty() {
        let redacted = regions(&found);
        let before = lenient.len();
        lenient.retain(|candidate: &Finding| {
            if overlaps(&redacted, candidate.start, candidate.end) {
                found.push(*candidate);
                false
            } else {
                true
            }
        });
        if lenient.len() == before {
            break;
        }
    }
    found
}

/// Whether any of the sorted, merged `ranges` overlaps or touches `start..end`. (A secret
/// right after a bare value replaces the byte that ended it, so it extends the value.)
fn overlaps(ranges: &[(usize, usize)], start: usize, end: usize) -> bool {
    let i = ranges.partition_point(|&(_, range_end)| range_end < start);
    ranges
        .get(i)
        .is_some_and(|&(range_start, _)| range_start <= end)
}

/// The byte ranges to replace: the findings' values, sorted, with overlapping or touching
/// ranges merged.
pub(crate) fn regions<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = findings.into_iter().map(|f| (f.start, f.end)).collect();
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// An upper bound on redaction passes; see [`replace`].
const MAX_PASSES: usize = 16;

/// Returns `text` (which follows `context`) with the findings' values replaced by the marker,
/// then redacts that result again until nothing is found.
///
/// The first pass hides every secret of `text`. Further passes are rare (malformed quoting
/// where a replaced value held the quote that ended another one) and exist so that redacting
/// the output finds nothing: each pass replaces at least one byte outside the markers, so they
/// end; the bound only guards that argument.
pub(crate) fn replace(text: &[u8], findings: &[Finding], context: Context) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    apply(text, &regions(findings), &mut out);
    for _ in 0..MAX_PASSES {
        let more = find_in(&out, context);
        if more.is_empty() {
            break;
        }
        let mut next = Vec::with_capacity(out.len());
        apply(&out, &regions(&more), &mut next);
        out = next;
    }
    out
}

/// Appends `text` to `out` with every region replaced by the marker.
pub(crate) fn apply(text: &[u8], regions: &[(usize, usize)], out: &mut Vec<u8>) {
    let mut at = 0;
    for &(start, end) in regions {
        out.extend_from_slice(&text[at..start]);
        out.extend_from_slice(REDACTED.as_bytes());
        at = end;
    }
    out.extend_from_slice(&text[at..]);
}

/// `sk-ant-<kind><nn>-<body>`: the body is the secret.
fn keys(text: &[u8], found: &mut Vec<Finding>) {
    for m in KEY.find_iter(text) {
        // The body starts after the third dash: `sk-ant-` is seven bytes, the kind has none.
        let Some(dash) = memchr::memchr(b'-', &text[m.start() + 7..m.end()]) else {
            continue;
        };
        let start = m.start() + 7 + dash + 1;
        let open = (m.end() == text.len()).then_some(Scan::Run(Class::KeyBody));
        found.push(Finding {
            shape: m.start(),
            start,
            end: m.end(),
            open,
        });
    }
}

/// Whether `b` is a word byte, so that a keyword right after it is inside a longer word.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `Bearer <token>`, `Basic <base64>`: the credential is the secret unless it reads as a word.
fn schemes(text: &[u8], context: Context, found: &mut Vec<Finding>) {
    let mut cache = ScanCache::default();
    let mut from = 0;
    while let Some(m) = SCHEME.find_at(text, from) {
        from = m.end();
        if context
            .byte_before(text, m.start())
            .is_some_and(is_word_byte)
        {
            continue;
        }
        let start = m.end();
        let (mut end, open) = cache.scan(text, start, Scan::Run(Class::Token));
        // A sentence may end right after the token.
        while end > start && text[end - 1] == b'.' {
            end -= 1;
        }
        let token = &text[start..end];
        if !token.is_empty() && !looks_like_prose(token) {
            found.push(Finding {
                shape: m.start(),
                start,
                end,
                open,
            });
        }
    }
}

/// `Authorization: ...`, `Cookie: ...`: the whole value is the secret.
fn headers(text: &[u8], context: Context, redacted: &[(usize, usize)], found: &mut Vec<Finding>) {
    let mut cache = ScanCache::default();
    let mut strings = StringTracker::new(context);
    let mut from = 0;
    while let Some(m) = HEADER.find_at(text, from) {
        from = m.end();
        if context
            .byte_before(text, m.start())
            .is_some_and(is_word_byte)
        {
            continue;
        }
        let in_string = strings.inside_at(text, m.start(), redacted);
        let (value, scan) =
            open_quote(text, m.end()).unwrap_or((m.end(), Scan::Line { in_string }));
        let start = skip_markers(text, value, matches!(scan, Scan::Line { .. }));
        let (mut end, open) = cache.scan(text, start, scan);
        if matches!(scan, Scan::Line { .. }) {
            while end > start && matches!(text[end - 1], b' ' | b'\t') {
                end -= 1;
            }
        }
        if end > start {
            strings.redacted(start, end);
            found.push(Finding {
                shape: m.start(),
                start,
                end,
                open,
            });
        }
    }
}

/// `accessToken: "..."`, `password=...` and the like: the value is the secret.
fn fields(text: &[u8], context: Context, found: &mut Vec<Finding>, lenient: &mut Vec<Finding>) {
    let mut cache = ScanCache::default();
    let mut from = 0;
    while let Some(m) = FIELD.find_at(text, from) {
        let name = m.start();
        if context.byte_before(text, name).is_some_and(is_name_byte) {
            // Part of a longer name such as `input_token=`; a shorter name may start later.
            from = name + 1;
            continue;
        }
        from = m.end();
        let quoted = open_quote(text, m.end());
        let (value, scan) = quoted.unwrap_or((m.end(), Scan::Run(Class::Bare)));
        let start = skip_markers(text, value, false);
        let (end, open) = cache.scan(text, start, scan);
        if end == start {
            continue;
        }
        if quoted.is_none() {
            let bare = &text[start..end];
            if bare == b"null" {
                continue;
            }
            // `refresh token: expired` is prose; `token: abc123` or `token=x` is not.
            let colon = !text[m.range()].contains(&b'=');
            if colon
                && !at_field_position(text, name, context)
                && looks_like_prose(trim_punctuation(bare))
            {
                lenient.push(Finding {
                    shape: name,
                    start,
                    end,
                    open,
                });
                continue;
            }
        }
        found.push(Finding {
            shape: name,
            start,
            end,
            open,
        });
    }
}

/// Whether `b` can be part of a field name, so that a name right after it is not whole.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/')
}

/// Whether the name at `at` stands where a field name stands: first on its line, or after an
/// opening bracket, a comma, a semicolon, a query delimiter, a list dash or a quote.
fn at_field_position(text: &[u8], at: usize, context: Context) -> bool {
    let before = text[..at]
        .iter()
        .rev()
        .find(|&&b| b != b' ' && b != b'\t')
        .copied()
        .or(context.last_non_blank);
    match before {
        None => true,
        Some(b) => matches!(
            b,
            b'\n' | b'\r' | b'{' | b'(' | b'[' | b',' | b';' | b'&' | b'?' | b'-' | b'"' | b'\''
        ),
    }
}

/// Whether a credential candidate reads as an ordinary word: up to 15 ASCII letters in lower,
/// upper or capitalized case (`token`, `HTTP`, `Unauthorized`), or up to 15 digits (`401`).
/// Real credentials mix cases, digits and symbols or are longer.
fn looks_like_prose(word: &[u8]) -> bool {
    let Some((first, rest)) = word.split_first() else {
        return false;
    };
    if word.len() > 15 {
        return false;
    }
    if word.iter().all(u8::is_ascii_digit) {
        return true;
    }
    first.is_ascii_alphabetic()
        && (rest.iter().all(u8::is_ascii_lowercase) || rest.iter().all(u8::is_ascii_uppercase))
        && (first.is_ascii_uppercase() || rest.iter().all(u8::is_ascii_lowercase))
}

/// `word` without trailing sentence punctuation.
fn trim_punctuation(word: &[u8]) -> &[u8] {
    let keep = word.len()
        - word
            .iter()
            .rev()
            .take_while(|&&b| matches!(b, b'.' | b':' | b'!' | b'?'))
            .count();
    &word[..keep]
}

/// A quoted value at `at`: `"`, `'`, or `"` after up to eight backslashes (escaped JSON),
/// optionally inside a wrapper such as `Some(`. Returns where the value starts and its scan.
fn open_quote(text: &[u8], at: usize) -> Option<(usize, Scan)> {
    let rest = &text[at..];
    let quote_at = |i: usize| -> Option<(usize, Scan)> {
        let level = rest[i.min(rest.len())..]
            .iter()
            .take(9)
            .take_while(|&&b| b == b'\\')
            .count();
        match rest.get(i + level) {
            Some(b'"') if level <= 8 => Some((at + i + level + 1, Scan::quoted(b'"', level))),
            Some(b'\'') if level == 0 => Some((at + i + 1, Scan::quoted(b'\'', 0))),
            _ => None,
        }
    };
    wrapper_len(rest)
        .and_then(&quote_at)
        .or_else(|| quote_at(0))
}

/// The length of a Debug wrapper such as `Some(` or `Secret(` at the start of `rest`.
fn wrapper_len(rest: &[u8]) -> Option<usize> {
    let ident = rest
        .iter()
        .take(33)
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    let starts_with_letter = rest.first().is_some_and(u8::is_ascii_alphabetic);
    (starts_with_letter && ident <= 32 && rest.get(ident) == Some(&b'(')).then_some(ident + 1)
}

/// Skips markers left by an earlier redaction (and, in header lines, the blanks between
/// them), so that redacting twice changes nothing while text after a marker is still checked.
fn skip_markers(text: &[u8], mut at: usize, blanks: bool) -> usize {
    loop {
        if blanks {
            while matches!(text.get(at), Some(b' ' | b'\t')) {
                at += 1;
            }
        }
        if text[at..].starts_with(REDACTED.as_bytes()) {
            at += REDACTED.len();
        } else {
            return at;
        }
    }
}

/// Tracks whether a position is inside a double-quoted string on its line, scanning forward
/// only (positions are asked for in increasing order). Secret values count as replaced by
/// the marker: quotes and backslashes inside them are not seen.
#[derive(Debug)]
struct StringTracker {
    pos: usize,
    inside: bool,
    backslashes: usize,
    /// Values found while tracking (sorted by start, merged).
    own: Vec<(usize, usize)>,
}

impl StringTracker {
    fn new(context: Context) -> Self {
        StringTracker {
            pos: 0,
            inside: context.in_string,
            backslashes: context.backslashes,
            own: Vec::new(),
        }
    }

    /// Records a value found at or after the current position.
    fn redacted(&mut self, start: usize, end: usize) {
        match self.own.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => self.own.push((start, end)),
        }
    }

    /// Whether `at` is inside a string, skipping the `redacted` ranges (sorted, merged) and
    /// the values recorded with [`StringTracker::redacted`].
    fn inside_at(&mut self, text: &[u8], at: usize, redacted: &[(usize, usize)]) -> bool {
        while self.pos < at {
            let next = [redacted, self.own.as_slice()]
                .into_iter()
                .filter_map(|ranges| {
                    let i = ranges.partition_point(|&(_, end)| end <= self.pos);
                    ranges.get(i).copied()
                })
                .min();
            match next {
                Some((start, end)) if start <= self.pos => {
                    self.pos = end.min(at);
                    // The marker ends in `]`, not in a backslash.
                    self.backslashes = 0;
                }
                next => {
                    let stop = next.map_or(at, |(start, _)| start.min(at));
                    self.feed(&text[self.pos..stop]);
                    self.pos = stop;
                }
            }
        }
        self.inside
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' => {
                    self.inside = false;
                    self.backslashes = 0;
                }
                b'\\' => self.backslashes += 1,
                b'"' => {
                    if self.backslashes.is_multiple_of(2) {
                        self.inside = !self.inside;
                    }
                    self.backslashes = 0;
                }
                _ => self.backslashes = 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        LazyLock::force(&KEY);
        LazyLock::force(&SCHEME);
        LazyLock::force(&HEADER);
        LazyLock::force(&FIELD);
    }

    #[test]
    fn prose_words() {
        for word in ["token", "Unauthorized", "HTTP", "401", "a"] {
            assert!(looks_like_prose(word.as_bytes()), "{word}");
        }
        for word in [
            "",
            "dXNlcjpwYXNz",
            "abc123",
            "abcdefghijklmnop",
            "x-y",
            "tOKEN",
        ] {
            assert!(!looks_like_prose(word.as_bytes()), "{word}");
        }
    }

    #[test]
    fn overlap_checks() {
        let ranges = [(2, 4), (8, 10)];
        assert!(overlaps(&ranges, 3, 5));
        assert!(overlaps(&ranges, 0, 3));
        assert!(overlaps(&ranges, 9, 20));
        assert!(overlaps(&ranges, 0, 2));
        assert!(overlaps(&ranges, 10, 12));
        assert!(!overlaps(&ranges, 5, 7));
        assert!(!overlaps(&ranges, 0, 1));
        assert!(!overlaps(&ranges, 11, 12));
        assert!(!overlaps(&[], 0, 12));
    }

    #[test]
    fn regions_merge_overlaps_and_neighbours() {
        let f = |start, end| Finding {
            shape: start,
            start,
            end,
            open: None,
        };
        let found = [f(10, 20), f(0, 5), f(12, 30), f(30, 31), f(40, 41)];
        assert_eq!(regions(&found), vec![(0, 5), (10, 31), (40, 41)]);
    }

    #[test]
    fn wrappers_and_quotes() {
        assert_eq!(wrapper_len(b"Some(\"x\")"), Some(5));
        assert_eq!(wrapper_len(b"(x)"), None);
        assert_eq!(
            open_quote(b"Some(\"x\")", 0),
            Some((6, Scan::quoted(b'"', 0)))
        );
        assert_eq!(
            open_quote(b"\\\"x\\\"", 0),
            Some((2, Scan::quoted(b'"', 1)))
        );
        assert_eq!(open_quote(b"'x'", 0), Some((1, Scan::quoted(b'\'', 0))));
        assert_eq!(open_quote(b"x", 0), None);
        assert_eq!(open_quote(b"", 0), None);
    }

    #[test]
    fn string_tracking_follows_unescaped_quotes_and_resets_per_line() {
        let text = br#"{"m":"a \"b\" c" d
e"#;
        let mut strings = StringTracker::new(Context::default());
        assert!(!strings.inside_at(text, 1, &[]));
        assert!(strings.inside_at(text, 2, &[]));
        assert!(strings.inside_at(text, 10, &[]));
        assert!(!strings.inside_at(text, 17, &[]));
        assert!(!strings.inside_at(text, 19, &[]));
    }

    #[test]
    fn string_tracking_skips_secret_values() {
        let text = br#"a='x"y' b"c" d"#;
        let mut strings = StringTracker::new(Context::default());
        assert!(!strings.inside_at(text, 8, &[(3, 6)]));
        assert!(strings.inside_at(text, 10, &[(3, 6)]));
        strings.redacted(10, 12);
        assert!(strings.inside_at(text, 12, &[(3, 6)]));
        assert!(strings.inside_at(text, 14, &[(3, 6)]));
    }
}
