//! Where Claude Code keeps its OAuth credential, and reading it from there.
//!
//! - Linux, Windows and other platforms: `$CLAUDE_CONFIG_DIR/.credentials.json` when set, else
//!   `~/.claude/.credentials.json`. The Keychain is never consulted.
//! - macOS: the login Keychain first (generic password, service `Claude Code-credentials`,
//!   suffixed per config dir), then the same file as a fallback. The Keychain comes first
//!   because Claude Code writes its current token there; a `.credentials.json` on macOS may be
//!   a stale copy left by an older install.
//!
//! Reading is strictly read-only: nothing here writes or refreshes a credential, and the
//! Keychain is only asked for one named item (never enumerated).

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::credential::{Credential, CredentialError, MAX_CREDENTIAL_BYTES, parse_credential};
use crate::process::{ProcError, run_capped};
use crate::secret::hex_lower;

/// The Keychain service name without a config-dir suffix.
pub const KEYCHAIN_SERVICE: &str = "Claude Code-credentials";

/// The Keychain account used when `$USER` is missing or unusual.
pub const FALLBACK_ACCOUNT: &str = "claude-code-user";

/// The default Keychain helper.
pub const DEFAULT_SECURITY_PATH: &str = "/usr/bin/security";

/// The default timeout for the Keychain helper.
pub const DEFAULT_KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The operating system, which decides the credential stores consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux: file only.
    Linux,
    /// macOS: Keychain, then file.
    MacOs,
    /// Windows: file only.
    Windows,
    /// Anything else: file only.
    Other,
}

impl Platform {
    /// The platform this binary was built for.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacOs
        } else if cfg!(target_os = "linux") {
            Self::Linux
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Other
        }
    }
}

/// Everything that decides where the credential is read from. Built from the process
/// environment by [`CredentialSources::from_process`], or by hand in tests.
#[derive(Debug, Clone)]
pub struct CredentialSources {
    /// `CLAUDE_CONFIG_DIR` (its first entry when it is a comma-separated list).
    pub config_dir: Option<PathBuf>,
    /// The home directory.
    pub home: Option<PathBuf>,
    /// The platform; only [`Platform::MacOs`] consults the Keychain.
    pub platform: Platform,
    /// The Keychain helper (`/usr/bin/security`).
    pub security_path: PathBuf,
    /// `$USER`.
    pub user: Option<String>,
    /// How long the Keychain helper may run before it is killed.
    pub keychain_timeout: Duration,
    /// `CLAUDE_SECURESTORAGE_CONFIG_DIR`: when set to the empty string the Keychain service
    /// name gets no suffix; when set to a directory, that directory is hashed for the suffix.
    pub secure_storage_config_dir: Option<String>,
}

/// Which store a credential came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialStore {
    /// The macOS Keychain, with the service name asked for.
    Keychain {
        /// The service name.
        service: String,
    },
    /// A `.credentials.json` file.
    File(PathBuf),
}

impl CredentialSources {
    /// Reads `CLAUDE_CONFIG_DIR`, `HOME` (or `USERPROFILE`), `USER` and
    /// `CLAUDE_SECURESTORAGE_CONFIG_DIR` from the process environment.
    pub fn from_process() -> Self {
        let config_dir = std::env::var_os("CLAUDE_CONFIG_DIR").and_then(first_config_dir);
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Self {
            config_dir,
            home,
            platform: Platform::current(),
            security_path: PathBuf::from(DEFAULT_SECURITY_PATH),
            user: std::env::var("USER").ok(),
            keychain_timeout: DEFAULT_KEYCHAIN_TIMEOUT,
            secure_storage_config_dir: std::env::var("CLAUDE_SECURESTORAGE_CONFIG_DIR").ok(),
        }
    }

    /// The credentials file: `<config dir>/.credentials.json`, else
    /// `<home>/.claude/.credentials.json`; `None` when neither directory is known.
    pub fn credentials_file(&self) -> Option<PathBuf> {
        let dir = match (&self.config_dir, &self.home) {
            (Some(dir), _) => dir.clone(),
            (None, Some(home)) => home.join(".claude"),
            (None, None) => return None,
        };
        Some(dir.join(".credentials.json"))
    }

