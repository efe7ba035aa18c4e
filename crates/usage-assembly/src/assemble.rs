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
    // The reader hands the events over in order: they are summed where they are, in one pass
    // that also checks the order. Other input is sorted first.
    let (sums, events_after_now) = Sums::of_ordered(input).unwrap_or_else(|| {
        let mut events: Vec<&UsageEvent> =
            input.events.iter().filter(|e| e.timestamp <= now).collect();
        events.sort_unstable_by(|a, b| compare_events(a, b));
        let mut sums = Sums::new(input, events.len());
        for event in &events {
            sums.add(event);
        }
        (sums, (input.events.len() - events.len()) as u64)
    });
    let Sums {
        model_ids,
        project_ids,
        priced,
        totals,
        models,
        projects,
        mut days,
        unpriced,
        week,
        families,
        ..
    } = sums;
    days.sort_by_key(|(date, _, _)| *date);

    let mut five_hour = Counts::default();
    let mut resets_at = None;
    if let Some(block) = last_block(priced.len(), |i| priced[i].event.timestamp)
        && block.is_active(now)
    {
        for p in &priced[block.first..] {
            five_hour.add_event(&p.event.tokens, p.cost);
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
            .map(|(date, counts, models)| {
                let mut models: Vec<(String, Counts)> = models
                    .into_iter()
                    .enumerate()
                    .filter(|(_, counts)| !counts.is_empty())
                    .map(|(m, counts)| (model_ids.names[m].to_owned(), counts))
                    .collect();
                models.sort_by(|a, b| a.0.cmp(&b.0));
                Day {
                    date,
                    counts,
                    models,
                }
            })
            .collect(),
        models: most_expensive_first(&model_ids.names, models),
        projects: most_expensive_first(&project_ids.names, projects),
        totals,
        unpriced: {
            let mut list: Vec<UnpricedModel> = unpriced.into_iter().flatten().collect();
            list.sort_by(|a, b| a.model.cmp(&b.model));
            list
        },
        events_after_now,
        plan,
        legacy,
    }
}

/// The sums over a history, gathered in one pass over its events in time order.
struct Sums<'a> {
    timezone: Tz,
    prices: &'a PriceTable,
    week_start: DateTime<Utc>,
    // A history holds few distinct models and projects: each gets a small index, looked up
    // once per run of equal strings (the reader shares one copy of each), and the sums are
    // kept in vectors by index.
    model_ids: Indexer<'a>,
    project_ids: Indexer<'a>,
    /// Per model index: its price and family.
    lookups: Vec<(Option<&'a ModelPrice>, Family)>,
    /// The events in time order, with their cost and family.
    priced: Vec<Priced<'a>>,
    totals: Counts,
    /// Per model index.
    models: Vec<Counts>,
    /// Per project index.
    projects: Vec<Counts>,
    /// Per calendar day: its counts and its counts per model index.
    days: Vec<(NaiveDate, Counts, Vec<Counts>)>,
    day_index: HashMap<NaiveDate, usize>,
    /// Per model index, when unpriced.
    unpriced: Vec<Option<UnpricedModel>>,
    week: Counts,
    families: BTreeMap<Family, Counts>,
}

impl<'a> Sums<'a> {
    fn new(input: &AssemblyInput<'a>, events: usize) -> Self {
        Self {
            timezone: input.timezone,
            prices: input.prices,
            week_start: input.now - week_length(),
            model_ids: Indexer::default(),
            project_ids: Indexer::default(),
            lookups: Vec::new(),
            priced: Vec::with_capacity(events),
            totals: Counts::default(),
            models: Vec::new(),
            projects: Vec::new(),
            days: Vec::new(),
            day_index: HashMap::new(),
            unpriced: Vec::new(),
            week: Counts::default(),
            families: BTreeMap::new(),
        }
    }

    /// The sums of `input`'s events and the number dated after `now`, when those up to `now`
    /// come first and in order (as the reader gives them); `None` otherwise.
    fn of_ordered(input: &AssemblyInput<'a>) -> Option<(Self, u64)> {
        let events = input.events;
        let mut sums = Self::new(input, events.len());
        let mut previous: Option<&UsageEvent> = None;
        for (i, event) in events.iter().enumerate() {
            if event.timestamp > input.now {
                let rest = &events[i..];
                return rest
                    .iter()
                    .all(|e| e.timestamp > input.now)
                    .then_some((sums, rest.len() as u64));
            }
            if let Some(previous) = previous {
                // Times first: the whole comparison only for events of the same instant.
                let ordered = match previous.timestamp.cmp(&event.timestamp) {
                    Ordering::Less => true,
                    Ordering::Greater => false,
                    Ordering::Equal => compare_events(previous, event) != Ordering::Greater,
                };
                if !ordered {
                    return None;
                }
            }
            previous = Some(event);
            sums.add(event);
        }
        Some((sums, 0))
    }

