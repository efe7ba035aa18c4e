//! The whole read: credential, guards, version, request, answer, state.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::credential::{Credential, CredentialError};
use crate::endpoint::BaseUrl;
use crate::fetch::{FetchError, FetchResult, fetch};
use crate::state::{BucketState, StateDir};
use crate::store::{CredentialSources, CredentialStore, load_credential};
use crate::usage::{UsageReading, parse_usage};
use crate::version::{DEFAULT_VERSION_TIMEOUT, claude_version};

/// The longest a whole read may take; larger configured budgets are lowered to this.
pub const MAX_BUDGET: Duration = Duration::from_secs(6);

/// How long a good reading is reused without a request, by default.
pub const DEFAULT_FRESHNESS: Duration = Duration::from_secs(60);

/// The cool-down after a 429 without a usable `Retry-After`, by default.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(10 * 60);

/// The shortest cool-down after a 429, even with `Retry-After: 0`.
pub const MIN_COOLDOWN: Duration = Duration::from_secs(300);
/// How far past the freshness window a stored reading is still reused (scheduler jitter).
pub const FRESHNESS_SLACK: Duration = Duration::from_secs(10);

/// The longest cool-down honoured, whatever `Retry-After` says.
pub const MAX_COOLDOWN: Duration = Duration::from_secs(6 * 60 * 60);

/// Everything a read needs. Build it with [`ReaderConfig::new`] (no environment) or
/// [`ReaderConfig::from_process`], then adjust fields.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Where the credential is read from.
    pub sources: CredentialSources,
    /// The endpoint base (Anthropic, or loopback in tests).
    pub base_url: BaseUrl,
    /// Where the cool-down and the last good reading are kept; `None` keeps nothing, so every
    /// read may send a request.
    pub state_dir: Option<PathBuf>,
    /// The time allowed for the whole read; at most [`MAX_BUDGET`].
    pub budget: Duration,
    /// How long a stored reading is reused without a request.
    pub freshness: Duration,
    /// The cool-down after a 429 without a usable `Retry-After`.
    pub default_cooldown: Duration,
    /// The `claude` binary to ask for its version; `None` searches `path_env`.
    pub claude_path: Option<PathBuf>,
    /// The `PATH` value searched for `claude`.
    pub path_env: Option<OsString>,
    /// Whether an API key (`ANTHROPIC_API_KEY`) is configured.
    pub api_key_present: bool,
}

impl ReaderConfig {
    /// Defaults around `sources`: the Anthropic base, no state directory, a 6 s budget, 60 s
    /// freshness, a 10 minute default cool-down, no `PATH`, no API key.
    pub fn new(sources: CredentialSources) -> Self {
        Self {
            sources,
            base_url: BaseUrl::anthropic(),
            state_dir: None,
            budget: MAX_BUDGET,
            freshness: DEFAULT_FRESHNESS,
            default_cooldown: DEFAULT_COOLDOWN,
            claude_path: None,
            path_env: None,
            api_key_present: false,
        }
    }

    /// Defaults with credential sources, `PATH` and `ANTHROPIC_API_KEY` presence taken from the
    /// process environment, and `state_dir` as given.
    pub fn from_process(state_dir: Option<PathBuf>) -> Self {
        let mut config = Self::new(CredentialSources::from_process());
        config.state_dir = state_dir;
        config.path_env = std::env::var_os("PATH");
        config.api_key_present =
            std::env::var_os("ANTHROPIC_API_KEY").is_some_and(|k| !k.is_empty());
        config
    }
}

/// `$XDG_STATE_HOME/<app>`, else `~/.local/state/<app>`, from the process environment.
pub fn default_state_dir(app: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(base.join(app))
}

/// How the user authenticates Claude Code, as far as this reader can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// A Claude subscription login (an OAuth credential was found).
    #[serde(rename = "oauth")]
    OAuth,
    /// No OAuth credential, but an API key is configured: plan usage does not apply.
    ApiKey,
    /// Neither could be established.
    Unknown,
}

