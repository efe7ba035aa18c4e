//! Token counts, cost and responses of a set of events.

use claude_logs::TokenCounts;

/// Token counts, list-price cost and responses of a set of API responses.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    /// Uncached input tokens.
    pub input: u64,
    /// Output tokens.
    pub output: u64,
    /// Cache write tokens (5-minute and 1-hour).
    pub cache_creation: u64,
    /// Cache read tokens.
    pub cache_read: u64,
    /// `input + output + cache_creation + cache_read`.
    pub total: u64,
    /// US dollars at list price; unpriced responses add nothing.
    pub cost_usd: f64,
    /// API responses.
    pub messages: u64,
}

impl Counts {
    /// Adds one response with its cost (`None` for an unpriced one, which adds $0).
    pub fn add_event(&mut self, tokens: &TokenCounts, cost_usd: Option<f64>) {
        self.input = self.input.saturating_add(tokens.input);
        self.output = self.output.saturating_add(tokens.output);
        self.cache_creation = self.cache_creation.saturating_add(tokens.cache_creation);
        self.cache_read = self.cache_read.saturating_add(tokens.cache_read);
        self.total = self.total.saturating_add(tokens.total());
        self.cost_usd += cost_usd.unwrap_or(0.0);
        self.messages = self.messages.saturating_add(1);
    }

    /// Adds `other` field by field.
    pub fn merge(&mut self, other: &Counts) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_creation = self.cache_creation.saturating_add(other.cache_creation);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.total = self.total.saturating_add(other.total);
        self.cost_usd += other.cost_usd;
        self.messages = self.messages.saturating_add(other.messages);
    }

    /// Whether no response was counted.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_events_and_merges() {
        let tokens = TokenCounts {
            input: 1,
            output: 2,
            cache_creation: 3,
            cache_read: 4,
            cache_creation_5m: 3,
            cache_creation_1h: 0,
        };
        let mut a = Counts::default();
        assert!(a.is_empty());
        a.add_event(&tokens, Some(0.5));
        a.add_event(&tokens, None);
        assert_eq!(
            a,
            Counts {
                input: 2,
                output: 4,
                cache_creation: 6,
                cache_read: 8,
                total: 20,
                cost_usd: 0.5,
                messages: 2,
            }
        );
        let mut b = a;
        b.merge(&a);
        assert_eq!((b.total, b.messages, b.cost_usd), (40, 4, 1.0));
        assert!(!b.is_empty());
    }
}
