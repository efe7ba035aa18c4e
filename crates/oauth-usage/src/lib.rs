//! Live Claude plan usage from Claude Code's OAuth usage endpoint, strictly read-only.
//!
//! [`read_usage`] reads the stored OAuth credential ([`load_credential`]), detects the Claude
//! Code version ([`claude_version`]) and calls `GET /api/oauth/usage` within a total budget of
//! at most 6 s. A valid answer yields a [`UsageReading`]; any failure yields no reading and a
//! [`SkipReason`], and the caller falls back to a local estimate. Tokens are never refreshed
//! and credentials never written. A 429 starts a per-token cool-down and good readings are
//! reused for a freshness window, both kept in a state directory.
//!
//! Secrets: the token lives in [`AccessToken`], which cannot be displayed or serialized and
//! whose `Debug` is redacted. No error, reason, log field or reading carries a token or a body.

mod credential;
mod endpoint;
mod fetch;
mod process;
mod reader;
mod secret;
mod state;
mod store;
mod usage;
mod version;

pub use credential::{
    Credential, CredentialError, MAX_CREDENTIAL_BYTES, PROFILE_SCOPE, parse_credential,
};
pub use endpoint::{ANTHROPIC_BASE, BaseUrl, BaseUrlError, USAGE_PATH};
pub use fetch::{BETA_HEADER_VALUE, MAX_BODY_BYTES};
pub use reader::{
    AuthMode, DEFAULT_COOLDOWN, DEFAULT_FRESHNESS, FRESHNESS_SLACK, MAX_BUDGET, MAX_COOLDOWN,
    MIN_COOLDOWN, Outcome, ReaderConfig, SkipReason, cooldown_until, default_state_dir, read_usage,
};
pub use secret::AccessToken;
pub use store::{
    CredentialSources, CredentialStore, DEFAULT_KEYCHAIN_TIMEOUT, DEFAULT_SECURITY_PATH,
    FALLBACK_ACCOUNT, KEYCHAIN_SERVICE, Platform, config_dir_hash, load_credential, read_file,
};
pub use usage::{
    ExtraUsage, LimitKind, LimitReading, MAX_UTILIZATION, ParseError, Severity, UsageReading,
    WindowReading, parse_usage,
};
pub use version::{DEFAULT_VERSION_TIMEOUT, claude_version, find_on_path, parse_version};
