//! One incremental scan: find what changed, read only that, record it, count everything.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};

use claude_logs::{
    Dedup, FileMeta, FileReader, FileStats, Interner, LineSource, Listings, Record, ScanOptions,
    ScanStats, UsageEvent, discover_each,
};

use crate::cache::{self, Key};
use crate::checkpoint;
use crate::dirs;
use crate::format::{
    FINGERPRINT_BYTES, FileState, Identity, Op, State, Writer, fingerprint, fingerprint_matches,
    write_snapshot,
};
use crate::store::{self, Location, Sink};
use crate::{IncrementalScan, LedgerError, LedgerOptions, LedgerStats};

/// Identity, size and modification time of an open or listed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    identity: Identity,
    size: u64,
    mtime: (i64, u32),
}

impl Stat {
    fn of(m: &FileMeta) -> Self {
        Self {
            identity: m
                .identity
                .map_or_else(Identity::default, |(dev, ino)| Identity { dev, ino }),
            size: m.len,
            mtime: m.modified,
        }
    }
}

/// A file to open and read (in part).
#[derive(Debug, Clone)]
struct Job {
    path: PathBuf,
    /// The ledger entry this file may continue: the one at the same path, or one with the
    /// same identity whose path is gone (a rename).
    prior: Option<(u32, FileState)>,
    same_path: bool,
}

/// What reading one file gave.
#[derive(Debug)]
struct Done {
    /// The prior entry was continued (its records stay); otherwise the file was read from
    /// its start.
    resumed: bool,
    state: FileState,
    records: Vec<Record>,
    bytes_read: u64,
}

