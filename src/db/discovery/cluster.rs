//! A private cluster under the var directory: found binaries, `initdb` once, `pg_ctl start` with
//! no TCP listener (a unix socket in the data directory only), serialised between processes.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use tracing::{debug, info};

use super::run::{Runner, ensure_success, shell_quote};
use super::url::socket_url;
use super::{MAINTENANCE_DB, PG_OS_USER};

/// `sun_path` is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// Stops the private cluster in `data_dir` (`pg_ctl stop -m fast`), if running.
pub fn stop_private_cluster(data_dir: &Path) -> Result<()> {
    let mut tried = Vec::new();
    let bins = find_pg_bins(&mut tried).ok_or_else(|| {
        anyhow!(
            "no PostgreSQL server binaries found (tried: {})",
            tried.join("; ")
        )
    })?;
    let data_dir = std::path::absolute(data_dir)
        .with_context(|| format!("resolving {}", data_dir.display()))?;
    if !data_dir.join("PG_VERSION").is_file() {
        bail!("no PostgreSQL cluster in {}", data_dir.display());
    }
    let runner = Runner::detect()?;
    if !pg_ctl_running(&bins, &runner, &data_dir)? {
        return Ok(());
    }
    let out = runner.run(
        &bins.pg_ctl(),
        &[
            "-D".into(),
            data_dir.clone().into(),
            "stop".into(),
            "-m".into(),
            "fast".into(),
            "-w".into(),
        ],
        "pg_ctl stop",
    )?;
    ensure_success(&out, "pg_ctl stop")?;
    info!(data_dir = %data_dir.display(), "stopped the private PostgreSQL cluster");
    Ok(())
}

#[derive(Debug, Clone)]
pub(super) struct PgBins {
    pub(super) dir: PathBuf,
}

impl PgBins {
    fn at(dir: &Path) -> Option<PgBins> {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
            .then(|| PgBins {
                dir: dir.to_path_buf(),
            })
    }
    fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }
    fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }
}

/// Server binaries: `pg_config --bindir`, else PATH, else the newest
/// /usr/lib/postgresql/*/bin.
pub(super) fn find_pg_bins(tried: &mut Vec<String>) -> Option<PgBins> {
    match Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if let Some(bins) = PgBins::at(&dir) {
                return Some(bins);
            }
            tried.push(format!(
                "pg_config --bindir: {} has no initdb, pg_ctl and postgres (client package only?)",
                dir.display()
            ));
        }
        Ok(out) => tried.push(format!("pg_config --bindir: failed ({})", out.status)),
        Err(e) => tried.push(format!("pg_config: {e}")),
    }

    if let Some(path) = std::env::var_os("PATH")
        && let Some(bins) = std::env::split_paths(&path).find_map(|d| PgBins::at(&d))
    {
        return Some(bins);
    }
    tried.push("PATH: no directory with initdb, pg_ctl and postgres".to_owned());

    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let version = name
                .split('.')
                .map(|p| p.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    if let Some(bins) = versions.iter().rev().find_map(|(_, dir)| PgBins::at(dir)) {
        return Some(bins);
    }
    tried.push(format!(
        "{}/*/bin: no PostgreSQL server binaries",
        root.display()
    ));
    None
}

#[derive(Debug)]
pub(super) struct Cluster {
    pub(super) data_dir: PathBuf,
    pub(super) port: u16,
    pub(super) maintenance_url: String,
}

/// Initialises (once) and starts (unless running) a cluster in `data_dir`,
/// reachable only through a unix socket in `data_dir` itself, with trust auth
/// for user `postgres`. Serialised between processes by `<data_dir>.lock`.
pub(super) fn start_private_cluster(bins: &PgBins, data_dir: &Path, port: u16) -> Result<Cluster> {
    fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let data_dir = std::path::absolute(data_dir)
        .with_context(|| format!("resolving {}", data_dir.display()))?;
    let socket = data_dir.join(format!(".s.PGSQL.{port}"));
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        bail!(
            "the socket path {} is longer than {MAX_SOCKET_PATH} bytes, the unix socket limit: use a shorter var directory",
            socket.display()
        );
    }

    let mut lock_path = data_dir.clone().into_os_string();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening lock file {}", lock_path.display()))?;
    lock_file(&lock, &lock_path)?;

    let runner = Runner::detect()?;
    if !data_dir.join("PG_VERSION").is_file() {
        init_cluster(bins, &runner, &data_dir)?;
    }

    let port = if pg_ctl_running(bins, &runner, &data_dir)? {
        let running = running_port(&data_dir).unwrap_or(port);
        debug!(data_dir = %data_dir.display(), port = running, "private cluster already running");
        running
    } else {
        start_cluster(bins, &runner, &data_dir, port)?;
        port
    };
    drop(lock);

    Ok(Cluster {
        maintenance_url: socket_url(Some(PG_OS_USER), &data_dir, port, MAINTENANCE_DB),
        data_dir,
        port,
    })
}

fn lock_file(file: &File, path: &Path) -> Result<()> {
    file.lock()
        .with_context(|| format!("locking {}", path.display()))
}

