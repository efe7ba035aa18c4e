//! The fast path of [`parse_line`](super::parse_line): a byte-level reader of the few fields of
//! a candidate line that matter, which checks and skips everything else (mostly
//! `message.content`) without building anything.
//!
//! It answers only when it is sure: [`read_line`] returns the [`RawLine`] that serde would
//! build, or `None` when the line has anything it does not read exactly like `serde_json` does
//! (any syntax error, a control byte anywhere, a needed field of another type or given twice, a
//! number that is not a plain `u64`, an escaped key where keys are matched, a surrogate that is
//! not part of a pair, a `speed` that is an array, object or long number, a struct written as
//! an array, deep nesting). The caller then asks serde, so a `None` costs time, never a
//! different answer.
//!
//! The rules followed are those of `serde_json` 1.x reading the derived structs of the parent
//! module from a `&str`:
//!
//! - the line is one object, with only whitespace around it; whitespace is space, tab, `\n` and
//!   `\r`, but this reader takes only lines without any byte below 0x20 (Claude Code writes
//!   compact lines), so that whitespace is only the space and no string needs a control-byte
//!   check (serde rejects control bytes in strings);
//! - in an object whose keys are matched (the line, `message`, `usage`, `usage.cache_creation`)
//!   a needed key given twice is an error, and any other key is skipped whatever its value;
//! - skipped values are checked as JSON, without a nesting limit: strings with valid escapes
//!   (a `\u` needs four hex digits, nothing more: serde does not decode what it skips), numbers
//!   as in the JSON grammar (no leading zero; any size), `true`, `false`, `null`, no trailing
//!   commas;
//! - needed strings are unescaped; a `\u` surrogate must be a high one directly followed by an
//!   escaped low one;
//! - `null` is an absent field; a token count is an integer from 0 to `u64::MAX` (anything else
//!   is an error or a float, which serde rejects);
//! - `usage.speed` may be any value.
//!
//! Where serde would fail, this reader gives up rather than repeat serde's choice of error.

use std::borrow::Cow;

use super::{RawCacheCreation, RawLine, RawMessage, RawUsage, SpeedField, Text};
use crate::event::Speed;

/// Nesting deeper than this (the line's object counts as 1) is left to serde.
///
/// `serde_json` skips ignored values without a depth limit and nests at most 127 structs; the
/// line's own structs are 4 deep. Real lines nest a handful of levels; this bound keeps the skip
/// stack in one `u128`.
const MAX_DEPTH: u32 = 100;

/// The keys read from the line object, by field number.
const LINE_KEYS: [&[u8]; 8] = [
    b"type",
    b"timestamp",
    b"sessionId",
    b"cwd",
    b"isSidechain",
    b"requestId",
    b"isApiErrorMessage",
    b"message",
];

/// The keys read from `message`, by field number.
const MESSAGE_KEYS: [&[u8]; 3] = [b"id", b"model", b"usage"];

/// The keys read from `message.usage`, by field number.
const USAGE_KEYS: [&[u8]; 6] = [
    b"input_tokens",
    b"output_tokens",
    b"cache_creation_input_tokens",
    b"cache_read_input_tokens",
    b"cache_creation",
    b"speed",
];

/// The keys read from `message.usage.cache_creation`, by field number.
const SPLIT_KEYS: [&[u8]; 2] = [b"ephemeral_5m_input_tokens", b"ephemeral_1h_input_tokens"];

/// Reads the needed fields of `text` as serde would, or `None` when unsure.
pub(super) fn read_line(text: &str) -> Option<RawLine<'_>> {
    if has_control(text.as_bytes()) {
        return None;
    }
    let mut s = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let mut line = RawLine {
        kind: None,
        timestamp: None,
        session_id: None,
        cwd: None,
        is_sidechain: None,
        request_id: None,
        is_api_error_message: None,
        message: None,
    };
    s.expect(b'{')?;
    s.line(&mut line)?;
    s.skip_spaces();
    (s.pos == s.bytes.len()).then_some(line)
}

/// The value of the line object's `type` member when it comes before any member whose value is
/// an object or array, and is a string without escapes: the kind of the line, known from its
/// first bytes. `None` when the line does not show it that early (an assistant line gives its
/// `type` after `message`) or is not JSON up to there as this reader takes it (see the module's
/// rules; control bytes are not looked for).
///
/// Only the line's first members are read, however long the line is.
pub(super) fn leading_type(line: &[u8]) -> Option<&[u8]> {
    // Only byte-level reads: no string is taken out of the line as text, so none is needed
    // (`string` would find nothing in an empty `text`).
    let mut s = Scanner {
        text: "",
        bytes: line,
        pos: 0,
    };
    s.expect(b'{')?;
    let mut first = true;
    while let Some(key) = s.next_key(&mut first)? {
        if key == b"type" {
            s.expect(b'"')?;
            return s.plain_key();
        }
        if matches!(s.token()?, b'{' | b'[') {
            return None;
        }
        s.skip_scalar()?;
    }
    None
}

