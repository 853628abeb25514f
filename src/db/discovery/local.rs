//! The local server: its unix sockets, then its TCP port, as the current OS user and as
//! `postgres`.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::Result;
use tracing::debug;

use super::database::{connect, create_database_if_missing};
use super::url::{socket_url, tcp_url, with_database};
use super::{MAINTENANCE_DB, PG_OS_USER, one_line};

const LOCAL_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];
const LOCAL_TCP_HOST: &str = "127.0.0.1";
const LOCAL_PORT: u16 = 5432;

pub(super) fn find_local_server(db_name: &str, tried: &mut Vec<String>) -> Option<String> {
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
