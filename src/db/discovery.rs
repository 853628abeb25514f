//! Finding a PostgreSQL server and making sure our database exists on it.
//!
//! Policy, first match wins (see [`discover`]):
//!
//! 1. **Explicit URL** (`DATABASE_URL` or config): used as is. If it cannot be
//!    connected to, we try to create its database through the maintenance
//!    database `postgres` of the same server (when the server allows), then
//!    connect again. An explicit URL that does not work is an error: we never
//!    fall back to another server behind the operator's back.
//! 2. **The local server**: the unix socket dirs `/var/run/postgresql` and
//!    `/tmp`, then `127.0.0.1:5432`, each as the current OS user and as
//!    `postgres` (trust auth is common on dev machines). The first candidate
//!    that accepts a connection to the maintenance database `postgres` and
//!    either has our database or may create it wins.
//! 3. **A private cluster** under `var_dir/pg`, when PostgreSQL's server
//!    binaries are installed: `initdb` once, `pg_ctl start` on a fixed port with
//!    no TCP listener (unix socket in the data directory only), then create the
//!    database. As root, `initdb`/`pg_ctl` run as the `postgres` OS user.
//! 4. Otherwise an error that says what to install and lists what was tried.
//!
//! Connection attempts carry `connect_timeout=3` so a dead host fails fast.
//! Passwords never reach logs or errors: URLs are shown through [`masked`].
//! Database names are validated (`^[a-z_][a-z0-9_]{0,62}$`) and quoted before
//! they are put into SQL. Everything here blocks: call it before starting the
//! async runtime, or from `spawn_blocking`.
//!
//! URLs are libpq connection strings, either URIs
//! (`postgres://user@host:5432/db?sslmode=disable`,
//! `postgres://postgres@/db?host=/var/run/postgresql&port=5432`) or keyword
//! form (`host=/tmp user=postgres dbname=db`); both are parsed the way libpq
//! parses them.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use diesel::dsl::sql;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use tracing::{debug, info, warn};

/// Port of the private cluster. It only names the unix socket (the cluster
/// listens on no TCP address), so it cannot clash with another server.
pub const PRIVATE_CLUSTER_PORT: u16 = 54329;
/// The maintenance database every PostgreSQL server has.
pub const MAINTENANCE_DB: &str = "postgres";

const PROBE_CONNECT_TIMEOUT_SECS: &str = "3";
const LOCAL_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];
const LOCAL_TCP_HOST: &str = "127.0.0.1";
const LOCAL_PORT: u16 = 5432;
const PG_OS_USER: &str = "postgres";
/// `sun_path` is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

const INSTALL_HINT: &str = "install PostgreSQL: `apt-get install postgresql` (Debian/Ubuntu), \
     `dnf install postgresql-server` (Fedora/RHEL) or `brew install postgresql` (macOS); \
     or set DATABASE_URL to a server you can reach";

/// The server found by [`discover`] and how it was found.
#[derive(Clone, PartialEq, Eq)]
pub struct Discovered {
    /// Connection URL of database `db_name` (may contain a password: show it
    /// through [`masked`]).
    pub url: String,
    pub source: Source,
}

/// Where the server came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The explicit URL (DATABASE_URL or config).
    Env,
    /// A server already running on this machine.
    LocalServer,
    /// A cluster we run ourselves.
    PrivateCluster { data_dir: PathBuf, port: u16 },
}

impl fmt::Debug for Discovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discovered")
            .field("url", &masked(&self.url))
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env => f.write_str("explicit DATABASE_URL"),
            Source::LocalServer => f.write_str("local PostgreSQL server"),
            Source::PrivateCluster { data_dir, port } => write!(
                f,
                "private PostgreSQL cluster in {} (port {port})",
                data_dir.display()
            ),
        }
    }
}

