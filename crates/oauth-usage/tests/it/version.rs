//! `claude --version` with a fake `claude` script.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use oauth_usage::claude_version;

use crate::common::{World, write_script};

const TIMEOUT: Duration = Duration::from_secs(2);

fn path_of(dir: &Path) -> Option<OsString> {
    Some(OsString::from(format!(
        "/nonexistent-a:{}:/nonexistent-b",
        dir.display()
    )))
}

#[tokio::test]
async fn version_from_path_search() {
    let world = World::new();
    let version = claude_version(None, path_of(&world.bin_dir()), TIMEOUT).await;
    assert_eq!(version.as_deref(), Some("2.1.70"));
}

#[tokio::test]
async fn version_from_override() {
    let world = World::new();
    let version = claude_version(Some(world.claude()), None, TIMEOUT).await;
    assert_eq!(version.as_deref(), Some("2.1.70"));
}

#[tokio::test]
async fn garbage_output_is_none() {
    let world = World::new();
    write_script(&world.claude(), "echo 'command not found: node'");
    assert_eq!(
        claude_version(Some(world.claude()), None, TIMEOUT).await,
        None
    );
}

#[tokio::test]
async fn non_zero_exit_is_none() {
    let world = World::new();
    write_script(&world.claude(), "echo '2.1.70 (Claude Code)'\nexit 1");
    assert_eq!(
        claude_version(Some(world.claude()), None, TIMEOUT).await,
        None
    );
}

#[tokio::test]
async fn missing_binary_is_none() {
    let world = World::new();
    std::fs::remove_file(world.claude()).expect("remove");
    assert_eq!(
        claude_version(None, path_of(&world.bin_dir()), TIMEOUT).await,
        None
    );
    assert_eq!(
        claude_version(Some(world.claude()), None, TIMEOUT).await,
        None
    );
    assert_eq!(claude_version(None, None, TIMEOUT).await, None);
}

#[tokio::test]
async fn non_executable_file_is_skipped() {
    let world = World::new();
    crate::common::set_mode(&world.claude(), 0o644);
    assert_eq!(
        claude_version(None, path_of(&world.bin_dir()), TIMEOUT).await,
        None
    );
}

#[tokio::test]
async fn hanging_cli_is_killed_within_timeout() {
    let world = World::new();
    let dir = world.dir.path().display();
    write_script(
        &world.claude(),
        &format!("echo $$ > '{dir}/pid'\nexec sleep 30"),
    );
    let started = Instant::now();
    let version = claude_version(Some(world.claude()), None, Duration::from_millis(700)).await;
    let elapsed = started.elapsed();
    assert_eq!(version, None);
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    let pid = std::fs::read_to_string(world.dir.path().join("pid")).expect("pid recorded");
    if cfg!(target_os = "linux") {
        assert!(!Path::new(&format!("/proc/{}", pid.trim())).exists());
    }
}
