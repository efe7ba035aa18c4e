//! The usage answer: a validating parser and the typed reading it yields.
//!
//! Every field of the answer is optional and possibly hostile. Unknown keys are ignored and
//! never passed through; strings that are kept are short, plain labels. `utilization` is a
//! percentage (0-100) and is taken as is: `0.5` means half a percent, never a fraction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest accepted `utilization` or `percent`; anything above is refused for that entry.
pub const MAX_UTILIZATION: f64 = 1000.0;

/// Longest accepted `resets_at` text.
const MAX_TIMESTAMP_LEN: usize = 64;

/// Longest label (window name, group, scope) kept.
const MAX_LABEL_LEN: usize = 48;

/// At most this many windows and limits are kept.
const MAX_ENTRIES: usize = 32;

/// Amounts above this many minor units are refused.
const MAX_MINOR_UNITS: i64 = 1_000_000_000_000;

/// A successful usage reading. It holds no secret and may be cached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReading {
    /// When the answer was received (the `now` of the read that made the request).
    pub fetched_at: DateTime<Utc>,
    /// Windows by name: `five_hour`, `seven_day`, `seven_day_sonnet`, `seven_day_opus` and any
    /// other `seven_day_*` key the answer holds.
    pub windows: BTreeMap<String, WindowReading>,
    /// The `limits[]` entries, in answer order.
    pub limits: Vec<LimitReading>,
    /// Pay-as-you-go overage, when reported.
    pub extra_usage: Option<ExtraUsage>,
    /// `subscriptionType` of the credential used.
    pub subscription_type: Option<String>,
    /// `rateLimitTier` of the credential used.
    pub rate_limit_tier: Option<String>,
}

/// One usage window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowReading {
    /// Percent used, 0-100 as reported (not clamped; at most [`MAX_UTILIZATION`]).
    pub utilization: f64,
    /// When the window resets; `None` when idle or not a valid RFC 3339 time.
    pub resets_at: Option<DateTime<Utc>>,
    /// Severity from a matching `limits[]` entry.
    pub severity: Option<Severity>,
}

/// How close a limit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Plenty left.
    Normal,
    /// Getting close.
    Warning,
    /// At or near the limit.
    Critical,
}

/// The kind of a `limits[]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// The 5-hour session window.
    Session,
    /// The weekly window over all models.
    WeeklyAll,
    /// A weekly window scoped to a model group.
    WeeklyScoped,
    /// A kind this reader does not know.
    Other,
}

/// One `limits[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitReading {
    /// The kind.
    pub kind: LimitKind,
    /// The model group, as a short label (`sonnet`, `opus`, ...).
    pub group: Option<String>,
    /// Percent used, 0-100.
    pub percent: Option<f64>,
    /// Severity.
    pub severity: Option<Severity>,
    /// When it resets.
    pub resets_at: Option<DateTime<Utc>>,
    /// The scope, as a short label.
    pub scope: Option<String>,
    /// Whether this is the binding limit.
    pub is_active: Option<bool>,
}

/// `extra_usage`: amounts stay in minor units (cents), as integers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtraUsage {
    /// Whether overage is enabled.
    pub is_enabled: Option<bool>,
    /// The monthly cap in minor units (cents), not dollars.
    pub monthly_limit_minor: Option<i64>,
    /// Used credits in minor units (cents), not dollars.
    pub used_credits_minor: Option<i64>,
    /// Percent of the monthly cap used, 0-100.
    pub utilization: Option<f64>,
    /// ISO 4217 currency code (three uppercase letters).
    pub currency: Option<String>,
}

/// Why an answer gave no reading. Never carries body text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("usage body is not json (line {line}, column {column})")]
    NotJson {
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
    },
    /// The body is JSON but not an object.
    #[error("usage body is not a json object")]
    NotObject,
    /// The body has no usable window or limit.
    #[error("usage body has no usable window")]
    NoWindow,
}

