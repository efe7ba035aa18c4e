//! Authoritative readings kept beside the ledger, for calibration.
//!
//! Every valid reading that was fetched (not reused) is stored with the local usage of the
//! same window at the same moment, one [`StoredReading`] per window. They live in
//! `readings-<key>.bin` next to `ledger-<key>.bin` (same key: the same roots).
//!
//! Format (version 1, little-endian): the magic `AIOSREAD`, `version: u32`; then records of
//! `len: u32`, a payload of `len` bytes, `crc32: u32` of `len` and the payload. The payload:
//! `at_secs i64, at_nanos u32, pct f64, reset_flag u8, reset_secs i64, reset_nanos u32,
//! cost_opus f64, cost_other f64, tokens 4 x u64, messages u64, window_len u8`, then the window
//! id bytes. Loading stops at the first short or corrupt record (a torn append after a crash);
//! a file with another magic or version is ignored and replaced at the next append.
//!
//! Bounded: when the file holds more than [`MAX_READINGS`] readings, it is rewritten (temp file
//! and rename) with the newest [`KEEP_READINGS`]. No credential and no response body is ever
//! stored: only the window id, the percentage, the reset time and local counts.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::bytes::Reader;
use crate::crc::crc32;
use crate::store::{Location, create_private_dir};

const MAGIC: &[u8; 8] = b"AIOSREAD";
const VERSION: u32 = 1;
/// Past this many stored readings the file is compacted.
pub const MAX_READINGS: usize = 2000;
/// Readings kept by a compaction (the newest).
pub const KEEP_READINGS: usize = 1000;
/// Longest window id stored.
const MAX_WINDOW_LEN: usize = 64;

/// One window of one authoritative reading, with the local usage it measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
    /// When the reading was fetched.
    pub at: DateTime<Utc>,
    /// The window id (`five_hour`, `seven_day`, ...).
    pub window: String,
    /// The server's percentage.
    pub pct: f64,
    /// The server's reset time, when given.
    pub resets_at: Option<DateTime<Utc>>,
    /// List-price cost of local Opus responses in the window.
    pub cost_opus: f64,
    /// List-price cost of the other local responses in the window.
    pub cost_other: f64,
    /// Local input, output, cache write and cache read tokens in the window.
    pub tokens: [u64; 4],
    /// Local responses in the window.
    pub messages: u64,
}

/// The readings file for `roots` in `state_dir`.
pub fn readings_path(state_dir: &Path, roots: &[PathBuf]) -> PathBuf {
    let ledger = Location::new(state_dir, roots).ledger;
    let name = ledger
        .file_name()
        .map(|n| n.to_string_lossy().replacen("ledger-", "readings-", 1))
        .unwrap_or_else(|| "readings.bin".to_owned());
    ledger.with_file_name(name)
}

/// The stored readings for `roots`, oldest first; empty when there are none or the file
/// cannot be read (a warning is logged).
pub fn load_readings(state_dir: &Path, roots: &[PathBuf]) -> Vec<StoredReading> {
    let path = readings_path(state_dir, roots);
    match std::fs::read(&path) {
        Ok(bytes) => decode(&bytes).0,
        Err(err) if err.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(err) => {
            tracing::warn!(path = %path.display(), error = %err, "cannot read the stored readings");
            Vec::new()
        }
    }
}

/// Appends `readings` for `roots`, creating the file (owner-only) when missing, and compacts
/// it when it has grown past [`MAX_READINGS`].
pub fn append_readings(
    state_dir: &Path,
    roots: &[PathBuf],
    readings: &[StoredReading],
) -> io::Result<()> {
    if readings.is_empty() {
        return Ok(());
    }
    create_private_dir(state_dir)?;
    let path = readings_path(state_dir, roots);
    let existing = match std::fs::read(&path) {
        Ok(bytes) => Some(decode(&bytes)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err),
    };
    match existing {
        Some((stored, valid_len, true)) if stored.len() + readings.len() <= MAX_READINGS => {
            // Cut a torn tail, then append.
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(valid_len as u64)?;
            drop(file);
            let mut file = OpenOptions::new().append(true).open(&path)?;
            let mut bytes = Vec::new();
            for reading in readings {
                encode(reading, &mut bytes);
            }
            file.write_all(&bytes)?;
            file.sync_data()
        }
        other => {
            let mut all = other.map(|(stored, _, _)| stored).unwrap_or_default();
            all.extend(readings.iter().cloned());
            if all.len() > MAX_READINGS {
                all.drain(..all.len() - KEEP_READINGS);
            }
            rewrite(&path, &all)
        }
    }
}