pub(crate) fn run(
    state_dir: &Path,
    roots: &[PathBuf],
    options: &ScanOptions,
    ledger_options: &LedgerOptions,
) -> Result<(IncrementalScan, Finishing), LedgerError> {
    let loc = Location::new(state_dir, roots);
    store::create_private_dir(state_dir).map_err(|source| LedgerError::StateDir {
        path: state_dir.to_path_buf(),
        source,
    })?;
    let lock = store::lock(&loc.lock, ledger_options.lock_timeout)?;
    // Listing the transcripts and loading the ledger (with the kept records, on the bet that
    // they will serve) do not depend on each other: they run on two threads.
    // The last walk's directory listings serve only beside the ledger they came with:
    // removing the ledger (or the state directory) makes the next run list every directory.
    let ledger_exists = loc.ledger.exists();
    // Without a ledger (a first run) every file is new and read whole: the readers start on
    // the files as the listing finds them, instead of after it.
    let (found, stream) = if ledger_exists {
        (None, None)
    } else {
        let (sender, receiver) = mpsc::channel::<PathBuf>();
        (Some(sender), Some(receiver))
    };
    let ((discovery, metadata, listings, previous_listings), loaded, streamed) =
        std::thread::scope(|scope| {
            let loc = &loc;
            let walker = scope.spawn(claude_logs::beside(move || {
                let previous = if ledger_exists {
                    dirs::read(&loc.dirs)
                } else {
                    Listings::default()
                };
                let (discovery, metadata, listings) = discover_each(roots, &previous, |path, _| {
                    if let Some(found) = &found {
                        // No reader takes them when a reader failed: the result still lists
                        // every file.
                        let _ = found.send(path.to_path_buf());
                    }
                });
                tracing::debug!(files = discovery.files.len(), "transcripts listed");
                (discovery, metadata, listings, previous)
            }));
            let loaded = load(loc);
            tracing::debug!(
                kept = loaded
                    .kept
                    .as_ref()
                    .map_or(0, |(_, kept)| kept.events.len()),
                "usage ledger loaded"
            );
            let streamed = stream
                .filter(|_| loaded.loaded.state.files.is_empty())
                .map(|receiver| read_all(Source::Found(Mutex::new((receiver, 0))), options, true));
            let listed = walker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (listed, loaded, streamed)
        });
    let LoadedWithCache {
        loaded:
            store::Loaded {
                mut state,
                sink,
                rebuilt,
                from_checkpoint,
            },
        loaded_key,
        cache_matches,
        mut kept,
    } = loaded;

    // Plan: which files are unchanged, which must be read, which entries were displaced.
    let mut present: Vec<u32> = Vec::new();
    let mut jobs: Vec<Job> = Vec::new();
    let mut unreadable = 0u64;
    let mut claimed: HashSet<u32> = HashSet::new();
    let mut displaced: Vec<u32> = Vec::new();
    {
        let mut by_path = ByPath::new(&state);
        let mut second: Vec<(&PathBuf, Stat)> = Vec::new();
        for (path, meta) in discovery.files.iter().zip(&metadata) {
            let known = by_path.get(path);
            let at_path = known.map(|(id, _)| id);
            let stat = Stat::of(meta);
            match known {
                Some((id, s)) if s.identity == stat.identity => {
                    claimed.insert(id);
                    if s.size == stat.size && s.mtime == stat.mtime {
                        present.push(id);
                    } else {
                        jobs.push(Job {
                            path: path.clone(),
                            prior: Some((id, s.clone())),
                            same_path: true,
                        });
                    }
                }
                _ => {
                    if let Some(id) = at_path {
                        displaced.push(id);
                    }
                    second.push((path, stat));
                }
            }
        }
        let mut by_identity: HashMap<Identity, u32> = HashMap::new();
        for (&id, entry) in &state.files {
            if let Some(s) = &entry.state
                && !claimed.contains(&id)
                && s.identity != Identity::default()
            {
                by_identity.insert(s.identity, id);
            }
        }
        for (path, stat) in second {
            let prior = by_identity
                .remove(&stat.identity)
                .and_then(|id| Some((id, state.files[&id].state.clone()?)));
            if let Some((id, _)) = &prior {
                claimed.insert(*id);
            }
            jobs.push(Job {
                path: path.clone(),
                prior,
                same_path: false,
            });
        }
    }

    // With an empty ledger (a first run, or a rebuild) the kept records are those of this
    // run's reads alone: the workers deduplicate them as they go, beside the reading.
    let cold = state.files.is_empty();
    let (results, read_kept) = match streamed {
        // Read as found: the same files, in the same order (an empty ledger plans every
        // file found as a new job).
        Some(streamed) => {
            debug_assert!(jobs.iter().all(|j| j.prior.is_none()));
            debug_assert_eq!(streamed.0.len(), jobs.len());
            streamed
        }
        None => read_all(Source::Planned(&jobs, AtomicUsize::new(0)), options, cold),
    };
    // The readers' index put in order, and its events copied for the caller, on a thread of its own,
    // beside the recording of what was read and the ledger's encoding below (both
    // single-threaded).
    let read_kept = read_kept
        .map(|kept| std::thread::spawn(claude_logs::beside(move || sorted_with_events(kept))));
    tracing::debug!(files = jobs.len(), "new transcript bytes read");

    // Record: one transaction with everything that changed.
    let mut w = Writer::new();
    let mut stats = LedgerStats {
        path: loc.ledger.clone(),
        rebuilt,
        files_unchanged: present.len() as u64,
        ..LedgerStats::default()
    };
    let mut resumed_ids: HashSet<u32> = HashSet::new();
    // Records added by this run, and whether any were removed.
    let mut added: Vec<Record> = Vec::new();
    let mut removed = false;
    let mut fresh_events = false;
    for (job, result) in jobs.iter().zip(results) {
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(path = %job.path.display(), error = %e, "skipping an unreadable transcript");
                unreadable += 1;
                continue;
            }
        };
        stats.bytes_read += done.bytes_read;
        if done.bytes_read > 0 {
            stats.files_read += 1;
        }
        let Done {
            resumed,
            state: file,
            mut records,
            ..
        } = done;
        let (id, before) = match &job.prior {
            Some((id, before)) if resumed => {
                resumed_ids.insert(*id);
                (*id, Some(before))
            }
            prior => {
                if let Some((old, _)) = prior.as_ref().filter(|_| job.same_path) {
                    w.forget(*old);
                    state.apply(Op::Forget(*old));
                    removed = true;
                }
                (state.allocate(), None)
            }
        };
        if !records.is_empty() {
            if matches!(sink, Sink::Fresh) {
                // A fresh ledger is written whole below (a snapshot): no transaction to encode.
                fresh_events = true;
            } else {
                w.events(id, &mut records, &mut state.strings);
            }
            if cache_matches && !removed {
                added.extend(records.iter().cloned());
            }
            state.apply(Op::Events(id, records));
        }
        if before != Some(&file) {
            w.file(id, &file);
            state.apply(Op::File(id, Box::new(file)));
        }
        present.push(id);
    }
    for id in displaced {
        if !resumed_ids.contains(&id) && state.files.contains_key(&id) {
            w.forget(id);
            state.apply(Op::Forget(id));
            removed = true;
        }
    }

    // Save.
    let changed = !w.buf.is_empty() || fresh_events;
    if changed {
        state.seq += 1;
        w.commit(state.seq);
    }
    let compact = match &sink {
        Sink::Append { len, .. } if changed => {
            let log = len + w.buf.len() as u64;
            log > ledger_options.compact_min_bytes
                && log
                    > state
                        .live_bytes(&loc.roots)
                        .saturating_mul(ledger_options.compact_ratio)
        }
        Sink::Fresh => true,
        _ => false,
    };
    // The cache serves (its records decoded at load, only what is new merged in) unless a
    // record went away or the ledger is written anew: a compaction numbers the strings again,
    // and the cache names strings by number, so it is then written whole from the new ledger.
    let fast = cache_matches && !removed && !compact;
    if compact || !fast {
        state.materialize(&loc.roots);
    }
    stats.compacted = compact && matches!(sink, Sink::Append { .. });
    let saving = save(&loc, sink, &mut state, &w.buf, compact, cold);
    tracing::debug!(bytes = w.buf.len(), compact, "usage ledger written");
    drop(w);
    // The key the ledger has once saved. A snapshot is still being written (and flushed) on
    // its own thread while the kept-records cache is written for that key; should the
    // ledger's write fail, the cache is removed below. A cache with a key no ledger has is
    // never used, so one left by a run killed in between does no harm.
    let saved = saving.key();
    // For the checkpoint: how many records each file now has in the ledger.
    let record_counts = state.record_counts();

    // The kept records: from the cache (plus what is new), or from every file's records.
    let mut events: Option<Vec<UsageEvent>> = None;
    if fast {
        if added.is_empty() {
            events = kept.take().map(|(_, kept)| kept.events);
            if events.is_some()
                && let Some(key) = saved.filter(|&key| key != loaded_key)
                && let Err(e) = cache::rekey(&loc.kept, key)
            {
                tracing::debug!(error = %e, "cannot update the kept-records cache");
                cache::remove(&loc.kept);
            }
        } else if let Some((merged, merged_events)) = kept
            .take()
            .and_then(|(cached, kept)| cache::merge(&cached, kept, added, &state.strings))
        {
            events = Some(merged_events);
            if let Some(key) = saved
                && let Err(e) = cache::write_merged(&loc.kept, key, &merged)
            {
                tracing::debug!(error = %e, "cannot write the kept-records cache");
                cache::remove(&loc.kept);
            }
        }
    }
    tracing::debug!(fast, from_cache = events.is_some(), "kept records");
    if listings.worth_keeping(&previous_listings)
        && let Err(e) = dirs::write(&loc.dirs, &listings)
    {
        tracing::debug!(error = %e, "cannot write the directory listings");
    }
    let read_kept = read_kept.map(join);
    // The kept records, when the cache is to be written from them.
    let (events, to_cache) = match events {
        Some(events) => (events, None),
        None => {
            let (kept, events) = read_kept.unwrap_or_else(|| {
                state.materialize(&loc.roots);
                let mut dedup = Dedup::new();
                for entry in state.files.values_mut() {
                    dedup.extend(std::mem::take(&mut entry.records));
                }
                sorted_with_events(dedup)
            });
            (events, Some(kept))
        }
    };

    // Count.
    present.sort_unstable();
    present.dedup();
    let mut scan = ScanStats::default();
    let mut usage_lines = 0u64;
    for (id, entry) in &state.files {
        let Some(file) = &entry.state else { continue };
        usage_lines += file.committed.usage_lines + file.unconsumed.usage_lines;
        if present.binary_search(id).is_ok() {
            let mut counts = file.committed;
            counts.add(&file.unconsumed);
            scan.add_file(&counts);
        }
    }
    scan.unreadable_files = unreadable;
    stats.files_history = state.files.len().saturating_sub(present.len()) as u64;
    scan.events = events.len() as u64;
    scan.duplicate_lines = usage_lines.saturating_sub(scan.events);
    stats.events_total = scan.events;

    // What is left to write needs none of the caller's time: the cache written whole (a
    // first run, a rebuild, a compaction) is written on a thread of its own, beside the
    // caller's use of the events; the rest is done here.
    let write_cache = to_cache.is_some();
    // Returns whether the ledger was saved, and what is left to free.
    let finish = move || {
        if let Some(kept) = &to_cache
            && let Some(key) = saved
            && let Err(e) = cache::write(&loc.kept, key, kept.in_order(), &state.strings)
        {
            tracing::debug!(error = %e, "cannot write the kept-records cache");
            cache::remove(&loc.kept);
        }
        // The state of the ledger being saved, so that the next run need not replay it; not
        // written again when it was loaded from there and nothing changed. Written while a
        // new ledger is still being flushed, and removed below should that fail: like the
        // cache, a checkpoint of a state that no ledger has is never used.
        let checkpointed = saved.is_some_and(|key| {
            !(from_checkpoint && key == loaded_key)
                && checkpoint::write(&loc.checkpoint, key, &state, &record_counts)
                    .inspect_err(
                        |e| tracing::debug!(error = %e, "cannot write the ledger's checkpoint"),
                    )
                    .is_ok()
        });
        let written = saving.finish(&loc);
        if written.is_none() && saved.is_some() {
            cache::remove(&loc.kept);
            if checkpointed {
                checkpoint::remove(&loc.checkpoint);
            }
        }
        tracing::debug!(saved = written.is_some(), "usage ledger saved");
        drop(lock);
        (written.is_some(), (state, to_cache))
    };
    let finishing = if write_cache {
        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::spawn(claude_logs::beside(move || {
            let (saved, left) = finish();
            let _ = sender.send(saved);
            // Tens of thousands of records, freed after the answer.
            drop(left);
        }));
        Finishing {
            saved: false,
            pending: Some((receiver, writer)),
        }
    } else {
        Finishing {
            saved: finish().0,
            pending: None,
        }
    };
    Ok((
        IncrementalScan {
            discovery,
            events,
            stats: scan,
            ledger: stats,
        },
        finishing,
    ))
}

