//! Finding the transcript files under the roots.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, FileType, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The transcripts found under a set of roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Every `*.jsonl` regular file under `<root>/projects/`, sorted; a file reachable through
    /// several paths (symlinked roots or directories, hard links) is listed once, under its
    /// smallest path.
    pub files: Vec<PathBuf>,
    /// Roots (as given) whose `projects` directory exists.
    pub existing_roots: Vec<PathBuf>,
    /// Roots (as given) without a `projects` directory.
    pub missing_roots: Vec<PathBuf>,
    /// Directories that could not be listed (each logged as a warning).
    pub unreadable_dirs: usize,
}

/// Identity of a file or directory: `(device, inode)` on unix, the canonical path elsewhere.
#[cfg(unix)]
type NodeId = (u64, u64);
#[cfg(not(unix))]
type NodeId = PathBuf;

#[cfg(unix)]
fn node_id(_path: &Path, metadata: &FileMeta) -> Option<NodeId> {
    metadata.identity
}

#[cfg(not(unix))]
fn node_id(path: &Path, _metadata: &FileMeta) -> Option<NodeId> {
    fs::canonicalize(path).ok()
}

/// What a walk learns of a file or directory from its `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    kind: MetaKind,
    /// Device and inode numbers; `None` where the platform has none.
    pub identity: Option<(u64, u64)>,
    /// Size in bytes.
    pub len: u64,
    /// Modification time: seconds and nanoseconds since the Unix epoch (`(0, 0)` when the
    /// platform does not tell).
    pub modified: (i64, u32),
    /// Change time (`ctime`; the modification time where there is none), when known.
    pub changed: Option<(i64, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetaKind {
    Dir,
    File,
    Other,
}

impl FileMeta {
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.kind == MetaKind::Dir
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.kind == MetaKind::File
    }
}

impl From<&Metadata> for FileMeta {
    #[cfg(unix)]
    fn from(m: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            kind: kind_of(m.file_type()),
            identity: Some((m.dev(), m.ino())),
            len: m.len(),
            modified: (m.mtime(), m.mtime_nsec() as u32),
            changed: u32::try_from(m.ctime_nsec())
                .ok()
                .map(|nanos| (m.ctime(), nanos)),
        }
    }

    #[cfg(not(unix))]
    fn from(m: &Metadata) -> Self {
        let modified = m
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| {
                (
                    i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    d.subsec_nanos(),
                )
            });
        Self {
            kind: kind_of(m.file_type()),
            identity: None,
            len: m.len(),
            modified: modified.unwrap_or((0, 0)),
            changed: modified,
        }
    }
}

fn kind_of(file_type: FileType) -> MetaKind {
    if file_type.is_dir() {
        MetaKind::Dir
    } else if file_type.is_file() {
        MetaKind::File
    } else {
        MetaKind::Other
    }
}

/// A directory opened only to look entries up (`O_PATH` on Linux, read-only elsewhere), for
/// the directories whose earlier listing is reused: an entry below it is looked up by the
/// rest of its path from there, not by its whole path again. One handle serves the
/// directories up to [`OpenDir::MAX_BELOW`] levels down, so that a walk over unchanged
/// directories opens (and closes) only a few: each open and close cost as much as a `stat`,
/// while a lookup of a few names more in the kernel's cache of names costs little.
#[cfg(unix)]
#[derive(Clone)]
struct OpenDir {
    /// The handle and the path it was opened at.
    fd: std::rc::Rc<(rustix::fd::OwnedFd, PathBuf)>,
}

#[cfg(unix)]
impl OpenDir {
    /// How many directories below the one opened are looked up from its handle.
    const MAX_BELOW: usize = 3;

    /// Opens `dir`: relative to `parent`'s handle when there is one (the rest of the path to
    /// resolve), else by its path.
    fn open(dir: &Path, parent: Option<&OpenDir>) -> Option<Self> {
        use rustix::fs::{Mode, OFlags};
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let access = OFlags::PATH;
        // macOS and the BSDs but FreeBSD have no `O_PATH`: a directory opened for reading
        // serves as well (one the walk could list can be opened).
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let access = OFlags::RDONLY;
        let flags = access | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = match parent.and_then(|p| Some((p, p.rest(dir)?))) {
            Some((parent, rest)) => rustix::fs::openat(&parent.fd.0, rest, flags, Mode::empty()),
            None => rustix::fs::open(dir, flags, Mode::empty()),
        }
        .ok()?;
        Some(OpenDir {
            fd: std::rc::Rc::new((fd, dir.to_path_buf())),
        })
    }

