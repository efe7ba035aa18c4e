//! Domain values (`usage_assembly::Assembly`, `claude_logs::ScanStats`) into the wire format
//! (`live_data_schema::LiveData`). The only place the two meet.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use claude_logs::ScanStats;
use live_data_schema as wire;
use usage_assembly::{Assembly, Counts, PaceStatus, Source, Window};

use crate::settings::display_path;

/// Everything the conversion needs besides the assembly.
pub(crate) struct Context<'a> {
    pub(crate) generated_at: DateTime<Utc>,
    pub(crate) timezone: Tz,
    pub(crate) home: Option<&'a Path>,
    pub(crate) roots: &'a [PathBuf],
    pub(crate) stats: &'a ScanStats,
    pub(crate) auth_mode: Option<&'a str>,
}

pub(crate) fn live_data(assembly: &Assembly, cx: &Context<'_>) -> wire::LiveData {
    let windows: Vec<wire::Window> = assembly.windows.iter().map(window).collect();
    let source = if windows
        .iter()
        .any(|w| w.source == Some(wire::Source::Oauth))
    {
        wire::Source::Oauth
    } else {
        wire::Source::Estimate
    };
    wire::LiveData {
        schema_version: wire::SCHEMA_VERSION,
        generated_at: cx.generated_at,
        timezone: Some(cx.timezone.name().to_owned()),
        usage: wire::Usage {
            claude_window: wire::ClaudeWindow {
                plan: assembly.plan.as_str().to_owned(),
                auth_mode: Some(cx.auth_mode.unwrap_or("unknown").to_owned()),
                source: Some(source),
                pct_used: assembly.legacy.pct_used,
                messages_used: assembly.legacy.messages_used,
                message_cap: assembly.legacy.message_cap,
                windows,
                family_breakdown: assembly
                    .family_breakdown
                    .iter()
                    .map(|(family, c)| wire::FamilyUsage {
                        family: family.as_str().to_owned(),
                        counts: counts(c),
                    })
                    .collect(),
                authoritative: None,
            },
        },
        daily: assembly
            .daily
            .iter()
            .map(|day| wire::DailyUsage {
                date: day.date.format("%Y-%m-%d").to_string(),
                counts: counts(&day.counts),
                models: model_list(&day.models),
            })
            .collect(),
        model_usage: model_list(&assembly.models),
        projects: assembly
            .projects
            .iter()
            .map(|(project, c)| wire::ProjectUsage {
                project: clean(&display_path(Path::new(project), cx.home)),
                counts: counts(c),
            })
            .collect(),
        totals: Some(counts(&assembly.totals)),
        scan: Some(scan_summary(assembly, cx)),
    }
}

fn window(w: &Window) -> wire::Window {
    wire::Window {
        id: Some(w.id.as_str().to_owned()),
        label: w.id.label().to_owned(),
        used: round_usd(w.used),
        cap: w.cap,
        pct: w.pct,
        source: Some(match w.source {
            Source::Oauth => wire::Source::Oauth,
            Source::Estimate => wire::Source::Estimate,
        }),
        resets_at: w.resets_at,
        tokens: w.counts.total,
        cost_usd: round_usd(w.counts.cost_usd),
        messages: w.counts.messages,
        pace: w.pace.map(|p| wire::Pace {
            elapsed_pct: p.elapsed_pct,
            used_pct: p.used_pct,
            status: match p.status {
                PaceStatus::Ahead => wire::PaceStatus::Ahead,
                PaceStatus::OnTrack => wire::PaceStatus::OnTrack,
                PaceStatus::Behind => wire::PaceStatus::Behind,
            },
        }),
        forecast: w.forecast.map(|f| wire::Forecast {
            rate_pct_per_hour: f.rate_pct_per_hour,
            reaches_limit_at: f.reaches_limit_at,
            before_reset: f.before_reset,
            pct_at_reset: f.pct_at_reset,
        }),
        calibration: w.calibration.map(|c| wire::WindowCalibration {
            readings: c.readings as u64,
            newest_at: c.newest_at,
            opus_weight: (c.opus_weight * 1000.0).round() / 1000.0,
        }),
    }
}

fn model_list(models: &[(String, Counts)]) -> Vec<wire::ModelUsage> {
    models
        .iter()
        .map(|(model, c)| wire::ModelUsage {
            model: clean(model),
            counts: counts(c),
        })
        .collect()
}

fn counts(c: &Counts) -> wire::Counts {
    wire::Counts {
        input_tokens: c.input,
        output_tokens: c.output,
        cache_creation_tokens: c.cache_creation,
        cache_read_tokens: c.cache_read,
        total_tokens: c.total,
        cost_usd: round_usd(c.cost_usd),
        messages: c.messages,
    }
}

fn scan_summary(assembly: &Assembly, cx: &Context<'_>) -> wire::ScanSummary {
    let s = cx.stats;
    wire::ScanSummary {
        roots: cx
            .roots
            .iter()
            .map(|r| clean(&display_path(r, cx.home)))
            .collect(),
        files: s.files_read,
        unreadable_files: s.unreadable_files,
        events: s.events,
        duplicate_lines: s.duplicate_lines,
        skipped_lines: wire::SkippedLines {
            invalid_json: s.skipped.invalid_json,
            invalid_utf8: s.skipped.invalid_utf8,
            wrong_types: s.skipped.wrong_types,
            bad_timestamp: s.skipped.bad_timestamp,
            oversized: s.skipped.oversized,
            truncated: s.skipped.truncated,
        },
        unpriced_models: assembly
            .unpriced
            .iter()
            .map(|u| wire::UnpricedModel {
                model: clean(&u.model),
                messages: u.messages,
                total_tokens: u.total_tokens,
            })
            .collect(),
        events_after_now: assembly.events_after_now,
    }
}

/// Dollar amounts are written to a millionth of a dollar: exact enough to add up, without
/// binary noise such as 0.30000000000000004.
fn round_usd(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Strings read from transcripts (paths, model ids) pass through redaction like everything
/// else that leaves the program.
fn clean(text: &str) -> String {
    redact::redact(text).into_owned()
}
