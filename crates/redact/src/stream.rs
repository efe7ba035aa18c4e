//! Redacting a byte stream in constant memory.
//!
//! Input is collected into a buffer of at most [`WINDOW`] bytes. Whenever the buffer holds a
//! line end, everything up to the last one is redacted as a block and written (no rule looks
//! past a line end, so a block redacts exactly like its lines one by one). A line longer than
//! the buffer is cut into pieces of at most [`PIECE`] bytes; the remaining [`WINDOW`] -
//! [`PIECE`] bytes are lookahead, enough to see every head that starts before the cut whole:
//!
//! - the cut never falls inside a secret (from the start of its head to the end of its value);
//!   among the allowed places the last one after a blank or a comma is preferred, then the last
//!   allowed byte;
//! - when one secret covers the whole buffer (a value longer than a piece), the buffer is
//!   written with the value replaced up to its end, and the input that follows is dropped until
//!   the value really ends, tracked by the value's resumable [`Scan`].
//!
//! Each piece is redacted with the [`Context`] of the line before it (the byte before it,
//! whether it starts inside a string), so a piece decides like the whole line would; where the
//! lookahead cannot tell, the decision errs towards hiding more.

use std::io::{self, BufRead, BufWriter, Write};

use crate::rules::{self, Context, Finding};
use crate::scan::Scan;

/// The longest piece of an over-long line that is redacted at once.
pub(crate) const PIECE: usize = 64 * 1024;

/// The buffer size: a piece plus lookahead.
pub(crate) const WINDOW: usize = PIECE + 4 * 1024;

/// See [`crate::redact_stream`].
pub(crate) fn redact_stream<R: BufRead, W: Write>(mut input: R, output: W) -> io::Result<u64> {
    let mut out = BufWriter::with_capacity(PIECE, output);
    let mut pending: Vec<u8> = Vec::with_capacity(WINDOW);
    // Values still running past what has been written: their bytes are dropped.
    let mut dropping: Vec<Scan> = Vec::new();
    // What precedes `pending` on its line.
    let mut context = Context::default();
    let mut total: u64 = 0;
    loop {
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let old = pending.len();
        let used = if dropping.is_empty() {
            let take = chunk.len().min(WINDOW - old);
            pending.extend_from_slice(&chunk[..take]);
            take
        } else {
            let used = drop_value(&mut dropping, chunk);
            // Dropped bytes belong to a secret value.
            context = context.after(&chunk[..used], &[(0, used)]);
            used
        };
        input.consume(used);
        total += used as u64;
        if !dropping.is_empty() {
            continue;
        }
        if let Some(nl) = memchr::memrchr(b'\n', &pending[old..]) {
            let block = &pending[..old + nl + 1];
            write_redacted(&mut out, block, &rules::find_in(block, context), context)?;
            pending.drain(..old + nl + 1);
            context = Context::default();
        } else if pending.len() == WINDOW {
            context = cut_long_line(&mut out, &mut pending, &mut dropping, context)?;
        }
    }
    if !pending.is_empty() {
        write_redacted(
            &mut out,
            &pending,
            &rules::find_in(&pending, context),
            context,
        )?;
    }
    out.flush()?;
    Ok(total)
}

/// Feeds `chunk` to the values being dropped. Returns how many bytes of `chunk` belong to
/// them; `dropping` is empty afterwards when they all ended inside `chunk`.
fn drop_value(dropping: &mut Vec<Scan>, chunk: &[u8]) -> usize {
    let mut end = 0;
    dropping.retain_mut(|scan| match scan.feed(chunk) {
        Some(n) => {
            end = end.max(n);
            false
        }
        None => true,
    });
    if dropping.is_empty() {
        end
    } else {
        chunk.len()
    }
}

/// Writes a redacted piece of a line that fills the whole buffer and follows `context`,
/// removes it from `pending`, and returns the context of what remains.
fn cut_long_line<W: Write>(
    out: &mut W,
    pending: &mut Vec<u8>,
    dropping: &mut Vec<Scan>,
    context: Context,
) -> io::Result<Context> {
    let findings = rules::find_in(pending, context);
    let spans = spans(&findings);
    let cut = best_cut(pending, &spans, PIECE).or_else(|| {
        // One secret covers every place up to PIECE; cut after it if it ends in the buffer.
        spans
            .first()
            .map(|&(_, end)| end)
            .filter(|&end| end != usize::MAX)
    });
    let Some(cut) = cut else {
        // A value runs past the buffer: hide it to the end (including blanks or dots that
        // would end a value at the end of a text) and drop the rest of it.
        let findings: Vec<Finding> = findings
            .into_iter()
            .map(|f| match f.open {
                Some(_) => Finding {
                    end: pending.len(),
                    ..f
                },
                None => f,
            })
            .collect();
        write_redacted(out, pending, &findings, context)?;
        dropping.extend(findings.iter().filter_map(|f| f.open));
        let next = context.after(pending, &rules::regions(&findings));
        pending.clear();
        return Ok(next);
    };
    let before: Vec<Finding> = findings.iter().copied().filter(|f| f.shape < cut).collect();
    write_redacted(out, &pending[..cut], &before, context)?;
    let next = context.after(&pending[..cut], &rules::regions(&before));
    pending.drain(..cut);
    Ok(next)
}

/// The places a cut must not fall into: for each secret, from its head to its value's end
/// (`usize::MAX` when the value is still open), sorted and merged. A cut at `p` (between
/// bytes `p - 1` and `p`) is allowed unless `start < p < end` for some span.
fn spans(findings: &[Finding]) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = findings
        .iter()
        .map(|f| (f.shape, if f.open.is_some() { usize::MAX } else { f.end }))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start < last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The last allowed cut in `1..=limit` that follows a blank or a comma, else the last allowed
/// cut, else `None`.
fn best_cut(text: &[u8], spans: &[(usize, usize)], limit: usize) -> Option<usize> {
    let mut fallback = None;
    let mut p = limit.min(text.len());
    while p >= 1 {
        // The merged span with the largest start below `p`, if `p` is strictly inside it.
        let i = spans.partition_point(|&(start, _)| start < p);
        if let Some(&(start, end)) = i.checked_sub(1).and_then(|i| spans.get(i))
            && p < end
        {
            p = start;
            continue;
        }
        fallback.get_or_insert(p);
        if text[p - 1].is_ascii_whitespace() || text[p - 1] == b',' {
            return Some(p);
        }
        p -= 1;
    }
    fallback
}

/// Writes `text`, which follows `context`, with the findings' values replaced.
fn write_redacted<W: Write>(
    out: &mut W,
    text: &[u8],
    findings: &[Finding],
    context: Context,
) -> io::Result<()> {
    if findings.is_empty() {
        return out.write_all(text);
    }
    out.write_all(&rules::replace(text, findings, context))
}

#[cfg(test)]
mod tests;
