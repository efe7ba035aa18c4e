//! Requests against a real server on 127.0.0.1: headers, answers, errors, budget, state.

use std::time::{Duration, Instant};

use chrono::DateTime;
use oauth_usage::{AuthMode, Outcome, Severity, SkipReason, read_usage};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{World, fake_token, now};

const TYPICAL: &str = r#"{"five_hour":{"utilization":24.0,"resets_at":"2026-09-03T22:30:00.134085+00:00"},
 "seven_day":{"utilization":83.0,"resets_at":"2026-09-04T12:00:00.134101+00:00"},
 "seven_day_oauth_apps":null,"seven_day_opus":null,
 "seven_day_sonnet":{"utilization":35.0,"resets_at":"2026-09-04T16:00:00.364265+00:00"},
 "iguana_necktie":null,
 "extra_usage":{"is_enabled":false,"monthly_limit":null,"used_credits":null,"utilization":null}}"#;

async fn server_answering(template: ResponseTemplate, expected: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/oauth/usage"))
        .respond_with(template)
        .expect(expected)
        .mount(&server)
        .await;
    server
}

fn json(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

async fn read_once(body: &str) -> Outcome {
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(body), 1).await;
    read_usage(&world.config(&server.uri()), now()).await
}

fn assert_skipped(outcome: &Outcome, reason: &SkipReason) {
    assert_eq!(outcome.reason.as_ref(), Some(reason), "{outcome:?}");
    assert!(outcome.reading.is_none());
    assert!(!outcome.reused);
}

#[tokio::test]
async fn sends_exactly_the_documented_headers() {
    let token = fake_token('h');
    let world = World::with_token(&token);
    let server = server_answering(json(TYPICAL), 1).await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    assert!(outcome.reading.is_some(), "{outcome:?}");

    let requests = server.received_requests().await.expect("recording on");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/api/oauth/usage");
    assert_eq!(request.url.query(), None);
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("authorization"), Some(format!("Bearer {token}")));
    assert_eq!(
        header("anthropic-beta").as_deref(),
        Some("oauth-2025-04-20")
    );
    assert_eq!(header("user-agent").as_deref(), Some("claude-code/2.1.70"));
    assert_eq!(header("accept").as_deref(), Some("application/json"));
    let mut names: Vec<&str> = request.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "accept",
            "anthropic-beta",
            "authorization",
            "host",
            "user-agent"
        ]
    );
}

#[tokio::test]
async fn valid_answer_gives_live_reading() {
    let outcome = read_once(TYPICAL).await;
    assert_eq!(outcome.reason, None);
    assert_eq!(outcome.auth_mode, AuthMode::OAuth);
    assert!(!outcome.reused);
    assert_eq!(outcome.subscription_type.as_deref(), Some("max"));
    let reading = outcome.reading.expect("reading");
    assert_eq!(reading.fetched_at, now());
    assert_eq!(reading.subscription_type.as_deref(), Some("max"));
    assert_eq!(
        reading.rate_limit_tier.as_deref(),
        Some("default_claude_max_20x")
    );
    let names: Vec<&str> = reading.windows.keys().map(String::as_str).collect();
    assert_eq!(names, ["five_hour", "seven_day", "seven_day_sonnet"]);
    let five = &reading.windows["five_hour"];
    assert_eq!(five.utilization.to_bits(), 24.0f64.to_bits());
    assert_eq!(
        five.resets_at,
        DateTime::parse_from_rfc3339("2026-09-03T22:30:00.134085+00:00")
            .ok()
            .map(|t| t.to_utc())
    );
    let extra = reading.extra_usage.expect("extra usage");
    assert_eq!(extra.is_enabled, Some(false));
    assert_eq!(extra.monthly_limit_minor, None);
}

#[tokio::test]
async fn limits_answer_maps_severity() {
    let body = r#"{"five_hour":{"utilization":61.0,"resets_at":"2026-09-03T15:00:00Z"},
      "seven_day":{"utilization":97.74,"resets_at":"2026-09-05T00:00:00+02:00"},
      "seven_day_opus":{"utilization":12.0,"resets_at":null},
      "limits":[
        {"kind":"session","group":null,"percent":61,"severity":"normal","resets_at":"2026-09-03T15:00:00Z","scope":null,"is_active":false},
        {"kind":"weekly_all","percent":98,"severity":"critical","resets_at":"2026-09-05T00:00:00+02:00","is_active":true},
        {"kind":"weekly_scoped","group":"opus","percent":12,"severity":"warning","scope":"model:opus","is_active":false}
      ],
      "extra_usage":{"is_enabled":true,"monthly_limit":5000,"used_credits":1234,"utilization":24.68,"currency":"USD"}}"#;
    let reading = read_once(body).await.reading.expect("reading");
    assert_eq!(reading.limits.len(), 3);
    assert_eq!(reading.limits[1].is_active, Some(true));
    assert_eq!(reading.limits[2].scope.as_deref(), Some("model:opus"));
    assert_eq!(
        reading.windows["five_hour"].severity,
        Some(Severity::Normal)
    );
    assert_eq!(
        reading.windows["seven_day"].severity,
        Some(Severity::Critical)
    );
    assert_eq!(
        reading.windows["seven_day"].utilization.to_bits(),
        97.74f64.to_bits()
    );
    assert_eq!(
        reading.windows["seven_day_opus"].severity,
        Some(Severity::Warning)
    );
    let extra = reading.extra_usage.expect("extra");
    assert_eq!(extra.monthly_limit_minor, Some(5000));
    assert_eq!(extra.used_credits_minor, Some(1234));
    assert_eq!(extra.currency.as_deref(), Some("USD"));
}

