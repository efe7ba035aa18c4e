//! Parsing one candidate line into a usage record.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::error::Category;

use crate::event::{Speed, TokenCounts};

#[cfg(test)]
mod differential;
mod fast;

/// The fields of a transcript line that matter for usage; everything else is skipped unread.
#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Text<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
    #[serde(rename = "sessionId", borrow, default)]
    session_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    cwd: Option<Text<'a>>,
    #[serde(rename = "isSidechain", default)]
    is_sidechain: Option<bool>,
    #[serde(rename = "requestId", borrow, default)]
    request_id: Option<Text<'a>>,
    #[serde(rename = "isApiErrorMessage", default)]
    is_api_error_message: Option<bool>,
    #[serde(borrow, default)]
    message: Option<RawMessage<'a>>,
}

#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    model: Option<Text<'a>>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct RawUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation: Option<RawCacheCreation>,
    #[serde(default)]
    speed: SpeedField,
}

#[derive(Deserialize)]
struct RawCacheCreation {
    #[serde(default)]
    ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    ephemeral_1h_input_tokens: Option<u64>,
}

/// `usage.speed`, read leniently: `"fast"` is fast, anything else (any type) is standard.
#[derive(Default)]
struct SpeedField(Speed);

impl<'de> Deserialize<'de> for SpeedField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpeedVisitor;

        impl<'de> Visitor<'de> for SpeedVisitor {
            type Value = SpeedField;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<SpeedField, E> {
                Ok(SpeedField(if v == "fast" {
                    Speed::Fast
                } else {
                    Speed::Standard
                }))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SpeedField, E> {
                Ok(SpeedField::default())
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SpeedField, E> {
                Ok(SpeedField::default())
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SpeedField, E> {
                Ok(SpeedField::default())
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SpeedField, E> {
                Ok(SpeedField::default())
            }

            fn visit_unit<E: de::Error>(self) -> Result<SpeedField, E> {
                Ok(SpeedField::default())
            }

            fn visit_none<E: de::Error>(self) -> Result<SpeedField, E> {
                Ok(SpeedField::default())
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpeedField, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(SpeedField::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpeedField, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(SpeedField::default())
            }
        }

        deserializer.deserialize_any(SpeedVisitor)
    }
}

/// Only the line's `type`, for lines whose other fields did not fit [`RawLine`].
#[derive(Deserialize)]
struct KindOnly<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Text<'a>>,
}

/// A JSON string, borrowed from the line when it has no escapes.
///
/// (`Option<Cow<str>>` would always allocate: serde borrows only a bare `Cow<str>`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

/// Why a line was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadLine {
    InvalidUtf8,
    InvalidJson,
    WrongTypes,
    BadTimestamp,
}

/// A usage line, still borrowing from the line where it can.
#[derive(Debug)]
pub(crate) struct ParsedUsage<'a> {
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) model: Option<Cow<'a, str>>,
    pub(crate) tokens: TokenCounts,
    pub(crate) speed: Speed,
    pub(crate) message_id: Option<Cow<'a, str>>,
    pub(crate) request_id: Option<Cow<'a, str>>,
    pub(crate) sidechain: bool,
    pub(crate) cwd: Option<Cow<'a, str>>,
    pub(crate) session_id: Option<Cow<'a, str>>,
}

/// What a candidate line turned out to be.
#[derive(Debug)]
pub(crate) enum LineKind<'a> {
    /// Valid, but not an assistant line with `message.usage`.
    NotUsage,
    /// Claude Code's own error line (`<synthetic>` model or `isApiErrorMessage`).
    Synthetic,
    /// An assistant line with usage.
    Usage(ParsedUsage<'a>),
    /// Skipped.
    Bad(BadLine),
}

/// The `model` of Claude Code's own (non-API) messages.
const SYNTHETIC_MODEL: &str = "<synthetic>";

/// Classifies one candidate line (without its newline, BOM or `\r`).
///
/// The fast path ([`fast::read_line`]) reads the few fields needed and skips the rest; it answers
/// only lines it is sure serde reads the same way, and every other line goes to serde
/// ([`parse_line_serde`]), so the result is always the serde result.
pub(crate) fn parse_line(bytes: &[u8]) -> LineKind<'_> {
    // The same check as `std::str::from_utf8` (the serde path below keeps that one, so the
    // differential tests compare the two), a few times faster on long lines.
    let Ok(text) = simdutf8::basic::from_utf8(bytes) else {
        return LineKind::Bad(BadLine::InvalidUtf8);
    };
    match fast::read_line(text) {
        Some(raw) => classify(raw),
        None => parse_text_serde(text),
    }
}