    /// A handle for `dir`, a directory the walk entered below `parent`: `parent`'s own while
    /// `dir` is at most [`OpenDir::MAX_BELOW`] levels below it, else `dir` opened.
    fn below(dir: &Path, parent: Option<&OpenDir>) -> Option<Self> {
        match parent {
            Some(p)
                if p.rest(dir).is_some_and(|rest| {
                    rest.as_encoded_bytes()
                        .iter()
                        .filter(|&&b| b == b'/')
                        .count()
                        < Self::MAX_BELOW
                }) =>
            {
                Some(p.clone())
            }
            _ => Self::open(dir, parent),
        }
    }

    /// `path` relative to this directory; `None` when `path` is not below it as the walk
    /// builds paths (this directory's path, a slash, the rest), and then it is looked up whole.
    fn rest<'p>(&self, path: &'p Path) -> Option<&'p std::ffi::OsStr> {
        use std::os::unix::ffi::OsStrExt;
        let dir = self.fd.1.as_os_str().as_bytes();
        let rest = path.as_os_str().as_bytes().strip_prefix(dir)?;
        let rest = if dir.ends_with(b"/") {
            rest
        } else {
            rest.strip_prefix(b"/")?
        };
        (!rest.is_empty() && !rest.starts_with(b"/")).then(|| std::ffi::OsStr::from_bytes(rest))
    }

    /// The entry at `path` (below this directory), not following a symbolic link.
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    fn stat(&self, path: &Path) -> io::Result<FileMeta> {
        use rustix::fs::{AtFlags, FileType as RawType};
        let st = match self.rest(path) {
            Some(rest) => rustix::fs::statat(&self.fd.0, rest, AtFlags::SYMLINK_NOFOLLOW)?,
            None => rustix::fs::lstat(path)?,
        };
        let kind = match RawType::from_raw_mode(st.st_mode as _) {
            RawType::Directory => MetaKind::Dir,
            RawType::RegularFile => MetaKind::File,
            _ => MetaKind::Other,
        };
        Ok(FileMeta {
            kind,
            identity: Some((st.st_dev as u64, st.st_ino as u64)),
            len: st.st_size as u64,
            modified: (st.st_mtime as i64, st.st_mtime_nsec as u32),
            changed: Some((st.st_ctime as i64, st.st_ctime_nsec as u32)),
        })
    }
}

/// Where the platform has no `O_PATH`-like handle, entries are looked up by path.
#[cfg(not(unix))]
#[derive(Clone)]
struct OpenDir;

#[cfg(not(unix))]
impl OpenDir {
    fn below(_dir: &Path, _parent: Option<&OpenDir>) -> Option<Self> {
        None
    }

    fn stat(&self, _path: &Path) -> io::Result<FileMeta> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// Lists the transcript files under `roots` (each a directory holding `projects/`).
///
/// Walks `<root>/projects/` recursively (subagent transcripts live at
/// `<slug>/<session>/subagents/agent-*.jsonl`). Symlinks are followed, but each directory is
/// entered once, so symlink loops end. Only regular files are listed: a directory named
/// `x.jsonl` is walked like any other directory, a FIFO or socket is ignored. A directory that
/// cannot be listed is counted and logged, never fatal.
pub fn discover(roots: &[PathBuf]) -> Discovery {
    discover_with_metadata(roots).0
}

/// [`discover`], with the metadata of each listed file (`fs::metadata`, taken while walking),
/// in the order of `Discovery::files`: a caller that compares files with what it saw before
/// need not `stat` them again.
pub fn discover_with_metadata(roots: &[PathBuf]) -> (Discovery, Vec<FileMeta>) {
    let (discovery, metadata, _) = discover_with_listings(roots, &Listings::default());
    (discovery, metadata)
}

/// What a walk saw in each directory it entered, so that a later walk need not list the
/// directories that did not change since.
///
/// A directory's change time (`ctime`; the modification time where there is none) changes
/// whenever an entry is added, removed or renamed in it, and when its permissions change (not
/// when a file in it grows), so a directory with the same identity and change time as when it
/// was listed has the same entries. One exception is guarded against: a change within the
/// file system's timestamp granularity of the listing keeps the time. A listing is therefore
/// reused only when the directory's change time is [`SETTLED`] older than the start of the
/// walk that listed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listings {
    /// When the walk that made these listings began: seconds and nanoseconds since the Unix
    /// epoch.
    pub started: (i64, u32),
    /// The directories, sorted by path.
    pub dirs: Vec<Listing>,
}

