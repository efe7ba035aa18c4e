//! No token in `Debug`, errors, reasons, outcomes or logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use oauth_usage::{AccessToken, SkipReason, parse_credential, read_usage};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{LOGIN_SCOPES, World, fake_token, nested_json, now};

#[test]
fn access_token_debug_is_redacted() {
    let token = AccessToken::new(fake_token('x'));
    assert_eq!(format!("{token:?}"), "AccessToken(REDACTED)");
    assert_eq!(format!("{token:#?}"), "AccessToken(REDACTED)");
}

#[test]
fn credential_debug_hides_token_and_refresh_token() {
    let text = nested_json(
        &fake_token('x'),
        now() + chrono::Duration::hours(1),
        LOGIN_SCOPES,
    );
    let cred = parse_credential(text.as_bytes()).expect("parses");
    let shown = format!("{cred:?} {cred:#?}");
    assert!(!shown.contains("sk-ant"), "{shown}");
    assert!(shown.contains("AccessToken(REDACTED)"));
}

#[test]
fn errors_never_quote_the_input() {
    let token = fake_token('x');
    let inputs = [
        format!(r#"{{"claudeAiOauth":{{"accessToken":"{token}","expiresAt":"{token}"}}}}"#),
        format!(r#"{{"claudeAiOauth":{{"accessToken":{{"v":"{token}"}}}}}}"#),
        format!("{token} trailing"),
        format!("{{\"claudeAiOauth\":\"{token}\"}}"),
    ];
    for input in inputs {
        let err = parse_credential(input.as_bytes()).expect_err("refused");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("sk-ant"), "{shown}");
    }
}

/// A writer that appends everything to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_at_trace_level_carry_no_token_or_body() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let token = fake_token('l');
    let world = World::with_token(&token);
    let server = MockServer::start().await;
    let planted = fake_token('p');
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            r#"{{"five_hour":{{"utilization":4}},"secret_marker_body":"{planted}"}}"#
        )))
        .mount(&server)
        .await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    assert!(outcome.reading.is_some());

    let server_403 = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(403).set_body_string(format!(
            r#"{{"error":{{"message":"{planted} secret_marker_body"}}}}"#
        )))
        .mount(&server_403)
        .await;
    let mut config = world.config(&server_403.uri());
    config.state_dir = None;
    let outcome = read_usage(&config, now()).await;
    assert_eq!(outcome.reason, Some(SkipReason::Forbidden));

    let logs = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    assert!(logs.contains("oauth usage read"), "{logs}");
    assert!(!logs.contains("sk-ant"), "{logs}");
    assert!(!logs.contains("secret_marker_body"), "{logs}");
}

#[test]
fn reasons_are_lowercase_and_plain() {
    let reason = SkipReason::CoolingDown { until: now() };
    assert_eq!(
        reason.to_string(),
        "cooling down until 2026-09-03T12:00:00+00:00"
    );
    assert_eq!(SkipReason::Forbidden.to_string(), "forbidden (403)");
}

#[test]
fn reasons_serialize_with_a_kind() {
    let text = serde_json::to_string(&[
        SkipReason::Http(502),
        SkipReason::NoCredential,
        SkipReason::CoolingDown { until: now() },
    ])
    .expect("serializes");
    assert_eq!(
        text,
        r#"[{"kind":"http","detail":502},{"kind":"no_credential"},{"kind":"cooling_down","detail":{"until":"2026-09-03T12:00:00Z"}}]"#
    );
}