#[tokio::test]
async fn small_values_are_taken_as_percent() {
    let body = r#"{"five_hour":{"utilization":0.5,"resets_at":null},"seven_day":{"utilization":1.0,"resets_at":null}}"#;
    let reading = read_once(body).await.reading.expect("reading");
    assert_eq!(
        reading.windows["five_hour"].utilization.to_bits(),
        0.5f64.to_bits()
    );
    assert_eq!(
        reading.windows["seven_day"].utilization.to_bits(),
        1.0f64.to_bits()
    );
}

#[tokio::test]
async fn unknown_keys_and_token_values_never_pass_through() {
    let planted = fake_token('z');
    let body = serde_json::json!({
        "five_hour": {"utilization": 5.0, "resets_at": planted, "locked_reason": planted},
        "seven_day": {"utilization": 6.0, "resets_at": null},
        "seven_day_cowork": {"utilization": 7.0, "note": planted},
        "iguana_necktie": planted,
        "tangelo": {"accessToken": planted},
        "limits": [{"kind": "weekly_scoped", "group": planted, "scope": planted, "percent": 1}],
        "extra_usage": {"is_enabled": true, "currency": planted, "owner": planted}
    })
    .to_string();
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(&body), 1).await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    let reading = outcome.reading.as_ref().expect("reading");
    let names: Vec<&str> = reading.windows.keys().map(String::as_str).collect();
    assert_eq!(names, ["five_hour", "seven_day", "seven_day_cowork"]);
    assert_eq!(reading.windows["five_hour"].resets_at, None);
    let serialized = serde_json::to_string(&outcome).expect("serializes");
    assert!(!serialized.contains("sk-ant"), "{serialized}");
    assert!(!format!("{outcome:?}").contains("sk-ant"));
    let state = world.state_text();
    assert!(state.contains("five_hour"), "reading stored");
    assert!(!state.contains("sk-ant"), "{state}");
}

#[tokio::test]
async fn status_codes_map_to_reasons() {
    let cases = [
        (401, SkipReason::Unauthorized),
        (403, SkipReason::Forbidden),
        (500, SkipReason::Http(500)),
        (302, SkipReason::Http(302)),
    ];
    for (status, reason) in cases {
        let world = World::with_token(&fake_token('a'));
        let template = ResponseTemplate::new(status)
            .insert_header("location", "http://127.0.0.1:9/elsewhere")
            .set_body_string(r#"{"type":"error","error":{"type":"authentication_error"}}"#);
        let server = server_answering(template, 1).await;
        let outcome = read_usage(&world.config(&server.uri()), now()).await;
        assert_skipped(&outcome, &reason);
        assert_eq!(outcome.auth_mode, AuthMode::OAuth);
        assert_eq!(outcome.subscription_type.as_deref(), Some("max"));
        server.verify().await;
    }
}

#[tokio::test]
async fn malformed_and_invalid_bodies_are_parse_errors() {
    let bodies = [
        "{not json",
        "[]",
        "\"text\"",
        "{}",
        r#"{"five_hour":{"utilization":"24"},"seven_day":{"utilization":true}}"#,
        r#"{"five_hour":{"utilization":-3},"seven_day":{"utilization":1000.01}}"#,
        r#"{"five_hour":null,"seven_day":null,"extra_usage":{"is_enabled":true}}"#,
        r#"{"five_hour":{"resets_at":"2026-09-03T22:30:00Z"}}"#,
        "",
    ];
    for body in bodies {
        let outcome = read_once(body).await;
        assert_skipped(&outcome, &SkipReason::Parse);
    }
}

#[tokio::test]
async fn out_of_range_values_drop_only_their_window() {
    let body = r#"{"five_hour":{"utilization":1e308},"seven_day":{"utilization":-0.1},
      "seven_day_opus":{"utilization":250.0,"resets_at":"not a time"},
      "seven_day_sonnet":{"utilization":3,"resets_at":12345}}"#;
    let reading = read_once(body).await.reading.expect("reading");
    let names: Vec<&str> = reading.windows.keys().map(String::as_str).collect();
    assert_eq!(names, ["seven_day_opus", "seven_day_sonnet"]);
    assert_eq!(
        reading.windows["seven_day_opus"].utilization.to_bits(),
        250.0f64.to_bits()
    );
    assert_eq!(reading.windows["seven_day_opus"].resets_at, None);
    assert_eq!(reading.windows["seven_day_sonnet"].resets_at, None);
}

