//! Finding the transcript files under the roots.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, FileType, Metadata};
use std::io;
use std::path::{Path, PathBuf};

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
fn node_id(_path: &Path, metadata: &Metadata) -> Option<NodeId> {
    use std::os::unix::fs::MetadataExt;
    Some((metadata.dev(), metadata.ino()))
}

#[cfg(not(unix))]
fn node_id(path: &Path, _metadata: &Metadata) -> Option<NodeId> {
    fs::canonicalize(path).ok()
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
pub fn discover_with_metadata(roots: &[PathBuf]) -> (Discovery, Vec<Metadata>) {
    let mut discovery = Discovery::default();
    let mut visited: HashSet<NodeId> = HashSet::new();
    let mut found: Vec<Found> = Vec::new();
    let mut seen_roots: HashSet<&Path> = HashSet::new();
    for root in roots {
        if !seen_roots.insert(root.as_path()) {
            continue;
        }
        let projects = root.join("projects");
        match fs::metadata(&projects) {
            Ok(metadata) if metadata.is_dir() => {
                discovery.existing_roots.push(root.clone());
                walk(
                    projects,
                    &metadata,
                    &mut visited,
                    &mut found,
                    &mut discovery.unreadable_dirs,
                );
            }
            Ok(_) => discovery.missing_roots.push(root.clone()),
            Err(e) if is_missing(&e) => discovery.missing_roots.push(root.clone()),
            Err(e) => {
                tracing::warn!(path = %projects.display(), error = %e, "cannot open transcript directory");
                discovery.existing_roots.push(root.clone());
                discovery.unreadable_dirs += 1;
            }
        }
    }
    // Each root's walk lists its files in path order already; only several roots can interleave.
    if !found.is_sorted_by(|a, b| a.0 <= b.0) {
        found.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut seen_files: HashSet<NodeId> = HashSet::new();
    let mut metadata = Vec::with_capacity(found.len());
    for (path, id, meta) in found {
        let new = match id {
            Some(id) => seen_files.insert(id),
            None => true,
        };
        if new && discovery.files.last() != Some(&path) {
            discovery.files.push(path);
            metadata.push(meta);
        }
    }
    (discovery, metadata)
}

/// A file found: its path, identity and metadata.
type Found = (PathBuf, Option<NodeId>, Metadata);

fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// Walks `top` depth first, each directory's entries in name order, so that files come out
/// sorted by path (component by component) without sorting the whole list.
fn walk(
    top: PathBuf,
    top_metadata: &Metadata,
    visited: &mut HashSet<NodeId>,
    found: &mut Vec<Found>,
    unreadable_dirs: &mut usize,
) {
    if !enter(&top, top_metadata, visited) {
        return;
    }
    // Directories being walked, each with its entries still to visit (in reverse name order,
    // so that `pop` gives the next one).
    let mut stack: Vec<(PathBuf, Vec<Entry>)> = Vec::new();
    if let Some(entries) = list(&top, unreadable_dirs) {
        stack.push((top, entries));
    }
    while let Some((dir, entries)) = stack.last_mut() {
        let Some(Entry {
            name,
            file_type,
            entry,
        }) = entries.pop()
        else {
            stack.pop();
            continue;
        };
        let path = dir.join(&name);
        let is_jsonl = Path::new(&name).extension().is_some_and(|e| e == "jsonl");
        // Only directories, transcripts and symlinks (which may point at either) need a
        // `stat`; a real entry is looked up relative to its open directory, not by path.
        let metadata = if file_type.is_symlink() {
            // Follows the link; a dangling one is skipped.
            fs::metadata(&path)
        } else if file_type.is_dir() || (file_type.is_file() && is_jsonl) {
            entry.metadata()
        } else {
            continue;
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
            if enter(&path, &metadata, visited)
                && let Some(entries) = list(&path, unreadable_dirs)
            {
                stack.push((path, entries));
            }
        } else if metadata.is_file() && is_jsonl {
            let id = node_id(&path, &metadata);
            found.push((path, id, metadata));
        }
    }
}

/// A directory entry with its name and type, as listed.
struct Entry {
    name: OsString,
    file_type: FileType,
    /// Kept for its `metadata`, which looks the name up in the open directory.
    entry: fs::DirEntry,
}

/// The entries of `dir` with their types, in reverse name order; `None` (counted and logged)
/// when it cannot be listed. An entry that fails mid-listing ends the listing the same way.
fn list(dir: &Path, unreadable_dirs: &mut usize) -> Option<Vec<Entry>> {
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
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                warn(&e);
                *unreadable_dirs += 1;
                break;
            }
        };
        // The type comes with the listing on most file systems (no `stat`).
        match entry.file_type() {
            Ok(file_type) => list.push(Entry {
                name: entry.file_name(),
                file_type,
                entry,
            }),
            Err(e) => {
                tracing::debug!(path = %entry.path().display(), error = %e, "skipping an entry");
            }
        }
    }
    list.sort_unstable_by(|a, b| b.name.cmp(&a.name));
    Some(list)
}

/// Marks a directory as visited; false when it was already.
fn enter(dir: &Path, metadata: &Metadata, visited: &mut HashSet<NodeId>) -> bool {
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
        let lens: Vec<u64> = metadata.iter().map(Metadata::len).collect();
        assert_eq!(lens, [1, 3, 4]);
    }
}
