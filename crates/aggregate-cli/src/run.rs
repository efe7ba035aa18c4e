//! `aggregate run`: scan, assemble, check against the contract, write atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use claude_logs::{RootsEnv, ScanOptions, default_roots, normalize_root, scan_roots};
use live_data_schema::Validator;
use oauth_usage::{BaseUrl, ReaderConfig};
use usage_assembly::{AssemblyInput, Plan, PriceTable, assemble};

use crate::cli::RunArgs;
use crate::settings::{self, TzOrigin, display_path};
use crate::{ExitStatus, UsageError, convert, oauth, output, ui};

/// Flags checked and resolved; nothing has been read or written yet.
struct Settings {
    now: chrono::DateTime<chrono::Utc>,
    timezone: chrono_tz::Tz,
    /// `None`: detect from the credential.
    plan: Option<Plan>,
    prices: PriceTable,
    roots: Vec<PathBuf>,
    home: Option<PathBuf>,
    scan: ScanOptions,
    /// `--state-dir`, else the default; resolved once for the ledger, the readings and the
    /// reader's cool-down.
    state_dir: Option<PathBuf>,
    oauth: Option<ReaderConfig>,
}

fn resolve(args: &RunArgs) -> Result<Settings> {
    let now = settings::parse_now(args.now.as_deref())?;
    let tz_env = std::env::var("TZ").ok();
    let (timezone, origin) =
        settings::resolve_timezone(args.timezone.as_deref(), tz_env.as_deref())?;
    if origin == TzOrigin::Fallback {
        tracing::warn!("could not determine the system time zone; using UTC (set --timezone)");
    }
    let plan = match args.plan.as_deref() {
        None | Some("auto") => None,
        Some(name) => Some(
            name.parse::<Plan>()
                .map_err(|err| UsageError(format!("invalid --plan: {err}")))?,
        ),
    };
    let prices = match &args.prices {
        None => PriceTable::builtin(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|err| {
                UsageError(format!("cannot read --prices {}: {err}", path.display()))
            })?;
            let user = PriceTable::from_json_str(&text).map_err(|err| {
                UsageError(format!("invalid price table {}: {err}", path.display()))
            })?;
            PriceTable::builtin().with_overrides(&user)
        }
    };
    if let Some(threads) = args.threads
        && !(1..=ScanOptions::MAX_THREADS).contains(&threads)
    {
        return Err(UsageError(format!(
            "--threads must be between 1 and {}",
            ScanOptions::MAX_THREADS
        ))
        .into());
    }
    let home = settings::home_dir();
    let roots = if args.claude_dirs.is_empty() {
        default_roots(&RootsEnv::from_process())
    } else {
        args.claude_dirs.iter().map(normalize_root).collect()
    };
    check_output_dir(&args.out)?;
    let scan = ScanOptions {
        threads: args.threads.unwrap_or(0),
        ..ScanOptions::default()
    };
    let state_dir = state_dir(args);
    let oauth = reader_config(args, state_dir.clone())?;
    Ok(Settings {
        now,
        timezone,
        plan,
        prices,
        roots,
        home,
        scan,
        state_dir,
        oauth,
    })
}

/// The usage reader's configuration, or `None` with `--no-oauth`.
fn reader_config(args: &RunArgs, state_dir: Option<PathBuf>) -> Result<Option<ReaderConfig>> {
    if args.no_oauth {
        return Ok(None);
    }
    let base_url = match args.oauth_base_url.as_deref() {
        None => BaseUrl::anthropic(),
        Some(text) => BaseUrl::parse(text).map_err(|err| {
            UsageError(format!(
                "refusing --oauth-base-url: {err}; only https://api.anthropic.com or an \
                 http:// URL on a loopback address is accepted"
            ))
        })?,
    };
    let timeout = args.oauth_timeout;
    if !(timeout.is_finite() && timeout > 0.0 && timeout <= oauth_usage::MAX_BUDGET.as_secs_f64()) {
        bail!(UsageError(format!(
            "invalid --oauth-timeout {timeout}: it must be more than 0 and at most {} seconds",
            oauth_usage::MAX_BUDGET.as_secs()
        )));
    }
    let mut config = ReaderConfig::from_process(state_dir);
    config.base_url = base_url;
    config.budget = std::time::Duration::from_secs_f64(timeout);
    config.freshness = std::time::Duration::from_secs(args.oauth_freshness);
    Ok(Some(config))
}

/// `--state-dir`, else `$XDG_STATE_HOME/aios-usage`, else `~/.local/state/aios-usage`.
fn state_dir(args: &RunArgs) -> Option<PathBuf> {
    args.state_dir
        .clone()
        .or_else(|| oauth_usage::default_state_dir(oauth::STATE_APP))
}

