//! The directory listings of the last walk over the transcripts ([`claude_logs::Listings`]):
//! derived data beside the ledger, so that a run lists again only the directories that
//! changed.
//!
//! Layout (little-endian): magic `AIOSDIRS`, `version u32`, the walk's start (`i64` seconds,
//! `u32` nanoseconds), `count u32`, then per directory: path (`u32` length, bytes), `dev u64`,
//! `ino u64`, change time (`i64`, `u32`), `entries u32`, and per entry: kind (`u8`: 0
//! directory, 1 transcript, 2 symbolic link) and name (`u32` length, bytes); last, a CRC-32 of
//! everything before it. Written whole, in place, under the ledger lock; a file that is
//! missing, damaged or of another version reads as no listings (every directory is listed).

use std::ffi::OsString;
use std::path::Path;

use claude_logs::{EntryKind, Listing, Listings};

use crate::bytes::{put_bytes, seal, unseal};
use crate::format::{path_bytes, path_from};
use crate::store;

const MAGIC: [u8; 8] = *b"AIOSDIRS";
const VERSION: u32 = 1;

/// The listings stored at `path`; none when there is no file or it is not right.
pub(crate) fn read(path: &Path) -> Listings {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| decode(&bytes))
        .unwrap_or_default()
}

/// Stores `listings` at `path`, in place. A write cut short fails the checksum.
pub(crate) fn write(path: &Path, listings: &Listings) -> std::io::Result<()> {
    store::write_in_place(path, &encode(listings))
}

fn encode(listings: &Listings) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + listings.dirs.len() * 256);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&listings.started.0.to_le_bytes());
    out.extend_from_slice(&listings.started.1.to_le_bytes());
    out.extend_from_slice(&(listings.dirs.len() as u32).to_le_bytes());
    for dir in &listings.dirs {
        put_bytes(&mut out, path_bytes(&dir.path));
        out.extend_from_slice(&dir.identity.0.to_le_bytes());
        out.extend_from_slice(&dir.identity.1.to_le_bytes());
        out.extend_from_slice(&dir.changed.0.to_le_bytes());
        out.extend_from_slice(&dir.changed.1.to_le_bytes());
        out.extend_from_slice(&(dir.entries.len() as u32).to_le_bytes());
        for (name, kind) in &dir.entries {
            out.push(match kind {
                EntryKind::Dir => 0,
                EntryKind::File => 1,
                EntryKind::Symlink => 2,
            });
            put_bytes(&mut out, path_bytes(Path::new(name)));
        }
    }
    seal(&mut out);
    out
}

fn decode(bytes: &[u8]) -> Option<Listings> {
    let mut r = unseal(bytes, &MAGIC, VERSION)?;
    let started = (r.i64()?, r.u32()?);
    let count = r.u32()? as usize;
    // Each directory takes at least 40 bytes: a damaged count cannot reserve much.
    let mut dirs = Vec::with_capacity(count.min(bytes.len() / 40));
    for _ in 0..count {
        let path = path_from(r.bytes()?)?;
        let identity = (r.u64()?, r.u64()?);
        let changed = (r.i64()?, r.u32()?);
        let n = r.u32()? as usize;
        let mut entries = Vec::with_capacity(n.min(bytes.len() / 5));
        for _ in 0..n {
            let kind = match r.u8()? {
                0 => EntryKind::Dir,
                1 => EntryKind::File,
                2 => EntryKind::Symlink,
                _ => return None,
            };
            let name: OsString = path_from(r.bytes()?)?.into_os_string();
            entries.push((name, kind));
        }
        dirs.push(Listing {
            path,
            identity,
            changed,
            entries,
        });
    }
    // Sorted by path, as a walk gives them and a lookup needs them.
    (r.is_empty() && dirs.is_sorted_by(|a, b| a.path < b.path))
        .then_some(Listings { started, dirs })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn sample() -> Listings {
        Listings {
            started: (1_770_000_000, 123),
            dirs: vec![
                Listing {
                    path: PathBuf::from("/c/projects"),
                    identity: (2049, 77),
                    changed: (1_760_000_000, 5),
                    entries: vec![
                        (OsString::from("-home-dev-a"), EntryKind::Dir),
                        (OsString::from("link"), EntryKind::Symlink),
                    ],
                },
                Listing {
                    path: PathBuf::from("/c/projects/-home-dev-a"),
                    identity: (2049, 78),
                    changed: (1_760_000_001, 0),
                    entries: vec![(OsString::from("s.jsonl"), EntryKind::File)],
                },
            ],
        }
    }

    #[test]
    fn listings_round_trip_and_damage_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dirs");
        assert_eq!(read(&path), Listings::default());
        write(&path, &sample()).unwrap();
        assert_eq!(read(&path), sample());
        let bytes = std::fs::read(&path).unwrap();
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert_eq!(decode(&damaged), None, "byte {at}");
        }
        for len in 0..bytes.len() {
            assert_eq!(decode(&bytes[..len]), None, "cut at {len}");
        }
        // A shorter file written over a longer one reads as itself.
        write(&path, &Listings::default()).unwrap();
        assert_eq!(read(&path), Listings::default());
    }

    /// A run reuses the stored listing of a directory that did not change (shown by a
    /// listing doctored to leave a transcript out), and ignores the listings once the ledger
    /// is gone.
    #[test]
    fn runs_use_the_stored_listings_while_the_ledger_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("claude");
        let state = dir.path().join("state");
        let project = root.join("projects/p");
        std::fs::create_dir_all(&project).unwrap();
        for (name, id) in [("a.jsonl", "msg_a"), ("b.jsonl", "msg_b")] {
            let line = format!(
                r#"{{"type":"assistant","timestamp":"2026-11-28T09:00:00.000Z","sessionId":"s","requestId":"req_{id}","message":{{"id":"{id}","model":"claude-opus-4-5","usage":{{"input_tokens":1,"output_tokens":2}}}}}}"#
            );
            std::fs::write(project.join(name), format!("{line}\n")).unwrap();
        }
        let roots = [root.clone()];
        let run = || {
            crate::scan_incremental(&state, &roots, &claude_logs::ScanOptions::default()).unwrap()
        };
        let first = run();
        assert_eq!(first.discovery.files.len(), 2);
        let loc = crate::store::Location::new(&state, &roots);
        let mut listings = read(&loc.dirs);
        assert_eq!(listings.dirs.len(), 2, "projects and projects/p");

        listings.started.0 += 1800;
        let p = listings
            .dirs
            .iter_mut()
            .find(|l| l.path == project)
            .unwrap();
        p.entries.retain(|(name, _)| name != "b.jsonl");
        write(&loc.dirs, &listings).unwrap();
        let second = run();
        assert_eq!(second.discovery.files, [project.join("a.jsonl")]);
        // The transcript no longer seen keeps counting, as history.
        assert_eq!(second.events.len(), 2);

        std::fs::remove_file(&loc.ledger).unwrap();
        write(&loc.dirs, &listings).unwrap();
        let third = run();
        assert_eq!(third.discovery.files.len(), 2);
    }
}