/// The end of a run's writes (the kept-records cache, the ledger's flush, its checkpoint),
/// which may still be going on, on a thread of its own, when the run's result is handed over;
/// the ledger stays locked until they are done. Dropped unfinished, it waits for them. (That
/// thread frees the run's state after answering: nothing the caller waits for.)
#[derive(Debug)]
pub struct Finishing {
    /// Whether the ledger was saved, once nothing is `pending`.
    saved: bool,
    /// The thread still writing: its answer to come, and its handle.
    pending: Option<(mpsc::Receiver<bool>, std::thread::JoinHandle<()>)>,
}

impl Finishing {
    /// Waits for the writes: whether the ledger was saved (a failure was logged as a
    /// warning). A panic on that thread goes on here.
    pub fn wait(mut self) -> bool {
        match self.pending.take() {
            None => self.saved,
            // No answer: the thread panicked.
            Some((done, writer)) => done.recv().unwrap_or_else(|_| {
                join(writer);
                false
            }),
        }
    }
}

impl Drop for Finishing {
    fn drop(&mut self) {
        if let Some((done, _)) = self.pending.take() {
            let _ = done.recv();
        }
    }
}

/// The ledger's files by path. Paths compare as paths (component by component: `a//b` is
/// `a/b`, and `a\b` is `a/b` on Windows), so a root spelt another way than last time still
/// finds its files. A path is looked up by its bytes first: almost every file is found spelt
/// as the ledger has it, and a `Path`'s hash goes component by component, several times
/// slower (about 2 ms of a run with nothing new over 1,600 files). The map by components is
/// built only when a path is not found that way.
struct ByPath<'s> {
    state: &'s State,
    by_bytes: HashMap<&'s [u8], (u32, &'s FileState)>,
    by_components: Option<HashMap<&'s Path, (u32, &'s FileState)>>,
}

