//! The ledger on disk: where it lives, the lock, loading, appending and rewriting.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use claude_logs::fnv1a_128;

use crate::checkpoint;
use crate::format::{self, HeaderProblem, Replayed, State, VERSION};
use crate::{LedgerError, RebuildReason};

/// The files of one ledger.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    pub(crate) ledger: PathBuf,
    pub(crate) lock: PathBuf,
    pub(crate) temp: PathBuf,
    pub(crate) aside: PathBuf,
    /// The cache of the kept records.
    pub(crate) kept: PathBuf,
    /// The directory listings of the last walk.
    pub(crate) dirs: PathBuf,
    /// The state of the ledger as the last run left it.
    pub(crate) checkpoint: PathBuf,
    /// The normalized roots, as written in the header.
    pub(crate) roots: Vec<u8>,
}

impl Location {
    pub(crate) fn new(state_dir: &Path, roots: &[PathBuf]) -> Self {
        let roots = roots_description(roots);
        let key = fnv1a_128(&roots) as u64;
        let name = |ext: &str| state_dir.join(format!("ledger-{key:016x}.{ext}"));
        Self {
            ledger: name("bin"),
            lock: name("lock"),
            temp: name("tmp"),
            aside: name("bad"),
            kept: name("kept"),
            dirs: name("dirs"),
            checkpoint: name("ckpt"),
            roots,
        }
    }
}

/// The roots as absolute paths without `.` components or trailing separators, sorted, without
/// repeats, separated by NUL bytes.
fn roots_description(roots: &[PathBuf]) -> Vec<u8> {
    let mut list: Vec<PathBuf> = roots
        .iter()
        .map(|root| {
            let absolute = std::path::absolute(root).unwrap_or_else(|_| root.clone());
            absolute
                .components()
                .filter(|c| !matches!(c, Component::CurDir))
                .collect()
        })
        .collect();
    list.sort();
    list.dedup();
    let mut out = Vec::new();
    for (i, root) in list.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(root.to_string_lossy().as_bytes());
    }
    out
}

/// Creates `dir` (and its parents) readable by the owner only.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Writes `bytes` as the whole content of the small derived file at `path` (owner-only), in
/// place: see [`write_in_place_at`].
pub(crate) fn write_in_place(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_in_place_at(path, bytes, bytes.len() as u64, &[])
}

/// Writes the derived file at `path` (owner-only) in place: `head` at its start and `tail` at
/// `at`, where the file then ends; the bytes between are left as they are. Not to a temp file
/// renamed over it: the ledger lock keeps other runs out, a write cut short fails the file's
/// checksum, and overwriting blocks the file already has spares the file system flushing them
/// with the next `fsync` of another file. On an error the file is removed.
pub(crate) fn write_in_place_at(path: &Path, head: &[u8], at: u64, tail: &[u8]) -> io::Result<()> {
    write_in_place_with(path, |file| {
        file.write_all(head)?;
        if !tail.is_empty() {
            file.seek(SeekFrom::Start(at))?;
            file.write_all(tail)?;
        }
        Ok(at + tail.len() as u64)
    })
}

