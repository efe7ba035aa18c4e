//! Arbitrary bytes as a stored credential: file contents or Keychain output (raw JSON, hex of
//! JSON, a bare token).
//!
//! Checked on every input: no panic; an error message never quotes the input; an accepted
//! token is non-empty visible ASCII of bounded length; kept plan labels are short, plain and
//! not token-like; the token's `Debug` form is the placeholder; the hex form of an input (as
//! `security -w` prints it) parses to the same result as the input itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_usage::{Credential, CredentialError, MAX_CREDENTIAL_BYTES, parse_credential};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_label(label: Option<&str>) {
    if let Some(label) = label {
        assert!(!label.is_empty() && label.len() <= 64, "{label:?}");
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        );
        assert!(!label.contains("sk-ant"));
    }
}

fn check(input: &[u8], parsed: &Result<Credential, CredentialError>) {
    match parsed {
        Ok(credential) => {
            let token = credential.token.expose_secret();
            assert!(!token.is_empty() && token.len() <= 4096);
            assert!(token.bytes().all(|b| b.is_ascii_graphic()), "{token:?}");
            check_label(credential.subscription_type.as_deref());
            check_label(credential.rate_limit_tier.as_deref());
            assert_eq!(format!("{:?}", credential.token), "AccessToken(REDACTED)");
        }
        Err(err) => {
            let message = err.to_string();
            assert!(!message.contains("sk-ant"), "{message}");
            assert!(message.len() < 200, "{message}");
            if input.len() > MAX_CREDENTIAL_BYTES {
                assert_eq!(*err, CredentialError::TooLarge { len: input.len() });
            }
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let parsed = parse_credential(input);
    check(input, &parsed);

    // `security -w` prints the item as hex when it holds a newline or non-ASCII bytes.
    let trimmed = input.trim_ascii();
    if (trimmed.starts_with(b"{") || trimmed.starts_with(b"sk-ant-"))
        && trimmed.len() * 2 <= MAX_CREDENTIAL_BYTES
    {
        let encoded = hex(trimmed);
        let from_hex = parse_credential(encoded.as_bytes());
        check(encoded.as_bytes(), &from_hex);
        assert_eq!(from_hex, parse_credential(trimmed), "hex form differs");
        let upper = encoded.to_ascii_uppercase();
        assert_eq!(parse_credential(upper.as_bytes()), from_hex);
    }
});
