//! Timing one child process: wall time, user + system CPU time, peak resident memory and what
//! it read from storage.
//!
//! The bench does not wait for the measured program itself. It starts `xtask __measure`, a
//! small intermediate process whose only child is the measured program; after waiting for it,
//! the intermediate reads `getrusage(RUSAGE_CHILDREN)`, which then describes exactly that one
//! child (the same numbers `wait4` returns), and prints them. The bench's own children (cargo,
//! earlier runs) never mix in.

use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};

/// One measured run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sample {
    pub(crate) wall: Duration,
    pub(crate) user: Duration,
    pub(crate) sys: Duration,
    /// Peak resident set size, KiB.
    pub(crate) max_rss_kib: u64,
    /// What the run read from storage, KiB, rounded down (`ru_inblock`: the reads it caused
    /// through the block layer, readahead and file-system metadata included; always 0 on a file
    /// system that does not go through it, such as FUSE).
    pub(crate) disk_read_kib: u64,
}

impl Sample {
    /// User plus system CPU time.
    pub(crate) fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// The median of each field on its own (for an even count, the lower middle).
pub(crate) fn median(samples: &[Sample]) -> Sample {
    fn mid<T: Ord + Copy>(mut v: Vec<T>) -> T {
        v.sort_unstable();
        v[(v.len() - 1) / 2]
    }
    Sample {
        wall: mid(samples.iter().map(|s| s.wall).collect()),
        user: mid(samples.iter().map(|s| s.user).collect()),
        sys: mid(samples.iter().map(|s| s.sys).collect()),
        max_rss_kib: mid(samples.iter().map(|s| s.max_rss_kib).collect()),
        disk_read_kib: mid(samples.iter().map(|s| s.disk_read_kib).collect()),
    }
}

/// A program to measure: what to run, where, with which environment, and where its output goes.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(String, OsString)>,
    pub(crate) env_remove: Vec<String>,
    pub(crate) cwd: PathBuf,
    pub(crate) stdout: PathBuf,
    pub(crate) stderr: PathBuf,
}

impl Invocation {
    /// The command line, for the report.
    pub(crate) fn display(&self) -> String {
        let mut parts = vec![self.program.display().to_string()];
        parts.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }
}

/// Runs `inv` once through the intermediate process and returns its numbers; fails when the
/// program fails.
pub(crate) fn run(inv: &Invocation) -> Result<Sample> {
    // `/proc/self/exe` names this very program even when cargo has since rebuilt the file.
    let proc_exe = PathBuf::from("/proc/self/exe");
    let exe = if proc_exe.exists() {
        proc_exe
    } else {
        std::env::current_exe().context("locating the xtask binary")?
    };
    let mut cmd = Command::new(exe);
    cmd.arg("__measure")
        .arg(&inv.stdout)
        .arg(&inv.stderr)
        .arg(&inv.program)
        .args(&inv.args)
        .current_dir(&inv.cwd);
    for key in &inv.env_remove {
        cmd.env_remove(key);
    }
    for (key, value) in &inv.env {
        cmd.env(key, value);
    }
    let output = cmd
        .output()
        .with_context(|| format!("running {}", inv.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading the measurement of {}: {text:?}", inv.display()))?;
    if !output.status.success() || fields.len() != 6 {
        bail!(
            "measuring {} failed: {}",
            inv.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    if fields[5] != 0 {
        let stderr = std::fs::read_to_string(&inv.stderr).unwrap_or_default();
        let tail: String = stderr
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        bail!(
            "{} exited with status {}:\n{tail}",
            inv.display(),
            fields[5]
        );
    }
    Ok(Sample {
        wall: Duration::from_nanos(fields[0]),
        user: Duration::from_micros(fields[1]),
        sys: Duration::from_micros(fields[2]),
        max_rss_kib: fields[3],
        disk_read_kib: fields[4],
    })
}

/// The intermediate process: `__measure STDOUT STDERR PROGRAM ARGS...`. Prints
/// `wall_ns user_us sys_us max_rss_kib disk_read_kib exit_code`.
pub(crate) fn intermediate(args: &[&str]) -> Result<()> {
    let [stdout, stderr, program, rest @ ..] = args else {
        bail!("usage: xtask __measure STDOUT STDERR PROGRAM [ARGS...]");
    };
    let out = File::create(stdout).with_context(|| format!("creating {stdout}"))?;
    let err = File::create(stderr).with_context(|| format!("creating {stderr}"))?;
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .stdout(out)
        .stderr(err)
        .status()
        .with_context(|| format!("starting {program}"))?;
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let micros =
        |tv: nix::sys::time::TimeVal| (tv.tv_sec() as u64) * 1_000_000 + tv.tv_usec() as u64;
    let code = status.code().map_or(255, |c| c as u32 as u64);
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{} {} {} {} {} {}",
            wall.as_nanos(),
            micros(usage.user_time()),
            micros(usage.system_time()),
            usage.max_rss().max(0),
            // 512-byte blocks.
            usage.block_reads().max(0) / 2,
            code
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn median_is_per_field() {
        let s = |w, u, r| Sample {
            wall: ms(w),
            user: ms(u),
            sys: ms(1),
            max_rss_kib: r,
            disk_read_kib: r / 100,
        };
        let m = median(&[s(30, 5, 100), s(10, 9, 300), s(20, 7, 200)]);
        assert_eq!(m, s(20, 7, 200));
        assert_eq!(m.cpu(), ms(8));
        assert_eq!(median(&[s(4, 4, 4), s(2, 2, 2)]), s(2, 2, 2));
    }
}
