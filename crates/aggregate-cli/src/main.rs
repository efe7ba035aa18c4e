//! `aggregate`: the scheduled job that writes `live-data.json`.
//!
//! A thin shell: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    aggregate_cli::logging::install_panic_hook();
    let cli = match aggregate_cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return aggregate_cli::ui::clap_error(&err),
    };
    aggregate_cli::logging::init(cli.verbosity());
    match aggregate_cli::run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            aggregate_cli::ui::error_chain(&err);
            aggregate_cli::ExitStatus::Failure.into()
        }
    }
}
