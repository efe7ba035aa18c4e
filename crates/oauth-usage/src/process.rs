//! Running a short-lived helper process with a timeout and an output cap.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// What a helper process produced.
#[derive(Debug)]
pub(crate) struct ProcOutput {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
}

/// Why a helper process gave no output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcError {
    /// It could not be started (missing, not executable).
    Spawn,
    /// It ran past the timeout; it was killed and reaped.
    TimedOut,
    /// It printed more than the cap; it was killed and reaped.
    TooLarge,
    /// Reading its output or waiting for it failed.
    Io,
}

/// Runs `command` with stdin and stderr closed to `/dev/null`, collecting at most `cap` bytes
/// of stdout. On timeout or overflow the child is killed and reaped before returning.
pub(crate) async fn run_capped(
    mut command: Command,
    timeout: Duration,
    cap: usize,
) -> Result<ProcOutput, ProcError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = spawn(&mut command).await?;
    let Some(mut stdout) = child.stdout.take() else {
        kill_and_reap(&mut child).await;
        return Err(ProcError::Io);
    };
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let finished = tokio::time::timeout(timeout, async {
        let mut buf = Vec::new();
        (&mut stdout)
            .take(limit)
            .read_to_end(&mut buf)
            .await
            .map_err(|_| ProcError::Io)?;
        if buf.len() > cap {
            return Err(ProcError::TooLarge);
        }
        drop(stdout);
        let status = child.wait().await.map_err(|_| ProcError::Io)?;
        Ok(ProcOutput {
            status,
            stdout: buf,
        })
    })
    .await;
    match finished {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(err)) => {
            kill_and_reap(&mut child).await;
            Err(err)
        }
        Err(_elapsed) => {
            kill_and_reap(&mut child).await;
            Err(ProcError::TimedOut)
        }
    }
}

/// Spawns, retrying briefly while the executable is busy (a file just written by another
/// thread can be briefly held open for writing by a concurrently forked child).
async fn spawn(command: &mut Command) -> Result<tokio::process::Child, ProcError> {
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Ok(child) => return Ok(child),
            Err(err) if err.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 5 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return Err(ProcError::Spawn),
        }
    }
}

/// Sends SIGKILL (or the platform's equivalent) and waits for the child so no zombie remains.
async fn kill_and_reap(child: &mut tokio::process::Child) {
    // `kill` sends the signal and waits; the explicit `wait` covers a child that had already
    // exited before the signal was sent.
    if child.kill().await.is_err() {
        tracing::debug!("helper process kill failed");
    }
    if child.wait().await.is_err() {
        tracing::debug!("helper process wait failed");
    }
}
