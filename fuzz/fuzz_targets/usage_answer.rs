//! Arbitrary bytes as the body of `GET /api/oauth/usage`, through `parse_usage`.
//!
//! Checked on every input: no panic; every utilization and percent kept is finite and within
//! `0..=MAX_UTILIZATION`; every string kept (window names, groups, scopes, currency) is short
//! and holds no `sk-ant`; amounts stay within bounds; the error message never quotes the body;
//! a reading survives a JSON round trip (it is what the state directory stores).

#![no_main]

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use oauth_usage::{MAX_UTILIZATION, UsageReading, parse_usage};

fn check_percent(value: f64) {
    assert!(
        value.is_finite() && (0.0..=MAX_UTILIZATION).contains(&value),
        "{value}"
    );
}

fn check_text(text: &str) {
    assert!(!text.is_empty() && text.len() <= 48, "{text:?}");
    assert!(text.is_ascii(), "{text:?}");
    assert!(!text.to_ascii_lowercase().contains("sk-ant"), "{text:?}");
}

fn check_reading(reading: &UsageReading) {
    assert!(!reading.windows.is_empty() || !reading.limits.is_empty());
    assert!(reading.windows.len() <= 32 + 4 && reading.limits.len() <= 32);
    for (name, window) in &reading.windows {
        check_text(name);
        assert!(
            name == "five_hour" || name.starts_with("seven_day"),
            "{name}"
        );
        check_percent(window.utilization);
    }
    for limit in &reading.limits {
        limit.percent.inspect(|p| check_percent(*p));
        limit.group.as_deref().inspect(|t| check_text(t));
        limit.scope.as_deref().inspect(|t| check_text(t));
    }
    if let Some(extra) = &reading.extra_usage {
        extra.utilization.inspect(|p| check_percent(*p));
        for amount in [extra.monthly_limit_minor, extra.used_credits_minor]
            .into_iter()
            .flatten()
        {
            assert!((0..=1_000_000_000_000).contains(&amount), "{amount}");
        }
        if let Some(currency) = &extra.currency {
            assert!(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()));
        }
    }
    assert_eq!(reading.subscription_type, None);
    assert_eq!(reading.rate_limit_tier, None);
    let stored = serde_json::to_string(reading).expect("a reading serializes");
    assert!(!stored.contains("sk-ant"), "{stored}");
    let back: UsageReading = serde_json::from_str(&stored).expect("a stored reading reads back");
    assert_eq!(&back, reading);
}

fuzz_target!(|body: &[u8]| {
    let fetched_at = DateTime::from_timestamp(1_790_000_000, 0).expect("valid time");
    match parse_usage(body, fetched_at) {
        Ok(reading) => {
            assert_eq!(reading.fetched_at, fetched_at);
            check_reading(&reading);
        }
        Err(err) => {
            let message = err.to_string();
            assert!(
                message.len() < 100 && !message.contains("sk-ant"),
                "{message}"
            );
        }
    }
});
