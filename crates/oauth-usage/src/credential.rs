//! Parsing Claude Code's stored OAuth credential.
//!
//! The same bytes come from `.credentials.json` or from the macOS Keychain item. Accepted
//! shapes, after trimming surrounding whitespace:
//!
//! - JSON with a nested `claudeAiOauth` object, or the `claudeAiOauth` object itself at the top
//!   level;
//! - lowercase (or uppercase) hex of such JSON, which `security -w` prints when the stored bytes
//!   hold a newline or non-ASCII;
//! - a bare `sk-ant-oat..` access token (very old installs).
//!
//! The refresh token is never deserialized into a field: serde skips it while parsing.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::secret::AccessToken;

/// Inputs larger than this are refused without parsing.
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;

/// Longest access token accepted.
const MAX_TOKEN_LEN: usize = 4096;

/// The scope the usage endpoint requires.
pub const PROFILE_SCOPE: &str = "user:profile";

/// A parsed OAuth credential. It holds the access token only; never the refresh token.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    /// The access token.
    pub token: AccessToken,
    /// When the access token expires (`expiresAt`, epoch milliseconds), if stored.
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scopes; empty when the store does not list any.
    pub scopes: Vec<String>,
    /// `subscriptionType` (`pro`, `max`, ...), as stored; it can mislabel the plan.
    pub subscription_type: Option<String>,
    /// `rateLimitTier`, as stored.
    pub rate_limit_tier: Option<String>,
}

impl Credential {
    /// Whether the token has expired at `now` (`expires_at <= now`). Unknown expiry is not
    /// expired.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the credential lists scopes and `user:profile` is not among them. A credential
    /// without a scope list is given the benefit of the doubt.
    pub fn lacks_profile_scope(&self) -> bool {
        !self.scopes.is_empty() && !self.scopes.iter().any(|s| s == PROFILE_SCOPE)
    }
}

/// Why no credential could be taken from some bytes or from a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// The store does not exist (no file, no Keychain item).
    #[error("credential not found at {location}")]
    NotFound {
        /// Where it was looked for (a path or a Keychain service name).
        location: String,
    },
    /// The store exists but could not be read.
    #[error("credential store unreadable at {location}")]
    Unreadable {
        /// The path or Keychain service name.
        location: String,
    },
    /// Reading the store took too long (the Keychain helper was killed).
    #[error("credential store timed out at {location}")]
    TimedOut {
        /// The Keychain service name.
        location: String,
    },
    /// The input is larger than [`MAX_CREDENTIAL_BYTES`].
    #[error("credential input too large ({len} bytes)")]
    TooLarge {
        /// The input length.
        len: usize,
    },
    /// The input is empty or whitespace.
    #[error("credential input is empty")]
    Empty,
    /// The input is neither JSON, hex of JSON, nor a bare token.
    #[error("credential input is malformed")]
    Malformed,
    /// The JSON holds only MCP OAuth entries (`mcpOAuth`), no Claude login.
    #[error("credential holds only mcp oauth entries")]
    McpOnly,
    /// The JSON holds no `claudeAiOauth` object.
    #[error("credential holds no claude oauth entry")]
    NoOAuth,
    /// The OAuth object has no usable `accessToken`.
    #[error("credential has no usable access token")]
    MissingToken,
}

/// `expiresAt` as stored: a number of epoch milliseconds (integer or float).
#[derive(Deserialize)]
#[serde(untagged)]
enum EpochMs {
    Int(i64),
    Float(f64),
}

/// `scopes` as stored: a list, or (defensively) one space-separated string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    List(Vec<Option<String>>),
    Text(String),
}

/// The `claudeAiOauth` object. Unknown keys (`refreshToken` among them) are skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOAuth {
    access_token: Option<String>,
    expires_at: Option<EpochMs>,
    scopes: Option<Scopes>,
    subscription_type: Option<String>,
    rate_limit_tier: Option<String>,
}

/// The top-level object: either a wrapper with `claudeAiOauth`, or the OAuth object itself.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTop {
    claude_ai_oauth: Option<RawOAuth>,
    #[serde(rename = "mcpOAuth")]
    mcp_oauth: Option<IgnoredAny>,
    access_token: Option<String>,
    expires_at: Option<EpochMs>,
    scopes: Option<Scopes>,
    subscription_type: Option<String>,
    rate_limit_tier: Option<String>,
}

