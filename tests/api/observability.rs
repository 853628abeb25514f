//! What operations see: Prometheus metrics, request ids, JSON logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use permits::domain::definition::Role;
use serde_json::{Value, json};

use crate::helpers::{FIRE_MATERIALS, Served, TestApp, fire_form};

/// A scrape, parsed: each sample line's name and labels to its value.
struct Scrape {
    text: String,
    samples: HashMap<String, f64>,
}

impl Scrape {
    async fn of(app: &TestApp, base: &str) -> Scrape {
        let r = app
            .client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let text = r.text().await.unwrap();
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                Some((key.to_owned(), value.parse().ok()?))
            })
            .collect();
        Scrape { text, samples }
    }

    /// The value of the sample with this name and exactly these labels (0 when absent).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .find(|(k, _)| {
                let Some(rest) = k.strip_prefix(name) else {
                    return false;
                };
                let inner = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}'));
                let have: Vec<&str> = match inner {
                    Some(i) => i.split("\",").map(|p| p.trim_end_matches('"')).collect(),
                    None if rest.is_empty() => Vec::new(),
                    None => return false,
                };
                have.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(l, v)| have.contains(&format!("{l}=\"{v}").as_str()))
            })
            .map(|(_, v)| *v)
            .unwrap_or(0.0)
    }
}

/// Requests by route template, actions by outcome, open filings by state, and the database's
/// facts are in the scrape; no filing id is in any label, and a made-up path is `unmatched`.
#[actix_web::test]
async fn metrics_count_requests_and_actions_and_read_the_open_work() {
    let app = TestApp::spawn().await;
    let applicant = app
        .mail_user(
            "obs_applicant",
            None,
            &[Role::Applicant],
            permits::domain::Lang::Zh,
        )
        .await;
    let base = app.addr.clone();
    let before = Scrape::of(&app, &base).await;

    let filing = app
        .create(&applicant, "fire-acceptance-filing", fire_form())
        .await;
    let id = filing["id"].as_str().unwrap().to_owned();
    let draft = filing["state"]["code"].as_str().unwrap().to_owned();
    let drafted = Scrape::of(&app, &base).await;
    let open = |s: &Scrape, state: &str| {
        s.get(
            "permits_filings_open",
            &[("item", "fire-acceptance-filing"), ("state", state)],
        )
    };
    assert_eq!(open(&drafted, &draft), 1.0, "{}", drafted.text);
    app.upload_all(&applicant, &id, FIRE_MATERIALS).await;
    let filing = app.filing(&applicant, &id).await;
    let submitted = app.act(&applicant, &filing, "submit", json!({})).await;
    // The same version again: the filing moved on, 409.
    let (status, _) = app.attempt(&applicant, &filing, "submit", json!({})).await;
    assert_eq!(status, 409);
    // An action the item does not have is counted as `other`, not by its made-up name.
    let (status, _) = app
        .attempt(&applicant, &submitted, "no_such_action_xyz", json!({}))
        .await;
    assert!(status >= 400);
    let made_up = format!("/no/such/page/{}", uuid::Uuid::new_v4());
    let r = app.client.get(app.url(&made_up)).send().await.unwrap();
    assert_eq!(r.status(), 404);

    let after = Scrape::of(&app, &base).await;
    let route = "/api/v1/filings/{id}/actions/{action}";
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    assert!(
        delta(
            "permits_http_requests_total",
            &[("method", "POST"), ("route", route), ("status", "200")]
        ) >= 1.0,
        "{}",
        after.text
    );
    assert!(
        delta(
            "permits_http_requests_total",
            &[("method", "POST"), ("route", route), ("status", "409")]
        ) >= 1.0
    );
    assert!(
        delta(
            "permits_http_requests_total",
            &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert!(
        after.get(
            "permits_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", route)]
        ) >= 3.0
    );
    let item = "fire-acceptance-filing";
    for (action, outcome) in [
        ("submit", "done"),
        ("submit", "conflict"),
        ("other", "conflict"),
    ] {
        let d = delta(
            "permits_actions_total",
            &[("item", item), ("action", action), ("outcome", outcome)],
        ) + if action == "other" {
            // Whichever refusal the engine gives an unknown action.
            delta(
                "permits_actions_total",
                &[("item", item), ("action", action), ("outcome", "invalid")],
            ) + delta(
                "permits_actions_total",
                &[("item", item), ("action", action), ("outcome", "forbidden")],
            )
        } else {
            0.0
        };
        assert!(d >= 1.0, "{action} {outcome}:\n{}", after.text);
    }
    // No id and no made-up path in any label.
    assert!(!after.text.contains(&id));
    assert!(!after.text.contains("no_such_action_xyz"));
    assert!(!after.text.contains("/no/such/page"));

    // The database's facts: this app's one open filing, in the state it is in now; the
    // state it left reads 0, not its last value.
    let state = submitted["state"]["code"].as_str().unwrap();
    assert_ne!(state, draft);
    assert_eq!(open(&after, state), 1.0, "{}", after.text);
    assert_eq!(open(&after, &draft), 0.0);
    assert!(after.text.contains(&format!(
        "permits_filings_open{{item=\"{item}\",state=\"{draft}\"}} 0"
    )));
    assert_eq!(after.get("permits_database_up", &[]), 1.0);
    assert!(after.get("permits_db_pool_size", &[]) >= 1.0);
    assert!(
        after
            .text
            .contains("# TYPE permits_db_pool_wait_seconds histogram")
    );
    // The letter the submission queued waits in the outbox until the sender runs.
    let letters = app.outbox().len() as f64;
    assert!(letters >= 1.0);
    assert_eq!(after.get("permits_outbox_pending", &[]), letters);
    app.run_job("outbox").await;
    let sent = Scrape::of(&app, &base).await;
    assert_eq!(sent.get("permits_outbox_pending", &[]), 0.0);
    assert!(
        sent.get(
            "permits_job_runs_total",
            &[("job", "outbox"), ("result", "ok")]
        ) >= 1.0
    );
    app.run_job("audit_seal").await;
    let sealed = Scrape::of(&app, &base).await;
    assert!(sealed.text.contains("permits_audit_seal_age_seconds "));

    // The alerting rules and the Grafana dashboard in deploy/ name only metrics the service
    // serves (a renamed metric fails here, not silently in production).
    let served: std::collections::BTreeSet<&str> = sealed
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let names = regex::Regex::new(r"permits_[a-z_]+").unwrap();
    for file in ["prometheus/alerts.yml", "grafana/permits.json"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let used: std::collections::BTreeSet<&str> = names
            .find_iter(&text)
            .map(|m| m.as_str())
            .filter(|n| *n != "permits_overview")
            .map(|n| {
                ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| n.strip_suffix(suffix))
                    .unwrap_or(n)
            })
            .collect();
        assert!(used.len() >= 10, "{file}: {used:?}");
        let unknown: Vec<_> = used.difference(&served).collect();
        assert!(
            unknown.is_empty(),
            "{file} names unserved metrics {unknown:?}; served: {served:?}"
        );
    }
}

