//! The unit of usage: one API response, as read from a transcript.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Token counts of one API response (or a sum of them).
///
/// `cache_creation_5m + cache_creation_1h` equals `cache_creation` when the transcript gave the
/// split; when it did not, both are zero and the whole of `cache_creation` is priced as a 5-minute
/// write (the only kind that existed before the split was logged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TokenCounts {
    /// `input_tokens`: uncached input.
    pub input: u64,
    /// `output_tokens`.
    pub output: u64,
    /// `cache_creation_input_tokens`: all cache writes.
    pub cache_creation: u64,
    /// `cache_read_input_tokens`.
    pub cache_read: u64,
    /// `cache_creation.ephemeral_5m_input_tokens`, when logged.
    pub cache_creation_5m: u64,
    /// `cache_creation.ephemeral_1h_input_tokens`, when logged.
    pub cache_creation_1h: u64,
}

impl TokenCounts {
    /// The sum of the four billed counts (input, output, cache writes, cache reads).
    pub fn total(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_creation)
            .saturating_add(self.cache_read)
    }

    /// Input as the pricing rules see it: uncached input plus cache writes plus cache reads.
    pub fn prompt_total(&self) -> u64 {
        self.input
            .saturating_add(self.cache_creation)
            .saturating_add(self.cache_read)
    }

    /// Adds `other` field by field (saturating).
    pub fn add(&mut self, other: &TokenCounts) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_creation = self.cache_creation.saturating_add(other.cache_creation);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_creation_5m = self
            .cache_creation_5m
            .saturating_add(other.cache_creation_5m);
        self.cache_creation_1h = self
            .cache_creation_1h
            .saturating_add(other.cache_creation_1h);
    }
}

/// `usage.speed` of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Speed {
    /// No `speed`, or any value other than `"fast"`.
    #[default]
    Standard,
    /// `"fast"`: fast mode, priced with the model's fast multiplier.
    Fast,
}

/// One API response, counted once.
///
/// Strings that repeat across many events (model, project, session) are shared `Arc<str>`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    /// When the response was written (the line's `timestamp`).
    pub timestamp: DateTime<Utc>,
    /// `message.model`, e.g. `claude-sonnet-4-5-20250929`.
    pub model: Arc<str>,
    /// The token counts of the response.
    pub tokens: TokenCounts,
    /// Standard or fast mode.
    pub speed: Speed,
    /// The session's working directory (`cwd`), when the line has one.
    pub project: Option<Arc<str>>,
    /// `sessionId`, when the line has one.
    pub session_id: Option<Arc<str>>,
}
