//! Documents and certificates: issued with the action that issues them, rendered and sealed
//! right after its commit, listed and served to those who may see the filing, and certificates
//! verified by anyone.
//!
//! **Why render after the commit.** An issuing action runs under the filing's row lock (it
//! takes gapless serials). Rendering a PDF (parsing nothing: the font is parsed once per process;
//! subsetting and writing take a few milliseconds) and signing it are kept out of that lock: the
//! action freezes the document's content (its `Sheet`) and its certificate's status in its own
//! transaction, so the verify page shows the new status at its commit; the file is rendered
//! from the frozen content right after, in the same request, with no transaction open and no
//! lock held while it renders; it is stored only if no other renderer stored it meanwhile (the
//! first file stands). A crash in between leaves the document pending: the `documents` job,
//! and any download, render it then.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Ctx;
use super::auth::Principal;
use super::filings::ActInput;
use super::items::Item;
use crate::documents::seal::{self, PublicSealKey, SealKey, SealRecord};
use crate::documents::{Layout, Sheet, pdf};
use crate::domain::certificate::{CertStatus, Identifier, IdentifierError, permit_number};
use crate::domain::definition::{CertNumbering, Definition, DocumentDef, DocumentKind, Text};
use crate::error::AppError;
use crate::repo::actions::ActionPlan;
use crate::repo::documents::{
    self as repo, CertificateRow, DocumentMeta, NewCertificate, NewDocument,
};
use crate::repo::filings::FilingRow;

/// Who issues and seals: the bureau, its codes and its key.
#[derive(Debug)]
pub struct Issuer {
    pub name_zh: String,
    pub credit_code: String,
    pub division_code: String,
    pub seal_role: String,
    pub key: SealKey,
    /// The public address of the service (the QR codes lead to its verify page).
    pub public_url: String,
}

impl Issuer {
    fn verify_url(&self, query: &str) -> String {
        format!("{}/verify?{query}", self.public_url.trim_end_matches('/'))
    }
}

/// What an action was, for the documents it issues.
pub struct Issued<'a> {
    pub item: &'a Item,
    /// The filing after the action.
    pub row: &'a FilingRow,
    pub action: &'a str,
    pub input: &'a ActInput,
    pub actor: Uuid,
    pub plan: &'a ActionPlan,
    /// The statutory due date after the action (an acceptance notice tells it).
    pub due_on: Option<NaiveDate>,
    /// The state the action entered, if it changed state.
    pub entered: Option<&'a str>,
    /// The reasons the departments of this round's joint review gave for refusing (a refusal
    /// that a join decides has no reason of its own).
    pub review_reasons: Vec<String>,
}

/// Whether an action issues a document or changes a certificate (it then runs under the
/// filing's lock, for the serials).
pub fn touches(def: &Definition, action: &str, entered: Option<&str>) -> bool {
    def.documents_on(action, entered).next().is_some()
        || def.documents.iter().any(|d| {
            d.certificate
                .as_ref()
                .is_some_and(|c| c.status_on.contains_key(action))
        })
}

/// Issue the documents of an action and move its certificates' statuses, in the action's
/// transaction (the caller holds the filing's lock). The files are rendered after the commit.
/// Returns what was done, for the action's own audit entry (one entry per action: the
/// documents and statuses are part of it).
pub fn on_action(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    a: &Issued<'_>,
) -> Result<Map<String, Value>, AppError> {
    let def = &a.item.def;
    let mut statuses = Vec::new();
    let mut issued = Vec::new();
    for d in &def.documents {
        let Some(c) = &d.certificate else { continue };
        let Some(status) = c.status_on.get(a.action) else {
            continue;
        };
        let Some(cert) = repo::current_certificate(conn, a.row.id, &d.code)? else {
            continue;
        };
        let valid_until = c
            .validity_deadline
            .as_deref()
            .and_then(|code| validity(a.plan, code));
        let reason = a.input.reason.as_deref().or(a.input.opinion.as_deref());
        repo::set_status(
            conn,
            cert.id,
            status.as_str(),
            ctx.now,
            reason,
            valid_until,
            a.action,
        )?;
        statuses.push(json!({
            "identifier": cert.identifier, "status": status.as_str(), "valid_until": valid_until,
        }));
    }
    for d in def.documents_on(a.action, a.entered) {
        issued.push(issue(conn, ctx, a, d)?);
    }
    let mut out = Map::new();
    if !issued.is_empty() {
        out.insert("documents".into(), Value::Array(issued));
    }
    if !statuses.is_empty() {
        out.insert("certificates".into(), Value::Array(statuses));
    }
    Ok(out)
}

