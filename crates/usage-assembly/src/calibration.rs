//! Calibration: learning the real caps from authoritative readings.
//!
//! Every valid server reading is a measurement: "in this window, this much local usage was this
//! percentage". Stored with the local usage of the same window at the same moment (a
//! [`CalibrationPoint`]), those measurements let the estimate track reality when the endpoint
//! is unavailable.
//!
//! # The model
//!
//! The server's percentage of a window is taken to be linear in the list-price cost of the
//! local responses in that window, with an optional weight for Opus relative to every other
//! family:
//!
//! ```text
//! pct = 100 * (opus_weight * cost_opus + cost_other) / cap
//! ```
//!
//! - **Per reading**, `cap_i = 100 * cost_i / pct_i` (with `opus_weight = 1`). Readings with a
//!   percentage under [`MIN_PCT`] or no local cost carry no usable information and are left out.
//! - **Robust**: the cap is the weighted *median* of the per-reading caps. Usage the local logs
//!   cannot see (claude.ai, another machine) makes a reading's cap look small; a median ignores
//!   such outliers as long as they are a minority.
//! - **Decaying**: the newest reading of a window weighs 1, the next [`DECAY`], then
//!   `DECAY^2`, ...; readings older than [`MAX_AGE_DAYS`] are dropped. After a plan change the
//!   new level holds the majority of the weight within three readings.
//! - **Per-family weights where the data supports them**: with at least [`MIN_POINTS_FOR_FAMILY`]
//!   readings, at least two of them with Opus and two with other families, and a well-conditioned
//!   mix, a weighted least-squares fit of `pct / 100 = a * cost_opus + b * cost_other` (one pass
//!   of trimming residuals over three median absolute deviations) gives `cap = 1 / b` and
//!   `opus_weight = a / b`. It is used only when both are positive and its weighted error is
//!   lower than the median model's; otherwise `opus_weight` stays 1.
//!
//! The same model serves every window id; each window is fitted from its own readings.
//!
//! # Anchors
//!
//! A server window is not the rolling estimate: the weekly window runs from one `resets_at` to
//! the next, seven days later, and the session window from `resets_at - 5 h`. [`Anchors`] keeps
//! the last known reset of each window; [`anchored_interval`] turns it into the window holding
//! `now`, so local usage is measured over the same span the server measures.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use claude_logs::UsageEvent;

use crate::assemble::{Priced, since};
use crate::counts::Counts;
use crate::model::Family;
use crate::reading::ServerReading;
use crate::window::{Window, WindowId, pct_of};

/// Readings under this percentage are too coarse to calibrate from (the server rounds).
pub const MIN_PCT: f64 = 1.0;
/// The weight of each older reading relative to the next newer one.
pub const DECAY: f64 = 0.7;
/// Readings older than this many days are not used.
pub const MAX_AGE_DAYS: i64 = 60;
/// Readings needed before per-family weights are fitted.
pub const MIN_POINTS_FOR_FAMILY: usize = 6;

/// Local usage of one window at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LocalUsage {
    /// List-price cost of Opus responses, US dollars.
    pub cost_opus: f64,
    /// List-price cost of every other response, US dollars.
    pub cost_other: f64,
    /// Input, output, cache write and cache read tokens.
    pub tokens: [u64; 4],
    /// Responses.
    pub messages: u64,
}

impl LocalUsage {
    /// Total list-price cost.
    pub fn cost(&self) -> f64 {
        self.cost_opus + self.cost_other
    }

    /// Adds one response.
    pub(crate) fn add(&mut self, family: Family, tokens: [u64; 4], cost: f64) {
        if family == Family::Opus {
            self.cost_opus += cost;
        } else {
            self.cost_other += cost;
        }
        for (sum, t) in self.tokens.iter_mut().zip(tokens) {
            *sum = sum.saturating_add(t);
        }
        self.messages = self.messages.saturating_add(1);
    }

    /// The cost the server's percentage is modelled on: Opus weighted.
    pub fn weighted_cost(&self, opus_weight: f64) -> f64 {
        opus_weight * self.cost_opus + self.cost_other
    }
}

