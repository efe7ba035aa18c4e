//! Pace and forecast of a usage window: is the use ahead of the clock, and when does it reach
//! the limit at the recent rate.
//!
//! Both work from a percentage, a reset time and the clock only ([`pace`], [`forecast`]), so
//! they apply alike to an estimated percentage and to one read from the server.
//!
//! # Definitions
//!
//! - A window with a reset time started one window length before it (five hours, or seven
//!   days for the weekly windows). Its elapsed share at `now` is `(now - start) / length`,
//!   clamped to 0-100 %.
//! - Pace compares the percentage used with the elapsed share: more than
//!   [`PACE_TOLERANCE_PCT`] points above it is [`PaceStatus::Ahead`] (the limit comes before
//!   the reset if use goes on like this), more than that below it is [`PaceStatus::Behind`],
//!   otherwise [`PaceStatus::OnTrack`].
//! - A rolling window (no reset time: the estimated weekly windows, an idle five-hour window)
//!   has no elapsed share, because the whole window is always behind `now`: it has no pace.
//! - The recent rate is percentage points per hour over the last [`recent_lookback`] of the
//!   window (one hour for the five-hour window, 24 hours for the weekly ones), or since the
//!   window's start when it started less than that ago. It comes from the window's own local
//!   responses: the window's percentage times the share of the window's local cost that falls
//!   in the lookback, so it works for a server percentage as for an estimate.
//! - The forecast extrapolates the recent rate in a straight line from `now`. For a window
//!   with a reset, the limit (100 %) counts only when reached before the reset; otherwise the
//!   forecast says "not before the reset" (`reaches_limit_at` is `None`). For a rolling
//!   window, it counts when reached within one window length of `now` (use that drops out of
//!   the window in the meantime is ignored, so this errs early), and `before_reset` is false.

use crate::assemble::{Priced, since};
use chrono::{DateTime, TimeDelta, Utc};

use crate::window::{Window, WindowId};

/// How far, in percentage points, the use may be from the elapsed share and still be on
/// track.
pub const PACE_TOLERANCE_PCT: f64 = 5.0;

/// The use of a window against the elapsed share of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// The share of the window that has passed, 0-100, rounded to 0.1.
    pub elapsed_pct: f64,
    /// The percentage used, as given (may exceed 100 for an estimate).
    pub used_pct: f64,
    /// The percentage used against the elapsed share.
    pub status: PaceStatus,
}

/// Whether a window is used faster or slower than its time passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaceStatus {
    /// Used more than [`PACE_TOLERANCE_PCT`] points above the elapsed share.
    Ahead,
    /// Within [`PACE_TOLERANCE_PCT`] points of the elapsed share.
    OnTrack,
    /// Used more than [`PACE_TOLERANCE_PCT`] points below the elapsed share.
    Behind,
}

impl PaceStatus {
    /// `ahead`, `on_track` or `behind`.
    pub fn as_str(self) -> &'static str {
        match self {
            PaceStatus::Ahead => "ahead",
            PaceStatus::OnTrack => "on_track",
            PaceStatus::Behind => "behind",
        }
    }
}

/// When a window reaches its limit at the recent rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// The recent rate, percentage points per hour, rounded to 0.0001.
    pub rate_pct_per_hour: f64,
    /// When the window reaches 100 % at that rate (`now` when it already has), or `None` when
    /// not before the reset (for a rolling window: not within one window length).
    pub reaches_limit_at: Option<DateTime<Utc>>,
    /// Whether the limit is reached before the window resets; always false for a window
    /// without a reset time.
    pub before_reset: bool,
    /// The percentage the window would show at its reset at that rate, rounded to 0.1 and not
    /// clamped; `None` for a window without a reset time.
    pub pct_at_reset: Option<f64>,
}

impl WindowId {
    /// The window's length: five hours, or seven days for the weekly windows.
    pub fn length(self) -> TimeDelta {
        match self {
            WindowId::FiveHour => crate::window::block_length(),
            WindowId::SevenDay | WindowId::SevenDaySonnet | WindowId::SevenDayOpus => {
                crate::window::week_length()
            }
        }
    }
}

/// How far back the recent rate of a window looks: one hour for the five-hour window, 24
/// hours for the weekly windows (a whole day, so that a night without use is part of it).
pub fn recent_lookback(id: WindowId) -> TimeDelta {
    match id {
        WindowId::FiveHour => TimeDelta::hours(1),
        WindowId::SevenDay | WindowId::SevenDaySonnet | WindowId::SevenDayOpus => {
            TimeDelta::hours(24)
        }
    }
}