/// Finds a PostgreSQL server and makes sure database `db_name` exists on it.
/// Order:
/// 1. `explicit` (from the DATABASE_URL variable or config) if Some and not
///    blank: used as is (create the database in it if it is missing and the
///    server allows). If the URL names no database, `db_name` is added to it.
/// 2. The local server: the unix socket dirs /var/run/postgresql and /tmp,
///    then 127.0.0.1:5432, as the current OS user and as `postgres`; the first
///    that accepts a connection to the `postgres` maintenance database and has
///    or may create `db_name` wins (a concurrent creation by another process
///    is fine).
/// 3. A private cluster under `var_dir/pg` if PostgreSQL's binaries are found
///    (`pg_config --bindir`, else PATH, else the newest
///    /usr/lib/postgresql/*/bin): `initdb` once, started with `pg_ctl` on port
///    [`PRIVATE_CLUSTER_PORT`] unless already running, reached through its
///    socket dir (the data directory).
/// 4. Otherwise an error that says what to install and what was tried.
pub fn discover(explicit: Option<&str>, db_name: &str, var_dir: &Path) -> Result<Discovered> {
    validate_db_name(db_name)?;

    if let Some(url) = explicit.filter(|u| !u.trim().is_empty()) {
        let url = use_explicit(url.trim(), db_name)?;
        info!(url = %masked(&url), "using PostgreSQL from DATABASE_URL");
        return Ok(Discovered {
            url,
            source: Source::Env,
        });
    }

    let mut tried = Vec::new();
    if let Some(url) = find_local_server(db_name, &mut tried) {
        info!(url = %masked(&url), "using the local PostgreSQL server");
        return Ok(Discovered {
            url,
            source: Source::LocalServer,
        });
    }

    let Some(bins) = find_pg_bins(&mut tried) else {
        bail!(
            "no PostgreSQL server found and no PostgreSQL server binaries to start a private one: {INSTALL_HINT}.\nTried:\n  - {}",
            tried.join("\n  - ")
        );
    };

    let data_dir = var_dir.join("pg");
    let result =
        start_private_cluster(&bins, &data_dir, PRIVATE_CLUSTER_PORT).and_then(|cluster| {
            let mut conn = connect(&cluster.maintenance_url)?;
            create_database_if_missing(&mut conn, db_name)?;
            let url = with_database(&cluster.maintenance_url, db_name)?;
            connect(&url)?;
            Ok((cluster, url))
        });
    match result {
        Ok((cluster, url)) => {
            info!(url = %masked(&url), data_dir = %cluster.data_dir.display(), "using a private PostgreSQL cluster");
            Ok(Discovered {
                url,
                source: Source::PrivateCluster {
                    data_dir: cluster.data_dir,
                    port: cluster.port,
                },
            })
        }
        Err(e) => {
            tried.push(format!(
                "private cluster in {} with binaries from {}: {e:#}",
                data_dir.display(),
                bins.dir.display()
            ));
            bail!(
                "no usable PostgreSQL server: none answered locally and the private cluster in {} could not be started. \
                 Fix the error below, or {INSTALL_HINT}.\nTried:\n  - {}",
                data_dir.display(),
                tried.join("\n  - ")
            )
        }
    }
}

/// The same server with another database name: used by tests to create
/// per-test databases. Works for URIs (TCP or `?host=/socket/dir`) and for
/// keyword strings; a `dbname` query parameter (which would override the path)
/// is replaced as well.
pub fn with_database(url: &str, db_name: &str) -> Result<String> {
    validate_db_name(db_name)?;
    let mut conn = ConnStr::parse(url).with_context(|| format!("parsing {}", masked(url)))?;
    conn.set_database(db_name);
    Ok(conn.to_string())
}

/// The maintenance URL (database `postgres`) of the same server.
pub fn maintenance_url(url: &str) -> Result<String> {
    with_database(url, MAINTENANCE_DB)
}

/// The URL with every password replaced by `***`, for logs and errors.
/// A string that cannot be parsed is hidden entirely.
pub fn masked(url: &str) -> String {
    match ConnStr::parse(url) {
        Ok(mut conn) => {
            conn.mask_passwords();
            conn.to_string()
        }
        Err(_) => "<unparseable connection string>".to_owned(),
    }
}

/// Checks a database name against `^[a-z_][a-z0-9_]{0,62}$`.
pub fn validate_db_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        bail!(
            "invalid database name {name:?}: use 1 to 63 characters among a-z, 0-9 and _, not starting with a digit"
        )
    }
}

/// Creates database `db_name` on the server of `url` (through its maintenance
/// database) unless it exists. Returns whether it was created here; a database
/// created concurrently by another process counts as existing.
pub fn ensure_database(url: &str, db_name: &str) -> Result<bool> {
    validate_db_name(db_name)?;
    let maintenance = maintenance_url(url)?;
    let mut conn = connect(&maintenance)?;
    create_database_if_missing(&mut conn, db_name)
}

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

