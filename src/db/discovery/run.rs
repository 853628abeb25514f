//! Running PostgreSQL's tools: as ourselves, or as the `postgres` OS user when we are root.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};
use tracing::debug;

use super::{PG_OS_USER, one_line};

/// Runs the PostgreSQL tools as ourselves, or as the `postgres` OS user when
/// we are root (initdb and pg_ctl refuse to run as root).
#[derive(Debug)]
pub(super) enum Runner {
    Direct,
    Runuser(PathBuf),
    Su,
}

impl Runner {
    pub(super) fn detect() -> Result<Runner> {
        if !is_root() {
            return Ok(Runner::Direct);
        }
        let has_pg_user = Command::new("id")
            .args(["-u", PG_OS_USER])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_pg_user {
            bail!(
                "running as root, where initdb and pg_ctl refuse to run, and there is no `{PG_OS_USER}` OS user to run them as: \
                 create one (`useradd --system --create-home {PG_OS_USER}`) or run as a regular user"
            );
        }
        let runuser = [
            "/usr/sbin/runuser",
            "/sbin/runuser",
            "/usr/bin/runuser",
            "/bin/runuser",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
        Ok(match runuser {
            Some(path) => Runner::Runuser(path),
            None => Runner::Su,
        })
    }

    fn command(&self, program: &Path, args: &[OsString]) -> Command {
        let mut cmd = match self {
            Runner::Direct => {
                let mut cmd = Command::new(program);
                cmd.args(args);
                cmd
            }
            Runner::Runuser(runuser) => {
                let mut cmd = Command::new(runuser);
                cmd.args(["-u", PG_OS_USER, "--"]).arg(program).args(args);
                cmd
            }
            Runner::Su => {
                let line = std::iter::once(program.as_os_str())
                    .chain(args.iter().map(OsString::as_os_str))
                    .map(|a| shell_quote(&a.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut cmd = Command::new("su");
                cmd.args([PG_OS_USER, "-s", "/bin/sh", "-c"]).arg(line);
                cmd
            }
        };
        // The tools (and the server they start) must not inherit a cwd the
        // postgres user cannot enter, nor keep our pipes open.
        cmd.current_dir("/").stdin(Stdio::null());
        cmd
    }

    pub(super) fn run(&self, program: &Path, args: &[OsString], what: &str) -> Result<Output> {
        let mut cmd = self.command(program, args);
        debug!(command = ?cmd, "running");
        cmd.output()
            .with_context(|| format!("running {what} ({})", program.display()))
    }

    pub(super) fn is_switching(&self) -> bool {
        !matches!(self, Runner::Direct)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub(super) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub(super) fn ensure_success(out: &Output, what: &str) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    bail!(
        "{what} failed ({}): {}",
        out.status,
        one_line(&format!("{} {}", stderr.trim(), stdout.trim()))
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn runners_pass_arguments_intact() {
        let args: Vec<OsString> = vec!["a b".into(), "it's".into(), "''".into(), "$HOME".into()];
        let expected = "a b it's '' $HOME\n";
        let mut runners = vec![Runner::Direct];
        if is_root() && Runner::detect().is_ok() {
            runners.push(Runner::Su);
            if let Ok(Runner::Runuser(path)) = Runner::detect() {
                runners.push(Runner::Runuser(path));
            }
        }
        for runner in runners {
            let out = runner.run(Path::new("/bin/echo"), &args, "echo").unwrap();
            assert!(out.status.success(), "{runner:?}: {out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{runner:?}");
        }
    }
}
