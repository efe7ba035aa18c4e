//! Daily totals of `aggregate` and ccusage side by side with the generator's truth.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde_json::Value;

use super::corpus::{DayCounts, Tokens, Truth};

/// Per-day tokens read from a report.
pub(crate) type Days = BTreeMap<String, Tokens>;

fn field(entry: &Value, key: &str) -> Result<u64> {
    entry
        .get(key)
        .and_then(Value::as_u64)
        .with_context(|| format!("daily entry without a whole-number {key}"))
}

/// The `daily` array of either report: both name the fields `inputTokens`, `outputTokens`,
/// `cacheCreationTokens`, `cacheReadTokens`. Returns the days and, where present, the
/// `messages` count per day.
pub(crate) fn read_daily(text: &str) -> Result<(Days, BTreeMap<String, u64>)> {
    let json: Value = serde_json::from_str(text).context("parsing the report")?;
    let daily = json
        .get("daily")
        .and_then(Value::as_array)
        .context("the report has no daily array")?;
    let mut days = Days::new();
    let mut messages = BTreeMap::new();
    for entry in daily {
        let date = entry
            .get("date")
            .and_then(Value::as_str)
            .context("daily entry without a date")?
            .to_owned();
        let tokens = Tokens {
            input: field(entry, "inputTokens")?,
            output: field(entry, "outputTokens")?,
            cache_creation: field(entry, "cacheCreationTokens")?,
            cache_read: field(entry, "cacheReadTokens")?,
        };
        if let Some(m) = entry.get("messages").and_then(Value::as_u64) {
            messages.insert(date.clone(), m);
        }
        days.entry(date).or_default().add(&tokens);
    }
    Ok((days, messages))
}

/// The truth's days (tokens only), plus `extra` (appended responses).
pub(crate) fn truth_days(truth: &Truth, extra: &BTreeMap<String, DayCounts>) -> Days {
    let mut days: Days = truth
        .days
        .iter()
        .map(|(d, c)| (d.clone(), c.tokens))
        .collect();
    for (d, c) in extra {
        days.entry(d.clone()).or_default().add(&c.tokens);
    }
    days
}

/// Days on which `a` and `b` differ: (date, a, b), zero where a side has no entry.
pub(crate) fn differences(a: &Days, b: &Days) -> Vec<(String, Tokens, Tokens)> {
    let dates: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    dates
        .into_iter()
        .filter_map(|d| {
            let x = a.get(d).copied().unwrap_or_default();
            let y = b.get(d).copied().unwrap_or_default();
            (x != y).then(|| (d.clone(), x, y))
        })
        .collect()
}

fn sum(days: &Days) -> Tokens {
    let mut t = Tokens::default();
    for d in days.values() {
        t.add(d);
    }
    t
}

fn signed(a: u64, b: u64) -> String {
    if b >= a {
        format!("+{}", b - a)
    } else {
        format!("-{}", a - b)
    }
}

fn delta(a: &Tokens, b: &Tokens) -> String {
    format!(
        "input {}, output {}, cache write {}, cache read {}",
        signed(a.input, b.input),
        signed(a.output, b.output),
        signed(a.cache_creation, b.cache_creation),
        signed(a.cache_read, b.cache_read)
    )
}

/// One comparison, as report lines: equal, or each differing day and the total difference.
pub(crate) fn compare(label: &str, reference: &Days, other: &Days, out: &mut String) -> bool {
    let diffs = differences(reference, other);
    if diffs.is_empty() {
        let _ = writeln!(
            out,
            "- {label}: equal on all {} days, to the token.",
            reference.len()
        );
        return true;
    }
    let _ = writeln!(
        out,
        "- {label}: {} of {} days differ; total difference {}.",
        diffs.len(),
        reference.len().max(other.len()),
        delta(&sum(reference), &sum(other))
    );
    for (date, a, b) in diffs.iter().take(12) {
        let _ = writeln!(out, "  - {date}: {}", delta(a, b));
    }
    if diffs.len() > 12 {
        let _ = writeln!(out, "  - ... and {} more days", diffs.len() - 12);
    }
    false
}

/// The parity section: aggregate against the truth, ccusage against aggregate, and ccusage
/// against the model of its own rules. Returns (text, aggregate equals truth).
pub(crate) fn report(
    truth: &Truth,
    aggregate: &Days,
    aggregate_messages: &BTreeMap<String, u64>,
    ccusage: Option<&Days>,
) -> (String, bool) {
    let mut out = String::new();
    let expected = truth_days(truth, &BTreeMap::new());
    let ok = compare(
        "aggregate vs the generator's truth (each response once)",
        &expected,
        aggregate,
        &mut out,
    );
    let truth_messages: BTreeMap<String, u64> = truth
        .days
        .iter()
        .map(|(d, c)| (d.clone(), c.responses))
        .collect();
    let messages_ok = &truth_messages == aggregate_messages;
    let _ = writeln!(
        out,
        "- aggregate responses per day vs the truth: {} ({} responses in all).",
        if messages_ok { "equal" } else { "DIFFERENT" },
        truth.responses
    );
    if let Some(ccusage) = ccusage {
        compare("ccusage vs aggregate", aggregate, ccusage, &mut out);
        let model_ok = compare(
            "ccusage vs the model of ccusage 20.0.24's rules (truth plus the excess below)",
            &truth.ccusage_days,
            ccusage,
            &mut out,
        );
        let _ = writeln!(
            out,
            "- ccusage's excess, by cause ({} of {} responses have no requestId):",
            truth.no_request_responses, truth.responses
        );
        let _ = writeln!(
            out,
            "  - content-block lines of one response without requestId (each line has its own \
             timestamp, ccusage counts each, partial counts included): {}",
            delta(&Tokens::default(), &truth.excess_split)
        );
        let _ = writeln!(
            out,
            "  - resumed-session copies (new sessionId) of responses without requestId: {}",
            delta(&Tokens::default(), &truth.excess_resumed)
        );
        if model_ok {
            let _ = writeln!(
                out,
                "- every difference between ccusage and aggregate is explained by these two causes."
            );
        }
    } else {
        let _ = writeln!(out, "- ccusage: not installed, no comparison.");
    }
    (out, ok && messages_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_shapes_and_lists_differences() {
        let aggregate = r#"{"daily":[{"date":"2026-01-02","inputTokens":1,"outputTokens":2,
            "cacheCreationTokens":3,"cacheReadTokens":4,"totalTokens":10,"costUsd":0.1,
            "messages":1,"models":[]}]}"#;
        let ccusage = r#"{"daily":[{"date":"2026-01-02","inputTokens":1,"outputTokens":5,
            "cacheCreationTokens":3,"cacheReadTokens":4,"modelBreakdowns":[]},
            {"date":"2026-01-03","inputTokens":1,"outputTokens":1,"cacheCreationTokens":0,
            "cacheReadTokens":0}],"totals":{}}"#;
        let (a, messages) = read_daily(aggregate).unwrap();
        let (c, none) = read_daily(ccusage).unwrap();
        assert_eq!(messages.get("2026-01-02"), Some(&1));
        assert!(none.is_empty());
        let diffs = differences(&a, &c);
        assert_eq!(diffs.len(), 2);
        assert_eq!(diffs[0].2.output, 5);
        assert_eq!(diffs[1].1, Tokens::default());
        let mut text = String::new();
        assert!(!compare("x", &a, &c, &mut text));
        assert!(text.contains("output +4"), "{text}");
        assert!(compare("y", &a, &a, &mut String::new()));
        assert!(read_daily("{}").is_err());
    }
}
