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
