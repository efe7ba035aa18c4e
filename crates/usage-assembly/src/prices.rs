//! List prices per model, from one JSON data file.
//!
//! The file (`data/prices.json` is the built-in one):
//!
//! ```json
//! {
//!   "version": 1,
//!   "note": "free text",
//!   "families": [
//!     {"family": "opus", "minVersion": "4.5", "maxVersion": "5", "input": 5, "output": 25,
//!      "cacheWrite5m": 6.25, "cacheWrite1h": 10, "cacheRead": 0.5, "fastMultiplier": 6},
//!     {"family": "sonnet", "minVersion": "4", "maxVersion": "4.6", "input": 3, "output": 15,
//!      "cacheWrite5m": 3.75, "cacheWrite1h": 6, "cacheRead": 0.3,
//!      "longContext": {"thresholdTokens": 200000, "input": 6, "output": 22.5,
//!                      "cacheWrite5m": 7.5, "cacheWrite1h": 12, "cacheRead": 0.6}}
//!   ],
//!   "models": {
//!     "some-exact-model-id": {"input": 1, "output": 2, "cacheWrite5m": 1.25,
//!                             "cacheWrite1h": 2, "cacheRead": 0.1}
//!   }
//! }
//! ```
//!
//! Prices are US dollars per million tokens. A row of `families` matches a model id whose
//! [`parse_model_id`] family is `family` and whose version is in `[minVersion, maxVersion)`
//! (`maxVersion` may be left out for no upper bound); rows of one family must not overlap. An
//! entry of `models` matches one exact model id (also with a bracketed suffix such as `[1m]`
//! removed) and wins over the rows. `version` (must be 1) is required; `note`, `families` and
//! `models` are optional; `fastMultiplier` (default 1) and `longContext` are optional per
//! row; every other price field is required. Unknown fields are refused, so a misspelt field
//! is an error rather than a silently missing price.

use std::collections::BTreeMap;

use claude_logs::{Speed, TokenCounts};
use serde_json::{Map, Value};

use crate::model::{Family, ModelVersion, parse_model_id};

/// The built-in price file, as embedded at build time.
pub const BUILTIN_PRICES_JSON: &str = include_str!("../data/prices.json");

/// The price file version this build reads.
pub const PRICE_FILE_VERSION: u64 = 1;

/// Per-token rates, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    /// Uncached input.
    pub input: f64,
    /// Output.
    pub output: f64,
    /// 5-minute cache writes.
    pub cache_write_5m: f64,
    /// 1-hour cache writes.
    pub cache_write_1h: f64,
    /// Cache reads.
    pub cache_read: f64,
}

/// Long-context pricing: a request whose prompt exceeds the threshold is priced at these rates
/// for every one of its tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongContext {
    /// The request is premium when `input + cache_creation + cache_read` exceeds this.
    pub threshold_tokens: u64,
    /// The premium rates.
    pub rates: Rates,
}

/// The prices of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPrice {
    /// The standard rates.
    pub rates: Rates,
    /// Long-context rates, when the model has them.
    pub long_context: Option<LongContext>,
    /// Multiplies the whole cost of a fast-mode request (1 when the file gives none).
    pub fast_multiplier: f64,
}

impl ModelPrice {
    /// The cost in US dollars of one response.
    ///
    /// Cache writes: the 1-hour part is `cache_creation_1h` (at most `cache_creation`) and the
    /// rest of `cache_creation` is priced as 5-minute writes, which covers an absent split
    /// (everything 5-minute) and a split that sums to less than `cache_creation`. Long context
    /// is decided per request: when `input + cache_creation + cache_read` exceeds the threshold,
    /// every token of the request, output included, uses the long-context rates. Fast mode
    /// multiplies the whole cost by `fast_multiplier`.
    pub fn cost(&self, tokens: &TokenCounts, speed: Speed) -> f64 {
        let rates = match &self.long_context {
            Some(long) if tokens.prompt_total() > long.threshold_tokens => &long.rates,
            _ => &self.rates,
        };
        let write_1h = tokens.cache_creation_1h.min(tokens.cache_creation);
        let write_5m = tokens.cache_creation - write_1h;
        let per_million = tokens.input as f64 * rates.input
            + tokens.output as f64 * rates.output
            + write_5m as f64 * rates.cache_write_5m
            + write_1h as f64 * rates.cache_write_1h
            + tokens.cache_read as f64 * rates.cache_read;
        let cost = per_million / 1_000_000.0;
        match speed {
            Speed::Standard => cost,
            Speed::Fast => cost * self.fast_multiplier,
        }
    }
}

