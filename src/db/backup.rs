//! `permits backup` and `permits restore`: PostgreSQL's own `pg_dump` (custom format) and
//! `pg_restore`, with what the audit log needs to be checked after a restore.
//!
//! A dump is a consistent snapshot of the whole database (pg_dump runs in one repeatable-read
//! transaction), so the audit chains in it end where its filings do. Beside it goes the newest
//! audit seal's hash (`<file>.seal`): kept apart from the backup (printed, mailed to the
//! auditor), it proves after a restore that the log was not rewritten and re-sealed in between:
//! `permits audit verify --seal <hash>` on the restored database.
//!
//! For point-in-time recovery (a base backup and archived WAL), see README: this is the
//! logical backup an office can restore anywhere, one file a night.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::discovery;

/// A backup made.
#[derive(Debug)]
pub struct Made {
    pub file: PathBuf,
    pub bytes: u64,
    /// The newest audit seal in the dump (its sequence number and hash), if any.
    pub seal: Option<(i64, String)>,
}

/// A PostgreSQL client program: on PATH, else the newest /usr/lib/postgresql/*/bin.
fn client(program: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(program))
        .filter(|p| p.is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .with_context(|| format!("{program} is not installed (PostgreSQL's client programs)"))
}

/// Dump the database at `url` to `file` (written under a temporary name and renamed when
/// complete: a file of that name is always a whole dump), and the newest seal's hash to
/// `<file>.seal`.
pub fn backup(url: &str, file: &Path) -> anyhow::Result<Made> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let partial = file.with_extension("partial");
    let out = Command::new(client("pg_dump")?)
        .arg("--format=custom")
        .arg(format!("--file={}", partial.display()))
        .arg(format!("--dbname={url}"))
        .stdin(Stdio::null())
        .output()
        .context("running pg_dump")?;
    // (pg_dump's errors name the host, never the password: libpq does not print it.)
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "pg_dump failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // The seal to keep is the newest the dump holds, read from the dump: the live database
    // may have sealed again since the dump's snapshot, and `verify --seal` asks that the kept
    // seal be among the restored ones.
    let seal = newest_seal_in(&partial)?;
    std::fs::rename(&partial, file)
        .with_context(|| format!("renaming the dump to {}", file.display()))?;
    if let Some((seq, hash)) = &seal {
        std::fs::write(seal_file(file), format!("{seq} {hash}\n"))
            .with_context(|| format!("writing {}", seal_file(file).display()))?;
    }
    let bytes = std::fs::metadata(file)?.len();
    Ok(Made {
        file: file.to_owned(),
        bytes,
        seal,
    })
}

/// Where a dump's seal is written.
pub fn seal_file(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".seal");
    PathBuf::from(name)
}

/// The newest audit seal a dump holds: its `audit_seals` data, read back with `pg_restore`
/// (the table's rows as COPY text), not from the live database, which may have sealed again
/// since the dump's snapshot.
fn newest_seal_in(dump: &Path) -> anyhow::Result<Option<(i64, String)>> {
    let out = Command::new(client("pg_restore")?)
        .args(["--data-only", "--table=audit_seals", "--file=-"])
        .arg(dump)
        .stdin(Stdio::null())
        .output()
        .context("running pg_restore to read the dump's seals")?;
    if !out.status.success() {
        bail!(
            "pg_restore could not read the dump ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(seals_from_copy(&text)
        .into_iter()
        .max_by_key(|(seq, _)| *seq))
}

/// The (seq, hash) rows of `COPY public.audit_seals (seq, sealed_at, heads, entry, prev_hash,
/// hash) FROM stdin;` text, found by the columns the COPY line names.
fn seals_from_copy(text: &str) -> Vec<(i64, String)> {
    let mut lines = text.lines();
    let Some(columns) = lines.by_ref().find_map(|l| {
        l.strip_prefix("COPY ")
            .filter(|l| l.contains("audit_seals"))
            .and_then(|l| Some(l.split_once('(')?.1.split_once(')')?.0.to_owned()))
    }) else {
        return Vec::new();
    };
    let columns: Vec<&str> = columns.split(',').map(str::trim).collect();
    let (Some(seq_at), Some(hash_at)) = (
        columns.iter().position(|c| *c == "seq"),
        columns.iter().position(|c| *c == "hash"),
    ) else {
        return Vec::new();
    };
    lines
        .take_while(|l| *l != "\\.")
        .filter_map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            Some((
                fields.get(seq_at)?.parse().ok()?,
                (*fields.get(hash_at)?).to_owned(),
            ))
        })
        .collect()
}

/// Restore a dump into a new database `into` on the server of `url`. Refuses a database that
/// exists; drops the new one again if the restore fails (nothing half-restored is left).
/// Returns the new database's URL.
pub fn restore(url: &str, file: &Path, into: &str) -> anyhow::Result<String> {
    discovery::validate_db_name(into)?;
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    let maintenance = discovery::maintenance_url(url)?;
    let mut admin = PgConnection::establish(&maintenance)
        .with_context(|| format!("connecting to {}", discovery::masked(&maintenance)))?;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let exists = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(into)
        .get_result::<N>(&mut admin)?
        .n
        > 0;
    if exists {
        bail!("database {into} exists: restore into a new database (--into NAME)");
    }
    admin
        .batch_execute(&format!("CREATE DATABASE \"{into}\""))
        .with_context(|| format!("creating database {into}"))?;
    let target = discovery::with_database(url, into)?;
    let out = Command::new(client("pg_restore")?)
        .args(["--no-owner", "--no-privileges", "--exit-on-error"])
        .arg(format!("--dbname={target}"))
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .context("running pg_restore")?;
    if !out.status.success() {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{into}\" WITH (FORCE)"));
        bail!(
            "pg_restore failed ({}), {into} dropped again: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_seal_is_read_from_a_dumps_copy_text() {
        let text = "SET x;\nCOPY public.audit_seals (seq, sealed_at, heads, entry, prev_hash, hash) FROM stdin;\n\
            1\t2026-12-01 00:00:00+00\t3\t{}\t000\taaa\n\
            2\t2026-12-02 00:00:00+00\t3\t{}\taaa\tbbb\n\\.\n\nCOPY public.other (a) FROM stdin;\n9\n\\.\n";
        assert_eq!(
            seals_from_copy(text),
            vec![(1, "aaa".to_owned()), (2, "bbb".to_owned())]
        );
        assert!(
            seals_from_copy("COPY public.other (seq, hash) FROM stdin;\n1\tx\n\\.\n").is_empty()
        );
    }
}
