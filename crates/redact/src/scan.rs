//! Finding where a secret value ends.
//!
//! A value's extent depends on how it opened (a quote at some escaping level, a bare word, the
//! rest of a header line), which regular expressions without back-references cannot express. A
//! [`Scan`] is also resumable: [`Scan::feed`] can be called on consecutive pieces of input, which
//! is how the stream redactor keeps hiding a value that runs past the end of an over-long piece.

/// The bytes a bare value may consist of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// The body of an `sk-ant-...` key: `[A-Za-z0-9_-]`.
    KeyBody,
    /// A bearer or basic credential (token68, URL-safe base64, percent-encoded):
    /// `[A-Za-z0-9._~+/=%-]`.
    Token,
    /// A bare field value: anything up to whitespace or a delimiter
    /// (`&` `,` `;` quotes, backslash, closing brackets, `<`, `>`).
    Bare,
}

impl Class {
    /// Whether `b` continues a value of this class.
    pub(crate) fn accepts(self, b: u8) -> bool {
        match self {
            Class::KeyBody => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'),
            Class::Token => {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'_' | b'-' | b'.' | b'~' | b'+' | b'/' | b'=' | b'%')
            }
            Class::Bare => {
                !(b.is_ascii_whitespace()
                    || matches!(
                        b,
                        b'&' | b','
                            | b';'
                            | b'"'
                            | b'\''
                            | b'\\'
                            | b'}'
                            | b')'
                            | b']'
                            | b'<'
                            | b'>'
                    ))
            }
        }
    }
}

/// How a value ends, plus the state needed to resume the search in the next piece of input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// A run of bytes of one class.
    Run(Class),
    /// A quoted value. `level` is the number of backslashes that preceded the opening quote
    /// (0 in plain JSON, 1 in JSON escaped inside a JSON string, 3 one level deeper). The value
    /// ends at a `quote` preceded by `r` backslashes with `r % (2 * (level + 1)) == level`, which
    /// is the closing quote of that level (an escaped quote of the same level has `r` two
    /// larger), or, unterminated, at the end of the line.
    Quoted {
        /// The quote byte: `"` or `'`.
        quote: u8,
        /// Backslashes before the opening quote.
        level: usize,
        /// Backslashes seen immediately before the current position.
        backslashes: usize,
    },
    /// The rest of a header line; inside a string literal also up to a quote or a backslash
    /// (the closing quote of the string, or an escape such as `\n`).
    Line {
        /// Whether the header name stands inside a double-quoted string.
        in_string: bool,
    },
}

impl Scan {
    /// A quoted value opened by `level` backslashes and `quote`.
    pub(crate) fn quoted(quote: u8, level: usize) -> Self {
        Scan::Quoted {
            quote,
            level,
            backslashes: 0,
        }
    }

    /// Feeds the next bytes of the value. Returns the offset in `bytes` at which the value
    /// ends (the closing delimiter is not part of the value), or `None` when every byte of
    /// `bytes` belongs to the value and it may continue.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        match self {
            Scan::Run(class) => bytes.iter().position(|&b| !class.accepts(b)),
            Scan::Line { in_string: false } => memchr::memchr2(b'\n', b'\r', bytes),
            Scan::Line { in_string: true } => bytes
                .iter()
                .position(|&b| matches!(b, b'\n' | b'\r' | b'"' | b'\\')),
            Scan::Quoted {
                quote,
                level,
                backslashes,
            } => {
                for (i, &b) in bytes.iter().enumerate() {
                    if b == b'\\' {
                        *backslashes += 1;
                    } else if b == b'\n' || b == b'\r' {
                        return Some(i);
                    } else if b == *quote {
                        let run = std::mem::take(backslashes);
                        if run % (2 * (*level + 1)) == *level {
                            // The `level` backslashes before the quote belong to the closer.
                            return Some(i.saturating_sub(*level));
                        }
                    } else {
                        *backslashes = 0;
                    }
                }
                None
            }
        }
    }
}

/// Remembers the last scan so that a value scanned from a later start inside it is not
/// scanned again: scanning from any such start reaches the same end. This keeps the cost of
/// many field names nested in one long value linear.
#[derive(Debug, Default)]
pub(crate) struct ScanCache {
    last: Option<Cached>,
}

