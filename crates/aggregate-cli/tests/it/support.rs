//! Running the binary hermetically.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const NOW: &str = "2026-11-28T12:00:00Z";

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn fixture_root(name: &str) -> PathBuf {
    repo_root().join("fixtures/transcripts").join(name)
}

/// A command for the binary with an empty environment, `HOME` set to a fake home (so the real
/// one is never read), the state directory (the usage ledger) under `cwd/.state` (so a fake
/// home is never written) and the working directory set to `cwd`.
pub(crate) fn aggregate(cwd: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aggregate"));
    cmd.env_clear()
        .env("HOME", home)
        .env("XDG_STATE_HOME", cwd.join(".state"))
        .env("TZ", "UTC")
        .current_dir(cwd);
    cmd
}

/// Stdout and stderr as text.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("the binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// The fixture run: both roots, the fixed clock, no live reading.
pub(crate) fn fixture_args(cmd: &mut Command) -> &mut Command {
    cmd.arg("run")
        .arg("--no-oauth")
        .arg("--claude-dir")
        .arg(fixture_root("root-a"))
        .arg("--claude-dir")
        .arg(fixture_root("root-b"))
        .args(["--now", NOW])
}

pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
