//! The contract of `live-data.json`: the file `aggregate run` writes and the usage panel reads.
//!
//! This crate holds wire types only. They are camelCase, serialize in a stable order, and are
//! the single source of the JSON Schema committed at `schema/live-data.schema.json`
//! ([`json_schema`]). Domain types elsewhere convert into these at the boundary.
//!
//! Compatibility rule: fields are only ever added. A field added after version 1 is optional
//! in the schema (`#[serde(default)]`), so files written by older versions keep validating.

#![deny(missing_docs)]

mod validate;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use validate::{ValidationError, Validator};

/// The version written into `schemaVersion` by this build.
///
/// Bumped when a release adds fields (always optional ones); a field is never removed or
/// retyped. Version 1: the windows, daily activity and breakdowns; version 2 adds `pace`,
/// `forecast` and `calibration` on windows and the bounded `authoritative` reading.
pub const SCHEMA_VERSION: u32 = 2;

/// The whole `live-data.json` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "live-data.json")]
pub struct LiveData {
    /// The version of this contract the file was written with.
    pub schema_version: u32,
    /// When the file was produced (RFC 3339, UTC).
    pub generated_at: DateTime<Utc>,
    /// The IANA time zone used for calendar days in `daily`, e.g. `Europe/Berlin`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The usage windows and how they were obtained.
    pub usage: Usage,
    /// Activity per calendar day, oldest first.
    pub daily: Vec<DailyUsage>,
    /// Use per model over the whole history, most expensive first.
    #[serde(default)]
    pub model_usage: Vec<ModelUsage>,
    /// Use per project (working directory) over the whole history, most expensive first.
    #[serde(default)]
    pub projects: Vec<ProjectUsage>,
    /// Totals over the whole history.
    #[serde(default)]
    pub totals: Option<Counts>,
    /// What the transcript scan read and what it skipped, as counts (never content).
    #[serde(default)]
    pub scan: Option<ScanSummary>,
}

/// The `usage` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Usage {
    /// Claude's session and weekly limits.
    pub claude_window: ClaudeWindow,
}

/// Claude's usage windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaudeWindow {
    /// The subscription plan the caps were derived from: `pro`, `max5`, `max20`, or `unknown`.
    pub plan: String,
    /// How Claude Code is signed in: `oauth` (a Pro or Max subscription), `api_key`, or `unknown`.
    #[serde(default)]
    pub auth_mode: Option<String>,
    /// `oauth` when a valid reading of Anthropic's usage endpoint was used for at least one
    /// window, `estimate` otherwise. Files without it are estimates.
    #[serde(default)]
    pub source: Option<Source>,
    /// Legacy: the five-hour window's percentage (0-100), or null when no cap is known.
    pub pct_used: Option<f64>,
    /// Legacy: responses counted in the current five-hour block.
    pub messages_used: u64,
    /// Legacy: the plan's guideline of messages per five hours, or null when unknown.
    pub message_cap: Option<u64>,
    /// One entry per window: `five_hour`, `seven_day`, and per-model weekly windows.
    pub windows: Vec<Window>,
    /// Local use per model family (`opus`, `sonnet`, `haiku`, `other`) over the last seven days.
    #[serde(default)]
    pub family_breakdown: Vec<FamilyUsage>,
    /// The authoritative reading that was used, or null when none was.
    #[serde(default)]
    pub authoritative: Option<Authoritative>,
}

/// A reading of Anthropic's usage endpoint, reduced to known, bounded fields.
///
/// It never holds a raw body, an unknown key, a token or a header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authoritative {
    /// Always `oauth-usage-api`.
    #[schemars(regex(pattern = r"^oauth-usage-api$"))]
    pub source: String,
    /// When the reading was fetched from the server (RFC 3339, UTC).
    pub fetched_at: DateTime<Utc>,
    /// The credential's `subscriptionType` (`pro`, `max`, ...), when known.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub subscription_type: Option<String>,
    /// The credential's `rateLimitTier`, when known.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub rate_limit_tier: Option<String>,
    /// The windows the server reported.
    #[schemars(length(max = 32))]
    pub windows: Vec<AuthoritativeWindow>,
    /// Pay-as-you-go usage beyond the plan, when the server reported it.
    #[serde(default)]
    pub extra_usage: Option<ExtraUsage>,
}