/// Whether the first members of `line` (without its newline, BOM or `\r`) give it a `type` other
/// than `"assistant"`: a line of another kind, passed by without a look at the rest of it.
///
/// What [`parse_line`] says of such a line is not usage, or a bad line when the rest of it is
/// not JSON, gives `type` again (`"assistant"`) or is not UTF-8; a reader that passes it by
/// counts it as it counts a line without the needle, whose JSON is not checked either.
pub(crate) fn leading_type_is_not_assistant(line: &[u8]) -> bool {
    fast::leading_type(line).is_some_and(|kind| kind != b"assistant")
}

/// [`parse_line`] through serde alone: the reference the fast path is checked against.
pub(crate) fn parse_line_serde(bytes: &[u8]) -> LineKind<'_> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return LineKind::Bad(BadLine::InvalidUtf8);
    };
    parse_text_serde(text)
}

/// Serde's reading of a line that is UTF-8.
fn parse_text_serde(text: &str) -> LineKind<'_> {
    match serde_json::from_str::<RawLine<'_>>(text) {
        Ok(raw) => classify(raw),
        Err(err) => classify_error(text, &err),
    }
}

/// What a line that parsed is, from its fields.
fn classify(raw: RawLine<'_>) -> LineKind<'_> {
    if raw.kind.as_deref() != Some("assistant") {
        return LineKind::NotUsage;
    }
    let message = raw.message;
    let model = message.as_ref().and_then(|m| m.model.as_ref());
    if raw.is_api_error_message == Some(true) || model.is_some_and(|m| **m == *SYNTHETIC_MODEL) {
        return LineKind::Synthetic;
    }
    let Some(message) = message else {
        return LineKind::NotUsage;
    };
    let Some(usage) = message.usage else {
        return LineKind::NotUsage;
    };
    let Some(timestamp) = raw.timestamp.as_deref().and_then(parse_timestamp) else {
        return LineKind::Bad(BadLine::BadTimestamp);
    };
    LineKind::Usage(ParsedUsage {
        timestamp,
        model: message.model.map(|t| t.0),
        tokens: token_counts(&usage),
        speed: usage.speed.0,
        message_id: message.id.map(|t| t.0),
        request_id: raw.request_id.map(|t| t.0),
        sidechain: raw.is_sidechain == Some(true),
        cwd: raw.cwd.map(|t| t.0),
        session_id: raw.session_id.map(|t| t.0),
    })
}

/// `kind` as text for comparing the two paths: its `Debug` form, and which of its strings are
/// borrowed from the line (`Debug` does not show that, and both paths should borrow alike).
pub(crate) fn render(kind: &LineKind<'_>) -> String {
    match kind {
        LineKind::Usage(u) => {
            let borrowed = [
                &u.model,
                &u.message_id,
                &u.request_id,
                &u.cwd,
                &u.session_id,
            ]
            .map(|s| matches!(s, Some(Cow::Borrowed(_))));
            format!("{kind:?} borrowed={borrowed:?}")
        }
        _ => format!("{kind:?}"),
    }
}

fn classify_error<'a>(text: &str, err: &serde_json::Error) -> LineKind<'a> {
    match err.classify() {
        Category::Data => {
            // Valid JSON whose fields do not fit. Only an assistant line is a broken usage line;
            // any other line type may use these field names for other things.
            match serde_json::from_str::<KindOnly<'_>>(text) {
                Ok(k) if k.kind.as_deref() == Some("assistant") => {
                    LineKind::Bad(BadLine::WrongTypes)
                }
                Ok(_) => LineKind::NotUsage,
                Err(_) => LineKind::Bad(BadLine::WrongTypes),
            }
        }
        Category::Syntax | Category::Eof | Category::Io => LineKind::Bad(BadLine::InvalidJson),
    }
}