/// What the scan found, and what the ledger did (with its writes that may still be going on).
type Scanned = (
    claude_logs::Discovery,
    claude_logs::ScanOutput,
    Option<(usage_ledger::LedgerStats, usage_ledger::Finishing)>,
);

/// The transcripts' events: through the usage ledger in the state directory, so that only
/// what is new is read and deleted transcripts keep counting; a plain full scan with
/// `--rescan`, or (with a warning) when the ledger is unavailable. Another run holding the
/// ledger is an error.
///
/// The ledger's last writes may still be going on when this returns (see
/// [`usage_ledger::scan_incremental_deferred`]): the run waits for them after writing its output.
fn scan_transcripts(args: &RunArgs, settings: &Settings) -> Result<Scanned> {
    let full = || {
        let (discovery, scan) = scan_roots(&settings.roots, &settings.scan);
        Ok((discovery, scan, None))
    };
    if args.rescan {
        return full();
    }
    let Some(dir) = &settings.state_dir else {
        tracing::warn!(
            "no state directory (set --state-dir or HOME): reading every transcript, without \
             the usage ledger"
        );
        return full();
    };
    match usage_ledger::scan_incremental_deferred(
        dir,
        &settings.roots,
        &settings.scan,
        &usage_ledger::LedgerOptions::default(),
    ) {
        Ok((scan, finishing)) => Ok((
            scan.discovery,
            claude_logs::ScanOutput {
                events: scan.events,
                stats: scan.stats,
            },
            Some((scan.ledger, finishing)),
        )),
        Err(err @ usage_ledger::LedgerError::Locked { .. }) => Err(err.into()),
        Err(err) => {
            let cause = std::error::Error::source(&err).map_or(String::new(), |s| format!(": {s}"));
            tracing::warn!("{err}{cause}; reading every transcript, without the usage ledger");
            full()
        }
    }
}

/// The readings to calibrate from: those stored beside the ledger, plus the points of a
/// freshly fetched reading, which are stored for later runs. `--rescan` ignores the ledger,
/// stored readings included.
fn calibration_points(
    args: &RunArgs,
    settings: &Settings,
    base: &AssemblyInput<'_>,
    fresh: Option<(&usage_assembly::ServerReading, &oauth_usage::UsageReading)>,
) -> Vec<usage_assembly::CalibrationPoint> {
    let Some(dir) = settings.state_dir.as_deref().filter(|_| !args.rescan) else {
        return Vec::new();
    };
    let mut points: Vec<usage_assembly::CalibrationPoint> =
        usage_ledger::load_readings(dir, &settings.roots)
            .iter()
            .filter_map(oauth::point_from_stored)
            .collect();
    if let Some((server, reading)) = fresh {
        let new = usage_assembly::calibration_points(base, server, reading.fetched_at);
        let stored: Vec<usage_ledger::StoredReading> =
            new.iter().map(oauth::point_to_stored).collect();
        if let Err(err) = usage_ledger::append_readings(dir, &settings.roots, &stored) {
            tracing::warn!(error = %err, "cannot store the reading for calibration");
        }
        points.extend(new);
    }
    points
}

/// Milliseconds since `start`, for the debug log's phase timings.
fn ms_since(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 1e4).round() / 10.0
}

/// A byte count for people: `812 B`, `1.2 kB`, `3.4 MB`, `1.1 GB`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Fails before the scan when the output could not be written anyway.
fn check_output_dir(out: &Path) -> Result<()> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(UsageError(format!(
            "cannot write {}: the directory {} does not exist",
            out.display(),
            dir.display()
        )));
    }
    if out.is_dir() {
        bail!(UsageError(format!(
            "cannot write {}: it is a directory",
            out.display()
        )));
    }
    Ok(())
}

