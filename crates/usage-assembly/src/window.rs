//! Usage windows and the five-hour block rule.

use chrono::{DateTime, TimeDelta, Utc};

use crate::counts::Counts;
use crate::model::Family;
use crate::pace::{Forecast, Pace};

/// The length of a five-hour block.
pub(crate) fn block_length() -> TimeDelta {
    TimeDelta::hours(5)
}

/// The length of the rolling weekly window.
pub(crate) fn week_length() -> TimeDelta {
    TimeDelta::days(7)
}

/// Which usage window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WindowId {
    /// The current five-hour session.
    FiveHour,
    /// The last seven days, all models.
    SevenDay,
    /// The last seven days, Sonnet only.
    SevenDaySonnet,
    /// The last seven days, Opus only.
    SevenDayOpus,
}

impl WindowId {
    /// Every window, in output order.
    pub const ALL: [WindowId; 4] = [
        WindowId::FiveHour,
        WindowId::SevenDay,
        WindowId::SevenDaySonnet,
        WindowId::SevenDayOpus,
    ];

    /// The id as the server and the wire format spell it: `five_hour`, `seven_day`,
    /// `seven_day_sonnet`, `seven_day_opus`.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowId::FiveHour => "five_hour",
            WindowId::SevenDay => "seven_day",
            WindowId::SevenDaySonnet => "seven_day_sonnet",
            WindowId::SevenDayOpus => "seven_day_opus",
        }
    }

    /// The window of an id spelt as by [`WindowId::as_str`], or `None` for another id.
    pub fn from_id(id: &str) -> Option<WindowId> {
        WindowId::ALL.into_iter().find(|w| w.as_str() == id)
    }

    /// A human label: `Session (5 h)`, `Week (all models)`, `Week (Sonnet)`, `Week (Opus)`.
    pub fn label(self) -> &'static str {
        match self {
            WindowId::FiveHour => "Session (5 h)",
            WindowId::SevenDay => "Week (all models)",
            WindowId::SevenDaySonnet => "Week (Sonnet)",
            WindowId::SevenDayOpus => "Week (Opus)",
        }
    }

    /// The model family a window is restricted to, if any.
    pub fn family(self) -> Option<Family> {
        match self {
            WindowId::FiveHour | WindowId::SevenDay => None,
            WindowId::SevenDaySonnet => Some(Family::Sonnet),
            WindowId::SevenDayOpus => Some(Family::Opus),
        }
    }
}

/// Where a window's figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Anthropic's own usage endpoint (an authoritative reading).
    Oauth,
    /// Computed from local transcripts.
    Estimate,
}

impl Source {
    /// `oauth` or `estimate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Oauth => "oauth",
            Source::Estimate => "estimate",
        }
    }
}

/// One usage window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Which window.
    pub id: WindowId,
    /// Use in the unit of `cap`: list-price cost in US dollars for an estimate.
    pub used: f64,
    /// The cap `used` is measured against, or `None` when the plan is unknown.
    pub cap: Option<f64>,
    /// `used / cap * 100`, rounded to 0.1 and not clamped; `None` when there is no cap.
    pub pct: Option<f64>,
    /// Where `pct` comes from.
    pub source: Source,
    /// When the window resets: the end of the active five-hour block; `None` when idle and for
    /// the rolling weekly estimates, which have no fixed reset.
    pub resets_at: Option<DateTime<Utc>>,
    /// The local responses in the window.
    pub counts: Counts,
    /// The percentage used against the elapsed share of the window; `None` without a
    /// percentage or a reset time (see [`crate::pace()`]).
    pub pace: Option<Pace>,
    /// When the window reaches its limit at the recent rate; `None` without a percentage or a
    /// rate (see [`crate::forecast()`]).
    pub forecast: Option<Forecast>,
    /// What the estimate was calibrated with, when it was.
    pub calibration: Option<crate::calibration::CalibrationInfo>,
}

