use std::sync::Arc;

use chrono::TimeDelta;
use chrono_tz::Tz;
use claude_logs::TokenCounts;
use proptest::prelude::*;

use super::*;
use crate::window::Source;
use claude_logs::Speed;

const SONNET: &str = "claude-sonnet-4-5-20250929";
const OPUS: &str = "claude-opus-4-6";
const HAIKU: &str = "claude-haiku-4-5-20251001";
const UNPRICED: &str = "glm-4.6";
const M: u64 = 1_000_000;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn now() -> DateTime<Utc> {
    at("2026-03-10T12:00:00Z")
}

fn event(timestamp: DateTime<Utc>, model: &str, input: u64, output: u64) -> UsageEvent {
    UsageEvent {
        timestamp,
        model: Arc::from(model),
        tokens: TokenCounts {
            input,
            output,
            ..TokenCounts::default()
        },
        speed: Speed::Standard,
        project: Some(Arc::from("/home/me/app")),
        session_id: Some(Arc::from("958555ae-0000-4000-8000-000000000001")),
    }
}

fn in_project(mut event: UsageEvent, project: Option<&str>) -> UsageEvent {
    event.project = project.map(Arc::from);
    event
}

fn run(events: &[UsageEvent], now: DateTime<Utc>, timezone: Tz, plan: Plan) -> Assembly {
    let prices = PriceTable::builtin();
    assemble(&AssemblyInput::new(events, now, timezone, plan, &prices))
}

fn window(assembly: &Assembly, id: WindowId) -> &Window {
    assembly.window(id).unwrap()
}

#[track_caller]
fn assert_close(got: f64, expected: f64) {
    assert!(
        (got - expected).abs() < 1e-9,
        "got {got}, expected {expected}"
    );
}

/// The calendar day of one event at `t` in `timezone`.
#[track_caller]
fn check_day(timezone: Tz, t: &str, expected: &str) {
    let now = at("2027-01-01T00:00:00Z");
    let assembly = run(&[event(at(t), SONNET, 1, 1)], now, timezone, Plan::Pro);
    let dates: Vec<String> = assembly.daily.iter().map(|d| d.date.to_string()).collect();
    assert_eq!(dates, [expected], "{t} in {timezone}");
}

#[test]
fn calendar_days_follow_the_time_zone() {
    use chrono_tz::America::New_York;
    use chrono_tz::Asia::Kolkata;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::Pacific::Kiritimati;
    use chrono_tz::UTC;
    check_day(UTC, "2026-03-10T23:30:00Z", "2026-03-10");
    check_day(Berlin, "2026-03-10T23:30:00Z", "2026-03-11");
    check_day(Berlin, "2026-03-10T22:59:59Z", "2026-03-10");
    check_day(Berlin, "2026-03-10T23:00:00Z", "2026-03-11");
    check_day(Kolkata, "2026-03-09T18:29:59Z", "2026-03-09");
    check_day(Kolkata, "2026-03-09T18:30:00Z", "2026-03-10");
    check_day(Kiritimati, "2026-03-09T10:00:00Z", "2026-03-10");
    // New York springs forward on 2026-03-08 (02:00 EST becomes 03:00 EDT).
    check_day(New_York, "2026-03-08T04:59:59Z", "2026-03-07");
    check_day(New_York, "2026-03-08T05:00:00Z", "2026-03-08");
    check_day(New_York, "2026-03-08T07:00:00Z", "2026-03-08");
    check_day(New_York, "2026-03-09T03:59:59Z", "2026-03-08");
    check_day(New_York, "2026-03-09T04:00:00Z", "2026-03-09");
    // ... and falls back on 2025-11-02 (02:00 EDT becomes 01:00 EST).
    check_day(New_York, "2025-11-02T03:59:59Z", "2025-11-01");
    check_day(New_York, "2025-11-02T05:30:00Z", "2025-11-02");
    check_day(New_York, "2025-11-02T06:30:00Z", "2025-11-02");
    check_day(New_York, "2025-11-03T04:59:59Z", "2025-11-02");
    check_day(New_York, "2025-11-03T05:00:00Z", "2025-11-03");
}