/// Parses and validates a usage answer received at `fetched_at`. Credential fields
/// (`subscription_type`, `rate_limit_tier`) are left `None` for the caller to fill in.
pub fn parse_usage(body: &[u8], fetched_at: DateTime<Utc>) -> Result<UsageReading, ParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::NotJson {
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(top) = value else {
        return Err(ParseError::NotObject);
    };
    let mut windows = BTreeMap::new();
    for (key, entry) in &top {
        if windows.len() >= MAX_ENTRIES {
            break;
        }
        if is_window_key(key)
            && let Some(window) = parse_window(entry)
        {
            windows.insert(key.clone(), window);
        }
    }
    let mut limits: Vec<LimitReading> = match top.get("limits") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(parse_limit)
            .take(MAX_ENTRIES)
            .collect(),
        _ => Vec::new(),
    };
    // A reset time is kept only where a window could reset: from an hour before the reading
    // to an hour past the longest window (seven days) after it.
    let plausible = |t: &DateTime<Utc>| {
        *t >= fetched_at - chrono::TimeDelta::hours(1)
            && *t <= fetched_at + chrono::TimeDelta::days(7) + chrono::TimeDelta::hours(1)
    };
    for window in windows.values_mut() {
        window.resets_at = window.resets_at.filter(plausible);
    }
    for limit in &mut limits {
        limit.resets_at = limit.resets_at.filter(plausible);
    }
    apply_limits(&mut windows, &limits);
    if windows.is_empty() && limits.is_empty() {
        return Err(ParseError::NoWindow);
    }
    let extra_usage = match top.get("extra_usage") {
        Some(Value::Object(obj)) => Some(parse_extra(obj)),
        _ => None,
    };
    Ok(UsageReading {
        fetched_at,
        windows,
        limits,
        extra_usage,
        subscription_type: None,
        rate_limit_tier: None,
    })
}

