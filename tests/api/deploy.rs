//! deploy/: the systemd units are valid, and what they run (the unit's command, its
//! environment and each instance's file) starts two production instances on one database
//! reached through a two-host URL whose first host is down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use permits::db::discovery;

use crate::helpers::{SmtpSink, TestApp};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `KEY=value` lines of an environment file (comments and blank lines skipped).
fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=value: {l}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// A unit's `[Service]` values of a key, in order.
fn service_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    let prefix = format!("{key}=");
    unit.lines()
        .skip_while(|l| l.trim() != "[Service]")
        .take_while(|l| !l.starts_with("[Install]"))
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

struct Instances(Vec<Child>);

impl Drop for Instances {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[actix_web::test]
async fn the_systemd_units_verify_and_run_two_production_instances_on_a_two_host_url() {
    let unit = std::fs::read_to_string(deploy().join("systemd/permits@.service")).unwrap();
    let bin = env!("CARGO_BIN_EXE_permits");
    let scratch = std::env::temp_dir().join(format!("permits-deploy-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).unwrap();

    // systemd's own check of the units, with the binary where the unit says it is.
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        for name in [
            "permits@.service",
            "permits-backup.service",
            "permits-backup.timer",
        ] {
            let text = std::fs::read_to_string(deploy().join("systemd").join(name)).unwrap();
            std::fs::write(
                scratch.join(name),
                text.replace("/opt/permits/permits", bin)
                    .replace("/etc/permits/", "-/etc/permits/"),
            )
            .unwrap();
        }
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(scratch.join("permits@1.service"))
            .arg(scratch.join("permits-backup.service"))
            .arg(scratch.join("permits-backup.timer"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("systemd-analyze is not installed: the units' syntax is not checked");
    }

    // What the unit runs.
    let exec: Vec<&str> = service_values(&unit, "ExecStart")[0]
        .split_whitespace()
        .collect();
    assert_eq!(exec[0], "/opt/permits/permits");
    let mut common: BTreeMap<String, String> = service_values(&unit, "Environment")
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    assert_eq!(common["PERMITS_ENV"], "production");
    common.insert("PERMITS_ROOT".into(), env!("CARGO_MANIFEST_DIR").into());

    let app = TestApp::spawn().await;
    let sink = SmtpSink::start();
    let key = scratch.join("seal-sm2.pem");
    std::fs::write(
        &key,
        permits::documents::seal::SealKey::generate()
            .to_pem()
            .unwrap(),
    )
    .unwrap();
    // The first host of the URL answers nothing; libpq goes on to the second. (libpq's host and
    // port lists; the live host may be a socket directory.)
    let (base, query) = app.db_url.split_once('?').unwrap_or((&app.db_url, ""));
    let query: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let (authority, db) = base.split_once("://").unwrap().1.split_once('/').unwrap();
    let db = db.to_owned();
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (url_host, url_port) = hostport.split_once(':').unwrap_or((hostport, ""));
    let live_host = query
        .get("host")
        .cloned()
        .or_else(|| Some(url_host.to_owned()).filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "127.0.0.1".into());
    let live_port = query
        .get("port")
        .cloned()
        .or_else(|| Some(url_port.to_owned()).filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "5432".into());
    let user = query
        .get("user")
        .cloned()
        .unwrap_or_else(|| userinfo.split(':').next().unwrap_or("").to_owned());
    let two_hosts = format!(
        "postgres:///{db}?host=127.0.0.1,{live_host}&port={},{live_port}&user={user}&target_session_attrs=read-write",
        free_port(),
    );

    let mut running = Instances(Vec::new());
    let mut addresses = Vec::new();
    for n in 1..=2 {
        let mut env = common.clone();
        env.extend(env_file(
            &std::fs::read_to_string(deploy().join(format!("systemd/permits-{n}.env"))).unwrap(),
        ));
        // The site's own addresses and secrets, here.
        let (bind, metrics) = (
            format!("127.0.0.1:{}", free_port()),
            format!("127.0.0.1:{}", free_port()),
        );
        for (k, v) in [
            ("PERMITS_BIND", bind.clone()),
            ("PERMITS__TELEMETRY__METRICS_BIND", metrics.clone()),
            ("PERMITS__DATABASE__URL", two_hosts.clone()),
            ("PERMITS__DATABASE__READ_URL", String::new()),
            (
                "PERMITS__STORAGE__VAR_DIR",
                scratch.join("shared").display().to_string(),
            ),
            (
                "PERMITS__MAIL__SMTP_URL",
                format!("smtp://127.0.0.1:{}", sink.port),
            ),
            ("PERMITS__DOCUMENTS__KEY_FILE", key.display().to_string()),
            (
                "PERMITS__EXCHANGE__SPGL_URL",
                discovery::with_database(&app.db_url, &format!("{db}_spgl")).unwrap(),
            ),
            (
                "PERMITS__EXCHANGE__PLATFORM_URL",
                "http://127.0.0.1:9/".into(),
            ),
        ] {
            assert!(
                env.contains_key(k),
                "permits-{n}.env does not set {k}: an operator would miss it"
            );
            env.insert(k.into(), v);
        }
        let log = std::fs::File::create(scratch.join(format!("permits-{n}.log"))).unwrap();
        running.0.push(
            Command::new(bin)
                .args(&exec[1..])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("RUST_LOG", "warn")
                .envs(&env)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        addresses.push((bind, metrics));
    }

    let client = reqwest::Client::new();
    for (n, (bind, metrics)) in addresses.iter().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client
                .get(format!("http://{bind}/readyz"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok();
            if ready == Some(200) {
                break;
            }
            let exited = running.0[n].try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "instance {} not ready ({ready:?}, exited {exited:?}): {}",
                n + 1,
                std::fs::read_to_string(scratch.join(format!("permits-{}.log", n + 1)))
                    .unwrap_or_default()
            );
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
        let scrape = client
            .get(format!("http://{metrics}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(scrape.status(), 200);
        assert!(
            scrape
                .text()
                .await
                .unwrap()
                .contains("permits_database_up 1")
        );
        let public = client
            .get(format!("http://{bind}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(public.status(), 404);
    }

    // systemd stops a unit with SIGTERM (KillSignal): each instance exits cleanly.
    for c in &mut running.0 {
        let pid = c.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }
    for (n, c) in running.0.iter_mut().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(45);
        let status = loop {
            if let Some(s) = c.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "instance {} ignored SIGTERM",
                n + 1
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(status.success(), "instance {} exited {status}", n + 1);
    }
    drop(running);
    let _ = std::fs::remove_dir_all(&scratch);
}