#[test]
fn a_dst_day_is_one_day() {
    use chrono_tz::America::New_York;
    // The 23-hour day of 2026-03-08 in New York, from its first to its last second.
    let events = [
        event(at("2026-03-08T05:00:00Z"), HAIKU, M, 0),
        event(at("2026-03-08T06:59:59Z"), HAIKU, M, 0),
        event(at("2026-03-08T07:00:00Z"), OPUS, M, 0),
        event(at("2026-03-09T03:59:59Z"), HAIKU, M, 0),
        event(at("2026-03-09T04:00:00Z"), HAIKU, M, 0),
    ];
    let assembly = run(&events, now(), New_York, Plan::Pro);
    let days: Vec<(String, u64)> = assembly
        .daily
        .iter()
        .map(|d| (d.date.to_string(), d.counts.messages))
        .collect();
    assert_eq!(
        days,
        [("2026-03-08".to_owned(), 4), ("2026-03-09".to_owned(), 1)]
    );
    let first = &assembly.daily[0];
    assert_close(first.counts.cost_usd, 3.0 * 1.0 + 5.0);
    let models: Vec<(&str, u64)> = first
        .models
        .iter()
        .map(|(m, c)| (m.as_str(), c.messages))
        .collect();
    assert_eq!(models, [(HAIKU, 3), (OPUS, 1)]);
}

/// One event at `now + offset`: whether the seven-day windows include it, and whether it is
/// counted at all.
#[track_caller]
fn check_week(offset: TimeDelta, in_week: bool, counted: bool) {
    let events = [event(now() + offset, OPUS, M, 0)];
    let assembly = run(&events, now(), chrono_tz::UTC, Plan::Max5);
    let week = u64::from(in_week);
    assert_eq!(
        window(&assembly, WindowId::SevenDay).counts.messages,
        week,
        "{offset}"
    );
    assert_eq!(
        window(&assembly, WindowId::SevenDayOpus).counts.messages,
        week,
        "{offset}"
    );
    assert_eq!(assembly.totals.messages, u64::from(counted), "{offset}");
    assert_eq!(assembly.events_after_now, u64::from(!counted), "{offset}");
}

#[test]
fn seven_day_boundaries() {
    let ms = TimeDelta::milliseconds;
    check_week(-TimeDelta::days(8), false, true);
    check_week(-TimeDelta::days(7), false, true);
    check_week(-TimeDelta::days(7) + ms(1), true, true);
    check_week(-TimeDelta::days(3), true, true);
    check_week(TimeDelta::zero(), true, true);
    check_week(ms(1), false, false);
    check_week(TimeDelta::days(1), false, false);
}

#[test]
fn events_after_now_are_left_out_of_every_figure() {
    let later = now() + TimeDelta::minutes(1);
    let events = [
        event(now() - TimeDelta::minutes(10), SONNET, M, 0),
        event(later, OPUS, M, M),
        event(later, UNPRICED, M, M),
        in_project(event(later, SONNET, M, M), Some("/home/me/other")),
    ];
    let assembly = run(&events, now(), chrono_tz::UTC, Plan::Pro);
    let only = run(&events[..1], now(), chrono_tz::UTC, Plan::Pro);
    assert_eq!(assembly.events_after_now, 3);
    assert_eq!(
        Assembly {
            events_after_now: 0,
            ..assembly
        },
        only
    );
    assert_eq!(only.totals.messages, 1);
    assert!(only.unpriced.is_empty());
}

#[test]
fn active_five_hour_block() {
    let events = [
        event(at("2026-03-10T02:10:00Z"), HAIKU, M, 0),
        event(at("2026-03-10T09:20:00Z"), HAIKU, M, 0),
        event(at("2026-03-10T11:45:00Z"), OPUS, 0, M),
    ];
    let assembly = run(&events, now(), chrono_tz::UTC, Plan::Pro);
    let five = window(&assembly, WindowId::FiveHour);
    assert_eq!(five.counts.messages, 2);
    assert_close(five.used, 1.0 + 25.0);
    assert_eq!(five.cap, Some(18.0));
    assert_eq!(five.pct, Some(144.4));
    assert_eq!(five.source, Source::Estimate);
    assert_eq!(five.resets_at, Some(at("2026-03-10T14:00:00Z")));
    assert_eq!(
        assembly.legacy,
        LegacyFigures {
            pct_used: Some(144.4),
            messages_used: 2,
            message_cap: Some(45),
        }
    );
    let week = window(&assembly, WindowId::SevenDay);
    assert_eq!(week.counts.messages, 3);
    assert_close(week.used, 27.0);
    assert_eq!(week.cap, Some(180.0));
    assert_eq!(week.pct, Some(15.0));
    assert_eq!(week.resets_at, None);
}