    /// Adds the next event in time order.
    fn add(&mut self, event: &'a UsageEvent) {
        let model: &str = &event.model;
        let m = self.model_ids.index(model);
        if m == self.lookups.len() {
            self.lookups
                .push((self.prices.lookup(model), Family::from_model(model)));
            self.models.push(Counts::default());
            self.unpriced.push(None);
        }
        let (price, family) = self.lookups[m];
        let tokens = &event.tokens;
        let cost = price.map(|p| p.cost(tokens, event.speed));
        self.priced.push(Priced {
            event,
            cost,
            family,
        });
        self.totals.add_event(tokens, cost);
        self.models[m].add_event(tokens, cost);
        let project = self
            .project_ids
            .index(event.project.as_deref().unwrap_or(UNKNOWN_PROJECT));
        if project == self.projects.len() {
            self.projects.push(Counts::default());
        }
        self.projects[project].add_event(tokens, cost);
        let date = event.timestamp.with_timezone(&self.timezone).date_naive();
        // Events in order give each day in one run; a day seen before (a clock change in the
        // zone) is found by its date.
        let d = match self.days.last() {
            Some((last, _, _)) if *last == date => self.days.len() - 1,
            _ => *self.day_index.entry(date).or_insert_with(|| {
                self.days.push((date, Counts::default(), Vec::new()));
                self.days.len() - 1
            }),
        };
        let (_, day, day_models) = &mut self.days[d];
        day.add_event(tokens, cost);
        if day_models.len() <= m {
            day_models.resize(m + 1, Counts::default());
        }
        day_models[m].add_event(tokens, cost);
        if cost.is_none() {
            let entry = self.unpriced[m].get_or_insert_with(|| UnpricedModel {
                model: event.model.to_string(),
                messages: 0,
                total_tokens: 0,
            });
            entry.messages = entry.messages.saturating_add(1);
            entry.total_tokens = entry.total_tokens.saturating_add(tokens.total());
        }
        if event.timestamp > self.week_start {
            self.week.add_event(tokens, cost);
            self.families
                .entry(family)
                .or_default()
                .add_event(tokens, cost);
        }
    }
}

/// An event with its list-price cost (`None`: unpriced) and its model's family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Priced<'a> {
    pub(crate) event: &'a UsageEvent,
    pub(crate) cost: Option<f64>,
    pub(crate) family: Family,
}

/// The time-sorted `priced` events from `start` on (after `start` when not `inclusive`),
/// found by a binary search: what a window of the last days needs out of the whole history.
pub(crate) fn since<'p, 'a>(
    priced: &'p [Priced<'a>],
    start: DateTime<Utc>,
    inclusive: bool,
) -> &'p [Priced<'a>] {
    let first = priced.partition_point(|p| {
        let t = p.event.timestamp;
        if inclusive { t < start } else { t <= start }
    });
    &priced[first..]
}

/// Small indexes for a few distinct strings, in order of first sight.
#[derive(Debug, Default)]
struct Indexer<'a> {
    names: Vec<&'a str>,
    by_name: HashMap<&'a str, usize>,
    /// The index of each copy (address and length) seen: the reader shares one copy of each
    /// string, so most lookups hash two words, not the string.
    by_copy: HashMap<(usize, usize), usize, claude_logs::WordHashed>,
}

impl<'a> Indexer<'a> {
    fn index(&mut self, name: &'a str) -> usize {
        let copy = (name.as_ptr() as usize, name.len());
        if let Some(&index) = self.by_copy.get(&copy) {
            return index;
        }
        let next = self.names.len();
        let index = *self.by_name.entry(name).or_insert(next);
        if index == next {
            self.names.push(name);
        }
        self.by_copy.insert(copy, index);
        index
    }
}

fn most_expensive_first(names: &[&str], counts: Vec<Counts>) -> Vec<(String, Counts)> {
    let mut list: Vec<(String, Counts)> = names
        .iter()
        .zip(counts)
        .map(|(name, counts)| ((*name).to_owned(), counts))
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
