//! Transcript trees, lines and the comparison with a full scan.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use claude_logs::{ScanOptions, scan_roots};
use usage_ledger::{IncrementalScan, LedgerOptions, scan_incremental_with};

/// An assistant usage line.
pub(crate) fn usage_line(
    message: Option<&str>,
    request: Option<&str>,
    sidechain: bool,
    output: u64,
    second: u32,
) -> String {
    let mut line = format!(
        r#"{{"parentUuid":null,"isSidechain":{sidechain},"cwd":"/home/me/work/app","sessionId":"s-1","message":{{"#
    );
    if let Some(m) = message {
        line.push_str(&format!(r#""id":"{m}","#));
    }
    line.push_str(&format!(
        r#""model":"claude-sonnet-4-5-20250929","content":[{{"type":"text","text":"hi"}}],"usage":{{"input_tokens":3,"cache_creation_input_tokens":10,"cache_read_input_tokens":100,"cache_creation":{{"ephemeral_5m_input_tokens":4,"ephemeral_1h_input_tokens":6}},"output_tokens":{output}}}}},"#
    ));
    if let Some(r) = request {
        line.push_str(&format!(r#""requestId":"{r}","#));
    }
    line.push_str(&format!(
        r#""type":"assistant","timestamp":"2026-11-28T09:{:02}:{:02}.000Z"}}"#,
        second / 60 % 60,
        second % 60
    ));
    line
}

/// A user line (not usage).
pub(crate) fn user_line(text: &str) -> String {
    format!(r#"{{"type":"user","message":{{"role":"user","content":"{text}"}}}}"#)
}

/// A root with a `projects/` directory in a temp dir, and a state dir beside it.
pub(crate) struct Tree {
    pub(crate) dir: tempfile::TempDir,
    /// Distinct modification times for every write (the file system clock is coarse).
    clock: std::cell::Cell<u64>,
}

impl Tree {
    pub(crate) fn new() -> Self {
        let tree = Self {
            dir: tempfile::tempdir().unwrap(),
            clock: std::cell::Cell::new(0),
        };
        fs::create_dir_all(tree.projects()).unwrap();
        tree
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub(crate) fn roots(&self) -> Vec<PathBuf> {
        vec![self.root()]
    }

    pub(crate) fn projects(&self) -> PathBuf {
        self.root().join("projects")
    }

    pub(crate) fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `projects/<name>`.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.projects().join(name)
    }

    fn touch(&self, path: &Path) {
        let tick = self.clock.get() + 1;
        self.clock.set(tick);
        let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + tick);
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    /// Appends `bytes` to `projects/<name>` (created, with its directory, when missing).
    pub(crate) fn append(&self, name: &str, bytes: &[u8]) {
        let path = self.file(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(bytes).unwrap();
        drop(file);
        self.touch(&path);
    }

    /// Replaces the content in place (same inode).
    pub(crate) fn rewrite(&self, name: &str, bytes: &[u8]) {
        let path = self.file(name);
        fs::write(&path, bytes).unwrap();
        self.touch(&path);
    }

    /// Cuts the file to `len` bytes.
    pub(crate) fn truncate(&self, name: &str, len: u64) {
        let path = self.file(name);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len)
            .unwrap();
        self.touch(&path);
    }

    /// The incremental scan with two threads.
    pub(crate) fn scan(&self) -> IncrementalScan {
        self.scan_with(&LedgerOptions::default())
    }

    pub(crate) fn scan_with(&self, ledger: &LedgerOptions) -> IncrementalScan {
        scan_incremental_with(&self.state(), &self.roots(), &options(), ledger).unwrap()
    }

    /// Checks `inc` against a full scan of the tree as it is now.
    #[track_caller]
    pub(crate) fn assert_parity(&self, inc: &IncrementalScan) {
        let (discovery, full) = scan_roots(&self.roots(), &options());
        assert_eq!(inc.discovery, discovery);
        assert_eq!(inc.events, full.events);
        assert_eq!(inc.stats, full.stats);
    }

    pub(crate) fn ledger(&self) -> PathBuf {
        usage_ledger::ledger_path(&self.state(), &self.roots())
    }
}

/// Small reads, so that lines span them, and the test lines of other kinds passed by as long
/// ones are (see `ScanOptions::long_line_bytes`).
pub(crate) fn options() -> ScanOptions {
    ScanOptions {
        threads: 2,
        buffer_bytes: 256,
        long_line_bytes: 40,
        ..ScanOptions::default()
    }
}

/// Lines joined with newlines, each terminated.
pub(crate) fn lines(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}