impl<'s> ByPath<'s> {
    fn new(state: &'s State) -> Self {
        let by_bytes = Self::files(state)
            .map(|(id, s)| (s.path.as_os_str().as_encoded_bytes(), (id, s)))
            .collect();
        Self {
            state,
            by_bytes,
            by_components: None,
        }
    }

    fn files(state: &'s State) -> impl Iterator<Item = (u32, &'s FileState)> {
        state
            .files
            .iter()
            .filter_map(|(&id, e)| Some((id, e.state.as_ref()?)))
    }

    /// The ledger's file at `path`, if any.
    fn get(&mut self, path: &Path) -> Option<(u32, &'s FileState)> {
        if let Some(&found) = self.by_bytes.get(path.as_os_str().as_encoded_bytes()) {
            return Some(found);
        }
        let state = self.state;
        self.by_components
            .get_or_insert_with(|| {
                Self::files(state)
                    .map(|(id, s)| (s.path.as_path(), (id, s)))
                    .collect()
            })
            .get(path)
            .copied()
    }
}

/// The ledger as loaded, with the kept-records cache when it belongs to it.
struct LoadedWithCache {
    loaded: store::Loaded,
    /// The state of the ledger as loaded.
    loaded_key: Key,
    /// The cache belongs to the loaded ledger, which can be appended to.
    cache_matches: bool,
    /// The cache, with its records, read when it matches (and its checksum is right).
    kept: Option<(cache::Cache, cache::Kept)>,
}

