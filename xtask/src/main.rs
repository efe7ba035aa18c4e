//! Repository chores: `cargo xtask <command>`.
//!
//! - `schema [--check]`: writes `schema/live-data.schema.json` from the contract types, or
//!   fails when the committed file differs.
//! - `bench [--size 1GiB] [--dir DIR] [--keep] [--ccusage PATH] [--install-ccusage] ...`:
//!   times `aggregate run` (cold, warm, warm after an append) against ccusage on a
//!   deterministic synthetic corpus and compares their daily totals (see `BENCHMARKS.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

mod bench;
#[cfg(test)]
mod tidy;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["schema"] => schema(false),
        ["schema", "--check"] => schema(true),
        ["bench", rest @ ..] => bench::main(rest),
        ["__measure", rest @ ..] => bench::measure_intermediate(rest),
        [] | ["help"] | ["--help"] | ["-h"] => {
            print_help();
            Ok(())
        }
        other => bail!("unknown xtask command {other:?}; run `cargo xtask help`"),
    }
}

#[allow(clippy::print_stdout)]
fn print_help() {
    println!(
        "cargo xtask <command>\n\n\
         commands:\n  \
         schema            write schema/live-data.schema.json from the contract types\n  \
         schema --check    fail if the committed schema differs from the types\n  \
         bench [FLAGS]     benchmark aggregate run against ccusage (`cargo xtask bench --help`)"
    );
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

fn schema(check: bool) -> Result<()> {
    let path = repo_root().join("schema/live-data.schema.json");
    let want = live_data_schema::json_schema_text();
    let have = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .replace("\r\n", "\n");
    if have == want {
        return Ok(());
    }
    if check {
        bail!(
            "{} is out of date with the types in crates/live-data-schema; run `cargo xtask schema`",
            path.display()
        );
    }
    std::fs::create_dir_all(path.parent().expect("schema path has a parent"))
        .with_context(|| format!("creating {}", path.display()))?;
    std::fs::write(&path, want).with_context(|| format!("writing {}", path.display()))?;
    #[allow(clippy::print_stderr)]
    {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
