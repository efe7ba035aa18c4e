//! The macOS Keychain path, with a fake `security` script and `Platform::MacOs` injected.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oauth_usage::{CredentialError, CredentialStore, Platform, load_credential};

use crate::common::{LOGIN_SCOPES, World, fake_token, nested_json, now, write_script};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A world whose fake `security` prints `payload` (verbatim) after recording its argv.
fn keychain_world(payload: &str, extra: &str) -> World {
    let world = World::new();
    std::fs::write(world.dir.path().join("payload"), payload).expect("payload");
    let dir = world.dir.path().display();
    write_script(
        &world.bin_dir().join("security"),
        &format!("printf '%s\\n' \"$@\" > '{dir}/argv'\n{extra}cat '{dir}/payload'"),
    );
    world
}

fn mac_sources(world: &World) -> oauth_usage::CredentialSources {
    let mut sources = world.sources();
    sources.platform = Platform::MacOs;
    sources.config_dir = None;
    sources
}

fn argv(world: &World) -> Vec<String> {
    std::fs::read_to_string(world.dir.path().join("argv"))
        .expect("argv recorded")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn token_json(token: &str) -> String {
    nested_json(token, now() + chrono::Duration::hours(8), LOGIN_SCOPES)
}

#[tokio::test]
async fn raw_json_from_keychain() {
    let token = fake_token('k');
    let world = keychain_world(&format!("{}\n", token_json(&token)), "");
    let (cred, store) = load_credential(&mac_sources(&world))
        .await
        .expect("credential");
    assert_eq!(cred.token.expose_secret(), token);
    assert_eq!(
        store,
        CredentialStore::Keychain {
            service: "Claude Code-credentials".to_owned()
        }
    );
    assert_eq!(
        argv(&world),
        [
            "find-generic-password",
            "-s",
            "Claude Code-credentials",
            "-a",
            "fakeuser",
            "-w"
        ]
    );
}

#[tokio::test]
async fn hex_json_from_keychain() {
    let token = fake_token('x');
    let world = keychain_world(&format!("{}\n", hex(token_json(&token).as_bytes())), "");
    let (cred, _) = load_credential(&mac_sources(&world))
        .await
        .expect("credential");
    assert_eq!(cred.token.expose_secret(), token);
}

#[tokio::test]
async fn bare_token_from_keychain() {
    let token = fake_token('b');
    let world = keychain_world(&format!("{token}\n"), "");
    let (cred, _) = load_credential(&mac_sources(&world))
        .await
        .expect("credential");
    assert_eq!(cred.token.expose_secret(), token);
    assert_eq!(cred.expires_at, None);
}

#[tokio::test]
async fn service_suffix_and_fallback_account_are_passed() {
    let token = fake_token('s');
    let world = keychain_world(&token_json(&token), "");
    let mut sources = mac_sources(&world);
    sources.config_dir = Some(PathBuf::from("/Users/test/.claude-work"));
    sources.user = Some("first last".to_owned());
    let (_, store) = load_credential(&sources).await.expect("credential");
    assert_eq!(
        store,
        CredentialStore::Keychain {
            service: "Claude Code-credentials-03abf0ee".to_owned()
        }
    );
    assert_eq!(
        argv(&world),
        [
            "find-generic-password",
            "-s",
            "Claude Code-credentials-03abf0ee",
            "-a",
            "claude-code-user",
            "-w"
        ]
    );
}

fn is_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn hanging_keychain_is_killed_and_reaped() {
    let world = World::new();
    let dir = world.dir.path().display();
    write_script(
        &world.bin_dir().join("security"),
        &format!("echo $$ > '{dir}/pid'\nexec sleep 30"),
    );
    let mut sources = mac_sources(&world);
    sources.keychain_timeout = Duration::from_millis(700);
    let started = Instant::now();
    let result = load_credential(&sources).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(CredentialError::TimedOut { .. })),
        "{result:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let pid: u32 = std::fs::read_to_string(world.dir.path().join("pid"))
        .expect("pid recorded")
        .trim()
        .parse()
        .expect("pid");
    if cfg!(target_os = "linux") {
        // Killed and waited for: no process, not even a zombie, remains.
        assert!(!is_alive(pid), "helper {pid} still present");
    }
}