/// Writes the derived file at `path` (owner-only) in place as [`write_in_place_at`] does, by
/// `write`, which writes what it will into the open file and returns where the file ends.
pub(crate) fn write_in_place_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<u64>,
) -> io::Result<()> {
    let result = (|| {
        let mut file = private_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = write(&mut file)?;
        file.set_len(len)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// An exclusive lock on the ledger, held until dropped.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// Takes the ledger's lock, waiting up to `timeout` for another run to finish.
pub(crate) fn lock(path: &Path, timeout: Duration) -> Result<Lock, LedgerError> {
    let error = |source| LedgerError::Lock {
        path: path.to_path_buf(),
        source,
    };
    let file = private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(error)?;
    let started = Instant::now();
    let mut logged = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                let waited = started.elapsed();
                if waited >= timeout {
                    return Err(LedgerError::Locked {
                        path: path.to_path_buf(),
                        waited,
                    });
                }
                if !logged {
                    tracing::info!(path = %path.display(), "another run holds the ledger; waiting");
                    logged = true;
                }
                std::thread::sleep(Duration::from_millis(50).min(timeout - waited));
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(error(source)),
        }
    }
}

/// Where this run's changes go.
#[derive(Debug)]
pub(crate) enum Sink {
    /// Appended to the open ledger, whose valid content ends at `len`.
    Append { file: File, len: u64 },
    /// Written as a new ledger (none, or a rebuilt one).
    Fresh,
    /// Not written: the ledger belongs to a newer version of this program.
    Nowhere,
}

/// A loaded ledger: its state, where changes go, and why it was rebuilt.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) state: State,
    pub(crate) sink: Sink,
    pub(crate) rebuilt: Option<RebuildReason>,
    /// The state came from the checkpoint (light), not from a replay of the ledger.
    pub(crate) from_checkpoint: bool,
}

/// Loads the ledger at `loc`. Never fails: a ledger that cannot be used is moved aside and
/// rebuilt (with a warning); a torn or damaged tail is cut off. `verified`: the id of a ledger
/// and a length up to which an earlier run checked it (its records are then not checksummed
/// again).
pub(crate) fn load(loc: &Location, verified: Option<(u64, u64)>) -> Loaded {
    let fresh = |rebuilt| Loaded {
        state: State::default(),
        sink: Sink::Fresh,
        rebuilt,
        from_checkpoint: false,
    };
    let mut file = match OpenOptions::new().read(true).write(true).open(&loc.ledger) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return fresh(None),
        Err(e) => return rebuild(loc, RebuildReason::Unreadable(e.to_string())),
    };
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => return rebuild(loc, RebuildReason::Unreadable(e.to_string())),
    };
    // The id in the header decides whether the caller's "checked up to" applies.
    let mut head = [0u8; 20];
    let id = match file.read_exact(&mut head) {
        Ok(()) if head[..8] == format::MAGIC => Some(u64::from_le_bytes([
            head[12], head[13], head[14], head[15], head[16], head[17], head[18], head[19],
        ])),
        _ => None,
    };
    // A checkpoint of exactly this ledger (its id, format and length) stands for a replay.
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if let Some(id) = id.filter(|_| version == VERSION)
        && let Some(mut state) = checkpoint::read(&loc.checkpoint, id, len)
    {
        state.source = file.try_clone().ok();
        return Loaded {
            state,
            sink: Sink::Append { file, len },
            rebuilt: None,
            from_checkpoint: true,
        };
    }
    let trusted = match (verified, id) {
        (Some((verified_id, upto)), Some(id)) if verified_id == id && upto <= len => upto,
        _ => 0,
    };
    if let Err(e) = file.seek(SeekFrom::Start(0)) {
        return rebuild(loc, RebuildReason::Unreadable(e.to_string()));
    }
    let Replayed {
        mut state,
        valid_len,
        damaged,
    } = match format::replay(&file, len, &loc.roots, trusted) {
        Ok(replayed) => replayed,
        Err(HeaderProblem::Damaged) => return rebuild(loc, RebuildReason::Damaged),
        Err(HeaderProblem::Roots) => return rebuild(loc, RebuildReason::OtherRoots),
        Err(HeaderProblem::Version(v)) if v > VERSION => {
            tracing::warn!(
                path = %loc.ledger.display(),
                version = v,
                "the usage ledger was written by a newer version of this program; it is left \
                 as it is and this run reads every transcript"
            );
            return Loaded {
                state: State::default(),
                sink: Sink::Nowhere,
                rebuilt: None,
                from_checkpoint: false,
            };
        }
        Err(HeaderProblem::Version(v)) => return rebuild(loc, RebuildReason::OldVersion(v)),
    };
    let valid_len = valid_len as u64;
    if valid_len < len {
        let dropped = len - valid_len;
        if damaged {
            tracing::warn!(
                path = %loc.ledger.display(),
                dropped_bytes = dropped,
                "the usage ledger ends with a damaged or unfinished record; it is cut off there \
                 and the transcripts it covered are read again"
            );
        } else {
            tracing::info!(
                path = %loc.ledger.display(),
                dropped_bytes = dropped,
                "dropping the unfinished last run from the usage ledger"
            );
        }
        // A checkpoint stands for a ledger by its id and length: one the ledger once had
        // must not match again should the cut ledger grow back to that length.
        checkpoint::remove(&loc.checkpoint);
        if let Err(e) = file.set_len(valid_len).and_then(|()| file.sync_data()) {
            return rebuild(loc, RebuildReason::Unreadable(e.to_string()));
        }
    }
    state.source = file.try_clone().ok();
    Loaded {
        state,
        sink: Sink::Append {
            file,
            len: valid_len,
        },
        rebuilt: None,
        from_checkpoint: false,
    }
}