/// Whether `bytes` holds a byte below 0x20.
fn has_control(bytes: &[u8]) -> bool {
    // The smallest byte, by a fold without early exit, which compiles to wide `pminub`s.
    bytes.iter().fold(u8::MAX, |min, &b| min.min(b)) < 0x20
}

/// Where the first quote or backslash of `bytes` is.
///
/// 16 bytes at a time, with SSE2 (part of every x86-64 processor): two compares and the mask of
/// their result in a register, whose lowest bit set is the place. Strings in a line are short,
/// so most blocks have one: the mask gives its place without a second look at the block.
/// (The portable version below, which compilers do not turn into a mask, took about 10% more
/// of the parse of the bench corpus's usage lines.)
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let quote = set_splat_i8_m128i(b'"' as i8);
    let backslash = set_splat_i8_m128i(b'\\' as i8);
    let (blocks, tail) = bytes.as_chunks::<16>();
    for (n, block) in blocks.iter().enumerate() {
        let v = load_unaligned_m128i(block);
        let hits = cmp_eq_mask_i8_m128i(v, quote) | cmp_eq_mask_i8_m128i(v, backslash);
        let mask = move_mask_i8_m128i(hits);
        if mask != 0 {
            return Some(n * 16 + mask.trailing_zeros() as usize);
        }
    }
    let done = blocks.len() * 16;
    tail.iter()
        .position(|&b| (b == b'"') | (b == b'\\'))
        .map(|i| done + i)
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    find_quote_or_backslash_portable(bytes)
}

/// [`find_quote_or_backslash`] without SIMD intrinsics.
///
/// 16 bytes at a time: whether a block has one is computed without branches, so that it
/// compiles to SIMD compares and one `pmovmskb`; only the block that has one is searched for
/// its position, 8 bytes at a time in a `u64` (reading the SIMD flags back through memory
/// would stall on store forwarding). Most strings in a line are short and escapes in text are
/// frequent, so this beats a `memchr2` call per run of plain bytes.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2"),
    allow(dead_code, reason = "the x86-64 build uses SSE2; tests check both")
)]
#[inline(always)]
fn find_quote_or_backslash_portable(bytes: &[u8]) -> Option<usize> {
    let (blocks, tail) = bytes.as_chunks::<16>();
    for (n, block) in blocks.iter().enumerate() {
        // Flags of 0 or 0xff, then their OR: the form that compiles to SIMD compares and one
        // `pmovmskb`.
        let mut flags = [0u8; 16];
        for (flag, &b) in flags.iter_mut().zip(block) {
            *flag = if (b == b'"') | (b == b'\\') { 0xff } else { 0 };
        }
        if flags.iter().fold(0, |any, &f| any | f) != 0 {
            for (half, word) in block.as_chunks::<8>().0.iter().enumerate() {
                let hits = quote_or_backslash_bits(u64::from_le_bytes(*word));
                if hits != 0 {
                    return Some(n * 16 + half * 8 + hits.trailing_zeros() as usize / 8);
                }
            }
        }
    }
    let done = blocks.len() * 16;
    tail.iter()
        .position(|&b| (b == b'"') | (b == b'\\'))
        .map(|i| done + i)
}

/// The high bit of each byte of `word` that may be a quote or a backslash. The lowest one set
/// is exact (the bits above it may not be: a borrow carries), which is all that is used.
#[inline(always)]
fn quote_or_backslash_bits(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    ((quote.wrapping_sub(ONES) & !quote) | (backslash.wrapping_sub(ONES) & !backslash))
        & (ONES << 7)
}

/// What the byte after a backslash makes of the escape, in [`ESCAPE_FLAGS`]: not an escape
/// serde takes.
const BAD_ESCAPE: u8 = 1;

/// See [`BAD_ESCAPE`]: `\u`, whose four hex digits must follow.
const UNICODE_ESCAPE: u8 = 2;

/// For each byte, what it makes of an escape when it follows a backslash: 0 for the eight
/// escapes of one character (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`), else
/// [`UNICODE_ESCAPE`] or [`BAD_ESCAPE`].
const ESCAPE_FLAGS: [u8; 256] = {
    let mut flags = [BAD_ESCAPE; 256];
    let mut i = 0;
    let simple = *b"\"\\/bfnrt";
    while i < simple.len() {
        flags[simple[i] as usize] = 0;
        i += 1;
    }
    flags[b'u' as usize] = UNICODE_ESCAPE;
    flags
};