/// The day a certificate is valid until: the validity deadline as the action opened or
/// extended it.
fn validity(plan: &ActionPlan, code: &str) -> Option<NaiveDate> {
    plan.extend_deadline
        .as_ref()
        .filter(|(d, _)| d.code == code)
        .map(|(d, _)| d.due_on)
        .or_else(|| {
            plan.open_deadlines
                .iter()
                .find(|o| o.deadline.code == code)
                .map(|o| o.deadline.due_on)
        })
}

/// Issue one document (and its certificate); answers what the audit entry records of it.
fn issue(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    a: &Issued<'_>,
    d: &DocumentDef,
) -> Result<Value, AppError> {
    let issuer = ctx.issuer;
    let today = ctx.today();
    let previous = repo::latest_version(conn, a.row.id, &d.code)?;
    let version = previous.map_or(1, |(_, v)| v + 1);
    let id = Uuid::new_v4();
    let mut sheet = sheet_for(ctx, a, d);
    let mut certificate = None;
    if let Some(c) = &d.certificate {
        let current = repo::current_certificate(conn, a.row.id, &d.code)?;
        let (identifier, number) = match &current {
            // A change (变更): the same certificate's next version, with the same number.
            Some(cur) if c.reissue_on.iter().any(|x| x == a.action) => {
                let old = Identifier::parse(&cur.identifier).map_err(|e| {
                    AppError::Internal(anyhow::anyhow!(
                        "stored identifier {} is malformed: {e}",
                        cur.identifier
                    ))
                })?;
                (old.next_version(), cur.number.clone())
            }
            _ => {
                let n = repo::next_serial(conn, &c.type_code, today)?;
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                let serial = format!("{}{n:02}", today.format("%Y%m%d"));
                let id = Identifier::new(&c.type_code, &issuer.credit_code, &serial, 1)
                    .map_err(|e| AppError::Internal(anyhow::anyhow!("identifier: {e}")))?;
                let number = match c.numbering {
                    CertNumbering::Filing => a.row.number.clone().unwrap_or_default(),
                    CertNumbering::Permit => {
                        let class = c
                            .class_field
                            .as_deref()
                            .and_then(|f| a.row.form.get(f))
                            .and_then(Value::as_str)
                            .and_then(|v| c.classes.get(v))
                            .map_or("01", String::as_str);
                        permit_number(&issuer.division_code, today, n, class).ok_or_else(|| {
                            AppError::Internal(anyhow::anyhow!(
                                "no permit number for serial {n} of {today} (at most 99 a day)"
                            ))
                        })?
                    }
                };
                (id, number)
            }
        };
        let valid_until = c
            .validity_deadline
            .as_deref()
            .and_then(|code| validity(a.plan, code))
            .or_else(|| current.as_ref().and_then(|c| c.valid_until));
        sheet.number = number.clone();
        sheet.identifier = Some(identifier.to_string());
        sheet.verify_url = Some(issuer.verify_url(&format!("id={identifier}")));
        if let Some(v) = valid_until {
            let label = c.validity_label.as_deref().unwrap_or("有效期至");
            sheet.rows.push((label.to_owned(), chinese_date(v)));
        }
        let cert_id = Uuid::new_v4();
        let new = NewCertificate {
            id: cert_id,
            identifier: identifier.to_string(),
            filing_id: a.row.id,
            document_code: d.code.clone(),
            version: i32::from(identifier.version),
            number,
            status: CertStatus::Valid.as_str().into(),
            status_at: ctx.now,
            valid_until,
            issued_at: ctx.now,
            public_fields: public_fields(&a.item.def, d, a.row),
        };
        repo::insert_certificate(conn, &new)?;
        // A permit goes to the 建筑市场监管 platform within five working days of issue.
        if c.numbering == crate::domain::definition::CertNumbering::Permit {
            crate::services::exchange::track_upload(conn, ctx, cert_id, a.row.id)?;
        }
        if let Some(cur) = &current
            && c.reissue_on.iter().any(|x| x == a.action)
        {
            repo::set_status(
                conn,
                cur.id,
                CertStatus::Changed.as_str(),
                ctx.now,
                Some(&format!("变更为第{}版：{}", identifier.version, identifier)),
                None,
                a.action,
            )?;
            repo::mark_superseded(conn, cur.id, cert_id)?;
        }
        certificate = Some((cert_id, identifier.to_string()));
    } else {
        sheet.verify_url = Some(issuer.verify_url(&format!("document={id}")));
    }
    let title = title_of(d);
    repo::insert_document(
        conn,
        &NewDocument {
            id,
            filing_id: a.row.id,
            code: d.code.clone(),
            kind: kind_str(d.kind).into(),
            title_zh: title.zh,
            title_en: title.en,
            version,
            action: a.action.into(),
            issued_at: ctx.now,
            issued_by: a.actor,
            sheet: serde_json::to_value(&sheet).map_err(anyhow::Error::from)?,
            certificate_id: certificate.as_ref().map(|(c, _)| *c),
        },
    )?;
    if let Some((old, _)) = previous {
        repo::supersede_document(conn, old, id, ctx.now)?;
    }
    let sheet_digest = seal::sm3_hex(
        serde_json::to_value(&sheet)
            .map_err(anyhow::Error::from)?
            .to_string()
            .as_bytes(),
    );
    Ok(json!({
        "document": id, "code": d.code, "version": version,
        "identifier": certificate.map(|(_, i)| i), "content_sm3": sheet_digest,
    }))
}

