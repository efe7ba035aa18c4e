//! Turning flags and the environment into checked values, before anything is read or written.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::UsageError;

/// Parses `--now`.
pub(crate) fn parse_now(value: Option<&str>) -> Result<DateTime<Utc>, UsageError> {
    match value {
        None => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|err| {
                UsageError(format!(
                    "invalid --now {text:?}: {err}; expected RFC 3339, e.g. 2026-11-28T12:00:00Z"
                ))
            }),
    }
}

/// Where the time zone came from, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TzOrigin {
    Flag,
    Env,
    System,
    Fallback,
}

/// Resolves the time zone: `--timezone`, else `$TZ` when it names an IANA zone, else the
/// system zone, else UTC.
pub(crate) fn resolve_timezone(
    flag: Option<&str>,
    tz_env: Option<&str>,
) -> Result<(Tz, TzOrigin), UsageError> {
    if let Some(name) = flag {
        return parse_tz(name)
            .map(|tz| (tz, TzOrigin::Flag))
            .ok_or_else(|| {
                UsageError(format!(
                    "unknown time zone {name:?} for --timezone; expected an IANA name such as \
                 Europe/Berlin, America/New_York or UTC"
                ))
            });
    }
    if let Some(tz) = tz_env.map(|v| v.trim_start_matches(':')).and_then(parse_tz) {
        return Ok((tz, TzOrigin::Env));
    }
    if let Some(tz) = iana_time_zone::get_timezone()
        .ok()
        .as_deref()
        .and_then(parse_tz)
    {
        return Ok((tz, TzOrigin::System));
    }
    Ok((Tz::UTC, TzOrigin::Fallback))
}

fn parse_tz(name: &str) -> Option<Tz> {
    let name = name.trim();
    name.parse::<Tz>().ok()
}

/// The home directory, when `$HOME` is set to an absolute path.
pub(crate) fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// Shows `path` relative to the home directory (`~/...`) when it lies under it, so the output
/// never carries a user name; another user's home (`/home/<name>`, `/Users/<name>`), as in
/// transcripts copied from another machine, is shown as `/home/<user>/...`.
pub(crate) fn display_path(path: &Path, home: Option<&Path>) -> String {
    if let Some(home) = home
        && let Ok(rest) = path.strip_prefix(home)
    {
        if rest.as_os_str().is_empty() {
            return "~".to_owned();
        }
        return format!("~/{}", rest.display());
    }
    let mut components = path.components();
    let shown = path.display().to_string();
    match (components.next(), components.next(), components.next()) {
        (
            Some(std::path::Component::RootDir),
            Some(std::path::Component::Normal(top)),
            Some(std::path::Component::Normal(_user)),
        ) if top == "home" || top == "Users" => {
            let rest = components.as_path();
            let top = top.to_string_lossy();
            if rest.as_os_str().is_empty() {
                format!("/{top}/<user>")
            } else {
                format!("/{top}/<user>/{}", rest.display())
            }
        }
        _ => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_parsed_or_refused() {
        let t = parse_now(Some("2026-11-28T12:00:00+01:00")).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-28T11:00:00+00:00");
        let err = parse_now(Some("yesterday")).unwrap_err();
        assert!(err.0.contains("invalid --now \"yesterday\""), "{err}");
        assert!(
            parse_now(Some("2026-11-28T12:00:00")).is_err(),
            "a time without zone is refused"
        );
    }

    #[test]
    fn timezone_precedence() {
        let (tz, origin) = resolve_timezone(Some("Europe/Berlin"), Some("Asia/Tokyo")).unwrap();
        assert_eq!((tz, origin), (Tz::Europe__Berlin, TzOrigin::Flag));
        let (tz, origin) = resolve_timezone(None, Some(":Asia/Tokyo")).unwrap();
        assert_eq!((tz, origin), (Tz::Asia__Tokyo, TzOrigin::Env));
        let err = resolve_timezone(Some("Mars/Olympus"), None).unwrap_err();
        assert!(
            err.0.contains("unknown time zone \"Mars/Olympus\""),
            "{err}"
        );
        // A POSIX TZ string that is not an IANA name falls through to the system zone.
        assert!(resolve_timezone(None, Some("EST5EDT,M3.2.0,M11.1.0")).is_ok());
    }

    #[test]
    fn paths_are_shown_relative_to_home() {
        let home = Path::new("/home/someone");
        assert_eq!(
            display_path(Path::new("/home/someone/work/app"), Some(home)),
            "~/work/app"
        );
        assert_eq!(display_path(Path::new("/home/someone"), Some(home)), "~");
        assert_eq!(
            display_path(Path::new("/home/someoneelse/x"), Some(home)),
            "/home/<user>/x"
        );
        assert_eq!(
            display_path(Path::new("/Users/alice/code/app"), None),
            "/Users/<user>/code/app"
        );
        assert_eq!(display_path(Path::new("/home/alice"), None), "/home/<user>");
        assert_eq!(display_path(Path::new("/srv/x"), None), "/srv/x");
    }
}