/// One window as the server reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthoritativeWindow {
    /// `five_hour`, `seven_day`, `seven_day_sonnet`, `seven_day_opus`, ...
    #[schemars(regex(pattern = r"^[a-z0-9_]{1,64}$"))]
    pub id: String,
    /// Percentage used, 0-100 as the server gave it (kept bounded, never rescaled).
    #[schemars(range(min = 0, max = 1000))]
    pub pct: f64,
    /// When the window resets, or null when the server gave none.
    pub resets_at: Option<DateTime<Utc>>,
    /// `normal`, `warning` or `critical`, where the server's `limits[]` gave it.
    #[serde(default)]
    #[schemars(regex(pattern = r"^(normal|warning|critical)$"))]
    pub severity: Option<String>,
}

/// Extra (pay-as-you-go) usage, in minor currency units (cents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExtraUsage {
    /// Whether extra usage is enabled for the account.
    pub enabled: bool,
    /// Used this month, in minor units.
    pub used_minor: Option<i64>,
    /// The monthly limit, in minor units.
    pub limit_minor: Option<i64>,
    /// ISO 4217 currency code, when given.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub currency: Option<String>,
}

/// Where a percentage comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Anthropic's own usage endpoint (a live reading).
    Oauth,
    /// Computed from local transcripts.
    Estimate,
}

/// One usage window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Window {
    /// `five_hour`, `seven_day`, `seven_day_sonnet` or `seven_day_opus`.
    #[serde(default)]
    pub id: Option<String>,
    /// A human label, e.g. `Session (5 h)`.
    pub label: String,
    /// Use in the unit of `cap` (US dollars of list price for estimates).
    pub used: f64,
    /// The cap `used` is measured against, or null when no cap is known.
    pub cap: Option<f64>,
    /// Percentage used, 0-100 (may exceed 100 for an estimate), or null when no cap is known.
    pub pct: Option<f64>,
    /// Where `pct` comes from.
    #[serde(default)]
    pub source: Option<Source>,
    /// When the window resets (RFC 3339), or null when unknown or idle.
    #[serde(default)]
    pub resets_at: Option<DateTime<Utc>>,
    /// Local tokens in the window (input + output + cache writes + cache reads).
    #[serde(default)]
    pub tokens: u64,
    /// Local cost in the window, US dollars at list price.
    #[serde(default)]
    pub cost_usd: f64,
    /// Local API responses in the window.
    #[serde(default)]
    pub messages: u64,
    /// The percentage used against the elapsed share of the window, or null without a
    /// percentage or a reset time (a rolling window has no elapsed share).
    #[serde(default)]
    pub pace: Option<Pace>,
    /// When the window reaches 100 % at the recent rate, or null without a percentage or a
    /// known rate.
    #[serde(default)]
    pub forecast: Option<Forecast>,
    /// When the estimate was calibrated from earlier live readings: how many and how recent.
    /// Null for live windows and uncalibrated estimates.
    #[serde(default)]
    pub calibration: Option<WindowCalibration>,
}

/// How an estimated window was calibrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowCalibration {
    /// Live readings the fitted cap comes from.
    pub readings: u64,
    /// When the newest of them was fetched (RFC 3339, UTC).
    pub newest_at: DateTime<Utc>,
    /// Opus usage counts this many times its list price against the cap (1 when not fitted).
    pub opus_weight: f64,
}

/// A window's use against the share of it that has passed.
///
/// A window with a reset started one window length (5 hours or 7 days) before it; the elapsed
/// share is `(now - start) / length`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pace {
    /// The share of the window that has passed, 0-100.
    pub elapsed_pct: f64,
    /// The percentage used (the window's `pct`).
    pub used_pct: f64,
    /// `ahead` when `usedPct` is more than 5 points above `elapsedPct`, `behind` when more
    /// than 5 points below, `on_track` otherwise.
    pub status: PaceStatus,
}

/// Whether a window is used faster or slower than its time passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaceStatus {
    /// Used faster than the window passes: the limit comes before the reset at this pace.
    Ahead,
    /// Within 5 points of the elapsed share.
    OnTrack,
    /// Used slower than the window passes.
    Behind,
}

/// When a window reaches its limit at the recent rate.
///
/// The recent rate is the window's percentage times the share of its local cost spent in the
/// last hour (five-hour window) or 24 hours (weekly windows), or since the window started if
/// that is shorter, per hour; it is extrapolated in a straight line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Forecast {
    /// The recent rate, percentage points per hour.
    pub rate_pct_per_hour: f64,
    /// When the window reaches 100 % at that rate (the file's time when it already has), or
    /// null when not before the reset (for a window without a reset: not within one window
    /// length).
    pub reaches_limit_at: Option<DateTime<Utc>>,
    /// Whether the limit is reached before the window resets; false for a window without a
    /// reset time.
    pub before_reset: bool,
    /// The percentage at the reset at that rate (may exceed 100), or null for a window without
    /// a reset time.
    pub pct_at_reset: Option<f64>,
}