fn kind_str(k: DocumentKind) -> &'static str {
    match k {
        DocumentKind::Acceptance => "acceptance",
        DocumentKind::RefusalToAccept => "refusal_to_accept",
        DocumentKind::Supplement => "supplement",
        DocumentKind::Approval => "approval",
        DocumentKind::Refusal => "refusal",
        DocumentKind::Certificate => "certificate",
        DocumentKind::FilingReceipt => "filing_receipt",
        DocumentKind::Opinion => "opinion",
    }
}

/// A document's title: its own, or its kind's.
pub fn title_of(d: &DocumentDef) -> Text {
    if let Some(t) = &d.title {
        return t.clone();
    }
    let (zh, en) = match d.kind {
        DocumentKind::Acceptance => ("受理通知书", "Notice of acceptance"),
        DocumentKind::RefusalToAccept => ("不予受理决定书", "Decision not to accept"),
        DocumentKind::Supplement => ("补正材料告知书", "Notice to supplement"),
        DocumentKind::Approval => ("准予行政许可决定书", "Decision to grant"),
        DocumentKind::Refusal => ("不予行政许可决定书", "Decision to refuse"),
        DocumentKind::Certificate => ("证书", "Certificate"),
        DocumentKind::FilingReceipt => ("备案凭证", "Filing receipt"),
        DocumentKind::Opinion => ("意见书", "Opinion"),
    };
    Text {
        zh: zh.into(),
        en: en.into(),
    }
}

