//! Incremental scans against full scans of the same transcripts.

mod crash;
mod property;
mod scenarios;
mod support;