// ---------------------------------------------------------------------------
// Explicit URL

fn use_explicit(url: &str, db_name: &str) -> Result<String> {
    let parsed =
        ConnStr::parse(url).context("DATABASE_URL is not a PostgreSQL connection string")?;
    let (url, target) = match parsed.database()? {
        Some(db) => (url.to_owned(), db),
        None => (with_database(url, db_name)?, db_name.to_owned()),
    };

    let first = match connect(&url) {
        Ok(_) => return Ok(url),
        Err(e) => e,
    };
    debug!(error = %format!("{first:#}"), "explicit URL did not connect; trying to create its database");

    let created = (|| -> Result<()> {
        validate_db_name(&target).context("the database is not one we create automatically")?;
        let mut conn = connect(&maintenance_url(&url)?)?;
        create_database_if_missing(&mut conn, &target)?;
        connect(&url)?;
        Ok(())
    })();
    match created {
        Ok(()) => Ok(url),
        Err(e) => bail!(
            "DATABASE_URL {} does not work: {first:#}; creating database {target:?} through the maintenance database did not help: {e:#}",
            masked(&url)
        ),
    }
}

// ---------------------------------------------------------------------------
// Local server

fn find_local_server(db_name: &str, tried: &mut Vec<String>) -> Option<String> {
    let os_user = current_os_user();
    let mut users: Vec<Option<String>> = vec![os_user.clone()];
    if os_user.as_deref() != Some(PG_OS_USER) {
        users.push(Some(PG_OS_USER.to_owned()));
    }
    let describe_user = |u: &Option<String>| match u {
        Some(u) => format!("user {u}"),
        None => "the current OS user".to_owned(),
    };

    let mut candidates = Vec::new();
    for dir in LOCAL_SOCKET_DIRS {
        let socket = Path::new(dir).join(format!(".s.PGSQL.{LOCAL_PORT}"));
        if !socket.exists() {
            tried.push(format!("unix socket {}: not present", socket.display()));
            continue;
        }
        for user in &users {
            candidates.push((
                format!("unix socket in {dir} as {}", describe_user(user)),
                socket_url(user.as_deref(), Path::new(dir), LOCAL_PORT, MAINTENANCE_DB),
            ));
        }
    }
    for user in &users {
        candidates.push((
            format!("{LOCAL_TCP_HOST}:{LOCAL_PORT} as {}", describe_user(user)),
            tcp_url(user.as_deref(), LOCAL_TCP_HOST, LOCAL_PORT, MAINTENANCE_DB),
        ));
    }

    for (what, maintenance) in candidates {
        let attempt = (|| -> Result<String> {
            let mut conn = connect(&maintenance)?;
            create_database_if_missing(&mut conn, db_name)?;
            let url = with_database(&maintenance, db_name)?;
            connect(&url)?;
            Ok(url)
        })();
        match attempt {
            Ok(url) => return Some(url),
            Err(e) => {
                debug!(candidate = %what, error = %format!("{e:#}"), "local PostgreSQL candidate failed");
                tried.push(format!("{what}: {}", one_line(&format!("{e:#}"))));
            }
        }
    }
    None
}

fn current_os_user() -> Option<String> {
    let from_id = Command::new("id")
        .arg("-un")
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    from_id
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|u| !u.is_empty())
}

// ---------------------------------------------------------------------------
// Database creation

/// Opens a connection with a short connect timeout. Errors name the (masked)
/// URL and never contain its password.
fn connect(url: &str) -> Result<PgConnection> {
    let probe = probe_url(url)?;
    PgConnection::establish(&probe)
        .map_err(|e| anyhow!(one_line(&redact(&e.to_string(), url))))
        .with_context(|| format!("connecting to {}", masked(url)))
}

/// `url` with `connect_timeout=3` unless it already sets a connect timeout.
fn probe_url(url: &str) -> Result<String> {
    let mut conn = ConnStr::parse(url).with_context(|| format!("parsing {}", masked(url)))?;
    if conn.get("connect_timeout").is_none() {
        conn.set("connect_timeout", PROBE_CONNECT_TIMEOUT_SECS);
    }
    Ok(conn.to_string())
}

fn database_exists(conn: &mut PgConnection, db_name: &str) -> Result<bool> {
    diesel::select(
        sql::<Bool>("EXISTS (SELECT 1 FROM pg_database WHERE datname = ")
            .bind::<Text, _>(db_name)
            .sql(")"),
    )
    .get_result(conn)
    .with_context(|| format!("checking whether database {db_name:?} exists"))
}

