//! The service as a whole: health, readiness, the OpenAPI document, the catalogue, versioning.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use permits::services::items::Registry;
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["migrations"], "current");
}

#[actix_web::test]
async fn readiness_fails_when_a_migration_is_missing() {
    let app = TestApp::spawn().await;
    {
        use diesel::connection::SimpleConnection;
        app.conn()
            .batch_execute("DELETE FROM __diesel_schema_migrations")
            .unwrap();
    }
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["migrations"], "pending");
}

#[actix_web::test]
async fn the_openapi_document_and_the_offline_docs_page_are_served() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/filings",
        "/filings/{id}/actions/{action}",
        "/queue/claim-next",
        "/audit/verify",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    // Every schema the document refers to is in it (a type added to an answer and not
    // registered would leave a dangling reference for client generators).
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 20, "{} references", all.len());
    let mut dangling: Vec<&String> = all
        .iter()
        .filter(|r| {
            r.strip_prefix("#/components/schemas/")
                .is_none_or(|name| doc["components"]["schemas"].get(name).is_none())
        })
        .collect();
    dangling.sort();
    dangling.dedup();
    assert!(
        dangling.is_empty(),
        "referred to but not in the document: {dangling:?}"
    );
    assert!(doc["components"]["schemas"].get("SealSummary").is_some());
    // A filing without a notice answers `"notice": null`: the schema allows it.
    let view = &doc["components"]["schemas"]["FilingView"];
    let required: Vec<&str> = view["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let notice = &view["properties"]["notice"];
    assert!(
        !required.contains(&"notice") || notice.to_string().contains("null"),
        "notice is required and not nullable: {notice}"
    );
    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "the docs page is Swagger UI");
    // Offline: the page loads its scripts from this server, not from a CDN.
    assert!(!html.contains("https://"), "no external scripts");
}