fn load(loc: &Location) -> LoadedWithCache {
    let cached = cache::read(&loc.kept);
    let loaded = store::load(
        loc,
        cached.as_ref().map(|c| (c.key.ledger_id, c.key.ledger_len)),
    );
    let state = &loaded.state;
    let loaded_key = Key {
        ledger_id: state.ledger_id,
        seq: state.seq,
        ledger_len: state.len,
    };
    let cache_matches = matches!(loaded.sink, Sink::Append { .. })
        && cached.as_ref().is_some_and(|c| c.key == loaded_key);
    let kept = cached.filter(|_| cache_matches).and_then(|cached| {
        let kept = cached.kept(&state.strings)?;
        Some((cached, kept))
    });
    LoadedWithCache {
        loaded,
        loaded_key,
        cache_matches,
        kept,
    }
}

/// Writes this run's transaction `txn`, or the whole state when `compact`: the ledger state
/// on disk once [`Saving::finish`]ed, or `None` when it could not be written (or may not be).
/// `one_read_each`: every file's records come from one read (they are compact already).
fn save(
    loc: &Location,
    sink: Sink,
    state: &mut State,
    txn: &[u8],
    compact: bool,
    one_read_each: bool,
) -> Saving {
    let key = |state: &State, len: u64| Key {
        ledger_id: state.ledger_id,
        seq: state.seq,
        ledger_len: len,
    };
    let result = match sink {
        Sink::Nowhere => return Saving::done(None),
        Sink::Append { len, .. } if txn.is_empty() => return Saving::done(Some(key(state, len))),
        Sink::Append { mut file, len } if !compact => {
            store::append(&mut file, len, txn).map(|()| key(state, len + txn.len() as u64))
        }
        Sink::Append { .. } | Sink::Fresh => {
            let written = store::create_temp(&loc.temp).and_then(|file| {
                let mut file = store::FlushAhead::new(file);
                let len = write_snapshot(state, &loc.roots, one_read_each, &mut file)?;
                Ok((file, len))
            });
            match written {
                Ok((file, len)) => {
                    let key = key(state, len);
                    let (temp, ledger) = (loc.temp.clone(), loc.ledger.clone());
                    let writer =
                        std::thread::spawn(move || store::commit_temp(file, &temp, &ledger));
                    return Saving {
                        key: Some(key),
                        writer: Some(writer),
                    };
                }
                Err(e) => {
                    store::remove_temp(&loc.temp);
                    Err(e)
                }
            }
        }
    };
    Saving::done(result.map_err(|e| warn_unsaved(loc, &e)).ok())
}

