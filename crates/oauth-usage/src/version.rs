//! Detecting the installed Claude Code version (`claude --version`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::run_capped;

/// The default timeout for `claude --version`.
pub const DEFAULT_VERSION_TIMEOUT: Duration = Duration::from_secs(3);

/// Output beyond this is not a version line.
const MAX_VERSION_OUTPUT: usize = 4096;

/// Finds `claude` (or uses the `claude` override), runs `claude --version` within `timeout`
/// (killing and reaping it past that), and returns the leading `N.N.N` of its output.
///
/// `None` when the binary is missing, hangs, exits non-zero or prints something else.
pub async fn claude_version(
    claude: Option<PathBuf>,
    path_env: Option<OsString>,
    timeout: Duration,
) -> Option<String> {
    let binary = match claude {
        Some(path) => is_executable_file(&path).then_some(path),
        None => find_on_path(path_env.as_deref()),
    };
    let Some(binary) = binary else {
        tracing::debug!("claude cli not found");
        return None;
    };
    let mut command = tokio::process::Command::new(&binary);
    command.arg("--version");
    let output = match run_capped(command, timeout, MAX_VERSION_OUTPUT).await {
        Ok(output) => output,
        Err(err) => {
            tracing::debug!(?err, path = %binary.display(), "claude --version failed");
            return None;
        }
    };
    if !output.status.success() {
        tracing::debug!(status = ?output.status.code(), "claude --version exited non-zero");
        return None;
    }
    let version = parse_version(&output.stdout);
    if version.is_none() {
        tracing::debug!("claude --version printed no version");
    }
    version
}

/// The leading `N.N.N` of `claude --version` output (`2.1.70 (Claude Code)` -> `2.1.70`).
/// Each part is 1 to 9 digits; the version must be followed by the end, whitespace, `-` or `+`.
pub fn parse_version(stdout: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(stdout).ok()?.trim_start();
    let mut end = 0;
    let bytes = text.as_bytes();
    for part in 0..3 {
        let start = end;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        let digits = end - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        if part < 2 {
            if bytes.get(end) != Some(&b'.') {
                return None;
            }
            end += 1;
        }
    }
    match bytes.get(end) {
        None => {}
        Some(b) if b.is_ascii_whitespace() || matches!(b, b'-' | b'+') => {}
        Some(_) => return None,
    }
    Some(text[..end].to_owned())
}

/// Searches `path_env` (a `PATH` value) for an executable regular file named `claude`.
/// Empty and relative entries are skipped, so the current directory is never searched.
pub fn find_on_path(path_env: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let names: &[&str] = if cfg!(windows) {
        &["claude.exe", "claude"]
    } else {
        &["claude"]
    };
    std::env::split_paths(path_env?)
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| is_executable_file(candidate))
}

/// A regular file (after following links) that someone may execute.
fn is_executable_file(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_leading_version() {
        assert_eq!(
            parse_version(b"2.1.70 (Claude Code)\n").as_deref(),
            Some("2.1.70")
        );
        assert_eq!(parse_version(b"  1.0.0\n").as_deref(), Some("1.0.0"));
        assert_eq!(parse_version(b"2.1.70-beta.1").as_deref(), Some("2.1.70"));
        assert_eq!(parse_version(b"10.20.30").as_deref(), Some("10.20.30"));
    }

    #[test]
    fn refuses_other_output() {
        for bad in [
            &b""[..],
            b"garbage",
            b"v2.1.70",
            b"2.1",
            b"2.1.",
            b"2..1",
            b"2.1.70x",
            b"2.1.70.4",
            b"1234567890.1.1",
            b"\xff\xfe",
            b"Claude Code 2.1.70",
        ] {
            assert_eq!(
                parse_version(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn path_search_skips_relative_and_missing() {
        assert_eq!(find_on_path(None), None);
        assert_eq!(find_on_path(Some(std::ffi::OsStr::new(""))), None);
        assert_eq!(
            find_on_path(Some(std::ffi::OsStr::new(
                "relative/dir:/nonexistent-dir-xyz"
            ))),
            None
        );
    }
}