fn rebuild(loc: &Location, reason: RebuildReason) -> Loaded {
    tracing::warn!(
        path = %loc.ledger.display(),
        aside = %loc.aside.display(),
        reason = %reason,
        "the usage ledger cannot be used ({reason}); it is moved aside and rebuilt from the \
         transcripts (history of deleted transcripts is lost)"
    );
    if let Err(e) = std::fs::rename(&loc.ledger, &loc.aside) {
        tracing::debug!(error = %e, "cannot move the old ledger aside");
    }
    Loaded {
        state: State::default(),
        sink: Sink::Fresh,
        rebuilt: Some(reason),
        from_checkpoint: false,
    }
}

/// Appends `bytes` at `len`, without waiting for the disk.
///
/// Like a write-ahead log with SQLite's `synchronous=NORMAL`: every record is checksummed and
/// a transaction counts only with its commit record, so a transaction cut short by a power
/// loss is detected and dropped on the next load, and that run reads the same transcript
/// bytes again: the totals are the same. What is given up is only that last transaction's
/// durability (which matters only if a transcript it covered were deleted before the next
/// run). A killed process loses nothing: its writes are in the page cache. Compaction (a new
/// ledger renamed over the old one) is flushed before the rename, since a lost rename target
/// would lose the whole history.
pub(crate) fn append(file: &mut File, len: u64, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(len))?;
    file.write_all(bytes)
}

/// A new temp file (`temp`, a [`Location`]'s) for a ledger that is to replace the current one
/// (see [`commit_temp`]).
pub(crate) fn create_temp(temp: &Path) -> io::Result<File> {
    private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(temp)
}

/// A new ledger file being written whole, whose bytes the disk starts taking before the last
/// ones are written: each time [`FLUSH_AHEAD`] more bytes are written, a thread of its own asks
/// for them to be flushed (`sync_data` on a second handle) while the writing goes on. The
/// flush at the end ([`commit_temp`]) then waits for the rest only: about 2 ms of disk per
/// MB here, 14 ms for the 6.4 MB ledger of 1 GiB of transcripts, which otherwise came all after
/// the last byte. An early flush that fails fails the commit (its error is reported once, to
/// that flush, not again to the last one).
pub(crate) struct FlushAhead {
    file: File,
    unflushed: u64,
    flushing: Option<std::thread::JoinHandle<io::Result<()>>>,
}

/// How many bytes written make [`FlushAhead`] start a flush.
const FLUSH_AHEAD: u64 = 2 << 20;

impl FlushAhead {
    pub(crate) fn new(file: File) -> Self {
        Self {
            file,
            unflushed: 0,
            flushing: None,
        }
    }

    /// Waits for the early flush under way (its error, if it failed), then flushes the file
    /// whole.
    fn sync_all(&mut self) -> io::Result<()> {
        self.wait()?;
        self.file.sync_all()
    }

