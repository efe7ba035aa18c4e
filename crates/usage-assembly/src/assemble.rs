//! From events to windows, days and breakdowns.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use claude_logs::UsageEvent;

use crate::calibration::CalibrationPoint;
use crate::counts::Counts;
use crate::model::Family;
use crate::plan::Plan;
use crate::prices::{ModelPrice, PriceTable};
use crate::reading::ServerReading;
use crate::window::{Window, WindowId, last_block, week_length};

/// The project name of events without a project (`cwd`).
pub const UNKNOWN_PROJECT: &str = "(unknown)";

/// Everything [`assemble`] needs; nothing is read from the environment.
#[derive(Debug, Clone, Copy)]
pub struct AssemblyInput<'a> {
    /// The events, each API response once, in any order.
    pub events: &'a [UsageEvent],
    /// The moment the figures are for. Events after it are left out of every figure.
    pub now: DateTime<Utc>,
    /// The time zone of calendar days in [`Assembly::daily`].
    pub timezone: Tz,
    /// The plan whose caps the windows are measured against.
    pub plan: Plan,
    /// The prices.
    pub prices: &'a PriceTable,
    /// A valid authoritative reading to lay over the estimate, when one was had.
    pub reading: Option<&'a ServerReading>,
    /// Earlier readings with the local usage they measured, to calibrate the estimate.
    pub calibration: &'a [CalibrationPoint],
}

impl<'a> AssemblyInput<'a> {
    /// An input from its parts. Later optional inputs will default here, so callers that use
    /// this constructor keep compiling when they are added.
    pub fn new(
        events: &'a [UsageEvent],
        now: DateTime<Utc>,
        timezone: Tz,
        plan: Plan,
        prices: &'a PriceTable,
    ) -> AssemblyInput<'a> {
        AssemblyInput {
            events,
            now,
            timezone,
            plan,
            prices,
            reading: None,
            calibration: &[],
        }
    }

    /// The same input with stored readings to calibrate the estimate from.
    pub fn with_calibration(mut self, points: &'a [CalibrationPoint]) -> AssemblyInput<'a> {
        self.calibration = points;
        self
    }

    /// The same input with an authoritative reading laid over the estimate.
    pub fn with_reading(mut self, reading: Option<&'a ServerReading>) -> AssemblyInput<'a> {
        self.reading = reading;
        self
    }
}

/// The figures for one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembly {
    /// The four windows, always all of them, in [`WindowId::ALL`] order.
    pub windows: Vec<Window>,
    /// Use per model family over the seven-day window: only families with responses, in
    /// [`Family::ALL`] order.
    pub family_breakdown: Vec<(Family, Counts)>,
    /// One entry per calendar day with responses, oldest first.
    pub daily: Vec<Day>,
    /// Use per model id over the whole history, most expensive first, ties by model id.
    pub models: Vec<(String, Counts)>,
    /// Use per project over the whole history, most expensive first, ties by name; events
    /// without a project are under [`UNKNOWN_PROJECT`].
    pub projects: Vec<(String, Counts)>,
    /// The whole history.
    pub totals: Counts,
    /// Models without a price, by model id. Their responses count in tokens and messages
    /// everywhere and add $0 to every cost.
    pub unpriced: Vec<UnpricedModel>,
    /// Events dated after `now`, left out of every other figure.
    pub events_after_now: u64,
    /// The plan the caps came from.
    pub plan: Plan,
    /// The older, message-based figures.
    pub legacy: LegacyFigures,
}

impl Assembly {
    /// The window with this id.
    pub fn window(&self, id: WindowId) -> Option<&Window> {
        self.windows.iter().find(|w| w.id == id)
    }
}

/// One calendar day.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    /// The calendar day of the events in the input's time zone.
    pub date: NaiveDate,
    /// The day's responses.
    pub counts: Counts,
    /// The day's responses per model id, sorted by model id.
    pub models: Vec<(String, Counts)>,
}

/// A model with no known price.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnpricedModel {
    /// The model id as logged.
    pub model: String,
    /// Its responses.
    pub messages: u64,
    /// Its tokens (input + output + cache writes + cache reads).
    pub total_tokens: u64,
}

/// Message-based figures for older readers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegacyFigures {
    /// The five-hour window's percentage, or `None` when the plan is unknown.
    pub pct_used: Option<f64>,
    /// Responses in the active five-hour block (0 when none is active).
    pub messages_used: u64,
    /// The plan's published guide of messages per five hours, or `None` when unknown.
    pub message_cap: Option<u64>,
}