/// The pace of a window of `length` that resets at `resets_at`, at `now`.
///
/// `None` when the percentage is unknown or not finite, when the window has no reset time (a
/// rolling window), or when `now` is at or past the reset (the figures are of a window that
/// has ended).
pub fn pace(
    pct: Option<f64>,
    resets_at: Option<DateTime<Utc>>,
    length: TimeDelta,
    now: DateTime<Utc>,
) -> Option<Pace> {
    let used_pct = pct.filter(|p| p.is_finite())?;
    let resets_at = resets_at?;
    if now >= resets_at || length <= TimeDelta::zero() {
        return None;
    }
    let start = resets_at - length;
    let elapsed = seconds(now - start) / seconds(length) * 100.0;
    let elapsed_pct = round_to(elapsed.clamp(0.0, 100.0), 10.0);
    let status = if used_pct > elapsed_pct + PACE_TOLERANCE_PCT {
        PaceStatus::Ahead
    } else if used_pct < elapsed_pct - PACE_TOLERANCE_PCT {
        PaceStatus::Behind
    } else {
        PaceStatus::OnTrack
    };
    Some(Pace {
        elapsed_pct,
        used_pct,
        status,
    })
}

/// The forecast of a window of `length` that resets at `resets_at` (or rolls, when `None`),
/// at `now`, from the recent rate in percentage points per hour.
///
/// `None` when the percentage or the rate is unknown or not finite, or when `now` is at or
/// past the reset. A negative rate counts as zero.
pub fn forecast(
    pct: Option<f64>,
    resets_at: Option<DateTime<Utc>>,
    length: TimeDelta,
    now: DateTime<Utc>,
    rate_pct_per_hour: Option<f64>,
) -> Option<Forecast> {
    let pct = pct.filter(|p| p.is_finite())?;
    let rate = rate_pct_per_hour.filter(|r| r.is_finite())?.max(0.0);
    if resets_at.is_some_and(|reset| now >= reset) {
        return None;
    }
    let horizon = resets_at.unwrap_or(now + length);
    let hours_left = seconds(horizon - now) / 3600.0;
    let reaches_limit_at = if pct >= 100.0 {
        Some(now)
    } else if rate > 0.0 {
        let hours = (100.0 - pct) / rate;
        (hours < hours_left).then(|| now + TimeDelta::milliseconds((hours * 3.6e6).round() as i64))
    } else {
        None
    };
    Some(Forecast {
        rate_pct_per_hour: round_to(rate, 10_000.0),
        reaches_limit_at: reaches_limit_at.map(whole_second),
        before_reset: resets_at.is_some() && reaches_limit_at.is_some(),
        pct_at_reset: resets_at.map(|_| round_to(pct + rate * hours_left, 10.0)),
    })
}

/// The recent rate in percentage points per hour of a window at `pct` whose local responses
/// cost `window_cost` in all, `recent_cost` of it within the last `lookback`.
///
/// With no local cost in the window the rate is zero when the percentage is, and unknown
/// otherwise (a server percentage without local responses to apportion it). `None` also for
/// an empty lookback or a non-finite input.
pub fn recent_rate(
    pct: f64,
    window_cost: f64,
    recent_cost: f64,
    lookback: TimeDelta,
) -> Option<f64> {
    let hours = seconds(lookback) / 3600.0;
    if !(pct.is_finite() && window_cost.is_finite() && recent_cost.is_finite()) || hours <= 0.0 {
        return None;
    }
    if window_cost <= 0.0 {
        return (pct == 0.0).then_some(0.0);
    }
    let share = (recent_cost / window_cost).clamp(0.0, 1.0);
    Some(pct * share / hours)
}