/// How old listings may be and still serve: a walk given older ones lists every directory
/// again (and its listings are then worth keeping), so that a change a file system failed to
/// show in a directory's change time (a network or FUSE mount caching attributes, a clock set
/// back) is seen within this time.
pub const MAX_AGE: Duration = Duration::from_secs(3600);

/// How much older than the walk that listed it a directory's change time must be for
/// the listing to be reused: more than the timestamp granularity of common file systems
/// (nanoseconds to 2 s), with room for a file system clock a little behind this machine's.
pub const SETTLED: Duration = Duration::from_secs(5);

/// What a walk saw in one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The directory, as the walk reached it.
    pub path: PathBuf,
    /// Its device and inode numbers. (Where the platform has none, no listing is kept.)
    pub identity: (u64, u64),
    /// Its change time (see [`Listings`]): seconds and nanoseconds since the Unix epoch.
    pub changed: (i64, u32),
    /// The entries a walk looks at (directories, symbolic links, `*.jsonl` regular files),
    /// by name, in name order.
    pub entries: Vec<(OsString, EntryKind)>,
}

/// The kind of a listed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file named `*.jsonl`.
    File,
    /// A symbolic link (to be followed).
    Symlink,
}

impl Listings {
    /// Whether these listings (of a walk that was given `previous`) tell a later walk more
    /// than `previous` does: a directory changed, or one was listed again because its change
    /// was too recent to trust, which a listing made now may no longer be.
    pub fn worth_keeping(&self, previous: &Listings) -> bool {
        self.dirs != previous.dirs
            || !previous.fresh_at(self.started)
            || previous.dirs.iter().any(|l| !previous.settled(l.changed))
    }

    /// Whether a change at `changed` was [`SETTLED`] when these listings were made.
    fn settled(&self, changed: (i64, u32)) -> bool {
        changed.0.saturating_add(SETTLED.as_secs() as i64) < self.started.0
    }

    /// Whether these listings may serve a walk that began at `now`: made less than
    /// [`MAX_AGE`] before it (or after it, by as much, should the clock have been set back).
    fn fresh_at(&self, now: (i64, u32)) -> bool {
        now.0.saturating_sub(self.started.0).unsigned_abs() < MAX_AGE.as_secs()
    }

    /// The listing of `dir` when it can stand for listing it again: same identity, same
    /// change time, and that time settled when it was listed.
    ///
    /// A walk enters directories in the order the listings are sorted in: `next`, the index
    /// after the last one found, is tried first (one comparison of bytes), and only then a
    /// search (component by component).
    fn reusable(&self, dir: &Path, metadata: &FileMeta, next: &mut usize) -> Option<&Listing> {
        let i = match self.dirs.get(*next) {
            Some(l) if l.path.as_os_str() == dir.as_os_str() => *next,
            _ => self
                .dirs
                .binary_search_by(|l| l.path.as_path().cmp(dir))
                .ok()?,
        };
        *next = i + 1;
        let listing = &self.dirs[i];
        // Without an identity, a directory replaced by another with the same time would pass.
        let identity = metadata.identity?;
        let changed = metadata.changed?;
        (listing.identity == identity && listing.changed == changed && self.settled(changed))
            .then_some(listing)
    }
}

/// [`discover_with_metadata`], listing again only the directories that changed since
/// `previous` (see [`Listings`]); also returns this walk's listings.
pub fn discover_with_listings(
    roots: &[PathBuf],
    previous: &Listings,
) -> (Discovery, Vec<FileMeta>, Listings) {
    discover_each(roots, previous, |_, _| {})
}

