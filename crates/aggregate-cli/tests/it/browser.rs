//! The usage panel in headless Chromium, served by the real `aggregate serve`.
//!
//! Each case copies a file from `fixtures/live-data/` to the served path, loads the page with
//! the panel's clock fixed (`?now=`), and checks the rendered DOM (`--dump-dom`). The same
//! launch saves a screenshot to `target/tmp/browser/` (390 or 1280 px wide, light or dark) for
//! a person to look at.
//!
//! Needs Debian's `chromium` package; without it these tests fail (they never skip).

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{aggregate, repo_root, run};

/// The panel's clock in every case: 40 s after the fixtures were written.
const PAGE_NOW: &str = "2026-11-28T12:00:40Z";

/// A running `aggregate serve` over a data file in a temp dir; killed when dropped.
struct Served {
    child: Child,
    url: String,
    data: PathBuf,
    dir: tempfile::TempDir,
}

impl Served {
    fn start() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let data = dir.path().join("live-data.json");
        let mut child = aggregate(dir.path(), &home)
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("aggregate serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim_end().to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
            "the first line is the URL: {line:?}"
        );
        Served {
            child,
            url,
            data,
            dir,
        }
    }

    /// Serves a copy of `fixtures/live-data/<name>`, or no file for `None`.
    fn serve_fixture(&self, name: Option<&str>) {
        let _ = std::fs::remove_file(&self.data);
        if let Some(name) = name {
            let from = repo_root().join("fixtures/live-data").join(name);
            std::fs::copy(&from, &self.data).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        }
    }

    /// The rendered DOM of the page, and a screenshot saved as `<shot>.png`.
    fn render(&self, shot: &str, width: u32, dark: bool) -> Dom {
        let profile = self.dir.path().join(format!("profile-{shot}"));
        // Written in this case's temp dir, then copied out: concurrent runs never see each
        // other's half-written files.
        let png = self.dir.path().join(format!("{shot}.png"));
        let mut cmd = Command::new(chromium());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("TZ", "UTC")
            .env("LANG", "en_US.UTF-8")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--lang=en-US",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={width},900"))
            .arg(format!("--screenshot={}", png.display()))
            .arg("--dump-dom");
        if dark {
            cmd.arg("--force-dark-mode");
        }
        cmd.arg(format!("{}?now={PAGE_NOW}", self.url));
        let dom = run_with_deadline(cmd, Duration::from_secs(90));
        let image = std::fs::read(&png)
            .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()));
        assert!(
            image.starts_with(b"\x89PNG") && image.len() > 5_000,
            "{} is a real PNG",
            png.display()
        );
        let kept = screenshot_dir().join(format!("{shot}.png"));
        std::fs::copy(&png, &kept).unwrap_or_else(|e| panic!("{}: {e}", kept.display()));
        Dom(dom)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Chromium on `PATH`, else a failure that says what to install.
/// Whether the browser tests can run. In CI (`CI` set) a missing chromium fails the test; on
/// a developer's machine without it the browser tests say so and return, so that
/// `cargo test --workspace` works on a fresh machine.
fn browser_available() -> bool {
    if find_chromium().is_some() || std::env::var_os("CI").is_some() {
        return true;
    }
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "browser tests NOT RUN: chromium is not installed (sudo apt-get install -y chromium); \
             in CI they fail instead"
        );
    }
    false
}

fn find_chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: the browser tests need Debian's `chromium` package \
                 (sudo apt-get install -y chromium); .ci/run installs it in CI"
            )
        })
}

/// Runs `cmd` and returns its stdout; fails when it fails or outlives `deadline`.
fn run_with_deadline(mut cmd: Command, deadline: Duration) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap().expect("chromium's output is UTF-8");
    let stderr = err.join().unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    stdout
}

/// A dumped DOM, with lookups by the panel's own markers.
struct Dom(String);