fn warn_unsaved(loc: &Location, e: &io::Error) {
    tracing::warn!(
        path = %loc.ledger.display(),
        error = %e,
        "cannot write the usage ledger; this run's figures are right, the next run reads the \
         same transcripts again"
    );
}

/// A ledger being saved: saved (with the key of the ledger now on disk) or not (`None`), or a
/// whole new ledger (a snapshot) being flushed and renamed into place on the `writer` thread.
/// Dropped unfinished (a panic on the way), it still waits for that thread, so that the write
/// never outlives the run's lock on the ledger.
struct Saving {
    key: Option<Key>,
    writer: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Saving {
    fn done(key: Option<Key>) -> Self {
        Self { key, writer: None }
    }

    /// The key of the ledger once saved; `None` when it is known not to be.
    fn key(&self) -> Option<Key> {
        self.key
    }

    /// Waits for the write: the key of the ledger on disk, or `None` (with a warning).
    fn finish(mut self, loc: &Location) -> Option<Key> {
        match self.writer.take().map(join) {
            None | Some(Ok(())) => self.key,
            Some(Err(e)) => {
                warn_unsaved(loc, &e);
                None
            }
        }
    }
}

impl Drop for Saving {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The kept records of a run, and the order the cache has them in (that of their events).
struct Kept {
    records: Vec<Record>,
    order: Vec<u32>,
}

impl Kept {
    fn in_order(&self) -> impl ExactSizeIterator<Item = &Record> {
        self.order.iter().map(|&i| &self.records[i as usize])
    }
}

/// The kept records of `dedup` with their output order (for the cache), and a copy of their
/// events in that order (for the caller). The records are not moved into that order: about
/// 180 bytes each, moving them took a fifth of this on 44 thousand records.
fn sorted_with_events(dedup: Dedup) -> (Kept, Vec<UsageEvent>) {
    let records = dedup.into_compact_records();
    let order = claude_logs::event_order(&records, |r| &r.event);
    let kept = Kept { records, order };
    let events = kept.in_order().map(|r| r.event.clone()).collect();
    (kept, events)
}

/// The result of a thread, whose panic goes on in the caller.
fn join<T>(handle: std::thread::JoinHandle<T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Where the readers take the files to read from.
enum Source<'a> {
    /// The jobs planned from the listing and the ledger, with the next one to take.
    Planned(&'a [Job], AtomicUsize),
    /// Files as the listing finds them, each read whole (there is no ledger entry to go on
    /// from), numbered in the order they come.
    Found(Mutex<(mpsc::Receiver<PathBuf>, usize)>),
}

impl Source<'_> {
    /// The next file to read and its number; `None` when every one is taken.
    fn next(&self) -> Option<(usize, Cow<'_, Job>)> {
        match self {
            Source::Planned(jobs, next) => {
                let index = next.fetch_add(1, Ordering::Relaxed);
                jobs.get(index).map(|job| (index, Cow::Borrowed(job)))
            }
            Source::Found(found) => {
                let mut found = found.lock().unwrap_or_else(PoisonError::into_inner);
                let path = found.0.recv().ok()?;
                let index = found.1;
                found.1 += 1;
                let job = Job {
                    path,
                    prior: None,
                    same_path: false,
                };
                Some((index, Cow::Owned(job)))
            }
        }
    }
}

/// Reads every job, on up to `options.threads` threads; results in job order. With `dedup`,
/// also every record read, deduplicated as the files are done: one index for all readers, each
/// of which holds its lock only to insert the few records of a file it has read. (An index per
/// reader, merged at the end, cost the merge, a third of a first run's work after the reading,
/// and memory for both copies.) No jobs (a run with nothing new): no reader is set up.
fn read_all(
    source: Source<'_>,
    options: &ScanOptions,
    dedup: bool,
) -> (Vec<io::Result<Done>>, Option<Dedup>) {
    let threads = match &source {
        Source::Planned([], _) => return (Vec::new(), None),
        Source::Planned(jobs, _) => options.effective_threads().clamp(1, jobs.len()),
        Source::Found(_) => options.effective_threads().max(1),
    };
    let kept = dedup.then(|| Mutex::new(Dedup::new()));
    let work = || {
        let mut interner = Interner::new();
        let mut reader = FileReader::new(options);
        let mut out = Vec::new();
        while let Some((index, job)) = source.next() {
            let result = read_job(&job, &mut reader, &mut interner);
            if let (Some(kept), Ok(done)) = (&kept, &result)
                && !done.records.is_empty()
            {
                kept.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_cloned(&done.records);
            }
            out.push((index, result));
        }
        out
    };
    let parts = if threads == 1 {
        vec![work()]
    } else {
        std::thread::scope(|scope| {
            // Each reader after the first is spawned from another processor than the one
            // before it, so that none waits for a load balance to start.
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let handle = scope.spawn(work);
                    claude_logs::step_aside();
                    handle
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Vec<_>>()
        })
    };
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for out in parts {
        all.extend(out);
    }
    let kept = kept.map(|kept| kept.into_inner().unwrap_or_else(PoisonError::into_inner));
    all.sort_unstable_by_key(|(index, _)| *index);
    (all.into_iter().map(|(_, result)| result).collect(), kept)
}

/// Reads one file: from where its prior entry stopped when that entry still describes the
/// file's beginning, else from the start.
fn read_job(job: &Job, reader: &mut FileReader, interner: &mut Interner) -> io::Result<Done> {
    let (mut file, meta) = claude_logs::open_transcript(&job.path)?;
    let stat = Stat::of(&FileMeta::from(&meta));
    // Where the next read of `file` starts.
    let mut position = 0;
    let mut prefix: Vec<u8> = Vec::new();
    let mut resume = job.prior.as_ref().map(|(_, s)| s).filter(|s| {
        s.identity == stat.identity
            && stat.size >= s.offset
            && u64::from(s.fp_len) == s.offset.min(FINGERPRINT_BYTES)
    });
    if let Some(s) = resume {
        (&mut file)
            .take(u64::from(s.fp_len))
            .read_to_end(&mut prefix)?;
        position = prefix.len() as u64;
        if prefix.len() != s.fp_len as usize || !fingerprint_matches(&prefix, s.fp) {
            resume = None;
        }
    }
    let mut bytes_read = 0;
    loop {
        let start = resume.map_or(0, |s| s.offset);
        if resume.is_none() {
            prefix.clear();
        }
        if position != start {
            file.seek(SeekFrom::Start(start))?;
        }
        let mut tee = Tee {
            file: &mut file,
            pos: start,
            prefix: &mut prefix,
            first: None,
            last: None,
        };
        let read = reader.read_from(&mut tee, start, interner)?;
        let (first, last) = (tee.first, tee.last);
        position = tee.pos;
        bytes_read += read.stats.bytes_read;
        let open_line = resume.is_some_and(|s| s.open_line);
        if open_line && first.is_some_and(|b| b != b'\n') {
            // The line that looked complete went on: read the file again from its start.
            resume = None;
            continue;
        }
        let mut delta = read.stats.saturating_sub(&read.unconsumed);
        if open_line && first == Some(b'\n') {
            // The newline that ends the line already counted.
            delta.lines_read = delta.lines_read.saturating_sub(1);
        }
        let mut committed = resume.map_or_else(FileStats::default, |s| s.committed);
        committed.add(&delta);
        let offset = read.end_offset;
        // Computed again even when resuming: the entry's may be an earlier version's (FNV-1a
        // 128), which this one replaces.
        let covered = offset.min(FINGERPRINT_BYTES) as usize;
        let fp = fingerprint(&prefix[..covered.min(prefix.len())]);
        let open_line = if offset == start {
            open_line
        } else {
            read.unconsumed.bytes_read == 0 && last != Some(b'\n')
        };
        let records = if read.records.len() > 1 {
            let mut dedup = Dedup::new();
            dedup.extend(read.records);
            dedup.into_compact_records()
        } else {
            read.records
        };
        return Ok(Done {
            resumed: resume.is_some(),
            state: FileState {
                path: job.path.clone(),
                identity: stat.identity,
                size: stat.size,
                mtime: stat.mtime,
                offset,
                fp_len: covered as u32,
                fp,
                open_line,
                committed,
                unconsumed: read.unconsumed,
            },
            records,
            bytes_read,
        });
    }
}

/// Passes a file's bytes through, keeping the first ones (for the fingerprint) and noting the
/// first and last byte read.
struct Tee<'a> {
    file: &'a mut File,
    /// File offset of the next byte.
    pos: u64,
    /// The file's bytes from offset 0, while they are within the fingerprint.
    prefix: &'a mut Vec<u8>,
    first: Option<u8>,
    last: Option<u8>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            if self.first.is_none() {
                self.first = Some(buf[0]);
            }
            self.last = Some(buf[n - 1]);
            if self.pos < FINGERPRINT_BYTES && self.prefix.len() as u64 == self.pos {
                let take = (FINGERPRINT_BYTES - self.pos).min(n as u64) as usize;
                self.prefix.extend_from_slice(&buf[..take]);
            }
            self.pos += n as u64;
        }
        Ok(n)
    }
}