/// [`discover_with_listings`], also handing each file of the result to `on_file`, in the
/// result's order, as soon as that is known: during the walk when there is one root (whose walk
/// finds the files in path order), after it when several must be merged. A caller can start
/// reading files while the others are being found.
pub fn discover_each(
    roots: &[PathBuf],
    previous: &Listings,
    mut on_file: impl FnMut(&Path, &FileMeta),
) -> (Discovery, Vec<FileMeta>, Listings) {
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or((0, 0), |d| {
            (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            )
        });
    let stale = Listings::default();
    let previous = if previous.fresh_at(started) {
        previous
    } else {
        &stale
    };
    let mut seen_roots: HashSet<&Path> = HashSet::new();
    let distinct = roots
        .iter()
        .filter(|r| seen_roots.insert(r.as_path()))
        .count();
    seen_roots.clear();
    let mut walker = Walker {
        visited: HashSet::new(),
        found: Vec::new(),
        seen_files: HashSet::new(),
        // One root: the walk's order is the result's, and its files are final as found.
        on_file: (distinct == 1).then_some(&mut on_file as OnFile<'_>),
        unreadable_dirs: 0,
        previous,
        next_previous: 0,
        listings: Vec::new(),
    };
    let mut discovery = Discovery::default();
    let mut walked = 0;
    for root in roots {
        if !seen_roots.insert(root.as_path()) {
            continue;
        }
        let projects = root.join("projects");
        match fs::metadata(&projects) {
            Ok(metadata) if metadata.is_dir() => {
                discovery.existing_roots.push(root.clone());
                walker.walk(projects, &FileMeta::from(&metadata));
                walked += 1;
            }
            Ok(_) => discovery.missing_roots.push(root.clone()),
            Err(e) if is_missing(&e) => discovery.missing_roots.push(root.clone()),
            Err(e) => {
                tracing::warn!(path = %projects.display(), error = %e, "cannot open transcript directory");
                discovery.existing_roots.push(root.clone());
                walker.unreadable_dirs += 1;
            }
        }
    }
    let streamed = walker.on_file.is_some();
    let Walker {
        mut found,
        unreadable_dirs,
        listings: mut dirs,
        ..
    } = walker;
    discovery.unreadable_dirs += unreadable_dirs;
    // One root's walk enters its directories and lists its files in path order, each path
    // once; only several roots can interleave, or reach one path twice.
    let several = walked > 1;
    if several {
        dirs.sort_by(|a, b| a.path.cmp(&b.path));
        dirs.dedup_by(|a, b| a.path == b.path);
        found.sort_by(|a, b| a.0.cmp(&b.0));
    } else {
        debug_assert!(dirs.is_sorted_by(|a, b| a.path < b.path));
        debug_assert!(found.is_sorted_by(|a, b| a.0 < b.0));
    }
    let mut metadata = Vec::with_capacity(found.len());
    if streamed {
        // Each file once already, and handed over.
        for (path, _, meta) in found {
            discovery.files.push(path);
            metadata.push(meta);
        }
    } else {
        let mut seen_files: HashSet<NodeId> = HashSet::new();
        for (path, id, meta) in found {
            if first_sight(&mut seen_files, id.as_ref())
                && !(several && discovery.files.last() == Some(&path))
            {
                on_file(&path, &meta);
                discovery.files.push(path);
                metadata.push(meta);
            }
        }
    }
    (discovery, metadata, Listings { started, dirs })
}

/// A file found: its path, identity and metadata.
type Found = (PathBuf, Option<NodeId>, FileMeta);

/// Whether a file with identity `id` is seen for the first time (noted in `seen`); a file
/// without an identity always is.
fn first_sight(seen: &mut HashSet<NodeId>, id: Option<&NodeId>) -> bool {
    // (`NodeId` is a path, not `Copy`, on some platforms.)
    id.is_none_or(|id| seen.insert(id.to_owned()))
}

/// What a walk hands each file it keeps to.
type OnFile<'a> = &'a mut dyn FnMut(&Path, &FileMeta);

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// The state of one walk over the roots.
struct Walker<'a> {
    visited: HashSet<NodeId>,
    found: Vec<Found>,
    /// With one root: the identities of the files found, so that a file reachable through
    /// several paths is kept once as found (at its first path, the smallest: the walk is in
    /// path order), and the callback each kept file goes to.
    seen_files: HashSet<NodeId>,
    on_file: Option<OnFile<'a>>,
    unreadable_dirs: usize,
    /// The listings of an earlier walk, reused for directories that did not change.
    previous: &'a Listings,
    /// The index in `previous` after the last listing reused.
    next_previous: usize,
    /// This walk's listings.
    listings: Vec<Listing>,
}

