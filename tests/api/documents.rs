//! Written instruments and electronic certificates: issued by the actions that issue them,
//! sealed, listed, downloaded, verified by anyone, and following the permit's life after issue.
//!
//! The PDFs' text is read back with `pdftotext` (poppler-utils); without it those checks are
//! skipped with a message unless `PERMITS_REQUIRE_BROWSER` is set (CI installs both).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use permits::domain::definition::Role;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::*;

/// The text of a PDF, or `None` when pdftotext is not installed (and not required).
fn pdf_text(bytes: &[u8]) -> Option<String> {
    let dir = tempdir();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    match std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(out.status.success(), "pdftotext failed on the document");
            // Lines are broken and spaced by the layout: compare the text without white space.
            let text = String::from_utf8(out.stdout).unwrap();
            Some(text.split_whitespace().collect())
        }
        Err(_) => {
            assert!(
                std::env::var_os("PERMITS_REQUIRE_BROWSER").is_none(),
                "pdftotext is not installed (apt-get install poppler-utils)"
            );
            eprintln!("SKIPPED: no pdftotext; the documents' text was not checked");
            None
        }
    }
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("permits-doc-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Keep a rendered page for a look (target/screenshots/documents-<name>.png) when pdftoppm is
/// there.
fn keep_png(bytes: &[u8], name: &str) {
    let dir = tempdir();
    let path = dir.join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let _ = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-singlefile"])
        .arg(&path)
        .arg(out.join(format!("documents-{name}")))
        .status();
}

async fn documents(app: &TestApp, user: &User, id: &str) -> Vec<Value> {
    let r = app
        .get(user, &format!("/api/v1/filings/{id}/documents"))
        .await;
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().await.unwrap()
}

fn by_code<'a>(docs: &'a [Value], code: &str) -> &'a Value {
    docs.iter()
        .rfind(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no document {code} in {docs:#?}"))
}

async fn download(app: &TestApp, user: &User, doc: &Value) -> Vec<u8> {
    let r = app.get(user, doc["href"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    r.bytes().await.unwrap().to_vec()
}

async fn public_get(app: &TestApp, path: &str) -> reqwest::Response {
    reqwest::get(app.url(path)).await.unwrap()
}

async fn certificate(app: &TestApp, identifier: &str) -> Value {
    let r = public_get(app, &format!("/api/v1/certificates/{identifier}")).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Every document on a filing as (code, its text without white space), after checking each
/// is a sealed PDF whose listed hash is its own. The text is `None` without pdftotext.
pub async fn issued_documents(
    app: &TestApp,
    user: &User,
    id: &str,
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for d in documents(app, user, id).await {
        let bytes = download(app, user, &d).await;
        assert_eq!(
            d["sha256"].as_str().unwrap(),
            hex::encode(Sha256::digest(&bytes))
        );
        let code = d["code"].as_str().unwrap().to_owned();
        keep_png(&bytes, &format!("{}-{code}", d["kind"].as_str().unwrap()));
        out.push((code, pdf_text(&bytes)));
    }
    out
}

/// Assert the codes, in issue order, and that each document's text holds the strings given.
pub fn assert_documents(docs: &[(String, Option<String>)], want: &[(&str, &[&str])]) {
    let codes: Vec<&str> = docs.iter().map(|(c, _)| c.as_str()).collect();
    let wanted: Vec<&str> = want.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, wanted);
    for ((_, text), (code, strings)) in docs.iter().zip(want) {
        if let Some(text) = text {
            for s in *strings {
                assert!(text.contains(s), "{s} not in {code}:\n{text}");
            }
        }
    }
}

/// A permit through to issue (as lifecycle's), on the given day.
async fn issued(app: &TestApp, day: &str) -> (User, User, String) {
    crate::lifecycle::issued_permit(app, day).await
}

#[actix_web::test]
async fn a_decided_permit_gives_a_sealed_pdf_certificate_with_its_numbers_that_anyone_can_verify() {
    let app = TestApp::spawn().await;
    let (builder, _, id) = issued(&app, "2026-12-03").await;
    let f = app.filing(&builder, &id).await;
    let number = f["number"].as_str().unwrap().to_owned();

    let docs = documents(&app, &builder, &id).await;
    let codes: Vec<&str> = docs.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "acceptance_notice",
            "approval_decision",
            "construction_permit"
        ]
    );
    let cert = by_code(&docs, "construction_permit");
    let identifier = cert["identifier"].as_str().unwrap().to_owned();
    // 1.2.156.3005.2.<type>.<issuer>.<date + serial>.001.<check>
    assert!(
        identifier
            .starts_with("1.2.156.3005.2.11100000000013338W032.11430104MB1234567Y.2026120301.001."),
        "{identifier}"
    );
    let bytes = download(&app, &builder, cert).await;
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(
        cert["sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(&bytes)),
        "the listed hash is the file's"
    );
    keep_png(&bytes, "construction-permit");

    // The public record: valid, with its 18-digit number and masked personal data.
    let v = certificate(&app, &identifier).await;
    assert_eq!(v["status"], "valid");
    assert_eq!(v["status_label"]["zh"], "有效");
    assert_eq!(v["signature_valid"], true);
    assert_eq!(v["sha256"], cert["sha256"]);
    let permit_no = v["number"].as_str().unwrap().to_owned();
    assert_eq!(
        permit_no, "430104202612030101",
        "division, date, serial 01, class 01"
    );
    let field = |label: &str| {
        v["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"] == label)
            .map(|f| f["value"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {label} in {v}"))
    };
    assert_eq!(
        v["fields"][0]["label"], "申请号",
        "in the certificate's order"
    );
    assert_eq!(field("申请号"), number);
    assert_eq!(v["valid_until_label"], "开工期限");
    assert_eq!(
        v["valid_until"], "2027-03-03",
        "works start within three months"
    );
    let manager = field("项目经理");
    assert_eq!(manager, "王**", "personal data masked");
    // Money as people read it, in the form's unit (issue 18).
    assert_eq!(field("合同价格（元）"), "11,800,000 元");

    if let Some(text) = pdf_text(&bytes) {
        for want in [
            "建筑工程施工许可证",
            permit_no.as_str(),
            number.as_str(),
            "示范小学教学楼",
            "准予施工",
            "第1页共1页",
            "行政审批专用章",
            "11,800,000元",
        ] {
            assert!(text.contains(want), "{want} not in:\n{text}");
        }
        // The identifier is printed whole (it may wrap in the layout, so compare without spaces).
        assert!(text.contains(&identifier), "identifier not in:\n{text}");
    }

    // Offline: the binary checks the file against the published key.
    let key = public_get(&app, "/.well-known/permits-seal.pem")
        .await
        .text()
        .await
        .unwrap();
    let dir = tempdir();
    std::fs::write(dir.join("key.pem"), &key).unwrap();
    std::fs::write(dir.join("permit.pdf"), &bytes).unwrap();
    let mut tampered = bytes.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x20;
    std::fs::write(dir.join("tampered.pdf"), &tampered).unwrap();
    let verify = |file: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_permits"))
            .args(["certificates", "verify"])
            .arg(dir.join(file))
            .arg("--key")
            .arg(dir.join("key.pem"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = verify("permit.pdf");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("valid:") && out.contains(&identifier),
        "{out}"
    );
    let (code, out) = verify("tampered.pdf");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.starts_with("tampered:"), "{out}");
    std::fs::write(dir.join("plain.pdf"), pdf("not ours")).unwrap();
    let (code, out) = verify("plain.pdf");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.starts_with("unknown:"), "{out}");

    // The acceptance notice says what a notice must: dated, sealed, the law cited.
    let notice = download(&app, &builder, by_code(&docs, "acceptance_notice")).await;
    keep_png(&notice, "acceptance-notice");
    if let Some(text) = pdf_text(&notice) {
        for want in [
            "受理通知书",
            "予以受理",
            "行政许可法",
            number.as_str(),
            "2026年12月3日",
        ] {
            assert!(text.contains(want), "{want} not in:\n{text}");
        }
    }

    // A document's QR code leads to its check: title, date, hash and seal, not its content.
    let notice_doc = by_code(&docs, "acceptance_notice");
    let doc_id = notice_doc["id"].as_str().unwrap();
    let r = public_get(&app, &format!("/api/v1/documents/{doc_id}/check")).await;
    assert_eq!(r.status(), 200);
    let check: Value = r.json().await.unwrap();
    assert_eq!(check["title"]["zh"], "受理通知书");
    assert_eq!(check["signature_valid"], true);
    assert_eq!(check["sha256"], notice_doc["sha256"]);
    assert!(check.get("fields").is_none(), "no content: {check}");
    let page = public_get(&app, &format!("/verify?document={doc_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("受理通知书") && page.contains("签章有效"));
    let r = public_get(
        &app,
        &format!("/api/v1/documents/{}/check", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(r.status(), 404);

    // The letter announcing the decision names the documents and links to them.
    app.run_job("outbox").await;
    let sent = app.sent_mail();
    let decided = sent
        .iter()
        .find(|m| m.text.contains("本次出具的文书：准予"))
        .unwrap_or_else(|| panic!("no letter names the decision's documents: {sent:#?}"));
    assert!(
        decided
            .text
            .contains("本次出具的文书：准予行政许可决定书、建筑工程施工许可证"),
        "{}",
        decided.text
    );
    assert!(decided.text.contains(&format!("/filings/{id}#documents")));

    // Another applicant sees neither the list nor the file; anyone sees the public record.
    let other = app.applicant("stranger").await;
    let r = app
        .get(&other, &format!("/api/v1/filings/{id}/documents"))
        .await;
    assert_eq!(r.status(), 404);
    let r = app.get(&other, cert["href"].as_str().unwrap()).await;
    assert_eq!(r.status(), 404);
}

#[actix_web::test]
async fn the_certificate_follows_the_permit_change_extension_and_revocation_at_once() {
    let app = TestApp::spawn().await;
    app.allow_unsent_mail();
    let (builder, reviewer, id) = issued(&app, "2026-12-03").await;
    let docs = documents(&app, &builder, &id).await;
    let first = by_code(&docs, "construction_permit")["identifier"]
        .as_str()
        .unwrap()
        .to_owned();

    // 延期: the certificate is extended and its start-of-works day moves.
    let f = app.filing(&builder, &id).await;
    app.act(
        &builder,
        &f,
        "extend_start",
        json!({ "reason": "征地拆迁未完成" }),
    )
    .await;
    let v = certificate(&app, &first).await;
    assert_eq!(v["status"], "extended");
    assert_eq!(v["status_label"]["zh"], "延期");
    assert_eq!(v["status_reason"], "征地拆迁未完成");
    assert_eq!(v["valid_until"], "2027-06-03");
    assert_eq!(v["in_force"], true);

    // 变更: a new version with a new identifier; the old one says it was changed.
    let f = app.filing(&reviewer, &id).await;
    app.act(
        &reviewer,
        &f,
        "approve_change",
        json!({ "reason": "项目经理变更", "opinion": "同意变更",
                "fields": { "project_manager": "李建设", "project_manager_id": "110101199003074477" } }),
    )
    .await;
    let docs = documents(&app, &builder, &id).await;
    let permits: Vec<&Value> = docs
        .iter()
        .filter(|d| d["code"] == "construction_permit")
        .collect();
    assert_eq!(permits.len(), 2);
    assert_eq!(permits[0]["superseded_by"], permits[1]["id"]);
    let second = permits[1]["identifier"].as_str().unwrap().to_owned();
    assert!(second.contains(".002."), "{second}");
    let old = certificate(&app, &first).await;
    assert_eq!(old["status"], "changed");
    assert_eq!(old["status_label"]["zh"], "变更");
    assert_eq!(old["superseded_by"], second.as_str());
    let new = certificate(&app, &second).await;
    assert_eq!(new["status"], "valid");
    assert_eq!(
        new["number"], old["number"],
        "a change keeps the permit number"
    );
    assert_eq!(new["valid_until"], "2027-06-03", "and the extended day");
    let bytes = download(&app, &builder, permits[1]).await;
    if let Some(text) = pdf_text(&bytes) {
        assert!(text.contains("李建设"), "the new manager:\n{text}");
    }

    // 撤销: visible on the verify page and in JSON in the same request cycle.
    let f = app.filing(&reviewer, &id).await;
    app.act(
        &reviewer,
        &f,
        "revoke",
        json!({ "reason": "以欺骗手段取得施工许可证" }),
    )
    .await;
    let v = certificate(&app, &second).await;
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["status_label"]["zh"], "撤销");
    assert_eq!(v["in_force"], false);
    assert_eq!(v["status_reason"], "以欺骗手段取得施工许可证");
    let statuses: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["valid", "revoked"]);
    // The action's one audit entry records the status it gave the certificate.
    let h: Value = app
        .get(&builder, &format!("/api/v1/filings/{id}/history"))
        .await
        .json()
        .await
        .unwrap();
    let last = h.as_array().unwrap().last().unwrap();
    assert_eq!(last["action"], "action:revoke");
    assert_eq!(last["payload"]["certificates"][0]["status"], "revoked");
    assert_eq!(
        last["payload"]["certificates"][0]["identifier"],
        second.as_str()
    );
    let page = public_get(&app, &format!("/verify?id={second}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("撤销"), "{html}");
    assert!(html.contains("以欺骗手段取得施工许可证"));
    assert!(
        !html.contains("110101199003074477"),
        "no ID number in public"
    );
}

#[actix_web::test]
async fn a_bad_identifier_is_400_naming_the_field_and_an_unknown_one_404_saying_so() {
    let app = TestApp::spawn().await;
    let r = public_get(&app, "/api/v1/certificates/1.2.156.3005.2.ABC").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(error_paths(&body), ["identifier"]);
    // Well-formed with a right check character, but never issued.
    let unknown = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0";
    let r = public_get(&app, &format!("/api/v1/certificates/{unknown}")).await;
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("证照"),
        "says there is no such certificate: {body}"
    );
    // A wrong check character is malformed, not unknown.
    let wrong = unknown.replace(".002.0", ".002.1");
    let r = public_get(&app, &format!("/api/v1/certificates/{wrong}")).await;
    assert_eq!(r.status(), 400);
    // The page says the same in words, not a 500.
    let r = public_get(&app, &format!("/verify?id={unknown}")).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("没有此证照标识"));
    let r = public_get(&app, "/verify?id=nonsense").await;
    assert_eq!(r.status(), 400);
    let r = public_get(&app, "/verify").await;
    assert_eq!(r.status(), 200, "the empty form");
}

#[actix_web::test]
async fn a_supplement_notice_lists_every_item_and_a_refusal_tells_the_reason_and_remedies() {
    let app = TestApp::spawn().await;
    at(&app, "2026-12-03");
    let builder = app.applicant("builder").await;
    let clerk = app.staff("clerk", "window", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let f = app
        .create(&builder, "construction-permit", construction_form())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    app.upload_all(&builder, &id, CONSTRUCTION_MATERIALS).await;
    let f = app.filing(&builder, &id).await;
    app.act(&builder, &f, "submit", json!({})).await;
    let f = app.filing(&clerk, &id).await;
    app.act(
        &clerk,
        &f,
        "request_supplement",
        json!({ "notice_items": ["施工合同缺少签章页", "安全生产许可证已过期"] }),
    )
    .await;
    let f = app.filing(&builder, &id).await;
    app.act(&builder, &f, "supplement", json!({})).await;
    let f = app.filing(&clerk, &id).await;
    app.act(&clerk, &f, "accept", json!({})).await;
    let f = app.filing(&reviewer, &id).await;
    app.act(
        &reviewer,
        &f,
        "refuse",
        json!({ "reason": "施工图未经审查合格", "opinion": "不符合法定条件" }),
    )
    .await;

    let docs = documents(&app, &builder, &id).await;
    let codes: Vec<&str> = docs.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        ["supplement_notice", "acceptance_notice", "refusal_decision"]
    );
    let notice = download(&app, &builder, by_code(&docs, "supplement_notice")).await;
    let refusal = download(&app, &builder, by_code(&docs, "refusal_decision")).await;
    keep_png(&notice, "supplement-notice");
    keep_png(&refusal, "refusal-decision");
    if let (Some(n), Some(r)) = (pdf_text(&notice), pdf_text(&refusal)) {
        for want in [
            "补正材料告知书",
            "一次性告知",
            "施工合同缺少签章页",
            "安全生产许可证已过期",
        ] {
            assert!(n.contains(want), "{want} not in:\n{n}");
        }
        for want in [
            "不予行政许可决定书",
            "理由：施工图未经审查合格",
            "行政复议",
            "行政诉讼",
            "第三十八条第二款",
        ] {
            assert!(r.contains(want), "{want} not in:\n{r}");
        }
    }
}

#[actix_web::test]
async fn a_rendered_document_cannot_be_changed_and_a_pending_one_is_rendered_by_the_job() {
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    app.allow_unsent_mail();
    let (builder, _, id) = issued(&app, "2026-12-03").await;
    let docs = documents(&app, &builder, &id).await;
    let doc = docs[0]["id"].as_str().unwrap().to_owned();
    let mut conn = app.conn();
    let err = diesel::sql_query(format!(
        "UPDATE documents SET pdf = 'x'::bytea WHERE id = '{doc}'"
    ))
    .execute(&mut conn)
    .unwrap_err();
    assert!(err.to_string().contains("is fixed"), "{err}");
    let err = diesel::sql_query(format!("DELETE FROM documents WHERE id = '{doc}'"))
        .execute(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("kept"), "{err}");

    // A document issued but not rendered (as after a crash between the two) is rendered by
    // the job.
    diesel::sql_query(format!(
        "INSERT INTO documents (id, filing_id, code, kind, title_zh, title_en, version, action, issued_at, issued_by, sheet)
         SELECT gen_random_uuid(), filing_id, code, kind, title_zh, title_en, version + 10, action, issued_at, issued_by, sheet
         FROM documents WHERE id = '{doc}'"
    ))
    .execute(&mut conn)
    .unwrap();
    assert_eq!(app.count("documents WHERE pdf IS NULL"), 1, "one pending");
    let report = app.run_job("documents").await;
    assert_eq!(report["rendered"], 1, "{report}");
    assert_eq!(app.count("documents WHERE pdf IS NULL"), 0);
}

/// A form and the required materials for an item, from its own definition: every required
/// field filled with a plausible value (the special fire items have no hand-written form).
async fn generic_filing(app: &TestApp, item: &str) -> (Value, Vec<String>) {
    let def: Value = reqwest::get(app.url(&format!("/api/v1/items/{item}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut form = serde_json::Map::new();
    for fld in def["fields"].as_array().unwrap() {
        if fld["required"] != true {
            continue;
        }
        let v = match fld["type"].as_str().unwrap() {
            "credit_code" => json!("91350100M000100Y43"),
            "phone" => json!("13800138000"),
            "date" => json!("2026-11-27"),
            "select" => fld["options"][0]["value"].clone(),
            "boolean" => json!(false),
            "area" | "amount" | "number" | "integer" => json!("12000"),
            _ => json!("示范商业综合体"),
        };
        form.insert(fld["code"].as_str().unwrap().to_owned(), v);
    }
    let materials = def["materials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["requirement"] == "required" && m.get("required_when").is_none_or(Value::is_null)
        })
        .map(|m| m["code"].as_str().unwrap().to_owned())
        .collect();
    (Value::Object(form), materials)
}

/// Every document of every item that the lifecycle tests do not reach: the one-time notice and
/// the refusal to accept of each item, the permit's correction notice in review, the design
/// review's "not special" notice and failed opinion, the fire acceptance's passed opinion.
/// Each is rendered, sealed, listed with its hash, and says what its kind must say.
#[actix_web::test]
async fn every_item_writes_its_notices_refusals_and_remaining_opinions() {
    let app = TestApp::spawn().await;
    at(&app, "2026-12-03");
    let builder = app.applicant("builder").await;
    let window = app.staff("clerk-window", "window", &[Role::Clerk]).await;
    let fire_clerk = app.staff("clerk-fire", "fire", &[Role::Clerk]).await;
    let reviewer = app
        .staff("reviewer", "construction", &[Role::Reviewer])
        .await;
    let fire_reviewer = app.staff("fire-reviewer", "fire", &[Role::Reviewer]).await;
    let inspector = app
        .staff("fire-inspector", "fire", &[Role::Inspector])
        .await;

    let mut items: Vec<(&str, Value, Vec<String>, &User)> = vec![
        (
            "construction-permit",
            construction_form(),
            CONSTRUCTION_MATERIALS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            &window,
        ),
        (
            "elevator-installation",
            elevator_form(10, 12),
            ELEVATOR_MATERIALS.iter().map(|s| s.to_string()).collect(),
            &window,
        ),
        (
            "fire-acceptance-filing",
            fire_form(),
            FIRE_MATERIALS.iter().map(|s| s.to_string()).collect(),
            &fire_clerk,
        ),
    ];
    items.push((
        "special-fire-design-review",
        json!({
            "project_name": "示范商业综合体",
            "builder_name": "示范置业有限公司",
            "builder_credit_code": "91350100M000100Y43",
            "project_address": "示范区文昌路 99 号",
            "works_type": "new",
            "special_category": "hotel_commercial",
            "category_floor_area": "32000",
            "total_floor_area": "45000",
            "design_unit": "示范建筑设计研究院有限公司",
            "design_unit_credit_code": "91110000600037341L",
            "design_qualification_no": "A135000001",
            "special_design_case": "none",
            "foreign_standard": false,
            "contact_name": "李工",
            "contact_phone": "13800138000"
        }),
        [
            "application_form",
            "fire_design_documents",
            "planning_permit",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        &window,
    ));
    let (form, materials) = generic_filing(&app, "special-fire-acceptance").await;
    items.push(("special-fire-acceptance", form, materials, &window));
    let submit = |item: &'static str, form: Value, materials: Vec<String>| {
        let app = &app;
        let builder = &builder;
        async move {
            let f = app.create(builder, item, form).await;
            let id = f["id"].as_str().unwrap().to_owned();
            let m: Vec<&str> = materials.iter().map(String::as_str).collect();
            app.upload_all(builder, &id, &m).await;
            let f = app.filing(builder, &id).await;
            let f = app.act(builder, &f, "submit", json!({})).await;
            assert_eq!(f["state"]["code"], "intake", "{item}");
            id
        }
    };
    for (item, form, materials, clerk) in items.clone() {
        // The one-time notice lists what the clerk wrote.
        let id = submit(item, form.clone(), materials.clone()).await;
        let f = app.filing(clerk, &id).await;
        app.act(
            clerk,
            &f,
            "request_supplement",
            json!({ "notice_items": ["现场照片不清晰"] }),
        )
        .await;
        let docs = issued_documents(&app, &builder, &id).await;
        assert_documents(
            &docs,
            &[(
                "supplement_notice",
                &["补正材料告知书", "一次性告知", "现场照片不清晰"],
            )],
        );
        // The refusal to accept, with its reason and the remedies.
        let id = submit(item, form, materials).await;
        let f = app.filing(clerk, &id).await;
        app.act(
            clerk,
            &f,
            "refuse_to_accept",
            json!({ "reason": "不属于本机关管辖范围" }),
        )
        .await;
        let code = match item {
            "fire-acceptance-filing" => "refusal_to_file",
            _ => "refusal_to_accept",
        };
        let docs = issued_documents(&app, &builder, &id).await;
        assert_documents(
            &docs,
            &[(
                code,
                &["理由：不属于本机关管辖范围", "行政复议", "行政诉讼"],
            )],
        );
    }

    // The permit's correction asked for in review.
    let (_, form, materials, _) = items[0].clone();
    let id = submit("construction-permit", form, materials).await;
    let f = app.filing(&window, &id).await;
    app.act(&window, &f, "accept", json!({})).await;
    let f = app.filing(&reviewer, &id).await;
    app.act(
        &reviewer,
        &f,
        "request_correction",
        json!({ "notice_items": ["施工图审查合格书编号有误"] }),
    )
    .await;
    let docs = issued_documents(&app, &builder, &id).await;
    assert_documents(
        &docs,
        &[
            ("acceptance_notice", &["受理通知书"]),
            (
                "correction_notice",
                &["补正材料告知书（审查阶段）", "施工图审查合格书编号有误"],
            ),
        ],
    );

    // Not a special construction work; and a failed design review.
    let (_, form, materials, _) = items[3].clone();
    let id = submit(
        "special-fire-design-review",
        form.clone(),
        materials.clone(),
    )
    .await;
    let f = app.filing(&window, &id).await;
    app.act(
        &window,
        &f,
        "not_special",
        json!({ "reason": "建筑面积未达到特殊建设工程标准" }),
    )
    .await;
    let docs = issued_documents(&app, &builder, &id).await;
    assert_documents(
        &docs,
        &[(
            "not_special_notice",
            &["不属于特殊建设工程告知书", "不需办理消防设计审查"],
        )],
    );
    let id = submit("special-fire-design-review", form, materials).await;
    let f = app.filing(&window, &id).await;
    let f = app.act(&window, &f, "accept", json!({})).await;
    assert_eq!(f["state"]["code"], "review");
    let f = app.filing(&fire_reviewer, &id).await;
    app.act(
        &fire_reviewer,
        &f,
        "refuse",
        json!({ "reason": "疏散楼梯数量不足", "opinion": "不合格" }),
    )
    .await;
    let docs = issued_documents(&app, &builder, &id).await;
    assert_documents(
        &docs,
        &[
            ("acceptance_notice", &[]),
            (
                "design_refused",
                &[
                    "消防设计审查意见书（不合格）",
                    "理由：疏散楼梯数量不足",
                    "行政复议",
                ],
            ),
        ],
    );

    // A fire acceptance passed after its site assessment.
    let (_, form, materials, _) = items[4].clone();
    let id = submit("special-fire-acceptance", form, materials).await;
    let f = app.filing(&window, &id).await;
    app.act(&window, &f, "accept", json!({})).await;
    let f = app.filing(&fire_reviewer, &id).await;
    app.act(&fire_reviewer, &f, "start_site_assessment", json!({}))
        .await;
    let f = app.filing(&inspector, &id).await;
    app.act(
        &inspector,
        &f,
        "record_site_assessment",
        json!({ "opinion": "现场评定合格" }),
    )
    .await;
    let f = app.filing(&fire_reviewer, &id).await;
    app.act(
        &fire_reviewer,
        &f,
        "approve",
        json!({ "opinion": "消防验收合格" }),
    )
    .await;
    let docs = issued_documents(&app, &builder, &id).await;
    assert_documents(
        &docs,
        &[
            ("acceptance_notice", &[]),
            (
                "acceptance_passed",
                &["消防验收意见书（合格）", "消防验收合格", "第三十条"],
            ),
        ],
    );
}
