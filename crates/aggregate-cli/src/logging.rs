//! The one tracing subscriber of the program: stderr, `RUST_LOG` overrides the default level,
//! and every formatted line passes through [`redact::redact`] before it is written, at every
//! level including `trace` and for every crate's events (reqwest and hyper included).

use std::io::{self, Write};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The default amount of logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Warnings and errors.
    Quiet,
    /// Warnings and errors too (the run's summary line is not a log line).
    Normal,
}

/// Installs the subscriber. `RUST_LOG` takes precedence over `verbosity`.
pub fn init(verbosity: Verbosity) {
    let default = match verbosity {
        Verbosity::Quiet | Verbosity::Normal => "warn",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr)
        .with_ansi(false)
        .with_target(true)
        .try_init();
}

/// Makes one [`RedactingWriter`] per event.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingWriter<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter::new(io::stderr())
    }
}

/// Collects one formatted event and writes it, redacted, when dropped: a secret is never
/// written even if the formatter hands the line over in several pieces.
#[derive(Debug)]
pub struct RedactingWriter<W: Write> {
    buffer: Vec<u8>,
    inner: W,
}

impl<W: Write> RedactingWriter<W> {
    /// A writer that forwards redacted text to `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            buffer: Vec::with_capacity(256),
            inner,
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let clean = redact::redact(&text);
        let result = self.inner.write_all(clean.as_bytes());
        self.buffer.clear();
        result
    }
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    /// Buffered text is written at the end of the event, not on flush: the formatter may flush
    /// in the middle of a line.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = self.emit();
        let _ = self.inner.flush();
    }
}

/// Installs a panic hook that prints the panic message and location redacted (a panic message
/// may quote a value), instead of the default hook's raw text.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let text =
            format!("aggregate: internal error (a bug; please report it): {payload}{location}\n");
        let _ = io::stderr().write_all(redact::redact(&text).as_bytes());
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_of_one_event_are_redacted_together() {
        let mut out = Vec::new();
        {
            let mut writer = RedactingWriter::new(&mut out);
            writer
                .write_all(b"request failed: Authorization: Bearer sk-ant-oat01-FA")
                .unwrap();
            writer.flush().unwrap();
            writer.write_all(b"KEFAKEFAKE\n").unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("FAKE"), "{text}");
        assert!(
            text.starts_with("request failed: Authorization: [REDACTED]"),
            "{text}"
        );
    }

    #[test]
    fn lines_without_secrets_pass_unchanged() {
        let mut out = Vec::new();
        {
            let mut writer = RedactingWriter::new(&mut out);
            writer
                .write_all(b"scanned 3 files, input_tokens=12\n")
                .unwrap();
        }
        assert_eq!(out, b"scanned 3 files, input_tokens=12\n");
    }
}
