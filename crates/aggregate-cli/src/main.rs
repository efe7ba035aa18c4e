//! `aggregate`: the scheduled job that writes `live-data.json`.
//!
//! A thin shell: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tune_allocator();
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

/// Keeps glibc's allocator from holding on to freed memory. The scan allocates on two threads
/// and frees on one; with a heap (arena) per thread and the default, self-raising thresholds
/// for returning memory, a cold run over 1 GiB of transcripts peaked at about 75 MiB of
/// resident memory instead of about 45 MiB (BENCHMARKS.md). Blocks of 1 MiB and more are
/// mapped on their own (and returned when freed); up to 16 MiB free at the top of the heap is
/// kept for reuse: lower thresholds saved 2 MiB more but made a warm run about 5 ms slower in
/// page faults. With those thresholds fixed, two arenas (not one) cost about 1.7 MiB of cold
/// peak and save the two threads that run side by side (the transcript listing and the ledger
/// load; the two readers) from waiting on one heap's lock: on the 1 GiB bench corpus, about
/// 10 ms less on a cold run and 2-3 ms less on a warm one; three or four arenas gave no more
/// speed for 7 MiB more.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: `mallopt` only sets allocator parameters, takes no pointers, and runs here before
    // any other thread exists. A parameter it rejects is left as it was (return value 0),
    // which is harmless.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