/// Why no live reading was produced. Carries no secret and no body text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum SkipReason {
    /// No stored OAuth credential (missing, unreadable or malformed store).
    NoCredential,
    /// The store holds only MCP OAuth entries.
    McpOnly,
    /// The access token has expired; Claude Code refreshes it the next time it runs.
    Expired,
    /// The credential's scopes lack `user:profile`.
    MissingScope,
    /// `claude --version` gave no version.
    NoCli,
    /// An unexpected HTTP status (the code).
    Http(u16),
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 429; a cool-down was stored.
    RateLimited,
    /// The budget ran out.
    Timeout,
    /// The body passed the cap.
    TooLarge,
    /// The body was not a valid usage answer.
    Parse,
    /// A recent 429 forbids requests until `until`.
    CoolingDown {
        /// When requests may resume.
        until: DateTime<Utc>,
    },
    /// A connection or protocol failure.
    Network,
    /// The configured base URL was refused.
    InvalidBaseUrl,
}

impl SkipReason {
    /// A short stable code (`no_credential`, `http`, `cooling_down`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoCredential => "no_credential",
            Self::McpOnly => "mcp_only",
            Self::Expired => "expired",
            Self::MissingScope => "missing_scope",
            Self::NoCli => "no_cli",
            Self::Http(_) => "http",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::Timeout => "timeout",
            Self::TooLarge => "too_large",
            Self::Parse => "parse",
            Self::CoolingDown { .. } => "cooling_down",
            Self::Network => "network",
            Self::InvalidBaseUrl => "invalid_base_url",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCredential => f.write_str("no oauth credential"),
            Self::McpOnly => f.write_str("credential holds only mcp oauth entries"),
            Self::Expired => f.write_str("oauth token expired"),
            Self::MissingScope => f.write_str("oauth token lacks the user:profile scope"),
            Self::NoCli => f.write_str("claude cli version unavailable"),
            Self::Http(status) => write!(f, "unexpected http status {status}"),
            Self::Unauthorized => f.write_str("unauthorized (401)"),
            Self::Forbidden => f.write_str("forbidden (403)"),
            Self::RateLimited => f.write_str("rate limited (429)"),
            Self::Timeout => f.write_str("timed out"),
            Self::TooLarge => f.write_str("response too large"),
            Self::Parse => f.write_str("malformed usage response"),
            Self::CoolingDown { until } => {
                write!(f, "cooling down until {}", until.to_rfc3339())
            }
            Self::Network => f.write_str("network error"),
            Self::InvalidBaseUrl => f.write_str("invalid base url"),
        }
    }
}

/// The result of one read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The live reading (fresh, or reused within the freshness window); `None` on any failure.
    pub reading: Option<UsageReading>,
    /// Why there is no reading; `None` when there is one.
    pub reason: Option<SkipReason>,
    /// How the user authenticates.
    pub auth_mode: AuthMode,
    /// Whether `reading` was reused from the state directory instead of requested.
    pub reused: bool,
    /// `subscriptionType` of the credential, when one was found.
    pub subscription_type: Option<String>,
    /// `rateLimitTier` of the credential, when one was found.
    pub rate_limit_tier: Option<String>,
    /// When `reading` is `None`: the last good reading of this token, with its real
    /// `fetched_at`, for showing as stale. Never set when `reading` is set.
    pub stale_reading: Option<UsageReading>,
}

impl Outcome {
    /// An outcome with no reading for `reason`, e.g. [`SkipReason::InvalidBaseUrl`] when the
    /// caller could not build a [`BaseUrl`].
    pub fn skipped(reason: SkipReason) -> Self {
        Self {
            reading: None,
            reason: Some(reason),
            auth_mode: AuthMode::Unknown,
            reused: false,
            subscription_type: None,
            rate_limit_tier: None,
            stale_reading: None,
        }
    }

    /// Whether a reading is present (fresh or reused).
    pub fn is_live(&self) -> bool {
        self.reading.is_some()
    }
}

/// Timings and facts gathered along the way, for the log line.
#[derive(Debug, Default)]
struct Trace {
    store: Option<&'static str>,
    credential_ms: Option<u128>,
    version_ms: Option<u128>,
    fetch_ms: Option<u128>,
    http_status: Option<u16>,
}

