//! Repository hygiene, checked by `cargo test`: every tracked text file is ASCII (fixtures may
//! hold deliberate UTF-8), uses LF line endings, has no trailing whitespace and ends with a
//! newline.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Files git knows about (tracked or new and not ignored).
fn files() -> Vec<PathBuf> {
    let root = repo_root();
    let output = Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .current_dir(&root)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git ls-files failed");
    output
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
        .filter(|p| p.is_file())
        .collect()
}

const TEXT_EXTENSIONS: &[&str] = &[
    "rs", "toml", "md", "json", "jsonl", "yml", "yaml", "sh", "html", "css", "js", "mjs", "txt",
    "snap", "svg",
];

fn is_text(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if matches!(name, "run" | ".gitignore") {
        return true;
    }
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| TEXT_EXTENSIONS.contains(&e))
}

/// Fixture data may carry deliberate UTF-8 (and deliberately broken bytes, which such files
/// are excluded for: they are test inputs, not text).
fn is_fixture(path: &Path) -> bool {
    let rel = path.strip_prefix(repo_root()).unwrap_or(path);
    rel.components()
        .any(|c| c.as_os_str() == "fixtures" || c.as_os_str() == "corpus")
}

fn problems(path: &Path, bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let fixture = is_fixture(path);
    if fixture && path.extension().is_some_and(|e| e == "jsonl") {
        // Transcript fixtures reproduce real files, CRLF and bad bytes included.
        return found;
    }
    if !fixture && !bytes.is_ascii() {
        found.push("non-ASCII bytes".to_owned());
    }
    if fixture && std::str::from_utf8(bytes).is_err() {
        found.push("invalid UTF-8".to_owned());
    }
    if bytes.contains(&b'\r') {
        found.push("CR (use LF line endings)".to_owned());
    }
    if !bytes.is_empty() && !bytes.ends_with(b"\n") {
        found.push("no newline at end of file".to_owned());
    }
    for (number, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.ends_with(b" ") || line.ends_with(b"\t") {
            found.push(format!("trailing whitespace on line {}", number + 1));
        }
    }
    found
}

#[test]
fn text_files_are_tidy() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in files().into_iter().filter(|p| is_text(p)) {
        let bytes = std::fs::read(&path).expect("readable");
        checked += 1;
        for problem in problems(&path, &bytes) {
            failures.push(format!("{}: {problem}", path.display()));
        }
    }
    assert!(checked > 10, "tidy found only {checked} files");
    assert!(
        failures.is_empty(),
        "untidy files:\n{}",
        failures.join("\n")
    );
}

#[test]
fn tidy_catches_each_problem() {
    let src = repo_root().join("crates/x/src/lib.rs");
    assert_eq!(problems(&src, b"fn main() {}\n"), Vec::<String>::new());
    assert_eq!(
        problems(&src, "caf\u{e9}\n".as_bytes()),
        ["non-ASCII bytes"]
    );
    assert_eq!(problems(&src, b"a\r\n"), ["CR (use LF line endings)"]);
    assert_eq!(problems(&src, b"a"), ["no newline at end of file"]);
    assert_eq!(
        problems(&src, b"a \nb\n"),
        ["trailing whitespace on line 1"]
    );
    let fixture = repo_root().join("fixtures/x.json");
    assert_eq!(
        problems(&fixture, "\"caf\u{e9}\"\n".as_bytes()),
        Vec::<String>::new()
    );
}