/// One row of `families`: the price of a family's versions in `[min_version, max_version)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyRow {
    /// Opus, Sonnet or Haiku.
    pub family: Family,
    /// The first version the row covers.
    pub min_version: ModelVersion,
    /// The first version the row no longer covers; `None` for no upper bound.
    pub max_version: Option<ModelVersion>,
    /// The prices.
    pub price: ModelPrice,
}

impl FamilyRow {
    fn covers(&self, family: Family, version: ModelVersion) -> bool {
        self.family == family
            && self.min_version <= version
            && self.max_version.is_none_or(|max| version < max)
    }

    fn overlaps(&self, other: &FamilyRow) -> bool {
        self.family == other.family
            && other.max_version.is_none_or(|max| self.min_version < max)
            && self.max_version.is_none_or(|max| other.min_version < max)
    }

    fn describe(&self) -> String {
        match self.max_version {
            Some(max) => format!("{} {}..{}", self.family, self.min_version, max),
            None => format!("{} {}..", self.family, self.min_version),
        }
    }
}

/// A price file that could not be read. Each message names the field by its path in the
/// file, e.g. `families[2].output`.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// Not JSON at all.
    #[error("price table is not valid json: {0}")]
    Json(#[from] serde_json::Error),
    /// A required field is absent.
    #[error("price table: missing field `{path}`")]
    MissingField {
        /// Where, e.g. `families[2].output`.
        path: String,
    },
    /// A field has the wrong type or an impossible value.
    #[error("price table: field `{path}` {problem}")]
    InvalidField {
        /// Where, e.g. `families[2].input`.
        path: String,
        /// What is wrong, e.g. `must not be negative (got -1)`.
        problem: String,
    },
    /// A field this build does not know (often a misspelling).
    #[error("price table: unknown field `{path}`")]
    UnknownField {
        /// Where, e.g. `families[0].cacheWrite5M`.
        path: String,
    },
    /// Two rows of one family cover a common version.
    #[error("price table: `{path}` ({range}) overlaps `{other_path}` ({other_range})")]
    OverlappingRows {
        /// The later row, e.g. `families[3]`.
        path: String,
        /// Its family and range, e.g. `opus 4.0..4.5`.
        range: String,
        /// The earlier row it overlaps.
        other_path: String,
        /// That row's family and range.
        other_range: String,
    },
}

/// The prices of every known model: family rows and exact-id overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    note: Option<String>,
    rows: Vec<FamilyRow>,
    models: BTreeMap<String, ModelPrice>,
}

impl PriceTable {
    /// The built-in table ([`BUILTIN_PRICES_JSON`]).
    pub fn builtin() -> PriceTable {
        PriceTable::from_json_str(BUILTIN_PRICES_JSON)
            .expect("the embedded price table is valid (checked by a unit test)")
    }

    /// Reads a price file (format in the module documentation).
    pub fn from_json_str(json: &str) -> Result<PriceTable, PriceError> {
        let value: Value = serde_json::from_str(json)?;
        let top = as_object(&value, "(top level)")?;
        reject_unknown(top, "", &["version", "note", "families", "models"])?;
        let version = top.get("version").ok_or_else(|| missing("version"))?;
        if version.as_u64() != Some(PRICE_FILE_VERSION) {
            return Err(invalid(
                "version",
                format!("must be {PRICE_FILE_VERSION} (got {version})"),
            ));
        }
        let note = match top.get("note") {
            None | Some(Value::Null) => None,
            Some(Value::String(note)) => Some(note.clone()),
            Some(other) => return Err(invalid("note", format!("must be a string (got {other})"))),
        };

        let mut rows: Vec<FamilyRow> = Vec::new();
        if let Some(families) = top.get("families") {
            let families = families
                .as_array()
                .ok_or_else(|| invalid("families", "must be an array".to_owned()))?;
            for (index, row) in families.iter().enumerate() {
                let path = format!("families[{index}]");
                let row = read_row(row, &path)?;
                if let Some((other_index, other)) = rows
                    .iter()
                    .enumerate()
                    .find(|(_, other)| other.overlaps(&row))
                {
                    return Err(PriceError::OverlappingRows {
                        path,
                        range: row.describe(),
                        other_path: format!("families[{other_index}]"),
                        other_range: other.describe(),
                    });
                }
                rows.push(row);
            }
        }

        let mut models = BTreeMap::new();
        if let Some(entries) = top.get("models") {
            let entries = as_object(entries, "models")?;
            for (id, entry) in entries {
                let path = format!("models[{id:?}]");
                let fields = as_object(entry, &path)?;
                reject_unknown(fields, &path, PRICE_FIELDS)?;
                models.insert(id.clone(), read_price(fields, &path)?);
            }
        }

        Ok(PriceTable { note, rows, models })
    }

