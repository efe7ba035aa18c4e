//! `aggregate run` with a fake credential, a fake `claude` and a loopback usage endpoint.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use live_data_schema::Validator;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{NOW, Run, aggregate, fixture_root, read_json, run};

/// Obviously fake, in the real shape (108 characters).
pub(crate) const FAKE_TOKEN: &str = "sk-ant-oat01-FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE";

/// 2026-11-29T12:00:00Z in epoch milliseconds: a day after `NOW`.
const EXPIRES_LATER_MS: i64 = 1_795_953_600_000;
/// 2026-11-28T11:00:00Z: an hour before `NOW`.
const EXPIRED_MS: i64 = 1_795_863_600_000;

pub(crate) const TYPICAL_ANSWER: &str = r#"{"five_hour":{"utilization":24.0,"resets_at":"2026-11-28T14:30:00.134085+00:00"},
 "seven_day":{"utilization":83.0,"resets_at":"2026-12-01T12:00:00.134101+00:00"},
 "seven_day_oauth_apps":null,"seven_day_opus":null,
 "seven_day_sonnet":{"utilization":0.5,"resets_at":"2026-12-01T16:00:00.364265+00:00"},
 "iguana_necktie":null,
 "extra_usage":{"is_enabled":true,"monthly_limit":5000,"used_credits":1234,"utilization":24.68,"currency":"USD"}}"#;

/// A temp dir with a config dir holding a credential and a `bin/claude` that prints a version.
pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
}

impl Setup {
    pub(crate) fn new(token: &str, expires_at_ms: i64) -> Setup {
        Setup::with_refresh(
            token,
            "sk-ant-ort01-FAKEREFRESHFAKEREFRESHFAKEREFRESHFAKEREFRESHFAKEREFRESHFAKEREFRESHFAKEREFRESHFAKEREFRESHFAKEREF",
            expires_at_ms,
        )
    }

    /// The same with the given refresh token.
    pub(crate) fn with_refresh(token: &str, refresh: &str, expires_at_ms: i64) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        std::fs::create_dir(&config).unwrap();
        let credential = json!({
            "claudeAiOauth": {
                "accessToken": token,
                "refreshToken": refresh,
                "expiresAt": expires_at_ms,
                "scopes": ["user:inference", "user:profile"],
                "subscriptionType": "max",
                "rateLimitTier": "default_claude_max_20x"
            }
        });
        std::fs::write(config.join(".credentials.json"), credential.to_string()).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        write_script(
            &bin.join("claude"),
            "#!/bin/sh\necho '2.1.70 (Claude Code)'\n",
        );
        Setup { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.path().join("live-data.json")
    }

    /// `aggregate run` over the fixtures against `base_url`, at `NOW`.
    pub(crate) fn command(&self, base_url: &str) -> std::process::Command {
        self.command_at(base_url, NOW)
    }

    /// `aggregate run` over the fixtures against `base_url`, at `now`.
    pub(crate) fn command_at(&self, base_url: &str, now: &str) -> std::process::Command {
        self.command_with_roots(
            base_url,
            now,
            &[fixture_root("root-a"), fixture_root("root-b")],
        )
    }

    /// `aggregate run` over `roots` against `base_url`, at `now`.
    pub(crate) fn command_with_roots(
        &self,
        base_url: &str,
        now: &str,
        roots: &[PathBuf],
    ) -> std::process::Command {
        let mut cmd = aggregate(self.path(), self.path());
        cmd.env("CLAUDE_CONFIG_DIR", self.path().join("config"))
            .env("PATH", self.path().join("bin"))
            .arg("run");
        for root in roots {
            cmd.arg("--claude-dir").arg(root);
        }
        cmd.args([
            "--now",
            now,
            "--timezone",
            "UTC",
            "--oauth-base-url",
            base_url,
        ])
        .arg("--state-dir")
        .arg(self.path().join("state"));
        cmd
    }
}

pub(crate) fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs the binary off the async runtime, so the mock server keeps serving.
pub(crate) async fn run_async(mut cmd: std::process::Command) -> Run {
    tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap()
}

