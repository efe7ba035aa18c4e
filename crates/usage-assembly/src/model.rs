//! Model ids: family and version.

use std::fmt;

/// A model family, as used by the per-family windows and breakdowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Claude Opus.
    Opus,
    /// Claude Sonnet.
    Sonnet,
    /// Claude Haiku.
    Haiku,
    /// Anything else (`<synthetic>`, third-party ids, ids without a family word).
    Other,
}

impl Family {
    /// The four families in display order.
    pub const ALL: [Family; 4] = [Family::Opus, Family::Sonnet, Family::Haiku, Family::Other];

    /// `opus`, `sonnet`, `haiku` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Opus => "opus",
            Family::Sonnet => "sonnet",
            Family::Haiku => "haiku",
            Family::Other => "other",
        }
    }

    /// The family of a model id.
    ///
    /// Uses [`parse_model_id`] when the id parses; otherwise looks for the words `opus`,
    /// `sonnet` or `haiku` in the id (so `claude-opus-preview` is still Opus), else
    /// [`Family::Other`].
    pub fn from_model(model: &str) -> Family {
        if let Some(id) = parse_model_id(model) {
            return id.family;
        }
        let lower = model.to_ascii_lowercase();
        [Family::Opus, Family::Sonnet, Family::Haiku]
            .into_iter()
            .find(|family| lower.contains(family.as_str()))
            .unwrap_or(Family::Other)
    }

    /// The family named by a lowercase word (`opus`, `sonnet`, `haiku`, `other`).
    pub(crate) fn from_word(word: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == word)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model version `major.minor`; `4` is `4.0`. Ordered numerically (4.10 is after 4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelVersion {
    /// The major version.
    pub major: u32,
    /// The minor version (0 when the id has none).
    pub minor: u32,
}

impl ModelVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32) -> ModelVersion {
        ModelVersion { major, minor }
    }

    /// Parses `"4"`, `"4.5"` (one or two components of at most four digits each).
    pub fn parse(s: &str) -> Option<ModelVersion> {
        let (major, minor) = match s.split_once('.') {
            Some((major, minor)) => (major, Some(minor)),
            None => (s, None),
        };
        let number = |part: &str| -> Option<u32> {
            if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        Some(ModelVersion {
            major: number(major)?,
            minor: match minor {
                Some(minor) => number(minor)?,
                None => 0,
            },
        })
    }
}

impl fmt::Display for ModelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The family and version read from a model id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId {
    /// Opus, Sonnet or Haiku (never [`Family::Other`]).
    pub family: Family,
    /// The version.
    pub version: ModelVersion,
}

/// Reads family and version from a Claude model id.
///
/// Both spellings are understood: `claude-<family>-<major>[-<minor>][-<date>]` (Claude 4 and
/// later, e.g. `claude-sonnet-4-5-20250929` is Sonnet 4.5, `claude-opus-4-20250514` is Opus
/// 4.0) and `claude-<major>[-<minor>]-<family>[-<date>]` (Claude 3, e.g.
/// `claude-3-5-haiku-20241022` is Haiku 3.5). A minor version has at most two digits, so an
/// eight-digit date is never taken for one. Text before `claude-` (a provider prefix such as
/// `anthropic.`), a bracketed suffix such as `[1m]`, and anything after the version (`-thinking`,
/// a date, `-v1:0`) are ignored. Returns `None` for anything else.
pub fn parse_model_id(model: &str) -> Option<ModelId> {
    let lower = model.to_ascii_lowercase();
    let base = match lower.find('[') {
        Some(at) => &lower[..at],
        None => lower.as_str(),
    };
    let start = base.find("claude-")? + "claude-".len();
    let tokens: Vec<&str> = base[start..].split(['-', '@', '_']).collect();
    let family_at = tokens
        .iter()
        .position(|t| matches!(*t, "opus" | "sonnet" | "haiku"))?;
    let family = Family::from_word(tokens[family_at])?;
    let version = if family_at == 0 {
        version_from(tokens.get(1).copied()?, tokens.get(2).copied())?
    } else if family_at <= 2 {
        let minor = if family_at == 2 {
            Some(small_number(tokens[1])?.to_string())
        } else {
            None
        };
        version_from(tokens[0], minor.as_deref())?
    } else {
        return None;
    };
    Some(ModelId { family, version })
}

