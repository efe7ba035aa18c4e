//! Credential files: shapes, failures, and the guards that prevent a request.

use std::path::PathBuf;

use oauth_usage::{
    AuthMode, CredentialError, CredentialStore, SkipReason, load_credential, read_usage,
};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{LOGIN_SCOPES, World, fake_token, nested_json, now, set_mode};

/// A server that must receive no request at all.
async fn silent_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn nested_file_is_read() {
    let token = fake_token('n');
    let world = World::with_token(&token);
    let (cred, store) = load_credential(&world.sources()).await.expect("credential");
    assert_eq!(cred.token.expose_secret(), token);
    assert_eq!(store, CredentialStore::File(world.credential_file()));
    assert_eq!(cred.subscription_type.as_deref(), Some("max"));
    assert_eq!(cred.expires_at, Some(now() + chrono::Duration::hours(8)));
}

#[tokio::test]
async fn direct_file_is_read() {
    let token = fake_token('d');
    let world = World::new();
    world.write_credential(
        &serde_json::json!({
            "accessToken": token,
            "refreshToken": crate::common::fake_refresh(),
            "expiresAt": (now() + chrono::Duration::hours(1)).timestamp_millis(),
            "scopes": ["user:profile"]
        })
        .to_string(),
    );
    let (cred, _) = load_credential(&world.sources()).await.expect("credential");
    assert_eq!(cred.token.expose_secret(), token);
    assert_eq!(cred.scopes, ["user:profile"]);
}

#[tokio::test]
async fn home_fallback_when_no_config_dir() {
    let token = fake_token('h');
    let world = World::new();
    let home = world.dir.path().join("home");
    std::fs::create_dir_all(home.join(".claude")).expect("mkdir");
    std::fs::write(
        home.join(".claude/.credentials.json"),
        nested_json(&token, now() + chrono::Duration::hours(1), LOGIN_SCOPES),
    )
    .expect("write");
    let mut sources = world.sources();
    sources.config_dir = None;
    let (cred, store) = load_credential(&sources).await.expect("credential");
    assert_eq!(cred.token.expose_secret(), token);
    assert_eq!(
        store,
        CredentialStore::File(home.join(".claude/.credentials.json"))
    );
}

#[tokio::test]
async fn mcp_only_file_is_no_credential() {
    let world = World::new();
    world.write_credential(r#"{"mcpOAuth":{"srv|1":{"accessToken":"mcp-fake"}}}"#);
    assert_eq!(
        load_credential(&world.sources()).await.err(),
        Some(CredentialError::McpOnly)
    );
    let server = silent_server().await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    assert_eq!(outcome.reason, Some(SkipReason::McpOnly));
    assert_eq!(outcome.auth_mode, AuthMode::Unknown);
    server.verify().await;
}

#[tokio::test]
async fn malformed_file_is_no_credential() {
    let world = World::new();
    world.write_credential(r#"{"claudeAiOauth":{"accessToken":"#);
    assert_eq!(
        load_credential(&world.sources()).await.err(),
        Some(CredentialError::Malformed)
    );
    let server = silent_server().await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    assert_eq!(outcome.reason, Some(SkipReason::NoCredential));
    assert!(outcome.reading.is_none());
    server.verify().await;
}

#[tokio::test]
async fn missing_file_is_no_credential() {
    let world = World::new();
    let err = load_credential(&world.sources()).await.err();
    assert!(
        matches!(err, Some(CredentialError::NotFound { .. })),
        "{err:?}"
    );
    let server = silent_server().await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    assert_eq!(outcome.reason, Some(SkipReason::NoCredential));
    assert_eq!(outcome.auth_mode, AuthMode::Unknown);
    server.verify().await;
}

#[tokio::test]
async fn api_key_user_without_oauth_sends_nothing() {
    let world = World::new();
    let server = silent_server().await;
    let mut config = world.config(&server.uri());
    config.api_key_present = true;
    let outcome = read_usage(&config, now()).await;
    assert_eq!(outcome.auth_mode, AuthMode::ApiKey);
    assert_eq!(outcome.reason, Some(SkipReason::NoCredential));
    server.verify().await;
}

#[tokio::test]
async fn unreadable_file_is_no_credential() {
    let world = World::with_token(&fake_token('u'));
    let file = world.credential_file();
    set_mode(&file, 0o000);
    // Root reads the file anyway; the assertion only applies where the read really fails.
    let readable = std::fs::read(&file).is_ok();
    let result = load_credential(&world.sources()).await;
    set_mode(&file, 0o600);
    if readable {
        assert!(result.is_ok());
    } else {
        assert_eq!(
            result.err(),
            Some(CredentialError::Unreadable {
                location: file.display().to_string()
            })
        );
    }
}

#[tokio::test]
async fn a_directory_in_place_of_the_file_is_unreadable() {
    let world = World::new();
    std::fs::create_dir_all(world.credential_file()).expect("mkdir");
    let err = load_credential(&world.sources()).await.err();
    assert!(
        matches!(err, Some(CredentialError::Unreadable { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn expired_token_makes_no_request() {
    let world = World::new();
    world.write_credential(&nested_json(&fake_token('e'), now(), LOGIN_SCOPES));
    let server = silent_server().await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    assert_eq!(outcome.reason, Some(SkipReason::Expired));
    assert_eq!(outcome.auth_mode, AuthMode::OAuth);
    assert_eq!(outcome.subscription_type.as_deref(), Some("max"));
    server.verify().await;
}

#[tokio::test]
async fn replayed_history_uses_the_given_now() {
    // The same token is valid at an earlier `now`: expiry follows the argument, not the clock.
    let world = World::new();
    world.write_credential(&nested_json(&fake_token('e'), now(), LOGIN_SCOPES));
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_string(r#"{"five_hour":{"utilization":3}}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let earlier = now() - chrono::Duration::minutes(1);
    let outcome = read_usage(&world.config(&server.uri()), earlier).await;
    assert_eq!(outcome.reading.expect("reading").fetched_at, earlier);
    server.verify().await;
}

#[tokio::test]
async fn missing_profile_scope_makes_no_request() {
    let world = World::new();
    world.write_credential(&nested_json(
        &fake_token('s'),
        now() + chrono::Duration::hours(1),
        &["user:inference"],
    ));
    let server = silent_server().await;
    let outcome = read_usage(&world.config(&server.uri()), now()).await;
    assert_eq!(outcome.reason, Some(SkipReason::MissingScope));
    server.verify().await;
}

#[tokio::test]
async fn missing_cli_makes_no_request() {
    let world = World::with_token(&fake_token('c'));
    let server = silent_server().await;
    let mut config = world.config(&server.uri());
    config.claude_path = None;
    config.path_env = Some(PathBuf::from("/nonexistent-bin-dir").into_os_string());
    let outcome = read_usage(&config, now()).await;
    assert_eq!(outcome.reason, Some(SkipReason::NoCli));
    server.verify().await;
}