/// The kind's standard wording and law.
fn standard(kind: DocumentKind) -> (Vec<&'static str>, Option<&'static str>) {
    match kind {
        DocumentKind::Acceptance => (
            vec![
                "你（单位）于{submitted_on}提交的{item}申请（申请号：{filing_number}），申请材料齐全、符合法定形式。根据《中华人民共和国行政许可法》第三十二条第一款第五项的规定，本机关决定予以受理。",
                "本机关将依法在法定期限内作出决定{due_sentence}。",
            ],
            Some("《中华人民共和国行政许可法》第三十二条"),
        ),
        DocumentKind::RefusalToAccept => (
            vec![
                "你（单位）于{submitted_on}提交的{item}申请（申请号：{filing_number}），经审查，本机关决定不予受理。",
            ],
            Some("《中华人民共和国行政许可法》第三十二条"),
        ),
        DocumentKind::Supplement => (
            vec![
                "你（单位）于{submitted_on}提交的{item}申请（申请号：{filing_number}），申请材料不齐全或者不符合法定形式。根据《中华人民共和国行政许可法》第三十二条第一款第四项的规定，现一次性告知你（单位）需要补正的全部内容如下：",
            ],
            Some("《中华人民共和国行政许可法》第三十二条第一款第四项"),
        ),
        DocumentKind::Approval => (
            vec![
                "你（单位）于{submitted_on}提交的{item}申请（申请号：{filing_number}），经审查，符合法定条件、标准。根据《中华人民共和国行政许可法》第三十八条第一款的规定，本机关决定准予行政许可。",
            ],
            Some("《中华人民共和国行政许可法》第三十八条第一款"),
        ),
        DocumentKind::Refusal => (
            vec![
                "你（单位）于{submitted_on}提交的{item}申请（申请号：{filing_number}），经审查，不符合法定条件、标准。根据《中华人民共和国行政许可法》第三十八条第二款的规定，本机关决定不予行政许可。",
            ],
            Some("《中华人民共和国行政许可法》第三十八条第二款"),
        ),
        DocumentKind::FilingReceipt => (
            vec!["你（单位）报送的{item}（备案号：{filing_number}）材料已收到，予以备案。"],
            None,
        ),
        DocumentKind::Certificate | DocumentKind::Opinion => (Vec::new(), None),
    }
}

pub const REMEDY: &str = "你（单位）如对本决定不服，可以自收到本决定书之日起六十日内依法申请行政复议，或者自收到本决定书之日起六个月内依法向人民法院提起行政诉讼。";

/// 2026年12月4日
pub fn chinese_date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// A field's value as a document prints it.
fn printed(def: &Definition, field: &str, v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(crate::domain::engine::shown_value(def, field, s, true)),
        Value::Bool(b) => Some(if *b { "是" } else { "否" }.into()),
        // Money as the form shows it, grouped with its unit (11,800,000 元).
        Value::Number(n) => Some(crate::domain::engine::shown_value(
            def,
            field,
            &n.to_string(),
            true,
        )),
        Value::Array(rows) => Some(format!("共{}项", rows.len())),
        Value::Object(_) => None,
    }
}

