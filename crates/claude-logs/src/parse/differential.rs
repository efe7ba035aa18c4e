//! The fast path against serde: on every input, [`parse_line`] gives what serde alone gives,
//! and so does the fast path whenever it answers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;

use super::{classify, fast, parse_line, parse_line_serde, render};

/// Checks one input; returns whether the fast path answered it.
fn check(line: &[u8]) -> bool {
    let reference = render(&parse_line_serde(line));
    assert_eq!(
        render(&parse_line(line)),
        reference,
        "parse_line differs from serde on {:?}",
        String::from_utf8_lossy(line)
    );
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    match fast::read_line(text) {
        Some(raw) => {
            assert_eq!(
                render(&classify(raw)),
                reference,
                "the fast path differs from serde on {text:?}"
            );
            true
        }
        None => false,
    }
}

/// Whether serde reads `line` into the fields (valid JSON whose needed fields fit).
fn serde_reads(line: &str) -> bool {
    serde_json::from_str::<super::RawLine<'_>>(line).is_ok()
}

/// Checks `line` and says whether the fast path answered.
fn answered(line: &str) -> bool {
    check(line.as_bytes())
}

/// A usage line with every needed field. `field` may replace the JSON text of any of them by
/// its path (`"type"`, `"message.id"`, `"usage.speed"`,
/// `"cache_creation.ephemeral_1h_input_tokens"`, also `"message"`, `"message.usage"`,
/// `"usage.cache_creation"` and `"message.content"`): `None` keeps the default, `"<omit>"`
/// leaves the field out.
fn line_with(field: impl Fn(&str) -> Option<String>) -> String {
    let defaults: &[(&str, &str)] = &[
        ("type", r#""assistant""#),
        ("timestamp", r#""2025-08-30T07:16:28.537Z""#),
        ("sessionId", r#""958555ae-bbbb""#),
        ("cwd", r#""/home/me/work/app""#),
        ("isSidechain", "false"),
        ("requestId", r#""req_011CSdV2AAAA""#),
        ("isApiErrorMessage", "false"),
        ("message.id", r#""msg_01HnFmAAAA""#),
        ("message.model", r#""claude-sonnet-4-5-20250929""#),
        (
            "message.content",
            r#"[{"type":"text","text":"Done.\n\"quoted\" \\ \u00e9 \ud83d\ude00"},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"ls -la","timeout":1.5e3,"flags":[true,false,null,-0.25,0,12]}}]"#,
        ),
        ("usage.input_tokens", "3"),
        ("usage.output_tokens", "1"),
        ("usage.cache_creation_input_tokens", "15495"),
        ("usage.cache_read_input_tokens", "7"),
        ("cache_creation.ephemeral_5m_input_tokens", "15495"),
        ("cache_creation.ephemeral_1h_input_tokens", "0"),
        ("usage.speed", r#""standard""#),
        ("usage.service_tier", r#""standard""#),
    ];
    let value = |path: &str| -> Option<String> {
        match field(path) {
            Some(v) if v == "<omit>" => None,
            Some(v) => Some(v),
            None => defaults
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, v)| (*v).to_owned()),
        }
    };
    let members = |prefix: &str, names: &[&str]| -> String {
        names
            .iter()
            .filter_map(|name| {
                value(&format!("{prefix}{name}")).map(|v| format!(r#""{name}":{v}"#))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    // An object field: its override, or the object built from its members.
    let object = |path: &str, built: String| -> Option<String> {
        match field(path) {
            Some(v) if v == "<omit>" => None,
            Some(v) => Some(v),
            None => Some(built),
        }
    };
    let join = |parts: Vec<Option<String>>| -> String {
        parts.into_iter().flatten().collect::<Vec<_>>().join(",")
    };
    let split = members(
        "cache_creation.",
        &["ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"],
    );
    let usage = join(vec![
        Some(members(
            "usage.",
            &[
                "input_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "output_tokens",
                "service_tier",
                "speed",
            ],
        ))
        .filter(|m| !m.is_empty()),
        object("usage.cache_creation", format!("{{{split}}}"))
            .map(|v| format!(r#""cache_creation":{v}"#)),
    ]);
    let message = join(vec![
        Some(members("message.", &["id", "model", "content"])).filter(|m| !m.is_empty()),
        Some(r#""type":"message","role":"assistant","stop_reason":null"#.to_owned()),
        object("message.usage", format!("{{{usage}}}")).map(|v| format!(r#""usage":{v}"#)),
    ]);
    let line = join(vec![
        Some(r#""parentUuid":"920b3d49-aaaa","userType":"external""#.to_owned()),
        Some(members(
            "",
            &[
                "isSidechain",
                "cwd",
                "sessionId",
                "type",
                "requestId",
                "isApiErrorMessage",
                "timestamp",
            ],
        ))
        .filter(|m| !m.is_empty()),
        Some(r#""version":"2.1.14""#.to_owned()),
        object("message", format!("{{{message}}}")).map(|v| format!(r#""message":{v}"#)),
        Some(r#""uuid":"8eef27a8-cccc""#.to_owned()),
    ]);
    format!("{{{line}}}")
}

/// Lines of the shapes Claude Code writes.
fn samples() -> Vec<String> {
    let mut lines = vec![
        line_with(|_| None),
        line_with(|p| (p == "cwd").then(|| r#""C:\\Users\\me\\work\\app""#.to_owned())),
        line_with(|p| (p == "usage.speed").then(|| r#""fast""#.to_owned())),
        line_with(|p| (p == "message.model").then(|| r#""<synthetic>""#.to_owned())),
        line_with(|p| (p == "isApiErrorMessage").then(|| "true".to_owned())),
        line_with(|p| (p == "isSidechain").then(|| "true".to_owned())),
        line_with(|p| (p == "usage.cache_creation").then(|| "<omit>".to_owned())),
        line_with(|p| {
            (p == "message.content").then(|| {
                r#"[{"type":"thinking","thinking":"Let me think.\n\tOK","signature":"EqZs0X7HEf+h4/UFv=="}]"#
                    .to_owned()
            })
        }),
        r#"{"parentUuid":"920b3d49-aaaa","isSidechain":false,"userType":"external","cwd":"/home/me/work/app","sessionId":"958555ae-bbbb","version":"2.1.14","gitBranch":"main","message":{"id":"msg_01HnFmAAAA","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Done."}],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"cache_creation_input_tokens":15495,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":15495,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}},"requestId":"req_011CSdV2AAAA","type":"assistant","uuid":"8eef27a8-cccc","timestamp":"2025-08-30T07:16:28.537Z"}"#.to_owned(),
        r#"{"type":"user","message":{"role":"user","content":"ask the \"assistant\""}}"#.to_owned(),
        r#"{"type":"summary","summary":"assistant","leafUuid":"x"}"#.to_owned(),
        r#"{"type":"progress","data":{"type":"assistant","message":{"usage":{"output_tokens":1}}}}"#.to_owned(),
        r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{"id":"msg_1","model":"claude-opus-4-5"}}"#.to_owned(),
        r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00+02:00","message":{"usage":{"input_tokens":null}}}"#.to_owned(),
    ];
    lines.push(spaced(&lines[0], "  "));
    lines
}

/// `line` with `ws` inserted around every structural byte outside strings.
fn spaced(line: &str, ws: &str) -> String {
    let mut out = String::from(ws);
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '}' | '[' | ']' | ',' | ':' => {
                out.push_str(ws);
                out.push(c);
                out.push_str(ws);
            }
            _ => out.push(c),
        }
    }
    out.push_str(ws);
    out
}

/// Every `*.jsonl` file under `dir`, recursively.
fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            jsonl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
}

/// Every line of every fixture transcript, as raw bytes.
fn fixture_lines() -> &'static [Vec<u8>] {
    static LINES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let mut files = Vec::new();
        jsonl_files(&root, &mut files);
        assert!(!files.is_empty(), "no fixture transcripts under {root:?}");
        files
            .iter()
            .flat_map(|f| {
                std::fs::read(f)
                    .unwrap()
                    .split(|&b| b == b'\n')
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect()
    })
}

/// The lines mutated by the property test: the samples and the fixture candidate lines.
fn pool() -> &'static [Vec<u8>] {
    static POOL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool: Vec<Vec<u8>> = samples().into_iter().map(String::into_bytes).collect();
        pool.extend(
            fixture_lines()
                .iter()
                .filter(|l| memchr::memmem::find(l, b"\"assistant\"").is_some())
                .cloned(),
        );
        pool
    })
}

#[test]
fn samples_are_answered_by_the_fast_path() {
    for line in samples() {
        assert!(answered(&line), "not answered: {line}");
    }
}

#[test]
fn fixture_lines_agree_and_candidates_take_the_fast_path() {
    let mut candidates = 0;
    for line in fixture_lines() {
        let stripped = line.strip_suffix(b"\r").unwrap_or(line);
        check(line);
        let fast = check(stripped);
        let Ok(text) = std::str::from_utf8(stripped) else {
            continue;
        };
        if memchr::memmem::find(stripped, b"\"assistant\"").is_some() {
            candidates += 1;
            // Every line serde reads is answered by the fast path.
            assert_eq!(fast, serde_reads(text), "{text}");
        }
    }
    assert!(
        candidates > 10,
        "{candidates} candidate lines in the fixtures"
    );
}

#[test]
fn every_needed_field_with_odd_values() {
    let fields = [
        "type",
        "timestamp",
        "sessionId",
        "cwd",
        "isSidechain",
        "requestId",
        "isApiErrorMessage",
        "message",
        "message.id",
        "message.model",
        "message.content",
        "message.usage",
        "usage.input_tokens",
        "usage.output_tokens",
        "usage.cache_creation_input_tokens",
        "usage.cache_read_input_tokens",
        "usage.cache_creation",
        "cache_creation.ephemeral_5m_input_tokens",
        "cache_creation.ephemeral_1h_input_tokens",
        "usage.speed",
        "usage.service_tier",
    ];
    let values = [
        "<omit>",
        "null",
        "true",
        "false",
        "0",
        "-0",
        "-1",
        "1.0",
        "1e3",
        "1E+3",
        "1e-3",
        "01",
        "00",
        "-01",
        "7",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999",
        "999999999999999999",
        "-999999999999999999",
        "9999999999999999999",
        "1e400",
        "-",
        "1.",
        ".5",
        "1e",
        "+1",
        "nul",
        "nulll",
        "tru",
        "True",
        "NaN",
        r#""""#,
        r#""x""#,
        r#""fast""#,
        r#""f\u0061st""#,
        r#""fast ""#,
        r#""assistant""#,
        r#""\u0061ssistant""#,
        r#""assistant\u0000""#,
        r#""<synthetic>""#,
        r#""\u003csynthetic>""#,
        r#""2025-01-01T00:00:00Z""#,
        r#""2025-01-01T00:00:00\u005a""#,
        r#""2025-01-01T00:00:00+02:00""#,
        r#""2025-01-01T00:00:00""#,
        r#""C:\\Users\\me""#,
        r#""\/\b\f\n\r\t\"\\""#,
        r#""\u00e9\u4e2d""#,
        r#""\ud83d\ude00""#,
        r#""\uD83D\uDE00""#,
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83dx""#,
        r#""\ud83d\u0041""#,
        r#""\ud83d\ud83d\ude00""#,
        r#""\ud83d\n""#,
        r#""\x""#,
        r#""\u12""#,
        r#""\u12G4""#,
        r#""\'""#,
        "\"tab\tinside\"",
        "\"nul\u{0}inside\"",
        "\"del\u{7f}inside\"",
        "\"\u{e9}t\u{e9} \u{1F600}\"",
        r#""unterminated"#,
        "[]",
        "[1]",
        "[1,]",
        "{}",
        r#"{"a":1}"#,
        r#"{"a":1,}"#,
        r#"{"input_tokens":5}"#,
        r#"{"output_tokens":5,"output_tokens":6}"#,
        r#"{"ephemeral_1h_input_tokens":4}"#,
        r#"{"usage":{"output_tokens":9}}"#,
        r#"["msg","model",{"output_tokens":1}]"#,
        "[[[[[]]]]]",
        r#"{"a":[{"b":[1,2,{"c":"d"}]}]}"#,
        "  5  ",
        "\t\"x\"\r\n",
        "\u{c}5",
        "\u{a0}5",
    ];
    for field in fields {
        for value in values {
            let line = line_with(|p| (p == field).then(|| value.to_owned()));
            // The fast path answers every line serde reads, except those with a control byte,
            // a struct written as an array, or a `speed` that is not a string, literal or
            // small integer.
            if !answered(&line) && serde_reads(&line) {
                assert!(
                    value.bytes().any(|b| b < 0x20)
                        || value.starts_with('[')
                        || field == "usage.speed",
                    "declined {field} = {value}"
                );
            }
        }
    }
}

#[test]
fn duplicate_keys() {
    let base = line_with(|_| None);
    let inserts = [
        (r#"{"#, r#"{"type":"user","#),
        (r#"{"#, r#"{"type":null,"#),
        (r#"{"#, r#"{"timestamp":"2025-01-01T00:00:00Z","#),
        (r#"{"#, r#"{"cwd":"/x","#),
        (r#"{"#, r#"{"isSidechain":true,"#),
        (r#"{"#, r#"{"message":null,"#),
        (r#"{"#, r#"{"uuid":"dup","#),
        (r#"{"#, r#"{"parentUuid":"dup","#),
        (r#""message":{"#, r#""message":{"id":"x","#),
        (r#""message":{"#, r#""message":{"model":null,"#),
        (r#""message":{"#, r#""message":{"usage":null,"#),
        (r#""message":{"#, r#""message":{"role":"dup","#),
        (r#""usage":{"#, r#""usage":{"input_tokens":1,"#),
        (r#""usage":{"#, r#""usage":{"speed":"fast","#),
        (r#""usage":{"#, r#""usage":{"cache_creation":null,"#),
        (r#""usage":{"#, r#""usage":{"service_tier":"x","#),
        (
            r#""cache_creation":{"#,
            r#""cache_creation":{"ephemeral_1h_input_tokens":2,"#,
        ),
        (r#""cache_creation":{"#, r#""cache_creation":{"other":2,"#),
    ];
    for (from, to) in inserts {
        let line = base.replacen(from, to, 1);
        assert_ne!(line, base);
        check(line.as_bytes());
    }
    // An unknown key given twice is fine for serde and for the fast path.
    assert!(answered(&base.replacen('{', r#"{"uuid":1,"#, 1)));
}

#[test]
fn escaped_keys() {
    let base = line_with(|_| None);
    for (from, to) in [
        (r#""type":"#, r#""t\u0079pe":"#),
        (r#""cwd":"#, r#""c\u0077d":"#),
        (r#""uuid":"#, r#""uu\u0069d":"#),
        (r#""id":"#, r#""\u0069d":"#),
        (r#""model":"#, r#""mod\u0065l":"#),
        (r#""output_tokens":"#, r#""output\u005ftokens":"#),
        (r#""service_tier":"#, r#""service\u005ftier":"#),
        (
            r#""ephemeral_1h_input_tokens":"#,
            r#""ephemeral_1h_input_tokens\u0000":"#,
        ),
        (r#""role":"#, r#""r\ud83dle":"#),
        (r#""role":"#, r#""r\ude00le":"#),
        (r#""text":"#, r#""t\ud83dxt":"#),
        (r#""text":"#, "\"te\u{1}xt\":"),
    ] {
        let line = base.replacen(from, to, 1);
        assert_ne!(line, base, "{from}");
        check(line.as_bytes());
    }
}

#[test]
fn look_alikes_in_content_and_top_level_shapes() {
    let usage_in_content = line_with(|p| {
        (p == "message.content").then(|| {
            r#"[{"type":"assistant","usage":{"output_tokens":99},"message":{"usage":{}},"timestamp":5}]"#
                .to_owned()
        })
    });
    assert!(answered(&usage_in_content));
    for line in [
        r#"{"type":"user","text":"\"type\":\"assistant\",\"message\":{\"usage\":{}}"}"#,
        r#"{"kind":"assistant","message":{"usage":{"output_tokens":1}},"timestamp":"2025-01-01T00:00:00Z"}"#,
        r#"["assistant","2025-01-01T00:00:00Z"]"#,
        r#"["assistant"]"#,
        "[]",
        r#""assistant""#,
        "null",
        "1",
        "",
        " ",
        "{}",
        "{ }",
        "{,}",
        r#"{"type":"assistant",}"#,
        r#"{"type":"assistant"}}"#,
        r#"{"type":"assistant"}{}"#,
        r#"{"type":"assistant"} x"#,
        "{\"type\":\"assistant\"} \t\r\n",
        "{\"type\":\"assistant\"}\u{0}",
        "\u{feff}{\"type\":\"assistant\"}",
        r#"{"type" "assistant"}"#,
        r#"{"type":"assistant" "x":1}"#,
        r#"{type:"assistant"}"#,
        r#"{'type':'assistant'}"#,
        r#"{"type":"assistant","message":{"usage":{"output_tokens":1}}}"#,
        r#"{"type":"assistant","timestamp":"2025-01-01T00:00:00Z","message":{"usage":{}}}"#,
    ] {
        check(line.as_bytes());
    }
}

#[test]
fn whitespace_everywhere() {
    for base in samples() {
        for ws in [
            " ", "   ", "\t", "\n", "\r\n", " \t\r\n", "\u{c}", "\u{a0}", "\u{3000}",
        ] {
            let line = spaced(&base, ws);
            let fast = check(line.as_bytes());
            // Only spaces are taken by the fast path; other whitespace is left to serde.
            assert_eq!(fast, ws.bytes().all(|b| b == b' '), "{ws:?}: {line}");
        }
    }
}

#[test]
fn trailing_and_leading_bytes() {
    for base in samples() {
        for (before, after) in [
            ("", " "),
            ("", "\t\r\n"),
            (" \n", ""),
            ("", "x"),
            ("", "}"),
            ("", "]"),
            ("", ","),
            ("", "{}"),
            ("", "\u{0}"),
            ("", "\u{c}"),
            ("\u{feff}", ""),
            ("\u{c}", ""),
            ("x", ""),
        ] {
            check(format!("{before}{base}{after}").as_bytes());
        }
    }
}

#[test]
fn truncated_at_every_byte() {
    for line in samples() {
        for end in 0..line.len() {
            check(&line.as_bytes()[..end]);
        }
    }
}

#[test]
fn control_bytes_and_invalid_utf8() {
    let base = line_with(|_| None);
    let at = base.find("Done.").unwrap();
    for bytes in [
        &b"\x00"[..],
        b"\x01",
        b"\x1f",
        b"\t",
        b"\n",
        b"\r",
        b"\x7f",
        b"\xff",
        b"\xc3",
        b"\xc3\x28",
        b"\xed\xa0\x80",
        b"\xf0\x9f\x98",
        b"\xe2\x82\xac",
    ] {
        check_inserted(&base, at, bytes);
        // The same in a needed string.
        check_inserted(&base, base.find("/home/me").unwrap(), bytes);
    }
}

/// Checks `base` with `bytes` inserted at byte `at`.
fn check_inserted(base: &str, at: usize, bytes: &[u8]) {
    let mut line = base.as_bytes().to_vec();
    line.splice(at..at, bytes.iter().copied());
    check(&line);
}

/// Byte sequences at the edges of UTF-8 (overlong forms, surrogates, the last code point and
/// the first beyond it, cut sequences), at every offset of a line: the fast path's check,
/// which works on blocks of bytes, agrees with `std`'s wherever a block boundary falls.
#[test]
fn utf8_edges_at_every_offset() {
    let base = line_with(|_| None);
    for bytes in [
        &b"\xc0\xaf"[..],
        b"\xe0\x80\xaf",
        b"\xed\xbf\xbf",
        b"\xf4\x8f\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf5\x80\x80\x80",
        b"\xe2\x82",
        b"\xc2\xa0",
    ] {
        for at in 0..=base.len() {
            check_inserted(&base, at, bytes);
        }
    }
}

#[test]
fn deep_nesting() {
    for depth in [
        1, 2, 50, 95, 96, 97, 98, 99, 100, 101, 126, 127, 128, 129, 200, 5000,
    ] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        let mixed = format!("{}{}", r#"[{"a":"#.repeat(depth), "}]".repeat(depth));
        let unbalanced = format!("{}{}", "[".repeat(depth), "]".repeat(depth - 1));
        for content in [arrays, objects, mixed, unbalanced] {
            let line = line_with(|p| (p == "message.content").then(|| content.clone()));
            check(line.as_bytes());
            let top = line_with(|p| (p == "usage.service_tier").then(|| content.clone()));
            check(top.as_bytes());
        }
    }
    let shallow = line_with(|p| {
        (p == "message.content").then(|| format!("{}{}", "[".repeat(90), "]".repeat(90)))
    });
    assert!(answered(&shallow));
}

#[test]
fn numbers_in_skipped_values() {
    for number in [
        "0",
        "-0",
        "1",
        "-1",
        "01",
        "-01",
        "0.5",
        "0.",
        ".5",
        "1e5",
        "1E-5",
        "1e+5",
        "1e",
        "1e+",
        "-",
        "--1",
        "1.5e300",
        "1e400",
        "-1e400",
        "123456789012345678901234567890",
        "0x10",
        "1_000",
        "Infinity",
        "NaN",
        "1.0.0",
        "00.5",
        "-.5",
    ] {
        let line = line_with(|p| {
            (p == "message.content").then(|| format!("[{number},{{\"n\":{number}}}]"))
        });
        check(line.as_bytes());
    }
}

/// A JSON value, possibly invalid, as text.
fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:e}")),
        prop::sample::select(vec![
            "-0",
            "01",
            "1.",
            "1e",
            "18446744073709551616",
            "\"fast\"",
            "\"assistant\"",
            "\"<synthetic>\"",
            "\"2025-01-01T00:00:00Z\"",
            "\"\\ud83d\"",
            "\"\\ud83d\\ude00\"",
            "\"\\u0041\"",
            "\"\\\\\"",
            "\"\\q\"",
            "nul",
            "[",
            "{",
            "}",
            "]",
            ",",
            ":",
            "\"",
        ])
        .prop_map(str::to_owned),
        "[ -~\u{e9}\u{1F600}\\\\\"]{0,12}".prop_map(|s| format!("\"{s}\"")),
    ];
    leaf.prop_recursive(4, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "type",
                        "message",
                        "usage",
                        "output_tokens",
                        "cache_creation",
                        "speed",
                        "id",
                        "x",
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|v| {
                let members: Vec<_> = v.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// One change to a line.
#[derive(Debug, Clone)]
enum Mutation {
    /// Sets the byte at (the index modulo the length).
    Set(usize, u8),
    /// Flips one bit of the byte at.
    Flip(usize, u8),
    /// Inserts bytes at.
    Insert(usize, Vec<u8>),
    /// Deletes up to the count of bytes from.
    Delete(usize, usize),
    /// Cuts the line at.
    Truncate(usize),
    /// Inserts a JSON value at.
    Splice(usize, String),
    /// Replaces the value after the nth colon (up to the next `,`, `}` or `]`) by a JSON value.
    Replace(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::collection::vec(
        prop_oneof![
            prop::sample::select(
                b" \t\r\n\"\\/{}[],:0123456789-+.eEntfu\x00\x1f\x7f\xff\xc3".to_vec()
            ),
            any::<u8>(),
        ],
        1..4,
    );
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 0..8u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), interesting).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1..8usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), json_value()).prop_map(|(i, v)| Mutation::Splice(i, v)),
        (any::<usize>(), json_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
    ]
}

fn apply(line: &mut Vec<u8>, m: &Mutation) {
    let len = line.len();
    let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
    match m {
        Mutation::Set(i, b) if len > 0 => line[i % len] = *b,
        Mutation::Flip(i, bit) if len > 0 => line[i % len] ^= 1 << bit,
        Mutation::Insert(i, bytes) => {
            let i = at(*i);
            line.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let i = at(*i);
            line.drain(i..(i + n).min(len));
        }
        Mutation::Truncate(i) => line.truncate(at(*i)),
        Mutation::Splice(i, v) => {
            let i = at(*i);
            line.splice(i..i, v.bytes());
        }
        Mutation::Replace(n, v) => {
            let colons: Vec<usize> = line
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b':')
                .map(|(i, _)| i + 1)
                .collect();
            if colons.is_empty() {
                return;
            }
            let start = colons[n % colons.len()];
            let end = line[start..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']'))
                .map_or(len, |p| start + p);
            line.splice(start..end, v.bytes());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_lines_agree(
        base in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let pool = pool();
        let mut line = pool[base.index(pool.len())].clone();
        for m in &mutations {
            apply(&mut line, m);
        }
        check(&line);
    }

    #[test]
    fn arbitrary_values_in_needed_fields_agree(
        field in prop::sample::select(vec![
            "type", "timestamp", "cwd", "isSidechain", "message", "message.id", "message.model",
            "message.usage", "usage.output_tokens", "usage.cache_creation",
            "cache_creation.ephemeral_1h_input_tokens", "usage.speed", "message.content",
        ]),
        value in json_value(),
    ) {
        let line = line_with(|p| (p == field).then(|| value.clone()));
        check(line.as_bytes());
    }
}
