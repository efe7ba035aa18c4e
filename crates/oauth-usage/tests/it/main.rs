//! Integration tests: a real HTTP server on 127.0.0.1, fake `security` and `claude` scripts,
//! and credential files in temporary directories. Nothing reads the real home or credentials.

mod base_url;
mod common;
mod credentials;
mod endpoint;
mod keychain;
mod network_faults;
mod secrets;
mod version;