#[test]
fn idle_five_hour_block() {
    let events = [
        event(at("2026-03-10T09:20:00Z"), HAIKU, M, 0),
        event(at("2026-03-10T11:45:00Z"), OPUS, 0, M),
    ];
    // Now past the block end (14:00), though the last entry is less than five hours ago.
    let assembly = run(
        &events,
        at("2026-03-10T14:00:00Z"),
        chrono_tz::UTC,
        Plan::Max20,
    );
    let five = window(&assembly, WindowId::FiveHour);
    assert_eq!(five.counts, Counts::default());
    assert_eq!(
        (five.used, five.pct, five.resets_at),
        (0.0, Some(0.0), None)
    );
    assert_eq!(
        assembly.legacy,
        LegacyFigures {
            pct_used: Some(0.0),
            messages_used: 0,
            message_cap: Some(900),
        }
    );
    assert_eq!(window(&assembly, WindowId::SevenDay).counts.messages, 2);
    // No events at all: every window empty, all four still there.
    let empty = run(&[], now(), chrono_tz::UTC, Plan::Max20);
    let ids: Vec<&str> = empty.windows.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "five_hour",
            "seven_day",
            "seven_day_sonnet",
            "seven_day_opus"
        ]
    );
    assert!(
        empty
            .windows
            .iter()
            .all(|w| w.counts.is_empty() && w.pct == Some(0.0))
    );
    assert!(empty.daily.is_empty() && empty.models.is_empty() && empty.projects.is_empty());
    assert!(empty.family_breakdown.is_empty());
}

/// Haiku events (1M input, $1 each) at `entries`: the five-hour window's responses and reset
/// time at `now`.
#[track_caller]
fn check_five(entries: &[&str], now: &str, messages: u64, resets_at: Option<&str>) {
    let events: Vec<UsageEvent> = entries.iter().map(|t| event(at(t), HAIKU, M, 0)).collect();
    let assembly = run(&events, at(now), chrono_tz::UTC, Plan::Pro);
    let five = window(&assembly, WindowId::FiveHour);
    let got = (
        five.counts.messages,
        five.resets_at,
        assembly.legacy.messages_used,
    );
    assert_eq!(
        got,
        (messages, resets_at.map(at), messages),
        "{entries:?} at {now}"
    );
    assert_close(five.used, messages as f64);
    assert_eq!(
        five.pct,
        Some((messages as f64 / 18.0 * 1000.0).round() / 10.0)
    );
}

#[test]
#[rustfmt::skip]
fn five_hour_window_edges() {
    let h10 = "2026-03-10T10:00:00Z";
    let end = Some("2026-03-10T15:00:00Z");
    check_five(&[h10], "2026-03-10T14:59:00Z", 1, end);
    check_five(&[h10], "2026-03-10T15:00:00Z", 0, None);
    check_five(&["2026-03-10T10:59:00Z"], "2026-03-10T14:59:59Z", 1, end);
    check_five(&["2026-03-10T10:59:00Z"], "2026-03-10T15:00:00Z", 0, None);
    check_five(&[h10, "2026-03-10T12:00:00Z", "2026-03-10T14:00:00Z"], "2026-03-10T14:30:00Z", 3, end);
    // More than five hours after the block start: a new block, which holds only the new event.
    check_five(&[h10, "2026-03-10T14:00:00Z", "2026-03-10T15:00:00.001Z"], "2026-03-10T15:10:00Z", 1, Some("2026-03-10T20:00:00Z"));
    // A gap of more than five hours.
    check_five(&["2026-03-10T01:30:00Z", "2026-03-10T06:40:00Z"], "2026-03-10T07:00:00Z", 1, Some("2026-03-10T11:00:00Z"));
    // Events after now do not open or extend a block.
    check_five(&[h10, "2026-03-10T16:00:00Z"], "2026-03-10T15:30:00Z", 0, None);
    check_five(&[h10, "2026-03-10T11:00:00Z"], "2026-03-10T10:30:00Z", 1, end);
    check_five(&[], "2026-03-10T10:30:00Z", 0, None);
}

#[test]
fn unknown_plan_has_no_caps() {
    let events = [event(now() - TimeDelta::hours(1), OPUS, M, M)];
    let assembly = run(&events, now(), chrono_tz::UTC, Plan::Unknown);
    for w in &assembly.windows {
        assert_eq!((w.cap, w.pct), (None, None), "{}", w.id.as_str());
    }
    assert_close(window(&assembly, WindowId::FiveHour).used, 30.0);
    assert_eq!(
        assembly.legacy,
        LegacyFigures {
            pct_used: None,
            messages_used: 1,
            message_cap: None,
        }
    );
    assert_eq!(assembly.plan, Plan::Unknown);
}