/// One authoritative reading of one window, with the local usage of the same window at the same
/// moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationPoint {
    /// When the reading was fetched.
    pub at: DateTime<Utc>,
    /// The window.
    pub window: WindowId,
    /// The server's percentage.
    pub pct: f64,
    /// The server's reset time for the window, when given.
    pub resets_at: Option<DateTime<Utc>>,
    /// Local usage over the server's span of the window at `at`.
    pub local: LocalUsage,
}

/// A fitted window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// The window.
    pub window: WindowId,
    /// The fitted cap, in list-price US dollars of non-Opus usage.
    pub cap_usd: f64,
    /// Opus usage counts this many times its list price (1 when not fitted).
    pub opus_weight: f64,
    /// Readings the fit used.
    pub readings: usize,
    /// When the newest reading used was taken.
    pub newest_at: DateTime<Utc>,
}

/// Fits each window from its readings, as of `now` (readings after `now` are ignored, so a
/// history can be replayed).
pub fn calibrate(points: &[CalibrationPoint], now: DateTime<Utc>) -> Vec<Calibration> {
    let oldest = now - TimeDelta::days(MAX_AGE_DAYS);
    let mut by_window: BTreeMap<WindowId, Vec<&CalibrationPoint>> = BTreeMap::new();
    for point in points {
        let usable = point.at <= now
            && point.at > oldest
            && point.pct.is_finite()
            && point.pct >= MIN_PCT
            && point.local.cost() > 0.0
            && point.local.cost().is_finite();
        if usable {
            by_window.entry(point.window).or_default().push(point);
        }
    }
    by_window
        .into_iter()
        .filter_map(|(window, mut points)| {
            // Newest first; ties broken by value so the order is total.
            points.sort_by(|a, b| b.at.cmp(&a.at).then(a.pct.total_cmp(&b.pct)));
            fit(window, &points)
        })
        .collect()
}

fn fit(window: WindowId, points: &[&CalibrationPoint]) -> Option<Calibration> {
    let newest_at = points.first()?.at;
    let weights: Vec<f64> = (0..points.len()).map(|i| DECAY.powi(i as i32)).collect();
    let caps: Vec<f64> = points
        .iter()
        .map(|p| 100.0 * p.local.cost() / p.pct)
        .collect();
    let cap = weighted_median(&caps, &weights)?;
    let mut best = Calibration {
        window,
        cap_usd: cap,
        opus_weight: 1.0,
        readings: points.len(),
        newest_at,
    };
    if let Some((a, b)) = family_fit(points, &weights) {
        let family = Calibration {
            cap_usd: 1.0 / b,
            opus_weight: a / b,
            ..best
        };
        if weighted_error(points, &weights, &family) < weighted_error(points, &weights, &best) {
            best = family;
        }
    }
    (best.cap_usd.is_finite() && best.cap_usd > 0.0).then_some(best)
}

/// The weighted mean absolute error, in percentage points, of a fit over its readings.
fn weighted_error(points: &[&CalibrationPoint], weights: &[f64], fit: &Calibration) -> f64 {
    let (mut sum, mut total) = (0.0, 0.0);
    for (p, w) in points.iter().zip(weights) {
        let predicted = 100.0 * p.local.weighted_cost(fit.opus_weight) / fit.cap_usd;
        sum += w * (predicted - p.pct).abs();
        total += w;
    }
    sum / total
}

/// The weighted median: the smallest value at which the cumulative weight reaches half.
fn weighted_median(values: &[f64], weights: &[f64]) -> Option<f64> {
    let mut pairs: Vec<(f64, f64)> = values
        .iter()
        .copied()
        .zip(weights.iter().copied())
        .filter(|(v, w)| v.is_finite() && *w > 0.0)
        .collect();
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = pairs.iter().map(|p| p.1).sum::<f64>() / 2.0;
    let mut cumulative = 0.0;
    for (value, weight) in &pairs {
        cumulative += weight;
        if cumulative >= half {
            return Some(*value);
        }
    }
    pairs.last().map(|p| p.0)
}