impl Dom {
    /// The value of `<body data-state>`: loading, ready, empty, missing, invalid or error.
    fn state(&self) -> &str {
        let start = self.0.find("<body data-state=\"").expect("a body") + 18;
        let len = self.0[start..].find('"').unwrap();
        &self.0[start..start + len]
    }

    /// The markup of the window row with this id.
    fn row(&self, id: &str) -> Row<'_> {
        let marker = format!("data-window-id=\"{id}\"");
        let start = self
            .0
            .find(&marker)
            .unwrap_or_else(|| panic!("no row for {id} in:\n{}", self.text()));
        let len = self.0[start..].find("</article>").unwrap();
        Row(&self.0[start..start + len])
    }

    fn count(&self, needle: &str) -> usize {
        self.0.matches(needle).count()
    }

    /// The text of the page: tags dropped, entities decoded, whitespace collapsed.
    fn text(&self) -> String {
        text_of(&self.0)
    }

    #[track_caller]
    fn assert_text(&self, expected: &[&str]) {
        let text = self.text();
        for want in expected {
            assert!(text.contains(want), "{want:?} not in:\n{text}");
        }
    }
}

/// One window row.
struct Row<'a>(&'a str);

impl Row<'_> {
    #[track_caller]
    fn assert(&self, badge: &str, pct: &str, texts: &[&str]) {
        let source = if badge == "Live" { "oauth" } else { "estimate" };
        assert!(
            self.0.contains(&format!("data-source=\"{source}\"")),
            "{source}: {}",
            self.0
        );
        assert!(
            self.0
                .contains(&format!("<span class=\"badge-text\">{badge}</span>")),
            "badge {badge}: {}",
            self.0
        );
        let shown = [
            format!("<span class=\"pct\">{pct}</span>"),
            format!("<span class=\"pct no-cap\">{pct}</span>"),
        ];
        assert!(
            shown.iter().any(|s| self.0.contains(s.as_str())),
            "{pct}: {}",
            self.0
        );
        let text = text_of(self.0);
        for want in texts {
            assert!(text.contains(want), "{want:?} not in {text:?}");
        }
    }

    #[track_caller]
    fn assert_bar(&self, valuenow: &str) {
        for attr in [
            "role=\"progressbar\"".to_owned(),
            "aria-valuemin=\"0\"".to_owned(),
            "aria-valuemax=\"100\"".to_owned(),
            format!("aria-valuenow=\"{valuenow}\""),
        ] {
            assert!(self.0.contains(&attr), "{attr}: {}", self.0);
        }
    }
}

