//! The usage endpoint's base URL, restricted so the token can only go to Anthropic or to a
//! loopback test server.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// The production origin.
pub const ANTHROPIC_BASE: &str = "https://api.anthropic.com";

/// The endpoint path, appended to every base.
pub const USAGE_PATH: &str = "/api/oauth/usage";

/// A validated base URL: exactly `https://api.anthropic.com`, or `http://` on a loopback host
/// (`127.0.0.0/8`, `[::1]`, `localhost`) with any port. Nothing else can carry the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    origin: String,
}

/// Why a base URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    /// Not a URL at all.
    #[error("base url is not a valid url: {0:?}")]
    Invalid(String),
    /// An `https` URL other than the Anthropic API.
    #[error("base url refused: https is allowed only for {ANTHROPIC_BASE}, got {0:?}")]
    NotAnthropic(String),
    /// An `http` URL whose host is not loopback.
    #[error("base url refused: http is allowed only for a loopback host, got {0:?}")]
    NotLoopback(String),
    /// A scheme other than `http` or `https`.
    #[error("base url refused: scheme must be https or loopback http, got {0:?}")]
    Scheme(String),
    /// User info, a path, a query or a fragment was given.
    #[error("base url refused: only scheme, host and port are allowed, got {0:?}")]
    Extra(String),
}

impl BaseUrl {
    /// The production base, `https://api.anthropic.com`.
    pub fn anthropic() -> Self {
        Self {
            origin: ANTHROPIC_BASE.to_owned(),
        }
    }

    /// Validates `text` (see the type docs).
    pub fn parse(text: &str) -> Result<Self, BaseUrlError> {
        let shown = || text.chars().take(200).collect::<String>();
        if text == ANTHROPIC_BASE || text.strip_suffix('/') == Some(ANTHROPIC_BASE) {
            return Ok(Self::anthropic());
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BaseUrlError::Invalid(shown()));
        }
        let url = Url::parse(text).map_err(|_| BaseUrlError::Invalid(shown()))?;
        match url.scheme() {
            "http" => {}
            "https" => return Err(BaseUrlError::NotAnthropic(shown())),
            _ => return Err(BaseUrlError::Scheme(shown())),
        }
        // Raw text checks too: user info must not hide in an encoded or odd form.
        let after_scheme = &text[text.find("://").map_or(0, |i| i + 3)..];
        let authority = after_scheme
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        if authority.contains('@')
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || !matches!(url.path(), "" | "/")
        {
            return Err(BaseUrlError::Extra(shown()));
        }
        let host_text = url.host_str().unwrap_or_default();
        let host = if let Some(inner) = host_text
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
        {
            inner
                .parse::<Ipv6Addr>()
                .ok()
                .filter(|ip| *ip == Ipv6Addr::LOCALHOST)
                .map(|_| "[::1]".to_owned())
        } else if let Ok(ip) = host_text.parse::<Ipv4Addr>() {
            ip.is_loopback().then(|| ip.to_string())
        } else {
            (host_text == "localhost").then(|| "localhost".to_owned())
        };
        let Some(host) = host else {
            return Err(BaseUrlError::NotLoopback(shown()));
        };
        let origin = match url.port() {
            Some(port) => format!("http://{host}:{port}"),
            None => format!("http://{host}"),
        };
        Ok(Self { origin })
    }

    /// The origin, without a trailing slash.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The full usage endpoint URL.
    pub fn usage_url(&self) -> String {
        format!("{}{USAGE_PATH}", self.origin)
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        Self::anthropic()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = BaseUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}
