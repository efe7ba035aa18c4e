//! Per-token state kept between runs: the 429 cool-down and the last good reading.
//!
//! One file per token bucket, `oauth-usage-<key>.json`, where the key is the first 16 hex
//! characters of the token's SHA-256 (a new token is a new bucket). Files are written
//! atomically (temporary file, then rename) with mode 0600, and hold no secret.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::usage::UsageReading;

/// State files larger than this are ignored.
const MAX_STATE_BYTES: u64 = 256 * 1024;

/// How many bucket files are kept; older ones (by modification time) are removed.
const KEEP_BUCKETS: usize = 8;

const PREFIX: &str = "oauth-usage-";
const SUFFIX: &str = ".json";

/// What one bucket remembers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct BucketState {
    /// No request before this time.
    pub(crate) cooldown_until: Option<DateTime<Utc>>,
    /// The last successful reading, with its real `fetched_at`.
    pub(crate) last_reading: Option<UsageReading>,
}

/// The state directory.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The file of bucket `key`.
    pub(crate) fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{PREFIX}{key}{SUFFIX}"))
    }

    /// The bucket's state; missing, oversized or malformed files give the empty state.
    pub(crate) fn load(&self, key: &str) -> BucketState {
        let path = self.path(key);
        let Ok(file) = std::fs::File::open(&path) else {
            return BucketState::default();
        };
        let mut text = Vec::new();
        if file
            .take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut text)
            .is_err()
            || text.len() as u64 > MAX_STATE_BYTES
        {
            return BucketState::default();
        }
        serde_json::from_slice(&text).unwrap_or_else(|_| {
            tracing::debug!(path = %path.display(), "ignoring malformed state file");
            BucketState::default()
        })
    }

    /// Writes the bucket's state atomically, then prunes old buckets.
    pub(crate) fn save(&self, key: &str, state: &BucketState) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let path = self.path(key);
        let text = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
        let tmp = self
            .dir
            .join(format!(".{PREFIX}{key}{SUFFIX}.{}.tmp", std::process::id()));
        let written = write_private(&tmp, &text).and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        self.prune(&path);
        Ok(())
    }

    /// Keeps the newest [`KEEP_BUCKETS`] bucket files (always including `keep`).
    fn prune(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut buckets: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.strip_prefix(PREFIX)
                    .and_then(|rest| rest.strip_suffix(SUFFIX))
                    .is_some_and(|key| {
                        key.len() == 16 && key.bytes().all(|b| b.is_ascii_hexdigit())
                    })
            })
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .filter(|(_, p)| p != keep)
            .collect();
        buckets.sort_by_key(|b| std::cmp::Reverse(b.0));
        for (_, old) in buckets.into_iter().skip(KEEP_BUCKETS.saturating_sub(1)) {
            let _ = std::fs::remove_file(old);
        }
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            // A leftover from a crashed run with the same pid.
            std::fs::remove_file(path)?;
            options.open(path)?
        }
        Err(err) => return Err(err),
    };
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state_dir = StateDir::new(dir.path().join("nested"));
        assert_eq!(state_dir.load("0123456789abcdef"), BucketState::default());
        let state = BucketState {
            cooldown_until: DateTime::from_timestamp(1_790_000_000, 0),
            last_reading: None,
        };
        state_dir.save("0123456789abcdef", &state).expect("saves");
        assert_eq!(state_dir.load("0123456789abcdef"), state);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(state_dir.path("0123456789abcdef"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(state_dir.path("0123456789abcdef"), b"{garbage").expect("write");
        assert_eq!(state_dir.load("0123456789abcdef"), BucketState::default());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("nested"))
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn prunes_old_buckets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state_dir = StateDir::new(dir.path().to_path_buf());
        for i in 0..12u32 {
            let key = format!("{i:016x}");
            state_dir
                .save(&key, &BucketState::default())
                .expect("saves");
        }
        let other = dir.path().join("unrelated.json");
        std::fs::write(&other, b"{}").expect("write");
        state_dir
            .save("ffffffffffffffff", &BucketState::default())
            .expect("saves");
        let count = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
            .count();
        assert_eq!(count, KEEP_BUCKETS);
        assert!(state_dir.path("ffffffffffffffff").exists());
        assert!(other.exists());
    }
}
