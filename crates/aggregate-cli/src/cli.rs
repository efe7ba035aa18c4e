//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Exit status:
  0  success
  1  failure: the run could not complete (the previous output is left untouched),
     or `validate` found the file invalid
  2  bad command line or flag value (nothing is written)
  101 internal error (a bug: please report it)

Logging: RUST_LOG=debug (or trace) for details on stderr.";

/// Claude Code usage for the AI OS dashboard: scans local transcripts and writes
/// `live-data.json`.
#[derive(Debug, Parser)]
#[command(name = "aggregate", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Only print errors and warnings.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The default log level for this invocation (`RUST_LOG` overrides it).
    pub fn verbosity(&self) -> crate::logging::Verbosity {
        if self.quiet {
            crate::logging::Verbosity::Quiet
        } else {
            crate::logging::Verbosity::Normal
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan the transcripts, estimate the usage windows and write live-data.json.
    #[command(after_help = AFTER_HELP)]
    Run(Box<RunArgs>),
    /// Check a live-data.json file against the schema; list every error with its JSON path.
    #[command(after_help = AFTER_HELP)]
    Validate(ValidateArgs),
    /// Serve the usage panel and live-data.json over HTTP on the loopback interface; prints
    /// the URL as the first line on stdout. Ctrl-C stops it.
    #[command(after_help = AFTER_HELP)]
    Serve(crate::serve::ServeArgs),
    /// Copy stdin to stdout with every credential replaced by [REDACTED] (tokens, API keys,
    /// Authorization and Cookie headers, secret JSON fields), to clean a log or a transcript
    /// before attaching it to a bug report. Streams: memory stays constant on any input.
    Redact,
    /// Panics with MESSAGE: checks that panic messages are redacted too.
    #[command(hide = true)]
    DebugPanic {
        /// The panic message.
        message: String,
    },
}

/// `aggregate run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Where to write the file (written atomically: a temp file in the same directory, then a
    /// rename, so a reader never sees half a file and a failed run leaves the old file).
    #[arg(
        long,
        short,
        value_name = "PATH",
        env = "AIOS_LIVE_DATA",
        default_value = "live-data.json"
    )]
    pub out: PathBuf,
    /// The clock for this run, RFC 3339 (e.g. 2026-11-28T12:00:00Z); default: the system clock.
    /// Fixing it makes runs reproducible.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// IANA time zone for calendar days (e.g. Europe/Berlin); default: $TZ, else the system
    /// zone, else UTC.
    #[arg(long, value_name = "IANA")]
    pub timezone: Option<String>,
    /// A Claude config directory to read transcripts from (its projects/ folder is scanned).
    /// Repeatable; replaces $CLAUDE_CONFIG_DIR and the defaults (~/.config/claude, ~/.claude).
    #[arg(long = "claude-dir", value_name = "DIR")]
    pub claude_dirs: Vec<PathBuf>,
    /// The subscription plan the estimated caps come from: pro, max5, max20 or unknown
    /// (no caps, no percentages). Default: detected, else unknown.
    #[arg(long, value_name = "PLAN")]
    pub plan: Option<String>,
    /// A price table (JSON, same format as the built-in one) layered over the built-in one: its
    /// rows are consulted first and its exact model ids win.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Worker threads for the transcript scan, 1 to 256 (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Do not ask Anthropic's usage endpoint; estimate every window from the transcripts.
    #[arg(long)]
    pub no_oauth: bool,
    /// Read every transcript from its start and ignore the usage ledger (neither read nor
    /// written): a plain full scan, to check the ledger. Responses of transcripts Claude Code
    /// has deleted are then not counted.
    #[arg(long)]
    pub rescan: bool,
    /// Base URL of the usage endpoint, for tests and development: only
    /// https://api.anthropic.com or an http:// URL on a loopback address is accepted.
    #[arg(
        long,
        value_name = "URL",
        env = "AIOS_OAUTH_BASE_URL",
        hide_env_values = true
    )]
    pub oauth_base_url: Option<String>,
    /// Where the usage ledger (every response counted so far, kept after Claude Code deletes
    /// old transcripts, so that a run reads only what is new) and the usage reader's cool-down
    /// and last reading are kept (never a credential). Created owner-only.
    /// Default: $XDG_STATE_HOME/aios-usage, else ~/.local/state/aios-usage.
    #[arg(long, value_name = "DIR", env = "AIOS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Seconds a live reading is reused without asking the endpoint again.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub oauth_freshness: u64,
    /// Seconds allowed for the whole live reading (credential, version, request), counted from
    /// the run's start, so that the run as a whole ends within them; at most 6.
    #[arg(long, value_name = "SECONDS", default_value_t = 6.0)]
    pub oauth_timeout: f64,
}

/// `aggregate validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}