/// `five_hour`, `seven_day` and `seven_day_<name>` with a plain lowercase name.
fn is_window_key(key: &str) -> bool {
    if key == "five_hour" || key == "seven_day" {
        return true;
    }
    key.strip_prefix("seven_day_").is_some_and(|rest| {
        !rest.is_empty()
            && key.len() <= MAX_LABEL_LEN
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

fn parse_window(entry: &Value) -> Option<WindowReading> {
    let obj = entry.as_object()?;
    let utilization = percent(obj.get("utilization")?)?;
    Some(WindowReading {
        utilization,
        resets_at: obj.get("resets_at").and_then(timestamp),
        severity: None,
    })
}

fn parse_limit(entry: &Value) -> Option<LimitReading> {
    let obj = entry.as_object()?;
    let kind = match obj.get("kind")?.as_str()? {
        "session" => LimitKind::Session,
        "weekly_all" => LimitKind::WeeklyAll,
        "weekly_scoped" => LimitKind::WeeklyScoped,
        _ => LimitKind::Other,
    };
    Some(LimitReading {
        kind,
        group: obj.get("group").and_then(label),
        percent: obj
            .get("percent")
            .and_then(|v| percent(v).filter(|p| *p <= 100.0)),
        severity: obj.get("severity").and_then(severity),
        resets_at: obj.get("resets_at").and_then(timestamp),
        scope: obj.get("scope").and_then(label),
        is_active: obj.get("is_active").and_then(Value::as_bool),
    })
}

fn parse_extra(obj: &Map<String, Value>) -> ExtraUsage {
    ExtraUsage {
        is_enabled: obj.get("is_enabled").and_then(Value::as_bool),
        monthly_limit_minor: obj.get("monthly_limit").and_then(minor_units),
        used_credits_minor: obj.get("used_credits").and_then(minor_units),
        utilization: obj.get("utilization").and_then(percent),
        currency: obj
            .get("currency")
            .and_then(Value::as_str)
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
            .map(str::to_owned),
    }
}

/// The window a `limits[]` entry describes, when its kind allows one.
fn window_for(limit: &LimitReading) -> Option<&'static str> {
    match limit.kind {
        LimitKind::Session => Some("five_hour"),
        LimitKind::WeeklyAll => Some("seven_day"),
        LimitKind::WeeklyScoped => {
            let names = [limit.group.as_deref(), limit.scope.as_deref()];
            let mentions = |model: &str| {
                names
                    .iter()
                    .flatten()
                    .any(|n| n.to_ascii_lowercase().contains(model))
            };
            if mentions("sonnet") {
                Some("seven_day_sonnet")
            } else if mentions("opus") {
                Some("seven_day_opus")
            } else {
                None
            }
        }
        LimitKind::Other => None,
    }
}

/// Carries each limit's severity onto its window (the highest wins), and fills a window the
/// top-level keys lack from the limit's percent and reset.
fn apply_limits(windows: &mut BTreeMap<String, WindowReading>, limits: &[LimitReading]) {
    for limit in limits {
        let Some(name) = window_for(limit) else {
            continue;
        };
        match windows.get_mut(name) {
            Some(window) => {
                if limit.severity > window.severity {
                    window.severity = limit.severity;
                }
                if window.resets_at.is_none() {
                    window.resets_at = limit.resets_at;
                }
            }
            None => {
                if let Some(utilization) = limit.percent {
                    windows.insert(
                        name.to_owned(),
                        WindowReading {
                            utilization,
                            resets_at: limit.resets_at,
                            severity: limit.severity,
                        },
                    );
                }
            }
        }
    }
}

/// A finite, non-negative number no larger than [`MAX_UTILIZATION`], taken as is.
fn percent(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .filter(|p| p.is_finite() && *p >= 0.0 && *p <= MAX_UTILIZATION)
}

/// An RFC 3339 string of bounded length, in UTC (the caller checks it is plausible).
fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?;
    if text.len() > MAX_TIMESTAMP_LEN {
        return None;
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn severity(value: &Value) -> Option<Severity> {
    match value.as_str()? {
        "normal" => Some(Severity::Normal),
        "warning" => Some(Severity::Warning),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

/// A short plain label: `[A-Za-z0-9_.:-]`, at most 48 bytes, nothing token-like.
fn label(value: &Value) -> Option<String> {
    let text = value.as_str()?;
    let plain = !text.is_empty()
        && text.len() <= MAX_LABEL_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        && !text.to_ascii_lowercase().contains("sk-ant");
    plain.then(|| text.to_owned())
}

/// A non-negative amount in minor units: an integer, or a float with no fraction.
fn minor_units(value: &Value) -> Option<i64> {
    let amount = if let Some(int) = value.as_i64() {
        int
    } else {
        let float = value.as_f64()?;
        if !float.is_finite() || float.fract() != 0.0 || float.abs() > 1e15 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        let int = float as i64;
        int
    };
    (0..=MAX_MINOR_UNITS).contains(&amount).then_some(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        // Shortly before the resets in the answers below.
        DateTime::from_timestamp(1_788_465_600, 0).expect("valid")
    }

    #[test]
    fn parses_typical_answer() {
        let body = br#"{"five_hour":{"utilization":24.0,"resets_at":"2026-09-03T22:30:00.134085+00:00"},
 "seven_day":{"utilization":83.0,"resets_at":"2026-09-04T12:00:00.134101+00:00"},
 "seven_day_oauth_apps":null,"seven_day_opus":null,
 "seven_day_sonnet":{"utilization":35.0,"resets_at":"2026-09-04T16:00:00.364265+02:00"},
 "iguana_necktie":null,
 "extra_usage":{"is_enabled":true,"monthly_limit":5000,"used_credits":1234.0,"utilization":24.68,"currency":"USD"}}"#;
        let reading = parse_usage(body, at()).expect("parses");
        assert_eq!(reading.fetched_at, at());
        let keys: Vec<&str> = reading.windows.keys().map(String::as_str).collect();
        assert_eq!(keys, ["five_hour", "seven_day", "seven_day_sonnet"]);
        let sonnet = &reading.windows["seven_day_sonnet"];
        assert!((sonnet.utilization - 35.0).abs() < f64::EPSILON);
        assert_eq!(
            sonnet.resets_at.map(|t| t.to_rfc3339()),
            Some("2026-09-04T14:00:00.364265+00:00".to_owned())
        );
        let extra = reading.extra_usage.expect("extra usage");
        assert_eq!(extra.monthly_limit_minor, Some(5000));
        assert_eq!(extra.used_credits_minor, Some(1234));
        assert_eq!(extra.currency.as_deref(), Some("USD"));
        assert_eq!(extra.is_enabled, Some(true));
    }

    #[test]
    fn small_values_are_not_rescaled() {
        let body = br#"{"five_hour":{"utilization":0.5,"resets_at":null},"seven_day":{"utilization":1.0}}"#;
        let reading = parse_usage(body, at()).expect("parses");
        assert_eq!(
            reading.windows["five_hour"].utilization.to_bits(),
            0.5f64.to_bits()
        );
        assert_eq!(
            reading.windows["seven_day"].utilization.to_bits(),
            1.0f64.to_bits()
        );
        assert_eq!(reading.windows["five_hour"].resets_at, None);
    }

    #[test]
    fn refuses_bad_values_per_window() {
        let body = br#"{"five_hour":{"utilization":-1},"seven_day":{"utilization":1000.5},
            "seven_day_opus":{"utilization":"50"},"seven_day_sonnet":{"utilization":101.5,
            "resets_at":"tomorrow"},"seven_day_Bad":{"utilization":1},"seven_day_":{"utilization":1}}"#;
        let reading = parse_usage(body, at()).expect("one window survives");
        let keys: Vec<&str> = reading.windows.keys().map(String::as_str).collect();
        assert_eq!(keys, ["seven_day_sonnet"]);
        assert_eq!(reading.windows["seven_day_sonnet"].resets_at, None);
    }

    #[test]
    fn long_timestamps_are_refused() {
        let long = format!("2026-09-04T16:00:00.{}+00:00", "1".repeat(60));
        let body = format!(r#"{{"five_hour":{{"utilization":2,"resets_at":"{long}"}}}}"#);
        let reading = parse_usage(body.as_bytes(), at()).expect("parses");
        assert_eq!(reading.windows["five_hour"].resets_at, None);
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            parse_usage(b"{", at()),
            Err(ParseError::NotJson { .. })
        ));
        assert_eq!(parse_usage(b"[1]", at()), Err(ParseError::NotObject));
        assert_eq!(parse_usage(b"null", at()), Err(ParseError::NotObject));
        assert_eq!(parse_usage(b"{}", at()), Err(ParseError::NoWindow));
        assert_eq!(
            parse_usage(
                br#"{"five_hour":null,"extra_usage":{"is_enabled":false}}"#,
                at()
            ),
            Err(ParseError::NoWindow)
        );
    }

    #[test]
    fn limits_map_severity_and_fill_windows() {
        let body = br#"{"five_hour":{"utilization":40},
          "limits":[
            {"kind":"session","percent":40,"severity":"warning","is_active":false},
            {"kind":"weekly_all","percent":97,"severity":"critical","resets_at":"2026-09-04T12:00:00Z","is_active":true},
            {"kind":"weekly_scoped","group":"opus","percent":12,"severity":"normal"},
            {"kind":"weekly_scoped","group":"sk-ant-oat01-FAKE","scope":"x","percent":5},
            {"kind":"mystery","percent":250},
            {"percent":3}
          ]}"#;
        let reading = parse_usage(body, at()).expect("parses");
        assert_eq!(reading.limits.len(), 5);
        assert_eq!(
            reading.windows["five_hour"].severity,
            Some(Severity::Warning)
        );
        let weekly = &reading.windows["seven_day"];
        assert!((weekly.utilization - 97.0).abs() < f64::EPSILON);
        assert_eq!(weekly.severity, Some(Severity::Critical));
        assert!(weekly.resets_at.is_some());
        assert_eq!(
            reading.windows["seven_day_opus"].severity,
            Some(Severity::Normal)
        );
        assert!(!reading.windows.contains_key("seven_day_sonnet"));
        assert_eq!(reading.limits[3].group, None);
        assert_eq!(reading.limits[4].kind, LimitKind::Other);
        assert_eq!(reading.limits[4].percent, None);
        assert_eq!(reading.limits[1].is_active, Some(true));
    }

    #[test]
    fn extra_usage_amounts_stay_integers() {
        let body = br#"{"five_hour":{"utilization":1},
          "extra_usage":{"is_enabled":true,"monthly_limit":12.5,"used_credits":-3,"currency":"usd"}}"#;
        let extra = parse_usage(body, at())
            .expect("parses")
            .extra_usage
            .expect("extra");
        assert_eq!(extra.monthly_limit_minor, None);
        assert_eq!(extra.used_credits_minor, None);
        assert_eq!(extra.currency, None);
    }

    #[test]
    fn reading_round_trips_through_json() {
        let body = br#"{"five_hour":{"utilization":0.5,"resets_at":"2026-09-03T22:30:00Z"},
          "limits":[{"kind":"session","severity":"warning"}]}"#;
        let reading = parse_usage(body, at()).expect("parses");
        let text = serde_json::to_string(&reading).expect("serializes");
        let back: UsageReading = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, reading);
    }

    /// A percentage written with more digits than an `f64` holds reads back exactly from the
    /// reading as stored (found by the `usage_answer` fuzz target: serde_json's default float
    /// parsing could land one unit in the last place away on the long form or on the short
    /// one it writes back).
    #[test]
    fn long_percentages_round_trip_through_json() {
        let long = format!("97.7{}4", "8".repeat(80));
        for text in [
            long.as_str(),
            "97.78888888888889",
            "0.1",
            "24.68",
            "99.99999999999999",
        ] {
            let body = format!(r#"{{"seven_day":{{"utilization":{text}}}}}"#);
            let reading = parse_usage(body.as_bytes(), at()).expect("parses");
            assert_eq!(
                reading.windows["seven_day"].utilization,
                text.parse::<f64>().expect("a number"),
                "{text}"
            );
            let stored = serde_json::to_string(&reading).expect("serializes");
            let back: UsageReading = serde_json::from_str(&stored).expect("deserializes");
            assert_eq!(back, reading, "{text}");
        }
    }

    #[test]
    fn implausible_reset_times_are_dropped() {
        let body = br#"{"five_hour":{"utilization":5.0,"resets_at":"9999-12-31T23:59:59Z"},
            "seven_day":{"utilization":9.0,"resets_at":"2020-01-01T00:00:00Z"},
            "seven_day_opus":{"utilization":1.0,"resets_at":"2026-09-10T20:00:00+00:00"},
            "seven_day_sonnet":{"utilization":2.0,"resets_at":"2026-09-10T21:00:01+00:00"}}"#;
        let at = DateTime::from_timestamp(1_788_465_600, 0).expect("valid"); // 2026-09-03T20:00Z
        let reading = parse_usage(body, at).expect("reading");
        assert_eq!(reading.windows["five_hour"].resets_at, None, "far future");
        assert_eq!(reading.windows["seven_day"].resets_at, None, "long past");
        assert!(
            reading.windows["seven_day_opus"].resets_at.is_some(),
            "7 days ahead"
        );
        assert_eq!(
            reading.windows["seven_day_sonnet"].resets_at, None,
            "past 7 d + 1 h"
        );
        assert_eq!(
            reading.windows["five_hour"].utilization, 5.0,
            "the window itself stays"
        );
    }
}
