//! Calibration, measured: a synthetic history with a hidden true weekly cap, a loopback server
//! answering what that cap implies, readings taken at several moments, then the server turned
//! off and the estimate compared with the truth at later moments.

use std::path::Path;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::oauth::{FAKE_TOKEN, Setup, run_async};
use crate::support::read_json;

/// The hidden truth: the weekly cap in list-price dollars, and the weekly reset schedule.
const TRUE_CAP_USD: f64 = 90.0;

fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

fn first_reset() -> DateTime<Utc> {
    day0() + TimeDelta::days(3) + TimeDelta::hours(14)
}

/// The weekly window holding `t`: `(reset - 7 d, reset]`.
fn true_reset(t: DateTime<Utc>) -> DateTime<Utc> {
    let mut reset = first_reset();
    while reset <= t {
        reset += TimeDelta::days(7);
    }
    reset
}

struct Event {
    at: DateTime<Utc>,
    opus: bool,
    output: u64,
}

impl Event {
    /// List price: output tokens only (Sonnet 4.5: $15, Opus 4.5: $25 per million).
    fn cost(&self) -> f64 {
        self.output as f64 * if self.opus { 25.0 } else { 15.0 } / 1e6
    }
}

/// A deterministic working pattern: every 20 minutes from 08:00 to 20:00, for 21 days.
fn history() -> Vec<Event> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut events = Vec::new();
    for day in 0..21 {
        for slot in 0..36 {
            let at =
                day0() + TimeDelta::days(day) + TimeDelta::hours(8) + TimeDelta::minutes(20 * slot);
            let r = next();
            if r % 5 == 0 {
                continue; // a pause
            }
            events.push(Event {
                at,
                opus: r % 10 < 3,
                output: 2_000 + (r >> 8) % 40_000,
            });
        }
    }
    events
}

fn write_transcripts(root: &Path, events: &[Event]) {
    let project = root.join("projects/-home-user-work-app");
    std::fs::create_dir_all(&project).unwrap();
    let mut text = String::new();
    for (i, e) in events.iter().enumerate() {
        let model = if e.opus {
            "claude-opus-4-5-20251101"
        } else {
            "claude-sonnet-4-5-20250929"
        };
        let line = json!({
            "type": "assistant", "timestamp": e.at.to_rfc3339(), "sessionId": "s1",
            "cwd": "/home/user/work/app", "requestId": format!("req_{i}"),
            "message": {"id": format!("msg_{i}"), "model": model, "role": "assistant",
                "usage": {"input_tokens": 0, "output_tokens": e.output,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(project.join("history.jsonl"), text).unwrap();
}

/// What the server says at `t`: the week's cost against the true cap, plus `extra` points of
/// usage the local logs cannot see (claude.ai).
fn true_pct(events: &[Event], t: DateTime<Utc>) -> f64 {
    let reset = true_reset(t);
    let cost: f64 = events
        .iter()
        .filter(|e| e.at > reset - TimeDelta::days(7) && e.at <= t)
        .map(Event::cost)
        .sum();
    100.0 * cost / TRUE_CAP_USD
}

fn answer(pct: f64, reset: DateTime<Utc>) -> String {
    json!({
        "five_hour": null,
        "seven_day": {"utilization": (pct * 10.0).round() / 10.0, "resets_at": reset.to_rfc3339()},
        "seven_day_opus": null, "seven_day_sonnet": null
    })
    .to_string()
}

async fn run_at(
    setup: &Setup,
    base_url: &str,
    at: DateTime<Utc>,
    extra: &[&str],
) -> serde_json::Value {
    let now = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut cmd = setup.command_with_roots(base_url, &now, &[setup.path().join("transcripts")]);
    cmd.args(extra);
    let result = run_async(cmd).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    read_json(&setup.out())
}

fn week(doc: &serde_json::Value) -> &serde_json::Value {
    &doc["usage"]["claudeWindow"]["windows"][1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibrated_estimate_tracks_the_true_cap_when_the_server_is_gone() {
    let events = history();
    let calibrated = Setup::new(FAKE_TOKEN, 1_900_000_000_000);
    let plain = Setup::new(FAKE_TOKEN, 1_900_000_000_000);
    for setup in [&calibrated, &plain] {
        write_transcripts(&setup.path().join("transcripts"), &events);
    }

    // Readings: twice a day over days 8 to 11; one of them inflated by usage the local logs
    // cannot see (an outlier the fit must resist).
    let mut readings = 0;
    for (i, hours) in [
        8 * 24 + 10,
        8 * 24 + 18,
        9 * 24 + 11,
        9 * 24 + 17,
        10 * 24 + 12,
        10 * 24 + 19,
        11 * 24 + 9,
    ]
    .into_iter()
    .enumerate()
    {
        let at = day0() + TimeDelta::hours(hours);
        let outlier = if i == 3 { 25.0 } else { 0.0 };
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/api/oauth/usage"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string(answer(true_pct(&events, at) + outlier, true_reset(at))),
            )
            .expect(1)
            .mount(&server)
            .await;
        let doc = run_at(&calibrated, &server.uri(), at, &[]).await;
        assert_eq!(week(&doc)["source"], "oauth");
        readings += 1;
    }

    // The server is gone: a closed port. Compare at later moments, across a weekly reset.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let (mut calibrated_error, mut plain_error, mut n) = (0.0, 0.0, 0.0);
    for hours in [
        12 * 24 + 10,
        13 * 24 + 15,
        14 * 24 + 11,
        15 * 24 + 16,
        16 * 24 + 12,
        17 * 24 + 18,
        18 * 24 + 10,
    ] {
        let at = day0() + TimeDelta::hours(hours);
        let truth = true_pct(&events, at);
        let doc = run_at(&calibrated, &closed, at, &["--plan", "max5"]).await;
        let w = week(&doc);
        assert_eq!(w["source"], "estimate");
        assert_eq!(w["calibration"]["readings"], readings, "{w}");
        assert_eq!(
            w["resetsAt"].as_str().unwrap(),
            true_reset(at).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "anchored to the server's weekly reset"
        );
        let estimate = w["pct"].as_f64().unwrap();
        let uncalibrated = week(&run_at(&plain, &closed, at, &["--plan", "max5"]).await)["pct"]
            .as_f64()
            .unwrap();
        calibrated_error += (estimate - truth).abs();
        plain_error += (uncalibrated - truth).abs();
        n += 1.0;
    }
    let (calibrated_mae, plain_mae) = (calibrated_error / n, plain_error / n);
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "weekly window, mean absolute error: calibrated {calibrated_mae:.2} points, uncalibrated {plain_mae:.2} points"
        );
    }
    assert!(calibrated_mae <= 5.0, "calibrated MAE {calibrated_mae:.2}");
    assert!(plain_mae > 5.0, "uncalibrated MAE {plain_mae:.2}");
}