fn sheet_for(ctx: &Ctx<'_>, a: &Issued<'_>, d: &DocumentDef) -> Sheet {
    let def = &a.item.def;
    let row = a.row;
    let submitted = row
        .submitted_at
        .map(|t| chinese_date(crate::clock::local_date(t, ctx.offset)))
        .unwrap_or_default();
    let named = [
        "builder_name",
        "applicant_name",
        "owner_name",
        "representative",
    ]
    .iter()
    .find_map(|f| row.form.get(*f).and_then(Value::as_str))
    .map(str::to_owned);
    let due_sentence = a
        .due_on
        .map(|d| format!("，最迟不晚于{}", chinese_date(d)))
        .unwrap_or_default();
    let fill = |t: &str| -> String {
        let mut s = t
            .replace("{item}", &def.name.zh)
            .replace("{filing_number}", row.number.as_deref().unwrap_or(""))
            .replace("{submitted_on}", &submitted)
            .replace("{today}", &chinese_date(ctx.today()))
            .replace("{due_on}", &a.due_on.map(chinese_date).unwrap_or_default())
            .replace("{due_sentence}", &due_sentence)
            .replace("{authority}", &ctx.issuer.name_zh)
            .replace("{reason}", a.input.reason.as_deref().unwrap_or(""))
            .replace("{opinion}", a.input.opinion.as_deref().unwrap_or(""));
        while let Some(start) = s.find("{form.") {
            let Some(len) = s[start..].find('}') else {
                break;
            };
            let field = &s[start + 6..start + len];
            let value = row
                .form
                .get(field)
                .and_then(|v| printed(def, field, v))
                .unwrap_or_default();
            s.replace_range(start..=start + len, &value);
        }
        s
    };
    // The addressee: as the item words it (the owners of a building), else the builder.
    let applicant = d.addressee.as_deref().map(&fill).or(named);
    let fill = |t: &str| fill(t).replace("{applicant}", applicant.as_deref().unwrap_or(""));
    let (standard_text, standard_basis) = standard(d.kind);
    let paragraphs: Vec<String> = if d.text.is_empty() {
        standard_text.iter().map(|t| fill(t)).collect()
    } else {
        d.text.iter().map(|t| fill(t)).collect()
    };
    let mut rows = Vec::new();
    if let Some(n) = &row.number {
        rows.push(("申请号".to_owned(), n.clone()));
    }
    for f in &d.fields {
        if let (Some(field), Some(v)) = (def.field(f), row.form.get(f))
            && let Some(shown) = printed(def, f, v)
        {
            rows.push((field.label.zh.clone(), shown));
        }
    }
    let mut closing = Vec::new();
    // A certificate prints what it certifies, not the file's reasons and opinions.
    // Reasons and opinions belong to decisions and opinions, not to receipts and certificates.
    let tells_reasons = matches!(
        d.kind,
        DocumentKind::RefusalToAccept
            | DocumentKind::Refusal
            | DocumentKind::Opinion
            | DocumentKind::Approval
    );
    if tells_reasons {
        if let Some(r) = a.input.reason.as_deref().filter(|r| !r.trim().is_empty()) {
            closing.push(format!("理由：{r}"));
        } else if !a.review_reasons.is_empty() {
            closing.push(format!("理由：{}", a.review_reasons.join("；")));
        }
        if let Some(o) = a.input.opinion.as_deref().filter(|o| !o.trim().is_empty()) {
            closing.push(format!("意见：{o}"));
        }
    }
    if d.kind == DocumentKind::Supplement {
        closing
            .push("请按本告知书一次性补正全部内容后重新提交。补正期间不计入法定办理期限。".into());
    }
    if d.kind.tells_remedy() || d.remedy {
        closing.push(REMEDY.into());
    }
    Sheet {
        layout: if d.kind == DocumentKind::Certificate {
            Layout::Certificate
        } else {
            Layout::Notice
        },
        authority: ctx.issuer.name_zh.clone(),
        title: title_of(d).zh,
        number: document_number(def, d.kind, row, ctx.today()),
        addressee: applicant,
        mark: d.mark.clone(),
        paragraphs,
        items: if d.kind == DocumentKind::Supplement {
            notice_items(row, a.input)
        } else {
            Vec::new()
        },
        rows,
        closing,
        basis: d
            .basis
            .clone()
            .or_else(|| standard_basis.map(str::to_owned))
            .or_else(|| def.basis.first().map(|b| b.zh.clone())),
        date: chinese_date(ctx.today()),
        seal_role: ctx.issuer.seal_role.clone(),
        identifier: None,
        verify_url: None,
    }
}

/// The document's own number, as bureaus number their instruments: the item's prefix, the
/// year, the kind's character and the filing's serial (SGXK〔2026〕受字第000001号).
fn document_number(
    def: &Definition,
    kind: DocumentKind,
    row: &FilingRow,
    today: NaiveDate,
) -> String {
    let word = match kind {
        DocumentKind::Acceptance => "受",
        DocumentKind::RefusalToAccept => "不受",
        DocumentKind::Supplement => "补",
        DocumentKind::Approval => "许",
        DocumentKind::Refusal => "不许",
        DocumentKind::Certificate => "证",
        DocumentKind::FilingReceipt => "备",
        DocumentKind::Opinion => "意",
    };
    let serial = row
        .number
        .as_deref()
        .and_then(|n| n.rsplit('-').next())
        .unwrap_or("000000");
    format!("{}〔{}〕{word}字第{serial}号", def.prefix, today.year())
}