#[tokio::test]
async fn body_over_the_cap_is_too_large() {
    let padding = "x".repeat(70 * 1024);
    let body = format!(r#"{{"five_hour":{{"utilization":1.0}},"pad":"{padding}"}}"#);
    let outcome = read_once(&body).await;
    assert_skipped(&outcome, &SkipReason::TooLarge);
}

#[tokio::test]
async fn server_that_never_answers_ends_within_budget() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let world = World::with_token(&fake_token('a'));
    let mut config = world.config(&format!("http://{addr}"));
    config.budget = Duration::from_millis(1500);
    let started = Instant::now();
    let outcome = read_usage(&config, now()).await;
    let elapsed = started.elapsed();
    holder.abort();
    assert_skipped(&outcome, &SkipReason::Timeout);
    assert!(
        elapsed < config.budget + Duration::from_secs(1),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn slow_wiremock_answer_is_a_timeout() {
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(TYPICAL).set_delay(Duration::from_secs(3)), 1).await;
    let mut config = world.config(&server.uri());
    config.budget = Duration::from_millis(1500);
    let started = Instant::now();
    let outcome = read_usage(&config, now()).await;
    assert!(started.elapsed() < config.budget + Duration::from_secs(1));
    assert_skipped(&outcome, &SkipReason::Timeout);
}

#[tokio::test]
async fn closed_port_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let world = World::with_token(&fake_token('a'));
    let outcome = read_usage(&world.config(&format!("http://{addr}")), now()).await;
    assert_skipped(&outcome, &SkipReason::Network);
}

#[tokio::test]
async fn fresh_reading_is_reused_without_a_request() {
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(TYPICAL), 1).await;
    let config = world.config(&server.uri());
    let first = read_usage(&config, now()).await;
    assert!(first.reading.is_some());
    let later = now() + chrono::Duration::seconds(30);
    let second = read_usage(&config, later).await;
    assert!(second.reused);
    assert_eq!(second.reason, None);
    let reading = second.reading.expect("reused reading");
    assert_eq!(reading.fetched_at, now(), "keeps its real fetch time");
    assert_eq!(Some(reading), first.reading);
    server.verify().await;
}

#[tokio::test]
async fn stale_reading_triggers_a_new_request() {
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(TYPICAL), 2).await;
    let config = world.config(&server.uri());
    assert!(read_usage(&config, now()).await.reading.is_some());
    // A run scheduled every minute that comes a little late still reuses the reading.
    let jitter = read_usage(&config, now() + chrono::Duration::seconds(65)).await;
    assert!(jitter.reused, "within the slack");
    // Past the freshness window and its slack for scheduler jitter.
    let later = now() + chrono::Duration::seconds(71);
    let second = read_usage(&config, later).await;
    assert!(!second.reused);
    assert_eq!(second.reading.expect("reading").fetched_at, later);
    server.verify().await;
}

async fn rate_limited_server(template: ResponseTemplate) -> MockServer {
    server_answering(template, 1).await
}

#[tokio::test]
async fn retry_after_seconds_starts_a_cooldown() {
    let world = World::with_token(&fake_token('a'));
    let server = rate_limited_server(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "1800")
            .set_body_string(r#"{"error":{"type":"rate_limit_error"}}"#),
    )
    .await;
    let config = world.config(&server.uri());
    let first = read_usage(&config, now()).await;
    assert_skipped(&first, &SkipReason::RateLimited);
    let until = now() + chrono::Duration::seconds(1800);
    let second = read_usage(&config, now() + chrono::Duration::seconds(1799)).await;
    assert_skipped(&second, &SkipReason::CoolingDown { until });
    server.verify().await;

    // Once the cool-down has passed, a request goes out again.
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(json(TYPICAL))
        .expect(1)
        .mount(&server)
        .await;
    let third = read_usage(&config, until).await;
    assert!(third.reading.is_some(), "{third:?}");
    server.verify().await;
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    let world = World::with_token(&fake_token('a'));
    let until = now() + chrono::Duration::seconds(2400);
    let date = httpdate::fmt_http_date(until.into());
    let server =
        rate_limited_server(ResponseTemplate::new(429).insert_header("retry-after", date.as_str()))
            .await;
    let config = world.config(&server.uri());
    assert_skipped(&read_usage(&config, now()).await, &SkipReason::RateLimited);
    let second = read_usage(&config, now() + chrono::Duration::seconds(2000)).await;
    assert_skipped(&second, &SkipReason::CoolingDown { until });
    server.verify().await;
}