fn token_counts(usage: &RawUsage) -> TokenCounts {
    let input = usage.input_tokens.unwrap_or(0);
    let output = usage.output_tokens.unwrap_or(0);
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    let split = usage.cache_creation.as_ref().map(|c| {
        (
            c.ephemeral_5m_input_tokens.unwrap_or(0),
            c.ephemeral_1h_input_tokens.unwrap_or(0),
        )
    });
    let (cache_creation, cache_creation_5m, cache_creation_1h) =
        match (usage.cache_creation_input_tokens, split) {
            (None, None) => (0, 0, 0),
            (Some(total), None) => (total, 0, 0),
            // Only the split was logged: it is the total. A sum past `u64::MAX` saturates, and
            // the 5-minute part is then what is left, so that the parts still add up.
            (None, Some((m5, h1))) => {
                let total = m5.saturating_add(h1);
                (total, total - h1, h1)
            }
            (Some(total), Some((m5, h1))) => {
                if m5.checked_add(h1) == Some(total) {
                    (total, m5, h1)
                } else {
                    // An inconsistent split: keep the total, trust the 1-hour part as far as it
                    // goes and price the rest as 5-minute writes, so that the parts add up.
                    let h1 = h1.min(total);
                    (total, total - h1, h1)
                }
            }
        };
    TokenCounts {
        input,
        output,
        cache_creation,
        cache_read,
        cache_creation_5m,
        cache_creation_1h,
    }
}

/// Parses an RFC 3339 timestamp with an offset or `Z`.
pub(crate) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    parse_utc_millis(s.as_bytes()).or_else(|| parse_rfc3339(s))
}

