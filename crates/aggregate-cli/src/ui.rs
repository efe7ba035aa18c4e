//! Everything the program prints for a person goes through here, and through
//! [`redact::redact`] on the way out: status lines, warnings, errors with their causes, and
//! clap's messages (which quote argument values).

#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::Write;
use std::process::ExitCode;

/// A progress or summary line on stderr (suppressed by `--quiet`).
pub fn status(quiet: bool, line: &str) {
    if !quiet {
        stderr(&format!("aggregate: {line}\n"));
    }
}

/// A warning for the user on stderr.
pub fn warn(line: &str) {
    stderr(&format!("aggregate: warning: {line}\n"));
}

/// A line of regular output on stdout; a closed pipe is not an error.
pub fn out(line: &str) {
    let text = format!("{line}\n");
    let _ = std::io::stdout()
        .lock()
        .write_all(redact::redact(&text).as_bytes());
}

/// Prints an error with its chain of causes.
pub fn error_chain(err: &anyhow::Error) {
    let mut text = format!("aggregate: error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text.push('\n');
    stderr(&text);
}

/// Prints a command-line error (or help/version) the way clap would, and returns its exit code.
pub fn clap_error(err: &clap::Error) -> ExitCode {
    let text = err.render().to_string();
    if err.use_stderr() {
        stderr(&text);
    } else {
        let _ = std::io::stdout()
            .lock()
            .write_all(redact::redact(&text).as_bytes());
    }
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

fn stderr(text: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(redact::redact(text).as_bytes());
}