/// Sets the pace and forecast of every window at `now`, from its final percentage and reset
/// time (estimated or read from the server) and its local responses among `events` (sorted by
/// time, none after `now`, each with its cost).
pub(crate) fn with_outlook(
    mut windows: Vec<Window>,
    events: &[Priced<'_>],
    now: DateTime<Utc>,
) -> Vec<Window> {
    for window in &mut windows {
        let length = window.id.length();
        window.pace = pace(window.pct, window.resets_at, length, now);
        let exact_pct = window
            .cap
            .filter(|cap| *cap > 0.0)
            .map(|cap| window.used / cap * 100.0);
        let rate = exact_pct.and_then(|pct| {
            let (start, inclusive) = match window.resets_at {
                Some(reset) => (reset - length, true),
                None => (now - length, false),
            };
            let lookback = recent_lookback(window.id).min(now - start);
            let recent_start = now - lookback;
            let family = window.id.family();
            let mut window_cost = 0.0;
            let mut recent_cost = 0.0;
            // `since` keeps exactly the events after the window's start.
            for p in since(events, start, inclusive) {
                let (event, cost) = (p.event, p.cost);
                let t = event.timestamp;
                if t > now || family.is_some_and(|f| p.family != f) {
                    continue;
                }
                let cost = cost.unwrap_or(0.0);
                window_cost += cost;
                if t > recent_start {
                    recent_cost += cost;
                }
            }
            recent_rate(pct, window_cost, recent_cost, lookback)
        });
        window.forecast = forecast(window.pct, window.resets_at, length, now, rate);
    }
    windows
}

fn seconds(delta: TimeDelta) -> f64 {
    delta.num_milliseconds() as f64 / 1000.0
}

fn round_to(value: f64, per_unit: f64) -> f64 {
    (value * per_unit).round() / per_unit
}

fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use claude_logs::UsageEvent;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    const NOW: &str = "2026-11-28T12:00:00Z";

    /// The pace of a window of `length` hours at `pct`, resetting at `reset`, at [`NOW`]:
    /// expects `(elapsed_pct, status)`.
    #[track_caller]
    fn check(
        pct: Option<f64>,
        reset: Option<&str>,
        length_hours: i64,
        expected: Option<(f64, PaceStatus)>,
    ) {
        let got = pace(pct, reset.map(at), TimeDelta::hours(length_hours), at(NOW));
        let got_pair = got.map(|p| (p.elapsed_pct, p.status));
        assert_eq!(got_pair, expected, "{pct:?} resetting at {reset:?}");
        if let (Some(p), Some(pct)) = (got, pct) {
            assert_eq!(p.used_pct, pct);
        }
    }

    #[test]
    fn pace_table() {
        use PaceStatus::{Ahead, Behind, OnTrack};
        let week = 7 * 24;
        // 64 % used with 40 % of the week gone: ahead. The week started 2.8 days ago.
        check(
            Some(64.0),
            Some("2026-12-02T16:48:00Z"),
            week,
            Some((40.0, Ahead)),
        );
        // Within five points either side: on track; the bounds themselves are on track.
        check(
            Some(45.0),
            Some("2026-12-02T16:48:00Z"),
            week,
            Some((40.0, OnTrack)),
        );
        check(
            Some(35.0),
            Some("2026-12-02T16:48:00Z"),
            week,
            Some((40.0, OnTrack)),
        );
        check(
            Some(45.1),
            Some("2026-12-02T16:48:00Z"),
            week,
            Some((40.0, Ahead)),
        );
        check(
            Some(34.9),
            Some("2026-12-02T16:48:00Z"),
            week,
            Some((40.0, Behind)),
        );
        // Five-hour window two hours in: 40 % elapsed.
        check(
            Some(10.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some((40.0, Behind)),
        );
        check(
            Some(0.0),
            Some("2026-11-28T16:59:00Z"),
            5,
            Some((0.3, OnTrack)),
        );
        // An estimate over 100 %.
        check(
            Some(130.0),
            Some("2026-11-28T13:00:00Z"),
            5,
            Some((80.0, Ahead)),
        );
        // A reset more than a length away (a server clock ahead): elapsed clamps to 0.
        check(
            Some(3.0),
            Some("2026-11-28T18:00:00Z"),
            5,
            Some((0.0, OnTrack)),
        );
        // No percentage, no reset (rolling), a reset at or before now, a bad number: none.
        check(None, Some("2026-11-28T15:00:00Z"), 5, None);
        check(Some(10.0), None, week, None);
        check(Some(10.0), Some(NOW), 5, None);
        check(Some(10.0), Some("2026-11-28T11:00:00Z"), 5, None);
        check(Some(f64::NAN), Some("2026-11-28T15:00:00Z"), 5, None);
        check(Some(f64::INFINITY), Some("2026-11-28T15:00:00Z"), 5, None);
    }

    /// The forecast of a window at `pct` with `rate` % per hour: expects
    /// `(reaches_limit_at, before_reset, pct_at_reset)`.
    #[track_caller]
    fn check_forecast(
        pct: Option<f64>,
        reset: Option<&str>,
        length_hours: i64,
        rate: Option<f64>,
        expected: Option<(Option<&str>, bool, Option<f64>)>,
    ) {
        let got = forecast(
            pct,
            reset.map(at),
            TimeDelta::hours(length_hours),
            at(NOW),
            rate,
        )
        .map(|f| (f.reaches_limit_at, f.before_reset, f.pct_at_reset));
        let expected = expected.map(|(t, before, at_reset)| (t.map(at), before, at_reset));
        assert_eq!(
            got, expected,
            "{pct:?} at {rate:?}/h resetting at {reset:?}"
        );
    }

    #[test]
    fn forecast_table() {
        let week = 7 * 24;
        // 60 % at 20 %/h reaches 100 % in two hours, before a reset in three.
        check_forecast(
            Some(60.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some(20.0),
            Some((Some("2026-11-28T14:00:00Z"), true, Some(120.0))),
        );
        // At 10 %/h it would take four hours: not before the reset.
        check_forecast(
            Some(60.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some(10.0),
            Some((None, false, Some(90.0))),
        );
        // Exactly at the reset: not before it.
        check_forecast(
            Some(70.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some(10.0),
            Some((None, false, Some(100.0))),
        );
        // Fractions of a second are dropped from the time.
        check_forecast(
            Some(0.0),
            Some("2026-11-28T16:00:00Z"),
            5,
            Some(30.0),
            Some((Some("2026-11-28T15:20:00Z"), true, Some(120.0))),
        );
        check_forecast(
            Some(99.0),
            Some("2026-11-28T16:00:00Z"),
            5,
            Some(7.0),
            Some((Some("2026-11-28T12:08:34Z"), true, Some(127.0))),
        );
        // No use recently: never, and the percentage stays.
        check_forecast(
            Some(42.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some(0.0),
            Some((None, false, Some(42.0))),
        );
        check_forecast(
            Some(42.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some(-3.0),
            Some((None, false, Some(42.0))),
        );
        // Already at or over the limit: reached now.
        check_forecast(
            Some(100.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some(0.0),
            Some((Some(NOW), true, Some(100.0))),
        );
        check_forecast(
            Some(130.0),
            None,
            week,
            Some(1.0),
            Some((Some(NOW), false, None)),
        );
        // A rolling week: within seven days counts, later does not; never "before reset".
        check_forecast(
            Some(40.0),
            None,
            week,
            Some(1.0),
            Some((Some("2026-12-01T00:00:00Z"), false, None)),
        );
        check_forecast(Some(40.0), None, week, Some(0.3), Some((None, false, None)));
        // Unknown inputs and an ended window: no forecast.
        check_forecast(None, Some("2026-11-28T15:00:00Z"), 5, Some(1.0), None);
        check_forecast(Some(1.0), Some("2026-11-28T15:00:00Z"), 5, None, None);
        check_forecast(
            Some(1.0),
            Some("2026-11-28T15:00:00Z"),
            5,
            Some(f64::NAN),
            None,
        );
        check_forecast(Some(1.0), Some(NOW), 5, Some(1.0), None);
        // A tiny rate does not overflow the clock.
        check_forecast(
            Some(1.0),
            None,
            week,
            Some(1e-300),
            Some((None, false, None)),
        );
    }

    #[track_caller]
    fn check_rate(
        pct: f64,
        window_cost: f64,
        recent_cost: f64,
        minutes: i64,
        expected: Option<f64>,
    ) {
        let got = recent_rate(pct, window_cost, recent_cost, TimeDelta::minutes(minutes));
        assert_eq!(
            got, expected,
            "{pct} % of {window_cost}, {recent_cost} in {minutes} min"
        );
    }

    #[test]
    fn rate_table() {
        // Half the window's cost in the last hour of a window at 40 %: 20 % per hour.
        check_rate(40.0, 10.0, 5.0, 60, Some(20.0));
        // Over a day.
        check_rate(48.0, 10.0, 10.0, 24 * 60, Some(2.0));
        // A lookback shortened to the window's first half hour.
        check_rate(10.0, 4.0, 4.0, 30, Some(20.0));
        // Nothing recent.
        check_rate(40.0, 10.0, 0.0, 60, Some(0.0));
        // No local cost: zero at 0 %, unknown for a server percentage.
        check_rate(0.0, 0.0, 0.0, 60, Some(0.0));
        check_rate(12.0, 0.0, 0.0, 60, None);
        // An empty lookback or a bad number: unknown.
        check_rate(40.0, 10.0, 5.0, 0, None);
        check_rate(f64::NAN, 10.0, 5.0, 60, None);
    }

    fn sonnet_output(t: &str, output: u64) -> UsageEvent {
        UsageEvent {
            timestamp: at(t),
            model: std::sync::Arc::from("claude-sonnet-4-5-20250929"),
            tokens: claude_logs::TokenCounts {
                output,
                ..claude_logs::TokenCounts::default()
            },
            speed: claude_logs::Speed::Standard,
            project: None,
            session_id: None,
        }
    }

    /// A forecast reduced to `(reaches_limit_at, before_reset, pct_at_reset)`.
    type Outlook = (Option<DateTime<Utc>>, bool, Option<f64>);

    fn outlook_of(assembly: &crate::Assembly, id: WindowId) -> (Option<Pace>, Option<Outlook>) {
        let window = assembly.window(id).unwrap();
        let forecast = window
            .forecast
            .map(|f| (f.reaches_limit_at, f.before_reset, f.pct_at_reset));
        (window.pace, forecast)
    }

    #[test]
    fn assembly_sets_pace_and_forecast_on_estimates_and_server_readings() {
        // Two Sonnet responses of $10.50 each (700k output tokens at $15 per million), one
        // and a half and one half hour before now, in a block that started at 10:00.
        let now = at("2026-03-10T12:00:00Z");
        let events = [
            sonnet_output("2026-03-10T10:30:00Z", 700_000),
            sonnet_output("2026-03-10T11:30:00Z", 700_000),
        ];
        let prices = crate::PriceTable::builtin();
        let input =
            crate::AssemblyInput::new(&events, now, chrono_tz::UTC, crate::Plan::Max5, &prices);
        let estimate = crate::assemble(&input);

        // Five hours: $21 of $35 is 60 % with 40 % of the block gone; half of it in the last
        // hour, so 30 % per hour: 100 % at 13:20, before the 15:00 reset.
        let (pace, forecast) = outlook_of(&estimate, WindowId::FiveHour);
        assert_eq!(
            pace,
            Some(Pace {
                elapsed_pct: 40.0,
                used_pct: 60.0,
                status: PaceStatus::Ahead
            })
        );
        assert_eq!(
            forecast,
            Some((Some(at("2026-03-10T13:20:00Z")), true, Some(150.0)))
        );
        let rate = estimate
            .window(WindowId::FiveHour)
            .unwrap()
            .forecast
            .unwrap();
        assert_eq!(rate.rate_pct_per_hour, 30.0);

        // The rolling week: $21 of $350 is 6 %, all of it in the last day: 0.25 % per hour,
        // which does not reach 100 % within seven days. No pace without a reset.
        let (pace, forecast) = outlook_of(&estimate, WindowId::SevenDay);
        assert_eq!((pace, forecast), (None, Some((None, false, None))));
        let week = estimate
            .window(WindowId::SevenDay)
            .unwrap()
            .forecast
            .unwrap();
        assert_eq!(week.rate_pct_per_hour, 0.25);
        // No Opus use: a zero rate.
        let opus = estimate
            .window(WindowId::SevenDayOpus)
            .unwrap()
            .forecast
            .unwrap();
        assert_eq!(opus.rate_pct_per_hour, 0.0);

        // A server reading: 64 % of a week that resets in 100.8 hours (40 % gone). All local
        // use of that week is in the last day, so the rate is 64 % / 24 h: 100 % in 13.5 h.
        let reset = at("2026-03-14T16:48:00Z");
        let mut reading = crate::ServerReading::default();
        for (id, pct) in [("seven_day", 64.0), ("seven_day_opus", 12.0)] {
            reading.windows.insert(
                id.to_owned(),
                crate::ServerWindow {
                    pct,
                    resets_at: Some(reset),
                },
            );
        }
        let live = crate::assemble(&input.with_reading(Some(&reading)));
        let (pace, forecast) = outlook_of(&live, WindowId::SevenDay);
        assert_eq!(
            pace,
            Some(Pace {
                elapsed_pct: 40.0,
                used_pct: 64.0,
                status: PaceStatus::Ahead
            })
        );
        assert_eq!(
            forecast,
            Some((Some(at("2026-03-11T01:30:00Z")), true, Some(332.8)))
        );
        // A server percentage with no local use to apportion it: a pace, but no rate.
        let (pace, forecast) = outlook_of(&live, WindowId::SevenDayOpus);
        assert_eq!(pace.map(|p| p.status), Some(PaceStatus::Behind));
        assert_eq!(forecast, None);
    }

    #[test]
    fn lengths_and_lookbacks() {
        assert_eq!(WindowId::FiveHour.length(), TimeDelta::hours(5));
        assert_eq!(WindowId::SevenDayOpus.length(), TimeDelta::days(7));
        assert_eq!(recent_lookback(WindowId::FiveHour), TimeDelta::hours(1));
        assert_eq!(recent_lookback(WindowId::SevenDay), TimeDelta::hours(24));
        let names: Vec<&str> = [PaceStatus::Ahead, PaceStatus::OnTrack, PaceStatus::Behind]
            .into_iter()
            .map(PaceStatus::as_str)
            .collect();
        assert_eq!(names, ["ahead", "on_track", "behind"]);
    }
}
