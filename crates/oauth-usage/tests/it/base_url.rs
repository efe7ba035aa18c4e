//! Which base URLs may carry the token.

use oauth_usage::{BaseUrl, BaseUrlError};

#[test]
fn accepted_bases() {
    let cases = [
        ("https://api.anthropic.com", "https://api.anthropic.com"),
        ("https://api.anthropic.com/", "https://api.anthropic.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://127.1.2.3", "http://127.1.2.3"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://LOCALHOST:3000", "http://localhost:3000"),
        ("http://localhost", "http://localhost"),
    ];
    for (input, origin) in cases {
        let base = BaseUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(base.origin(), origin, "{input}");
        assert_eq!(base.usage_url(), format!("{origin}/api/oauth/usage"));
    }
    assert_eq!(BaseUrl::default(), BaseUrl::anthropic());
    assert_eq!(
        BaseUrl::anthropic().usage_url(),
        "https://api.anthropic.com/api/oauth/usage"
    );
}

#[test]
fn refused_bases() {
    let cases = [
        "https://evil.example",
        "https://api.anthropic.com.evil.example",
        "https://api.anthropic.com:444",
        "https://api.anthropic.com/v1",
        "https://127.0.0.1",
        "http://api.anthropic.com",
        "http://10.0.0.1",
        "http://192.168.1.1:80",
        "http://0.0.0.0",
        "http://[::2]",
        "http://[::ffff:127.0.0.1]",
        "http://127.0.0.1@evil.com",
        "http://user:pass@127.0.0.1",
        "http://localhost@evil.com",
        "http://evil.com#@127.0.0.1",
        "http://localhost.evil.com",
        "http://localhost.",
        "http://127.0.0.1/prefix",
        "http://127.0.0.1/?q=1",
        "http://127.0.0.1:8080/api/oauth/usage",
        "ftp://127.0.0.1",
        "file:///etc/passwd",
        "127.0.0.1:8080",
        "",
        " https://api.anthropic.com",
        "http://127.0.0.1 /",
    ];
    for input in cases {
        let err = BaseUrl::parse(input).expect_err(input);
        let text = err.to_string();
        assert!(text.starts_with("base url"), "{input}: {text}");
    }
    assert!(matches!(
        BaseUrl::parse("https://evil.example"),
        Err(BaseUrlError::NotAnthropic(_))
    ));
    assert!(matches!(
        BaseUrl::parse("http://10.0.0.1"),
        Err(BaseUrlError::NotLoopback(_))
    ));
    assert!(matches!(
        BaseUrl::parse("http://127.0.0.1@evil.com"),
        Err(BaseUrlError::Extra(_))
    ));
}