fn create_database_if_missing(conn: &mut PgConnection, db_name: &str) -> Result<bool> {
    validate_db_name(db_name)?;
    if database_exists(conn, db_name)? {
        debug!(db = db_name, "database exists");
        return Ok(false);
    }
    let statement = format!("CREATE DATABASE {}", quote_ident(db_name));
    let mut attempt = 0;
    loop {
        attempt += 1;
        let err = match diesel::sql_query(&statement).execute(conn) {
            Ok(_) => {
                info!(db = db_name, "created database");
                return Ok(true);
            }
            Err(e) => e,
        };
        // Another process may have created it meanwhile: duplicate_database,
        // or a unique violation on pg_database when both ran at once.
        if database_exists(conn, db_name)? {
            debug!(
                db = db_name,
                "database was created concurrently by another process"
            );
            return Ok(false);
        }
        let message = err.to_string();
        // The template is busy while someone is connected to it: wait a little.
        if message.contains("is being accessed by other users") && attempt < 5 {
            warn!(
                db = db_name,
                attempt, "template database busy; retrying CREATE DATABASE"
            );
            thread::sleep(Duration::from_millis(300 * attempt));
            continue;
        }
        return Err(anyhow!(err)).with_context(|| format!("creating database {db_name:?}"));
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// ---------------------------------------------------------------------------
// Private cluster

#[derive(Debug, Clone)]
struct PgBins {
    dir: PathBuf,
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
fn find_pg_bins(tried: &mut Vec<String>) -> Option<PgBins> {
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

/// Runs the PostgreSQL tools as ourselves, or as the `postgres` OS user when
/// we are root (initdb and pg_ctl refuse to run as root).
#[derive(Debug)]
enum Runner {
    Direct,
    Runuser(PathBuf),
    Su,
}

impl Runner {
    fn detect() -> Result<Runner> {
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

    fn run(&self, program: &Path, args: &[OsString], what: &str) -> Result<Output> {
        let mut cmd = self.command(program, args);
        debug!(command = ?cmd, "running");
        cmd.output()
            .with_context(|| format!("running {what} ({})", program.display()))
    }

    fn is_switching(&self) -> bool {
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

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn ensure_success(out: &Output, what: &str) -> Result<()> {
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

#[derive(Debug)]
struct Cluster {
    data_dir: PathBuf,
    port: u16,
    maintenance_url: String,
}

/// Initialises (once) and starts (unless running) a cluster in `data_dir`,
/// reachable only through a unix socket in `data_dir` itself, with trust auth
/// for user `postgres`. Serialised between processes by `<data_dir>.lock`.
fn start_private_cluster(bins: &PgBins, data_dir: &Path, port: u16) -> Result<Cluster> {
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

// ---------------------------------------------------------------------------
// Connection strings

fn socket_url(user: Option<&str>, dir: &Path, port: u16, db: &str) -> String {
    let user = user.map(|u| format!("{}@", encode(u, "")));
    format!(
        "postgres://{}/{db}?host={}&port={port}",
        user.unwrap_or_default(),
        encode(&dir.to_string_lossy(), "/")
    )
}

fn tcp_url(user: Option<&str>, host: &str, port: u16, db: &str) -> String {
    let user = user.map(|u| format!("{}@", encode(u, "")));
    format!("postgres://{}{host}:{port}/{db}", user.unwrap_or_default())
}

/// Percent-encodes everything except unreserved characters and `keep`.
fn encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let c = char::from(b);
        if b.is_ascii_alphanumeric() || "-._~".contains(c) || (b.is_ascii() && keep.contains(c)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| anyhow!("invalid percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("percent-encoded text is not UTF-8")
}

/// Replaces the passwords of `url` wherever they appear in `text`.
fn redact(text: &str, url: &str) -> String {
    let Ok(conn) = ConnStr::parse(url) else {
        return text.to_owned();
    };
    let mut text = text.to_owned();
    for password in conn.passwords() {
        if !password.is_empty() {
            text = text.replace(&password, "***");
        }
    }
    text
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A libpq connection string, kept close to its original text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConnStr {
    Uri(Uri),
    /// `key=value` pairs, values unquoted.
    Keywords(Vec<(String, String)>),
}

/// `scheme://[userinfo@][hosts][/dbname][?params]`, pieces raw (still
/// percent-encoded), split the way libpq splits them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Uri {
    scheme: &'static str,
    userinfo: Option<String>,
    hosts: String,
    dbname: Option<String>,
    params: Vec<String>,
}

impl ConnStr {
    fn parse(s: &str) -> Result<ConnStr> {
        for scheme in ["postgresql://", "postgres://"] {
            if let Some(rest) = s.strip_prefix(scheme) {
                return Uri::parse(scheme, rest).map(ConnStr::Uri);
            }
        }
        if s.contains("://") {
            bail!("unsupported URL scheme: use postgres:// or postgresql://");
        }
        if !s.trim().is_empty() && !s.contains('=') {
            bail!("not a PostgreSQL connection string (expected postgres://… or key=value pairs)");
        }
        parse_keywords(s).map(ConnStr::Keywords)
    }

    /// The effective database name, decoded (`None`: libpq's default).
    fn database(&self) -> Result<Option<String>> {
        if let Some(db) = self.get("dbname") {
            return Ok(Some(db).filter(|d| !d.is_empty()));
        }
        match self {
            ConnStr::Uri(uri) => uri
                .dbname
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(decode)
                .transpose(),
            ConnStr::Keywords(_) => Ok(None),
        }
    }

    /// The last value of parameter `key` (query parameter or keyword).
    fn get(&self, key: &str) -> Option<String> {
        match self {
            ConnStr::Uri(uri) => uri
                .params
                .iter()
                .filter_map(|p| split_param(p))
                .rfind(|(k, _)| k == key)
                .map(|(_, v)| v),
            ConnStr::Keywords(pairs) => pairs
                .iter()
                .rfind(|(k, _)| k == key)
                .map(|(_, v)| v.clone()),
        }
    }

    fn set(&mut self, key: &str, value: &str) {
        match self {
            ConnStr::Uri(uri) => {
                uri.params
                    .retain(|p| split_param(p).is_none_or(|(k, _)| k != key));
                uri.params
                    .push(format!("{}={}", encode(key, ""), encode(value, "/")));
            }
            ConnStr::Keywords(pairs) => {
                let mut seen = false;
                pairs.retain_mut(|(k, v)| {
                    if k != key {
                        return true;
                    }
                    if seen {
                        return false;
                    }
                    seen = true;
                    *v = value.to_owned();
                    true
                });
                if !seen {
                    pairs.push((key.to_owned(), value.to_owned()));
                }
            }
        }
    }

    fn set_database(&mut self, db: &str) {
        match self {
            ConnStr::Uri(uri) => {
                uri.params
                    .retain(|p| split_param(p).is_none_or(|(k, _)| k != "dbname"));
                uri.dbname = Some(encode(db, ""));
            }
            ConnStr::Keywords(_) => self.set("dbname", db),
        }
    }

    /// Every password in the string, decoded and raw.
    fn passwords(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let ConnStr::Uri(uri) = self {
            if let Some((_, raw)) = uri.userinfo.as_deref().and_then(|u| u.split_once(':')) {
                out.push(raw.to_owned());
                out.extend(decode(raw).ok());
            }
            for p in &uri.params {
                if let Some((k, v)) = p.split_once('=')
                    && decode(k).is_ok_and(|k| k == "password")
                {
                    out.push(v.to_owned());
                    out.extend(decode(v).ok());
                }
            }
        }
        if let ConnStr::Keywords(pairs) = self {
            out.extend(
                pairs
                    .iter()
                    .filter(|(k, _)| k == "password")
                    .map(|(_, v)| v.clone()),
            );
        }
        out
    }

    fn mask_passwords(&mut self) {
        match self {
            ConnStr::Uri(uri) => {
                if let Some(info) = &mut uri.userinfo
                    && let Some((user, _)) = info.split_once(':')
                {
                    *info = format!("{user}:***");
                }
                for p in &mut uri.params {
                    if split_param(p).is_some_and(|(k, _)| k == "password") {
                        *p = "password=***".to_owned();
                    }
                }
            }
            ConnStr::Keywords(pairs) => {
                for (k, v) in pairs {
                    if k == "password" {
                        *v = "***".to_owned();
                    }
                }
            }
        }
    }
}

impl fmt::Display for ConnStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnStr::Uri(uri) => {
                f.write_str(uri.scheme)?;
                if let Some(info) = &uri.userinfo {
                    write!(f, "{info}@")?;
                }
                f.write_str(&uri.hosts)?;
                if let Some(db) = &uri.dbname {
                    write!(f, "/{db}")?;
                }
                if !uri.params.is_empty() {
                    write!(f, "?{}", uri.params.join("&"))?;
                }
                Ok(())
            }
            ConnStr::Keywords(pairs) => {
                let text = pairs
                    .iter()
                    .map(|(k, v)| format!("{k}={}", quote_keyword_value(v)))
                    .collect::<Vec<_>>()
                    .join(" ");
                f.write_str(&text)
            }
        }
    }
}

impl Uri {
    /// Mirrors libpq's `conninfo_uri_parse_options`: user info runs to the
    /// first `@` met before any `/`; hosts run to the first `/` or `?`; the
    /// database name runs from that `/` to the first `?`.
    fn parse(scheme: &'static str, rest: &str) -> Result<Uri> {
        let (userinfo, rest) = match rest.find(['@', '/']) {
            Some(i) if rest.as_bytes()[i] == b'@' => (Some(rest[..i].to_owned()), &rest[i + 1..]),
            _ => (None, rest),
        };
        let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let hosts = rest[..host_end].to_owned();
        let rest = &rest[host_end..];
        let (dbname, rest) = match rest.strip_prefix('/') {
            Some(after) => {
                let end = after.find('?').unwrap_or(after.len());
                (Some(after[..end].to_owned()), &after[end..])
            }
            None => (None, rest),
        };
        let params = match rest.strip_prefix('?') {
            Some(query) => query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        for p in &params {
            if split_param(p).is_none() {
                bail!("invalid URI query parameter (expected key=value)");
            }
        }
        Ok(Uri {
            scheme,
            userinfo,
            hosts,
            dbname,
            params,
        })
    }
}

/// A raw `key=value` query parameter, decoded.
fn split_param(p: &str) -> Option<(String, String)> {
    let (k, v) = p.split_once('=')?;
    Some((decode(k).ok()?, decode(v).ok()?))
}

/// Mirrors libpq's `conninfo_parse`: `key = value` pairs separated by
/// whitespace; values bare or single-quoted, backslash escaping the next
/// character in both.
fn parse_keywords(s: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            bail!("missing \"=\" after {key:?} in connection string");
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => bail!("unterminated quoted value for {key:?} in connection string"),
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

fn quote_keyword_value(v: &str) -> String {
    if !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return v.to_owned();
    }
    let mut out = String::from("'");
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn temp_dir(tag: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("permits-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn with_database_tcp() {
        let cases = [
            ("postgres://localhost/permits", "postgres://localhost/other"),
            ("postgres://localhost", "postgres://localhost/other"),
            ("postgres://localhost/", "postgres://localhost/other"),
            (
                "postgresql://u@db.example:6543/permits",
                "postgresql://u@db.example:6543/other",
            ),
            (
                "postgres://u:s3cret@127.0.0.1:5432/permits?sslmode=disable&application_name=x",
                "postgres://u:s3cret@127.0.0.1:5432/other?sslmode=disable&application_name=x",
            ),
            (
                "postgres://u:p@h?sslmode=require",
                "postgres://u:p@h/other?sslmode=require",
            ),
            (
                "postgres://[::1]:5432/permits?x=1",
                "postgres://[::1]:5432/other?x=1",
            ),
            (
                "postgres://h1:5432,h2:5433/permits?target_session_attrs=read-write",
                "postgres://h1:5432,h2:5433/other?target_session_attrs=read-write",
            ),
            // libpq: user info runs to the first '@' before any '/', so '?' may be in a password
            ("postgres://u:p?w@h/permits", "postgres://u:p?w@h/other"),
            // encoded characters in the password stay as they were
            (
                "postgres://u:p%40ss%2F@h:1/permits",
                "postgres://u:p%40ss%2F@h:1/other",
            ),
            // a dbname query parameter would override the path: replaced
            (
                "postgres://h/permits?dbname=x&sslmode=disable",
                "postgres://h/other?sslmode=disable",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(with_database(input, "other").unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn with_database_socket() {
        let cases = [
            (
                "postgres://postgres@/permits?host=/var/run/postgresql",
                "postgres://postgres@/other?host=/var/run/postgresql",
            ),
            (
                "postgres:///permits?host=/tmp&port=5433",
                "postgres:///other?host=/tmp&port=5433",
            ),
            ("postgres://?host=/tmp", "postgres:///other?host=/tmp"),
            (
                "postgresql://%2Fvar%2Frun%2Fpostgresql/permits",
                "postgresql://%2Fvar%2Frun%2Fpostgresql/other",
            ),
            (
                "postgres://root:pw@/permits?host=%2Fvar%2Frun%2Fpostgresql&connect_timeout=10",
                "postgres://root:pw@/other?host=%2Fvar%2Frun%2Fpostgresql&connect_timeout=10",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(with_database(input, "other").unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn with_database_keywords() {
        let cases = [
            (
                "host=/var/run/postgresql user=postgres dbname=permits",
                "host=/var/run/postgresql user=postgres dbname=other",
            ),
            (
                "host=localhost port=5432",
                "host=localhost port=5432 dbname=other",
            ),
            (
                "host = localhost  dbname = permits password='s3 cr\\'et' sslmode=disable",
                "host=localhost dbname=other password='s3 cr\\'et' sslmode=disable",
            ),
            ("dbname=a host=h dbname=b", "dbname=other host=h"),
            ("password=p\\ w dbname=x", "password='p w' dbname=other"),
            ("", "dbname=other"),
        ];
        for (input, expected) in cases {
            assert_eq!(with_database(input, "other").unwrap(), expected, "{input}");
        }
        // values survive a round trip
        let parsed = ConnStr::parse("password='a\\\\b c' user=''").unwrap();
        assert_eq!(
            parsed,
            ConnStr::Keywords(vec![
                ("password".into(), "a\\b c".into()),
                ("user".into(), "".into())
            ])
        );
        assert_eq!(ConnStr::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn maintenance_urls() {
        assert_eq!(
            maintenance_url("postgres://u:p@localhost:5432/permits?sslmode=disable").unwrap(),
            "postgres://u:p@localhost:5432/postgres?sslmode=disable"
        );
        assert_eq!(
            maintenance_url("postgres://postgres@/permits?host=/var/run/postgresql").unwrap(),
            "postgres://postgres@/postgres?host=/var/run/postgresql"
        );
        assert_eq!(
            maintenance_url("host=/tmp dbname=permits password=x").unwrap(),
            "host=/tmp dbname=postgres password=x"
        );
    }

    #[test]
    fn bad_urls_are_rejected_without_leaking() {
        for bad in [
            "mysql://u:secret@h/db",
            "permits",
            "host=h password='secret",
            "host",
            "postgres://u:secret@h/db?novalue",
        ] {
            let err = with_database(bad, "other").unwrap_err();
            assert!(!format!("{err:#}").contains("secret"), "{err:#}");
        }
        assert!(with_database("postgres://h/db", "Bad-Name").is_err());
    }

    #[test]
    fn masking() {
        assert_eq!(
            masked("postgres://u:s3cret@h:5432/db?sslmode=disable"),
            "postgres://u:***@h:5432/db?sslmode=disable"
        );
        assert_eq!(masked("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            masked("postgres://h/db?password=s3cret&sslmode=disable"),
            "postgres://h/db?password=***&sslmode=disable"
        );
        assert_eq!(
            masked("host=h password='s3 cret' dbname=db"),
            "host=h password=*** dbname=db"
        );
        assert_eq!(masked("nonsense s3cret"), "<unparseable connection string>");

        let d = Discovered {
            url: "postgres://u:s3cret@h/db".into(),
            source: Source::Env,
        };
        assert!(!format!("{d:?}").contains("s3cret"));

        assert_eq!(
            redact(
                "auth failed for p%40ss and p@ss",
                "postgres://u:p%40ss@h/db"
            ),
            "auth failed for *** and ***"
        );
    }

    #[test]
    fn probe_urls() {
        assert_eq!(
            probe_url("postgres://h/db").unwrap(),
            "postgres://h/db?connect_timeout=3"
        );
        assert_eq!(
            probe_url("postgres://h/db?connect_timeout=10").unwrap(),
            "postgres://h/db?connect_timeout=10"
        );
        assert_eq!(
            probe_url("host=/tmp dbname=db").unwrap(),
            "host=/tmp dbname=db connect_timeout=3"
        );
        assert_eq!(
            socket_url(
                Some("postgres"),
                Path::new("/var/run/postgresql"),
                5432,
                "db"
            ),
            "postgres://postgres@/db?host=/var/run/postgresql&port=5432"
        );
        assert_eq!(
            socket_url(Some("a b"), Path::new("/x y/pg"), 1, "db"),
            "postgres://a%20b@/db?host=/x%20y/pg&port=1"
        );
        assert_eq!(
            tcp_url(None, "127.0.0.1", 5432, "db"),
            "postgres://127.0.0.1:5432/db"
        );
    }

    #[test]
    fn database_names() {
        for ok in ["permits", "_x", "a1_2", &"a".repeat(63)] {
            assert!(validate_db_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Permits",
            "a-b",
            "a b",
            "x;drop",
            "é",
            "x\"y",
            &"a".repeat(64),
        ] {
            assert!(validate_db_name(bad).is_err(), "{bad}");
        }
        assert_eq!(quote_ident("permits"), "\"permits\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn database_from_url() {
        let db = |u: &str| ConnStr::parse(u).unwrap().database().unwrap();
        assert_eq!(db("postgres://h/permits"), Some("permits".into()));
        assert_eq!(db("postgres://h/"), None);
        assert_eq!(db("postgres://h/a?dbname=b"), Some("b".into()));
        assert_eq!(db("postgres://h/my%5Fdb"), Some("my_db".into()));
        assert_eq!(db("host=h dbname=x"), Some("x".into()));
        assert_eq!(db("host=h"), None);
    }

    fn drop_database(url: &str, name: &str) {
        let mut conn = connect(&maintenance_url(url).unwrap()).unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", quote_ident(name)))
            .execute(&mut conn)
            .unwrap();
    }

    fn exists(url: &str, name: &str) -> bool {
        let mut conn = connect(&maintenance_url(url).unwrap()).unwrap();
        database_exists(&mut conn, name).unwrap()
    }

    /// Needs a reachable PostgreSQL (the local server, or binaries for a private cluster).
    #[test]
    fn discover_creates_the_database() {
        let var = temp_dir("discover");
        let name = "permits_discovery_test";
        let first = discover(None, "permits_discovery_probe", &var).unwrap();
        drop_database(&first.url, name);

        let found = discover(None, name, &var).unwrap();
        println!("found {found:?}");
        assert!(exists(&found.url, name));
        let mut conn = connect(&found.url).unwrap();
        let current: bool =
            diesel::select(sql::<Bool>("current_database() = 'permits_discovery_test'"))
                .get_result(&mut conn)
                .unwrap();
        assert!(current);
        drop(conn);
        // a second run finds it
        assert_eq!(discover(None, name, &var).unwrap(), found);

        // the explicit URL path creates a missing database too
        let explicit_name = "permits_discovery_explicit";
        let explicit_url = with_database(&found.url, explicit_name).unwrap();
        drop_database(&found.url, explicit_name);
        let explicit = discover(Some(&explicit_url), name, &var).unwrap();
        assert_eq!(explicit.source, Source::Env);
        assert_eq!(explicit.url, explicit_url);
        assert!(exists(&found.url, explicit_name));

        // a broken explicit URL is an error, not a fallback, and hides its password
        let err = discover(
            Some("postgres://nobody:s3cret@127.0.0.1:1/permits"),
            name,
            &var,
        )
        .unwrap_err();
        let text = format!("{err:#}");
        println!("{text}");
        assert!(!text.contains("s3cret") && text.contains("***"), "{text}");

        drop_database(&found.url, explicit_name);
        drop_database(&found.url, name);
        drop_database(&found.url, "permits_discovery_probe");
        fs::remove_dir_all(&var).unwrap();
    }

    #[test]
    fn concurrent_creation_is_fine() {
        let var = temp_dir("race");
        let name = "permits_discovery_race";
        let first = discover(None, "permits_discovery_race_probe", &var).unwrap();
        drop_database(&first.url, name);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let var = var.clone();
                thread::spawn(move || discover(None, name, &var).map(|d| d.url))
            })
            .collect();
        let urls: Vec<String> = handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        assert!(urls.iter().all(|u| *u == urls[0]));
        assert!(exists(&urls[0], name));
        drop_database(&first.url, name);
        drop_database(&first.url, "permits_discovery_race_probe");
        fs::remove_dir_all(&var).unwrap();
    }

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