/// Weighted least squares through the origin of `pct / 100 = a * cost_opus + b * cost_other`,
/// with one pass of trimming; `None` when the data does not support it.
fn family_fit(points: &[&CalibrationPoint], weights: &[f64]) -> Option<(f64, f64)> {
    if points.len() < MIN_POINTS_FOR_FAMILY {
        return None;
    }
    let with_opus = points.iter().filter(|p| p.local.cost_opus > 0.0).count();
    let with_other = points.iter().filter(|p| p.local.cost_other > 0.0).count();
    if with_opus < 2 || with_other < 2 {
        return None;
    }
    let keep: Vec<bool> = vec![true; points.len()];
    let (a, b) = solve(points, weights, &keep)?;
    let residuals: Vec<f64> = points
        .iter()
        .map(|p| (p.pct / 100.0 - a * p.local.cost_opus - b * p.local.cost_other).abs())
        .collect();
    let mad = weighted_median(&residuals, &vec![1.0; residuals.len()])?;
    let keep: Vec<bool> = residuals
        .iter()
        .map(|r| *r <= 3.0 * mad.max(1e-9))
        .collect();
    let (a, b) = solve(points, weights, &keep)?;
    (a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite()).then_some((a, b))
}

fn solve(points: &[&CalibrationPoint], weights: &[f64], keep: &[bool]) -> Option<(f64, f64)> {
    let (mut soo, mut sos, mut sss, mut soy, mut ssy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for ((p, w), k) in points.iter().zip(weights).zip(keep) {
        if !k {
            continue;
        }
        let (o, s, y) = (p.local.cost_opus, p.local.cost_other, p.pct / 100.0);
        soo += w * o * o;
        sos += w * o * s;
        sss += w * s * s;
        soy += w * o * y;
        ssy += w * s * y;
    }
    let det = soo * sss - sos * sos;
    // Near-collinear mixes (every reading with the same Opus share) cannot separate the two.
    let conditioned = det.is_finite() && det > 0.05 * soo * sss;
    if !conditioned {
        return None;
    }
    Some(((soy * sss - ssy * sos) / det, (ssy * soo - soy * sos) / det))
}

/// The last known reset time of each window, from the readings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Anchors {
    resets: BTreeMap<WindowId, DateTime<Utc>>,
}

impl Anchors {
    /// The newest reset time per window among `points` taken at or before `now`.
    pub fn from_points(points: &[CalibrationPoint], now: DateTime<Utc>) -> Anchors {
        let mut newest: BTreeMap<WindowId, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
        for p in points.iter().filter(|p| p.at <= now) {
            if let Some(reset) = p.resets_at {
                let entry = newest.entry(p.window).or_insert((p.at, reset));
                if p.at >= entry.0 {
                    *entry = (p.at, reset);
                }
            }
        }
        Anchors {
            resets: newest.into_iter().map(|(w, (_, r))| (w, r)).collect(),
        }
    }

    /// The last known reset of `window`; per-model weekly windows fall back to `seven_day`'s.
    pub fn reset(&self, window: WindowId) -> Option<DateTime<Utc>> {
        self.resets.get(&window).copied().or_else(|| match window {
            WindowId::SevenDaySonnet | WindowId::SevenDayOpus => {
                self.resets.get(&WindowId::SevenDay).copied()
            }
            _ => None,
        })
    }
}

/// The server's span of `window` that holds `now`, from its last known reset: `(start, reset)`
/// with `start <= now < reset`.
///
/// Weekly windows repeat every seven days, so a reset in the past is rolled forward. A session
/// window does not repeat on a schedule (the next one starts with the next message), so a past
/// session reset anchors nothing: `None`, and the block rule applies.
pub fn anchored_interval(
    window: WindowId,
    last_reset: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match window {
        WindowId::FiveHour => {
            let start = last_reset - TimeDelta::hours(5);
            (start <= now && now < last_reset).then_some((start, last_reset))
        }
        WindowId::SevenDay | WindowId::SevenDaySonnet | WindowId::SevenDayOpus => {
            let week = TimeDelta::days(7);
            let mut reset = last_reset;
            if reset <= now {
                let behind = (now - reset).num_seconds() / week.num_seconds() + 1;
                reset += TimeDelta::seconds(behind * week.num_seconds());
            } else if reset - week > now {
                let ahead = (reset - week - now).num_seconds() / week.num_seconds() + 1;
                reset -= TimeDelta::seconds(ahead * week.num_seconds());
            }
            Some((reset - week, reset))
        }
    }
}

