//! One line per case: every shape in plain text, JSON, escaped JSON, URLs, error chains and
//! Debug output, and the names and prose that must stay intact.

use std::borrow::Cow;

use crate::{contains_secret, redact};

const OAT: &str = "sk-ant-oat01-FAKE-oauth-access-for-tests-only-0123456789abcdefABCDEF_0123456789abcdefABCDEF_0123456789abcdef";
const ORT: &str = "sk-ant-ort01-FAKE-oauth-refresh-for-tests-only-0123456789abcdefABCDEF_0123456789abcdefABCDEF_0123456789abcde";
const API: &str = "sk-ant-api03-FAKE-api-key-for-tests-only-0123456789abcdefABCDEF_0123456789abcdefABCDEF_0123456789abcdefABCAA";
const ADMIN: &str = "sk-ant-admin01-FAKE-admin-key-for-tests-only-0123456789abcdefABCDEF_0123456789abcdefABCDEF_0123456789abcdefAAA";
const SID1: &str = "sk-ant-sid01-FAKE-session-for-tests-only-0123456789ab";
const SID2: &str = "sk-ant-sid02-FAKE-session-two-0123456789";

/// Asserts the redaction of `input`, and that `contains_secret`, borrowing and idempotence
/// agree with it.
#[track_caller]
fn check(input: &str, expected: &str) {
    let got = redact(input);
    assert_eq!(got, expected, "input: {input:?}");
    assert_eq!(
        matches!(got, Cow::Borrowed(_)),
        input == expected,
        "borrowed: {input:?}"
    );
    assert_eq!(
        contains_secret(input),
        input != expected,
        "contains_secret: {input:?}"
    );
    assert!(!contains_secret(&got), "secret left in {got:?}");
    assert_eq!(redact(&got), got, "not idempotent: {input:?}");
}