/// The bytes of a block that are escaped, one bit each (bit `i` for byte `i`), from its
/// backslashes: each byte after a backslash that is not itself escaped (the second backslash
/// of `\\` included). `carry` is 1 when the block before ended in such a backslash (bit 0 is
/// then escaped), and becomes 1 when this one does.
///
/// Branch-free (the method of simdjson's `find_escaped`): a run of backslashes escapes every
/// other byte from the one after its start, so the bytes on even bits for a run that starts on
/// an odd bit, and on odd bits for one that starts on an even bit. Adding the start bits of the
/// runs that start on an odd bit to the backslashes clears those runs (and sets the bit after
/// each; a carry out of bit 63 goes to the next block); what is left, moved up one bit, flips
/// the mask of even bits under the runs that start on an even bit.
#[inline(always)]
fn escaped_bits(backslashes: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    // A backslash that is itself escaped starts nothing.
    let backslashes = backslashes & !*carry;
    let follows = (backslashes << 1) | *carry;
    let odd_starts = backslashes & !EVEN & !follows;
    let (even_starts, overflow) = odd_starts.overflowing_add(backslashes);
    *carry = u64::from(overflow);
    (EVEN ^ (even_starts << 1)) & follows
}

/// The quotes and the backslashes of `block`, one bit each (bit `i` for byte `i`).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn quote_and_backslash_bits(block: &[u8; 64]) -> (u64, u64) {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let quote = set_splat_i8_m128i(b'"' as i8);
    let backslash = set_splat_i8_m128i(b'\\' as i8);
    let (mut quotes, mut backslashes) = (0, 0);
    for (n, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = load_unaligned_m128i(lane);
        // The masks have 16 bits: `as u16` drops only upper bits, which are zero.
        let q = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, quote)) as u16;
        let b = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(v, backslash)) as u16;
        quotes |= u64::from(q) << (16 * n);
        backslashes |= u64::from(b) << (16 * n);
    }
    (quotes, backslashes)
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn quote_and_backslash_bits(block: &[u8; 64]) -> (u64, u64) {
    quote_and_backslash_bits_portable(block)
}

/// [`quote_and_backslash_bits`] without SIMD intrinsics.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "sse2"),
    allow(dead_code, reason = "the x86-64 build uses SSE2; tests check both")
)]
#[inline(always)]
fn quote_and_backslash_bits_portable(block: &[u8; 64]) -> (u64, u64) {
    block
        .iter()
        .enumerate()
        .fold((0, 0), |(quotes, backslashes), (i, &b)| {
            (
                quotes | u64::from(b == b'"') << i,
                backslashes | u64::from(b == b'\\') << i,
            )
        })
}

/// The field number of `key` in `keys`.
#[inline(always)]
fn field(key: &[u8], keys: &[&[u8]]) -> Option<usize> {
    keys.iter().position(|k| *k == key)
}