/// Any RFC 3339 timestamp, through chrono's general parser.
fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The form Claude Code writes, `YYYY-MM-DDTHH:MM:SS.mmmZ`, read without the general RFC 3339
/// parser (a few percent of a first run's parsing): the instant that parser gives, or `None`
/// for any other form or any field out of its usual range (a leap second, for one), which is
/// then left to it.
fn parse_utc_millis(b: &[u8]) -> Option<DateTime<Utc>> {
    let b: &[u8; 24] = b.try_into().ok()?;
    let separators = [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ];
    if b[23] != b'Z' || separators.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(number(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?;
    let time = NaiveTime::from_hms_milli_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        number(20, 23)?,
    )?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"parentUuid":"920b3d49-aaaa","isSidechain":false,"userType":"external","cwd":"/home/me/work/app","sessionId":"958555ae-bbbb","version":"2.1.14","gitBranch":"main","message":{"id":"msg_01HnFmAAAA","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Done."}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":15495,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":15495,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}},"requestId":"req_011CSdV2AAAA","type":"assistant","uuid":"8eef27a8-cccc","timestamp":"2025-08-30T07:16:28.537Z"}"#;

    fn usage(line: &str) -> ParsedUsage<'_> {
        match parse_line(line.as_bytes()) {
            LineKind::Usage(u) => u,
            other => panic!("expected usage, got {other:?}"),
        }
    }

    fn bad(line: &[u8]) -> BadLine {
        match parse_line(line) {
            LineKind::Bad(b) => b,
            other => panic!("expected a bad line, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_documented_sample() {
        let u = usage(SAMPLE);
        assert_eq!(
            u.timestamp,
            parse_timestamp("2025-08-30T07:16:28.537Z").unwrap()
        );
        assert_eq!(u.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert_eq!(u.message_id.as_deref(), Some("msg_01HnFmAAAA"));
        assert_eq!(u.request_id.as_deref(), Some("req_011CSdV2AAAA"));
        assert_eq!(u.cwd.as_deref(), Some("/home/me/work/app"));
        assert_eq!(u.session_id.as_deref(), Some("958555ae-bbbb"));
        assert!(!u.sidechain);
        assert_eq!(u.speed, Speed::Standard);
        assert_eq!(
            u.tokens,
            TokenCounts {
                input: 3,
                output: 1,
                cache_creation: 15495,
                cache_read: 0,
                cache_creation_5m: 15495,
                cache_creation_1h: 0,
            }
        );
        // Strings without escapes are borrowed from the line.
        assert!(matches!(u.model, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let line = r#"{"type":"assistant","cwd":"C:\\Users\\me","timestamp":"2025-01-01T00:00:00Z","message":{"id":"msg_\u0041","usage":{"output_tokens":2}}}"#;
        let u = usage(line);
        assert_eq!(u.cwd.as_deref(), Some(r"C:\Users\me"));
        assert_eq!(u.message_id.as_deref(), Some("msg_A"));
        assert_eq!(u.tokens.output, 2);
        assert_eq!(u.model, None);
    }

    #[test]
    fn missing_token_fields_are_zero_and_null_is_absent() {
        let line = r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00+02:00","message":{"usage":{"input_tokens":null}}}"#;
        let u = usage(line);
        assert_eq!(u.tokens, TokenCounts::default());
        assert_eq!(
            u.timestamp,
            parse_timestamp("2024-12-31T22:00:00Z").unwrap()
        );
    }

    #[test]
    fn speed_is_read_leniently() {
        let fast = r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{"usage":{"speed":"fast"}}}"#;
        assert_eq!(usage(fast).speed, Speed::Fast);
        for other in [r#""standard""#, "null", "7", r#"{"a":[1]}"#, "[true]"] {
            let line = format!(
                r#"{{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{{"usage":{{"speed":{other},"output_tokens":4}}}}}}"#
            );
            let u = usage(&line);
            assert_eq!(u.speed, Speed::Standard);
            assert_eq!(u.tokens.output, 4);
        }
    }

    #[test]
    fn cache_split_is_kept_consistent() {
        let line = |usage: &str| {
            format!(
                r#"{{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{{"usage":{usage}}}}}"#
            )
        };
        let l = line(
            r#"{"cache_creation":{"ephemeral_5m_input_tokens":4,"ephemeral_1h_input_tokens":6}}"#,
        );
        let t = usage(&l).tokens;
        assert_eq!(
            (t.cache_creation, t.cache_creation_5m, t.cache_creation_1h),
            (10, 4, 6)
        );
        let l = line(
            r#"{"cache_creation_input_tokens":10,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}}"#,
        );
        let t = usage(&l).tokens;
        assert_eq!(
            (t.cache_creation, t.cache_creation_5m, t.cache_creation_1h),
            (10, 10, 0)
        );
        let l = line(
            r#"{"cache_creation_input_tokens":10,"cache_creation":{"ephemeral_1h_input_tokens":25}}"#,
        );
        let t = usage(&l).tokens;
        assert_eq!(
            (t.cache_creation, t.cache_creation_5m, t.cache_creation_1h),
            (10, 0, 10)
        );
        let l = line(r#"{"cache_creation_input_tokens":10}"#);
        let t = usage(&l).tokens;
        assert_eq!(
            (t.cache_creation, t.cache_creation_5m, t.cache_creation_1h),
            (10, 0, 0)
        );
        // Parts whose sum passes `u64::MAX` still add up to the (saturated) total.
        let max = u64::MAX;
        for split in [
            format!(
                r#"{{"cache_creation":{{"ephemeral_5m_input_tokens":{max},"ephemeral_1h_input_tokens":{max}}}}}"#
            ),
            format!(
                r#"{{"cache_creation_input_tokens":{max},"cache_creation":{{"ephemeral_5m_input_tokens":{max},"ephemeral_1h_input_tokens":1}}}}"#
            ),
        ] {
            let t = usage(&line(&split)).tokens;
            assert_eq!(t.cache_creation, max, "{split}");
            assert_eq!(
                t.cache_creation_5m.checked_add(t.cache_creation_1h),
                Some(max),
                "{split}"
            );
        }
    }

    #[test]
    fn not_usage_lines() {
        for line in [
            r#"{"type":"user","message":{"role":"user","content":"ask the \"assistant\""}}"#,
            r#"{"type":"user","message":"assistant","timestamp":5}"#,
            r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{"id":"msg_1","model":"claude-opus-4-5"}}"#,
            r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z"}"#,
            r#"{"type":"summary","summary":"assistant","leafUuid":"x"}"#,
            r#"{"message":{"role":"assistant","usage":{"output_tokens":1}}}"#,
            r#"{"type":"progress","data":{"type":"assistant","message":{"usage":{"output_tokens":1}}}}"#,
        ] {
            assert!(
                matches!(parse_line(line.as_bytes()), LineKind::NotUsage),
                "{line}"
            );
        }
    }

    #[test]
    fn synthetic_lines() {
        for line in [
            r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","isApiErrorMessage":true,"message":{"id":"x","model":"<synthetic>","content":[{"type":"text","text":"Claude AI usage limit reached|1756540800"}],"usage":{"input_tokens":0,"output_tokens":0}}}"#,
            r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{"model":"<synthetic>","usage":{"output_tokens":0}}}"#,
            r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","isApiErrorMessage":true,"message":{"model":"claude-opus-4-5","usage":{"output_tokens":0}}}"#,
        ] {
            assert!(
                matches!(parse_line(line.as_bytes()), LineKind::Synthetic),
                "{line}"
            );
        }
    }

    #[test]
    fn bad_lines_by_kind() {
        assert_eq!(
            bad(b"{\"type\":\"assistant\",\"x\":\"\xff\"}"),
            BadLine::InvalidUtf8
        );
        assert_eq!(bad(br#"{"type":"assistant","#), BadLine::InvalidJson);
        assert_eq!(
            bad(br#"{"type":"assistant"} trailing"#),
            BadLine::InvalidJson
        );
        assert_eq!(bad(br#""assistant""#), BadLine::WrongTypes);
        let wrong = |usage: &str| {
            format!(
                r#"{{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{{"usage":{usage}}}}}"#
            )
        };
        for usage in [
            r#"{"output_tokens":-1}"#,
            r#"{"output_tokens":1.5}"#,
            r#"{"output_tokens":"12"}"#,
            r#"{"output_tokens":18446744073709551616}"#,
            r#"{"cache_creation":{"ephemeral_1h_input_tokens":-3}}"#,
            r#""none""#,
        ] {
            assert_eq!(bad(wrong(usage).as_bytes()), BadLine::WrongTypes, "{usage}");
        }
        assert_eq!(
            bad(br#"{"type":"assistant","isSidechain":"no","timestamp":"2025-01-01T00:00:00Z","message":{"usage":{}}}"#),
            BadLine::WrongTypes
        );
        for ts in [
            "",
            r#","timestamp":"2025-01-01T00:00:00""#,
            r#","timestamp":"yesterday""#,
            r#","timestamp":"2025-13-01T00:00:00Z""#,
        ] {
            let line = format!(r#"{{"type":"assistant"{ts},"message":{{"usage":{{}}}}}}"#);
            assert_eq!(bad(line.as_bytes()), BadLine::BadTimestamp, "{ts}");
        }
        let numeric = r#"{"type":"assistant","timestamp":1756540800,"message":{"usage":{}}}"#;
        assert_eq!(bad(numeric.as_bytes()), BadLine::WrongTypes);
    }

    /// The short path for Claude Code's form gives what the general parser gives, on every
    /// string of that shape (valid or not, with any digits), and declines what it does not read.
    #[test]
    fn timestamps_of_the_usual_form_read_as_the_general_parser_reads_them() {
        use proptest::prelude::*;
        let general = parse_rfc3339;
        for s in [
            "2025-08-30T07:16:28.537Z",
            "2024-02-29T23:59:59.999Z",
            "2023-02-29T00:00:00.000Z",
            "2025-12-31T23:59:60.500Z",
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T24:00:00.000Z",
            "2025-13-01T00:00:00.000Z",
            "2025-00-10T00:00:00.000Z",
            "2025-01-00T00:00:00.000Z",
            "2025-01-01T00:60:00.000Z",
            "2025-01-01t00:00:00.000Z",
            "2025-01-01T00:00:00.000z",
            "2025-01-01T00:00:00,000Z",
            "2025-01-01T00:00:0a.000Z",
            "2025-08-30T07:16:28.5370Z",
            "2025-08-30T07:16:28Z",
        ] {
            assert_eq!(parse_timestamp(s), general(s), "{s}");
        }
        assert!(parse_utc_millis(b"2025-08-30T07:16:28.537Z").is_some());
        assert!(parse_utc_millis(b"2025-12-31T23:59:60.500Z").is_none());
        let digits = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";
        proptest!(ProptestConfig::with_cases(4_000), |(s in digits)| {
            prop_assert_eq!(parse_timestamp(&s), general(&s));
        });
        let near = "20[0-9]{2}-(0[0-9]|1[0-3])-([0-3][0-9])T([0-2][0-9]):([0-6][0-9]):([0-6][0-9])\\.[0-9]{3}Z";
        proptest!(ProptestConfig::with_cases(4_000), |(s in near)| {
            prop_assert_eq!(parse_timestamp(&s), general(&s));
        });
    }
}
