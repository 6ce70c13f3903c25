//! `webexctl` as an operator runs it: a process with its own environment, input on standard
//! input, and what it printed.

use std::collections::HashMap;
use std::process::Stdio;

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;

use crate::Stack;

/// What one `webexctl` run left: its exit, standard output and standard error.
#[derive(Debug)]
pub struct Printed {
    pub ok: bool,
    /// The exit status; `None` if a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Printed {
    /// Both streams, for the checks that look at everything printed.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Everything `webexctl` reads from `stack`: the identities' and the collectors' variables
/// (without `TOKEN_SECRET_ID`, which `collect` takes from [`Stack::stream_env`]).
pub fn env(stack: &Stack) -> HashMap<String, String> {
    let mut env = stack.identities_env();
    env.extend(stack.env.clone());
    env
}

/// Runs `webexctl args` with `env` (on top of the test's own, which carries the local AWS
/// endpoint) and `stdin` on its standard input.
pub async fn webexctl(
    env: &HashMap<String, String>,
    args: &[&str],
    stdin: &str,
) -> Result<Printed> {
    let mut child = tokio::process::Command::new(crate::webexctl_path()?)
        .args(args)
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start webexctl")?;
    let mut input = child.stdin.take().context("webexctl's stdin")?;
    input.write_all(stdin.as_bytes()).await?;
    drop(input);
    let output = child.wait_with_output().await?;
    Ok(Printed {
        ok: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs `webexctl args` with `env` and its standard output and error on a pseudo-terminal, as
/// an operator's shell runs it: its exit status and everything the terminal received (the
/// terminal turns each `\n` into `\r\n`).
pub async fn webexctl_on_terminal(
    env: &HashMap<String, String>,
    args: &[&str],
) -> Result<(Option<i32>, String)> {
    let pty = nix::pty::openpty(None, None).context("open a pseudo-terminal")?;
    let mut child = {
        // The command owns the terminal's other end and closes it once the child has it, so
        // that reading ends when the child exits.
        let mut command = tokio::process::Command::new(crate::webexctl_path()?);
        command
            .args(args)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::from(pty.slave.try_clone()?))
            .stderr(Stdio::from(pty.slave))
            .kill_on_drop(true);
        command.spawn().context("cannot start webexctl")?
    };
    let master = std::fs::File::from(pty.master);
    let reader = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut master = master;
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut master, &mut buffer) {
                Ok(0) => return Ok(received),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                // Linux answers EIO once no process holds the terminal's other end.
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EIO as i32) => {
                    return Ok(received);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    });
    let status = child.wait().await?;
    let received = reader.await??;
    Ok((
        status.code(),
        String::from_utf8_lossy(&received).into_owned(),
    ))
}
