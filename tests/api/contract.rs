//! The OpenAPI document against the service's real answers (issue 19 §1): every answer the
//! requests below provoke must have its status documented for its operation, and its body must
//! match the schema the document declares for that status and media type, `$ref`s resolved
//! within the document. The walk is generic ([`conforms`]); the requests cover the filing
//! journey's successes and one real call for each error status a client meets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    CONSTRUCTION_MATERIALS, TestApp, User, at, construction_form, pdf,
    spawn_with_extendable_licence,
};

/// An answer as read off the wire: its status, media type (without parameters) and body.
pub struct Answer {
    pub status: u16,
    pub media_type: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    pub async fn of(r: Response) -> Answer {
        let status = r.status().as_u16();
        let media_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        let body = r.bytes().await.unwrap().to_vec();
        Answer {
            status,
            media_type,
            body,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// Whether `answer` is one the document allows for `method` on `template` (a path as the
/// document writes it, under its `/api/v1` server, e.g. `/filings/{id}`): its status is
/// documented for the operation, its media type is one the document names for that status (or
/// it has no body where none is named), and a JSON body validates against the declared schema
/// (JSON Schema 2020-12, as OpenAPI 3.1's; formats checked).
pub fn conforms(doc: &Value, method: &str, template: &str, answer: &Answer) -> Result<(), String> {
    let op = doc["paths"]
        .get(template)
        .and_then(|p| p.get(method.to_ascii_lowercase()))
        .ok_or_else(|| format!("no operation {method} {template} in the document"))?;
    let status = answer.status.to_string();
    let declared = op["responses"]
        .get(&status)
        .or_else(|| op["responses"].get("default"))
        .ok_or_else(|| {
            let listed: Vec<&String> = op["responses"]
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            format!(
                "status {status} is not documented (documented: {listed:?}); body: {}",
                String::from_utf8_lossy(&answer.body)
            )
        })?;
    let content = declared.get("content").and_then(Value::as_object);
    let Some(content) = content.filter(|c| !c.is_empty()) else {
        return if answer.body.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "status {status} documents no body, and {} bytes came ({:?})",
                answer.body.len(),
                answer.media_type
            ))
        };
    };
    let media_type = answer
        .media_type
        .as_deref()
        .ok_or_else(|| format!("status {status} came without a Content-Type"))?;
    let media = content.get(media_type).ok_or_else(|| {
        format!(
            "status {status} came as {media_type}; the document names {:?}",
            content.keys().collect::<Vec<_>>()
        )
    })?;
    if !is_json(media_type) {
        return Ok(());
    }
    let Some(schema) = media.get("schema") else {
        return Ok(());
    };
    let instance: Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("status {status}: the {media_type} body is not JSON: {e}"))?;
    // The schema, with the document's components beside it so that its
    // `#/components/schemas/...` references resolve as they do in the document.
    let mut root = json!({ "components": doc["components"] });
    match schema {
        Value::Object(m) => {
            for (k, v) in m {
                root[k] = v.clone();
            }
        }
        other => {
            return Err(format!(
                "status {status}: a schema that is not an object: {other}"
            ));
        }
    }
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| format!("status {status}: the declared schema does not compile: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "status {status}: the body does not match its schema:\n  {}\nbody: {instance}",
            errors.join("\n  ")
        ))
    }
}

/// The service and its document; every call through it is checked against the document.
struct Contract<'a> {
    app: &'a TestApp,
    doc: Value,
}

