//! The authoritative reading: run beside the transcript scan, bounded by its budget, and
//! reduced to what the assembly and the contract carry.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use live_data_schema as wire;
use oauth_usage::{AuthMode, Outcome, ReaderConfig, Severity, UsageReading};
use usage_assembly::{CalibrationPoint, LocalUsage, ServerReading, ServerWindow, WindowId};
use usage_ledger::StoredReading;

/// The name of this program's folder in the state directory.
pub(crate) const STATE_APP: &str = "aios-usage";

/// How much sooner than the run's budget the reader itself gives up.
const READER_MARGIN: Duration = Duration::from_millis(300);

/// The part of the budget kept for what a run does after it stops waiting (assembly, output,
/// exit: tens of milliseconds, more on a loaded machine), so that the whole run, not only the
/// wait, stays within the budget; a tenth of the budget when that is less.
const FINISH_MARGIN: Duration = Duration::from_millis(250);

/// A read in flight on its own thread.
pub(crate) struct Pending {
    receiver: mpsc::Receiver<Outcome>,
    deadline: Instant,
}

/// Starts the read on a thread of its own, so that it runs while the transcripts are scanned.
/// `started`: when the run began; its budget counts from there.
pub(crate) fn spawn(mut config: ReaderConfig, now: DateTime<Utc>, started: Instant) -> Pending {
    // The run stops waiting for the reading when its budget, counted from the run's start, is
    // spent but for the time it needs to finish. The reader bounds itself by a slightly
    // shorter budget, so that it gives up (and says why) before the run stops waiting.
    let (deadline, reader_budget) = deadlines(started, config.budget, Instant::now());
    config.budget = reader_budget;
    let (sender, receiver) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("oauth-usage".into())
        .spawn(move || {
            let outcome = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(oauth_usage::read_usage(&config, now)),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot start the async runtime for the usage read");
                    Outcome::skipped(oauth_usage::SkipReason::Network)
                }
            };
            let _ = sender.send(outcome);
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the usage read");
    }
    Pending { receiver, deadline }
}

/// For a run that began at `started` with `budget`, at `now`: when the run stops waiting for the
/// reading, and the budget of the reader itself.
fn deadlines(started: Instant, budget: Duration, now: Instant) -> (Instant, Duration) {
    let deadline = started + budget.saturating_sub(FINISH_MARGIN.min(budget / 10));
    let reader = deadline
        .saturating_duration_since(now)
        .saturating_sub(READER_MARGIN);
    (deadline, reader)
}

impl Pending {
    /// The outcome, or a timeout outcome when the read overran its budget (the thread is left
    /// to end with the process).
    pub(crate) fn wait(self) -> Outcome {
        let left = self.deadline.saturating_duration_since(Instant::now());
        match self.receiver.recv_timeout(left) {
            Ok(outcome) => outcome,
            Err(_) => Outcome::skipped(oauth_usage::SkipReason::Timeout),
        }
    }
}

/// `oauth`, `api_key` or `unknown`, as in the contract.
pub(crate) fn auth_mode(mode: AuthMode) -> &'static str {
    match mode {
        AuthMode::OAuth => "oauth",
        AuthMode::ApiKey => "api_key",
        AuthMode::Unknown => "unknown",
    }
}

/// The windows of a reading, as the assembly lays them over the estimate.
pub(crate) fn server_reading(reading: &UsageReading) -> ServerReading {
    ServerReading {
        windows: reading
            .windows
            .iter()
            .map(|(id, w)| {
                (
                    id.clone(),
                    ServerWindow {
                        pct: w.utilization,
                        resets_at: w.resets_at,
                    },
                )
            })
            .collect(),
    }
}

/// The bounded `authoritative` object of the contract: known fields only, no body, no token.
pub(crate) fn authoritative(reading: &UsageReading) -> wire::Authoritative {
    wire::Authoritative {
        source: "oauth-usage-api".to_owned(),
        fetched_at: reading.fetched_at,
        subscription_type: reading.subscription_type.clone(),
        rate_limit_tier: reading.rate_limit_tier.clone(),
        windows: reading
            .windows
            .iter()
            .map(|(id, w)| wire::AuthoritativeWindow {
                id: id.clone(),
                pct: w.utilization,
                resets_at: w.resets_at,
                severity: w.severity.map(|s| severity(s).to_owned()),
            })
            .collect(),
        extra_usage: reading.extra_usage.as_ref().map(|extra| wire::ExtraUsage {
            enabled: extra.is_enabled.unwrap_or(false),
            used_minor: extra.used_credits_minor,
            limit_minor: extra.monthly_limit_minor,
            currency: extra.currency.clone(),
        }),
    }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Normal => "normal",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// A calibration point as stored beside the ledger.
pub(crate) fn point_to_stored(point: &CalibrationPoint) -> StoredReading {
    StoredReading {
        at: point.at,
        window: point.window.as_str().to_owned(),
        pct: point.pct,
        resets_at: point.resets_at,
        cost_opus: point.local.cost_opus,
        cost_other: point.local.cost_other,
        tokens: point.local.tokens,
        messages: point.local.messages,
    }
}

/// A stored reading as a calibration point; `None` for a window this version does not
/// estimate.
pub(crate) fn point_from_stored(stored: &StoredReading) -> Option<CalibrationPoint> {
    Some(CalibrationPoint {
        at: stored.at,
        window: WindowId::from_id(&stored.window)?,
        pct: stored.pct,
        resets_at: stored.resets_at,
        local: LocalUsage {
            cost_opus: stored.cost_opus,
            cost_other: stored.cost_other,
            tokens: stored.tokens,
            messages: stored.messages,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_budget_counts_from_the_run_start_and_keeps_time_to_finish() {
        let started = Instant::now();
        // The default: the wait ends 250 ms before the budget; the reader gives up 300 ms
        // before the wait ends, counted from when it starts.
        let (deadline, reader) = deadlines(started, ms(6000), started + ms(40));
        assert_eq!(deadline, started + ms(5750));
        assert_eq!(reader, ms(5410));
        // A short budget keeps a tenth of itself to finish, and the reader still has time.
        let (deadline, reader) = deadlines(started, ms(1000), started + ms(40));
        assert_eq!(deadline, started + ms(900));
        assert_eq!(reader, ms(560));
        // Spent already: no wait, no reader budget; nothing underflows.
        let (deadline, reader) = deadlines(started, ms(200), started + ms(500));
        assert_eq!(deadline, started + ms(180));
        assert_eq!(reader, Duration::ZERO);
    }
}