    /// This table with `overrides` laid over it: its exact-id entries replace or add to ours,
    /// and its family rows are consulted before ours.
    pub fn with_overrides(mut self, overrides: &PriceTable) -> PriceTable {
        let mut rows = overrides.rows.clone();
        rows.append(&mut self.rows);
        self.rows = rows;
        self.models.extend(
            overrides
                .models
                .iter()
                .map(|(id, price)| (id.clone(), *price)),
        );
        if overrides.note.is_some() {
            self.note.clone_from(&overrides.note);
        }
        self
    }

    /// The file's `note`, if any.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The family rows, in the order they are consulted.
    pub fn rows(&self) -> &[FamilyRow] {
        &self.rows
    }

    /// The exact-id entries.
    pub fn models(&self) -> &BTreeMap<String, ModelPrice> {
        &self.models
    }

    /// The prices of a model id: an exact-id entry (the id as given, then without a bracketed
    /// suffix such as `[1m]`), else the first family row covering its family and version.
    /// `None` means unpriced.
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(price) = self.models.get(model) {
            return Some(price);
        }
        if let Some(at) = model.find('[')
            && let Some(price) = self.models.get(model[..at].trim_end())
        {
            return Some(price);
        }
        let id = parse_model_id(model)?;
        self.rows
            .iter()
            .find(|row| row.covers(id.family, id.version))
            .map(|row| &row.price)
    }

    /// The cost in US dollars of one response of `model`, or `None` when the model is
    /// unpriced. See [`ModelPrice::cost`] for the rules.
    pub fn price(&self, model: &str, tokens: &TokenCounts, speed: Speed) -> Option<f64> {
        self.lookup(model).map(|price| price.cost(tokens, speed))
    }
}

const RATE_FIELDS: &[&str] = &[
    "input",
    "output",
    "cacheWrite5m",
    "cacheWrite1h",
    "cacheRead",
];
const PRICE_FIELDS: &[&str] = &[
    "input",
    "output",
    "cacheWrite5m",
    "cacheWrite1h",
    "cacheRead",
    "fastMultiplier",
    "longContext",
];
const ROW_FIELDS: &[&str] = &[
    "family",
    "minVersion",
    "maxVersion",
    "input",
    "output",
    "cacheWrite5m",
    "cacheWrite1h",
    "cacheRead",
    "fastMultiplier",
    "longContext",
];
const LONG_CONTEXT_FIELDS: &[&str] = &[
    "thresholdTokens",
    "input",
    "output",
    "cacheWrite5m",
    "cacheWrite1h",
    "cacheRead",
];

fn read_row(value: &Value, path: &str) -> Result<FamilyRow, PriceError> {
    let fields = as_object(value, path)?;
    reject_unknown(fields, path, ROW_FIELDS)?;
    let family_path = join(path, "family");
    let family = match fields.get("family") {
        None => return Err(missing(&family_path)),
        Some(Value::String(word)) => Family::from_word(word).filter(|f| *f != Family::Other),
        Some(_) => None,
    }
    .ok_or_else(|| {
        invalid(
            &family_path,
            "must be \"opus\", \"sonnet\" or \"haiku\"".to_owned(),
        )
    })?;
    let min_version = read_version(fields, path, "minVersion")?
        .ok_or_else(|| missing(&join(path, "minVersion")))?;
    let max_version = read_version(fields, path, "maxVersion")?;
    if let Some(max) = max_version
        && max <= min_version
    {
        return Err(invalid(
            &join(path, "maxVersion"),
            format!("must be greater than minVersion {min_version} (got {max})"),
        ));
    }
    Ok(FamilyRow {
        family,
        min_version,
        max_version,
        price: read_price(fields, path)?,
    })
}

fn read_version(
    fields: &Map<String, Value>,
    path: &str,
    name: &str,
) -> Result<Option<ModelVersion>, PriceError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::String(text)) if ModelVersion::parse(text).is_some() => {
            Ok(ModelVersion::parse(text))
        }
        Some(other) => Err(invalid(
            &join(path, name),
            format!("must be a version string like \"4.5\" (got {other})"),
        )),
    }
}

