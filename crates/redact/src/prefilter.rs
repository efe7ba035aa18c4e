//! The cheap test that decides which rules can possibly match.
//!
//! Every rule needs a fixed word: `sk-ant-` (case-sensitive), or one of `bearer`, `basic`,
//! `authorization`, `cookie`, `token`, `key`, `secret`, `passw` in any ASCII case. Text is
//! lowercased a block at a time into a stack buffer (blocks overlap by the longest needle
//! minus one, so no needle is missed at a block edge) and searched with `memchr::memmem`;
//! the search stops once every rule has a needle. Text without a needle never reaches a
//! regular expression.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// Which rules have their needle in the text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hits {
    /// `sk-ant-`: Anthropic keys.
    pub(crate) key_prefix: bool,
    /// `bearer`, `basic`: authorization schemes.
    pub(crate) scheme: bool,
    /// `authorization`, `cookie`: header values.
    pub(crate) header: bool,
    /// `token`, `key`, `secret`, `passw`: named fields.
    pub(crate) field: bool,
}

impl Hits {
    /// Whether no rule can match.
    pub(crate) fn none(self) -> bool {
        self == Hits::default()
    }
}

/// Lowercase needles and the rule each one enables.
const NEEDLES: [(&str, Rule); 8] = [
    ("bearer", Rule::Scheme),
    ("basic", Rule::Scheme),
    ("authorization", Rule::Header),
    ("cookie", Rule::Header),
    ("token", Rule::Field),
    ("key", Rule::Field),
    ("secret", Rule::Field),
    ("passw", Rule::Field),
];

/// The longest needle, in bytes (`authorization`).
const LONGEST: usize = 13;

/// Size of the lowercased block.
const BLOCK: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Scheme,
    Header,
    Field,
}

static KEY_PREFIX: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"sk-ant-"));

static FINDERS: LazyLock<Vec<(Finder<'static>, Rule)>> = LazyLock::new(|| {
    NEEDLES
        .iter()
        .map(|&(needle, rule)| (Finder::new(needle.as_bytes()), rule))
        .collect()
});

/// Finds which rules have a needle in `text`.
pub(crate) fn scan(text: &[u8]) -> Hits {
    let mut hits = Hits {
        key_prefix: KEY_PREFIX.find(text).is_some(),
        ..Hits::default()
    };
    let mut block = [0u8; BLOCK];
    let mut start = 0;
    while start < text.len() {
        let end = (start + BLOCK).min(text.len());
        let lower = &mut block[..end - start];
        lower.copy_from_slice(&text[start..end]);
        lower.make_ascii_lowercase();
        for (finder, rule) in FINDERS.iter() {
            let seen = match rule {
                Rule::Scheme => &mut hits.scheme,
                Rule::Header => &mut hits.header,
                Rule::Field => &mut hits.field,
            };
            if !*seen && finder.find(lower).is_some() {
                *seen = true;
            }
        }
        if (hits.scheme && hits.header && hits.field) || end == text.len() {
            break;
        }
        start = end - (LONGEST - 1);
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_has_no_hits() {
        assert!(scan(b"the 5-hour window resets at 14:00 (42% used)").none());
        assert!(scan(b"").none());
    }

    #[test]
    fn needles_are_found_in_any_case() {
        let hits = scan(b"AUTHORIZATION: BeArEr x; X-Api-KEY");
        assert!(hits.scheme && hits.header && hits.field && !hits.key_prefix);
        assert!(scan(b"SecretS").field);
        assert!(scan(b"sk-ant-oat01-x").key_prefix);
        assert!(!scan(b"SK-ANT-").key_prefix);
    }

    #[test]
    fn needles_straddling_a_block_edge_are_found() {
        for offset in BLOCK - LONGEST..BLOCK + 2 {
            let mut text = vec![b'.'; offset];
            text.extend_from_slice(b"Authorization");
            text.extend_from_slice(&[b'.'; 100]);
            assert!(scan(&text).header, "offset {offset}");
            assert!(!scan(&text).field, "offset {offset}");
        }
    }
}