pub(crate) fn run(args: &RunArgs, quiet: bool) -> Result<ExitStatus> {
    let started = Instant::now();
    let mut settings = resolve(args)?;
    let home = settings.home.clone();
    let home = home.as_deref();

    // The live reading runs beside the scan; the run waits for it at most its budget.
    let pending = settings
        .oauth
        .take()
        .map(|config| oauth::spawn(config, settings.now, started));
    let (discovery, scan, ledger) = scan_transcripts(args, &settings)?;
    tracing::debug!(ms = ms_since(started), "transcripts scanned");
    // Compiling the contract's schema for the check before the write takes about as long as
    // the assembly: done beside it (the scan has both cores busy already).
    let validator = std::thread::spawn(claude_logs::beside(Validator::new));
    let outcome = pending.map(oauth::Pending::wait);
    if let Some(outcome) = &outcome {
        log_outcome(outcome);
    }
    let reading = outcome.as_ref().and_then(|o| o.reading.as_ref());
    let plan = settings.plan.unwrap_or_else(|| {
        outcome.as_ref().map_or(Plan::Unknown, |o| {
            Plan::from_subscription(o.subscription_type.as_deref(), o.rate_limit_tier.as_deref())
        })
    });
    if discovery.files.is_empty() {
        let searched: Vec<String> = settings
            .roots
            .iter()
            .map(|r| display_path(&r.join("projects"), home))
            .collect();
        ui::warn(&format!(
            "no Claude Code transcripts found (searched {}); writing a file with zero usage. \
             Use --claude-dir DIR or CLAUDE_CONFIG_DIR to point at another config directory.",
            if searched.is_empty() {
                "nothing: no home directory".to_owned()
            } else {
                searched.join(", ")
            }
        ));
    }

    let server = reading.map(oauth::server_reading);
    let base = AssemblyInput::new(
        &scan.events,
        settings.now,
        settings.timezone,
        plan,
        &settings.prices,
    );
    let fresh = outcome.as_ref().is_some_and(|o| !o.reused);
    let points = calibration_points(
        args,
        &settings,
        &base,
        server.as_ref().zip(reading).filter(|_| fresh),
    );
    let input = base.with_reading(server.as_ref()).with_calibration(&points);
    let assembly = assemble(&input);
    tracing::debug!(ms = ms_since(started), "figures assembled");
    let cx = convert::Context {
        generated_at: settings.now,
        timezone: settings.timezone,
        home,
        roots: &settings.roots,
        stats: &scan.stats,
        auth_mode: outcome.as_ref().map(|o| oauth::auth_mode(o.auth_mode)),
    };
    let mut live = convert::live_data(&assembly, &cx);
    // `authoritative` is set only when a valid reading was used for at least one window.
    if live.usage.claude_window.source == Some(live_data_schema::Source::Oauth) {
        live.usage.claude_window.authoritative = reading.map(oauth::authoritative);
    }

    let value = serde_json::to_value(&live).context("serializing the output")?;
    let validator = validator
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let errors = validator.errors(&value);
    tracing::debug!(ms = ms_since(started), "output checked against the schema");
    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        bail!(
            "the output does not match the live-data schema; {} was not written:\n  {}",
            args.out.display(),
            list.join("\n  ")
        );
    }
    let mut text = serde_json::to_string_pretty(&live).context("serializing the output")?;
    text.push('\n');
    output::write_atomic(&args.out, text.as_bytes())?;
    tracing::debug!(ms = ms_since(started), "output written");
    let ledger = ledger.map(|(ledger, finishing)| {
        finishing.wait();
        ledger
    });

    let stats = &scan.stats;
    let skipped = stats.skipped.total();
    let mut summary = format!(
        "wrote {}: {} files, {} responses, {} duplicate lines, {} skipped lines, {}, {:.2} s",
        args.out.display(),
        stats.files_read,
        stats.events,
        stats.duplicate_lines,
        skipped,
        source_summary(&live, outcome.as_ref()),
        started.elapsed().as_secs_f64()
    );
    if let Some(ledger) = &ledger {
        summary.push_str(&format!(
            ", {} files read ({} new)",
            ledger.files_read,
            human_bytes(ledger.bytes_read)
        ));
    }
    if stats.unreadable_files > 0 {
        summary.push_str(&format!(", {} unreadable files", stats.unreadable_files));
    }
    if !assembly.unpriced.is_empty() {
        summary.push_str(&format!(", {} unpriced models", assembly.unpriced.len()));
    }
    ui::status(quiet, &summary);
    // The process ends with this run: the largest structures (one entry per response, per
    // transcript, per JSON node) are left to the OS rather than freed piece by piece, which
    // took a few milliseconds of a warm run.
    std::mem::forget((scan, discovery, value));
    Ok(ExitStatus::Success)
}

/// `live`, or `estimate` with the reason there is no live reading.
fn source_summary(
    live: &live_data_schema::LiveData,
    outcome: Option<&oauth_usage::Outcome>,
) -> String {
    if live.usage.claude_window.source == Some(live_data_schema::Source::Oauth) {
        let reused = outcome.is_some_and(|o| o.reused);
        return if reused {
            "live (reused)".to_owned()
        } else {
            "live".to_owned()
        };
    }
    match outcome.and_then(|o| o.reason.as_ref()) {
        Some(reason) => format!("estimate ({reason})"),
        None if outcome.is_none() => "estimate (--no-oauth)".to_owned(),
        None => "estimate".to_owned(),
    }
}

fn log_outcome(outcome: &oauth_usage::Outcome) {
    match &outcome.reason {
        None => tracing::info!(reused = outcome.reused, "live usage reading"),
        Some(reason) => tracing::info!(
            reason = reason.code(),
            auth_mode = oauth::auth_mode(outcome.auth_mode),
            "no live usage reading ({reason}); using the estimate"
        ),
    }
}
