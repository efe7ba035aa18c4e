//! Reads Claude Code's JSONL transcripts.
mod event;
pub use event::{Speed, TokenCounts, UsageEvent};