impl Walker<'_> {
    /// Walks `top` depth first, each directory's entries in name order, so that files come
    /// out sorted by path (component by component) without sorting the whole list.
    fn walk(&mut self, top: PathBuf, top_metadata: &FileMeta) {
        if !enter(&top, top_metadata, &mut self.visited) {
            return;
        }
        // Directories being walked, each with its entries still to visit (in reverse name
        // order, so that `pop` gives the next one) and, when its listing was reused, a handle
        // at or above it to look them up from, by the rest of their path.
        let mut stack: Vec<(PathBuf, Vec<Entry>, Option<OpenDir>)> = Vec::new();
        if let Some((entries, open)) = self.entries(&top, top_metadata, None) {
            stack.push((top, entries, open));
        }
        while let Some((dir, entries, open)) = stack.last_mut() {
            let Some(Entry { name, kind, entry }) = entries.pop() else {
                stack.pop();
                continue;
            };
            let path = dir.join(&name);
            // Only directories, transcripts and symlinks (which may point at either) are
            // listed, and each needs a `stat`; an entry is looked up relative to its directory
            // (listed just now) or to a handle at or above it (when its listing was reused),
            // not by its whole path.
            let metadata = match (kind, entry, open.as_ref()) {
                // Follows the link; a dangling one is skipped.
                (EntryKind::Symlink, _, _) => fs::metadata(&path).map(|m| FileMeta::from(&m)),
                (_, Some(entry), _) => entry.metadata().map(|m| FileMeta::from(&m)),
                (_, None, Some(open)) => open.stat(&path),
                (_, None, None) => fs::symlink_metadata(&path).map(|m| FileMeta::from(&m)),
            };
            let metadata = match metadata {
                Ok(metadata) => metadata,
                Err(e) => {
                    // A vanished entry.
                    tracing::debug!(path = %path.display(), error = %e, "skipping an entry");
                    continue;
                }
            };
            if metadata.is_dir() {
                if enter(&path, &metadata, &mut self.visited)
                    && let Some((entries, open)) = self.entries(&path, &metadata, open.as_ref())
                {
                    stack.push((path, entries, open));
                }
            } else if metadata.is_file() && is_jsonl(&name) {
                let id = node_id(&path, &metadata);
                if let Some(on_file) = &mut self.on_file {
                    if !first_sight(&mut self.seen_files, id.as_ref()) {
                        continue;
                    }
                    on_file(&path, &metadata);
                }
                self.found.push((path, id, metadata));
            }
        }
    }

    /// The entries of `dir`, in reverse name order: from the earlier walk's listing when
    /// the directory did not change, else listed now. Either way recorded in this walk's
    /// listings.
    fn entries(
        &mut self,
        dir: &Path,
        metadata: &FileMeta,
        parent: Option<&OpenDir>,
    ) -> Option<(Vec<Entry>, Option<OpenDir>)> {
        if let Some(listing) = self
            .previous
            .reusable(dir, metadata, &mut self.next_previous)
        {
            self.listings.push(listing.clone());
            let entries = listing
                .entries
                .iter()
                .rev()
                .map(|(name, kind)| Entry {
                    name: name.clone(),
                    kind: *kind,
                    entry: None,
                })
                .collect();
            return Some((entries, OpenDir::below(dir, parent)));
        }
        let (entries, complete) = list(dir, &mut self.unreadable_dirs)?;
        // Only a whole listing is kept: one cut short by an error is made again next time.
        if complete && let (Some(identity), Some(changed)) = (metadata.identity, metadata.changed) {
            self.listings.push(Listing {
                path: dir.to_path_buf(),
                identity,
                changed,
                entries: entries
                    .iter()
                    .rev()
                    .map(|e| (e.name.clone(), e.kind))
                    .collect(),
            });
        }
        Some((entries, None))
    }
}

fn is_jsonl(name: &OsString) -> bool {
    Path::new(name).extension().is_some_and(|e| e == "jsonl")
}

/// A directory entry a walk looks at: its name and kind, and when just listed the entry (for
/// a `stat` relative to its directory).
struct Entry {
    name: OsString,
    kind: EntryKind,
    entry: Option<fs::DirEntry>,
}