#[derive(Debug)]
struct Cached {
    scan: Scan,
    start: usize,
    end: usize,
    open: Option<Scan>,
}

impl ScanCache {
    /// Scans the value of `text` that starts at `start`. Returns its end and, when the value
    /// runs to the end of `text`, the state to resume with.
    pub(crate) fn scan(&mut self, text: &[u8], start: usize, scan: Scan) -> (usize, Option<Scan>) {
        if let Some(c) = &self.last {
            // A start right after a backslash would see a different backslash run.
            let fresh_run = start == c.start || text.get(start.wrapping_sub(1)) != Some(&b'\\');
            if c.scan == scan && c.start <= start && start <= c.end && fresh_run {
                return (c.end, c.open);
            }
        }
        let mut state = scan;
        let (end, open) = match state.feed(&text[start..]) {
            Some(n) => (start + n, None),
            None => (text.len(), Some(state)),
        };
        self.last = Some(Cached {
            scan,
            start,
            end,
            open,
        });
        (end, open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(scan: Scan, text: &str) -> Option<usize> {
        let mut scan = scan;
        scan.feed(text.as_bytes())
    }

    #[test]
    fn runs_stop_at_the_first_foreign_byte() {
        assert_eq!(end(Scan::Run(Class::KeyBody), "abc-_9.x"), Some(6));
        assert_eq!(end(Scan::Run(Class::Token), "ab.c=/+~ x"), Some(8));
        assert_eq!(end(Scan::Run(Class::Bare), "p@ss:w0rd&x"), Some(9));
        assert_eq!(end(Scan::Run(Class::Bare), "open"), None);
    }

    #[test]
    fn quoted_values_end_at_the_closer_of_their_level() {
        assert_eq!(end(Scan::quoted(b'"', 0), r#"a\"b" x"#), Some(4));
        assert_eq!(end(Scan::quoted(b'"', 0), r#"a\\" x"#), Some(3));
        assert_eq!(end(Scan::quoted(b'"', 1), r#"a\\\"b\" x"#), Some(6));
        assert_eq!(end(Scan::quoted(b'"', 1), r#"a\\\\\" x"#), Some(5));
        assert_eq!(end(Scan::quoted(b'"', 3), r#"ab\\\\\\\"c\\\" y"#), Some(11));
        assert_eq!(end(Scan::quoted(b'\'', 0), "it's"), Some(2));
        assert_eq!(end(Scan::quoted(b'"', 0), "unterminated\nnext"), Some(12));
        assert_eq!(end(Scan::quoted(b'"', 0), "open"), None);
    }

    #[test]
    fn quoted_scans_resume_across_pieces() {
        let mut scan = Scan::quoted(b'"', 0);
        assert_eq!(scan.feed(b"abc\\"), None);
        // The quote is escaped by the backslash at the end of the previous piece.
        assert_eq!(scan.feed(b"\"def\" rest"), Some(4));
    }

    #[test]
    fn header_lines_end_at_the_line_end_or_the_enclosing_string() {
        assert_eq!(
            end(Scan::Line { in_string: false }, "a \"b\" c\r\n"),
            Some(7)
        );
        assert_eq!(end(Scan::Line { in_string: true }, "a b\", \"c\""), Some(3));
        assert_eq!(end(Scan::Line { in_string: true }, "a b\\nc"), Some(3));
    }

    #[test]
    fn the_cache_reuses_a_scan_from_a_start_inside_it() {
        let text = b"x=\"a b=\"c\" tail";
        let mut cache = ScanCache::default();
        assert_eq!(cache.scan(text, 3, Scan::quoted(b'"', 0)), (7, None));
        assert_eq!(cache.scan(text, 5, Scan::quoted(b'"', 0)), (7, None));
        assert_eq!(cache.scan(text, 8, Scan::quoted(b'"', 0)), (9, None));
        assert_eq!(
            cache.scan(text, 11, Scan::Run(Class::Bare)),
            (15, Some(Scan::Run(Class::Bare)))
        );
    }
}
