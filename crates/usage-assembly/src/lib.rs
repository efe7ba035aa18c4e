//! Turns usage events into the figures the usage panel shows: the five-hour and weekly
//! windows measured against a plan's caps, daily figures, and breakdowns per model family,
//! model and project.
//!
//! # Invariant: pure
//!
//! Everything here is a pure function of its arguments. The crate does no IO of any kind (no
//! files, environment variables, network or processes) and never reads a clock: the moment
//! the figures are for is [`AssemblyInput::now`], and the time zone of calendar days is
//! [`AssemblyInput::timezone`]. The built-in price table is compiled in from
//! `data/prices.json`. The same input, with its events in any order, always gives the same
//! [`Assembly`]. A test (`tests/it/purity.rs`) scans this crate's sources for the forbidden APIs, and the
//! crate's `clippy.toml` disallows the clock functions.
//!
//! # Rules
//!
//! - Events dated after `now` are left out of every figure and counted in
//!   [`Assembly::events_after_now`].
//! - Cost is list price ([`PriceTable`]); a model without a price counts in tokens and
//!   messages everywhere, adds $0 to every cost, and is listed in [`Assembly::unpriced`].
//! - `five_hour` is the active five-hour block by ccusage's block rule: events sorted by
//!   time; a block starts at its first event floored to the UTC hour and ends five hours
//!   later; an event more than five hours after the block's start or more than five hours
//!   after the previous event starts a new block. The last block is active when its last
//!   event is less than five hours before `now` and `now` is before its end; then the window
//!   holds its events and resets at its end, else it is empty with no reset time.
//! - `seven_day` holds the events with `now - 7 days < timestamp <= now`; `seven_day_sonnet`
//!   and `seven_day_opus` restrict it to one family. A rolling window has no fixed reset, so
//!   their estimates carry no reset time.
//! - The caps and percentages are described on [`Plan`]. Every window carries a [`Source`];
//!   everything computed here is [`Source::Estimate`].
//! - Every window then gets a pace (use against the elapsed share of a window with a reset
//!   time) and a forecast (when it reaches 100 % at the recent rate), from its final
//!   percentage and reset time, estimated or read from the server: see [`pace()`],
//!   [`forecast()`], [`recent_rate`] and [`recent_lookback`].

mod assemble;
mod calibration;
mod counts;
mod model;
mod pace;
mod plan;
mod prices;
mod reading;
mod window;

pub use assemble::{
    Assembly, AssemblyInput, Day, LegacyFigures, UNKNOWN_PROJECT, UnpricedModel, assemble,
};
pub use calibration::{
    Anchors, Calibration, CalibrationInfo, CalibrationPoint, DECAY, LocalUsage, MAX_AGE_DAYS,
    MIN_PCT, MIN_POINTS_FOR_FAMILY, anchored_interval, calibrate, calibration_points,
};
pub use counts::Counts;
pub use model::{Family, ModelId, ModelVersion, parse_model_id};
pub use pace::{
    Forecast, PACE_TOLERANCE_PCT, Pace, PaceStatus, forecast, pace, recent_lookback, recent_rate,
};
pub use plan::{ParsePlanError, Plan};
pub use prices::{
    BUILTIN_PRICES_JSON, FamilyRow, LongContext, ModelPrice, PRICE_FILE_VERSION, PriceError,
    PriceTable, Rates,
};
pub use reading::{ServerReading, ServerWindow};
pub use window::{Source, Window, WindowId};