impl<'a> Contract<'a> {
    async fn of(app: &'a TestApp) -> Contract<'a> {
        let r = app
            .client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        Contract {
            app,
            doc: r.json().await.unwrap(),
        }
    }

    /// A request to `path` (under `/api/v1`) for the operation `template`, as `user`.
    fn request(&self, method: &str, path: &str, user: Option<&User>) -> RequestBuilder {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let b = self
            .app
            .client
            .request(method, self.app.url(&format!("/api/v1{path}")));
        match user {
            Some(u) => b.bearer_auth(&u.token),
            None => b,
        }
    }

    /// Send `request` for the operation `method template`; the answer must conform and have
    /// the status `want`.
    async fn expect(
        &self,
        method: &str,
        template: &str,
        request: RequestBuilder,
        want: u16,
    ) -> Value {
        let answer = Answer::of(request.send().await.unwrap()).await;
        if let Err(e) = conforms(&self.doc, method, template, &answer) {
            panic!("{method} {template}: {e}");
        }
        assert_eq!(
            answer.status,
            want,
            "{method} {template}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }

    async fn get(&self, template: &str, path: &str, user: Option<&User>, want: u16) -> Value {
        self.expect("GET", template, self.request("GET", path, user), want)
            .await
    }

    async fn send(
        &self,
        method: &str,
        template: &str,
        path: &str,
        user: Option<&User>,
        body: Value,
        want: u16,
    ) -> Value {
        let r = self.request(method, path, user).json(&body);
        self.expect(method, template, r, want).await
    }

    async fn act(&self, user: &User, f: &Value, action: &str, body: Value) -> Value {
        let mut body = body;
        body["expected_version"] = f["version"].clone();
        let id = f["id"].as_str().unwrap();
        self.send(
            "POST",
            "/filings/{id}/actions/{action}",
            &format!("/filings/{id}/actions/{action}"),
            Some(user),
            body,
            200,
        )
        .await
    }

    async fn upload(&self, user: &User, id: &str, material: &str, want: u16) -> Value {
        let part =
            reqwest::multipart::Part::bytes(pdf(material)).file_name(format!("{material}.pdf"));
        let form = reqwest::multipart::Form::new().part("file", part);
        let r = self
            .request(
                "POST",
                &format!("/filings/{id}/materials/{material}"),
                Some(user),
            )
            .multipart(form);
        self.expect("POST", "/filings/{id}/materials/{material}", r, want)
            .await
    }
}

/// The journey of a construction permit through the API, from registration to the rating,
/// each answer held to the document: every success status of it conforms.
#[actix_web::test]
async fn the_filing_journey_answers_as_the_openapi_document_says() {
    let app = spawn_with_extendable_licence(|_| {}).await;
    at(&app, "2026-12-03");
    let c = Contract::of(&app).await;

    // Registration, sign-in and the caller.
    let registered = c
        .send(
            "POST",
            "/auth/register",
            "/auth/register",
            None,
            json!({
                "username": "contract-builder", "password": "correct-horse-battery",
                "display_name": "合同建设单位", "kind": "company",
                "credit_code": "91350100M000100Y43"
            }),
            201,
        )
        .await;
    assert!(registered["user_id"].is_string());
    let login = c
        .send(
            "POST",
            "/auth/login",
            "/auth/login",
            None,
            json!({ "username": "contract-builder", "password": "correct-horse-battery" }),
            200,
        )
        .await;
    let builder = User {
        id: registered["user_id"].as_str().unwrap().parse().unwrap(),
        username: "contract-builder".into(),
        token: login["token"].as_str().unwrap().to_owned(),
    };
    c.get("/me", "/me", Some(&builder), 200).await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let manager = app.staff("manager", "construction", &[Role::Manager]).await;
    let admin = app.staff("admin", "window", &[Role::Admin]).await;

    // The public catalogue and calendars.
    c.get("/items", "/items", None, 200).await;
    c.get("/items/{code}", "/items/construction-permit", None, 200)
        .await;
    c.get(
        "/items/{code}/graph",
        "/items/construction-permit/graph",
        None,
        200,
    )
    .await;
    c.get("/calendars", "/calendars", None, 200).await;
    c.get(
        "/calendars/{region}/{year}",
        "/calendars/CN/2026",
        None,
        200,
    )
    .await;
    c.get(
        "/calendars/{region}/working-days/add",
        "/calendars/CN/working-days/add?from=2026-12-03&days=5",
        None,
        200,
    )
    .await;

    // The draft, edited, its materials uploaded (one twice: the replay), listed, submitted.
    let f = c
        .send(
            "POST",
            "/filings",
            "/filings",
            Some(&builder),
            json!({ "item": "construction-permit", "form": construction_form() }),
            201,
        )
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let f = c
        .send(
            "PATCH",
            "/filings/{id}",
            &format!("/filings/{id}"),
            Some(&builder),
            json!({ "expected_version": f["version"], "form": {} }),
            200,
        )
        .await;
    assert_eq!(f["id"], id.as_str());
    let mut uploaded = Vec::new();
    for m in CONSTRUCTION_MATERIALS {
        uploaded.push(c.upload(&builder, &id, m, 201).await);
    }
    // A file back: whole, a range of it, not again when the copy held is current, nothing for
    // a range outside it, and a precondition that does not hold.
    let material_id = uploaded[0]["material"]["id"].as_str().unwrap();
    let content_t = "/filings/{id}/materials/{material_id}/content";
    let content = format!("/filings/{id}/materials/{material_id}/content");
    let whole = Answer::of(
        c.request("GET", &content, Some(&builder))
            .send()
            .await
            .unwrap(),
    )
    .await;
    conforms(&c.doc, "GET", content_t, &whole).unwrap();
    assert_eq!(whole.status, 200);
    assert_eq!(whole.media_type.as_deref(), Some("application/pdf"));
    let r = c
        .request("GET", &content, Some(&builder))
        .header("Range", "bytes=0-3");
    c.expect("GET", content_t, r, 206).await;
    let etag = c
        .request("GET", &content, Some(&builder))
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let r = c
        .request("GET", &content, Some(&builder))
        .header("If-None-Match", &etag);
    c.expect("GET", content_t, r, 304).await;
    let r = c
        .request("GET", &content, Some(&builder))
        .header("Range", "bytes=999999-");
    c.expect("GET", content_t, r, 416).await;
    let r = c
        .request("GET", &content, Some(&builder))
        .header("If-Match", "\"not-this-one\"");
    c.expect("GET", content_t, r, 412).await;
    let r = c.request("GET", &content, Some(&builder)).header(
        "Range",
        reqwest::header::HeaderValue::from_bytes(b"bytes=\xff").unwrap(),
    );
    let p = c.expect("GET", content_t, r, 400).await;
    assert_eq!(p["code"], "bad_request");
    c.upload(&builder, &id, CONSTRUCTION_MATERIALS[0], 200)
        .await;
    c.get("/filings", "/filings", Some(&builder), 200).await;
    let f = c
        .get(
            "/filings/{id}",
            &format!("/filings/{id}"),
            Some(&builder),
            200,
        )
        .await;
    let f = c.act(&builder, &f, "submit", json!({})).await;
    assert_eq!(f["state"]["code"], "intake");

    // The clerk's queue: listed, the task claimed, released and claimed again; accepted.
    c.get("/queue", "/queue", Some(&clerk), 200).await;
    let task = c
        .send(
            "POST",
            "/queue/claim-next",
            "/queue/claim-next",
            Some(&clerk),
            json!({}),
            200,
        )
        .await;
    let task_id = task["id"].as_i64().unwrap();
    c.send(
        "POST",
        "/tasks/{id}/release",
        &format!("/tasks/{task_id}/release"),
        Some(&clerk),
        json!({}),
        200,
    )
    .await;
    c.send(
        "POST",
        "/tasks/{id}/claim",
        &format!("/tasks/{task_id}/claim"),
        Some(&clerk),
        json!({}),
        200,
    )
    .await;
    let f = c
        .get(
            "/filings/{id}",
            &format!("/filings/{id}"),
            Some(&clerk),
            200,
        )
        .await;
    let f = c.act(&clerk, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    // An empty queue answers 204.
    c.send(
        "POST",
        "/queue/claim-next",
        "/queue/claim-next",
        Some(&clerk),
        json!({}),
        204,
    )
    .await;

    // The reviewer approves; the documents are issued.
    let f = c
        .get(
            "/filings/{id}",
            &format!("/filings/{id}"),
            Some(&reviewer),
            200,
        )
        .await;
    let f = c
        .act(&reviewer, &f, "approve", json!({ "opinion": "符合条件" }))
        .await;
    assert_eq!(f["state"]["code"], "issued");
    c.get(
        "/filings/{id}/history",
        &format!("/filings/{id}/history"),
        Some(&builder),
        200,
    )
    .await;
    let docs = c
        .get(
            "/filings/{id}/documents",
            &format!("/filings/{id}/documents"),
            Some(&builder),
            200,
        )
        .await;
    let cert = docs
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "construction_permit")
        .unwrap();
    let doc_id = cert["id"].as_str().unwrap();
    c.get(
        "/filings/{id}/documents/{document_id}",
        &format!("/filings/{id}/documents/{doc_id}"),
        Some(&builder),
        200,
    )
    .await;
    c.get(
        "/certificates/{identifier}",
        &format!("/certificates/{}", cert["identifier"].as_str().unwrap()),
        None,
        200,
    )
    .await;
    c.get(
        "/documents/{id}/check",
        &format!("/documents/{doc_id}/check"),
        None,
        200,
    )
    .await;
    c.get("/certificates/key", "/certificates/key", None, 200)
        .await;

    // A manager extends the statutory limit of an extendable item (no seeded item is).
    let resident = app
        .user("resident", "person", None, &[Role::Applicant])
        .await;
    let head = app.staff("head", "housing", &[Role::Manager]).await;
    let other = app
        .create(
            &resident,
            "extendable-licence",
            json!({ "subject": "测试事项" }),
        )
        .await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    app.upload_all(&resident, &other_id, &["application"]).await;
    let other = app.filing(&resident, &other_id).await;
    app.act(&resident, &other, "submit", json!({})).await;
    let other = app.filing(&clerk, &other_id).await;
    let other = app.act(&clerk, &other, "accept", json!({})).await;
    let other = c
        .send(
            "POST",
            "/filings/{id}/extend",
            &format!("/filings/{other_id}/extend"),
            Some(&head),
            json!({ "expected_version": other["version"], "days": 5, "reason": "需要专家论证" }),
            200,
        )
        .await;
    assert_eq!(other["clocks"]["statutory"]["extended"], 5);

    // Rated once closed.
    c.send(
        "POST",
        "/filings/{id}/rating",
        &format!("/filings/{id}/rating"),
        Some(&builder),
        json!({ "score": 5, "comment": "办得快" }),
        204,
    )
    .await;

    // What staff watch: reports, the exchange, the outbox, the jobs, the audit, the accounts.
    c.get("/reports/sla", "/reports/sla", Some(&manager), 200)
        .await;
    c.get("/reports/due", "/reports/due", Some(&manager), 200)
        .await;
    c.get(
        "/reports/workload",
        "/reports/workload",
        Some(&manager),
        200,
    )
    .await;
    c.get("/reports/work", "/reports/work", Some(&manager), 200)
        .await;
    for (template, formats) in [
        ("/reports/sla", &["csv"][..]),
        ("/reports/due", &["csv"]),
        ("/reports/workload", &["csv"]),
        ("/reports/work", &["csv", "xlsx"]),
    ] {
        for format in formats {
            let r = c.request(
                "GET",
                &format!("{template}?format={format}"),
                Some(&manager),
            );
            c.expect("GET", template, r, 200).await;
        }
    }
    c.get("/exchange", "/exchange", Some(&admin), 200).await;
    c.get("/exchange/uploads", "/exchange/uploads", Some(&admin), 200)
        .await;
    c.get(
        "/filings/{id}/exchange",
        &format!("/filings/{id}/exchange"),
        Some(&admin),
        200,
    )
    .await;
    c.get("/admin/mail", "/admin/mail", Some(&admin), 200).await;
    c.get("/admin/jobs", "/admin/jobs", Some(&admin), 200).await;
    c.get("/admin/clock", "/admin/clock", Some(&admin), 200)
        .await;
    c.get("/audit/verify", "/audit/verify", Some(&admin), 200)
        .await;
    c.get("/admin/users", "/admin/users", Some(&admin), 200)
        .await;
    c.get("/draws", "/draws", None, 200).await;
    c.send(
        "POST",
        "/auth/logout",
        "/auth/logout",
        Some(&builder),
        json!({}),
        204,
    )
    .await;
    app.run_due_jobs().await;
}

/// One real call for each error a client meets, each answer held to the document: its status
/// is documented for its operation and its problem document matches the schema.
#[actix_web::test]
async fn every_error_a_client_meets_is_documented_with_its_problem_document() {
    let app = TestApp::spawn_with(|s| s.auth.max_failed_logins = 2).await;
    let c = Contract::of(&app).await;
    let builder = app.applicant("builder").await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let act = format!("/filings/{id}/actions/submit");
    let act_t = "/filings/{id}/actions/{action}";

    // 400: a query parameter the list does not know; a body that is not JSON.
    let p = c
        .get("/filings", "/filings?colour=red", Some(&builder), 400)
        .await;
    assert_eq!(p["code"], "bad_request");
    let r = c
        .request("POST", "/filings", Some(&builder))
        .header("Content-Type", "application/json")
        .body("{not json");
    c.expect("POST", "/filings", r, 400).await;
    // 401: no token, on a read and on an action.
    let p = c.get("/filings", "/filings", None, 401).await;
    assert_eq!(p["code"], "unauthenticated");
    c.send("POST", act_t, &act, None, json!({}), 401).await;
    c.get("/me", "/me", None, 401).await;
    // 403: an applicant at the administrators' list.
    let p = c
        .get("/admin/users", "/admin/users", Some(&builder), 403)
        .await;
    assert_eq!(p["code"], "forbidden");
    c.get(
        "/filings/{id}/exchange",
        &format!("/filings/{id}/exchange"),
        Some(&builder),
        403,
    )
    .await;
    // 404: no such filing, a malformed id, no such item.
    let p = c
        .get(
            "/filings/{id}",
            &format!("/filings/{}", Uuid::new_v4()),
            Some(&builder),
            404,
        )
        .await;
    assert_eq!(p["code"], "not_found");
    c.get("/filings/{id}", "/filings/not-a-uuid", Some(&builder), 404)
        .await;
    c.get("/items/{code}", "/items/no-such-item", None, 404)
        .await;
    // 415: a body that is not JSON by its media type.
    let r = c
        .request("POST", "/filings", Some(&builder))
        .header("Content-Type", "text/plain")
        .body("item=construction-permit");
    let p = c.expect("POST", "/filings", r, 415).await;
    assert_eq!(p["code"], "unsupported_media_type");
    // 422: an unknown item; a page size out of range; a bad If-Match.
    let p = c
        .send(
            "POST",
            "/filings",
            "/filings",
            Some(&builder),
            json!({ "item": "no-such-item" }),
            422,
        )
        .await;
    assert_eq!(p["code"], "validation");
    assert!(p["errors"].as_array().is_some_and(|e| !e.is_empty()));
    c.get("/filings", "/filings?limit=0", Some(&builder), 422)
        .await;
    let r = c
        .request("POST", &act, Some(&builder))
        .header("If-Match", "\"seven\"");
    c.expect("POST", act_t, r, 422).await;
    // 428: an action with no version.
    let p = c
        .send("POST", act_t, &act, Some(&builder), json!({}), 428)
        .await;
    assert_eq!(p["code"], "version_required");
    // 409: a stale version, with the current state beside the problem.
    let p = c
        .send(
            "POST",
            act_t,
            &act,
            Some(&builder),
            json!({ "expected_version": f["version"].as_i64().unwrap() + 5 }),
            409,
        )
        .await;
    assert_eq!(p["code"], "stale_version");
    assert!(p["current"].is_object());
    // 409 again: a username taken.
    c.send(
        "POST",
        "/auth/register",
        "/auth/register",
        None,
        json!({
            "username": "builder", "password": "correct-horse-battery",
            "display_name": "重名", "kind": "company", "credit_code": "91350100M000100Y43"
        }),
        409,
    )
    .await;
    // 401 then 429: wrong passwords until the name is locked.
    let wrong = json!({ "username": "builder", "password": "wrong-password-1" });
    c.send(
        "POST",
        "/auth/login",
        "/auth/login",
        None,
        wrong.clone(),
        401,
    )
    .await;
    c.send(
        "POST",
        "/auth/login",
        "/auth/login",
        None,
        wrong.clone(),
        401,
    )
    .await;
    let p = c
        .send("POST", "/auth/login", "/auth/login", None, wrong, 429)
        .await;
    assert_eq!(p["code"], "too_many_requests");
}

/// The checker itself: an undocumented status, a body off its schema and a media type the
/// document does not name are each refused; so the tests above would catch them.
#[actix_web::test]
async fn the_contract_check_refuses_an_undocumented_status_a_wrong_body_and_a_wrong_type() {
    let app = TestApp::spawn().await;
    let c = Contract::of(&app).await;
    let answer = |status: u16, media_type: &str, body: Value| Answer {
        status,
        media_type: Some(media_type.to_owned()),
        body: body.to_string().into_bytes(),
    };
    let good = answer(
        201,
        "application/json",
        json!({ "user_id": Uuid::new_v4() }),
    );
    conforms(&c.doc, "POST", "/auth/register", &good).unwrap();

    let undocumented = answer(418, "application/json", json!({}));
    let e = conforms(&c.doc, "POST", "/auth/register", &undocumented).unwrap_err();
    assert!(e.contains("not documented"), "{e}");

    let off_schema = answer(201, "application/json", json!({ "user_id": 7 }));
    let e = conforms(&c.doc, "POST", "/auth/register", &off_schema).unwrap_err();
    assert!(e.contains("does not match"), "{e}");
    let not_a_uuid = answer(201, "application/json", json!({ "user_id": "seven" }));
    assert!(conforms(&c.doc, "POST", "/auth/register", &not_a_uuid).is_err());

    let problem_without_code = answer(
        404,
        "application/problem+json",
        json!({ "type": "/problems/not_found", "title": "x", "status": 404 }),
    );
    let e = conforms(&c.doc, "GET", "/filings/{id}", &problem_without_code).unwrap_err();
    assert!(e.contains("code"), "{e}");

    let wrong_type = answer(201, "text/html", json!({ "user_id": Uuid::new_v4() }));
    let e = conforms(&c.doc, "POST", "/auth/register", &wrong_type).unwrap_err();
    assert!(e.contains("text/html"), "{e}");
}