fn usage_mock(response: ResponseTemplate) -> Mock {
    Mock::given(method("GET"))
        .and(path("/api/oauth/usage"))
        .and(header(
            "authorization",
            format!("Bearer {FAKE_TOKEN}").as_str(),
        ))
        .and(header("anthropic-beta", "oauth-2025-04-20"))
        .and(header("user-agent", "claude-code/2.1.70"))
        .and(header("accept", "application/json"))
        .respond_with(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reading_fills_the_windows_it_covers() {
    let server = MockServer::start().await;
    usage_mock(ResponseTemplate::new(200).set_body_string(TYPICAL_ANSWER))
        .expect(1)
        .mount(&server)
        .await;
    let setup = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    let result = run_async(setup.command(&server.uri())).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(result.stderr.contains(" live, "), "{}", result.stderr);

    let doc = read_json(&setup.out());
    assert!(Validator::new().errors(&doc).is_empty());
    let cw = &doc["usage"]["claudeWindow"];
    assert_eq!(cw["source"], "oauth");
    assert_eq!(cw["authMode"], "oauth");
    assert_eq!(cw["plan"], "max20", "detected from the credential's tier");
    assert_eq!(cw["pctUsed"], 24.0);

    let w = &cw["windows"];
    assert_eq!(w[0]["id"], "five_hour");
    assert_eq!(w[0]["source"], "oauth");
    assert_eq!(w[0]["pct"], 24.0);
    assert_eq!(w[0]["used"], 24.0);
    assert_eq!(w[0]["cap"], 100.0);
    assert_eq!(w[0]["resetsAt"], "2026-11-28T14:30:00.134085Z");
    // Local counts stay on live windows, measured over the server's span of the window
    // (09:30 to now, from its reset at 14:30): msg_01A at 09:10 is before it.
    assert_eq!(w[0]["messages"], 4, "local counts stay on live windows");
    assert_eq!(
        w[0]["calibration"],
        json!(null),
        "a live window is not an estimate"
    );
    assert_eq!(w[1]["source"], "oauth");
    assert_eq!(w[1]["pct"], 83.0);
    assert_eq!(w[1]["resetsAt"], "2026-12-01T12:00:00.134101Z");
    assert_eq!(w[2]["id"], "seven_day_sonnet");
    assert_eq!(w[2]["pct"], 0.5, "0.5 is half a percent, never rescaled");
    assert_eq!(w[3]["id"], "seven_day_opus");
    assert_eq!(w[3]["source"], "estimate", "the server gave no opus window");
    assert_eq!(w[3]["cap"], 1400.0);
    assert_eq!(
        w[3]["resetsAt"], "2026-12-01T12:00:00.134101Z",
        "an estimated weekly window is anchored to the server's weekly reset"
    );

    assert_eq!(
        cw["authoritative"],
        json!({
            "source": "oauth-usage-api",
            "fetchedAt": "2026-11-28T12:00:00Z",
            "subscriptionType": "max",
            "rateLimitTier": "default_claude_max_20x",
            "windows": [
                {"id": "five_hour", "pct": 24.0, "resetsAt": "2026-11-28T14:30:00.134085Z", "severity": null},
                {"id": "seven_day", "pct": 83.0, "resetsAt": "2026-12-01T12:00:00.134101Z", "severity": null},
                {"id": "seven_day_sonnet", "pct": 0.5, "resetsAt": "2026-12-01T16:00:00.364265Z", "severity": null}
            ],
            "extraUsage": {"enabled": true, "usedMinor": 1234, "limitMinor": 5000, "currency": "USD"}
        })
    );
    let text = std::fs::read_to_string(setup.out()).unwrap();
    assert!(!text.contains("sk-ant"), "no token in the output");
    assert!(
        !text.contains("iguana"),
        "unknown keys are not passed through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_within_the_freshness_window_reuses_the_reading() {
    let server = MockServer::start().await;
    usage_mock(ResponseTemplate::new(200).set_body_string(TYPICAL_ANSWER))
        .expect(1)
        .mount(&server)
        .await;
    let setup = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    let first = run_async(setup.command(&server.uri())).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let second = run_async(setup.command_at(&server.uri(), "2026-11-28T12:00:30Z")).await;
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert!(second.stderr.contains("live (reused)"), "{}", second.stderr);
    let doc = read_json(&setup.out());
    assert_eq!(
        doc["usage"]["claudeWindow"]["authoritative"]["fetchedAt"],
        "2026-11-28T12:00:00Z"
    );
}

#[track_caller]
fn assert_estimate(doc: &serde_json::Value) {
    assert!(Validator::new().errors(doc).is_empty());
    let cw = &doc["usage"]["claudeWindow"];
    assert_eq!(cw["source"], "estimate");
    assert_eq!(cw["authoritative"], json!(null));
    for w in cw["windows"].as_array().unwrap() {
        assert_eq!(w["source"], "estimate");
    }
    assert_eq!(
        cw["windows"][0]["resetsAt"], "2026-11-28T14:00:00Z",
        "the block estimate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_fall_back_to_the_estimate_without_an_error() {
    for (status, body, reason) in [
        (500, "{}", "unexpected http status 500"),
        (
            401,
            r#"{"type":"error","error":{"type":"authentication_error"}}"#,
            "unauthorized (401)",
        ),
        (200, "{not json", "malformed usage response"),
        (
            429,
            r#"{"error":{"type":"rate_limit_error"}}"#,
            "rate limited (429)",
        ),
    ] {
        let server = MockServer::start().await;
        usage_mock(ResponseTemplate::new(status).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let setup = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
        let result = run_async(setup.command(&server.uri())).await;
        assert_eq!(result.code, Some(0), "{status}: {}", result.stderr);
        assert!(
            result.stderr.contains(&format!("estimate ({reason})")),
            "{status}: {}",
            result.stderr
        );
        assert!(
            !result.stderr.contains("error"),
            "no error in the output: {}",
            result.stderr
        );
        let doc = read_json(&setup.out());
        assert_estimate(&doc);
        assert_eq!(doc["usage"]["claudeWindow"]["authMode"], "oauth");
        assert_eq!(doc["usage"]["claudeWindow"]["plan"], "max20");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_429_the_next_run_sends_no_request() {
    let server = MockServer::start().await;
    usage_mock(ResponseTemplate::new(429).insert_header("retry-after", "600"))
        .expect(1)
        .mount(&server)
        .await;
    let setup = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    let first = run_async(setup.command(&server.uri())).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let second = run_async(setup.command_at(&server.uri(), "2026-11-28T12:05:00Z")).await;
    assert!(
        second
            .stderr
            .contains("estimate (cooling down until 2026-11-28T12:10:00"),
        "{}",
        second.stderr
    );
    assert_estimate(&read_json(&setup.out()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_missing_cli_and_api_key_send_no_request() {
    let server = MockServer::start().await;
    usage_mock(ResponseTemplate::new(200).set_body_string(TYPICAL_ANSWER))
        .expect(0)
        .mount(&server)
        .await;

    let expired = Setup::new(FAKE_TOKEN, EXPIRED_MS);
    let result = run_async(expired.command(&server.uri())).await;
    assert!(
        result.stderr.contains("estimate (oauth token expired)"),
        "{}",
        result.stderr
    );
    assert_estimate(&read_json(&expired.out()));

    let no_cli = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    std::fs::remove_file(no_cli.path().join("bin/claude")).unwrap();
    let result = run_async(no_cli.command(&server.uri())).await;
    assert!(
        result
            .stderr
            .contains("estimate (claude cli version unavailable)"),
        "{}",
        result.stderr
    );
    assert_estimate(&read_json(&no_cli.out()));

    let api_key = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    std::fs::remove_file(api_key.path().join("config/.credentials.json")).unwrap();
    let mut cmd = api_key.command(&server.uri());
    cmd.env("ANTHROPIC_API_KEY", "sk-ant-api03-FAKEFAKEFAKE");
    let result = run_async(cmd).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let doc = read_json(&api_key.out());
    assert_estimate(&doc);
    assert_eq!(doc["usage"]["claudeWindow"]["authMode"], "api_key");
    assert_eq!(doc["usage"]["claudeWindow"]["plan"], "unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_costs_at_most_the_budget() {
    let server = MockServer::start().await;
    usage_mock(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let setup = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    let mut cmd = setup.command(&server.uri());
    cmd.args(["--oauth-timeout", "1.5"]);
    let started = Instant::now();
    let result = run_async(cmd).await;
    let elapsed = started.elapsed();
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(elapsed < Duration::from_millis(4500), "took {elapsed:?}");
    assert!(
        result.stderr.contains("estimate (timed out)"),
        "{}",
        result.stderr
    );
    assert_estimate(&read_json(&setup.out()));
}

/// With the default budget (6 s) the whole run, process start to exit, stays within it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_budget_bounds_the_whole_run() {
    let server = MockServer::start().await;
    usage_mock(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let setup = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    let started = Instant::now();
    let result = run_async(setup.command(&server.uri())).await;
    let elapsed = started.elapsed();
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    assert!(
        result.stderr.contains("estimate (timed out)"),
        "{}",
        result.stderr
    );
}

#[test]
fn endpoints_other_than_anthropic_or_loopback_are_refused() {
    let setup = Setup::new(FAKE_TOKEN, EXPIRES_LATER_MS);
    for url in [
        "https://evil.example",
        "http://10.0.0.1:8080",
        "http://127.0.0.1@evil.example",
        "ftp://127.0.0.1",
    ] {
        let result = run(&mut setup.command(url));
        assert_eq!(result.code, Some(2), "{url}: {}", result.stderr);
        assert!(
            result.stderr.contains("refusing --oauth-base-url"),
            "{url}: {}",
            result.stderr
        );
        assert!(!setup.out().exists());
    }
}
