//! The canary: a unique token (and refresh token) in the credential, a unique string in a
//! transcript line's text; the real binary runs with `RUST_LOG=trace` against a loopback
//! server in every mode, and neither canary, nor any 16-character piece of one, may appear in
//! stdout, stderr, `live-data.json` or any other file the run wrote.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::oauth::{Setup, TYPICAL_ANSWER};
use crate::support::{NOW, aggregate, fixture_root};

/// A body of `len` characters from the token alphabet, unique to this process and moment.
fn unique_body(tag: &str, len: usize) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let seed = format!("{tag}{:x}{:x}", std::process::id(), nanos);
    let mut body = String::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ nanos as u64;
    for b in seed.bytes() {
        state = state.rotate_left(5) ^ u64::from(b);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    while body.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        body.push(ALPHABET[(state % 64) as usize] as char);
    }
    body
}

struct Canaries {
    token: String,
    refresh: String,
    transcript: String,
}

impl Canaries {
    fn new() -> Canaries {
        Canaries {
            token: format!("sk-ant-oat01-{}", unique_body("access", 95)),
            refresh: format!("sk-ant-ort01-{}", unique_body("refresh", 95)),
            transcript: format!("CANARY{}", unique_body("transcript", 40)),
        }
    }

    /// Canaries without any secret shape: redaction cannot recognise them by their prefix, so
    /// a run that printed one anywhere would be caught (redaction hides only what is printed;
    /// this proves nothing is).
    fn shapeless() -> Canaries {
        Canaries {
            token: format!("PLAINACCESS{}", unique_body("plain-access", 97)),
            refresh: format!("PLAINREFRESH{}", unique_body("plain-refresh", 96)),
            transcript: format!("CANARY{}", unique_body("plain-transcript", 40)),
        }
    }

    /// Every 16-character piece of every canary.
    fn pieces(&self) -> Vec<&str> {
        let mut pieces = Vec::new();
        for canary in [&self.token, &self.refresh, &self.transcript] {
            for start in 0..=canary.len() - 16 {
                pieces.push(&canary[start..start + 16]);
            }
        }
        pieces
    }

    #[track_caller]
    fn assert_absent(&self, what: &str, text: &str) {
        for piece in self.pieces() {
            assert!(
                !text.contains(piece),
                "{what} carries canary piece {piece:?}"
            );
        }
    }
}

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// A config dir with the canary credential, a fake `claude`, and a transcript root holding a
/// line whose text is the transcript canary.
fn setup(canaries: &Canaries) -> Setup {
    let setup = Setup::with_refresh(&canaries.token, &canaries.refresh, 1_795_953_600_000);
    let project = setup
        .path()
        .join("transcripts/projects/-home-user-work-app");
    std::fs::create_dir_all(&project).unwrap();
    let line = json!({
        "type": "assistant", "timestamp": "2026-11-28T11:45:00.000Z", "sessionId": "s-canary",
        "cwd": "/home/user/work/app", "requestId": "req_canary",
        "message": {"id": "msg_canary", "model": "claude-sonnet-4-5-20250929", "role": "assistant",
            "content": [{"type": "text", "text": canaries.transcript},
                        {"type": "tool_use", "name": "Bash", "input": {"command": format!("echo {}", canaries.token)}}],
            "usage": {"input_tokens": 3, "output_tokens": 7, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    });
    std::fs::write(project.join("canary.jsonl"), format!("{line}\n")).unwrap();
    setup
}

async fn run_mode(canaries: &Canaries, name: &str, response: ResponseTemplate) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/oauth/usage"))
        .respond_with(response)
        .mount(&server)
        .await;
    let dir = setup(canaries);
    let root = dir.path().to_path_buf();
    let mut cmd = aggregate(&root, &root);
    cmd.env("RUST_LOG", "trace")
        .env("CLAUDE_CONFIG_DIR", root.join("config"))
        .env("PATH", root.join("bin"))
        .arg("run")
        .arg("--claude-dir")
        .arg(root.join("transcripts"))
        .arg("--claude-dir")
        .arg(fixture_root("root-a"))
        .args([
            "--now",
            NOW,
            "--oauth-timeout",
            "1.5",
            "--oauth-base-url",
            &server.uri(),
        ])
        .arg("--state-dir")
        .arg(root.join("state"));
    let result = tokio::task::spawn_blocking(move || crate::support::run(&mut cmd))
        .await
        .unwrap();
    assert_eq!(result.code, Some(0), "{name}: {}", result.stderr);
    assert!(
        result.stderr.contains("TRACE") || result.stderr.contains("DEBUG"),
        "{name}: logging is on"
    );
    canaries.assert_absent(&format!("{name}: stdout"), &result.stdout);
    canaries.assert_absent(&format!("{name}: stderr"), &result.stderr);
    let mut written = 0;
    for file in files_under(&root) {
        let relative = file.strip_prefix(&root).unwrap();
        // The inputs the test wrote itself hold the canaries on purpose.
        if relative.starts_with("config") || relative.starts_with("transcripts") {
            continue;
        }
        if relative.starts_with("bin") {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap();
        canaries.assert_absent(
            &format!("{name}: {}", relative.display()),
            &String::from_utf8_lossy(&bytes),
        );
        written += 1;
    }
    assert!(
        root.join("live-data.json").exists(),
        "{name}: output written"
    );
    assert!(written >= 1, "{name}: checked the written files");
}

#[test]
fn the_check_finds_a_canary_piece() {
    let canaries = Canaries::new();
    let leak = format!("log: token={}", &canaries.token[20..40]);
    let caught = std::panic::catch_unwind(|| canaries.assert_absent("leak", &leak));
    assert!(caught.is_err(), "a 20-character piece must be caught");
    let redacted = redact::redact(&format!("Bearer {}", canaries.token)).into_owned();
    canaries.assert_absent("redacted", &redacted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_canary_escapes_in_any_mode() {
    every_mode(&Canaries::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_shapeless_canary_is_ever_printed() {
    every_mode(&Canaries::shapeless()).await;
}

async fn every_mode(canaries: &Canaries) {
    let echo = json!({
        "five_hour": {"utilization": 12.0, "resets_at": canaries.token},
        "seven_day": {"utilization": 40.0, "resets_at": "2026-12-01T12:00:00+00:00", "note": canaries.token},
        "access_token": canaries.token,
        "refresh_token": canaries.refresh,
        "limits": [{"kind": "session", "group": canaries.token, "percent": 12, "severity": "normal", "scope": canaries.refresh}],
        "extra_usage": {"is_enabled": true, "currency": canaries.token}
    });
    let modes = [
        (
            "valid",
            ResponseTemplate::new(200).set_body_string(TYPICAL_ANSWER),
        ),
        (
            "401",
            ResponseTemplate::new(401)
                .set_body_string(format!(r#"{{"error":"bad token {}"}}"#, canaries.token)),
        ),
        (
            "429",
            ResponseTemplate::new(429).insert_header("retry-after", "120"),
        ),
        (
            "500",
            ResponseTemplate::new(500).set_body_string(canaries.token.clone()),
        ),
        (
            "malformed",
            ResponseTemplate::new(200)
                .set_body_string(format!("{{\"five_hour\": {}", canaries.token)),
        ),
        ("echo", ResponseTemplate::new(200).set_body_json(echo)),
        (
            "hang",
            ResponseTemplate::new(200).set_delay(Duration::from_secs(20)),
        ),
    ];
    for (name, response) in modes {
        run_mode(canaries, name, response).await;
    }
}