/// Parses stored credential bytes (file contents or Keychain output).
pub fn parse_credential(bytes: &[u8]) -> Result<Credential, CredentialError> {
    if bytes.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge { len: bytes.len() });
    }
    let trimmed = bytes.trim_ascii();
    if trimmed.is_empty() {
        return Err(CredentialError::Empty);
    }
    if trimmed.first() == Some(&b'{') {
        return parse_json(trimmed);
    }
    if trimmed.starts_with(b"sk-ant-") {
        return bare_token(trimmed);
    }
    let decoded = hex_decode(trimmed).ok_or(CredentialError::Malformed)?;
    let inner = decoded.trim_ascii();
    if inner.first() == Some(&b'{') {
        parse_json(inner)
    } else if inner.starts_with(b"sk-ant-") {
        bare_token(inner)
    } else {
        Err(CredentialError::Malformed)
    }
}

fn parse_json(bytes: &[u8]) -> Result<Credential, CredentialError> {
    // The serde error is dropped on purpose: its message can quote input (a token).
    let top: RawTop = serde_json::from_slice(bytes).map_err(|_| CredentialError::Malformed)?;
    let oauth = match top.claude_ai_oauth {
        Some(oauth) => oauth,
        None if top.access_token.is_some() => RawOAuth {
            access_token: top.access_token,
            expires_at: top.expires_at,
            scopes: top.scopes,
            subscription_type: top.subscription_type,
            rate_limit_tier: top.rate_limit_tier,
        },
        None if top.mcp_oauth.is_some() => return Err(CredentialError::McpOnly),
        None => return Err(CredentialError::NoOAuth),
    };
    let token = oauth
        .access_token
        .filter(|t| valid_token_text(t.as_bytes()))
        .ok_or(CredentialError::MissingToken)?;
    Ok(Credential {
        token: AccessToken::new(token),
        expires_at: oauth.expires_at.and_then(epoch_ms_to_utc),
        scopes: match oauth.scopes {
            Some(Scopes::List(list)) => list.into_iter().flatten().collect(),
            Some(Scopes::Text(text)) => text.split_whitespace().map(str::to_owned).collect(),
            None => Vec::new(),
        },
        subscription_type: oauth.subscription_type.and_then(short_label),
        rate_limit_tier: oauth.rate_limit_tier.and_then(short_label),
    })
}

fn bare_token(bytes: &[u8]) -> Result<Credential, CredentialError> {
    if !valid_token_text(bytes) {
        return Err(CredentialError::Malformed);
    }
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| CredentialError::Malformed)?;
    Ok(Credential {
        token: AccessToken::new(text),
        expires_at: None,
        scopes: Vec::new(),
        subscription_type: None,
        rate_limit_tier: None,
    })
}