/// Bytes read again come from the file, by offset: the first and last bytes and the prefix
/// are those of the sequential read.
impl LineSource for Tee<'_> {
    fn can_read_again(&self) -> bool {
        self.file.can_read_again()
    }

    fn read_again(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_again(offset, buf)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn line(i: usize) -> String {
        format!(
            r#"{{"type":"assistant","message":{{"id":"msg_{i}","model":"claude-sonnet-4-5","usage":{{"input_tokens":1,"output_tokens":{i}}}}},"requestId":"req_{i}","timestamp":"2026-11-28T09:00:00.000Z"}}"#
        ) + "\n"
    }

    fn read(job: &Job) -> Done {
        let options = ScanOptions::default();
        read_job(job, &mut FileReader::new(&options), &mut Interner::new()).unwrap()
    }

    /// A ledger entry whose fingerprint an earlier version wrote (FNV-1a 128) is still
    /// continued from its offset, and leaves with this version's fingerprint; an entry whose
    /// fingerprint matches neither is read again from the start. For an empty file, one within
    /// the fingerprint's 4 KiB (whose continued read adds to the fingerprint's bytes) and one
    /// past them.
    #[test]
    fn an_earlier_versions_fingerprint_is_accepted_and_replaced() {
        for lines in [0, 3, 60] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.jsonl");
            let first: String = (0..lines).map(line).collect();
            assert_eq!(first.len() as u64 > FINGERPRINT_BYTES, lines == 60);
            std::fs::write(&path, &first).unwrap();
            let job = |prior| Job {
                path: path.clone(),
                prior,
                same_path: true,
            };
            let done = read(&job(None));
            let covered = first.len().min(FINGERPRINT_BYTES as usize);
            assert_eq!(done.state.fp, fingerprint(&first.as_bytes()[..covered]));
            assert_eq!(done.state.offset, first.len() as u64);

            let more = line(lines);
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap();
            file.write_all(more.as_bytes()).unwrap();
            drop(file);
            let whole = first.clone() + &more;
            let covered = whole.len().min(FINGERPRINT_BYTES as usize);
            let fingerprint_now = fingerprint(&whole.as_bytes()[..covered]);

            let mut earlier = done.state.clone();
            earlier.fp = claude_logs::fnv1a_128(&first.as_bytes()[..done.state.fp_len as usize]);
            assert_ne!(earlier.fp, done.state.fp, "{lines} lines");
            let resumed = read(&job(Some((0, earlier))));
            assert!(resumed.resumed, "{lines} lines");
            assert_eq!(resumed.bytes_read, more.len() as u64, "{lines} lines");
            assert_eq!(resumed.records.len(), 1);
            assert_eq!(resumed.state.fp_len as usize, covered);
            assert_eq!(resumed.state.fp, fingerprint_now, "{lines} lines");

            let mut other = done.state.clone();
            other.fp ^= 1;
            let again = read(&job(Some((0, other))));
            assert!(!again.resumed, "{lines} lines");
            assert_eq!(again.bytes_read, whole.len() as u64);
            assert_eq!(again.records.len(), lines + 1);
            assert_eq!(again.state.fp, fingerprint_now);
        }
    }
}