#[tokio::test]
async fn failing_keychain_falls_back_to_file() {
    let token = fake_token('f');
    let world = keychain_world("", "exit 1\n");
    let mut sources = mac_sources(&world);
    sources.config_dir = Some(world.config_dir());
    let err = load_credential(&sources).await.err();
    assert!(
        matches!(err, Some(CredentialError::Unreadable { .. })),
        "{err:?}"
    );
    world.write_credential(&token_json(&token));
    let (cred, store) = load_credential(&sources).await.expect("file fallback");
    assert_eq!(cred.token.expose_secret(), token);
    assert_eq!(store, CredentialStore::File(world.credential_file()));
}

#[tokio::test]
async fn missing_item_is_not_found() {
    let world = keychain_world("", "exit 44\n");
    let err = load_credential(&mac_sources(&world)).await.err();
    assert!(
        matches!(&err, Some(CredentialError::NotFound { location }) if location.contains("Claude Code-credentials")),
        "{err:?}"
    );
}

#[tokio::test]
async fn garbage_from_keychain_is_malformed() {
    let world = keychain_world("garbage output\n", "");
    assert_eq!(
        load_credential(&mac_sources(&world)).await.err(),
        Some(CredentialError::Malformed)
    );
    let world = keychain_world(r#"{"mcpOAuth":{}}"#, "");
    assert_eq!(
        load_credential(&mac_sources(&world)).await.err(),
        Some(CredentialError::McpOnly)
    );
}

#[tokio::test]
async fn keychain_is_never_consulted_off_macos() {
    let token = fake_token('l');
    let world = keychain_world(&token_json(&fake_token('k')), "");
    world.write_credential(&token_json(&token));
    for platform in [Platform::Linux, Platform::Windows, Platform::Other] {
        let mut sources = world.sources();
        sources.platform = platform;
        let (cred, store) = load_credential(&sources).await.expect("file credential");
        assert_eq!(cred.token.expose_secret(), token);
        assert!(matches!(store, CredentialStore::File(_)));
    }
    assert!(!world.dir.path().join("argv").exists(), "security was run");
}

#[tokio::test]
async fn keychain_wins_over_a_stale_file_on_macos() {
    let fresh = fake_token('k');
    let world = keychain_world(&token_json(&fresh), "");
    world.write_credential(&token_json(&fake_token('o')));
    let mut sources = mac_sources(&world);
    sources.config_dir = Some(world.config_dir());
    sources.secure_storage_config_dir = Some(String::new());
    let (cred, store) = load_credential(&sources).await.expect("credential");
    assert_eq!(cred.token.expose_secret(), fresh);
    assert!(matches!(store, CredentialStore::Keychain { .. }));
}

#[tokio::test]
async fn full_read_through_keychain() {
    use wiremock::matchers::header;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let token = fake_token('r');
    let world = keychain_world(&hex(token_json(&token).as_bytes()), "");
    let server = MockServer::start().await;
    Mock::given(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(r#"{"five_hour":{"utilization":7.5}}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut config = world.config(&server.uri());
    config.sources = mac_sources(&world);
    let outcome = oauth_usage::read_usage(&config, now()).await;
    let reading = outcome.reading.expect("reading");
    assert_eq!(
        reading.windows["five_hour"].utilization.to_bits(),
        7.5f64.to_bits()
    );
    server.verify().await;
}

#[tokio::test]
async fn hanging_keychain_stays_within_the_read_budget() {
    let world = World::new();
    let dir = world.dir.path().display();
    write_script(
        &world.bin_dir().join("security"),
        &format!("echo $$ > '{dir}/pid'\nexec sleep 30"),
    );
    let mut config = world.config("http://127.0.0.1:9");
    config.sources = mac_sources(&world);
    config.sources.keychain_timeout = Duration::from_secs(5);
    config.budget = Duration::from_millis(1500);
    let started = Instant::now();
    let outcome = oauth_usage::read_usage(&config, now()).await;
    let elapsed = started.elapsed();
    assert_eq!(outcome.reason, Some(oauth_usage::SkipReason::Timeout));
    assert!(
        elapsed < config.budget + Duration::from_secs(1),
        "{elapsed:?}"
    );
    let pid = std::fs::read_to_string(world.dir.path().join("pid")).expect("pid recorded");
    if cfg!(target_os = "linux") {
        assert!(!is_alive(pid.trim().parse().expect("pid")));
    }
}