/// A version from a major token (`4`, or a dotted `4.5`) and an optional minor token; a minor
/// token that is not a small number (a date, `thinking`) counts as no minor.
fn version_from(major: &str, minor: Option<&str>) -> Option<ModelVersion> {
    if let Some((major, minor)) = major.split_once('.') {
        return Some(ModelVersion::new(
            small_number(major)?,
            small_number(minor)?,
        ));
    }
    let major = small_number(major)?;
    let minor = minor.and_then(small_number).unwrap_or(0);
    Some(ModelVersion::new(major, minor))
}

/// One or two ASCII digits.
fn small_number(token: &str) -> Option<u32> {
    if (1..=2).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit()) {
        token.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(model: &str, expected: Option<(Family, u32, u32)>) {
        let got = parse_model_id(model).map(|id| (id.family, id.version.major, id.version.minor));
        assert_eq!(got, expected, "{model}");
    }

    #[test]
    fn parses_model_ids() {
        use Family::*;
        check("claude-sonnet-4-5-20250929", Some((Sonnet, 4, 5)));
        check("claude-opus-4-1-20250805", Some((Opus, 4, 1)));
        check("claude-opus-4-20250514", Some((Opus, 4, 0)));
        check("claude-sonnet-4-20250514", Some((Sonnet, 4, 0)));
        check("claude-opus-4-6", Some((Opus, 4, 6)));
        check("claude-opus-4-5-20251101", Some((Opus, 4, 5)));
        check("claude-3-5-haiku-20241022", Some((Haiku, 3, 5)));
        check("claude-3-7-sonnet-20250219", Some((Sonnet, 3, 7)));
        check("claude-3-5-sonnet-20241022", Some((Sonnet, 3, 5)));
        check("claude-3-opus-20240229", Some((Opus, 3, 0)));
        check("claude-3-haiku-20240307", Some((Haiku, 3, 0)));
        check("claude-haiku-4-5-20251001", Some((Haiku, 4, 5)));
        check("claude-haiku-4-5", Some((Haiku, 4, 5)));
        check("claude-sonnet-4-5-20250929[1m]", Some((Sonnet, 4, 5)));
        check("claude-sonnet-4-5[1m]", Some((Sonnet, 4, 5)));
        check("claude-3-7-sonnet-20250219-thinking", Some((Sonnet, 3, 7)));
        check("claude-opus-4-thinking", Some((Opus, 4, 0)));
        check("CLAUDE-OPUS-4-6", Some((Opus, 4, 6)));
        check(
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            Some((Sonnet, 3, 5)),
        );
        check(
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            Some((Sonnet, 4, 5)),
        );
        check("claude-3-5-sonnet@20240620", Some((Sonnet, 3, 5)));
        check("claude-opus-4.6", Some((Opus, 4, 6)));
        check("claude-opus-10-12", Some((Opus, 10, 12)));
    }

    #[test]
    fn rejects_unparsable_ids() {
        check("<synthetic>", None);
        check("", None);
        check("gpt-4o", None);
        check("claude-2.1", None);
        check("claude-instant-1.2", None);
        check("claude-opus", None);
        check("claude-opus-latest", None);
        check("claude-opus-20250514", None);
        check("claude-3-x-5-sonnet", None);
        check("claude-3-5-7-sonnet", None);
        check("claude-x-sonnet-4", None);
        check("sonnet-4-5", None);
    }

    #[track_caller]
    fn check_family(model: &str, expected: Family) {
        assert_eq!(Family::from_model(model), expected, "{model}");
    }

    #[test]
    fn families() {
        check_family("claude-opus-4-6", Family::Opus);
        check_family("claude-sonnet-4-5-20250929", Family::Sonnet);
        check_family("claude-3-5-haiku-20241022", Family::Haiku);
        check_family("claude-opus-latest", Family::Opus);
        check_family("<synthetic>", Family::Other);
        check_family("gpt-4o", Family::Other);
        check_family("", Family::Other);
    }

    #[track_caller]
    fn check_version(text: &str, expected: Option<(u32, u32)>) {
        let got = ModelVersion::parse(text).map(|v| (v.major, v.minor));
        assert_eq!(got, expected, "{text:?}");
    }

    #[test]
    fn versions() {
        check_version("4", Some((4, 0)));
        check_version("4.5", Some((4, 5)));
        check_version("4.10", Some((4, 10)));
        check_version("", None);
        check_version("4.", None);
        check_version(".5", None);
        check_version("4.5.1", None);
        check_version("-4", None);
        check_version("v4", None);
        check_version("12345", None);
        assert!(ModelVersion::new(4, 10) > ModelVersion::new(4, 9));
        assert_eq!(ModelVersion::new(4, 5).to_string(), "4.5");
    }
}
