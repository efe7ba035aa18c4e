//! An authoritative reading of the server's windows, as the assembly consumes it.
//!
//! The caller (which did the fetching) reduces the server's answer to this: per window id, the
//! percentage as the server gave it and the reset time. The assembly lays it over the
//! estimate: a window the reading covers takes the server's `pct` and `resets_at` and is marked
//! [`Source::Oauth`]; the others keep the estimate. Local counts stay on every window.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::window::{Source, Window};

/// The windows of one valid server reading, keyed by the server's window id (`five_hour`,
/// `seven_day`, `seven_day_sonnet`, `seven_day_opus`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerReading {
    /// The windows read.
    pub windows: BTreeMap<String, ServerWindow>,
}

/// One window as the server reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerWindow {
    /// Percentage used, 0-100, as the server gave it (never rescaled).
    pub pct: f64,
    /// When the window resets; `None` when the server gave none (an idle window).
    pub resets_at: Option<DateTime<Utc>>,
}

impl Window {
    /// Lays a server reading over this window: the server's percentage becomes `pct` (and
    /// `used`, against a `cap` of 100), its reset becomes `resets_at`, and the source `Oauth`.
    /// A non-finite percentage is ignored and the estimate kept.
    pub(crate) fn apply_reading(&mut self, server: &ServerWindow) {
        if !server.pct.is_finite() {
            return;
        }
        self.used = server.pct;
        self.cap = Some(100.0);
        self.pct = Some(server.pct);
        self.resets_at = server.resets_at;
        self.source = Source::Oauth;
        self.calibration = None;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use claude_logs::{Speed, TokenCounts, UsageEvent};

    use super::*;
    use crate::{AssemblyInput, Plan, PriceTable, WindowId, assemble};

    fn event(at: DateTime<Utc>, model: &str, output: u64) -> UsageEvent {
        UsageEvent {
            timestamp: at,
            model: Arc::from(model),
            tokens: TokenCounts {
                output,
                ..TokenCounts::default()
            },
            speed: Speed::Standard,
            project: None,
            session_id: None,
        }
    }

    #[test]
    fn covered_windows_take_the_server_figures_and_keep_local_counts() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let reset = Utc.with_ymd_and_hms(2026, 11, 28, 14, 0, 0).unwrap();
        let events = [
            event(
                now - chrono::TimeDelta::minutes(30),
                "claude-sonnet-4-5",
                1_000_000,
            ),
            event(
                now - chrono::TimeDelta::days(2),
                "claude-opus-4-5",
                1_000_000,
            ),
        ];
        let prices = PriceTable::builtin();
        let mut reading = ServerReading::default();
        reading.windows.insert(
            "five_hour".into(),
            ServerWindow {
                pct: 0.5,
                resets_at: Some(reset),
            },
        );
        reading.windows.insert(
            "seven_day_sonnet".into(),
            ServerWindow {
                pct: 1.0,
                resets_at: None,
            },
        );
        reading.windows.insert(
            "seven_day_opus".into(),
            ServerWindow {
                pct: f64::NAN,
                resets_at: Some(reset),
            },
        );
        reading.windows.insert(
            "seven_day_oauth_apps".into(),
            ServerWindow {
                pct: 3.0,
                resets_at: None,
            },
        );
        let input = AssemblyInput::new(&events, now, chrono_tz::UTC, Plan::Max5, &prices)
            .with_reading(Some(&reading));
        let assembly = assemble(&input);

        let five = assembly.window(WindowId::FiveHour).unwrap();
        assert_eq!(five.source, Source::Oauth);
        assert_eq!(five.pct, Some(0.5), "0.5 is half a percent, never rescaled");
        assert_eq!((five.used, five.cap), (0.5, Some(100.0)));
        assert_eq!(five.resets_at, Some(reset));
        assert_eq!(five.counts.messages, 1, "local counts stay");
        assert!((five.counts.cost_usd - 15.0).abs() < 1e-9);
        assert_eq!(assembly.legacy.pct_used, Some(0.5));

        let sonnet = assembly.window(WindowId::SevenDaySonnet).unwrap();
        assert_eq!(
            (sonnet.source, sonnet.pct, sonnet.resets_at),
            (Source::Oauth, Some(1.0), None)
        );

        let week = assembly.window(WindowId::SevenDay).unwrap();
        assert_eq!(week.source, Source::Estimate, "not in the reading");
        assert_eq!(week.cap, Some(350.0));

        let opus = assembly.window(WindowId::SevenDayOpus).unwrap();
        assert_eq!(
            opus.source,
            Source::Estimate,
            "a non-finite percentage is ignored"
        );
    }

    #[test]
    fn without_a_reading_everything_is_an_estimate() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let prices = PriceTable::builtin();
        let input = AssemblyInput::new(&[], now, chrono_tz::UTC, Plan::Pro, &prices);
        let assembly = assemble(&input);
        assert!(
            assembly
                .windows
                .iter()
                .all(|w| w.source == Source::Estimate)
        );
    }
}