fn text_of(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn live_mixed_and_estimate_files_show_their_sources() {
    if !browser_available() {
        return;
    }
    let served = Served::start();

    served.serve_fixture(Some("live.json"));
    let dom = served.render("live-390", 390, false);
    assert_eq!(dom.state(), "ready");
    dom.assert_text(&["Plan max5", "all live", "file written 40 s ago"]);
    let five = dom.row("five_hour");
    five.assert(
        "Live",
        "42%",
        &[
            "resets in 2 h 14 min",
            "(14:14 UTC)",
            "updated 40 s ago",
            "Behind pace: 42% used with 55.1% of the window gone",
            "100% not before the reset (about 63.3% at the reset)",
        ],
    );
    five.assert_bar("42");
    dom.row("seven_day").assert(
        "Live",
        "64%",
        &[
            "resets in 4 d 4 h",
            "(Wed 2 Dec, 16:48 UTC)",
            "Ahead of pace: 64% used with 40% of the window gone",
            "At the rate of the last 24 h (1.2%/h): 100% in 1 d 5 h (Sun 29 Nov, 18:00 UTC), \
             before the reset",
        ],
    );
    dom.row("seven_day_sonnet")
        .assert("Live", "31%", &["(0.25%/h)"]);
    let opus = dom.row("seven_day_opus");
    opus.assert("Live", "97.5%", &["100% in 2 h 29 min (14:30 UTC)"]);
    opus.assert_bar("97.5");
    assert_eq!(dom.count("<article class=\"window\""), 4);
    assert_eq!(dom.count("role=\"img\""), 2, "two daily charts");
    dom.assert_text(&["Last 30 days", "claude-opus-4-5-20251101", "58.1%"]);

    served.serve_fixture(Some("mixed.json"));
    let dom = served.render("mixed-1280", 1280, false);
    assert_eq!(dom.state(), "ready");
    dom.assert_text(&["2 of 4 live"]);
    dom.row("five_hour")
        .assert("Live", "42%", &["updated 40 s ago"]);
    dom.row("seven_day").assert("Live", "64%", &[]);
    for id in ["seven_day_sonnet", "seven_day_opus"] {
        dom.row(id).assert(
            "Estimate",
            "0%",
            &[
                "no reset time (rolling window)",
                "No pace: a rolling window has no fixed start",
            ],
        );
    }
    dom.row("seven_day_sonnet").assert(
        "Estimate",
        "0%",
        &["Based on 22,713 tokens \u{b7} $0.015 at list price \u{b7} 2 messages"],
    );
    dom.row("seven_day_opus").assert(
        "Estimate",
        "0%",
        &["Estimate, calibrated from 12 readings, newest 3 h ago"],
    );
    assert!(!dom.row("seven_day_sonnet").0.contains("calibrated"));

    served.serve_fixture(Some("estimate.json"));
    let dom = served.render("estimate-390-dark", 390, true);
    assert_eq!(dom.state(), "ready");
    dom.assert_text(&["all estimates"]);
    dom.row("five_hour").assert(
        "Estimate",
        "0.3%",
        &[
            "resets in 1 h 59 min",
            "(14:00 UTC)",
            "Based on 70,131 tokens",
            "Behind pace: 0.3% used with 60% of the window gone",
        ],
    );
    dom.row("seven_day")
        .assert("Estimate", "0%", &["no reset time (rolling window)"]);
    assert!(!dom.0.contains("updated "), "no fetch time on estimates");
}

#[test]
fn legacy_unknown_plan_and_empty_files_render_without_error() {
    if !browser_available() {
        return;
    }
    let served = Served::start();

    served.serve_fixture(Some("legacy-v0.json"));
    let dom = served.render("legacy-1280", 1280, false);
    assert_eq!(dom.state(), "ready");
    assert!(!dom.0.contains("is not valid"));
    assert_eq!(dom.count("<article class=\"window\""), 2);
    let rows: Vec<&str> = dom.0.split("<article class=\"window\"").skip(1).collect();
    for (row, (label, pct)) in rows
        .iter()
        .zip([("5-hour session", "42.5%"), ("Weekly", "34.4%")])
    {
        let row = Row(row);
        row.assert("Estimate", pct, &[label, "no reset time", "Based on $"]);
    }
    dom.assert_text(&["Old data", "No per-model figures in this file."]);

    served.serve_fixture(Some("unknown-plan.json"));
    let dom = served.render("unknown-plan-390", 390, false);
    assert_eq!(dom.state(), "ready");
    assert_eq!(dom.count("no cap known"), 4);
    assert_eq!(dom.count("role=\"progressbar\""), 0);
    dom.row("five_hour").assert(
        "Estimate",
        "no cap known",
        &["resets in 1 h 59 min", "Based on 70,131 tokens"],
    );

    served.serve_fixture(Some("empty.json"));
    let dom = served.render("empty-1280-dark", 1280, true);
    assert_eq!(dom.state(), "empty");
    dom.assert_text(&[
        "No usage recorded yet",
        "found no Claude Code usage (searched ~/.claude)",
        "--claude-dir DIR",
        "No activity in the last 30 days.",
    ]);
    dom.row("five_hour")
        .assert("Estimate", "0%", &["no reset time", "No active session"]);
}

#[test]
fn missing_and_invalid_files_explain_themselves() {
    if !browser_available() {
        return;
    }
    let served = Served::start();

    served.serve_fixture(None);
    let dom = served.render("missing-390", 390, false);
    assert_eq!(dom.state(), "missing");
    dom.assert_text(&[
        "No data yet",
        "There is no data file at",
        "aggregate run",
        "checks again every 30 seconds",
    ]);
    assert_eq!(dom.count("<article class=\"window\""), 0);

    served.serve_fixture(Some("invalid.json"));
    let dom = served.render("invalid-390", 390, false);
    assert_eq!(dom.state(), "invalid");
    dom.assert_text(&[
        "live-data.json is not valid",
        "schemaVersion: expected a whole number of at least 0, found a string of 3 characters",
        "generatedAt: expected an RFC 3339 time, found a string of 9 characters",
        "usage.claudeWindow.windows[0].pct: expected a number of at least 0 or null, found a \
         string of 4 characters",
        "usage.claudeWindow.windows[0].source: expected one of \"oauth\", \"estimate\", found \
         a string of 5 characters",
        "daily[0].costUsd: expected a number of at least 0, found nothing (the field is missing)",
    ]);
    assert_eq!(dom.count("<article class=\"window\""), 0);

    std::fs::write(
        &served.data,
        "{\"schemaVersion\": 1, \"token\": \"sk-ant-oat01-FAKEpagecanaryFAKE\",",
    )
    .unwrap();
    let dom = served.render("not-json-390", 390, false);
    assert_eq!(dom.state(), "invalid");
    dom.assert_text(&[
        "live-data.json is not valid",
        "It is not JSON: it ends too early",
    ]);
    assert!(
        !dom.text().contains("FAKEpagecanary"),
        "the page never echoes file content"
    );
    let mut doc: serde_json::Value =
        crate::support::read_json(&repo_root().join("fixtures/live-data/invalid.json"));
    doc["usage"]["claudeWindow"]["plan"] = serde_json::json!(["sk-ant-oat01-FAKEpagecanaryFAKE"]);
    doc["generatedAt"] = serde_json::json!("sk-ant-oat01-FAKEpagecanaryFAKE");
    std::fs::write(&served.data, doc.to_string()).unwrap();
    let dom = served.render("invalid-canary-390", 390, false);
    assert_eq!(dom.state(), "invalid");
    assert!(
        !dom.text().contains("FAKEpagecanary"),
        "the page never echoes file content"
    );
}

/// One request over a fresh connection: the status code and the body.
fn http_get(url: &str, path: &str) -> (u16, String) {
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let status = reply[9..12].parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[test]
fn serve_prints_its_url_and_serves_the_file_as_it_is_now() {
    let served = Served::start();
    let (status, body) = http_get(&served.url, "/live-data.json");
    assert_eq!(status, 404);
    assert!(body.contains("\"error\":\"no_data\""), "{body}");
    served.serve_fixture(Some("legacy-v0.json"));
    let (status, body) = http_get(&served.url, "/live-data.json");
    assert_eq!(status, 200);
    assert!(body.contains("\"pctUsed\": 42.5"), "{body}");
    let (status, body) = http_get(&served.url, "/");
    assert_eq!(status, 200);
    assert!(body.contains("<title>Claude usage</title>"));
}

#[test]
fn serve_refuses_a_non_loopback_bind_without_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(aggregate(dir.path(), dir.path()).args(["serve", "--bind", "0.0.0.0", "--port", "0"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("refusing to listen on 0.0.0.0")
            && out.stderr.contains("--allow-remote"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn every_panel_fixture_but_the_invalid_one_matches_the_schema() {
    let dir = repo_root().join("fixtures/live-data");
    let validator = live_data_schema::Validator::new();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let doc = crate::support::read_json(&dir.join(&name));
        let errors = validator.errors(&doc);
        if name == "invalid.json" {
            assert!(!errors.is_empty());
        } else {
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }
}