impl Window {
    /// An estimated window over `counts`, measured against `cap`.
    pub(crate) fn estimate(
        id: WindowId,
        counts: Counts,
        cap: Option<f64>,
        resets_at: Option<DateTime<Utc>>,
    ) -> Window {
        let used = counts.cost_usd;
        let cap = cap.filter(|cap| *cap > 0.0);
        Window {
            id,
            used,
            cap,
            pct: cap.map(|cap| pct_of(used, cap)),
            source: Source::Estimate,
            resets_at,
            counts,
            pace: None,
            forecast: None,
            calibration: None,
        }
    }

    /// The window's human label.
    pub fn label(&self) -> &'static str {
        self.id.label()
    }
}

/// `used` as a percentage of `cap`, rounded to 0.1 and not clamped.
pub(crate) fn pct_of(used: f64, cap: f64) -> f64 {
    round_tenth(used / cap * 100.0)
}

fn round_tenth(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The start of the UTC hour containing `t`.
pub(crate) fn floor_to_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp().div_euclid(3600) * 3600, 0).unwrap_or(t)
}

/// The last five-hour block of a time-sorted sequence of timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastBlock {
    /// The block's start: its first entry floored to the UTC hour.
    pub(crate) start: DateTime<Utc>,
    /// The index of its first entry.
    pub(crate) first: usize,
    /// Its last entry.
    pub(crate) last_entry: DateTime<Utc>,
}

impl LastBlock {
    /// When the block ends: five hours after its start.
    pub(crate) fn end(&self) -> DateTime<Utc> {
        self.start + block_length()
    }

    /// Active at `now`: the last entry is less than five hours before `now` and `now` is
    /// before the block's end.
    pub(crate) fn is_active(&self, now: DateTime<Utc>) -> bool {
        now - self.last_entry < block_length() && now < self.end()
    }
}

/// Splits time-sorted timestamps (`count` of them, the `i`-th is `at(i)`) into five-hour
/// blocks and returns the last one.
///
/// A block starts at its first entry floored to the UTC hour; a new block starts with an entry
/// more than five hours after the block's start or more than five hours after the previous
/// entry. Only the last block can be active: any earlier block was followed by an entry more
/// than five hours after its start or its last entry.
pub(crate) fn last_block(count: usize, at: impl Fn(usize) -> DateTime<Utc>) -> Option<LastBlock> {
    // An entry more than a block length after the one before it starts a block whatever came
    // before: the rule runs from the last such entry, not from the first entry of all.
    let from = (1..count)
        .rev()
        .find(|&i| at(i) - at(i - 1) > block_length())
        .unwrap_or(0);
    (from..count).fold(None, |block, i| Some(next_block(block, i, at(i))))
}