/// Everything a one-time notice lists: what the check found (missing materials, wrong fields)
/// and what the clerk wrote, as the action stored it on the filing.
fn notice_items(row: &FilingRow, input: &ActInput) -> Vec<String> {
    let stored = row
        .notice
        .clone()
        .and_then(|n| serde_json::from_value::<crate::domain::engine::Notice>(n).ok());
    match stored {
        Some(n) => n
            .problems
            .into_iter()
            .map(|p| p.message.zh)
            .chain(n.items)
            .collect(),
        None => input.notice_items.clone(),
    }
}

/// What the public sees of a certificate: the filing's number and the printed fields in their
/// order, personal data masked; and how its validity day is labelled.
fn public_fields(def: &Definition, d: &DocumentDef, row: &FilingRow) -> Value {
    let mut rows = Vec::new();
    if let Some(n) = &row.number {
        rows.push(PublicField {
            label: "申请号".into(),
            value: n.clone(),
        });
    }
    for f in &d.fields {
        if let (Some(field), Some(v)) = (def.field(f), row.form.get(f)) {
            let masked = crate::domain::forms::mask(field, v);
            if let Some(shown) = printed(def, f, &masked) {
                rows.push(PublicField {
                    label: field.label.zh.clone(),
                    value: shown,
                });
            }
        }
    }
    let validity_label = d
        .certificate
        .as_ref()
        .and_then(|c| c.validity_label.clone())
        .unwrap_or_else(|| "有效期至".into());
    json!({ "rows": rows, "validity_label": validity_label })
}

/// A field of a certificate as the public sees it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PublicField {
    pub label: String,
    pub value: String,
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// Render and seal one document if it is still pending. Returns whether this call stored it.
///
/// No transaction is open and no lock held while the PDF is rendered and sealed (about 10 ms
/// of CPU): the sheet is read, the file made, and stored only if no other renderer stored one
/// meanwhile (`repo::store_render`). Two renderers racing waste one render, never write twice.
pub fn render(conn: &mut PgConnection, ctx: &Ctx<'_>, id: Uuid) -> Result<bool, AppError> {
    let Some((meta, sheet_json, identifier)) = repo::pending_sheet(conn, id)? else {
        return Ok(false);
    };
    let sheet: Sheet = serde_json::from_value(sheet_json.clone()).map_err(|e| {
        AppError::Internal(anyhow::anyhow!("document {id} has a malformed sheet: {e}"))
    })?;
    let filing_number = repo::filing_number(conn, meta.filing_id)?;
    let body = pdf::render(&sheet).map_err(|e| AppError::Internal(e.into()))?;
    let record = SealRecord {
        document: meta.id.to_string(),
        title: meta.title_zh.clone(),
        number: sheet.number.clone(),
        identifier,
        filing_number,
        issued_at: meta.issued_at.to_rfc3339(),
        pdf_sm3: String::new(),
        data_sm3: seal::sm3_hex(sheet_json.to_string().as_bytes()),
        key: String::new(),
    };
    let (file, _, signature) = seal::seal(&body, record, &ctx.issuer.key);
    let sha = hex::encode(Sha256::digest(&file));
    Ok(repo::store_render(
        conn, id, &file, &sha, &signature, ctx.now,
    )?)
}