    /// The Keychain service name: `Claude Code-credentials`, suffixed with
    /// `-<first 8 hex of sha256(NFC(dir))>` when a config dir applies.
    pub fn keychain_service(&self) -> String {
        let dir: Option<String> = match self.secure_storage_config_dir.as_deref() {
            Some("") => None,
            Some(dir) => Some(dir.to_owned()),
            None => self
                .config_dir
                .as_ref()
                .map(|d| d.to_string_lossy().into_owned()),
        };
        match dir {
            Some(dir) => format!("{KEYCHAIN_SERVICE}-{}", config_dir_hash(&dir)),
            None => KEYCHAIN_SERVICE.to_owned(),
        }
    }

    /// The Keychain account: `$USER` when it is made of `[A-Za-z0-9._-]`, else
    /// `claude-code-user`.
    pub fn keychain_account(&self) -> String {
        match self.user.as_deref() {
            Some(user)
                if !user.is_empty()
                    && user
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) =>
            {
                user.to_owned()
            }
            _ => FALLBACK_ACCOUNT.to_owned(),
        }
    }
}

/// The first entry of a `CLAUDE_CONFIG_DIR` value, which may be a comma-separated list.
fn first_config_dir(value: OsString) -> Option<PathBuf> {
    first_config_dir_in(value, std::env::var_os("HOME").map(PathBuf::from))
}

/// The first entry of a `CLAUDE_CONFIG_DIR` list, resolved as the transcript roots are:
/// trimmed, a leading `~` expanded with `home`, a trailing `projects` mapped to its parent.
fn first_config_dir_in(value: OsString, home: Option<PathBuf>) -> Option<PathBuf> {
    let text = value.to_string_lossy();
    let first = text.split(',').next().unwrap_or("").trim();
    if first.is_empty() {
        return None;
    }
    let path = if first == "~" {
        home?
    } else if let Some(rest) = first.strip_prefix("~/") {
        home?.join(rest)
    } else if text.contains(',') || first.len() != text.len() {
        PathBuf::from(first)
    } else {
        PathBuf::from(value)
    };
    if path.file_name().is_some_and(|n| n == "projects") {
        return path.parent().map(PathBuf::from);
    }
    Some(path)
}

/// The first 8 hex characters of SHA-256 over the NFC form of `dir`.
pub fn config_dir_hash(dir: &str) -> String {
    let normalized: String = dir.nfc().collect();
    let digest = Sha256::digest(normalized.as_bytes());
    hex_lower(&digest[..4])
}

/// Reads the credential from the stores that apply to `sources`, in order (see the module
/// docs). Returns the credential and the store it came from, or the most telling error.
pub async fn load_credential(
    sources: &CredentialSources,
) -> Result<(Credential, CredentialStore), CredentialError> {
    let keychain_err = if sources.platform == Platform::MacOs {
        let service = sources.keychain_service();
        match read_keychain(sources, &service).await {
            Ok(cred) => {
                tracing::debug!(store = "keychain", service = %service, "credential found");
                return Ok((cred, CredentialStore::Keychain { service }));
            }
            Err(err) => {
                tracing::debug!(store = "keychain", error = %err, "no keychain credential");
                Some(err)
            }
        }
    } else {
        None
    };
    let Some(path) = sources.credentials_file() else {
        return Err(keychain_err.unwrap_or(CredentialError::NotFound {
            location: "no config or home directory".to_owned(),
        }));
    };
    match read_file(&path) {
        Ok(cred) => {
            tracing::debug!(store = "file", path = %path.display(), "credential found");
            Ok((cred, CredentialStore::File(path)))
        }
        Err(file_err) => {
            tracing::debug!(store = "file", error = %file_err, "no file credential");
            match (keychain_err, &file_err) {
                (Some(kc), CredentialError::NotFound { .. }) => Err(kc),
                _ => Err(file_err),
            }
        }
    }
}

/// Reads and parses a credentials file. Missing, unreadable, oversized or malformed files are
/// errors (callers treat them all as "no credential").
pub fn read_file(path: &Path) -> Result<Credential, CredentialError> {
    let location = || path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(CredentialError::NotFound {
                location: location(),
            });
        }
        Err(_) => {
            return Err(CredentialError::Unreadable {
                location: location(),
            });
        }
    };
    let meta = file.metadata().map_err(|_| CredentialError::Unreadable {
        location: location(),
    })?;
    if !meta.is_file() {
        return Err(CredentialError::Unreadable {
            location: location(),
        });
    }
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_CREDENTIAL_BYTES).unwrap_or(u64::MAX) + 1;
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|_| CredentialError::Unreadable {
            location: location(),
        })?;
    parse_credential(&bytes)
}