/// The entries of `dir` a walk looks at, in reverse name order, and whether that is all of
/// them; `None` (counted and logged) when it cannot be listed. An error mid-listing ends it
/// (counted and logged too) with the entries read so far; an entry whose type cannot be had
/// is skipped; either way the listing is not whole.
fn list(dir: &Path, unreadable_dirs: &mut usize) -> Option<(Vec<Entry>, bool)> {
    let warn = |e: &io::Error| {
        tracing::warn!(path = %dir.display(), error = %e, "cannot list transcript directory");
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            warn(&e);
            *unreadable_dirs += 1;
            return None;
        }
    };
    let mut list = Vec::new();
    let mut complete = true;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                warn(&e);
                *unreadable_dirs += 1;
                complete = false;
                break;
            }
        };
        // The type comes with the listing on most file systems (no `stat`).
        let file_type: FileType = match entry.file_type() {
            Ok(file_type) => file_type,
            Err(e) => {
                tracing::debug!(path = %entry.path().display(), error = %e, "skipping an entry");
                complete = false;
                continue;
            }
        };
        let name = entry.file_name();
        let kind = if file_type.is_symlink() {
            EntryKind::Symlink
        } else if file_type.is_dir() {
            EntryKind::Dir
        } else if file_type.is_file() && is_jsonl(&name) {
            EntryKind::File
        } else {
            continue;
        };
        list.push(Entry {
            name,
            kind,
            entry: Some(entry),
        });
    }
    list.sort_unstable_by(|a, b| b.name.cmp(&a.name));
    Some((list, complete))
}