/// The block rule's step: the block after the entry at `index`, at `t`, given the block
/// before it.
fn next_block(block: Option<LastBlock>, index: usize, t: DateTime<Utc>) -> LastBlock {
    match block {
        Some(b) if t - b.start <= block_length() && t - b.last_entry <= block_length() => {
            LastBlock { last_entry: t, ..b }
        }
        _ => LastBlock {
            start: floor_to_hour(t),
            first: index,
            last_entry: t,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    /// `entries` sorted; expects the last block's start and first index, and whether it is
    /// active at `now`.
    #[track_caller]
    fn check(entries: &[&str], now: &str, expected: Option<(&str, usize, bool)>) {
        let block = last_block(entries.len(), |i| at(entries[i]));
        let got = block.map(|b| (b.start, b.first, b.is_active(at(now))));
        let expected = expected.map(|(start, first, active)| (at(start), first, active));
        assert_eq!(got, expected, "{entries:?} at {now}");
    }

    /// The block rule's step run over every entry from the first: the reference for
    /// `last_block`, which starts from the last long gap.
    fn last_block_from_the_first(sorted: &[DateTime<Utc>]) -> Option<LastBlock> {
        (0..sorted.len()).fold(None, |block, i| Some(next_block(block, i, sorted[i])))
    }

    proptest::proptest! {
        /// Gaps from seconds to a day, ties included: the same last block either way.
        #[test]
        fn starting_at_the_last_long_gap_changes_nothing(
            gaps in proptest::collection::vec(
                proptest::prop_oneof![
                    0i64..600,
                    0i64..4 * 3600,
                    4 * 3600i64..6 * 3600,
                    proptest::strategy::Just(5 * 3600),
                    0i64..86_400
                ],
                0..60,
            )
        ) {
            let mut t = at("2026-03-10T00:00:00Z");
            let sorted: Vec<DateTime<Utc>> = gaps
                .iter()
                .map(|&gap| {
                    t += TimeDelta::seconds(gap);
                    t
                })
                .collect();
            proptest::prop_assert_eq!(
                last_block(sorted.len(), |i| sorted[i]),
                last_block_from_the_first(&sorted)
            );
        }
    }

    #[test]
    fn block_rule() {
        // No entries, no block.
        check(&[], "2026-03-10T12:00:00Z", None);
        // An entry exactly five hours after a block's first one (on the hour) and after the
        // one before it stays in that block.
        check(
            &["2026-03-10T05:00:00Z", "2026-03-10T10:00:00Z"],
            "2026-03-10T10:30:00Z",
            Some(("2026-03-10T05:00:00Z", 0, false)),
        );
        // The start is floored to the UTC hour.
        check(
            &["2026-03-10T10:42:17.123Z"],
            "2026-03-10T11:00:00Z",
            Some(("2026-03-10T10:00:00Z", 0, true)),
        );
        check(
            &["2026-03-10T10:00:00Z"],
            "2026-03-10T10:00:00Z",
            Some(("2026-03-10T10:00:00Z", 0, true)),
        );
        // An entry exactly five hours after the block start stays in the block ...
        check(
            &["2026-03-10T10:00:00Z", "2026-03-10T15:00:00Z"],
            "2026-03-10T15:00:00Z",
            Some(("2026-03-10T10:00:00Z", 0, false)),
        );
        // ... one a millisecond later starts a new block.
        check(
            &["2026-03-10T10:00:00Z", "2026-03-10T15:00:00.001Z"],
            "2026-03-10T15:30:00Z",
            Some(("2026-03-10T15:00:00Z", 1, true)),
        );
        // More than five hours after the (floored) start, though less after the previous entry.
        check(
            &[
                "2026-03-10T10:30:00Z",
                "2026-03-10T14:00:00Z",
                "2026-03-10T15:10:00Z",
            ],
            "2026-03-10T15:20:00Z",
            Some(("2026-03-10T15:00:00Z", 2, true)),
        );
        // A gap of exactly five hours after the previous entry (and the start): same block.
        check(
            &["2026-03-10T10:00:00Z", "2026-03-10T15:00:00Z"],
            "2026-03-10T15:00:00Z",
            Some(("2026-03-10T10:00:00Z", 0, false)),
        );
        check(
            &[
                "2026-03-10T10:00:00Z",
                "2026-03-10T12:00:00Z",
                "2026-03-10T15:00:00Z",
            ],
            "2026-03-10T15:00:00Z",
            Some(("2026-03-10T10:00:00Z", 0, false)),
        );
        // A gap of exactly five hours, but more than five hours after the start: new block.
        check(
            &[
                "2026-03-10T10:00:00Z",
                "2026-03-10T10:00:00.001Z",
                "2026-03-10T15:00:00.001Z",
            ],
            "2026-03-10T15:00:01Z",
            Some(("2026-03-10T15:00:00Z", 2, true)),
        );
        // A gap of more than five hours starts a new block.
        check(
            &["2026-03-10T01:00:00Z", "2026-03-10T06:00:01Z"],
            "2026-03-10T07:00:00Z",
            Some(("2026-03-10T06:00:00Z", 1, true)),
        );
        check(
            &[
                "2026-03-09T01:00:00Z",
                "2026-03-10T09:15:00Z",
                "2026-03-10T09:20:00Z",
            ],
            "2026-03-10T10:00:00Z",
            Some(("2026-03-10T09:00:00Z", 1, true)),
        );
    }

    #[test]
    fn activity() {
        // Last entry 4:59 before now and now before the block end: active.
        check(
            &["2026-03-10T10:00:00Z"],
            "2026-03-10T14:59:00Z",
            Some(("2026-03-10T10:00:00Z", 0, true)),
        );
        check(
            &["2026-03-10T10:00:00Z"],
            "2026-03-10T14:59:59.999Z",
            Some(("2026-03-10T10:00:00Z", 0, true)),
        );
        // Last entry exactly 5:00 before now: inactive.
        check(
            &["2026-03-10T10:00:00Z"],
            "2026-03-10T15:00:00Z",
            Some(("2026-03-10T10:00:00Z", 0, false)),
        );
        // Last entry recent but now past the block end: inactive.
        check(
            &["2026-03-10T10:05:00Z", "2026-03-10T14:50:00Z"],
            "2026-03-10T15:00:00Z",
            Some(("2026-03-10T10:00:00Z", 0, false)),
        );
        check(
            &["2026-03-10T10:05:00Z", "2026-03-10T14:50:00Z"],
            "2026-03-10T15:10:00Z",
            Some(("2026-03-10T10:00:00Z", 0, false)),
        );
        // Last entry 4:59 before now, block start floored so the end has passed: inactive.
        check(
            &["2026-03-10T10:30:00Z"],
            "2026-03-10T15:29:00Z",
            Some(("2026-03-10T10:00:00Z", 0, false)),
        );
        // Long idle: inactive.
        check(
            &["2026-03-01T10:00:00Z"],
            "2026-03-10T10:00:00Z",
            Some(("2026-03-01T10:00:00Z", 0, false)),
        );
    }

    #[track_caller]
    fn check_floor(t: &str, expected: &str) {
        assert_eq!(floor_to_hour(at(t)), at(expected), "{t}");
    }

    #[test]
    fn floors_to_the_utc_hour() {
        check_floor("2026-03-10T10:59:59.999Z", "2026-03-10T10:00:00Z");
        check_floor("2026-03-10T10:00:00Z", "2026-03-10T10:00:00Z");
        check_floor("2026-03-10T10:30:00+05:30", "2026-03-10T05:00:00Z");
        check_floor("1969-12-31T23:30:00Z", "1969-12-31T23:00:00Z");
    }

    #[test]
    fn window_ids() {
        let expected = [
            ("five_hour", "Session (5 h)", None),
            ("seven_day", "Week (all models)", None),
            ("seven_day_sonnet", "Week (Sonnet)", Some(Family::Sonnet)),
            ("seven_day_opus", "Week (Opus)", Some(Family::Opus)),
        ];
        for (id, (text, label, family)) in WindowId::ALL.into_iter().zip(expected) {
            assert_eq!(
                (id.as_str(), id.label(), id.family()),
                (text, label, family)
            );
            assert_eq!(WindowId::from_id(text), Some(id));
        }
        assert_eq!(WindowId::from_id("seven_day_oauth_apps"), None);
        assert_eq!(Source::Oauth.as_str(), "oauth");
        assert_eq!(Source::Estimate.as_str(), "estimate");
    }

    #[track_caller]
    fn check_pct(cost: f64, cap: Option<f64>, expected: Option<f64>) {
        let counts = Counts {
            cost_usd: cost,
            ..Counts::default()
        };
        let window = Window::estimate(WindowId::FiveHour, counts, cap, None);
        assert_eq!(window.used, cost);
        assert_eq!(window.pct, expected, "{cost} of {cap:?}");
        assert_eq!(window.source, Source::Estimate);
        assert_eq!(window.label(), "Session (5 h)");
    }

    #[test]
    fn percentages() {
        check_pct(9.0, Some(18.0), Some(50.0));
        check_pct(0.0, Some(18.0), Some(0.0));
        check_pct(1.0, Some(3.0), Some(33.3));
        check_pct(2.0, Some(3.0), Some(66.7));
        check_pct(36.0, Some(18.0), Some(200.0));
        check_pct(5.0, None, None);
        check_pct(5.0, Some(0.0), None);
    }
}
