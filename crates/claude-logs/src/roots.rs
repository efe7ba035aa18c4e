//! Where Claude Code keeps its data.

use std::path::{Component, Path, PathBuf};

/// The environment variables that decide the roots, passed in explicitly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootsEnv {
    /// `CLAUDE_CONFIG_DIR`: a comma-separated list of roots.
    pub claude_config_dir: Option<String>,
    /// `XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
}

impl RootsEnv {
    /// Reads `CLAUDE_CONFIG_DIR`, `XDG_CONFIG_HOME` and `HOME` (on Windows, `USERPROFILE` when
    /// `HOME` is unset) from the process environment. Unset, empty and (for
    /// `CLAUDE_CONFIG_DIR`) non-UTF-8 values are `None`.
    pub fn from_process() -> Self {
        let path = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = path("HOME").or_else(|| {
            if cfg!(windows) {
                path("USERPROFILE")
            } else {
                None
            }
        });
        Self {
            claude_config_dir: std::env::var("CLAUDE_CONFIG_DIR")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            xdg_config_home: path("XDG_CONFIG_HOME"),
            home,
        }
    }
}

/// The roots to search, in order, without duplicates. Which of them exist is for
/// [`discover`](crate::discover) to find out.
///
/// `CLAUDE_CONFIG_DIR`, when it names at least one root, replaces the defaults: each
/// comma-separated part is trimmed, empty parts are skipped, a leading `~` is expanded with the
/// home directory (a part that needs it is skipped when there is none) and a path ending in
/// `projects` is mapped to its parent ([`normalize_root`]). Otherwise the roots are
/// `$XDG_CONFIG_HOME/claude` (`~/.config/claude` when `XDG_CONFIG_HOME` is unset or relative) and
/// `~/.claude`. A missing or relative `HOME` drops the home-based defaults.
pub fn default_roots(env: &RootsEnv) -> Vec<PathBuf> {
    let home = env.home.as_deref().filter(|h| h.is_absolute());
    let mut roots = Vec::new();
    if let Some(list) = &env.claude_config_dir {
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match expand_tilde(part, home) {
                Some(path) => push_unique(&mut roots, normalize_root(path)),
                None => tracing::warn!(
                    root = part,
                    "skipping a CLAUDE_CONFIG_DIR entry: no home directory to expand `~` with"
                ),
            }
        }
        if !roots.is_empty() {
            return roots;
        }
    }
    let xdg = env
        .xdg_config_home
        .as_deref()
        .filter(|x| x.is_absolute())
        .map(Path::to_path_buf)
        .or_else(|| home.map(|h| h.join(".config")));
    if let Some(xdg) = xdg {
        push_unique(&mut roots, xdg.join("claude"));
    }
    if let Some(home) = home {
        push_unique(&mut roots, home.join(".claude"));
    }
    roots
}

/// Maps a path that names a `projects` directory (`~/.claude/projects`) to its parent, the root;
/// any other path is returned unchanged.
pub fn normalize_root(path: impl AsRef<Path>) -> PathBuf {
    let path = path.as_ref();
    if path.file_name().is_some_and(|n| n == "projects") {
        match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => return parent.to_path_buf(),
            _ => return PathBuf::from(Component::CurDir.as_os_str()),
        }
    }
    path.to_path_buf()
}

/// Expands a leading `~` (alone or followed by a separator); `None` when there is no home.
fn expand_tilde(part: &str, home: Option<&Path>) -> Option<PathBuf> {
    if part == "~" {
        return home.map(Path::to_path_buf);
    }
    let rest = part
        .strip_prefix("~/")
        .or_else(|| part.strip_prefix("~\\").filter(|_| cfg!(windows)));
    match rest {
        Some(rest) => home.map(|h| h.join(rest)),
        None => Some(PathBuf::from(part)),
    }
}

fn push_unique(roots: &mut Vec<PathBuf>, root: PathBuf) {
    if !roots.contains(&root) {
        roots.push(root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(config: Option<&str>, xdg: Option<&str>, home: Option<&str>) -> RootsEnv {
        RootsEnv {
            claude_config_dir: config.map(str::to_owned),
            xdg_config_home: xdg.map(PathBuf::from),
            home: home.map(PathBuf::from),
        }
    }

    fn paths(v: &[&str]) -> Vec<PathBuf> {
        v.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn defaults_with_home_only() {
        let roots = default_roots(&env(None, None, Some("/home/me")));
        assert_eq!(
            roots,
            paths(&["/home/me/.config/claude", "/home/me/.claude"])
        );
    }

    #[test]
    fn xdg_config_home_is_used_when_absolute() {
        let roots = default_roots(&env(None, Some("/xdg"), Some("/home/me")));
        assert_eq!(roots, paths(&["/xdg/claude", "/home/me/.claude"]));
        let roots = default_roots(&env(None, Some("relative/xdg"), Some("/home/me")));
        assert_eq!(
            roots,
            paths(&["/home/me/.config/claude", "/home/me/.claude"])
        );
    }

    #[test]
    fn missing_or_relative_home_drops_home_defaults() {
        assert!(default_roots(&env(None, None, None)).is_empty());
        assert!(default_roots(&env(None, None, Some("not/absolute"))).is_empty());
        assert_eq!(
            default_roots(&env(None, Some("/xdg"), None)),
            paths(&["/xdg/claude"])
        );
    }

    #[test]
    fn config_dir_list_replaces_defaults() {
        let roots = default_roots(&env(
            Some(" /a/claude , ,~/work/.claude,~, /b/projects,/a/claude,/c/projects/ ,"),
            Some("/xdg"),
            Some("/home/me"),
        ));
        assert_eq!(
            roots,
            paths(&["/a/claude", "/home/me/work/.claude", "/home/me", "/b", "/c"])
        );
    }

    #[test]
    fn config_dir_without_entries_falls_back() {
        let roots = default_roots(&env(Some(" , ,"), None, Some("/home/me")));
        assert_eq!(
            roots,
            paths(&["/home/me/.config/claude", "/home/me/.claude"])
        );
        // Only `~` entries and no home: nothing usable, so the (home-less) defaults apply.
        let roots = default_roots(&env(Some("~/.claude"), Some("/xdg"), None));
        assert_eq!(roots, paths(&["/xdg/claude"]));
    }

    #[test]
    fn tilde_is_only_expanded_at_the_start() {
        let roots = default_roots(&env(Some("/x/~/y,~user/z"), None, Some("/home/me")));
        assert_eq!(roots, paths(&["/x/~/y", "~user/z"]));
    }

    #[test]
    fn normalize_root_maps_projects_to_parent() {
        assert_eq!(
            normalize_root("/home/me/.claude/projects"),
            PathBuf::from("/home/me/.claude")
        );
        assert_eq!(
            normalize_root("/home/me/.claude/projects/"),
            PathBuf::from("/home/me/.claude")
        );
        assert_eq!(
            normalize_root("/home/me/.claude"),
            PathBuf::from("/home/me/.claude")
        );
        assert_eq!(
            normalize_root("/home/me/my-projects"),
            PathBuf::from("/home/me/my-projects")
        );
        assert_eq!(normalize_root("projects"), PathBuf::from("."));
        assert_eq!(normalize_root("rel/projects"), PathBuf::from("rel"));
    }
}
