//! Builders of transcript lines and trees.

use std::fs;
use std::path::{Path, PathBuf};

use claude_logs::{ScanOptions, ScanOutput, TokenCounts, scan};

/// One assistant line, with the fields Claude Code writes.
#[derive(Debug, Clone)]
pub(crate) struct Assistant {
    pub(crate) message_id: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) sidechain: bool,
    pub(crate) timestamp: String,
    pub(crate) model: String,
    pub(crate) tokens: TokenCounts,
    pub(crate) fast: bool,
    pub(crate) cwd: String,
    pub(crate) session_id: String,
    pub(crate) text: String,
}

impl Assistant {
    /// A response shaped like the documented sample line.
    pub(crate) fn new(message_id: &str, request_id: &str) -> Self {
        Self {
            message_id: Some(message_id.to_owned()),
            request_id: Some(request_id.to_owned()),
            sidechain: false,
            timestamp: "2025-08-30T07:16:28.537Z".to_owned(),
            model: "claude-sonnet-4-5-20250929".to_owned(),
            tokens: TokenCounts {
                input: 3,
                output: 1,
                cache_creation: 15495,
                cache_read: 0,
                cache_creation_5m: 15495,
                cache_creation_1h: 0,
            },
            fast: false,
            cwd: "/home/me/work/app".to_owned(),
            session_id: "958555ae-5d4c-4a3b-9e2f-0123456789ab".to_owned(),
            text: "Let me look at the parser.".to_owned(),
        }
    }

    pub(crate) fn output(mut self, output: u64) -> Self {
        self.tokens.output = output;
        self
    }

    pub(crate) fn sidechain(mut self, request_id: &str) -> Self {
        self.sidechain = true;
        self.request_id = Some(request_id.to_owned());
        self
    }

    pub(crate) fn at(mut self, timestamp: &str) -> Self {
        self.timestamp = timestamp.to_owned();
        self
    }

    /// The JSONL line (compact, as Claude Code writes it).
    pub(crate) fn line(&self) -> String {
        let t = &self.tokens;
        let mut usage = format!(
            r#""usage":{{"input_tokens":{},"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"cache_creation":{{"ephemeral_5m_input_tokens":{},"ephemeral_1h_input_tokens":{}}},"output_tokens":{},"service_tier":"standard""#,
            t.input,
            t.cache_creation,
            t.cache_read,
            t.cache_creation_5m,
            t.cache_creation_1h,
            t.output
        );
        if self.fast {
            usage.push_str(r#","speed":"fast""#);
        }
        usage.push('}');
        let id = self
            .message_id
            .as_ref()
            .map(|id| format!(r#""id":"{id}","#))
            .unwrap_or_default();
        let request = self
            .request_id
            .as_ref()
            .map(|r| format!(r#""requestId":"{r}","#))
            .unwrap_or_default();
        format!(
            r#"{{"parentUuid":"920b3d49-1f6e-4c1a-8d2b-aaaaaaaaaaaa","isSidechain":{},"userType":"external","cwd":"{}","sessionId":"{}","version":"2.1.14","gitBranch":"main","message":{{{id}"type":"message","role":"assistant","model":"{}","content":[{{"type":"text","text":"{}"}}],"stop_reason":null,"stop_sequence":null,{usage}}},{request}"type":"assistant","uuid":"8eef27a8-0000-4000-8000-000000000000","timestamp":"{}"}}"#,
            self.sidechain, self.cwd, self.session_id, self.model, self.text, self.timestamp
        )
    }
}

/// A user prompt line.
pub(crate) fn user_line(text: &str) -> String {
    format!(
        r#"{{"parentUuid":null,"isSidechain":false,"userType":"external","cwd":"/home/me/work/app","sessionId":"958555ae-5d4c-4a3b-9e2f-0123456789ab","version":"2.1.14","gitBranch":"main","type":"user","message":{{"role":"user","content":"{text}"}},"uuid":"11111111-0000-4000-8000-000000000000","timestamp":"2025-08-30T07:16:20.000Z"}}"#
    )
}

/// A `file-history-snapshot` line.
pub(crate) fn snapshot_line() -> String {
    r#"{"type":"file-history-snapshot","messageId":"a1","snapshot":{"messageId":"a1","trackedFileBackups":{},"timestamp":"2025-08-30T07:16:20.000Z"},"isSnapshotUpdate":false}"#.to_owned()
}

/// Writes `lines`, each followed by a newline, creating parent directories.
pub(crate) fn write_lines(path: &Path, lines: &[String]) {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    write_bytes(path, text.as_bytes());
}

pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// `<root>/projects/<slug>/<session>.jsonl`.
pub(crate) fn session_file(root: &Path, slug: &str, session: &str) -> PathBuf {
    root.join("projects")
        .join(slug)
        .join(format!("{session}.jsonl"))
}

/// `<root>/projects/<slug>/<session>/subagents/agent-<id>.jsonl`.
pub(crate) fn subagent_file(root: &Path, slug: &str, session: &str, agent: &str) -> PathBuf {
    root.join("projects")
        .join(slug)
        .join(session)
        .join("subagents")
        .join(format!("agent-{agent}.jsonl"))
}

pub(crate) fn options(threads: usize) -> ScanOptions {
    ScanOptions {
        threads,
        ..ScanOptions::default()
    }
}

/// Scans one file with one thread.
pub(crate) fn scan_file(path: &Path) -> ScanOutput {
    scan(&[path.to_path_buf()], &options(1))
}

/// Sum of the token counts of `output`.
pub(crate) fn total(output: &ScanOutput) -> TokenCounts {
    let mut sum = TokenCounts::default();
    for event in &output.events {
        sum.add(&event.tokens);
    }
    sum
}

/// A deterministic shuffle (xorshift-driven Fisher-Yates).
pub(crate) fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
