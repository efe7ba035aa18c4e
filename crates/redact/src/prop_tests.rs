//! Property tests: secrets of every shape disappear wherever they are embedded, text without
//! secrets is returned borrowed and unchanged, and redaction is idempotent and line-wise.

use std::borrow::Cow;

use proptest::prelude::*;
use proptest::sample::select;

use crate::{contains_secret, redact};

/// Field names whose values are secrets.
const NAMES: [&str; 17] = [
    "accessToken",
    "refreshToken",
    "access_token",
    "refresh_token",
    "token",
    "id_token",
    "idToken",
    "apiKey",
    "api_key",
    "x-api-key",
    "password",
    "passwd",
    "secret",
    "client_secret",
    "clientSecret",
    "sessionKey",
    "session_key",
];

/// Words that cannot form a secret shape, whatever separates them.
const WORDS: [&str; 30] = [
    "the",
    "usage",
    "window",
    "resets",
    "at",
    "42",
    "5-hour",
    "7-day",
    "percent",
    "tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "tokenCount",
    "inputTokens",
    "totalTokens",
    "max_tokens",
    "tokens_used",
    "expired",
    "request",
    "failed",
    "caused",
    "by",
    "keys",
    "secrets",
    "passwords",
    "cookies",
    "bearers",
    "sk-ant",
];

/// Separators between words.
const SEPARATORS: [&str; 13] = [
    " ", ", ", ": ", "=", "\n", "\"", "{", "}", "\":\"", "/", "-", "?", "\\\"",
];

/// Arbitrary surrounding text: printable ASCII, blanks, line ends and a few non-ASCII letters.
fn noise() -> impl Strategy<Value = String> {
    "[ -~\\n\\t\\x{e4}\\x{20ac}]{0,40}"
}

/// A secret body long enough to check for 12-byte windows; it mixes a letter and a digit so
/// that it never reads as a word.
fn body() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_-]{10,100}[0-9]"
}