/// Asks the Keychain helper for the one item named by `service` and the account.
async fn read_keychain(
    sources: &CredentialSources,
    service: &str,
) -> Result<Credential, CredentialError> {
    let account = sources.keychain_account();
    let mut command = tokio::process::Command::new(&sources.security_path);
    command.args(["find-generic-password", "-s", service, "-a", &account, "-w"]);
    let location = || format!("keychain service {service}");
    match run_capped(command, sources.keychain_timeout, MAX_CREDENTIAL_BYTES).await {
        Ok(out) if out.status.success() => parse_credential(&out.stdout),
        // `security` exits 44 when the item does not exist.
        Ok(out) if out.status.code() == Some(44) => Err(CredentialError::NotFound {
            location: location(),
        }),
        Ok(_) | Err(ProcError::Spawn | ProcError::Io) => Err(CredentialError::Unreadable {
            location: location(),
        }),
        Err(ProcError::TimedOut) => Err(CredentialError::TimedOut {
            location: location(),
        }),
        Err(ProcError::TooLarge) => Err(CredentialError::TooLarge {
            len: MAX_CREDENTIAL_BYTES + 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> CredentialSources {
        CredentialSources {
            config_dir: None,
            home: Some(PathBuf::from("/home/fake")),
            platform: Platform::Linux,
            security_path: PathBuf::from(DEFAULT_SECURITY_PATH),
            user: Some("fake".to_owned()),
            keychain_timeout: DEFAULT_KEYCHAIN_TIMEOUT,
            secure_storage_config_dir: None,
        }
    }

    #[test]
    fn service_name_suffix_matches_claude_code() {
        let mut s = sources();
        assert_eq!(s.keychain_service(), "Claude Code-credentials");
        s.config_dir = Some(PathBuf::from("/Users/test/.claude-work"));
        assert_eq!(s.keychain_service(), "Claude Code-credentials-03abf0ee");
        s.secure_storage_config_dir = Some(String::new());
        assert_eq!(s.keychain_service(), "Claude Code-credentials");
        s.secure_storage_config_dir = Some("/Users/test/.claude-work".to_owned());
        s.config_dir = None;
        assert_eq!(s.keychain_service(), "Claude Code-credentials-03abf0ee");
    }

    #[test]
    fn nfc_normalizes_before_hashing() {
        // "e" + combining acute accent and the precomposed letter hash the same.
        assert_eq!(
            config_dir_hash("/Users/caf\u{0065}\u{0301}/.claude"),
            config_dir_hash("/Users/caf\u{00e9}/.claude")
        );
    }

    #[test]
    fn account_falls_back_for_unusual_names() {
        let mut s = sources();
        assert_eq!(s.keychain_account(), "fake");
        s.user = Some("jane.doe-2_x".to_owned());
        assert_eq!(s.keychain_account(), "jane.doe-2_x");
        for odd in ["jane doe", "j\u{00f6}rg", "", "a/b", "a;b"] {
            s.user = Some(odd.to_owned());
            assert_eq!(s.keychain_account(), FALLBACK_ACCOUNT, "{odd:?}");
        }
        s.user = None;
        assert_eq!(s.keychain_account(), FALLBACK_ACCOUNT);
    }

    #[test]
    fn credentials_file_prefers_config_dir() {
        let mut s = sources();
        assert_eq!(
            s.credentials_file(),
            Some(PathBuf::from("/home/fake/.claude/.credentials.json"))
        );
        s.config_dir = Some(PathBuf::from("/cfg"));
        assert_eq!(
            s.credentials_file(),
            Some(PathBuf::from("/cfg/.credentials.json"))
        );
        s.config_dir = None;
        s.home = None;
        assert_eq!(s.credentials_file(), None);
    }

    #[test]
    fn config_dir_list_takes_first_entry() {
        assert_eq!(
            first_config_dir(OsString::from("/a, /b")),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(
            first_config_dir(OsString::from("/only")),
            Some(PathBuf::from("/only"))
        );
        assert_eq!(first_config_dir(OsString::from("")), None);
        assert_eq!(first_config_dir(OsString::from(",/b")), None);
        let home = Some(PathBuf::from("/home/u"));
        assert_eq!(
            first_config_dir_in(OsString::from(" ~/.claude-work "), home.clone()),
            Some(PathBuf::from("/home/u/.claude-work"))
        );
        assert_eq!(
            first_config_dir_in(OsString::from("/c/projects"), home.clone()),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(first_config_dir_in(OsString::from("~/x"), None), None);
    }
}