/// Render what is pending: a filing's (after its action), or the oldest anywhere (the job).
pub fn render_pending(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    filing: Option<Uuid>,
    limit: i64,
) -> Result<usize, AppError> {
    let mut n = 0;
    for id in repo::pending(conn, filing, limit)? {
        if render(conn, ctx, id)? {
            n += 1;
        }
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A document as listed on its filing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    pub id: Uuid,
    pub code: String,
    pub kind: String,
    pub title: Text,
    pub version: i32,
    pub action: String,
    pub issued_at: DateTime<Utc>,
    /// SHA-256 of the file as served (absent while it is being rendered).
    pub sha256: Option<String>,
    /// The certificate identifier, when the document is a certificate.
    pub identifier: Option<String>,
    /// The later version that replaced it.
    pub superseded_by: Option<Uuid>,
    /// Where to download it.
    pub href: String,
}

fn view(m: DocumentMeta, identifier: Option<String>) -> DocumentView {
    DocumentView {
        href: format!("/api/v1/filings/{}/documents/{}", m.filing_id, m.id),
        id: m.id,
        code: m.code,
        kind: m.kind,
        title: Text {
            zh: m.title_zh,
            en: m.title_en,
        },
        version: m.version,
        action: m.action,
        issued_at: m.issued_at,
        sha256: m.sha256,
        identifier,
        superseded_by: m.superseded_by,
    }
}

fn visible_filing(
    conn: &mut PgConnection,
    p: &Principal,
    filing: Uuid,
) -> Result<FilingRow, AppError> {
    let row = crate::repo::filings::find(conn, filing)?.ok_or(AppError::NotFound)?;
    if !super::filings::can_see(conn, p, &row)? {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

/// A filing's documents, oldest first.
pub fn list(
    conn: &mut PgConnection,
    p: &Principal,
    filing: Uuid,
) -> Result<Vec<DocumentView>, AppError> {
    visible_filing(conn, p, filing)?;
    let identifiers = repo::identifiers_of(conn, filing)?;
    Ok(repo::list(conn, filing)?
        .into_iter()
        .map(|m| {
            let identifier = m.certificate_id.and_then(|c| identifiers.get(&c).cloned());
            view(m, identifier)
        })
        .collect())
}

/// A document's file (rendered now if it was still pending), with its title.
pub fn file(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    filing: Uuid,
    id: Uuid,
) -> Result<(Vec<u8>, DocumentMeta), AppError> {
    visible_filing(conn, p, filing)?;
    let meta = repo::meta(conn, id)?
        .filter(|m| m.filing_id == filing)
        .ok_or(AppError::NotFound)?;
    if meta.rendered_at.is_none() {
        render(conn, ctx, id)?;
    }
    let bytes = repo::pdf(conn, id)?.ok_or(AppError::Unavailable)?;
    Ok((bytes, meta))
}

/// A certificate as anyone may see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    pub identifier: String,
    pub version: i32,
    pub number: String,
    /// `valid`, `changed`, `extended`, `suspended`, `lapsed`, `revoked` or `cancelled`.
    pub status: CertStatus,
    pub status_label: Text,
    pub status_at: DateTime<Utc>,
    pub status_reason: Option<String>,
    /// Whether it may be relied on now.
    pub in_force: bool,
    pub valid_until: Option<NaiveDate>,
    pub issued_at: DateTime<Utc>,
    pub issuer: String,
    pub title: Text,
    /// The fields as printed, in their order, personal data masked.
    pub fields: Vec<PublicField>,
    /// What the validity day means (开工期限 for a permit: works must start by it).
    pub valid_until_label: String,
    /// SHA-256 of the document file as issued.
    pub sha256: Option<String>,
    /// Whether the stored file's seal verifies against the published key.
    pub signature_valid: bool,
    /// The later version, after a change.
    pub superseded_by: Option<String>,
    pub history: Vec<CertificateEventView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateEventView {
    pub status: CertStatus,
    pub status_label: Text,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// Why a string cannot be looked up.
pub fn parse_identifier(s: &str) -> Result<Identifier, AppError> {
    Identifier::parse(s).map_err(|e: IdentifierError| {
        let m = e.message();
        AppError::BadRequest(
            m.clone(),
            vec![crate::domain::Problem::new(
                "identifier",
                "invalid_identifier",
                m.zh,
                m.en,
            )],
        )
    })
}

fn status_of(s: &str) -> Result<CertStatus, AppError> {
    CertStatus::parse(s).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!("unknown certificate status `{s}` stored"))
    })
}

/// Look a certificate up by its identifier (400 when malformed, 404 when unknown).
pub fn certificate(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    identifier: &str,
) -> Result<CertificateView, AppError> {
    let id = parse_identifier(identifier)?;
    let row = repo::certificate_by_identifier(conn, &id.to_string())?.ok_or_else(|| {
        AppError::NoSuch(Text {
            zh: "没有此证照标识对应的证照，请核对后重新输入".into(),
            en: "No certificate has this identifier: check it and enter it again".into(),
        })
    })?;
    certificate_view(conn, ctx, row)
}

fn certificate_view(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    row: CertificateRow,
) -> Result<CertificateView, AppError> {
    let doc = repo::of_certificate(conn, row.id)?;
    let (sha256, signature_valid, title) = match &doc {
        Some(m) => {
            if m.rendered_at.is_none() {
                render(conn, ctx, m.id)?;
            }
            let file = repo::pdf(conn, m.id)?;
            let valid = file.as_deref().is_some_and(|f| {
                matches!(
                    seal::verify(f, &ctx.issuer.key.public()),
                    seal::Verdict::Valid(_)
                )
            });
            let sha = file.as_deref().map(|f| hex::encode(Sha256::digest(f)));
            (
                sha,
                valid,
                Text {
                    zh: m.title_zh.clone(),
                    en: m.title_en.clone(),
                },
            )
        }
        None => (
            None,
            false,
            Text {
                zh: String::new(),
                en: String::new(),
            },
        ),
    };
    let superseded_by = match row.superseded_by {
        Some(s) => repo::certificate_by_id(conn, s)?.map(|c| c.identifier),
        None => None,
    };
    let mut history = Vec::new();
    for e in repo::events(conn, row.id)? {
        let status = status_of(&e.status)?;
        history.push(CertificateEventView {
            status,
            status_label: status.label(),
            at: e.at,
            reason: e.reason,
        });
    }
    let status = status_of(&row.status)?;
    Ok(CertificateView {
        identifier: row.identifier,
        version: row.version,
        number: row.number,
        status,
        status_label: status.label(),
        status_at: row.status_at,
        status_reason: row.status_reason,
        in_force: status.in_force(),
        valid_until: row.valid_until,
        issued_at: row.issued_at,
        issuer: ctx.issuer.name_zh.clone(),
        title,
        fields: serde_json::from_value(row.public_fields["rows"].clone()).map_err(|e| {
            AppError::Internal(anyhow::anyhow!("certificate fields stored malformed: {e}"))
        })?,
        valid_until_label: row.public_fields["validity_label"]
            .as_str()
            .unwrap_or("有效期至")
            .to_owned(),
        sha256,
        signature_valid,
        superseded_by,
        history,
    })
}

/// A non-certificate document as anyone holding its verification code (the document id, from
/// its QR code) may check it: title, date, hash and seal; no content.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DocumentCheck {
    pub id: Uuid,
    pub title: Text,
    pub issued_at: DateTime<Utc>,
    pub issuer: String,
    pub sha256: Option<String>,
    pub signature_valid: bool,
    pub superseded: bool,
}

pub fn document_check(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    id: Uuid,
) -> Result<DocumentCheck, AppError> {
    let m = repo::meta(conn, id)?.ok_or_else(|| {
        AppError::NoSuch(Text {
            zh: "没有此核验码对应的文书".into(),
            en: "No document has this verification code".into(),
        })
    })?;
    if m.rendered_at.is_none() {
        render(conn, ctx, id)?;
    }
    let file = repo::pdf(conn, id)?;
    Ok(DocumentCheck {
        id,
        title: Text {
            zh: m.title_zh,
            en: m.title_en,
        },
        issued_at: m.issued_at,
        issuer: ctx.issuer.name_zh.clone(),
        sha256: file.as_deref().map(|f| hex::encode(Sha256::digest(f))),
        signature_valid: file.as_deref().is_some_and(|f| {
            matches!(
                seal::verify(f, &ctx.issuer.key.public()),
                seal::Verdict::Valid(_)
            )
        }),
        superseded: m.superseded_by.is_some(),
    })
}

/// Check a downloaded file offline against a published key.
pub fn verify_file(file: &[u8], key: &PublicSealKey) -> seal::Verdict {
    seal::verify(file, key)
}