#[actix_web::test]
async fn the_catalogue_lists_every_item_with_its_guide_and_diagram() {
    let app = TestApp::spawn().await;
    let items: Value = app
        .client
        .get(app.url("/api/v1/items"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let codes: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "construction-permit",
            "elevator-installation",
            "fire-acceptance-filing",
            "special-fire-acceptance",
            "special-fire-design-review"
        ]
    );

    let guide: Value = app
        .client
        .get(app.url("/api/v1/items/construction-permit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(guide["limits"]["statutory"]["days"], 7);
    assert!(
        guide["materials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["requirement"] == "tolerable")
    );
    assert!(!guide["basis"].as_array().unwrap().is_empty());

    // A table field shows its columns, and the guard that counts it is shown as the item's
    // rules are (its thresholds in the settings).
    let guide: Value = app
        .client
        .get(app.url("/api/v1/items/elevator-installation"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owners = guide["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "owners")
        .unwrap();
    assert_eq!(owners["type"], "table");
    assert_eq!(owners["max_rows"], 2000);
    let columns: Vec<(&str, &str)> = owners["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_str().unwrap(), c["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        columns,
        [
            ("unit", "text"),
            ("owner", "text"),
            ("area", "area"),
            ("vote", "select"),
            ("signed", "boolean")
        ]
    );
    assert_eq!(owners["columns"][3]["options"][0]["label"]["zh"], "同意");
    // The settings in force: 长沙's (the tests' rules) over the item's 民法典 shares.
    assert_eq!(guide["settings"]["consent_approval_headcount"], "2/3");
    assert_eq!(guide["settings"]["consent_base"], "total");
    assert_eq!(guide["settings"]["fund_approval_headcount"], ">1/2");
    assert_eq!(guide["settings"]["notice_working_days"], 15);
    // The maintenance fund's vote is asked for only when the fund is used.
    let fund = guide["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "fund_owners")
        .unwrap();
    assert_eq!(fund["type"], "table");
    assert_eq!(
        fund["required_when"],
        json!({ "field": "funding", "in": ["owners_and_fund"] })
    );

    let graph = app
        .client
        .get(app.url("/api/v1/items/elevator-installation/graph"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(graph.starts_with("stateDiagram-v2"));
    assert!(graph.contains("forwarding --> joint_review"), "{graph}");
    assert!(graph.contains("in_service --> registered"), "{graph}");
    assert!(!graph.contains("public_notice"), "{graph}");

    let r = app
        .client
        .get(app.url("/api/v1/items/no-such-item"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[actix_web::test]
async fn a_changed_definition_is_a_new_version_and_running_filings_keep_theirs() {
    let app = TestApp::spawn().await;
    let builder = app.applicant("builder").await;
    let old = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    assert_eq!(old["item_version"], 1);

    // Change one label in a copy of the definitions and load it as a restart would.
    let dir = std::env::temp_dir().join(format!("permits-items-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/items");
    let (mut files, mut changed) = (0, 0);
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        files += 1;
        changed += i64::from(text.contains("审查中"));
        let text = text.replace("审查中", "审查中（新版）");
        std::fs::write(dir.join(e.file_name()), text).unwrap();
    }
    let departments: Vec<String> = [
        "window",
        "construction",
        "housing",
        "fire",
        "planning",
        "market",
        "street",
    ]
    .map(String::from)
    .to_vec();
    let s = &app.state.settings;
    let rules = permits::services::items::Rules::load(&s.rules_dir(), &s.authority.rules).unwrap();
    let registry =
        Registry::sync(&mut app.conn(), &dir, &rules, &departments, app.clock_now()).unwrap();
    assert_eq!(registry.latest("construction-permit").unwrap().version, 2);
    // Loading the same files again stores nothing new.
    let again =
        Registry::sync(&mut app.conn(), &dir, &rules, &departments, app.clock_now()).unwrap();
    assert_eq!(again.latest("construction-permit").unwrap().version, 2);
    // Only the file whose text changed got a new version (the others lack the replaced label).
    assert!(changed >= 1 && changed < files, "{changed} of {files}");
    assert_eq!(app.count("item_versions"), files + changed);
    assert_eq!(
        registry.latest("fire-acceptance-filing").unwrap().version,
        1
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // The running instance learns of version 2 from the database for new filings only after a
    // restart; the old filing stays on version 1 whatever happens.
    let f = app.filing(&builder, old["id"].as_str().unwrap()).await;
    assert_eq!(f["item_version"], 1);
}

#[actix_web::test]
async fn a_bad_definition_file_is_refused_with_its_name_and_place() {
    let dir = std::env::temp_dir().join(format!("permits-bad-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds/items/fire-acceptance-filing.toml");
    let text = std::fs::read_to_string(src).unwrap();
    let text = text.replacen("to = \"passed\"", "to = \"nowhere\"", 1);
    std::fs::write(dir.join("fire-acceptance-filing.toml"), text).unwrap();
    let err = permits::services::items::read_dir(&dir, &Default::default())
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(err.contains("fire-acceptance-filing.toml"), "{err}");
    assert!(
        err.contains("pass_inspection") && err.contains("nowhere"),
        "{err}"
    );
}

#[actix_web::test]
async fn registration_creates_an_applicant_who_can_log_in_and_file() {
    let app = TestApp::spawn().await;
    let r = app.post_anon("/api/v1/auth/register", json!({
            "username": "new-company", "password": "a long enough password", "display_name": "新公司",
            "kind": "company", "credit_code": "91110000600037341L", "phone": "13800138000"
        })).await;
    assert_eq!(r.status(), 201);
    let token = app.login("new-company", "a long enough password").await;
    let me: Value = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["applicant"]));
    // The same name again is a conflict.
    let r = app.post_anon("/api/v1/auth/register", json!({
            "username": "new-company", "password": "a long enough password", "display_name": "x",
            "kind": "person"
        })).await;
    assert_eq!(r.status(), 409);
    let _ = Role::Applicant;
}

#[actix_web::test]
async fn a_busy_service_answers_503_after_the_checkout_timeout_and_recovers() {
    let app = TestApp::spawn_with(|s| {
        s.database.pool_size = 1;
        s.database.checkout_timeout_ms = 300;
    })
    .await;
    let who = app.applicant("builder").await;
    // The only connection is busy for a second.
    let state = app.state.clone();
    let busy = actix_web::rt::spawn(async move {
        state
            .run(|_, _| {
                std::thread::sleep(std::time::Duration::from_millis(1000));
                Ok(())
            })
            .await
    });
    actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = app.get(&who, "/api/v1/me").await;
    // Refused while the connection is still busy: it gave up waiting instead of queueing on.
    assert!(!busy.is_finished());
    let body: Value = r.json::<Value>().await.unwrap();
    assert_eq!(body["status"], 503, "{body}");
    assert_eq!(body["code"], "unavailable");
    busy.await.unwrap().unwrap();
    assert_eq!(app.get(&who, "/api/v1/me").await.status(), 200);
}

/// Three instances started together on an empty database each seed the demo accounts: one
/// creates them, the others wait for it and find them; none fails with `username_taken`.
#[actix_web::test]
async fn instances_seeding_the_demo_users_at_once_create_each_once() {
    let app = TestApp::spawn().await;
    let now = app.clock_now();
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let mut conn = app.conn();
            std::thread::spawn(move || permits::services::seed::demo_users(&mut conn, now))
        })
        .collect();
    let created: Vec<usize> = runs
        .into_iter()
        .map(|h| h.join().unwrap().expect("no instance fails"))
        .collect();
    assert_eq!(
        created.iter().sum::<usize>(),
        permits::services::seed::DEMO_USERS.len(),
        "each account created once: {created:?}"
    );
    assert_eq!(
        app.count("users WHERE email LIKE '%@demo.permits.invalid'"),
        permits::services::seed::DEMO_USERS.len() as i64
    );
}

/// The server drops every connection (as a restart or a failover does): the pool finds its
/// broken connections at checkout and replaces them, so no request fails for it (before, each
/// pooled connection failed one request with 500).
#[actix_web::test]
async fn connections_the_server_dropped_are_replaced_at_checkout_not_served() {
    let app = TestApp::spawn().await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    // Warm the pool: several connections in it.
    let warm: Vec<_> = (0..16).map(|_| app.get(&clerk, "/api/v1/me")).collect();
    for r in futures::future::join_all(warm).await {
        assert_eq!(r.status(), 200);
    }
    let killed = crate::concurrency::scalar(
        &app,
        "SELECT count(*) AS n FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    );
    assert!(killed >= 2, "{killed} connections dropped");
    let after: Vec<_> = (0..16).map(|_| app.get(&clerk, "/api/v1/me")).collect();
    let statuses: Vec<u16> = futures::future::join_all(after)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

/// A known path with a method none of its routes takes is 405 with `Allow` (RFC 9110 §15.5.6),
/// not the 404 of an unknown path; `HEAD` answers wherever `GET` does, without a body.
#[actix_web::test]
async fn a_wrong_method_is_405_with_allow_and_head_answers_like_get() {
    let app = TestApp::spawn().await;
    let cases = [
        ("DELETE", "/api/v1/filings", "GET, HEAD, POST"),
        ("POST", "/api/v1/me", "GET, HEAD"),
        ("GET", "/api/v1/filings/1/materials/2", "POST, DELETE"),
        ("PUT", "/login", "GET, HEAD, POST"),
        ("GET", "/queue/claim-next", "POST"),
        ("OPTIONS", "/healthz", "GET, HEAD"),
    ];
    for (method, path, allow) in cases {
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{method} {path}"
        );
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed");
        assert!(body["request_id"].is_string());
    }
    // An unknown path stays 404, whatever the method.
    for method in ["GET", "DELETE"] {
        let r = app
            .client
            .request(method.parse().unwrap(), app.url("/api/v1/nowhere"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.headers().get("allow").is_none());
    }
    // HEAD: GET's status and headers, no body.
    for path in ["/healthz", "/login", "/static/app.css"] {
        let get = app.client.get(app.url(path)).send().await.unwrap();
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        let get_len = get.bytes().await.unwrap().len();
        assert!(get_len > 0);
        assert_eq!(
            head.headers()["content-length"],
            get_len.to_string().as_str(),
            "HEAD {path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} sent a body"
        );
    }
    // HEAD of a POST-only route is 405 too.
    let r = app
        .client
        .head(app.url("/queue/claim-next"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
}

/// The `Allow` table is the route attributes in the source, no more and no less: every
/// `#[get("…")]`-style route under `src/web/pages` is in `pages::ROUTES` and every one under
/// `src/web/api` in the OpenAPI document or `allow::OTHER_ROUTES`, and every entry of those
/// lists is a route in the source.
#[test]
fn the_allow_table_is_the_routes_in_the_source() {
    use permits::web::allow::{API_PREFIX, OTHER_ROUTES, shape};
    use std::collections::BTreeSet;

    fn attributes(dir: &std::path::Path, out: &mut BTreeSet<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                attributes(&path, out);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let line = line.trim();
                for method in ["get", "post", "put", "patch", "delete"] {
                    if let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) {
                        let pattern = rest.split('"').next().unwrap();
                        out.insert((method.to_uppercase(), pattern.to_owned()));
                    }
                }
                // `cfg.route("/static/app.css", web::get()…)`
                if let Some(rest) = line.split(".route(\"").nth(1) {
                    let pattern = rest.split('"').next().unwrap();
                    let method = rest
                        .split("web::")
                        .nth(1)
                        .and_then(|m| m.split('(').next())
                        .unwrap();
                    out.insert((method.to_uppercase(), pattern.to_owned()));
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let norm = |set: BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
        set.into_iter().map(|(m, p)| (m, shape(&p))).collect()
    };

    let mut in_pages = BTreeSet::new();
    attributes(&root.join("pages"), &mut in_pages);
    let listed: BTreeSet<(String, String)> = permits::web::pages::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        norm(in_pages),
        norm(listed),
        "pages::ROUTES and the page routes differ"
    );

    let mut in_api = BTreeSet::new();
    attributes(&root.join("api"), &mut in_api);
    // `/metrics` is added in `lib.rs`, the API document's routes by utoipa-swagger-ui.
    in_api.insert(("GET".into(), "/metrics".into()));
    in_api.insert(("GET".into(), "/api/openapi.json".into()));
    in_api.insert(("GET".into(), "/api/docs/{_:.*}".into()));
    let doc: Value =
        serde_json::to_value(<permits::web::api::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let others: BTreeSet<(String, String)> = OTHER_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let in_api: BTreeSet<(String, String)> = norm(in_api)
        .into_iter()
        .map(|(m, p)| {
            if others.iter().any(|(om, op)| *om == m && shape(op) == p) {
                (m, p)
            } else {
                (m, format!("{API_PREFIX}{p}"))
            }
        })
        .collect();
    let listed: BTreeSet<(String, String)> = norm(documented)
        .into_iter()
        .map(|(m, p)| (m, format!("{API_PREFIX}{p}")))
        .chain(norm(others))
        .collect();
    assert_eq!(
        in_api, listed,
        "the API routes and the OpenAPI document + OTHER_ROUTES differ"
    );
}