/// Records that field `n` was read; `None` if it already was (serde rejects a duplicate field
/// of a derived struct, even after a `null`).
#[inline(always)]
fn first_time(seen: &mut u8, n: usize) -> Option<()> {
    let bit = 1 << n;
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// A cursor over one line. Every method returns `None` on anything it does not handle.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// The members of the line object, after its `{`.
    fn line(&mut self, line: &mut RawLine<'a>) -> Option<()> {
        self.fields(&LINE_KEYS, 1, |s, n| {
            match n {
                0 => line.kind = s.text_or_null()?,
                1 => line.timestamp = s.text_or_null()?,
                2 => line.session_id = s.text_or_null()?,
                3 => line.cwd = s.text_or_null()?,
                4 => line.is_sidechain = s.bool_or_null()?,
                5 => line.request_id = s.text_or_null()?,
                6 => line.is_api_error_message = s.bool_or_null()?,
                _ => s.message(&mut line.message)?,
            }
            Some(())
        })
    }

    /// The members of an object whose `{` was read: the value of each key in `keys` goes to
    /// `read` with the key's number (a key given twice: `None`); any other value is skipped
    /// as one nested `depth` deep.
    #[inline(always)]
    fn fields(
        &mut self,
        keys: &[&[u8]],
        depth: u32,
        mut read: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        let mut seen = 0;
        let mut first = true;
        while let Some(key) = self.next_key(&mut first)? {
            let Some(n) = field(key, keys) else {
                self.skip_value(depth)?;
                continue;
            };
            first_time(&mut seen, n)?;
            read(self, n)?;
        }
        Some(())
    }

    /// `message`: `null` or an object.
    fn message(&mut self, out: &mut Option<RawMessage<'a>>) -> Option<()> {
        if self.null()? {
            return Some(());
        }
        self.expect(b'{')?;
        let message = out.insert(RawMessage {
            id: None,
            model: None,
            usage: None,
        });
        self.fields(&MESSAGE_KEYS, 2, |s, n| {
            match n {
                0 => message.id = s.text_or_null()?,
                1 => message.model = s.text_or_null()?,
                _ => s.usage(&mut message.usage)?,
            }
            Some(())
        })
    }

    /// `message.usage`: `null` or an object.
    fn usage(&mut self, out: &mut Option<RawUsage>) -> Option<()> {
        if self.null()? {
            return Some(());
        }
        self.expect(b'{')?;
        let usage = out.insert(RawUsage {
            input_tokens: None,
            output_tokens: None,
            cache_creation_input_tokens: None,
            cache_read_input_tokens: None,
            cache_creation: None,
            speed: SpeedField::default(),
        });
        self.fields(&USAGE_KEYS, 3, |s, n| {
            match n {
                0 => usage.input_tokens = s.count_or_null()?,
                1 => usage.output_tokens = s.count_or_null()?,
                2 => usage.cache_creation_input_tokens = s.count_or_null()?,
                3 => usage.cache_read_input_tokens = s.count_or_null()?,
                4 => s.split(&mut usage.cache_creation)?,
                _ => usage.speed = s.speed()?,
            }
            Some(())
        })
    }

    /// `usage.cache_creation`: `null` or an object.
    fn split(&mut self, out: &mut Option<RawCacheCreation>) -> Option<()> {
        if self.null()? {
            return Some(());
        }
        self.expect(b'{')?;
        let split = out.insert(RawCacheCreation {
            ephemeral_5m_input_tokens: None,
            ephemeral_1h_input_tokens: None,
        });
        self.fields(&SPLIT_KEYS, 4, |s, n| {
            match n {
                0 => split.ephemeral_5m_input_tokens = s.count_or_null()?,
                _ => split.ephemeral_1h_input_tokens = s.count_or_null()?,
            }
            Some(())
        })
    }

    /// `usage.speed`: a string, `null`, a boolean or a short integer. Serde also takes arrays,
    /// objects and any number; those are left to it.
    fn speed(&mut self) -> Option<SpeedField> {
        match self.token()? {
            b'"' => {
                self.pos += 1;
                let speed = self.string()?;
                Some(SpeedField(if speed == "fast" {
                    Speed::Fast
                } else {
                    Speed::Standard
                }))
            }
            b'n' => self.literal(b"null").map(|()| SpeedField::default()),
            b't' => self.literal(b"true").map(|()| SpeedField::default()),
            b'f' => self.literal(b"false").map(|()| SpeedField::default()),
            b'-' | b'0'..=b'9' => self.small_integer().map(|()| SpeedField::default()),
            _ => None,
        }
    }

    /// Moves to the next member of an object whose `{` has been read: returns its key, with the
    /// colon read, or `Some(None)` after the closing `}`.
    #[inline(always)]
    fn next_key(&mut self, first: &mut bool) -> Option<Option<&'a [u8]>> {
        match self.token()? {
            b'}' => {
                self.pos += 1;
                return Some(None);
            }
            b',' if !*first => {
                self.pos += 1;
                self.expect(b'"')?;
            }
            b'"' if *first => {
                self.pos += 1;
                *first = false;
            }
            _ => return None,
        }
        let key = self.plain_key()?;
        self.expect(b':')?;
        Some(Some(key))
    }

    /// A key without escapes, after its opening quote. Serde matches a key after unescaping it,
    /// so an escaped key could name a needed field: such a line is left to serde.
    #[inline(always)]
    fn plain_key(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.pos..)?;
        let end = find_quote_or_backslash(rest)?;
        if rest.get(end) != Some(&b'"') {
            return None;
        }
        self.pos += end + 1;
        rest.get(..end)
    }

    /// A needed string field.
    #[inline(always)]
    fn text_or_null(&mut self) -> Option<Option<Text<'a>>> {
        match self.token()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => {
                self.pos += 1;
                self.string().map(|s| Some(Text(s)))
            }
            _ => None,
        }
    }

    /// A needed boolean field.
    #[inline(always)]
    fn bool_or_null(&mut self) -> Option<Option<bool>> {
        match self.token()? {
            b'n' => self.literal(b"null").map(|()| None),
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            _ => None,
        }
    }

    /// A token count.
    #[inline(always)]
    fn count_or_null(&mut self) -> Option<Option<u64>> {
        match self.token()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'0'..=b'9' => self.count().map(Some),
            _ => None,
        }
    }

    /// A `u64` written as a plain integer. A leading zero is a syntax error; a fraction, an
    /// exponent or a value past `u64::MAX` makes serde read a float, which does not fit.
    #[inline(always)]
    fn count(&mut self) -> Option<u64> {
        let rest = self.bytes.get(self.pos..)?;
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = rest.get(..len)?;
        if (len > 1 && digits.first() == Some(&b'0'))
            || matches!(rest.get(len), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let mut value: u64 = 0;
        for &d in digits {
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.pos += len;
        Some(value)
    }

    /// An integer of at most 18 digits, optionally negative: serde reads it as an `i64` or a
    /// `u64` (`-0` as a float), never out of range.
    fn small_integer(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let rest = self.bytes.get(self.pos..)?;
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0
            || len > 18
            || (len > 1 && rest.first() == Some(&b'0'))
            || matches!(rest.get(len), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.pos += len;
        Some(())
    }

    /// A needed string, after its opening quote: borrowed from the line when it has no escape,
    /// unescaped into an owned string otherwise (as serde does).
    #[inline(always)]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let mut owned: Option<String> = None;
        loop {
            let rest = self.bytes.get(self.pos..)?;
            let end = find_quote_or_backslash(rest)?;
            // Quotes and backslashes are ASCII, so both ends are character boundaries.
            let run = self.text.get(self.pos..self.pos + end)?;
            self.pos += end + 1;
            if rest.get(end) == Some(&b'"') {
                return Some(match owned {
                    Some(mut out) => {
                        out.push_str(run);
                        Cow::Owned(out)
                    }
                    None => Cow::Borrowed(run),
                });
            }
            let out = owned.get_or_insert_with(String::new);
            out.push_str(run);
            out.push(self.escape()?);
        }
    }

    /// The character of an escape, after its backslash.
    fn escape(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let n = self.hex4()?;
                if (0xD800..0xDC00).contains(&n) {
                    // A high surrogate: serde requires an escaped low one right after it.
                    self.literal(b"\\u")?;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    return char::from_u32(0x1_0000 + ((n - 0xD800) << 10) + (low - 0xDC00));
                }
                // A lone low surrogate is no `char`, and an error for serde too.
                return char::from_u32(n);
            }
            _ => return None,
        })
    }

    /// Four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n * 16 + char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(n)
    }

    /// Skips a value that is not needed, inside a container at nesting `depth`.
    #[inline(always)]
    fn skip_value(&mut self, depth: u32) -> Option<()> {
        match self.token()? {
            b'[' | b'{' => self.skip_nested(depth),
            _ => self.skip_scalar(),
        }
    }

    /// Skips a string, number or literal, at its first byte.
    #[inline(always)]
    fn skip_scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                self.skip_string()
            }
            b'-' | b'0'..=b'9' => self.skip_number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    /// Skips an array or object, at its opening bracket, inside a container at nesting
    /// `depth`. Iterative, so that nesting costs no stack.
    fn skip_nested(&mut self, depth: u32) -> Option<()> {
        // The open containers, one bit each, innermost lowest: 1 for an object, 0 for an array.
        let mut stack: u128 = 0;
        let mut open: u32 = 0;
        loop {
            // At a value: open a container or skip a scalar.
            match self.token()? {
                bracket @ (b'[' | b'{') => {
                    open += 1;
                    if depth + open > MAX_DEPTH {
                        return None;
                    }
                    let object = bracket == b'{';
                    stack = stack << 1 | u128::from(object);
                    self.pos += 1;
                    let close = if object { b'}' } else { b']' };
                    if self.token()? != close {
                        if object {
                            self.member_key()?;
                        }
                        continue;
                    }
                    // Empty: closed by the loop below.
                }
                _ => self.skip_scalar()?,
            }
            // After a value (or at the end of an empty container): a comma and the next
            // element, or closing brackets.
            loop {
                let object = stack & 1 == 1;
                match self.token()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.member_key()?;
                        }
                        break;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return None,
                }
                self.pos += 1;
                stack >>= 1;
                open -= 1;
                if open == 0 {
                    return Some(());
                }
            }
        }
    }

    /// The key and colon of a member of a skipped object.
    #[inline(always)]
    fn member_key(&mut self) -> Option<()> {
        self.expect(b'"')?;
        self.skip_string()?;
        self.expect(b':')
    }

    /// Skips a string after its opening quote, checking its escapes as serde does.
    ///
    /// Most skipped strings are keys and short values, which end within 64 bytes without an
    /// escape: one search of those bytes settles them. Longer ones (text, tool input) and
    /// ones with an escape go on in [`skip_long_string`](Self::skip_long_string).
    #[inline(always)]
    fn skip_string(&mut self) -> Option<()> {
        let rest = self.bytes.get(self.pos..)?;
        let head = rest.get(..64).unwrap_or(rest);
        if let Some(end) = find_quote_or_backslash(head) {
            self.pos += end;
            if rest.get(end) == Some(&b'"') {
                self.pos += 1;
                return Some(());
            }
        } else {
            self.pos += head.len();
        }
        self.skip_long_string()
    }

    /// [`skip_string`](Self::skip_string) 64 bytes at a time, from a place in the string that
    /// is not inside an escape.
    ///
    /// Each block gives its quotes and backslashes as bit masks; a block with neither (and no
    /// escape carried into it) is passed over at once. Otherwise [`escaped_bits`] tells which
    /// bytes are escaped, the first quote that is not ends the string, and the escape codes
    /// before it are checked through [`ESCAPE_FLAGS`], the first four without branches (text
    /// is full of `\n`, often several to a block). A `\u`, whose digits may cross into the
    /// next block, and the last bytes of the line, fewer than a block, go on in
    /// [`skip_string_bytewise`](Self::skip_string_bytewise) from the start of the block (or
    /// the backslash carried into it), so the outcome is the same as if it had done all of
    /// the string.
    fn skip_long_string(&mut self) -> Option<()> {
        let mut carry = 0;
        while let Some(block) = self
            .bytes
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<64>())
        {
            let carried = carry;
            let (quotes, backslashes) = quote_and_backslash_bits(block);
            if (quotes | backslashes | carry) == 0 {
                self.pos += 64;
                continue;
            }
            let escaped = escaped_bits(backslashes, &mut carry);
            let ends = quotes & !escaped;
            let mut codes = escaped & !ends & ends.wrapping_sub(1);
            let mut flags = 0;
            for _ in 0..4 {
                let at = codes.trailing_zeros() as usize & 63;
                let any = 0u8.wrapping_sub(u8::from(codes != 0));
                flags |= ESCAPE_FLAGS[usize::from(block[at])] & any;
                codes &= codes.wrapping_sub(1);
            }
            while codes != 0 {
                flags |= ESCAPE_FLAGS[usize::from(block[codes.trailing_zeros() as usize])];
                codes &= codes - 1;
            }
            if flags != 0 {
                if flags & BAD_ESCAPE != 0 {
                    return None;
                }
                self.pos -= carried as usize;
                return self.skip_string_bytewise();
            }
            if ends != 0 {
                self.pos += ends.trailing_zeros() as usize + 1;
                return Some(());
            }
            self.pos += 64;
        }
        self.pos -= carry as usize;
        self.skip_string_bytewise()
    }

    /// [`skip_string`](Self::skip_string) one escape at a time, from a place in the string
    /// that is not inside an escape.
    fn skip_string_bytewise(&mut self) -> Option<()> {
        loop {
            let rest = self.bytes.get(self.pos..)?;
            let end = find_quote_or_backslash(rest)?;
            self.pos += end + 1;
            if rest.get(end) == Some(&b'"') {
                return Some(());
            }
            let flags = ESCAPE_FLAGS[usize::from(self.peek()?)];
            if flags & BAD_ESCAPE != 0 {
                return None;
            }
            self.pos += 1;
            if flags & UNICODE_ESCAPE != 0 {
                self.hex4()?;
            }
        }
    }

    /// Skips a number as the JSON grammar has it: `-`, no leading zero, a fraction and an
    /// exponent with at least one digit each. Its size does not matter to a skipped value.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => {
                self.pos += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Skips ASCII digits; returns how many.
    fn digits(&mut self) -> usize {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        self.pos += len;
        len
    }

    /// Whether the next value is `null` (then read) or something else (not read); `None` for
    /// a value that starts like `null` but is not.
    #[inline(always)]
    fn null(&mut self) -> Option<bool> {
        if self.token()? != b'n' {
            return Some(false);
        }
        self.literal(b"null").map(|()| true)
    }

    /// Reads `word` exactly.
    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if !self.bytes.get(self.pos..)?.starts_with(word) {
            return None;
        }
        self.pos += word.len();
        Some(())
    }

    /// Reads the byte `b`, after any spaces.
    #[inline(always)]
    fn expect(&mut self, b: u8) -> Option<()> {
        if self.token()? != b {
            return None;
        }
        self.pos += 1;
        Some(())
    }

    /// The next byte after any spaces, not read.
    #[inline(always)]
    fn token(&mut self) -> Option<u8> {
        let b = self.peek()?;
        if b != b' ' {
            return Some(b);
        }
        self.skip_spaces();
        self.peek()
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips spaces, the only whitespace in a line without control bytes. Compact lines have
    /// none outside strings.
    #[cold]
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `type` is read only among the first members, before any object or array, and only
    /// as a string without escapes; nothing after it is read.
    #[test]
    fn the_leading_type_comes_before_any_nested_value() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"type":"user","message":{}}"#, Some("user")),
            (
                r#"{"parentUuid":null,"isSidechain":false,"n":-1.5e3,"cwd":"C:\\w\"","type":"file-history-snapshot"}"#,
                Some("file-history-snapshot"),
            ),
            (r#"{ "a" : "b" , "type" : "user" }"#, Some("user")),
            (r#"{"type":"assistant","message":{}}"#, Some("assistant")),
            // Only the start is read: what follows the type does not matter.
            (r#"{"a":"x","type":"user","#, Some("user")),
            (r#"{"type":"user"} trailing"#, Some("user")),
            // Not shown early, or not as a plain string.
            (r#"{"message":{"role":"user"},"type":"user"}"#, None),
            (r#"{"a":[1],"type":"user"}"#, None),
            (r#"{"type":"us\u0065r"}"#, None),
            (r#"{"t\u0079pe":"user"}"#, None),
            (r#"{"type":null}"#, None),
            (r#"{"type":1}"#, None),
            (r#"{"a":1}"#, None),
            (r#"{}"#, None),
            (r#"[{"type":"user"}]"#, None),
            (r#"{"a":"x"#, None),
            (r#"{"type":"user"#, None),
            // Not JSON before it.
            (r#"{"a":tru,"type":"user"}"#, None),
            (r#"{"a":"\q","type":"user"}"#, None),
            (r#"{"a":01,"type":"user"}"#, None),
            (r#"{"a":1,,"type":"user"}"#, None),
            ("{\t\"type\":\"user\"}", None),
        ];
        for (line, expected) in cases {
            assert_eq!(
                leading_type(line.as_bytes()),
                expected.map(str::as_bytes),
                "{line:?}"
            );
        }
    }

    /// Both searches give the first quote or backslash at any place, in any block, after any
    /// bytes (high ones too, which a signed compare could mistake), or none.
    #[test]
    fn the_quote_or_backslash_search_finds_the_first() {
        let filler: Vec<u8> = (0..=255u8).filter(|b| !matches!(b, b'"' | b'\\')).collect();
        for len in 0..70 {
            let plain: Vec<u8> = (0..len).map(|i| filler[(i * 37) % filler.len()]).collect();
            assert_eq!(find_quote_or_backslash(&plain), None);
            assert_eq!(find_quote_or_backslash_portable(&plain), None);
            for at in 0..len {
                for stop in [b'"', b'\\'] {
                    let mut bytes = plain.clone();
                    bytes[at] = stop;
                    // A second one after the first changes nothing.
                    if at + 3 < len {
                        bytes[at + 3] = b'"';
                    }
                    assert_eq!(find_quote_or_backslash(&bytes), Some(at), "{bytes:?}");
                    assert_eq!(
                        find_quote_or_backslash_portable(&bytes),
                        Some(at),
                        "{bytes:?}"
                    );
                }
            }
        }
    }

    /// The escaped bytes of a run of blocks, one byte at a time: the reference for
    /// [`escaped_bits`].
    fn escaped_bits_reference(backslashes: u64, carry: &mut u64) -> u64 {
        let mut escaped = 0;
        for i in 0..64 {
            if *carry == 1 {
                escaped |= 1 << i;
                *carry = 0;
            } else if backslashes & (1 << i) != 0 {
                *carry = 1;
            }
        }
        escaped
    }

    #[test]
    fn escaped_bytes_follow_odd_runs_of_backslashes_across_blocks() {
        // Every pattern of 16 bits, at each end of the block and in the middle, with and
        // without a carry in.
        for pattern in 0..=u16::MAX {
            for shift in [0, 24, 48] {
                for carry_in in [0, 1] {
                    let backslashes = u64::from(pattern) << shift;
                    let (mut carry, mut expected_carry) = (carry_in, carry_in);
                    assert_eq!(
                        escaped_bits(backslashes, &mut carry),
                        escaped_bits_reference(backslashes, &mut expected_carry),
                        "{backslashes:#x} carry {carry_in}"
                    );
                    assert_eq!(carry, expected_carry, "{backslashes:#x} carry {carry_in}");
                }
            }
        }
        // Runs of every length at every place, ending in the next block too.
        for len in 1..=130 {
            for start in 0..64 {
                let mut blocks = [0u64; 4];
                for bit in start..start + len {
                    blocks[bit / 64] |= 1 << (bit % 64);
                }
                let (mut carry, mut expected_carry) = (0, 0);
                for block in blocks {
                    assert_eq!(
                        escaped_bits(block, &mut carry),
                        escaped_bits_reference(block, &mut expected_carry),
                        "run of {len} at {start}"
                    );
                    assert_eq!(carry, expected_carry, "run of {len} at {start}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn escaped_bytes_match_the_bytewise_reference(
            blocks in proptest::collection::vec(proptest::num::u64::ANY, 1..6),
            thin in proptest::num::u64::ANY,
            carry_in in 0u64..2,
        ) {
            let (mut carry, mut expected_carry) = (carry_in, carry_in);
            for block in blocks {
                // Random words and sparser ones, with short runs.
                for backslashes in [block, block & thin] {
                    proptest::prop_assert_eq!(
                        escaped_bits(backslashes, &mut carry),
                        escaped_bits_reference(backslashes, &mut expected_carry)
                    );
                    proptest::prop_assert_eq!(carry, expected_carry);
                }
            }
        }

        #[test]
        fn the_block_masks_match_the_portable_ones(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'"'),
                    proptest::strategy::Just(b'\\'),
                    proptest::num::u8::ANY,
                ],
                64,
            ),
        ) {
            let block: &[u8; 64] = bytes.first_chunk().unwrap();
            let (quotes, backslashes) = quote_and_backslash_bits_portable(block);
            proptest::prop_assert_eq!(quote_and_backslash_bits(block), (quotes, backslashes));
            for (i, &b) in block.iter().enumerate() {
                proptest::prop_assert_eq!(quotes >> i & 1 == 1, b == b'"');
                proptest::prop_assert_eq!(backslashes >> i & 1 == 1, b == b'\\');
            }
        }

        #[test]
        fn a_string_skips_as_it_does_one_escape_at_a_time(
            pieces in proptest::collection::vec(
                proptest::sample::select(&[
                    "a", "a", "a", "a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    "\"", "\\", "\\\\", "\\n", "\\\"", "\\u00e9", "\\u12", "u", "0", "\\x", "\\\u{e9}",
                    "\u{e9}", "\u{1f600}", "/",
                ][..]),
                0..120,
            ),
        ) {
            let content = pieces.concat();
            let (fast, bytewise) = skip_both(&content);
            proptest::prop_assert_eq!(fast, bytewise, "{:?}", content);
        }
    }

    /// Where [`Scanner::skip_string`] and [`Scanner::skip_string_bytewise`] leave a string
    /// that starts at the start of `content` (after its opening quote).
    fn skip_both(content: &str) -> (Option<usize>, Option<usize>) {
        let skip = |bytewise: bool| {
            let mut s = Scanner {
                text: content,
                bytes: content.as_bytes(),
                pos: 0,
            };
            let done = if bytewise {
                s.skip_string_bytewise()
            } else {
                s.skip_string()
            };
            done.map(|()| s.pos)
        };
        (skip(false), skip(true))
    }

    #[test]
    fn a_string_ends_at_the_same_place_at_any_length_and_escape() {
        let tails = [
            "\"",
            "\\\"\"",
            "\\\\\"",
            "\\n\"",
            "\\u00e9\"",
            "\\u00\"",
            "\\uzzzz\"",
            "\\x\"",
            "\\",
            "\\\\",
            "\\u",
            "\\u00",
            "",
            "\u{e9}\"",
            // After the run of backslashes, a `\u` in the same block: when the run ends a
            // block, the escape it carries into the next must be kept.
            "\"\\u00e9\"",
            "\\\\u00e9\"",
            "n\\u00e9\"",
            // An escape after the end, valid or not, in the same block: not part of the string.
            "\"\\x",
            "\"\\n",
        ];
        for len in 0..200 {
            let plain = "a".repeat(len);
            for tail in tails {
                for backslashes in 0..12 {
                    // A run of backslashes before the tail, ending at or near each boundary,
                    // with the rest of the line short or a block and more.
                    let run = "\\".repeat(backslashes);
                    for rest in [", \"x\"", &format!(", \"{}\"", "x".repeat(70))] {
                        let content = format!("{plain}{run}{tail}{rest}");
                        let (fast, bytewise) = skip_both(&content);
                        assert_eq!(fast, bytewise, "{content:?}");
                    }
                }
                // Escapes throughout, before the end.
                let content = format!("{}{tail}tail\"", "\\n".repeat(len / 2));
                let (fast, bytewise) = skip_both(&content);
                assert_eq!(fast, bytewise, "{content:?}");
            }
        }
    }
}