/// Reads the live usage, or says why not. Never refreshes a token, never writes a
/// credential. Finishes within `config.budget` (at most [`MAX_BUDGET`]). Every time check
/// (expiry, freshness, cool-down) uses `now`; only timeouts use the real clock.
pub async fn read_usage(config: &ReaderConfig, now: DateTime<Utc>) -> Outcome {
    let started = Instant::now();
    let budget = config.budget.min(MAX_BUDGET);
    let deadline = started + budget;
    let mut outcome = Outcome::skipped(SkipReason::Timeout);
    let mut trace = Trace::default();
    let finished =
        tokio::time::timeout(budget, run(config, now, deadline, &mut outcome, &mut trace)).await;
    if finished.is_err() {
        outcome.reading = None;
        outcome.reused = false;
        outcome.reason = Some(SkipReason::Timeout);
    }
    if outcome.reading.is_some() {
        outcome.stale_reading = None;
    }
    let reason = outcome.reason.as_ref().map(SkipReason::code);
    tracing::info!(
        live = outcome.reading.is_some(),
        reused = outcome.reused,
        reason,
        auth_mode = ?outcome.auth_mode,
        store = trace.store,
        http_status = trace.http_status,
        credential_ms = trace.credential_ms,
        version_ms = trace.version_ms,
        fetch_ms = trace.fetch_ms,
        elapsed_ms = started.elapsed().as_millis(),
        "oauth usage read"
    );
    outcome
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Helper processes must time out (and be reaped) a little before the overall budget does.
const PROCESS_MARGIN: Duration = Duration::from_millis(100);

async fn run(
    config: &ReaderConfig,
    now: DateTime<Utc>,
    deadline: Instant,
    out: &mut Outcome,
    trace: &mut Trace,
) {
    let step = Instant::now();
    let mut sources = config.sources.clone();
    sources.keychain_timeout = sources
        .keychain_timeout
        .min(remaining(deadline).saturating_sub(PROCESS_MARGIN));
    let loaded = load_credential(&sources).await;
    trace.credential_ms = Some(step.elapsed().as_millis());
    let credential: Credential = match loaded {
        Ok((credential, store)) => {
            trace.store = Some(match store {
                CredentialStore::Keychain { .. } => "keychain",
                CredentialStore::File(_) => "file",
            });
            credential
        }
        Err(err) => {
            out.auth_mode = if config.api_key_present {
                AuthMode::ApiKey
            } else {
                AuthMode::Unknown
            };
            out.reason = Some(match err {
                CredentialError::McpOnly => SkipReason::McpOnly,
                CredentialError::TimedOut { .. } => SkipReason::Timeout,
                _ => SkipReason::NoCredential,
            });
            return;
        }
    };
    out.auth_mode = AuthMode::OAuth;
    out.subscription_type
        .clone_from(&credential.subscription_type);
    out.rate_limit_tier.clone_from(&credential.rate_limit_tier);

    let key = credential.token.bucket_key();
    let state_dir = config.state_dir.clone().map(StateDir::new);
    let mut bucket = state_dir
        .as_ref()
        .map(|dir| dir.load(&key))
        .unwrap_or_default();

    out.stale_reading.clone_from(&bucket.last_reading);
    if credential.is_expired(now) {
        out.reason = Some(SkipReason::Expired);
        return;
    }
    if credential.lacks_profile_scope() {
        out.reason = Some(SkipReason::MissingScope);
        return;
    }

    if let Some(last) = &bucket.last_reading {
        let age = now.signed_duration_since(last.fetched_at);
        let fresh = chrono::Duration::from_std(config.freshness).unwrap_or(chrono::Duration::MAX);
        // A job scheduled every `freshness` runs a little early or late: within the slack it
        // still reuses the reading, so it asks at most every other run.
        let slack = chrono::Duration::from_std(FRESHNESS_SLACK).unwrap_or_default();
        let fresh = fresh.checked_add(&slack).unwrap_or(fresh);
        if age >= chrono::Duration::zero() && age < fresh {
            out.reading = Some(last.clone());
            out.reused = true;
            out.reason = None;
            return;
        }
    }
    if let Some(until) = bucket.cooldown_until
        && until > now
    {
        out.reason = Some(SkipReason::CoolingDown { until });
        return;
    }

    let step = Instant::now();
    let version = claude_version(
        config.claude_path.clone(),
        config.path_env.clone(),
        remaining(deadline)
            .saturating_sub(PROCESS_MARGIN)
            .min(DEFAULT_VERSION_TIMEOUT),
    )
    .await;
    trace.version_ms = Some(step.elapsed().as_millis());
    let Some(version) = version else {
        out.reason = Some(SkipReason::NoCli);
        return;
    };

    let total = remaining(deadline);
    if total.is_zero() {
        out.reason = Some(SkipReason::Timeout);
        return;
    }
    let step = Instant::now();
    let fetched = fetch(&config.base_url, &credential.token, &version, total, now).await;
    trace.fetch_ms = Some(step.elapsed().as_millis());
    let body = match fetched {
        Ok(FetchResult::Body(body)) => {
            trace.http_status = Some(200);
            body
        }
        Ok(FetchResult::RateLimited { retry_at }) => {
            trace.http_status = Some(429);
            bucket.cooldown_until = Some(cooldown_until(retry_at, now, config.default_cooldown));
            save(state_dir.as_ref(), &key, &bucket);
            out.reason = Some(SkipReason::RateLimited);
            return;
        }
        Ok(FetchResult::Status(status)) => {
            trace.http_status = Some(status);
            out.reason = Some(match status {
                401 => SkipReason::Unauthorized,
                403 => SkipReason::Forbidden,
                _ => SkipReason::Http(status),
            });
            return;
        }
        Err(err) => {
            out.reason = Some(match err {
                FetchError::Timeout => SkipReason::Timeout,
                FetchError::TooLarge => SkipReason::TooLarge,
                FetchError::Network | FetchError::Build => SkipReason::Network,
            });
            return;
        }
    };
    let mut reading = match parse_usage(&body, now) {
        Ok(reading) => reading,
        Err(err) => {
            tracing::debug!(error = %err, "usage answer refused");
            out.reason = Some(SkipReason::Parse);
            return;
        }
    };
    drop(body);
    reading
        .subscription_type
        .clone_from(&credential.subscription_type);
    reading
        .rate_limit_tier
        .clone_from(&credential.rate_limit_tier);
    let fresh_state = BucketState {
        cooldown_until: None,
        last_reading: Some(reading.clone()),
    };
    save(state_dir.as_ref(), &key, &fresh_state);
    out.reading = Some(reading);
    out.reason = None;
    out.stale_reading = None;
}

/// The end of the cool-down after a 429: `Retry-After` when given, else the default; never
/// sooner than [`MIN_COOLDOWN`] nor later than [`MAX_COOLDOWN`] from `now`.
pub fn cooldown_until(
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    default_cooldown: Duration,
) -> DateTime<Utc> {
    let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let floor = now + span(MIN_COOLDOWN);
    let ceiling = now + span(MAX_COOLDOWN);
    let wanted = retry_at.unwrap_or_else(|| {
        now.checked_add_signed(span(default_cooldown))
            .unwrap_or(ceiling)
    });
    wanted.clamp(floor, ceiling)
}

fn save(dir: Option<&StateDir>, key: &str, state: &BucketState) {
    if let Some(dir) = dir
        && let Err(err) = dir.save(key, state)
    {
        tracing::warn!(error = %err, path = %dir.path(key).display(), "could not save usage state");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).expect("valid")
    }

    #[test]
    fn cooldown_bounds() {
        let secs = chrono::Duration::seconds;
        let default = Duration::from_secs(600);
        assert_eq!(cooldown_until(None, now(), default), now() + secs(600));
        assert_eq!(
            cooldown_until(Some(now()), now(), default),
            now() + secs(300)
        );
        assert_eq!(
            cooldown_until(Some(now() - secs(3600)), now(), default),
            now() + secs(300)
        );
        assert_eq!(
            cooldown_until(Some(now() + secs(1800)), now(), default),
            now() + secs(1800)
        );
        assert_eq!(
            cooldown_until(Some(now() + secs(86_400 * 30)), now(), default),
            now() + secs(6 * 3600)
        );
    }

    #[test]
    fn reasons_display_lowercase_without_secrets() {
        let reasons = [
            SkipReason::NoCredential,
            SkipReason::McpOnly,
            SkipReason::Expired,
            SkipReason::MissingScope,
            SkipReason::NoCli,
            SkipReason::Http(500),
            SkipReason::Unauthorized,
            SkipReason::Forbidden,
            SkipReason::RateLimited,
            SkipReason::Timeout,
            SkipReason::TooLarge,
            SkipReason::Parse,
            SkipReason::CoolingDown { until: now() },
            SkipReason::Network,
            SkipReason::InvalidBaseUrl,
        ];
        for reason in reasons {
            let text = reason.to_string();
            assert!(!text.is_empty());
            assert_eq!(text.to_lowercase(), text.replace('T', "t"), "{text}");
            assert!(!reason.code().is_empty());
        }
        assert_eq!(
            SkipReason::Http(500).to_string(),
            "unexpected http status 500"
        );
    }
}