#[tokio::test]
async fn missing_retry_after_uses_default_cooldown() {
    let world = World::with_token(&fake_token('a'));
    let server = rate_limited_server(ResponseTemplate::new(429)).await;
    let config = world.config(&server.uri());
    assert_eq!(config.default_cooldown, Duration::from_secs(600));
    assert_skipped(&read_usage(&config, now()).await, &SkipReason::RateLimited);
    let second = read_usage(&config, now() + chrono::Duration::seconds(599)).await;
    let until = now() + chrono::Duration::seconds(600);
    assert_skipped(&second, &SkipReason::CoolingDown { until });
    server.verify().await;
}

#[tokio::test]
async fn retry_after_zero_still_gets_a_floor() {
    let world = World::with_token(&fake_token('a'));
    let server =
        rate_limited_server(ResponseTemplate::new(429).insert_header("retry-after", "0")).await;
    let config = world.config(&server.uri());
    assert_skipped(&read_usage(&config, now()).await, &SkipReason::RateLimited);
    let second = read_usage(&config, now() + chrono::Duration::seconds(30)).await;
    let until = now() + chrono::Duration::seconds(300);
    assert_skipped(&second, &SkipReason::CoolingDown { until });
    server.verify().await;
}

#[tokio::test]
async fn cooldown_keeps_last_good_reading_as_stale() {
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(TYPICAL), 1).await;
    let config = world.config(&server.uri());
    let good = read_usage(&config, now()).await.reading.expect("reading");
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "300"))
        .expect(1)
        .mount(&server)
        .await;
    let later = now() + chrono::Duration::seconds(120);
    let limited = read_usage(&config, later).await;
    assert_skipped(&limited, &SkipReason::RateLimited);
    assert_eq!(limited.stale_reading.as_ref(), Some(&good));
    let cooling = read_usage(&config, later + chrono::Duration::seconds(10)).await;
    assert!(matches!(
        cooling.reason,
        Some(SkipReason::CoolingDown { .. })
    ));
    let stale = cooling.stale_reading.expect("stale reading");
    assert_eq!(stale.fetched_at, now());
    server.verify().await;
}

#[tokio::test]
async fn a_new_token_is_a_new_bucket() {
    let world = World::with_token(&fake_token('a'));
    let server =
        rate_limited_server(ResponseTemplate::new(429).insert_header("retry-after", "900")).await;
    let config = world.config(&server.uri());
    assert_skipped(&read_usage(&config, now()).await, &SkipReason::RateLimited);
    server.verify().await;

    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(json(TYPICAL))
        .expect(1)
        .mount(&server)
        .await;
    let later = now() + chrono::Duration::seconds(60);
    let same = read_usage(&config, later).await;
    assert!(matches!(same.reason, Some(SkipReason::CoolingDown { .. })));

    world.write_credential(&crate::common::nested_json(
        &fake_token('b'),
        now() + chrono::Duration::hours(8),
        crate::common::LOGIN_SCOPES,
    ));
    let fresh = read_usage(&config, later).await;
    assert!(fresh.reading.is_some(), "{fresh:?}");
    server.verify().await;

    let state_files: Vec<String> = std::fs::read_dir(world.state_dir())
        .expect("state dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(state_files.len(), 2, "{state_files:?}");
    for name in &state_files {
        assert!(!name.contains("FAKE") && !name.contains("sk-ant"), "{name}");
        assert!(name.starts_with("oauth-usage-") && name.ends_with(".json"));
    }
}

#[tokio::test]
async fn no_state_dir_means_every_read_requests() {
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(TYPICAL), 2).await;
    let mut config = world.config(&server.uri());
    config.state_dir = None;
    assert!(read_usage(&config, now()).await.reading.is_some());
    assert!(read_usage(&config, now()).await.reading.is_some());
    server.verify().await;
}

#[cfg(unix)]
#[tokio::test]
async fn state_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::with_token(&fake_token('a'));
    let server = server_answering(json(TYPICAL), 1).await;
    assert!(
        read_usage(&world.config(&server.uri()), now())
            .await
            .reading
            .is_some()
    );
    for entry in std::fs::read_dir(world.state_dir()).expect("state dir") {
        let mode = entry
            .expect("entry")
            .metadata()
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
