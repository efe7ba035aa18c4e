//! The `aggregate` command line: composes the transcript reader, the pure assembly and the
//! live-data contract into the scheduled job that writes `live-data.json`.

pub mod logging;
pub mod ui;

mod cli;
mod convert;
mod oauth;
mod output;
mod run;
mod serve;
mod settings;
mod validate;

pub use cli::{Cli, Command};

/// How the process ends. Documented in `aggregate --help` and README.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: the command did what was asked.
    Success,
    /// 1: the command failed (nothing was written, or the file checked is invalid).
    Failure,
    /// 2: the command line or a flag's value is wrong; nothing was written.
    Usage,
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Failure => Self::from(1),
            ExitStatus::Usage => Self::from(2),
        }
    }
}

/// An error in what the user asked for (a flag's value), as opposed to a failure while doing it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let result = match cli.command {
        Command::Run(args) => run::run(&args, cli.quiet),
        Command::Validate(args) => validate::validate(&args),
        Command::Serve(args) => serve::serve(&args, cli.quiet),
        Command::Redact => redact_stdin(),
        Command::DebugPanic { message } => panic!("{message}"),
    };
    match result {
        Err(err) if err.downcast_ref::<UsageError>().is_some() => {
            ui::error_chain(&err);
            Ok(ExitStatus::Usage)
        }
        other => other,
    }
}

/// `aggregate redact`: stdin to stdout, redacted; a closed stdout is not an error.
fn redact_stdin() -> anyhow::Result<ExitStatus> {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    match redact::redact_stream(stdin, stdout) {
        Ok(_) => Ok(ExitStatus::Success),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitStatus::Success),
        Err(err) => Err(anyhow::Error::new(err).context("redacting stdin to stdout")),
    }
}