fn rewrite(path: &Path, readings: &[StoredReading]) -> io::Result<()> {
    let mut bytes = Vec::from(&MAGIC[..]);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    for reading in readings {
        encode(reading, &mut bytes);
    }
    let temp = path.with_extension("tmp");
    {
        let mut file = private_file(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, path)
}

#[cfg(unix)]
fn private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> io::Result<File> {
    File::create(path)
}

fn encode(r: &StoredReading, out: &mut Vec<u8>) {
    let window = &r.window.as_bytes()[..r.window.len().min(MAX_WINDOW_LEN)];
    let mut p = Vec::with_capacity(100 + window.len());
    p.extend_from_slice(&r.at.timestamp().to_le_bytes());
    p.extend_from_slice(&r.at.timestamp_subsec_nanos().to_le_bytes());
    p.extend_from_slice(&r.pct.to_le_bytes());
    let reset = r.resets_at;
    p.push(u8::from(reset.is_some()));
    p.extend_from_slice(&reset.map_or(0, |t| t.timestamp()).to_le_bytes());
    p.extend_from_slice(
        &reset
            .map_or(0, |t| t.timestamp_subsec_nanos())
            .to_le_bytes(),
    );
    p.extend_from_slice(&r.cost_opus.to_le_bytes());
    p.extend_from_slice(&r.cost_other.to_le_bytes());
    for t in r.tokens {
        p.extend_from_slice(&t.to_le_bytes());
    }
    p.extend_from_slice(&r.messages.to_le_bytes());
    p.push(window.len() as u8);
    p.extend_from_slice(window);
    let len = (p.len() as u32).to_le_bytes();
    let mut checked = Vec::with_capacity(4 + p.len());
    checked.extend_from_slice(&len);
    checked.extend_from_slice(&p);
    let crc = crc32(&checked);
    out.extend_from_slice(&checked);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The readings, the length of the valid prefix, and whether the header was valid.
fn decode(bytes: &[u8]) -> (Vec<StoredReading>, usize, bool) {
    let header = MAGIC.len() + 4;
    if bytes.len() < header
        || &bytes[..MAGIC.len()] != MAGIC
        || bytes[MAGIC.len()..header] != VERSION.to_le_bytes()
    {
        return (Vec::new(), 0, false);
    }
    let mut readings = Vec::new();
    let mut pos = header;
    while let Some((reading, next)) = record(bytes, pos) {
        readings.push(reading);
        pos = next;
    }
    (readings, pos, true)
}

fn record(bytes: &[u8], pos: usize) -> Option<(StoredReading, usize)> {
    let len = u32::from_le_bytes(bytes.get(pos..pos + 4)?.try_into().ok()?) as usize;
    let end = pos.checked_add(4)?.checked_add(len)?;
    let crc = u32::from_le_bytes(bytes.get(end..end + 4)?.try_into().ok()?);
    if crc32(&bytes[pos..end]) != crc {
        return None;
    }
    let mut r = Reader(&bytes[pos + 4..end]);
    let at = DateTime::from_timestamp(r.i64()?, r.u32()?)?;
    let pct = r.f64()?;
    let has_reset = r.u8()? == 1;
    let reset = DateTime::from_timestamp(r.i64()?, r.u32()?);
    let cost_opus = r.f64()?;
    let cost_other = r.f64()?;
    let tokens = [r.u64()?, r.u64()?, r.u64()?, r.u64()?];
    let messages = r.u64()?;
    let window_len = r.u8()? as usize;
    let window = std::str::from_utf8(r.take(window_len)?).ok()?.to_owned();
    let reading = StoredReading {
        at,
        window,
        pct,
        resets_at: if has_reset { Some(reset?) } else { None },
        cost_opus,
        cost_other,
        tokens,
        messages,
    };
    Some((reading, end + 4))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn reading(i: i64) -> StoredReading {
        StoredReading {
            at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::hours(i),
            window: if i % 2 == 0 { "seven_day" } else { "five_hour" }.to_owned(),
            pct: 12.5 + i as f64,
            resets_at: (i % 3 != 0).then(|| Utc.with_ymd_and_hms(2026, 11, 8, 14, 0, 0).unwrap()),
            cost_opus: 1.25,
            cost_other: 3.5 * i as f64,
            tokens: [1, 2, 3, u64::MAX],
            messages: i as u64,
        }
    }

    #[test]
    fn round_trip_and_append() {
        let dir = tempfile::tempdir().unwrap();
        let roots = [PathBuf::from("/r")];
        assert!(load_readings(dir.path(), &roots).is_empty());
        let first: Vec<StoredReading> = (0..3).map(reading).collect();
        append_readings(dir.path(), &roots, &first).unwrap();
        let second: Vec<StoredReading> = (3..5).map(reading).collect();
        append_readings(dir.path(), &roots, &second).unwrap();
        let all: Vec<StoredReading> = (0..5).map(reading).collect();
        assert_eq!(load_readings(dir.path(), &roots), all);
        // Other roots have their own file.
        assert!(load_readings(dir.path(), &[PathBuf::from("/other")]).is_empty());
        let name = readings_path(dir.path(), &roots);
        assert!(
            name.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("readings-")
        );
    }

    #[test]
    fn a_torn_tail_is_cut_at_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let roots = [PathBuf::from("/r")];
        let all: Vec<StoredReading> = (0..4).map(reading).collect();
        append_readings(dir.path(), &roots, &all).unwrap();
        let path = readings_path(dir.path(), &roots);
        let bytes = std::fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let loaded = load_readings(dir.path(), &roots);
            assert!(loaded.len() <= all.len());
            assert_eq!(loaded[..], all[..loaded.len()], "cut at {cut}");
            // The next append still works and keeps what was valid.
            append_readings(dir.path(), &roots, &[reading(9)]).unwrap();
            let after = load_readings(dir.path(), &roots);
            assert_eq!(after.last(), Some(&reading(9)), "cut at {cut}");
            assert_eq!(after.len(), loaded.len() + 1, "cut at {cut}");
        }
    }

    #[test]
    fn the_file_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let roots = [PathBuf::from("/r")];
        let many: Vec<StoredReading> = (0..MAX_READINGS as i64 + 5).map(reading).collect();
        append_readings(dir.path(), &roots, &many).unwrap();
        let loaded = load_readings(dir.path(), &roots);
        assert_eq!(loaded.len(), KEEP_READINGS);
        assert_eq!(loaded.last(), many.last());
    }

    #[test]
    fn garbage_is_ignored_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let roots = [PathBuf::from("/r")];
        let path = readings_path(dir.path(), &roots);
        std::fs::write(&path, b"not a readings file at all").unwrap();
        assert!(load_readings(dir.path(), &roots).is_empty());
        append_readings(dir.path(), &roots, &[reading(1)]).unwrap();
        assert_eq!(load_readings(dir.path(), &roots), vec![reading(1)]);
    }
}