fn read_price(fields: &Map<String, Value>, path: &str) -> Result<ModelPrice, PriceError> {
    let rates = read_rates(fields, path)?;
    let fast_multiplier = match fields.get("fastMultiplier") {
        None => 1.0,
        Some(value) => non_negative(value, &join(path, "fastMultiplier"))?,
    };
    let long_context = match fields.get("longContext") {
        None => None,
        Some(value) => {
            let long_path = join(path, "longContext");
            let long = as_object(value, &long_path)?;
            reject_unknown(long, &long_path, LONG_CONTEXT_FIELDS)?;
            let threshold_path = join(&long_path, "thresholdTokens");
            let threshold = long
                .get("thresholdTokens")
                .ok_or_else(|| missing(&threshold_path))?;
            let threshold_tokens = threshold.as_u64().ok_or_else(|| {
                invalid(
                    &threshold_path,
                    format!("must be a whole number of tokens (got {threshold})"),
                )
            })?;
            Some(LongContext {
                threshold_tokens,
                rates: read_rates(long, &long_path)?,
            })
        }
    };
    Ok(ModelPrice {
        rates,
        long_context,
        fast_multiplier,
    })
}

fn read_rates(fields: &Map<String, Value>, path: &str) -> Result<Rates, PriceError> {
    let mut values = [0.0; 5];
    for (slot, name) in values.iter_mut().zip(RATE_FIELDS) {
        let field_path = join(path, name);
        let value = fields.get(*name).ok_or_else(|| missing(&field_path))?;
        *slot = non_negative(value, &field_path)?;
    }
    let [input, output, cache_write_5m, cache_write_1h, cache_read] = values;
    Ok(Rates {
        input,
        output,
        cache_write_5m,
        cache_write_1h,
        cache_read,
    })
}