/// Local use of one model family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FamilyUsage {
    /// `opus`, `sonnet`, `haiku` or `other`.
    pub family: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// Token counts, cost and responses of a set of API responses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Uncached input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cache write tokens (5-minute and 1-hour).
    pub cache_creation_tokens: u64,
    /// Cache read tokens.
    pub cache_read_tokens: u64,
    /// The sum of the four counts above.
    pub total_tokens: u64,
    /// US dollars at list price; unpriced models count as 0 here and are listed in
    /// `scan.unpricedModels`.
    pub cost_usd: f64,
    /// API responses.
    pub messages: u64,
}

/// One calendar day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyUsage {
    /// The day, `YYYY-MM-DD`, in the file's `timezone`.
    #[schemars(regex(pattern = r"^\d{4}-\d{2}-\d{2}$"))]
    pub date: String,
    /// The day's counts.
    #[serde(flatten)]
    pub counts: Counts,
    /// The day's counts per model.
    #[serde(default)]
    pub models: Vec<ModelUsage>,
}

/// Use of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelUsage {
    /// The model id as logged, e.g. `claude-sonnet-4-5-20250929`.
    pub model: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// Use of one project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectUsage {
    /// The working directory, relative to the home directory where it is under it (`~/...`).
    pub project: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: Counts,
}

/// What the transcript scan read and skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanSummary {
    /// Transcript roots searched (home-relative).
    pub roots: Vec<String>,
    /// Transcript files read.
    pub files: u64,
    /// Transcript files that could not be read.
    pub unreadable_files: u64,
    /// API responses counted once each.
    pub events: u64,
    /// Lines that repeated an already counted response.
    pub duplicate_lines: u64,
    /// Lines skipped because they could not be read, by reason.
    pub skipped_lines: SkippedLines,
    /// Responses whose model has no known price.
    pub unpriced_models: Vec<UnpricedModel>,
    /// Responses dated after the run's `now`, left out of every figure.
    #[serde(default)]
    pub events_after_now: u64,
}

/// Skipped lines, by reason. Only lines that looked like usage are examined.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkippedLines {
    /// Not valid JSON.
    pub invalid_json: u64,
    /// Not valid UTF-8.
    pub invalid_utf8: u64,
    /// Valid JSON with fields of the wrong type or out of range.
    pub wrong_types: u64,
    /// A missing or unreadable timestamp.
    pub bad_timestamp: u64,
    /// Longer than the line-length cap.
    pub oversized: u64,
    /// An incomplete last line.
    pub truncated: u64,
}

/// A model with no known price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnpricedModel {
    /// The model id as logged.
    pub model: String,
    /// Responses of that model.
    pub messages: u64,
    /// Tokens of that model.
    pub total_tokens: u64,
}

/// The JSON Schema (draft 2020-12) of [`LiveData`], as committed at `schema/live-data.schema.json`.
///
/// Every field marked `#[serde(default)]` is optional in the schema (it carries a `default`
/// and is left out of `required`): that is how fields added after version 1 keep older files
/// valid.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .with_transform(DefaultedFieldsAreOptional)
        .into_generator();
    let schema = generator.into_root_schema_for::<LiveData>();
    schema.to_value()
}

/// Removes from `required` every property whose schema declares a `default`.
#[derive(Debug, Clone)]
struct DefaultedFieldsAreOptional;

impl schemars::transform::Transform for DefaultedFieldsAreOptional {
    fn transform(&mut self, schema: &mut schemars::Schema) {
        schemars::transform::transform_subschemas(self, schema);
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        let defaulted: Vec<String> = match object.get("properties").and_then(|p| p.as_object()) {
            Some(properties) => properties
                .iter()
                .filter(|(_, sub)| sub.get("default").is_some())
                .map(|(name, _)| name.clone())
                .collect(),
            None => return,
        };
        if let Some(serde_json::Value::Array(required)) = object.get_mut("required") {
            required.retain(|name| {
                !name
                    .as_str()
                    .is_some_and(|n| defaulted.iter().any(|d| d == n))
            });
            if required.is_empty() {
                object.remove("required");
            }
        }
    }
}

/// [`json_schema`] rendered as the committed file: pretty, LF, one trailing newline.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a schema serializes");
    text.push('\n');
    text
}