#[test]
fn anthropic_keys() {
    check(
        &format!("using {OAT} now"),
        "using sk-ant-oat01-[REDACTED] now",
    );
    check(
        &format!("using {ORT} now"),
        "using sk-ant-ort01-[REDACTED] now",
    );
    check(
        &format!("using {API} now"),
        "using sk-ant-api03-[REDACTED] now",
    );
    check(
        &format!("using {ADMIN} now"),
        "using sk-ant-admin01-[REDACTED] now",
    );
    check(
        &format!("using {SID1} now"),
        "using sk-ant-sid01-[REDACTED] now",
    );
    check(
        &format!("using {SID2} now"),
        "using sk-ant-sid02-[REDACTED] now",
    );
    check(
        "short sk-ant-oat01-x body",
        "short sk-ant-oat01-[REDACTED] body",
    );
    check(
        "future sk-ant-xyz99-abc_-9 kind",
        "future sk-ant-xyz99-[REDACTED] kind",
    );
    check("(sk-ant-api03-abcAA).", "(sk-ant-api03-[REDACTED]).");
    check(
        "glued:sk-ant-oat01-abc,sk-ant-ort01-def",
        "glued:sk-ant-oat01-[REDACTED],sk-ant-ort01-[REDACTED]",
    );
    check(
        &format!(r#"{{"msg":"using {OAT}"}}"#),
        r#"{"msg":"using sk-ant-oat01-[REDACTED]"}"#,
    );
    check(
        &format!(r#""{{\"note\":\"{ORT}\"}}""#),
        r#""{\"note\":\"sk-ant-ort01-[REDACTED]\"}""#,
    );
    check(
        &format!("https://x.test/cb?code={OAT}&state=1"),
        "https://x.test/cb?code=sk-ant-oat01-[REDACTED]&state=1",
    );
    check(
        &format!("request failed: caused by: {ORT}: invalid"),
        "request failed: caused by: sk-ant-ort01-[REDACTED]: invalid",
    );
    check(
        &format!(r#"Token("{OAT}")"#),
        r#"Token("sk-ant-oat01-[REDACTED]")"#,
    );
    check(
        "line one\nsk-ant-oat01-abc\nline three",
        "line one\nsk-ant-oat01-[REDACTED]\nline three",
    );
}

#[test]
fn not_anthropic_keys() {
    check("prefix sk-ant- alone", "prefix sk-ant- alone");
    check("one digit sk-ant-oat1-abc", "one digit sk-ant-oat1-abc");
    check("no body sk-ant-oat01- here", "no body sk-ant-oat01- here");
    check("upper SK-ANT-OAT01-abc", "upper SK-ANT-OAT01-abc");
    check(
        "already sk-ant-oat01-[REDACTED]",
        "already sk-ant-oat01-[REDACTED]",
    );
}

#[test]
fn bearer_and_basic() {
    check("Bearer abc.def-123", "Bearer [REDACTED]");
    check("bearer abc123", "bearer [REDACTED]");
    check("BEARER abc123 tail", "BEARER [REDACTED] tail");
    check("BeArEr\tabc123", "BeArEr\t[REDACTED]");
    check(&format!("Bearer {OAT}"), "Bearer [REDACTED]");
    check(
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x=",
        "Bearer [REDACTED]",
    );
    check("Bearer abcdefghijklmnopq", "Bearer [REDACTED]");
    check("Bearer abc123.", "Bearer [REDACTED].");
    check(
        &format!("request failed: caused by: Bearer {OAT}"),
        "request failed: caused by: Bearer [REDACTED]",
    );
    check(
        r#"{"header":"Bearer abc123","n":1}"#,
        r#"{"header":"Bearer [REDACTED]","n":1}"#,
    );
    check(
        r#""{\"h\":\"Bearer abc123\"}""#,
        r#""{\"h\":\"Bearer [REDACTED]\"}""#,
    );
    check(
        "https://x.test/cb?auth=Bearer%20abc123&x=1",
        "https://x.test/cb?auth=Bearer%20[REDACTED]&x=1",
    );
    check(
        "https://x.test/cb?auth=Bearer+abc%2B123&x=1",
        "https://x.test/cb?auth=Bearer+[REDACTED]&x=1",
    );
    check(
        r#"HeaderValue("Bearer abc123")"#,
        r#"HeaderValue("Bearer [REDACTED]")"#,
    );
    check("Basic dXNlcjpwYXNz", "Basic [REDACTED]");
    check("basic dXNlcjpwYXNzd29yZA==", "basic [REDACTED]");
    check("Bearer [REDACTED]", "Bearer [REDACTED]");
}

#[test]
fn schemes_in_prose() {
    check("the bearer of bad news", "the bearer of bad news");
    check("missing Bearer token.", "missing Bearer token.");
    check("expected a BEARER TOKEN", "expected a BEARER TOKEN");
    check("Basic usage and basic auth", "Basic usage and basic auth");
    check("Basic Authentication", "Basic Authentication");
    check("bearer", "bearer");
    check("subearer abc123", "subearer abc123");
}

#[test]
fn authorization_headers() {
    check(
        &format!("Authorization: Bearer {OAT}"),
        "Authorization: [REDACTED]",
    );
    check("authorization=Bearer abc def", "authorization=[REDACTED]");
    check("AUTHORIZATION:Bearer x", "AUTHORIZATION:[REDACTED]");
    check(
        "Proxy-Authorization: Basic dXNlcjpwYXNz",
        "Proxy-Authorization: [REDACTED]",
    );
    check(
        "Authorization: Basic dXNlcjpwYXNz",
        "Authorization: [REDACTED]",
    );
    check(
        "Authorization: token plain words\r\nHost: x.test",
        "Authorization: [REDACTED]\r\nHost: x.test",
    );
    check("Authorization: abc   ", "Authorization: [REDACTED]   ");
    check(
        r#"{"authorization":"Bearer abc","accept":"*/*"}"#,
        r#"{"authorization":"[REDACTED]","accept":"*/*"}"#,
    );
    check(
        r#"{ "Authorization" : "Bearer abc", "x": 1 }"#,
        r#"{ "Authorization" : "[REDACTED]", "x": 1 }"#,
    );
    check(
        r#"{"msg":"sent Authorization: Bearer abc123","n":1}"#,
        r#"{"msg":"sent Authorization: [REDACTED]","n":1}"#,
    );
    check(
        r#"{"msg":"Authorization: x\nnext"}"#,
        r#"{"msg":"Authorization: [REDACTED]\nnext"}"#,
    );
    check(
        r#""{\"authorization\":\"Bearer abc\"}""#,
        r#""{\"authorization\":\"[REDACTED]\"}""#,
    );
    check(
        r#"headers: {"authorization": "Bearer abc", "host": "x"}"#,
        r#"headers: {"authorization": "[REDACTED]", "host": "x"}"#,
    );
    check(
        r#"Request { authorization: Some("Bearer abc") }"#,
        r#"Request { authorization: Some("[REDACTED]") }"#,
    );
    check(
        "request failed: caused by: authorization: Bearer abc",
        "request failed: caused by: authorization: [REDACTED]",
    );
    check(
        "https://x.test/?authorization=Bearer%20abc&x=1",
        "https://x.test/?authorization=[REDACTED]",
    );
    check("Authorization: [REDACTED]", "Authorization: [REDACTED]");
    check("Authorization:", "Authorization:");
    check("authorization failed", "authorization failed");
    check("reauthorization: needed", "reauthorization: needed");
}

#[test]
fn cookies() {
    check(
        &format!("Cookie: sessionKey={SID1}; lang=en"),
        "Cookie: [REDACTED]",
    );
    check(
        "Set-Cookie: sessionKey=abc; Path=/; HttpOnly",
        "Set-Cookie: [REDACTED]",
    );
    check("cookie: a=\"b\"; c=d", "cookie: [REDACTED]");
    check(
        r#"{"cookie":"a=b; c=d","n":1}"#,
        r#"{"cookie":"[REDACTED]","n":1}"#,
    );
    check(
        r#""{\"cookie\":\"a=b\"}""#,
        r#""{\"cookie\":\"[REDACTED]\"}""#,
    );
    check(
        "request failed: caused by: set-cookie: a=b",
        "request failed: caused by: set-cookie: [REDACTED]",
    );
    check("3 cookies: none set", "3 cookies: none set");
}

#[test]
fn fields_in_json() {
    check(
        r#"{"accessToken":"abc","expiresAt":1}"#,
        r#"{"accessToken":"[REDACTED]","expiresAt":1}"#,
    );
    check(
        r#"{ "refreshToken" : "abc" }"#,
        r#"{ "refreshToken" : "[REDACTED]" }"#,
    );
    check(
        &format!(r#"{{"access_token":"{OAT}","token_type":"bearer"}}"#),
        r#"{"access_token":"[REDACTED]","token_type":"bearer"}"#,
    );
    check(
        r#"{"refresh_token": "a \"quoted\" b", "n": 1}"#,
        r#"{"refresh_token": "[REDACTED]", "n": 1}"#,
    );
    check(
        r#"{"id_token":"abc","idToken":"def"}"#,
        r#"{"id_token":"[REDACTED]","idToken":"[REDACTED]"}"#,
    );
    check(r#"{"token":"abc"}"#, r#"{"token":"[REDACTED]"}"#);
    check(
        r#"{"apiKey":"abc","api_key":"def","x-api-key":"ghi"}"#,
        r#"{"apiKey":"[REDACTED]","api_key":"[REDACTED]","x-api-key":"[REDACTED]"}"#,
    );
    check(
        r#"{"password":"p w","passwd":"x"}"#,
        r#"{"password":"[REDACTED]","passwd":"[REDACTED]"}"#,
    );
    check(
        r#"{"secret":"a","client_secret":"b","clientSecret":"c"}"#,
        r#"{"secret":"[REDACTED]","client_secret":"[REDACTED]","clientSecret":"[REDACTED]"}"#,
    );
    check(
        r#"{"sessionKey":"a","session_key":"b"}"#,
        r#"{"sessionKey":"[REDACTED]","session_key":"[REDACTED]"}"#,
    );
    check(
        r#"{"ACCESSTOKEN":"a","Refresh_Token":"b"}"#,
        r#"{"ACCESSTOKEN":"[REDACTED]","Refresh_Token":"[REDACTED]"}"#,
    );
    check(r#"{"token": 12345}"#, r#"{"token": [REDACTED]}"#);
    check(r#"{"refresh_token":null}"#, r#"{"refresh_token":null}"#);
    check(r#"{"token":""}"#, r#"{"token":""}"#);
    check(
        r#"{"accessToken":"[REDACTED]"}"#,
        r#"{"accessToken":"[REDACTED]"}"#,
    );
    check(
        r#"{"msg":"password=hunter2 rejected"}"#,
        r#"{"msg":"password=[REDACTED] rejected"}"#,
    );
    check(
        r#"{"accessToken":"unterminated"#,
        r#"{"accessToken":"[REDACTED]"#,
    );
}

#[test]
fn fields_in_escaped_json() {
    check(
        r#"body="{\"accessToken\":\"abc\",\"x\":1}""#,
        r#"body="{\"accessToken\":\"[REDACTED]\",\"x\":1}""#,
    );
    check(
        r#"{"body":"{\"refresh_token\": \"abc\"}"}"#,
        r#"{"body":"{\"refresh_token\": \"[REDACTED]\"}"}"#,
    );
    check(
        r#"{"body":"{\"password\":\"a\\\"b\"}"}"#,
        r#"{"body":"{\"password\":\"[REDACTED]\"}"}"#,
    );
    check(
        r#"{"b":"{\"c\":\"{\\\"access_token\\\":\\\"abc\\\"}\"}"}"#,
        r#"{"b":"{\"c\":\"{\\\"access_token\\\":\\\"[REDACTED]\\\"}\"}"}"#,
    );
}

#[test]
fn fields_in_urls_and_key_values() {
    check(
        "GET /cb?code=1&access_token=abc&x=1",
        "GET /cb?code=1&access_token=[REDACTED]&x=1",
    );
    check(
        "https://x.test/?token=abc#frag",
        "https://x.test/?token=[REDACTED]",
    );
    check("refresh_token=abc", "refresh_token=[REDACTED]");
    check(
        "ANTHROPIC_API_KEY=sk-ant-api03-abcAA",
        "ANTHROPIC_API_KEY=sk-ant-api03-[REDACTED]",
    );
    check("API_KEY=abc", "API_KEY=[REDACTED]");
    check(
        "secret=abc; passwd=def, token := ghi",
        "secret=[REDACTED]; passwd=[REDACTED], token := [REDACTED]",
    );
    check(
        "sessionKey=abc; clientSecret=def",
        "sessionKey=[REDACTED]; clientSecret=[REDACTED]",
    );
    check("password=p\u{e4}ssw\u{f6}rd ok", "password=[REDACTED] ok");
    check(
        "password=[REDACTED]hunter2",
        "password=[REDACTED][REDACTED]",
    );
    check("token=", "token=");
}

#[test]
fn fields_in_headers_and_yaml() {
    check(&format!("x-api-key: {API}"), "x-api-key: [REDACTED]");
    check("X-Api-Key: abc123", "X-Api-Key: [REDACTED]");
    check("password: hunter", "password: [REDACTED]");
    check("  token: abc", "  token: [REDACTED]");
    check("- secret: abc", "- secret: [REDACTED]");
    check("token: abc123 rest", "token: [REDACTED] rest");
    check(
        "{'client_secret': 'abc', 'n': 1}",
        "{'client_secret': '[REDACTED]', 'n': 1}",
    );
}

#[test]
fn fields_in_error_chains() {
    check(
        "request failed: caused by: refresh_token=abc123 rejected",
        "request failed: caused by: refresh_token=[REDACTED] rejected",
    );
    check(
        &format!("refresh failed: caused by: Bearer {OAT}: 401"),
        "refresh failed: caused by: Bearer [REDACTED]: 401",
    );
    check(
        "login failed: password: 'abc def'",
        "login failed: password: '[REDACTED]'",
    );
    check("cannot use token: abc123", "cannot use token: [REDACTED]");
}

#[test]
fn fields_in_debug_output() {
    check(
        r#"Credentials { access_token: "abc", refresh_token: "def", expires_at: 1 }"#,
        r#"Credentials { access_token: "[REDACTED]", refresh_token: "[REDACTED]", expires_at: 1 }"#,
    );
    check(
        r#"Creds { api_key: Some("abc"), id: None }"#,
        r#"Creds { api_key: Some("[REDACTED]"), id: None }"#,
    );
    check(
        "Creds {\n    password: \"abc\",\n    user: \"me\",\n}",
        "Creds {\n    password: \"[REDACTED]\",\n    user: \"me\",\n}",
    );
    check(
        r#"Err(Http { token: "abc", status: 401 })"#,
        r#"Err(Http { token: "[REDACTED]", status: 401 })"#,
    );
}

#[test]
fn usage_counters_are_not_secrets() {
    check(
        r#"{"tokens":5,"tokenCount":6,"inputTokens":7,"input_tokens":8,"output_tokens":9}"#,
        r#"{"tokens":5,"tokenCount":6,"inputTokens":7,"input_tokens":8,"output_tokens":9}"#,
    );
    check(
        r#"{"cache_read_input_tokens":10,"cache_creation_input_tokens":11,"totalTokens":12}"#,
        r#"{"cache_read_input_tokens":10,"cache_creation_input_tokens":11,"totalTokens":12}"#,
    );
    check(
        r#"{"max_tokens": 4096, "tokens_used": 14}"#,
        r#"{"max_tokens": 4096, "tokens_used": 14}"#,
    );
    check(
        "input_tokens=5 output_tokens=6 max_tokens: 7",
        "input_tokens=5 output_tokens=6 max_tokens: 7",
    );
    check(
        "Usage { input_tokens: 5, cache_read_input_tokens: 6 }",
        "Usage { input_tokens: 5, cache_read_input_tokens: 6 }",
    );
    check(
        r#"{"token_type":"bearer","expires_in":28800}"#,
        r#"{"token_type":"bearer","expires_in":28800}"#,
    );
    check(
        "my_token=abc x_api_key=def api-key=ghi",
        "my_token=abc x_api_key=def api-key=ghi",
    );
    check(
        "secrets: 3, passwords: 2, keys: 1, key: 4",
        "secrets: 3, passwords: 2, keys: 1, key: 4",
    );
    check(
        "POST https://x.test/v1/oauth/token: 401",
        "POST https://x.test/v1/oauth/token: 401",
    );
}

#[test]
fn prose_is_unchanged() {
    check("the token expired", "the token expired");
    check("3 tokens", "3 tokens");
    check(
        "failed to refresh token: expired.",
        "failed to refresh token: expired.",
    );
    check(
        "invalid token: 401 Unauthorized",
        "invalid token: 401 Unauthorized",
    );
    check("refresh token: HTTP error", "refresh token: HTTP error");
    check(
        "the secret is safe; the password was reset",
        "the secret is safe; the password was reset",
    );
    check("", "");
    check(
        "5-hour window: 42% used, resets 14:00",
        "5-hour window: 42% used, resets 14:00",
    );
}