fn non_negative(value: &Value, path: &str) -> Result<f64, PriceError> {
    let number = value
        .as_f64()
        .filter(|n| n.is_finite())
        .ok_or_else(|| invalid(path, format!("must be a number (got {value})")))?;
    if number < 0.0 {
        return Err(invalid(
            path,
            format!("must not be negative (got {number})"),
        ));
    }
    Ok(number)
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, PriceError> {
    value
        .as_object()
        .ok_or_else(|| invalid(path, "must be an object".to_owned()))
}

fn reject_unknown(
    fields: &Map<String, Value>,
    path: &str,
    known: &[&str],
) -> Result<(), PriceError> {
    match fields.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(PriceError::UnknownField {
            path: join(path, key),
        }),
        None => Ok(()),
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

fn missing(path: &str) -> PriceError {
    PriceError::MissingField {
        path: path.to_owned(),
    }
}

fn invalid(path: &str, problem: String) -> PriceError {
    PriceError::InvalidField {
        path: path.to_owned(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1_000_000;

    fn tokens(input: u64, output: u64, cache_creation: u64, cache_read: u64) -> TokenCounts {
        TokenCounts {
            input,
            output,
            cache_creation,
            cache_read,
            cache_creation_5m: 0,
            cache_creation_1h: 0,
        }
    }

    fn split(cache_creation: u64, cache_5m: u64, cache_1h: u64) -> TokenCounts {
        TokenCounts {
            cache_creation_5m: cache_5m,
            cache_creation_1h: cache_1h,
            ..tokens(0, 0, cache_creation, 0)
        }
    }

    #[track_caller]
    fn check(
        table: &PriceTable,
        model: &str,
        tokens: TokenCounts,
        speed: Speed,
        expected: Option<f64>,
    ) {
        let got = table.price(model, &tokens, speed);
        match (got, expected) {
            (Some(got), Some(expected)) => assert!(
                (got - expected).abs() < 1e-9,
                "{model} {tokens:?} {speed:?}: got {got}, expected {expected}"
            ),
            _ => assert_eq!(got, expected, "{model} {tokens:?} {speed:?}"),
        }
    }

    /// 100k tokens of each kind (below any long-context threshold), priced separately:
    /// input, output, 5m write, 1h write, read. `rates` are per million.
    #[track_caller]
    fn check_row(model: &str, rates: [f64; 5]) {
        let table = PriceTable::builtin();
        let [input, output, write_5m, write_1h, read] = rates.map(|rate| rate / 10.0);
        let std = Speed::Standard;
        let k = M / 10;
        check(&table, model, tokens(k, 0, 0, 0), std, Some(input));
        check(&table, model, tokens(0, k, 0, 0), std, Some(output));
        check(&table, model, split(k, k, 0), std, Some(write_5m));
        check(&table, model, split(k, 0, k), std, Some(write_1h));
        check(&table, model, tokens(0, 0, 0, k), std, Some(read));
    }

    #[test]
    fn every_builtin_row() {
        check_row("claude-opus-4-7", [5.0, 25.0, 6.25, 10.0, 0.5]);
        check_row("claude-opus-4-6", [5.0, 25.0, 6.25, 10.0, 0.5]);
        check_row("claude-opus-4-5-20251101", [5.0, 25.0, 6.25, 10.0, 0.5]);
        check_row("claude-opus-4-1-20250805", [15.0, 75.0, 18.75, 30.0, 1.5]);
        check_row("claude-opus-4-20250514", [15.0, 75.0, 18.75, 30.0, 1.5]);
        check_row("claude-3-opus-20240229", [15.0, 75.0, 18.75, 30.0, 1.5]);
        check_row("claude-sonnet-4-5-20250929", [3.0, 15.0, 3.75, 6.0, 0.3]);
        check_row("claude-sonnet-4-20250514", [3.0, 15.0, 3.75, 6.0, 0.3]);
        check_row("claude-3-7-sonnet-20250219", [3.0, 15.0, 3.75, 6.0, 0.3]);
        check_row("claude-3-5-sonnet-20241022", [3.0, 15.0, 3.75, 6.0, 0.3]);
        check_row("claude-haiku-4-5-20251001", [1.0, 5.0, 1.25, 2.0, 0.1]);
        check_row("claude-3-5-haiku-20241022", [0.8, 4.0, 1.0, 1.6, 0.08]);
        check_row("claude-3-haiku-20240307", [0.25, 1.25, 0.3, 0.5, 0.03]);
        check_row(
            "claude-sonnet-4-5-20250929[1m]",
            [3.0, 15.0, 3.75, 6.0, 0.3],
        );
        check_row("claude-opus-4-1-thinking", [15.0, 75.0, 18.75, 30.0, 1.5]);
        // Later Sonnet 4.x: the 4.5 rates, no long-context premium.
        check_row("claude-sonnet-4-6", [3.0, 15.0, 3.75, 6.0, 0.3]);
        let table = PriceTable::builtin();
        assert!(
            table
                .lookup("claude-sonnet-4-6")
                .unwrap()
                .long_context
                .is_none()
        );
    }

    #[test]
    fn builtin_table_metadata() {
        let table = PriceTable::builtin();
        assert_eq!(table.rows().len(), 10);
        assert!(table.models().is_empty());
        assert!(
            table
                .note()
                .is_some_and(|note| note.contains("per million"))
        );
    }

    #[test]
    #[rustfmt::skip]
    fn cache_write_split() {
        let table = PriceTable::builtin();
        let std = Speed::Standard;
        let haiku = "claude-haiku-4-5-20251001";
        // Split absent: all cache writes are 5-minute writes.
        check(&table, haiku, tokens(0, 0, M, 0), std, Some(1.25));
        // Split short of the total: the remainder is priced as 5-minute writes.
        check(&table, haiku, split(M, 0, M / 2), std, Some(0.625 + 1.0));
        check(&table, haiku, split(M, M / 4, M / 4), std, Some(0.9375 + 0.5));
        check(&table, haiku, split(M, M, 0), std, Some(1.25));
        check(&table, haiku, split(M, 0, M), std, Some(2.0));
        // A 1-hour count above the total is capped at the total.
        check(&table, haiku, split(M, 0, 2 * M), std, Some(2.0));
        check(&table, haiku, split(0, 0, M), std, Some(0.0));
    }

    #[test]
    fn all_fields_together() {
        let table = PriceTable::builtin();
        let sonnet = "claude-sonnet-4-5-20250929";
        let all = TokenCounts {
            input: 1_000,
            output: 2_000,
            cache_creation: 3_000,
            cache_read: 4_000,
            cache_creation_5m: 1_000,
            cache_creation_1h: 2_000,
        };
        let per_million = 1_000.0 * 3.0 + 2_000.0 * 15.0 + 1_000.0 * 3.75 + 2_000.0 * 6.0;
        let expected = (per_million + 4_000.0 * 0.3) / 1e6;
        check(&table, sonnet, all, Speed::Standard, Some(expected));
        let none = TokenCounts::default();
        check(&table, sonnet, none, Speed::Standard, Some(0.0));
    }

    #[test]
    #[rustfmt::skip]
    fn long_context_is_request_level() {
        let table = PriceTable::builtin();
        let std = Speed::Standard;
        let sonnet = "claude-sonnet-4-5-20250929";
        // Exactly at the threshold: standard rates.
        check(&table, sonnet, tokens(200_000, M, 0, 0), std, Some(0.6 + 15.0));
        check(&table, sonnet, tokens(100_000, 0, 50_000, 50_000), std, Some(0.3 + 0.1875 + 0.015));
        // One token over (in any prompt field): every token at premium rates, output too.
        check(&table, sonnet, tokens(200_001, M, 0, 0), std, Some(1.200006 + 22.5));
        check(&table, sonnet, tokens(1, 0, 100_000, 100_000), std, Some(0.000006 + 0.75 + 0.06));
        check(&table, sonnet, split(300_000, 0, 300_000), std, Some(3.6));
        check(&table, sonnet, split(300_000, 100_000, 200_000), std, Some(0.75 + 2.4));
        check(&table, "claude-sonnet-4-20250514", tokens(0, 0, 0, 200_001), std, Some(0.1200006));
        check(&table, "claude-sonnet-4-5[1m]", tokens(M, 0, 0, 0), std, Some(6.0));
        // Output does not count towards the threshold.
        check(&table, sonnet, tokens(100, 5 * M, 0, 0), std, Some(0.0003 + 75.0));
        // Models without long-context rates stay at standard rates.
        check(&table, "claude-opus-4-6", tokens(M, 0, 0, 0), std, Some(5.0));
        check(&table, "claude-3-7-sonnet-20250219", tokens(M, 0, 0, 0), std, Some(3.0));
    }

    #[test]
    #[rustfmt::skip]
    fn fast_mode_multiplies_the_whole_cost() {
        let table = PriceTable::builtin();
        let fast = Speed::Fast;
        check(&table, "claude-opus-4-6", tokens(M, M, 0, 0), fast, Some(6.0 * 30.0));
        check(&table, "claude-opus-4-7", tokens(0, 0, M, M), fast, Some(6.0 * 6.75));
        check(&table, "claude-opus-4-6", split(M, 0, M), fast, Some(6.0 * 10.0));
        // Standard speed is not multiplied.
        check(&table, "claude-opus-4-6", tokens(M, M, 0, 0), Speed::Standard, Some(30.0));
        // No multiplier in the row: fast costs the same.
        check(&table, "claude-opus-4-5", tokens(M, 0, 0, 0), fast, Some(5.0));
        check(&table, "claude-sonnet-4-5", tokens(0, M, 0, 0), fast, Some(15.0));
    }

    #[test]
    fn fast_and_long_context_combine() {
        let json = r#"{"version": 1, "models": {"m": {"input": 1, "output": 0,
            "cacheWrite5m": 0, "cacheWrite1h": 0, "cacheRead": 0, "fastMultiplier": 2,
            "longContext": {"thresholdTokens": 10, "input": 3, "output": 0, "cacheWrite5m": 0,
                            "cacheWrite1h": 0, "cacheRead": 0}}}}"#;
        let table = PriceTable::from_json_str(json).unwrap();
        check(&table, "m", tokens(M, 0, 0, 0), Speed::Fast, Some(6.0));
        check(&table, "m", tokens(10, 0, 0, 0), Speed::Fast, Some(0.00002));
    }

    #[test]
    fn unknown_models_are_unpriced() {
        let table = PriceTable::builtin();
        let t = tokens(M, M, 0, 0);
        let std = Speed::Standard;
        for model in [
            "<synthetic>",
            "gpt-4o",
            "claude-2.1",
            "claude-opus-5",
            "claude-sonnet-5",
            "claude-haiku-4-6",
            "claude-3-sonnet-20240229",
            "claude-opus-latest",
            "",
        ] {
            check(&table, model, t, std, None);
        }
    }

    const OVERRIDES: &str = r#"{
        "version": 1,
        "models": {
            "glm-4.6": {"input": 0.6, "output": 2.2, "cacheWrite5m": 0, "cacheWrite1h": 0,
                        "cacheRead": 0.11},
            "claude-opus-4-6": {"input": 1, "output": 1, "cacheWrite5m": 1, "cacheWrite1h": 1,
                                "cacheRead": 1, "fastMultiplier": 2}
        }
    }"#;

    #[test]
    #[rustfmt::skip]
    fn exact_id_overrides_win() {
        let overrides = PriceTable::from_json_str(OVERRIDES).unwrap();
        let table = PriceTable::builtin().with_overrides(&overrides);
        let t = tokens(M, M, 0, 0);
        check(&table, "glm-4.6", t, Speed::Standard, Some(2.8));
        check(&table, "claude-opus-4-6", t, Speed::Standard, Some(2.0));
        check(&table, "claude-opus-4-6", t, Speed::Fast, Some(4.0));
        check(&table, "claude-opus-4-6[1m]", t, Speed::Standard, Some(2.0));
        // Other ids of the family still use the rows.
        check(&table, "claude-opus-4-7", t, Speed::Standard, Some(30.0));
        // Overrides alone price only their ids.
        check(&overrides, "glm-4.6", t, Speed::Standard, Some(2.8));
        check(&overrides, "claude-opus-4-7", t, Speed::Standard, None);
        assert_eq!(overrides.note(), None);
    }

    #[test]
    #[rustfmt::skip]
    fn exact_id_entries_win_within_one_file() {
        let json = r#"{"version": 1,
            "families": [{"family": "haiku", "minVersion": "4", "input": 1, "output": 1,
                          "cacheWrite5m": 1, "cacheWrite1h": 1, "cacheRead": 1}],
            "models": {"claude-haiku-4-5": {"input": 7, "output": 0, "cacheWrite5m": 0,
                                            "cacheWrite1h": 0, "cacheRead": 0}}}"#;
        let table = PriceTable::from_json_str(json).unwrap();
        let t = tokens(M, 0, 0, 0);
        check(&table, "claude-haiku-4-5", t, Speed::Standard, Some(7.0));
        check(&table, "claude-haiku-4-5-20251001", t, Speed::Standard, Some(1.0));
        // No maxVersion: no upper bound.
        check(&table, "claude-haiku-9-9", t, Speed::Standard, Some(1.0));
        check(&table, "claude-3-5-haiku", t, Speed::Standard, None);
    }

    #[test]
    #[rustfmt::skip]
    fn override_rows_are_consulted_first() {
        let json = r#"{"version": 1, "note": "mine",
            "families": [{"family": "sonnet", "minVersion": "4.5", "maxVersion": "5",
                          "input": 2, "output": 0, "cacheWrite5m": 0, "cacheWrite1h": 0,
                          "cacheRead": 0}]}"#;
        let overrides = PriceTable::from_json_str(json).unwrap();
        let table = PriceTable::builtin().with_overrides(&overrides);
        let t = tokens(M / 10, 0, 0, 0);
        check(&table, "claude-sonnet-4-6", t, Speed::Standard, Some(0.2));
        check(&table, "claude-sonnet-4-5", t, Speed::Standard, Some(0.2));
        check(&table, "claude-sonnet-4-20250514", t, Speed::Standard, Some(0.3));
        assert_eq!(table.note(), Some("mine"));
    }

    #[track_caller]
    fn check_error(json: &str, expected: &str) {
        match PriceTable::from_json_str(json) {
            Ok(table) => panic!("expected an error, got {table:?}"),
            Err(err) => assert_eq!(err.to_string(), expected, "{json}"),
        }
    }

    fn row(fields: &str) -> String {
        format!(r#"{{"version": 1, "families": [{{{fields}}}]}}"#)
    }

    const OPUS: &str = r#""family": "opus", "minVersion": "4", "maxVersion": "4.5""#;
    const RATES: &str =
        r#""input": 1, "output": 2, "cacheWrite5m": 3, "cacheWrite1h": 4, "cacheRead": 5"#;

    #[test]
    #[rustfmt::skip]
    fn invalid_price_files() {
        check_error("", "price table is not valid json: EOF while parsing a value at line 1 column 0");
        check_error("{\"version\": 1,", "price table is not valid json: EOF while parsing a value at line 1 column 14");
        check_error("[]", "price table: field `(top level)` must be an object");
        check_error("{}", "price table: missing field `version`");
        check_error(r#"{"version": 2}"#, "price table: field `version` must be 1 (got 2)");
        check_error(r#"{"version": "1"}"#, "price table: field `version` must be 1 (got \"1\")");
        check_error(r#"{"version": 1, "prices": []}"#, "price table: unknown field `prices`");
        check_error(r#"{"version": 1, "note": 3}"#, "price table: field `note` must be a string (got 3)");
        check_error(r#"{"version": 1, "families": {}}"#, "price table: field `families` must be an array");
        check_error(r#"{"version": 1, "families": [3]}"#, "price table: field `families[0]` must be an object");
        check_error(&row(RATES), "price table: missing field `families[0].family`");
        check_error(&row(&format!(r#""family": "gpt", "minVersion": "4", {RATES}"#)), "price table: field `families[0].family` must be \"opus\", \"sonnet\" or \"haiku\"");
        check_error(&row(&format!(r#""family": "other", "minVersion": "4", {RATES}"#)), "price table: field `families[0].family` must be \"opus\", \"sonnet\" or \"haiku\"");
        check_error(&row(&format!(r#""family": "opus", {RATES}"#)), "price table: missing field `families[0].minVersion`");
        check_error(&row(&format!(r#""family": "opus", "minVersion": 4.5, {RATES}"#)), "price table: field `families[0].minVersion` must be a version string like \"4.5\" (got 4.5)");
        check_error(&row(&format!(r#""family": "opus", "minVersion": "4.5", "maxVersion": "4.5", {RATES}"#)), "price table: field `families[0].maxVersion` must be greater than minVersion 4.5 (got 4.5)");
        check_error(&row(&format!(r#"{OPUS}, "input": 1, "cacheWrite5m": 3, "cacheWrite1h": 4, "cacheRead": 5"#)), "price table: missing field `families[0].output`");
        check_error(&row(&format!(r#"{OPUS}, "input": -1, "output": 2, "cacheWrite5m": 3, "cacheWrite1h": 4, "cacheRead": 5"#)), "price table: field `families[0].input` must not be negative (got -1)");
        check_error(&row(&format!(r#"{OPUS}, "input": "5", "output": 2, "cacheWrite5m": 3, "cacheWrite1h": 4, "cacheRead": 5"#)), "price table: field `families[0].input` must be a number (got \"5\")");
        check_error(&row(&format!(r#"{OPUS}, "input": null, "output": 2, "cacheWrite5m": 3, "cacheWrite1h": 4, "cacheRead": 5"#)), "price table: field `families[0].input` must be a number (got null)");
        check_error(&row(&format!(r#"{OPUS}, {RATES}, "fastMultiplier": -6"#)), "price table: field `families[0].fastMultiplier` must not be negative (got -6)");
        check_error(&row(&format!(r#"{OPUS}, {RATES}, "cacheWrite5M": 3"#)), "price table: unknown field `families[0].cacheWrite5M`");
        check_error(&row(&format!(r#"{OPUS}, {RATES}, "longContext": {{"input": 1}}"#)), "price table: missing field `families[0].longContext.thresholdTokens`");
        check_error(&row(&format!(r#"{OPUS}, {RATES}, "longContext": {{"thresholdTokens": 1.5}}"#)), "price table: field `families[0].longContext.thresholdTokens` must be a whole number of tokens (got 1.5)");
        check_error(&row(&format!(r#"{OPUS}, {RATES}, "longContext": {{"thresholdTokens": 10, "input": 1}}"#)), "price table: missing field `families[0].longContext.output`");
        check_error(&row(&format!(r#"{OPUS}, {RATES}, "longContext": {{"thresholdTokens": 10, "input": 1, "output": 2, "cacheWrite5m": 3, "cacheWrite1h": 4, "cacheRead": -0.5}}"#)), "price table: field `families[0].longContext.cacheRead` must not be negative (got -0.5)");
        check_error(&row(&format!(r#"{OPUS}, {RATES}, "longContext": {{"thresholdTokens": 10, {RATES}, "fastMultiplier": 2}}"#)), "price table: unknown field `families[0].longContext.fastMultiplier`");
        check_error(&row(&format!(r#"{OPUS}, {RATES}}}, {{"family": "opus", "minVersion": "4.1", {RATES}"#)), "price table: `families[1]` (opus 4.1..) overlaps `families[0]` (opus 4.0..4.5)");
        check_error(r#"{"version": 1, "models": []}"#, "price table: field `models` must be an object");
        check_error(r#"{"version": 1, "models": {"x": {"input": 1}}}"#, "price table: missing field `models[\"x\"].output`");
        check_error(&format!(r#"{{"version": 1, "models": {{"x": {{{RATES}, "family": "opus"}}}}}}"#), "price table: unknown field `models[\"x\"].family`");
        check_error(&format!(r#"{{"version": 1, "models": {{"x": {{{RATES}, "cacheRead": -5}}}}}}"#), "price table: field `models[\"x\"].cacheRead` must not be negative (got -5)");
    }

    #[test]
    fn adjacent_rows_do_not_overlap() {
        let json = row(&format!(
            r#"{OPUS}, {RATES}}}, {{"family": "opus", "minVersion": "4.5", {RATES}}},
               {{"family": "sonnet", "minVersion": "4", {RATES}"#
        ));
        let table = PriceTable::from_json_str(&json).unwrap();
        assert_eq!(table.rows().len(), 3);
        assert_eq!(table.rows()[0].describe(), "opus 4.0..4.5");
        assert_eq!(table.rows()[1].describe(), "opus 4.5..");
    }

    #[test]
    fn builtin_json_is_ascii_and_versioned() {
        assert!(BUILTIN_PRICES_JSON.contains("\"version\": 1"));
        assert!(BUILTIN_PRICES_JSON.is_ascii());
        assert_eq!(PriceTable::builtin(), PriceTable::builtin());
    }
}
