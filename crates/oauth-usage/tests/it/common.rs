//! Shared fixtures.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use oauth_usage::{BaseUrl, CredentialSources, Platform, ReaderConfig};

/// The fixed "now" of every test.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 3, 12, 0, 0)
        .single()
        .expect("valid time")
}

/// A fake access token of the real shape (108 chars), distinct per `tag`.
pub(crate) fn fake_token(tag: char) -> String {
    let body: String = std::iter::repeat_n(tag, 91).collect();
    format!("sk-ant-oat01-FAKE{body}")
}

/// A fake refresh token of the real shape.
pub(crate) fn fake_refresh() -> String {
    format!("sk-ant-ort01-FAKE{}", "r".repeat(91))
}

/// The nested credential JSON Claude Code writes.
pub(crate) fn nested_json(token: &str, expires_at: DateTime<Utc>, scopes: &[&str]) -> String {
    serde_json::json!({
        "claudeAiOauth": {
            "accessToken": token,
            "refreshToken": fake_refresh(),
            "expiresAt": expires_at.timestamp_millis(),
            "scopes": scopes,
            "subscriptionType": "max",
            "rateLimitTier": "default_claude_max_20x"
        },
        "organizationUuid": "00000000-0000-0000-0000-000000000000"
    })
    .to_string()
}

/// Scopes of a normal login.
pub(crate) const LOGIN_SCOPES: &[&str] = &[
    "user:inference",
    "user:profile",
    "user:sessions:claude_code",
];

/// Writes an executable shell script.
pub(crate) fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    set_mode(path, 0o755);
}

/// Sets Unix permission bits.
pub(crate) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A temporary world: config dir with a credential, a fake `claude`, a state dir.
pub(crate) struct World {
    pub(crate) dir: tempfile::TempDir,
}

impl World {
    pub(crate) fn new() -> Self {
        let world = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::create_dir_all(world.config_dir()).expect("config dir");
        std::fs::create_dir_all(world.bin_dir()).expect("bin dir");
        write_script(&world.claude(), "echo '2.1.70 (Claude Code)'");
        world
    }

    /// A world whose credential is a fresh login with `token`.
    pub(crate) fn with_token(token: &str) -> Self {
        let world = Self::new();
        world.write_credential(&nested_json(
            token,
            now() + chrono::Duration::hours(8),
            LOGIN_SCOPES,
        ));
        world
    }

    pub(crate) fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub(crate) fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    pub(crate) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub(crate) fn claude(&self) -> PathBuf {
        self.bin_dir().join("claude")
    }

    pub(crate) fn credential_file(&self) -> PathBuf {
        self.config_dir().join(".credentials.json")
    }

    pub(crate) fn write_credential(&self, text: &str) {
        std::fs::write(self.credential_file(), text).expect("write credential");
    }

    /// Linux sources pointing at this world's config dir; the Keychain helper does not exist.
    pub(crate) fn sources(&self) -> CredentialSources {
        CredentialSources {
            config_dir: Some(self.config_dir()),
            home: Some(self.dir.path().join("home")),
            platform: Platform::Linux,
            security_path: self.bin_dir().join("security"),
            user: Some("fakeuser".to_owned()),
            keychain_timeout: Duration::from_secs(1),
            secure_storage_config_dir: None,
        }
    }

    /// A reader config for `base` with this world's stores and state.
    pub(crate) fn config(&self, base: &str) -> ReaderConfig {
        let mut config = ReaderConfig::new(self.sources());
        config.base_url = BaseUrl::parse(base).expect("loopback base");
        config.state_dir = Some(self.state_dir());
        config.budget = Duration::from_secs(5);
        config.claude_path = Some(self.claude());
        config
    }

    /// The text of every file in the state dir, concatenated.
    pub(crate) fn state_text(&self) -> String {
        let Ok(entries) = std::fs::read_dir(self.state_dir()) else {
            return String::new();
        };
        entries
            .filter_map(Result::ok)
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    }
}
