//! Integration tests of `claude-logs`: transcript trees built in temp directories.

mod discovery;
mod hostile;
mod lines;
mod peer_differences;
mod property;
mod repo_fixtures;
mod scanning;
mod support;
