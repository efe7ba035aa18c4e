//! Writing the output file atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `bytes` to `path` atomically: a temp file in the same directory, renamed over
/// `path`. A reader sees the old file or the new one, never half of one; on any error the old
/// file is left as it was and the temp file is removed.
///
/// Not flushed to disk (no `fsync`): the file is derived data that the next scheduled run
/// writes again, and a flush on every run (every few minutes) costs a disk write and about
/// 1.5 ms of a 35 ms warm run for nothing a reader can see. After a power cut the file may
/// be the previous one (ext4 and btrfs write a file's data before a rename over an older
/// file commits).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file path", path.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    set_readable(tmp.as_file());
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The output is read by a browser through a local server: make it 0644 rather than the temp
/// file's 0600.
#[cfg(unix)]
fn set_readable(file: &std::fs::File) {
    use std::os::unix::fs::PermissionsExt;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
}

#[cfg(not(unix))]
fn set_readable(_file: &std::fs::File) {}
