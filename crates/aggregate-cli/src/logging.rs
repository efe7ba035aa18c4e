//! The one tracing subscriber of the program: stderr, `RUST_LOG` overrides the default level.

use tracing_subscriber::EnvFilter;

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
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(true)
        .try_init();
}