/// Production's /metrics is on an address of its own: not on the public port.
#[actix_web::test]
async fn metrics_can_be_served_on_an_address_of_their_own() {
    let app = TestApp::spawn_with(|s| s.telemetry.metrics_bind = "127.0.0.1:0".into()).await;
    let port = app.metrics_port.expect("a metrics port");
    let own = Scrape::of(&app, &format!("http://127.0.0.1:{port}")).await;
    assert!(own.text.contains("permits_database_up 1"));
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
}

/// The request id is in the response header, the problem document and the error page; a
/// proxy's plain id is kept, anything else replaced.
#[actix_web::test]
async fn each_request_has_an_id_in_its_header_its_problem_and_its_error_page() {
    let app = TestApp::spawn().await;
    let applicant = app.applicant("obs_ids").await;
    let missing = format!("/api/v1/filings/{}", uuid::Uuid::new_v4());

    let r = app.get(&applicant, &missing).await;
    assert_eq!(r.status(), 404);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["request_id"], id.as_str());

    // Two requests, two ids.
    let again = app.get(&applicant, &missing).await;
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), id);

    // The proxy's id, when it is plainly an id, is the request's.
    let r = app
        .client
        .get(app.url(&missing))
        .bearer_auth(&applicant.token)
        .header("X-Request-Id", "edge-7f3a9c21")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "edge-7f3a9c21");
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["request_id"], "edge-7f3a9c21");
    let r = app
        .client
        .get(app.url(&missing))
        .header("X-Request-Id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let replaced = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&replaced).is_ok(), "{replaced}");

    // A page's error shows the id to quote.
    let r = app
        .client
        .get(app.url(&format!("/filings/{}", uuid::Uuid::new_v4())))
        .header("Cookie", format!("permits_session={}", applicant.token))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("<code>{id}</code>")),
        "the error page does not show {id}:\n{html}"
    );
}

/// `telemetry.log_format = "json"` (production): one JSON object a line; a request's line
/// carries its id, method, route and status.
#[actix_web::test]
async fn production_logs_are_json_lines_with_the_request_id() {
    let app = TestApp::spawn().await;
    let mut served = Served::start(
        &app.db_url,
        &[
            ("PERMITS__TELEMETRY__LOG_FORMAT", "json".into()),
            (
                "PERMITS__STORAGE__VAR_DIR",
                std::env::temp_dir()
                    .join(format!("permits-obs-var-{}", std::process::id()))
                    .display()
                    .to_string(),
            ),
            ("RUST_LOG", "info".into()),
        ],
        Stdio::piped(),
    );
    let stderr = served.stderr.take().unwrap();
    let addr = served.addr.clone();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let r = app
        .client
        .get(format!("http://{addr}/api/v1/items/no-such-item"))
        .header("X-Request-Id", "complaint-20261204-0001")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines_rx.recv_timeout(left) else {
            panic!("no log line with the request id; saw:\n{}", seen.join("\n"));
        };
        let v: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if v["request_id"] == "complaint-20261204-0001" {
            break v;
        }
        seen.push(line);
    };
    drop(served);
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["route"], "/api/v1/items/{code}");
    assert_eq!(line["status"], 404);
    // The time taken, in milliseconds to the microsecond: a number, without float noise.
    let ms = line["ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no ms in {line}"));
    assert!(ms > 0.0, "{line}");
    let written = line["ms"].to_string();
    assert!(
        written.split('.').nth(1).is_none_or(|f| f.len() <= 3),
        "ms to the microsecond, not {written}"
    );
    assert!(line["timestamp"].is_string());
    // The caller's W3C trace id, to find the line from the proxy's trace.
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
}