#[test]
fn family_windows_and_breakdown() {
    let recent = now() - TimeDelta::days(2);
    let old = now() - TimeDelta::days(9);
    // 1M input tokens of Sonnet 4.5 is long context: $6.
    let events = [
        event(recent, SONNET, M, 0),
        event(recent, "claude-3-7-sonnet-20250219", M, 0),
        event(recent, OPUS, M, 0),
        event(recent, HAIKU, M, 0),
        event(recent, UNPRICED, M, 0),
        event(old, OPUS, M, 0),
        event(old, "claude-3-opus-20240229", M, 0),
    ];
    let assembly = run(&events, now(), chrono_tz::UTC, Plan::Max5);
    let summary = |id: WindowId| {
        let w = window(&assembly, id);
        (w.counts.messages, w.used, w.cap, w.pct)
    };
    assert_eq!(
        summary(WindowId::SevenDay),
        (5, 15.0, Some(350.0), Some(4.3))
    );
    assert_eq!(
        summary(WindowId::SevenDaySonnet),
        (2, 9.0, Some(350.0), Some(2.6))
    );
    assert_eq!(
        summary(WindowId::SevenDayOpus),
        (1, 5.0, Some(350.0), Some(1.4))
    );
    let breakdown: Vec<(Family, u64, f64)> = assembly
        .family_breakdown
        .iter()
        .map(|(f, c)| (*f, c.messages, c.cost_usd))
        .collect();
    assert_eq!(
        breakdown,
        [
            (Family::Opus, 1, 5.0),
            (Family::Sonnet, 2, 9.0),
            (Family::Haiku, 1, 1.0),
            (Family::Other, 1, 0.0),
        ]
    );
    assert_eq!(assembly.totals.messages, 7);
    assert_close(assembly.totals.cost_usd, 15.0 + 5.0 + 15.0);
}

#[test]
fn models_and_projects_most_expensive_first() {
    let t = now() - TimeDelta::hours(30);
    let events = [
        in_project(event(t, SONNET, 0, M / 5), Some("/home/me/b")),
        in_project(event(t, HAIKU, 3 * M, 0), Some("/home/me/a")),
        in_project(event(t, OPUS, M, 0), None),
        in_project(event(t, UNPRICED, M, M), Some("/home/me/c")),
        in_project(
            event(t, "claude-sonnet-4-20250514", 0, M / 5),
            Some("/home/me/a"),
        ),
    ];
    let assembly = run(&events, now(), chrono_tz::UTC, Plan::Pro);
    let models: Vec<(&str, f64)> = assembly
        .models
        .iter()
        .map(|(m, c)| (m.as_str(), c.cost_usd))
        .collect();
    assert_eq!(
        models,
        [
            (OPUS, 5.0),
            (HAIKU, 3.0),
            ("claude-sonnet-4-20250514", 3.0),
            (SONNET, 3.0),
            (UNPRICED, 0.0),
        ]
    );
    let projects: Vec<(&str, f64, u64)> = assembly
        .projects
        .iter()
        .map(|(p, c)| (p.as_str(), c.cost_usd, c.messages))
        .collect();
    assert_eq!(
        projects,
        [
            ("/home/me/a", 6.0, 2),
            (UNKNOWN_PROJECT, 5.0, 1),
            ("/home/me/b", 3.0, 1),
            ("/home/me/c", 0.0, 1),
        ]
    );
}

#[test]
fn unpriced_models_count_tokens_but_no_cost() {
    let t = now() - TimeDelta::minutes(30);
    let events = [
        event(t, UNPRICED, 100, 50),
        event(t, UNPRICED, 10, 5),
        event(t, "<synthetic>", 0, 0),
        event(t, "claude-opus-5", 1, 1),
        event(t, HAIKU, M, 0),
    ];
    let assembly = run(&events, now(), chrono_tz::UTC, Plan::Pro);
    assert_eq!(
        assembly.unpriced,
        [
            UnpricedModel {
                model: "<synthetic>".to_owned(),
                messages: 1,
                total_tokens: 0,
            },
            UnpricedModel {
                model: "claude-opus-5".to_owned(),
                messages: 1,
                total_tokens: 2,
            },
            UnpricedModel {
                model: UNPRICED.to_owned(),
                messages: 2,
                total_tokens: 165,
            },
        ]
    );
    assert_eq!(assembly.totals.messages, 5);
    assert_eq!(assembly.totals.total, M + 167);
    assert_close(assembly.totals.cost_usd, 1.0);
    let five = window(&assembly, WindowId::FiveHour);
    assert_eq!((five.counts.messages, five.counts.total), (5, M + 167));
    assert_close(five.used, 1.0);
    assert_eq!(assembly.legacy.messages_used, 5);
    assert_eq!(assembly.daily[0].counts.messages, 5);
}

