//! Everything the program prints for a person goes through here: one place to keep it
//! consistent (and safe).

#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::Write;
use std::process::ExitCode;

/// A progress or summary line on stderr (suppressed by `--quiet`).
pub fn status(quiet: bool, line: &str) {
    if !quiet {
        let _ = writeln!(std::io::stderr().lock(), "aggregate: {line}");
    }
}

/// A warning for the user on stderr.
pub fn warn(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "aggregate: warning: {line}");
}

/// A line of regular output on stdout; a closed pipe is not an error.
pub fn out(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Prints an error with its chain of causes.
pub fn error_chain(err: &anyhow::Error) {
    let mut text = format!("aggregate: error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Prints a command-line error (or help/version) the way clap would, and returns its exit code.
pub fn clap_error(err: &clap::Error) -> ExitCode {
    let text = err.render().to_string();
    if err.use_stderr() {
        let _ = write!(std::io::stderr().lock(), "{text}");
    } else {
        let _ = write!(std::io::stdout().lock(), "{text}");
    }
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}