/// A token must be usable in a header: visible ASCII only, bounded, non-empty.
fn valid_token_text(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.len() <= MAX_TOKEN_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Plan labels are kept only when short and plain.
fn short_label(text: String) -> Option<String> {
    let plain = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !text.contains("sk-ant");
    plain.then_some(text)
}

fn epoch_ms_to_utc(value: EpochMs) -> Option<DateTime<Utc>> {
    let ms = match value {
        EpochMs::Int(ms) => ms,
        EpochMs::Float(ms) if ms.is_finite() && ms.abs() < 1e17 => {
            #[allow(clippy::cast_possible_truncation)]
            let ms = ms.trunc() as i64;
            ms
        }
        EpochMs::Float(_) => return None,
    };
    DateTime::from_timestamp_millis(ms)
}

/// Decodes hex (either case, even length). `None` when it is not hex.
pub(crate) fn hex_decode(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    text.chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::hex_lower;

    const TOKEN: &str = "sk-ant-oat01-FAKE0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000AA";
    const REFRESH: &str = "sk-ant-ort01-FAKEREFRESH";

    fn nested() -> String {
        format!(
            r#"{{"claudeAiOauth":{{"accessToken":"{TOKEN}","refreshToken":"{REFRESH}",
            "expiresAt":1760347776077,"scopes":["user:inference","user:profile"],
            "subscriptionType":"max","rateLimitTier":"default_claude_max_20x"}},
            "organizationUuid":"00000000-0000-0000-0000-000000000000","mcpOAuth":{{}}}}"#
        )
    }

    #[test]
    fn parses_nested_object() {
        let cred = parse_credential(nested().as_bytes()).expect("parses");
        assert_eq!(cred.token.expose_secret(), TOKEN);
        assert_eq!(
            cred.expires_at,
            DateTime::from_timestamp_millis(1_760_347_776_077)
        );
        assert_eq!(cred.scopes, ["user:inference", "user:profile"]);
        assert_eq!(cred.subscription_type.as_deref(), Some("max"));
        assert_eq!(
            cred.rate_limit_tier.as_deref(),
            Some("default_claude_max_20x")
        );
        assert!(!cred.lacks_profile_scope());
    }

    #[test]
    fn parses_direct_object() {
        let text =
            format!(r#"{{"accessToken":"{TOKEN}","expiresAt":1.5e12,"scopes":"user:profile"}}"#);
        let cred = parse_credential(text.as_bytes()).expect("parses");
        assert_eq!(cred.token.expose_secret(), TOKEN);
        assert_eq!(
            cred.expires_at,
            DateTime::from_timestamp_millis(1_500_000_000_000)
        );
        assert_eq!(cred.scopes, ["user:profile"]);
    }

    #[test]
    fn parses_hex_of_json_and_bare_token() {
        let hex = format!("{}\n", hex_lower(nested().as_bytes()));
        let cred = parse_credential(hex.as_bytes()).expect("hex parses");
        assert_eq!(cred.token.expose_secret(), TOKEN);
        let upper = hex.to_ascii_uppercase();
        assert!(parse_credential(upper.as_bytes()).is_ok());

        let bare = parse_credential(format!("  {TOKEN}\n").as_bytes()).expect("bare parses");
        assert_eq!(bare.token.expose_secret(), TOKEN);
        assert_eq!(bare.expires_at, None);
        assert!(bare.scopes.is_empty());
    }

    #[test]
    fn mcp_only_and_missing_oauth() {
        let mcp = r#"{"mcpOAuth":{"server":{"accessToken":"x"}}}"#;
        assert_eq!(
            parse_credential(mcp.as_bytes()),
            Err(CredentialError::McpOnly)
        );
        let mcp_null = r#"{"claudeAiOauth":null,"mcpOAuth":{}}"#;
        assert_eq!(
            parse_credential(mcp_null.as_bytes()),
            Err(CredentialError::McpOnly)
        );
        assert_eq!(parse_credential(b"{}"), Err(CredentialError::NoOAuth));
        let no_token = r#"{"claudeAiOauth":{"expiresAt":1}}"#;
        assert_eq!(
            parse_credential(no_token.as_bytes()),
            Err(CredentialError::MissingToken)
        );
        let bad_token = r#"{"claudeAiOauth":{"accessToken":"has space"}}"#;
        assert_eq!(
            parse_credential(bad_token.as_bytes()),
            Err(CredentialError::MissingToken)
        );
    }

    #[test]
    fn refuses_malformed_and_large() {
        assert_eq!(parse_credential(b""), Err(CredentialError::Empty));
        assert_eq!(parse_credential(b" \n"), Err(CredentialError::Empty));
        assert_eq!(
            parse_credential(b"{not json"),
            Err(CredentialError::Malformed)
        );
        assert_eq!(parse_credential(b"hello"), Err(CredentialError::Malformed));
        assert_eq!(parse_credential(b"abc"), Err(CredentialError::Malformed));
        assert_eq!(parse_credential(b"6869"), Err(CredentialError::Malformed));
        let wrong_type =
            format!(r#"{{"claudeAiOauth":{{"accessToken":"{TOKEN}","expiresAt":"soon"}}}}"#);
        let err = parse_credential(wrong_type.as_bytes()).expect_err("wrong type");
        assert_eq!(err, CredentialError::Malformed);
        assert!(!err.to_string().contains("sk-ant"));
        let big = vec![b' '; MAX_CREDENTIAL_BYTES + 1];
        assert_eq!(
            parse_credential(&big),
            Err(CredentialError::TooLarge {
                len: MAX_CREDENTIAL_BYTES + 1
            })
        );
    }

    #[test]
    fn debug_hides_token() {
        let cred = parse_credential(nested().as_bytes()).expect("parses");
        let shown = format!("{cred:?}");
        assert!(!shown.contains("sk-ant"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn expiry_and_scope_checks() {
        let cred = parse_credential(nested().as_bytes()).expect("parses");
        let at = cred.expires_at.expect("has expiry");
        assert!(cred.is_expired(at));
        assert!(!cred.is_expired(at - chrono::Duration::milliseconds(1)));
        let mut narrow = cred.clone();
        narrow.scopes = vec!["user:inference".to_owned()];
        assert!(narrow.lacks_profile_scope());
        narrow.scopes.clear();
        assert!(!narrow.lacks_profile_scope());
    }
}