/// `text` with each ASCII letter's case flipped where `flips` says so.
fn recase(text: &str, flips: &[bool]) -> String {
    text.chars()
        .zip(flips.iter().cycle())
        .map(|(c, &flip)| {
            if !flip {
                c
            } else if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A secret in one of the shapes, as it appears in plain text.
fn snippet(shape: usize, body: &str, name: &str, scheme: &str) -> String {
    match shape {
        0 => format!("sk-ant-oat01-{body}"),
        1 => format!("sk-ant-admin01-{body}"),
        2 => format!("{scheme} {body}"),
        3 => format!("Basic {body}"),
        4 => format!("Authorization: Bearer {body}"),
        5 => format!("Cookie: sessionKey={body}; lang=en"),
        6 => format!(r#""{name}":"{body}""#),
        7 => format!(r#""{name}" : "{body}""#),
        8 => format!("{name}={body}"),
        9 => format!(r#"{name}: "{body}""#),
        10 => format!(r#"{name}: Some("{body}")"#),
        11 => format!("?{name}={body}&page=2"),
        12 => format!("{name}: {body}"),
        _ => format!("'{name}': '{body}'"),
    }
}

const SHAPES: usize = 14;

/// The text of a JSON or Debug string holding `text`.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

/// `snippet` embedded in one of several contexts, between `pre` and `post`.
fn embed(context: usize, pre: &str, snippet: &str, post: &str) -> String {
    let line = format!("{pre} {snippet} {post}");
    match context {
        0 => line,
        1 => format!(r#"{{"level":"warn","msg":"{}"}}"#, escape(&line)),
        2 => format!(r#"{{"b":"{{\"c\":\"{}\"}}"}}"#, escape(&escape(&line))),
        3 => format!("GET https://x.test/p?a=1&{snippet}&b=2 {post}"),
        4 => format!("{pre}: request failed: caused by: {snippet}: {post}"),
        _ => format!(
            r#"Err(Http {{ detail: "{}", status: 401 }})"#,
            escape(&line)
        ),
    }
}

const CONTEXTS: usize = 6;

/// Asserts that no 12-byte window of `body` is left in `out`.
fn assert_hidden(body: &str, out: &str) -> Result<(), TestCaseError> {
    for i in 0..=body.len().saturating_sub(12) {
        let window = &body[i..(i + 12).min(body.len())];
        prop_assert!(!out.contains(window), "{window:?} survived in {out:?}");
    }
    Ok(())
}

/// Redacts each line on its own.
fn line_wise(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| redact(line))
        .collect()
}

/// Pieces of secret shapes, to be glued together in any order.
const FRAGMENTS: [&str; 32] = [
    "token",
    "Token",
    "password",
    "x-api-key",
    "input_tokens",
    "=",
    ":",
    ": ",
    ":=",
    "\"",
    "\\",
    "\\\"",
    "'",
    "[REDACTED]",
    "Bearer ",
    "basic ",
    "sk-ant-oat01-",
    "sk-ant-",
    "abc1",
    "Ab9_",
    " ",
    "\t",
    "\n",
    "\r",
    "Some(",
    ")",
    "Authorization:",
    "cookie=",
    "-",
    "/",
    ".",
    "&",
];

fn fragments_text() -> impl Strategy<Value = String> {
    prop::collection::vec(select(&FRAGMENTS[..]), 0..24).prop_map(|parts| parts.concat())
}

fn words_text() -> impl Strategy<Value = String> {
    prop::collection::vec((select(&WORDS[..]), select(&SEPARATORS[..])), 0..30).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(word, separator)| [word, separator])
            .collect()
    })
}

fn secret_text() -> impl Strategy<Value = (String, String)> {
    (
        0..SHAPES,
        0..CONTEXTS,
        body(),
        select(&NAMES[..]),
        select(&["Bearer", "bearer", "BEARER", "bEaReR"][..]),
        prop::collection::vec(any::<bool>(), 1..8),
        noise(),
        noise(),
    )
        .prop_map(|(shape, context, body, name, scheme, flips, pre, post)| {
            let name = recase(name, &flips);
            let text = embed(context, &pre, &snippet(shape, &body, &name, scheme), &post);
            (text, body)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn embedded_secrets_are_hidden((text, body) in secret_text()) {
        let out = redact(&text);
        prop_assert!(matches!(out, Cow::Owned(_)));
        prop_assert!(contains_secret(&text));
        assert_hidden(&body, &out)?;
        prop_assert!(!contains_secret(&out), "secret left in {out:?}");
        prop_assert_eq!(redact(&out), out.clone());
    }

    #[test]
    fn text_without_secrets_is_borrowed_unchanged(text in words_text()) {
        let out = redact(&text);
        prop_assert!(matches!(out, Cow::Borrowed(_)), "changed: {text:?} -> {out:?}");
        prop_assert!(!contains_secret(&text));
    }

    #[test]
    fn redaction_is_idempotent_and_line_wise(
        parts in prop::collection::vec(
            prop_oneof![
                secret_text().prop_map(|(text, _)| text),
                words_text(),
                noise(),
                fragments_text(),
                select(&NAMES[..]).prop_map(String::from),
                select(&["Bearer ", "Authorization:", "\\\"", "'", "[REDACTED]", "\n"][..])
                    .prop_map(String::from),
            ],
            1..8,
        )
    ) {
        let text: String = parts.concat();
        let once = redact(&text);
        prop_assert_eq!(redact(&once), once.clone(), "input {:?}", text);
        prop_assert!(!contains_secret(&once), "secret left in {once:?}");
        prop_assert_eq!(line_wise(&text), once.into_owned());
    }

    #[test]
    fn streams_equal_line_wise_redaction(
        lines in prop::collection::vec(
            prop_oneof![secret_text().prop_map(|(text, _)| text), words_text(), noise()],
            0..12,
        ),
        capacity in 1usize..64,
    ) {
        let text = lines.join("\n");
        let mut out = Vec::new();
        let reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
        let read = crate::redact_stream(reader, &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(read, text.len() as u64);
        prop_assert_eq!(String::from_utf8(out).ok(), Some(line_wise(&text)));
    }
}