#[test]
fn counts_sum_every_token_kind() {
    let tokens = TokenCounts {
        input: 10,
        output: 20,
        cache_creation: 30,
        cache_read: 40,
        cache_creation_5m: 10,
        cache_creation_1h: 20,
    };
    let mut first = event(now(), SONNET, 0, 0);
    first.tokens = tokens;
    let mut second = first.clone();
    second.speed = Speed::Fast;
    let assembly = run(&[first, second], now(), chrono_tz::UTC, Plan::Pro);
    let expected = (10.0 * 3.0 + 20.0 * 15.0 + 10.0 * 3.75 + 20.0 * 6.0 + 40.0 * 0.3) / 1e6;
    let totals = assembly.totals;
    assert_eq!(
        (
            totals.input,
            totals.output,
            totals.cache_creation,
            totals.cache_read
        ),
        (20, 40, 60, 80)
    );
    assert_eq!((totals.total, totals.messages), (200, 2));
    assert_close(totals.cost_usd, 2.0 * expected);
}

fn mixed_events() -> Vec<UsageEvent> {
    let mut long = event(at("2026-03-10T10:05:00Z"), SONNET, 150_000, 2_000);
    long.tokens.cache_read = 60_000;
    let mut fast = event(at("2026-03-10T11:00:00Z"), OPUS, 1_000, 4_000);
    fast.speed = Speed::Fast;
    let mut cached = event(
        at("2026-03-09T22:30:00Z"),
        "claude-opus-4-1-20250805",
        20,
        900,
    );
    cached.tokens.cache_creation = 40_000;
    cached.tokens.cache_creation_1h = 40_000;
    vec![
        event(
            at("2026-02-20T08:00:00Z"),
            "claude-3-5-haiku-20241022",
            5_000,
            800,
        ),
        in_project(event(at("2026-03-04T12:00:00Z"), SONNET, 1_000, 500), None),
        event(at("2026-03-06T09:15:00Z"), HAIKU, 3_000, 300),
        cached,
        event(at("2026-03-10T09:59:00Z"), UNPRICED, 700, 70),
        long,
        in_project(fast, Some("/home/me/other")),
        event(at("2026-03-10T12:30:00Z"), OPUS, 1, 1),
    ]
}

#[test]
fn whole_assembly_snapshot() {
    let assembly = run(
        &mixed_events(),
        now(),
        chrono_tz::Europe::Berlin,
        Plan::Max5,
    );
    insta::assert_debug_snapshot!(assembly);
}

#[test]
fn input_order_does_not_matter() {
    let events = mixed_events();
    let mut reversed = events.clone();
    reversed.reverse();
    let tz = chrono_tz::Asia::Tokyo;
    assert_eq!(
        run(&events, now(), tz, Plan::Pro),
        run(&reversed, now(), tz, Plan::Pro)
    );
}

/// Input in the reader's order is summed where it is, in one pass that checks the order; any
/// break in that order (two neighbours swapped, events of the same instant in the other order,
/// an event after `now` before earlier ones) sends it through the sort, with the same figures.
#[test]
fn input_almost_in_order_gives_the_same_figures() {
    let mut events = mixed_events();
    // Two events of one instant, told apart by their other fields only.
    let instant = now() - TimeDelta::minutes(3);
    events.push(event(instant, SONNET, 5, 1));
    events.push(event(instant, SONNET, 7, 1));
    events.sort_by(compare_events);
    let tz = chrono_tz::Asia::Tokyo;
    let expected = run(&events, now(), tz, Plan::Pro);
    for i in 0..events.len() - 1 {
        let mut swapped = events.clone();
        swapped.swap(i, i + 1);
        assert_eq!(run(&swapped, now(), tz, Plan::Pro), expected, "swap at {i}");
    }
    let later = event(now() + TimeDelta::minutes(1), OPUS, M, M);
    for i in 0..=events.len() {
        let mut with_later = events.clone();
        with_later.insert(i, later.clone());
        let got = run(&with_later, now(), tz, Plan::Pro);
        assert_eq!(
            got.events_after_now,
            expected.events_after_now + 1,
            "after-now event at {i}"
        );
        assert_eq!(
            Assembly {
                events_after_now: expected.events_after_now,
                ..got
            },
            expected,
            "after-now event at {i}"
        );
    }
}