/// A stand-in OpenTelemetry collector: what it received over OTLP/HTTP (JSON), as spans.
async fn collector() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let spans = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let kept = spans.clone();
    let server = HttpServer::new(move || {
        let kept = kept.clone();
        App::new()
            .app_data(web::PayloadConfig::new(64 << 20))
            .route(
                "/v1/traces",
                web::post().to(move |body: web::Bytes| {
                    let kept = kept.clone();
                    async move {
                        let v: Value = serde_json::from_slice(&body).unwrap();
                        let mut kept = kept.lock().unwrap();
                        for rs in v["resourceSpans"].as_array().into_iter().flatten() {
                            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                                kept.extend(ss["spans"].as_array().into_iter().flatten().cloned());
                            }
                        }
                        HttpResponse::Ok().json(json!({}))
                    }
                }),
            )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (port, spans)
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

/// With `telemetry.otlp_endpoint` set, one action is one trace: the request's span, the use
/// case's span under it, and the statements under that, with their SQL and never their values;
/// a caller's W3C `traceparent` makes the request's span a child of the caller's.
#[actix_web::test]
async fn an_action_is_one_trace_of_request_use_case_and_statements() {
    let app = TestApp::spawn().await;
    let applicant = app.applicant("obs_tracer").await;
    let filing = app
        .create(&applicant, "fire-acceptance-filing", fire_form())
        .await;
    let id = filing["id"].as_str().unwrap().to_owned();
    app.upload_all(&applicant, &id, FIRE_MATERIALS).await;
    let filing = app.filing(&applicant, &id).await;
    let (port, spans) = collector().await;

    let served = Served::start(
        &app.db_url,
        &[
            (
                "PERMITS__TELEMETRY__OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}/v1/traces"),
            ),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
            (
                "PERMITS__STORAGE__VAR_DIR",
                std::env::temp_dir()
                    .join(format!("permits-otlp-var-{}", std::process::id()))
                    .display()
                    .to_string(),
            ),
        ],
        Stdio::null(),
    );
    let addr = served.addr.clone();

    let path = format!("/api/v1/filings/{id}/actions/submit");
    let r = app
        .client
        .post(format!("http://{addr}{path}"))
        .bearer_auth(&applicant.token)
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .json(&json!({ "expected_version": filing["version"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // The batch goes out every 100 ms.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (request, use_case, statements) = loop {
        let all = spans.lock().unwrap().clone();
        let request = all
            .iter()
            .find(|s| attribute(s, "http.target") == Some(path.as_str()))
            .cloned();
        if let Some(request) = request {
            let under = |parent: &Value| -> Vec<Value> {
                all.iter()
                    .filter(|s| s["parentSpanId"] == parent["spanId"])
                    .cloned()
                    .collect()
            };
            let use_case = under(&request)
                .into_iter()
                .find(|s| s["name"].as_str().unwrap_or("").ends_with("filings::act"));
            if let Some(use_case) = use_case {
                let statements = under(&use_case);
                if statements.len() >= 2 {
                    break (request, use_case, statements);
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no complete trace of {path}; spans: {}",
            serde_json::to_string_pretty(&all).unwrap()
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let trace = &request["traceId"];
    assert_eq!(
        trace, "0af7651916cd43dd8448eb211c80319c",
        "the caller's trace"
    );
    assert_eq!(
        request["parentSpanId"], "b7ad6b7169203331",
        "the caller's span"
    );
    assert_eq!(&use_case["traceId"], trace);
    assert_eq!(
        attribute(&use_case, "code.function"),
        Some("permits::web::api::filings::act")
    );
    assert!(attribute(&request, "request_id").is_some());
    let sql: Vec<&str> = statements
        .iter()
        .map(|s| {
            assert_eq!(&s["traceId"], trace);
            assert_eq!(attribute(s, "db.system"), Some("postgresql"));
            attribute(s, "db.statement").unwrap()
        })
        .collect();
    // The sign-in check, the read of the filing, the guarded write.
    assert!(sql.iter().any(|q| q.contains("api_tokens")), "{sql:#?}");
    assert!(
        sql.iter().any(|q| q.contains("UPDATE \"filings\"")),
        "{sql:#?}"
    );
    // Statements, never their values.
    assert!(sql.iter().all(|q| !q.contains("-- binds")), "{sql:#?}");
    assert!(sql.iter().any(|q| q.contains("$1")), "{sql:#?}");
    assert!(
        sql.iter().all(|q| !q.contains(&id)),
        "a filing id in a statement: {sql:#?}"
    );
}