    fn wait(&mut self) -> io::Result<()> {
        match self.flushing.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the early flush of the ledger panicked")),
        }
    }
}

impl Write for FlushAhead {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A finished flush's error is answered before anything more is written.
        if self.flushing.as_ref().is_some_and(|f| f.is_finished()) {
            self.wait()?;
        }
        let n = self.file.write(buf)?;
        self.unflushed += n as u64;
        // One early flush at a time. It is only a head start: when it cannot be started, the
        // last flush does it all.
        if self.unflushed >= FLUSH_AHEAD
            && self.flushing.is_none()
            && let Ok(file) = self.file.try_clone()
            && let Ok(flushing) = std::thread::Builder::new().spawn(move || file.sync_data())
        {
            self.flushing = Some(flushing);
            self.unflushed = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Dropped before its commit (a write that failed), it still waits for the flush under way, so
/// that no write outlives the run's lock on the ledger.
impl Drop for FlushAhead {
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

/// Puts the temp file `file`, at `temp` and written whole, in place of the ledger (`ledger`):
/// flushed, renamed over the ledger, and the directory flushed, so a crash leaves either the old
/// or the new ledger. On failure the temp file is removed. Takes paths, not a `Location`, to
/// run on a thread of its own.
pub(crate) fn commit_temp(mut file: FlushAhead, temp: &Path, ledger: &Path) -> io::Result<()> {
    let result = (|| {
        file.sync_all()?;
        drop(file);
        std::fs::rename(temp, ledger)?;
        if let Some(dir) = ledger.parent() {
            // Makes the rename durable; not every platform can open a directory.
            if let Ok(dir) = File::open(dir) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        remove_temp(temp);
    }
    result
}

/// Removes a temp file left by a failed write.
pub(crate) fn remove_temp(temp: &Path) {
    let _ = std::fs::remove_file(temp);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ledger written through several early flushes is committed with every byte, in order.
    #[test]
    fn a_ledger_flushed_ahead_is_committed_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, ledger) = (dir.path().join("l.tmp"), dir.path().join("l.bin"));
        let bytes: Vec<u8> = (0..(5 * FLUSH_AHEAD + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut file = FlushAhead::new(create_temp(&temp).unwrap());
        // Each early flush starts the count of unflushed bytes again. Each is let finish
        // before the next write (one runs at a time), so that every 2 MiB starts one.
        let (mut early, mut unflushed) = (0, 0);
        for piece in bytes.chunks(100_000) {
            file.write_all(piece).unwrap();
            early += usize::from(file.unflushed < unflushed);
            unflushed = file.unflushed;
            while file.flushing.as_ref().is_some_and(|f| !f.is_finished()) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        assert_eq!(early, 5);
        commit_temp(file, &temp, &ledger).unwrap();
        assert_eq!(std::fs::read(&ledger).unwrap(), bytes);
        assert!(!temp.exists());
    }

    #[test]
    fn the_key_ignores_order_repeats_and_spelling() {
        let a = Location::new(
            Path::new("/s"),
            &[PathBuf::from("/x/b/"), PathBuf::from("/x/./a")],
        );
        let b = Location::new(
            Path::new("/s"),
            &[
                PathBuf::from("/x/a"),
                PathBuf::from("/x/b"),
                PathBuf::from("/x/a"),
            ],
        );
        let c = Location::new(Path::new("/s"), &[PathBuf::from("/x/a")]);
        assert_eq!(a.ledger, b.ledger);
        assert_ne!(a.ledger, c.ledger);
        assert_eq!(a.roots, b"/x/a\0/x/b");
        assert!(a.ledger.starts_with("/s"));
    }

    #[test]
    fn a_second_lock_waits_then_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.lock");
        let held = lock(&path, Duration::from_millis(10)).unwrap();
        let err = lock(&path, Duration::from_millis(120)).unwrap_err();
        assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
        drop(held);
        assert!(lock(&path, Duration::from_millis(10)).is_ok());
    }
}