const MODELS: &[&str] = &[
    SONNET,
    OPUS,
    HAIKU,
    "claude-3-opus-20240229",
    UNPRICED,
    "<synthetic>",
];
const PROJECTS: &[Option<&str>] = &[None, Some("/home/me/a"), Some("/home/me/b")];

fn arb_event() -> impl Strategy<Value = UsageEvent> {
    (
        -40 * 86_400_000_i64..86_400_000,
        0..MODELS.len(),
        0..PROJECTS.len(),
        (
            0..400_000_u64,
            0..50_000_u64,
            0..150_000_u64,
            0..150_000_u64,
        ),
        0..3_u8,
        any::<bool>(),
    )
        .prop_map(
            |(offset_ms, model, project, (input, output, cc, cr), split, fast)| {
                let mut e = in_project(
                    event(
                        now() + TimeDelta::milliseconds(offset_ms),
                        MODELS[model],
                        input,
                        output,
                    ),
                    PROJECTS[project],
                );
                e.tokens.cache_creation = cc;
                e.tokens.cache_read = cr;
                match split {
                    0 => {}
                    1 => e.tokens.cache_creation_1h = cc,
                    _ => {
                        e.tokens.cache_creation_5m = cc / 3;
                        e.tokens.cache_creation_1h = cc - cc / 3;
                    }
                }
                if fast {
                    e.speed = Speed::Fast;
                }
                e
            },
        )
}

fn sum<'a>(counts: impl IntoIterator<Item = &'a Counts>) -> Counts {
    let mut total = Counts::default();
    for c in counts {
        total.merge(c);
    }
    total
}

/// Equal token counts and messages, and costs equal up to rounding.
fn same(a: &Counts, b: &Counts) -> bool {
    let tokens = |c: &Counts| {
        (
            c.input,
            c.output,
            c.cache_creation,
            c.cache_read,
            c.total,
            c.messages,
        )
    };
    tokens(a) == tokens(b) && (a.cost_usd - b.cost_usd).abs() <= 1e-9 * a.cost_usd.abs().max(1.0)
}

proptest! {
    #[test]
    fn daily_models_and_projects_sum_to_totals(
        events in prop::collection::vec(arb_event(), 0..60),
        zone in 0..chrono_tz::TZ_VARIANTS.len(),
    ) {
        let tz = chrono_tz::TZ_VARIANTS[zone];
        let assembly = run(&events, now(), tz, Plan::Max20);
        let totals = assembly.totals;
        prop_assert!(same(&sum(assembly.daily.iter().map(|d| &d.counts)), &totals));
        prop_assert!(same(&sum(assembly.models.iter().map(|(_, c)| c)), &totals));
        prop_assert!(same(&sum(assembly.projects.iter().map(|(_, c)| c)), &totals));
        prop_assert_eq!(totals.total, totals.input + totals.output + totals.cache_creation + totals.cache_read);
        prop_assert_eq!(totals.messages + assembly.events_after_now, events.len() as u64);
        for day in &assembly.daily {
            prop_assert!(same(&sum(day.models.iter().map(|(_, c)| c)), &day.counts));
        }
        prop_assert!(assembly.daily.windows(2).all(|w| w[0].date < w[1].date));
        let week = &window(&assembly, WindowId::SevenDay).counts;
        prop_assert!(same(&sum(assembly.family_breakdown.iter().map(|(_, c)| c)), week));
        let five = &window(&assembly, WindowId::FiveHour).counts;
        prop_assert!(five.messages <= week.messages && week.messages <= totals.messages);
        let unpriced: u64 = assembly.unpriced.iter().map(|u| u.messages).sum();
        let priced: u64 = assembly.models.iter().filter(|(m, _)| PriceTable::builtin().lookup(m).is_some()).map(|(_, c)| c.messages).sum();
        prop_assert_eq!(unpriced + priced, totals.messages);
        let mut reversed = events.clone();
        reversed.reverse();
        prop_assert_eq!(run(&reversed, now(), tz, Plan::Max20), assembly);
    }
}