/// Marks a directory as visited; false when it was already.
fn enter(dir: &Path, metadata: &FileMeta, visited: &mut HashSet<NodeId>) -> bool {
    match node_id(dir, metadata) {
        Some(id) => visited.insert(id),
        // Without an identity a loop cannot be detected: only enter real directories.
        None => fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_follows_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let projects = dir.path().join("projects/p");
        fs::create_dir_all(&projects).unwrap();
        for (name, len) in [("b.jsonl", 3), ("a.jsonl", 1), ("c.txt", 2), ("d.jsonl", 4)] {
            fs::write(projects.join(name), vec![b'x'; len]).unwrap();
        }
        let roots = [dir.path().to_path_buf(), dir.path().to_path_buf()];
        let (discovery, metadata) = discover_with_metadata(&roots);
        assert_eq!(discovery, discover(&roots));
        let lens: Vec<u64> = metadata.iter().map(|m| m.len).collect();
        assert_eq!(lens, [1, 3, 4]);
    }

    /// The files handed over one by one are the result's, in its order, each once: with one
    /// root (handed over during the walk) and with several.
    #[cfg(unix)]
    #[test]
    fn each_file_is_handed_over_once_in_the_results_order() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one");
        let two = dir.path().join("two");
        for (file, len) in [
            ("one/projects/p/b.jsonl", 3),
            ("one/projects/p/a.jsonl", 1),
            ("one/projects/p/s/subagents/agent-1.jsonl", 5),
            ("one/projects/q/c.jsonl", 0),
            ("two/projects/p/a.jsonl", 2),
            ("two/projects/z/d.jsonl", 4),
        ] {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, vec![b'x'; len]).unwrap();
        }
        // The same file through a symlinked directory, a symlink, a hard link, and a hard link
        // in another root.
        std::os::unix::fs::symlink(one.join("projects/q"), one.join("projects/r")).unwrap();
        std::os::unix::fs::symlink(
            one.join("projects/p/a.jsonl"),
            one.join("projects/p/l.jsonl"),
        )
        .unwrap();
        fs::hard_link(
            one.join("projects/p/b.jsonl"),
            one.join("projects/q/h.jsonl"),
        )
        .unwrap();
        fs::hard_link(
            one.join("projects/p/b.jsonl"),
            two.join("projects/p/0.jsonl"),
        )
        .unwrap();
        for roots in [
            vec![one.clone()],
            vec![one.clone(), one.clone()],
            vec![two.clone(), one.clone()],
            vec![one.clone(), two.clone()],
        ] {
            let mut handed: Vec<(PathBuf, FileMeta)> = Vec::new();
            let (discovery, metadata, _) = discover_each(&roots, &Listings::default(), |p, m| {
                handed.push((p.to_path_buf(), *m));
            });
            let expected: Vec<(PathBuf, FileMeta)> = discovery
                .files
                .iter()
                .cloned()
                .zip(metadata.iter().copied())
                .collect();
            assert_eq!(handed, expected, "{roots:?}");
            assert_eq!((discovery, metadata), discover_with_metadata(&roots));
        }
        let (one_root, _) = discover_with_metadata(std::slice::from_ref(&one));
        assert_eq!(
            one_root.files,
            [
                "p/a.jsonl",
                "p/b.jsonl",
                "p/s/subagents/agent-1.jsonl",
                "q/c.jsonl"
            ]
            .map(|f| one.join("projects").join(f))
        );
    }

    /// An entry of a reused listing is looked up from an opened directory at or above it;
    /// what that gives is what listing the directory gives (the ledger compares the two
    /// across runs): deeper than one handle serves, and through a symbolic link to a
    /// directory outside `projects`, whose entries are looked up through the link.
    #[cfg(unix)]
    #[test]
    fn a_reused_listing_gives_the_same_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let projects = dir.path().join("projects");
        let files = [
            ("d/1/2/3/4/5/6/deep.jsonl", 7),
            ("p/a.jsonl", 3),
            ("p/s/subagents/agent-1.jsonl", 5),
            ("q/b.jsonl", 0),
        ];
        for (file, len) in files {
            let path = projects.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, vec![b'x'; len]).unwrap();
        }
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir_all(elsewhere.join("x")).unwrap();
        fs::write(elsewhere.join("x/c.jsonl"), b"123456789").unwrap();
        std::os::unix::fs::symlink(&elsewhere, projects.join("r")).unwrap();
        let roots = [dir.path().to_path_buf()];
        let (fresh, fresh_meta, mut listings) =
            discover_with_listings(&roots, &Listings::default());
        // As if listed well after the directories' last change.
        listings.started.0 += 1800;
        let (reused, reused_meta, relisted) = discover_with_listings(&roots, &listings);
        assert_eq!(reused, fresh);
        assert_eq!(reused_meta, fresh_meta);
        assert_eq!(relisted.dirs, listings.dirs, "every listing was reused");
        assert_eq!(fresh.files.last(), Some(&projects.join("r/x/c.jsonl")));
        assert_eq!(
            fresh_meta.iter().map(|m| m.len).collect::<Vec<_>>(),
            [7, 3, 5, 0, 9]
        );
        assert!(fresh_meta.iter().all(|m| m.is_file() && !m.is_dir()));
    }

    /// A path below an opened directory is looked up by the rest of it; a path that does not
    /// begin with the directory's is looked up whole. A handle serves the directories up to
    /// `MAX_BELOW` levels below it; one further down is opened itself.
    #[cfg(unix)]
    #[test]
    fn a_path_below_an_opened_directory_is_looked_up_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("top");
        fs::create_dir_all(top.join("a/b")).unwrap();
        fs::write(top.join("a/b/f.jsonl"), b"xy").unwrap();
        let open = OpenDir::open(&top, None).unwrap();
        let rest = |p: &Path| open.rest(p).map(|r| r.to_str().unwrap().to_owned());
        assert_eq!(rest(&top.join("a/b")).as_deref(), Some("a/b"));
        assert_eq!(rest(&top), None);
        assert_eq!(rest(&dir.path().join("topmost")), None);
        assert_eq!(rest(&dir.path().join("other/a")), None);
        assert_eq!(open.stat(&top.join("a/b/f.jsonl")).unwrap().len, 2);
        assert_eq!(open.stat(&top).unwrap().kind, MetaKind::Dir);
        // A handle opened at a path with a trailing slash.
        let slashed = OpenDir::open(&dir.path().join("top/"), None).unwrap();
        assert_eq!(
            slashed.fd.1.as_os_str().as_encoded_bytes().last(),
            Some(&b'/')
        );
        assert_eq!(
            slashed.rest(&top.join("a")).and_then(|r| r.to_str()),
            Some("a")
        );
        assert_eq!(slashed.stat(&top.join("a/b/f.jsonl")).unwrap().len, 2);
        // Up to `MAX_BELOW` levels down, the same handle.
        let deep = top.join("a/b");
        let below = OpenDir::below(&deep, Some(&open)).unwrap();
        assert!(std::rc::Rc::ptr_eq(&below.fd, &open.fd));
        assert_eq!(below.stat(&deep.join("f.jsonl")).unwrap().len, 2);
        let mut far = top.clone();
        for level in 0..OpenDir::MAX_BELOW {
            far.push(format!("{level}"));
        }
        let served = OpenDir::below(&far, Some(&open)).unwrap();
        assert!(std::rc::Rc::ptr_eq(&served.fd, &open.fd));
        // One level further: that directory is opened (relative to the handle) and serves
        // what is below it.
        far.push("last");
        fs::create_dir_all(&far).unwrap();
        fs::write(far.join("f.jsonl"), b"xyz").unwrap();
        let reopened = OpenDir::below(&far, Some(&open)).unwrap();
        assert!(!std::rc::Rc::ptr_eq(&reopened.fd, &open.fd));
        assert_eq!(reopened.fd.1, far);
        assert_eq!(
            reopened.rest(&far.join("f.jsonl")).and_then(|r| r.to_str()),
            Some("f.jsonl")
        );
        assert_eq!(reopened.stat(&far.join("f.jsonl")).unwrap().len, 3);
    }

    fn names(discovery: &Discovery, root: &Path) -> Vec<String> {
        discovery
            .files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().display().to_string())
            .collect()
    }

    /// A later walk reuses the listing of a directory that did not change (shown by a
    /// listing doctored to leave a file out), lists again one that changed, and does not
    /// trust a listing made within `SETTLED` of the directory's last change.
    #[cfg(unix)]
    #[test]
    fn unchanged_directories_are_not_listed_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let projects = root.join("projects");
        for file in [
            "p/a.jsonl",
            "p/b.jsonl",
            "q/s/subagents/agent-1.jsonl",
            "r/c.jsonl",
        ] {
            let path = projects.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, b"x").unwrap();
        }
        let roots = [root.clone()];
        let (first, _, listings) = discover_with_listings(&roots, &Listings::default());
        assert_eq!(
            names(&first, &projects),
            [
                "p/a.jsonl",
                "p/b.jsonl",
                "q/s/subagents/agent-1.jsonl",
                "r/c.jsonl"
            ]
        );
        let listed: Vec<&Path> = listings.dirs.iter().map(|l| l.path.as_path()).collect();
        let expected: Vec<PathBuf> = ["", "p", "q", "q/s", "q/s/subagents", "r"]
            .iter()
            .map(|d| {
                if d.is_empty() {
                    projects.clone()
                } else {
                    projects.join(d)
                }
            })
            .collect();
        assert_eq!(
            listed,
            expected.iter().map(PathBuf::as_path).collect::<Vec<_>>()
        );

        // The listings of `p` and `q/s/subagents` leave a file out; `r` gets a new file.
        let mut doctored = listings.clone();
        for listing in &mut doctored.dirs {
            if listing.path.ends_with("p") || listing.path.ends_with("subagents") {
                listing.entries.remove(0);
            }
        }
        fs::write(projects.join("r/d.jsonl"), b"y").unwrap();

        // Made just now: not settled, so every directory is listed again.
        let (again, _, _) = discover_with_listings(&roots, &doctored);
        assert_eq!(names(&again, &projects), {
            let mut all = names(&first, &projects);
            all.push("r/d.jsonl".to_owned());
            all
        });

        // As if made well after the directories' last change: the doctored listings of the
        // unchanged directories stand; `r` changed, so it is listed again.
        doctored.started.0 += 1800;
        let (later, metadata, relisted) = discover_with_listings(&roots, &doctored);
        assert_eq!(
            names(&later, &projects),
            ["p/b.jsonl", "r/c.jsonl", "r/d.jsonl"]
        );
        assert_eq!(metadata.len(), 3);
        let r = relisted
            .dirs
            .iter()
            .find(|l| l.path.ends_with("r"))
            .unwrap();
        assert_eq!(r.entries.len(), 2);
        assert!(relisted.worth_keeping(&doctored));

        // Listings older than MAX_AGE (or that far ahead) do not serve: everything is
        // listed again, and the new listings are worth keeping.
        for shift in [
            -(MAX_AGE.as_secs() as i64) - 10,
            MAX_AGE.as_secs() as i64 + 10,
        ] {
            let mut old = doctored.clone();
            old.started.0 += shift;
            let (all, _, fresh) = discover_with_listings(&roots, &old);
            assert_eq!(all.files.len(), 5, "shifted by {shift}");
            assert!(fresh.worth_keeping(&old));
        }
    }
}