/// Turns events into windows, daily figures and breakdowns.
///
/// Deterministic: the same input, in any event order, gives the same output.
pub fn assemble(input: &AssemblyInput<'_>) -> Assembly {
    let now = input.now;
    let mut events: Vec<&UsageEvent> = input.events.iter().filter(|e| e.timestamp <= now).collect();
    let events_after_now = (input.events.len() - events.len()) as u64;
    // The reader hands the events over in this order already; checking is linear, sorting is not.
    if !events.is_sorted_by(|a, b| compare_events(a, b) != Ordering::Greater) {
        events.sort_unstable_by(|a, b| compare_events(a, b));
    }
    // A history holds few distinct models: look each up once, not once per response.
    let mut lookups: HashMap<&str, (Option<&ModelPrice>, Family)> = HashMap::new();
    let mut event_families: Vec<Family> = Vec::with_capacity(events.len());
    let mut priced: Vec<(&UsageEvent, Option<f64>)> = Vec::with_capacity(events.len());
    for event in &events {
        let model: &str = &event.model;
        let (price, family) = *lookups
            .entry(model)
            .or_insert_with(|| (input.prices.lookup(model), Family::from_model(model)));
        event_families.push(family);
        priced.push((*event, price.map(|p| p.cost(&event.tokens, event.speed))));
    }

    let mut totals = Counts::default();
    let mut models: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut projects: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut days: BTreeMap<NaiveDate, (Counts, BTreeMap<&str, Counts>)> = BTreeMap::new();
    let mut unpriced: BTreeMap<&str, UnpricedModel> = BTreeMap::new();
    let mut week = Counts::default();
    let mut families: BTreeMap<Family, Counts> = BTreeMap::new();
    let week_start = now - week_length();

    for ((event, cost), family) in priced.iter().zip(&event_families) {
        let tokens = &event.tokens;
        totals.add_event(tokens, *cost);
        models
            .entry(&event.model)
            .or_default()
            .add_event(tokens, *cost);
        let project = event.project.as_deref().unwrap_or(UNKNOWN_PROJECT);
        projects
            .entry(project)
            .or_default()
            .add_event(tokens, *cost);
        let date = event.timestamp.with_timezone(&input.timezone).date_naive();
        let (day, day_models) = days.entry(date).or_default();
        day.add_event(tokens, *cost);
        day_models
            .entry(&event.model)
            .or_default()
            .add_event(tokens, *cost);
        if cost.is_none() {
            let entry = unpriced
                .entry(&event.model)
                .or_insert_with(|| UnpricedModel {
                    model: event.model.to_string(),
                    messages: 0,
                    total_tokens: 0,
                });
            entry.messages = entry.messages.saturating_add(1);
            entry.total_tokens = entry.total_tokens.saturating_add(tokens.total());
        }
        if event.timestamp > week_start {
            week.add_event(tokens, *cost);
            families
                .entry(*family)
                .or_default()
                .add_event(tokens, *cost);
        }
    }

    let mut five_hour = Counts::default();
    let mut resets_at = None;
    if let Some(block) = last_block(priced.iter().map(|(e, _)| e.timestamp))
        && block.is_active(now)
    {
        for (event, cost) in &priced[block.first..] {
            five_hour.add_event(&event.tokens, *cost);
        }
        resets_at = Some(block.end());
    }

    let plan = input.plan;
    let family_week = |family: Family| families.get(&family).copied().unwrap_or_default();
    let windows = WindowId::ALL
        .into_iter()
        .map(|id| match id {
            WindowId::FiveHour => {
                Window::estimate(id, five_hour, plan.five_hour_cap_usd(), resets_at)
            }
            WindowId::SevenDay => Window::estimate(id, week, plan.weekly_cap_usd(), None),
            WindowId::SevenDaySonnet => {
                Window::estimate(id, family_week(Family::Sonnet), plan.weekly_cap_usd(), None)
            }
            WindowId::SevenDayOpus => {
                Window::estimate(id, family_week(Family::Opus), plan.weekly_cap_usd(), None)
            }
        })
        .collect::<Vec<_>>();
    let mut windows = windows;
    if !input.calibration.is_empty() {
        crate::calibration::apply(&mut windows, input.calibration, &priced, now);
    }
    if let Some(reading) = input.reading {
        for window in &mut windows {
            if let Some(server) = reading.windows.get(window.id.as_str()) {
                window.apply_reading(server);
            }
        }
    }
    let windows = crate::pace::with_outlook(windows, &priced, now);
    let legacy = LegacyFigures {
        pct_used: windows[0].pct,
        messages_used: five_hour.messages,
        message_cap: plan.message_cap(),
    };

    Assembly {
        windows,
        family_breakdown: families
            .into_iter()
            .filter(|(_, c)| !c.is_empty())
            .collect(),
        daily: days
            .into_iter()
            .map(|(date, (counts, models))| Day {
                date,
                counts,
                models: models
                    .into_iter()
                    .map(|(model, counts)| (model.to_owned(), counts))
                    .collect(),
            })
            .collect(),
        models: most_expensive_first(models),
        projects: most_expensive_first(projects),
        totals,
        unpriced: unpriced.into_values().collect(),
        events_after_now,
        plan,
        legacy,
    }
}

fn most_expensive_first(map: BTreeMap<&str, Counts>) -> Vec<(String, Counts)> {
    let mut list: Vec<(String, Counts)> = map
        .into_iter()
        .map(|(name, counts)| (name.to_owned(), counts))
        .collect();
    list.sort_by(|a, b| {
        b.1.cost_usd
            .total_cmp(&a.1.cost_usd)
            .then_with(|| a.0.cmp(&b.0))
    });
    list
}

/// A total order on events: by time, then by every other field, so that sums (floating-point
/// costs included) do not depend on the input order. The same order as the reader's
/// ([`claude_logs::compare_events`]), so input that comes sorted needs no sort.
fn compare_events(a: &UsageEvent, b: &UsageEvent) -> Ordering {
    claude_logs::compare_events(a, b)
}

#[cfg(test)]
mod tests;
