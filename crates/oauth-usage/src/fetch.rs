//! The one HTTP request: `GET {base}/api/oauth/usage`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::redirect::Policy;

use crate::endpoint::BaseUrl;
use crate::secret::AccessToken;

/// Bodies larger than this are refused.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The beta header the endpoint requires.
pub const BETA_HEADER_VALUE: &str = "oauth-2025-04-20";

/// The longest connect phase allowed, within the total budget.
const MAX_CONNECT: Duration = Duration::from_secs(3);

/// What came back from the endpoint.
#[derive(Debug)]
pub(crate) enum FetchResult {
    /// 2xx with a body within the cap.
    Body(Vec<u8>),
    /// 429, with the parsed `Retry-After` (an absolute time), if any.
    RateLimited { retry_at: Option<DateTime<Utc>> },
    /// Any other status (the body is not read).
    Status(u16),
}

/// Why the request gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// The budget ran out (connect or total).
    Timeout,
    /// Connection or protocol failure.
    Network,
    /// The body passed [`MAX_BODY_BYTES`].
    TooLarge,
    /// The request could not be built (invalid header text).
    Build,
}

/// Builds the client: no proxy, no redirects, bounded connect and total time.
pub(crate) fn build_client(total: Duration) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(Policy::none())
        .referer(false)
        .connect_timeout(total.min(MAX_CONNECT))
        .timeout(total)
        .build()
        .map_err(|_| FetchError::Build)
}

/// The request headers, with the `Authorization` value marked sensitive.
pub(crate) fn request_headers(token: &AccessToken, version: &str) -> Result<HeaderMap, FetchError> {
    let mut headers = HeaderMap::new();
    let mut auth = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
        .map_err(|_| FetchError::Build)?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(
        "anthropic-beta",
        HeaderValue::from_static(BETA_HEADER_VALUE),
    );
    headers.insert(
        USER_AGENT,
        HeaderValue::try_from(format!("claude-code/{version}")).map_err(|_| FetchError::Build)?,
    );
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    Ok(headers)
}

/// Sends the request within `total` and reads at most [`MAX_BODY_BYTES`] of a 2xx body.
/// `now` anchors a `Retry-After` given in seconds.
pub(crate) async fn fetch(
    base: &BaseUrl,
    token: &AccessToken,
    version: &str,
    total: Duration,
    now: DateTime<Utc>,
) -> Result<FetchResult, FetchError> {
    let client = build_client(total)?;
    let headers = request_headers(token, version)?;
    let mut response = client
        .get(base.usage_url())
        .headers(headers)
        .send()
        .await
        .map_err(classify)?;
    let status = response.status().as_u16();
    if status == 429 {
        let retry_at = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, now));
        return Ok(FetchResult::RateLimited { retry_at });
    }
    if !(200..300).contains(&status) {
        return Ok(FetchResult::Status(status));
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY_BYTES as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchResult::Body(body))
}

fn classify(err: reqwest::Error) -> FetchError {
    // The error's text is not kept: it is classified and dropped.
    if err.is_timeout() {
        FetchError::Timeout
    } else if err.is_builder() {
        FetchError::Build
    } else {
        FetchError::Network
    }
}

/// `Retry-After` as an absolute time: delta seconds from `now`, or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurd values saturate; the caller caps the cool-down anyway.
        let secs: i64 = value.parse().unwrap_or(i64::MAX).min(i64::from(u32::MAX));
        return now.checked_add_signed(chrono::Duration::seconds(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(DateTime::<Utc>::from(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).expect("valid")
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            parse_retry_after("120", now()),
            Some(now() + chrono::Duration::seconds(120))
        );
        assert_eq!(parse_retry_after("0", now()), Some(now()));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now()),
            DateTime::from_timestamp(784_111_777, 0)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-5", now()), None);
        assert!(parse_retry_after("99999999999999999999999", now()).is_some());
    }

    #[test]
    fn client_builds_with_tls_provider() {
        assert!(build_client(Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn authorization_is_sensitive() {
        let token = AccessToken::new("sk-ant-oat01-FAKE".to_owned());
        let headers = request_headers(&token, "2.1.70").expect("headers");
        assert!(headers[AUTHORIZATION].is_sensitive());
        assert!(!format!("{headers:?}").contains("sk-ant"));
        assert_eq!(headers[USER_AGENT], "claude-code/2.1.70");
        assert_eq!(headers.len(), 4);
    }
}
