//! Everything the program prints passes through redaction: errors, clap messages, panics, and
//! `aggregate redact` itself.

use std::io::Write;
use std::process::Stdio;

use crate::support::{aggregate, run};

const TOKEN: &str = "sk-ant-oat01-FAKEsecretFAKEsecretFAKEsecretFAKEsecret";

#[test]
fn flag_values_quoted_in_errors_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["run", "--no-oauth", "--timezone", TOKEN],
        vec!["run", "--no-oauth", "--now", TOKEN],
        vec!["run", "--no-oauth", "--plan", TOKEN],
        vec![
            "run",
            "--oauth-base-url",
            &format!("https://{TOKEN}.example"),
        ],
        vec!["run", TOKEN],
        vec!["validate", TOKEN],
    ] {
        let result = run(aggregate(dir.path(), dir.path()).args(&args));
        assert_ne!(result.code, Some(0), "{args:?}");
        assert!(
            !result.stderr.contains("FAKEsecret"),
            "{args:?}: {}",
            result.stderr
        );
        assert!(
            result.stderr.contains("[REDACTED]"),
            "{args:?}: {}",
            result.stderr
        );
    }
}

#[test]
fn panic_messages_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(aggregate(dir.path(), dir.path()).args([
        "debug-panic",
        &format!("boom Authorization: Bearer {TOKEN}"),
    ]));
    assert_eq!(result.code, Some(101));
    assert!(
        result.stderr.contains("internal error"),
        "{}",
        result.stderr
    );
    assert!(
        result.stderr.contains("boom Authorization: [REDACTED]"),
        "{}",
        result.stderr
    );
    assert!(!result.stderr.contains("FAKEsecret"), "{}", result.stderr);
}

#[test]
fn redact_command_streams_stdin_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = aggregate(dir.path(), dir.path())
        .arg("redact")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for i in 0..20_000 {
        input.push_str(&format!("line {i} input_tokens={i} ok\n"));
        if i % 1000 == 0 {
            input.push_str(&format!(
                "{{\"accessToken\":\"{TOKEN}\",\"output_tokens\":{i}}}\n"
            ));
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    let feeder = {
        let input = input.clone();
        std::thread::spawn(move || stdin.write_all(input.as_bytes()))
    };
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains("FAKEsecret"));
    assert_eq!(
        text.matches("\"accessToken\":\"[REDACTED]\",\"output_tokens\":")
            .count(),
        20
    );
    assert_eq!(text.lines().count(), input.lines().count());
    assert!(text.contains("line 19999 input_tokens=19999 ok\n"));
}