fn init_cluster(bins: &PgBins, runner: &Runner, data_dir: &Path) -> Result<()> {
    let non_empty = fs::read_dir(data_dir)
        .with_context(|| format!("reading {}", data_dir.display()))?
        .next()
        .is_some();
    if non_empty {
        bail!(
            "{} is not empty but holds no PostgreSQL cluster (no PG_VERSION): remove it to let a new cluster be created there",
            data_dir.display()
        );
    }
    if runner.is_switching() {
        let out = Command::new("chown")
            .arg(format!("{PG_OS_USER}:"))
            .arg(data_dir)
            .stdin(Stdio::null())
            .output()
            .context("running chown")?;
        ensure_success(&out, &format!("chown {PG_OS_USER}: {}", data_dir.display()))?;
        // The postgres user must be able to reach the directory at all.
        let out = runner.run(
            Path::new("test"),
            &["-w".into(), data_dir.into()],
            "test -w",
        )?;
        if !out.status.success() {
            bail!(
                "the `{PG_OS_USER}` OS user cannot write to {} (is a parent directory closed to other users?): \
                 use a var directory it can reach",
                data_dir.display()
            );
        }
    }
    info!(data_dir = %data_dir.display(), "initialising a private PostgreSQL cluster");
    let out = runner.run(
        &bins.initdb(),
        &[
            "-D".into(),
            data_dir.into(),
            "--auth=trust".into(),
            format!("--username={PG_OS_USER}").into(),
            "--encoding=UTF8".into(),
            "--locale=C".into(),
        ],
        "initdb",
    )?;
    ensure_success(&out, "initdb")
}

/// `pg_ctl status`: 0 running, 3 not running, 4 no usable data directory.
fn pg_ctl_running(bins: &PgBins, runner: &Runner, data_dir: &Path) -> Result<bool> {
    let out = runner.run(
        &bins.pg_ctl(),
        &["-D".into(), data_dir.into(), "status".into()],
        "pg_ctl status",
    )?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(3) => Ok(false),
        _ => ensure_success(&out, "pg_ctl status").map(|()| false),
    }
}

/// The port from `postmaster.pid` (line 4) of a running cluster.
fn running_port(data_dir: &Path) -> Option<u16> {
    fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()?
        .lines()
        .nth(3)?
        .trim()
        .parse()
        .ok()
}

fn start_cluster(bins: &PgBins, runner: &Runner, data_dir: &Path, port: u16) -> Result<()> {
    info!(data_dir = %data_dir.display(), port, "starting the private PostgreSQL cluster");
    let log = data_dir.join("log");
    // pg_ctl hands -o to a shell: quote the directory.
    let server_options = format!(
        "-p {port} -k {} -c listen_addresses=''",
        shell_quote(&data_dir.to_string_lossy())
    );
    let out = runner.run(
        &bins.pg_ctl(),
        &[
            "-D".into(),
            data_dir.into(),
            "-l".into(),
            log.clone().into(),
            "-o".into(),
            server_options.into(),
            "start".into(),
            "-w".into(),
        ],
        "pg_ctl start",
    )?;
    ensure_success(&out, "pg_ctl start").with_context(|| {
        format!(
            "starting the cluster in {}; end of its log: {}",
            data_dir.display(),
            log_tail(&log)
        )
    })
}

fn log_tail(log: &Path) -> String {
    match fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(5)..].join(" | ")
        }
        Err(e) => format!("(cannot read {}: {e})", log.display()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::db::discovery::database::{connect, create_database_if_missing};
    use crate::db::discovery::tests::temp_dir;
    use crate::db::discovery::url::with_database;
    use diesel::dsl::sql;
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    use std::net::TcpListener;

    #[test]
    fn private_cluster_starts_and_stops() {
        let mut tried = Vec::new();
        let Some(bins) = find_pg_bins(&mut tried) else {
            println!(
                "skipping: no PostgreSQL server binaries found ({})",
                tried.join("; ")
            );
            return;
        };
        let var = temp_dir("cluster");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data_dir = var.join("pg");

        let cluster = start_private_cluster(&bins, &data_dir, port).unwrap();
        assert_eq!(cluster.port, port);
        assert!(cluster.data_dir.join("PG_VERSION").is_file());
        // a second call finds it running
        let again = start_private_cluster(&bins, &data_dir, port).unwrap();
        assert_eq!(again.maintenance_url, cluster.maintenance_url);

        let mut conn = connect(&cluster.maintenance_url).unwrap();
        assert!(create_database_if_missing(&mut conn, "permits_private").unwrap());
        assert!(!create_database_if_missing(&mut conn, "permits_private").unwrap());
        drop(conn);
        let url = with_database(&cluster.maintenance_url, "permits_private").unwrap();
        let mut conn = connect(&url).unwrap();
        let listen: String = diesel::select(sql::<Text>("current_setting('listen_addresses')"))
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(listen, "");
        drop(conn);

        stop_private_cluster(&data_dir).unwrap();
        assert!(connect(&cluster.maintenance_url).is_err());
        stop_private_cluster(&data_dir).unwrap(); // stopping a stopped cluster is fine
        fs::remove_dir_all(&var).unwrap();
    }
}
