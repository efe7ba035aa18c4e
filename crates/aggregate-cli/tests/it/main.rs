//! End-to-end tests: the real `aggregate` binary in a temp dir with a cleared environment.

mod browser;
mod calibration;
mod canary;
mod cli_errors;
mod faults;
mod ledger;
mod oauth;
mod redaction;
mod run_fixtures;
mod support;
mod validate;