/// What a window's estimate was calibrated with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationInfo {
    /// Readings the fit used.
    pub readings: usize,
    /// When the newest of them was taken.
    pub newest_at: DateTime<Utc>,
    /// Opus usage counts this many times its list price.
    pub opus_weight: f64,
}

/// Whether an event of `family` belongs to `window`.
fn in_family(window: WindowId, family: Family) -> bool {
    window.family().is_none_or(|f| f == family)
}

fn tokens_of(event: &UsageEvent) -> [u64; 4] {
    let t = &event.tokens;
    [t.input, t.output, t.cache_creation, t.cache_read]
}

/// Local usage of `window`'s families over `start < t <= end` (`start <= t` when
/// `inclusive_start`).
pub(crate) fn local_usage(
    priced: &[Priced<'_>],
    window: WindowId,
    start: DateTime<Utc>,
    inclusive_start: bool,
    end: DateTime<Utc>,
) -> (LocalUsage, Counts) {
    let mut usage = LocalUsage::default();
    let mut counts = Counts::default();
    for p in priced {
        let (event, cost) = (p.event, &p.cost);
        let t = event.timestamp;
        let after_start = if inclusive_start {
            t >= start
        } else {
            t > start
        };
        if !after_start || t > end {
            continue;
        }
        let family = p.family;
        if in_family(window, family) {
            usage.add(family, tokens_of(event), cost.unwrap_or(0.0));
            counts.add_event(&event.tokens, *cost);
        }
    }
    (usage, counts)
}

/// The calibration points a fresh reading gives: for each window the reading covers with a
/// reset time, the local usage over the server's span of that window (`reset - length` to
/// `at`).
pub fn calibration_points(
    input: &crate::AssemblyInput<'_>,
    reading: &ServerReading,
    at: DateTime<Utc>,
) -> Vec<CalibrationPoint> {
    let priced: Vec<Priced<'_>> = input
        .events
        .iter()
        .filter(|e| e.timestamp <= at)
        .map(|event| Priced {
            event,
            cost: input.prices.price(&event.model, &event.tokens, event.speed),
            family: Family::from_model(&event.model),
        })
        .collect();
    WindowId::ALL
        .into_iter()
        .filter_map(|window| {
            let server = reading.windows.get(window.as_str())?;
            let reset = server.resets_at?;
            if !server.pct.is_finite() {
                return None;
            }
            let start = reset - window.length();
            let (local, _) = local_usage(&priced, window, start, true, at);
            Some(CalibrationPoint {
                at,
                window,
                pct: server.pct,
                resets_at: Some(reset),
                local,
            })
        })
        .collect()
}

/// Calibrates the estimated windows: anchors each to the server's span when a reset is known,
/// and measures it against the fitted cap when the window has readings. `priced` is sorted by
/// time.
pub(crate) fn apply(
    windows: &mut [Window],
    points: &[CalibrationPoint],
    priced: &[Priced<'_>],
    now: DateTime<Utc>,
) {
    let anchors = Anchors::from_points(points, now);
    let fits = calibrate(points, now);
    for window in windows.iter_mut() {
        let anchored = anchors
            .reset(window.id)
            .and_then(|reset| anchored_interval(window.id, reset, now));
        let (usage, counts) = match anchored {
            Some((start, reset)) => {
                window.resets_at = Some(reset);
                local_usage(since(priced, start, true), window.id, start, true, now)
            }
            None => {
                // The window's own span as the estimate computed it.
                let start = match window.resets_at {
                    Some(reset) => reset - window.id.length(),
                    None => now - window.id.length(),
                };
                let inclusive = window.resets_at.is_some();
                let priced = since(priced, start, inclusive);
                local_usage(priced, window.id, start, inclusive, now)
            }
        };
        if anchored.is_some() {
            window.counts = counts;
            window.used = counts.cost_usd;
            if let Some(cap) = window.cap {
                window.pct = Some(pct_of(window.used, cap));
            }
        }
        if let Some(fit) = fits.iter().find(|f| f.window == window.id) {
            window.used = usage.weighted_cost(fit.opus_weight);
            window.cap = Some(fit.cap_usd);
            window.pct = Some(pct_of(window.used, fit.cap_usd));
            window.calibration = Some(CalibrationInfo {
                readings: fit.readings,
                newest_at: fit.newest_at,
                opus_weight: fit.opus_weight,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + TimeDelta::hours(h)
    }

    fn point(hour: i64, pct: f64, opus: f64, other: f64) -> CalibrationPoint {
        CalibrationPoint {
            at: t(hour),
            window: WindowId::SevenDay,
            pct,
            resets_at: None,
            local: LocalUsage {
                cost_opus: opus,
                cost_other: other,
                ..LocalUsage::default()
            },
        }
    }

    #[track_caller]
    fn check_cap(points: &[CalibrationPoint], now_hour: i64, want: Option<(f64, usize)>) {
        let fits = calibrate(points, t(now_hour));
        let have = fits.first().map(|c| (c.cap_usd, c.readings));
        match (have, want) {
            (Some((cap, n)), Some((want_cap, want_n))) => {
                assert!((cap - want_cap).abs() < 1e-6, "cap {cap}, want {want_cap}");
                assert_eq!(n, want_n);
            }
            (have, want) => assert_eq!(have.is_some(), want.is_some(), "{have:?} vs {want:?}"),
        }
    }

    #[test]
    fn caps_from_readings() {
        // 30 dollars at 20% is a cap of 150.
        check_cap(&[point(0, 20.0, 0.0, 30.0)], 1, Some((150.0, 1)));
        // No readings, too small a percentage, no local cost: nothing to fit.
        check_cap(&[], 1, None);
        check_cap(&[point(0, 0.5, 0.0, 30.0)], 1, None);
        check_cap(&[point(0, 20.0, 0.0, 0.0)], 1, None);
        // A reading after now is not used (replay), nor one older than the age limit.
        check_cap(&[point(5, 20.0, 0.0, 30.0)], 1, None);
        check_cap(&[point(0, 20.0, 0.0, 30.0)], 24 * 61, None);
        // An outlier (usage from elsewhere: a high percentage for little local cost) is out-voted.
        check_cap(
            &[
                point(0, 20.0, 0.0, 30.0),
                point(1, 30.0, 0.0, 45.0),
                point(2, 60.0, 0.0, 10.0),
                point(3, 40.0, 0.0, 60.0),
            ],
            4,
            Some((150.0, 4)),
        );
    }

    #[test]
    fn a_plan_change_is_followed_within_a_few_readings() {
        let mut points: Vec<CalibrationPoint> =
            (0..10).map(|h| point(h, 20.0, 0.0, 30.0)).collect();
        // The cap doubles: the same cost now reads half the percentage.
        points.extend((10..13).map(|h| point(h, 10.0, 0.0, 30.0)));
        check_cap(&points, 13, Some((300.0, 13)));
    }

    #[test]
    fn opus_weight_is_fitted_when_the_mix_varies() {
        // Truth: cap 100 dollars, Opus weighs 2x its list price.
        let mixes = [
            (0.0, 20.0),
            (10.0, 0.0),
            (5.0, 10.0),
            (8.0, 4.0),
            (2.0, 30.0),
            (12.0, 6.0),
        ];
        let points: Vec<CalibrationPoint> = mixes
            .iter()
            .enumerate()
            .map(|(i, (o, s))| point(i as i64, 2.0 * o + s, *o, *s))
            .collect();
        let fit = calibrate(&points, t(10))[0];
        assert!((fit.cap_usd - 100.0).abs() < 1e-6, "{fit:?}");
        assert!((fit.opus_weight - 2.0).abs() < 1e-6, "{fit:?}");
        // With the same mix everywhere the weight cannot be told apart: stays 1.
        let same: Vec<CalibrationPoint> = (0..8).map(|h| point(h, 30.0, 10.0, 10.0)).collect();
        let fit = calibrate(&same, t(10))[0];
        assert_eq!(fit.opus_weight, 1.0);
    }

    #[test]
    fn weekly_anchor_rolls_forward_and_back() {
        let reset = t(100);
        let check = |now: i64, start: i64, end: i64| {
            let (s, e) = anchored_interval(WindowId::SevenDay, reset, t(now)).unwrap();
            assert_eq!((s, e), (t(start), t(end)), "now {now}");
        };
        check(50, 100 - 168, 100);
        check(100, 100, 100 + 168);
        check(100 + 168 * 3 + 5, 100 + 168 * 3, 100 + 168 * 4);
        check(100 - 168 * 2 - 1, 100 - 168 * 3, 100 - 168 * 2);
    }

    #[test]
    fn session_anchor_holds_only_inside_its_window() {
        let reset = t(10);
        assert_eq!(
            anchored_interval(WindowId::FiveHour, reset, t(7)),
            Some((t(5), t(10)))
        );
        assert_eq!(anchored_interval(WindowId::FiveHour, reset, t(10)), None);
        assert_eq!(anchored_interval(WindowId::FiveHour, reset, t(4)), None);
    }

    #[test]
    fn anchors_take_the_newest_reset_and_fall_back_to_the_week() {
        let mut a = point(1, 10.0, 0.0, 1.0);
        a.resets_at = Some(t(50));
        let mut b = point(2, 10.0, 0.0, 1.0);
        b.resets_at = Some(t(60));
        let mut later = point(9, 10.0, 0.0, 1.0);
        later.resets_at = Some(t(70));
        let anchors = Anchors::from_points(&[b, a, later], t(5));
        assert_eq!(anchors.reset(WindowId::SevenDay), Some(t(60)));
        assert_eq!(anchors.reset(WindowId::SevenDayOpus), Some(t(60)));
        assert_eq!(anchors.reset(WindowId::FiveHour), None);
    }

    fn sonnet_event(hour: i64, output: u64) -> UsageEvent {
        UsageEvent {
            timestamp: t(hour),
            model: std::sync::Arc::from("claude-sonnet-4-5"),
            tokens: claude_logs::TokenCounts {
                output,
                ..Default::default()
            },
            speed: claude_logs::Speed::Standard,
            project: None,
            session_id: None,
        }
    }

    #[test]
    fn readings_calibrate_and_anchor_the_estimate() {
        use crate::{AssemblyInput, Plan, PriceTable, ServerWindow, Source, assemble};
        // $15 per million output tokens: each event below costs $1.50.
        let events: Vec<UsageEvent> = (0..40).map(|i| sonnet_event(60 + i * 4, 100_000)).collect();
        let prices = PriceTable::builtin();
        let reset = t(250);
        // The hidden cap is $60: the server reports cost / 60 * 100 over (reset - 7 d, at].
        let mut points = Vec::new();
        for at in [120, 150, 180] {
            let input = AssemblyInput::new(&events, t(at), chrono_tz::UTC, Plan::Unknown, &prices);
            let cost: f64 = events
                .iter()
                .filter(|e| e.timestamp >= reset - TimeDelta::days(7) && e.timestamp <= t(at))
                .count() as f64
                * 1.5;
            let mut reading = ServerReading::default();
            reading.windows.insert(
                "seven_day".into(),
                ServerWindow {
                    pct: cost / 60.0 * 100.0,
                    resets_at: Some(reset),
                },
            );
            points.extend(calibration_points(&input, &reading, t(at)));
        }
        assert_eq!(points.len(), 3);
        let now = t(200);
        let input = AssemblyInput::new(&events, now, chrono_tz::UTC, Plan::Unknown, &prices)
            .with_calibration(&points);
        let assembly = assemble(&input);
        let week = assembly.window(WindowId::SevenDay).unwrap();
        assert_eq!(week.source, Source::Estimate);
        assert_eq!(
            week.resets_at,
            Some(reset),
            "anchored to the server's weekly reset"
        );
        let cap = week.cap.unwrap();
        assert!((cap - 60.0).abs() < 1e-6, "{cap}");
        let expected = events
            .iter()
            .filter(|e| e.timestamp >= reset - TimeDelta::days(7) && e.timestamp <= now)
            .count() as f64
            * 1.5;
        assert!((week.used - expected).abs() < 1e-9);
        assert_eq!(
            week.pct,
            Some(((expected / 60.0 * 100.0) * 10.0).round() / 10.0)
        );
        let info = week.calibration.unwrap();
        assert_eq!((info.readings, info.newest_at), (3, t(180)));
        // Windows without readings keep the plan defaults (none for an unknown plan).
        let five = assembly.window(WindowId::FiveHour).unwrap();
        assert_eq!((five.cap, five.calibration), (None, None));
    }
}
