//! A filing's pages: the new-filing form built from the item definition, the filing page with
//! its clocks, notice, materials (upload and download), the actions allowed now (each asking
//! for what it needs) and the timeline.
//!
//! Every form posts the version it was rendered from: if someone acted first, the page comes
//! back with the fresh state and says so. Problems are shown next to their fields.

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{PageError, Ui, Viewer, form_value, see_other};
use crate::app::AppState;
use crate::domain::Problem;
use crate::domain::definition::{FieldType, Input, Lang, Requirement, Role};
use crate::domain::engine::Verdict;
use crate::error::AppError;
use crate::services::auth::Principal;
use crate::services::filings::{self, ActInput};
use crate::services::items::Item;
use crate::web::extract::{Form, Query};
use crate::web::files;

/// One form control built from a field of the definition.
pub struct FieldInput {
    pub code: String,
    pub label: String,
    pub help: Option<String>,
    /// text, date, select, checkbox, textarea, email, tel
    pub control: &'static str,
    pub inputmode: &'static str,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub options: Vec<(String, String, bool)>,
    pub error: Option<String>,
}

pub struct PromiseInput {
    pub code: String,
    pub label: String,
    pub value: String,
    pub error: Option<String>,
}

fn pick(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

fn roster_text(v: &Value) -> String {
    v.as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let s = |k: &str| match r.get(k) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
                        Some(other) if !other.is_null() => other.to_string(),
                        _ => String::new(),
                    };
                    format!(
                        "{}, {}, {}, {}",
                        s("unit"),
                        s("area"),
                        s("vote"),
                        s("signed")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(_)) => v.map(roster_text).unwrap_or_default(),
        Some(other) => other.to_string(),
    }
}

/// Controls for every field of an item, filled from `form`, with the problems at their fields.
fn field_inputs(
    item: &Item,
    lang: Lang,
    form: &Map<String, Value>,
    problems: &[Problem],
) -> Vec<FieldInput> {
    item.def
        .fields
        .iter()
        .map(|f| {
            let path = format!("form.{}", f.code);
            let error = problems
                .iter()
                .filter(|p| p.path == path || p.path.starts_with(&format!("{path}[")))
                .map(|p| p.message.get(lang).to_owned())
                .collect::<Vec<_>>();
            let (control, inputmode) = match &f.ty {
                FieldType::Date => ("date", "text"),
                FieldType::Select { .. } => ("select", "text"),
                FieldType::Boolean => ("checkbox", "text"),
                FieldType::Roster => ("textarea", "text"),
                FieldType::Email => ("email", "email"),
                FieldType::Phone => ("tel", "tel"),
                FieldType::Integer { .. } => ("text", "numeric"),
                FieldType::Amount { .. } | FieldType::Area { .. } => ("text", "decimal"),
                _ => ("text", "text"),
            };
            let value = value_text(form.get(&f.code));
            let options = match &f.ty {
                FieldType::Select { options } => options
                    .iter()
                    .map(|o| (o.value.clone(), o.label.get(lang).to_owned(), o.value == value))
                    .collect(),
                _ => Vec::new(),
            };
            let help = match (&f.ty, &f.help) {
                (_, Some(h)) => Some(h.get(lang).to_owned()),
                (FieldType::Roster, None) => Some(pick(
                    lang,
                    "一行一户：房号, 专有面积（平方米）, 意见（agree 同意 / object 反对 / abstain 弃权）, 是否签字（yes/no）",
                    "One unit per line: unit, exclusive area (m²), vote (agree / object / abstain), signed (yes/no)",
                )),
                _ => None,
            };
            FieldInput {
                code: f.code.clone(),
                label: f.label.get(lang).to_owned(),
                help,
                control,
                inputmode,
                checked: form.get(&f.code).and_then(Value::as_bool).unwrap_or(false),
                value,
                required: f.required,
                options,
                error: (!error.is_empty()).then(|| error.join("；")),
            }
        })
        .collect()
}

fn promise_inputs(
    item: &Item,
    lang: Lang,
    promises: &Map<String, Value>,
    problems: &[Problem],
) -> Vec<PromiseInput> {
    item.def
        .materials
        .iter()
        .filter(|m| m.requirement == Requirement::Tolerable)
        .map(|m| {
            let path = format!("promises.{}", m.code);
            PromiseInput {
                code: m.code.clone(),
                label: m.label.get(lang).to_owned(),
                value: value_text(promises.get(&m.code)),
                error: problems
                    .iter()
                    .find(|p| p.path == path)
                    .map(|p| p.message.get(lang).to_owned()),
            }
        })
        .collect()
}

/// The form as the service wants it: typed from the definition; empty fields left out.
fn form_json(item: &Item, pairs: &[(String, String)]) -> (Map<String, Value>, Map<String, Value>) {
    let get = |k: &str| form_value(pairs, k);
    let mut form = Map::new();
    for f in &item.def.fields {
        let raw = get(&f.code);
        let value = match (&f.ty, raw) {
            (FieldType::Boolean, raw) => Some(Value::Bool(raw.is_some())),
            (_, None) => None,
            (FieldType::Integer { .. }, Some(r)) => Some(
                r.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(r)),
            ),
            (FieldType::Roster, Some(r)) => Some(Value::Array(
                r.lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| {
                        let c: Vec<&str> = l.split([',', '，']).map(str::trim).collect();
                        let col = |i: usize| c.get(i).copied().unwrap_or("");
                        let signed = matches!(
                            col(3).to_lowercase().as_str(),
                            "yes" | "true" | "是" | "已签" | "y"
                        );
                        serde_json::json!({
                            "unit": col(0), "area": col(1), "vote": col(2), "signed": signed
                        })
                    })
                    .collect(),
            )),
            (_, Some(r)) => Some(Value::String(r)),
        };
        if let Some(v) = value {
            form.insert(f.code.clone(), v);
        }
    }
    let mut promises = Map::new();
    for m in &item.def.materials {
        if let Some(d) = get(&format!("promise.{}", m.code)).filter(|d| !d.is_empty()) {
            promises.insert(m.code.clone(), Value::String(d));
        }
    }
    (form, promises)
}

#[derive(Template)]
#[template(path = "pages/filing_form.html", config = "config/askama.toml")]
struct FormPage {
    ui: Ui,
    has_errors: bool,
    title: String,
    action: String,
    version: Option<i32>,
    /// A new draft's idempotency key (see `create`).
    key: Option<String>,
    fields: Vec<FieldInput>,
    promises: Vec<PromiseInput>,
    others: Vec<String>,
}

/// The new-filing form of an item (applicants).
#[get("/filings/new/{item}")]
pub async fn new_form(
    state: web::Data<AppState>,
    mut v: Viewer,
    code: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    v.require(&state, Role::Applicant).await?;
    let item = state
        .items
        .latest(&code)
        .ok_or_else(|| PageError::from_app(&v, AppError::NotFound))?;
    let page = FormPage {
        title: item.def.name.get(v.lang).to_owned(),
        action: format!("/filings/new/{}", item.def.code),
        version: None,
        key: Some(Uuid::new_v4().to_string()),
        fields: field_inputs(&item, v.lang, &Map::new(), &[]),
        promises: promise_inputs(&item, v.lang, &Map::new(), &[]),
        others: Vec::new(),
        has_errors: false,
        ui: v.ui(),
    };
    v.render(StatusCode::OK, &page)
}

fn csrf_of(pairs: &[(String, String)]) -> String {
    form_value(pairs, "_csrf").unwrap_or_default()
}

/// Problems that belong to no field of the form.
fn other_problems(problems: &[Problem], lang: Lang) -> Vec<String> {
    problems
        .iter()
        .filter(|p| !p.path.starts_with("form.") && !p.path.starts_with("promises."))
        .map(|p| p.message.get(lang).to_owned())
        .collect()
}

/// Save a new draft; problems come back at their fields with what was typed kept.
#[post("/filings/new/{item}")]
pub async fn create(
    state: web::Data<AppState>,
    mut v: Viewer,
    code: web::Path<String>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.form(pairs)?;
    v.check_csrf(&csrf_of(&pairs))?;
    let item = state
        .items
        .latest(&code)
        .ok_or_else(|| PageError::from_app(&v, AppError::NotFound))?;
    let (form, promises) = form_json(&item, &pairs);
    let code = item.def.code.clone();
    // The form's key makes a second press of the button (or a resent form) land on the draft
    // the first one made. A key already used for another form (the browser's Back, a change,
    // and Save again) means a new draft is wanted.
    let sent_key = form_value(&pairs, "_key").filter(|k| filings::is_idempotency_key(k));
    let create = |key: Option<String>| {
        let (code, form, promises) = (code.clone(), form.clone(), promises.clone());
        move |conn: &mut diesel::PgConnection, ctx: &crate::services::Ctx<'_>, p: &Principal| {
            filings::create(conn, ctx, p, &code, form, promises, key.as_deref())
        }
    };
    let mut result = v.attempt(&state, create(sent_key.clone())).await?;
    if matches!(&result, Err(AppError::Validation(ps)) if ps.iter().any(|p| p.code == "key_reused"))
    {
        result = v.attempt(&state, create(None)).await?;
    }
    match result {
        Ok(filings::Created::New(view) | filings::Created::Replayed(view)) => {
            Ok(see_other(&format!("/filings/{}", view.id)))
        }
        Err(AppError::Validation(problems)) => {
            let page = FormPage {
                title: item.def.name.get(v.lang).to_owned(),
                action: format!("/filings/new/{}", item.def.code),
                version: None,
                key: sent_key,
                fields: field_inputs(&item, v.lang, &form, &problems),
                promises: promise_inputs(&item, v.lang, &promises, &problems),
                others: other_problems(&problems, v.lang),
                has_errors: true,
                ui: v.ui(),
            };
            v.render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

/// The edit form of a draft (or of a filing in supplement).
#[get("/filings/{id}/edit")]
pub async fn edit_form(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, PageError> {
    let id = id.into_inner();
    let (view, item) = v
        .run(&state, move |conn, ctx, p| {
            filings::with_item(conn, ctx, p, id)
        })
        .await?;
    let form = view.form.as_object().cloned().unwrap_or_default();
    let promises = view.promises.as_object().cloned().unwrap_or_default();
    let page = FormPage {
        title: item.def.name.get(v.lang).to_owned(),
        action: format!("/filings/{id}/edit"),
        version: Some(view.version),
        key: None,
        fields: field_inputs(&item, v.lang, &form, &[]),
        promises: promise_inputs(&item, v.lang, &promises, &[]),
        others: Vec::new(),
        has_errors: false,
        ui: v.ui(),
    };
    v.render(StatusCode::OK, &page)
}

#[post("/filings/{id}/edit")]
pub async fn edit(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.form(pairs)?;
    v.check_csrf(&csrf_of(&pairs))?;
    let id = id.into_inner();
    let version: i32 = pairs
        .iter()
        .find(|(k, _)| k == "version")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(-1);
    // The form is typed by the item's fields, read in the same hop as the edit.
    let (item, mut form, mut promises, result) = v
        .run(&state, move |conn, ctx, p| {
            let item = filings::item_of(conn, ctx, p, id)?;
            let (form, promises) = edit_patch(&item, &pairs);
            let result = filings::edit(conn, ctx, p, id, version, form.clone(), promises.clone());
            Ok((item, form, promises, result))
        })
        .await?;
    match result {
        Ok(_) => Ok(see_other(&format!("/filings/{id}"))),
        Err(AppError::Validation(problems)) => {
            form.retain(|_, v| !v.is_null());
            promises.retain(|_, v| !v.is_null());
            let page = FormPage {
                title: item.def.name.get(v.lang).to_owned(),
                action: format!("/filings/{id}/edit"),
                version: Some(version),
                key: None,
                fields: field_inputs(&item, v.lang, &form, &problems),
                promises: promise_inputs(&item, v.lang, &promises, &problems),
                others: other_problems(&problems, v.lang),
                has_errors: true,
                ui: v.ui(),
            };
            v.render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(AppError::Conflict { .. }) => Ok(see_other(&format!("/filings/{id}?changed=1"))),
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

/// An edit as the service takes it: the form typed by the item's fields, and a field or a
/// promise left empty removed from the filing (`null`).
fn edit_patch(item: &Item, pairs: &[(String, String)]) -> (Map<String, Value>, Map<String, Value>) {
    let (mut form, mut promises) = form_json(item, pairs);
    for f in &item.def.fields {
        form.entry(f.code.clone()).or_insert(Value::Null);
    }
    for m in item
        .def
        .materials
        .iter()
        .filter(|m| m.requirement == Requirement::Tolerable)
    {
        promises.entry(m.code.clone()).or_insert(Value::Null);
    }
    (form, promises)
}

pub struct Fact {
    pub label: String,
    pub value: String,
}

pub struct MaterialLine {
    pub code: String,
    pub label: String,
    pub requirement: &'static str,
    pub types: String,
    /// Id, file name, size, whether it may be previewed in the browser.
    pub files: Vec<(Uuid, String, String, bool)>,
    pub may_upload: bool,
    pub promised: Option<String>,
}

pub struct ActionForm {
    pub code: String,
    pub label: String,
    pub reason: bool,
    pub opinion: bool,
    pub verdict: bool,
    pub notice_items: bool,
    pub objection: bool,
}

pub struct ClockLine {
    pub name: String,
    pub due: String,
    pub colour: &'static str,
    pub status: String,
    pub detail: String,
}

pub struct Moment {
    pub at: String,
    pub what: String,
}

#[derive(Template)]
#[template(path = "pages/filing.html", config = "config/askama.toml")]
struct FilingPageHtml {
    ui: Ui,
    id: Uuid,
    title: String,
    number: String,
    state: String,
    version: i32,
    message: Option<String>,
    problems: Vec<String>,
    notice: Vec<String>,
    clocks: Vec<ClockLine>,
    facts: Vec<Fact>,
    materials: Vec<MaterialLine>,
    actions: Vec<ActionForm>,
    may_edit: bool,
    timeline: Vec<Moment>,
    /// A manager may extend the statutory limit by up to this many days now.
    extend_up_to: Option<u32>,
    assignable: Vec<filings::Assignable>,
    /// The applicant may rate the closed filing (好差评), or has rated it.
    rating: Option<RatingBox>,
}

pub struct RatingBox {
    pub given: Option<i16>,
}

fn status_text(lang: Lang, s: crate::domain::legal_time::Status) -> (&'static str, String) {
    use crate::domain::legal_time::Status;
    match s {
        Status::Green => ("green", pick(lang, "正常", "on time")),
        Status::Yellow => ("yellow", pick(lang, "临近期限", "due soon")),
        Status::Red => ("red", pick(lang, "已超期", "overdue")),
    }
}

fn history_label(item: &Item, lang: Lang, action: &str) -> String {
    if let Some(a) = action.strip_prefix("action:") {
        return item
            .def
            .action(a)
            .map(|x| x.label.get(lang).to_owned())
            .unwrap_or_else(|| a.to_owned());
    }
    let (zh, en) = match action {
        "create" => ("创建申请", "Created"),
        "edit" => ("修改申请", "Edited"),
        "upload_material" => ("上传材料", "Uploaded a material"),
        "remove_material" => ("删除材料", "Removed a material"),
        "claim" => ("工作人员认领", "Claimed by staff"),
        "release" => ("释放认领", "Released"),
        "release_stale_claim" => ("认领超时释放", "Claim expired"),
        "assign" => ("分派", "Assigned"),
        "extend" => ("延长办理期限", "Limit extended"),
        other => (other, other),
    };
    pick(lang, zh, en)
}

fn build_page(
    v: &Viewer,
    offset: chrono::FixedOffset,
    data: filings::FilingPage,
    message: Option<String>,
    problems: Vec<String>,
) -> FilingPageHtml {
    let lang = v.lang;
    let filings::FilingPage {
        view,
        item,
        history,
        assignable,
    } = data;
    let item = &*item;
    let form = view.form.as_object().cloned().unwrap_or_default();
    let promises = view.promises.as_object().cloned().unwrap_or_default();
    let facts = item
        .def
        .fields
        .iter()
        .filter_map(|f| {
            let value = match (&f.ty, form.get(&f.code)) {
                (_, None) | (_, Some(Value::Null)) => return None,
                (FieldType::Boolean, Some(Value::Bool(b))) => pick(
                    lang,
                    if *b { "是" } else { "否" },
                    if *b { "yes" } else { "no" },
                ),
                (FieldType::Roster, Some(Value::Array(rows))) => pick(
                    lang,
                    &format!("{} 户", rows.len()),
                    &format!("{} units", rows.len()),
                ),
                (FieldType::Select { options }, Some(Value::String(s))) => options
                    .iter()
                    .find(|o| &o.value == s)
                    .map(|o| o.label.get(lang).to_owned())
                    .unwrap_or_else(|| s.clone()),
                (_, v) => value_text(v),
            };
            Some(Fact {
                label: f.label.get(lang).to_owned(),
                value,
            })
        })
        .collect();
    let materials = item
        .def
        .materials
        .iter()
        .map(|m| {
            let promised = promises
                .get(&m.code)
                .and_then(Value::as_str)
                .map(str::to_owned);
            MaterialLine {
                code: m.code.clone(),
                label: m.label.get(lang).to_owned(),
                requirement: v.ui().requirement(&m.requirement),
                types: format!("{} ≤ {} MB", m.file_types.join(", "), m.max_mb),
                files: view
                    .materials
                    .iter()
                    .filter(|f| f.material == m.code)
                    .map(|f| {
                        (
                            f.id,
                            f.file_name.clone(),
                            format!("{:.1} KB", f.size_bytes as f64 / 1024.0),
                            crate::web::files::previewable(&f.content_type),
                        )
                    })
                    .collect(),
                may_upload: view.may.upload.contains(&m.code),
                promised,
            }
        })
        .collect();
    let actions = view
        .actions
        .iter()
        .map(|a| ActionForm {
            code: a.code.clone(),
            label: a.label.get(lang).to_owned(),
            reason: a.inputs.contains(&Input::Reason),
            opinion: a.inputs.contains(&Input::Opinion),
            verdict: a.inputs.contains(&Input::Verdict),
            notice_items: a.inputs.contains(&Input::NoticeItems),
            objection: a.inputs.contains(&Input::Objection),
        })
        .collect();
    let mut clocks = Vec::new();
    let c = &view.clocks;
    let mut clock = |name: String, cv: &crate::domain::legal_time::ClockView| {
        if cv.started_on.is_none() {
            return;
        }
        let (colour, status) = status_text(lang, cv.status);
        clocks.push(ClockLine {
            name,
            due: cv
                .due_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
            colour,
            status,
            detail: pick(
                lang,
                &format!(
                    "已用 {} 个工作日，暂停 {}，剩余 {}{}",
                    cv.used,
                    cv.suspended,
                    cv.remaining,
                    if cv.provisional {
                        "（含未公布放假安排的年度，可能变化）"
                    } else {
                        ""
                    }
                ),
                &format!(
                    "{} working days used, {} suspended, {} left{}",
                    cv.used,
                    cv.suspended,
                    cv.remaining,
                    if cv.provisional { " (provisional)" } else { "" }
                ),
            ),
        });
    };
    clock(pick(lang, "法定时限", "Statutory limit"), &c.statutory);
    if let Some(pc) = &c.promised {
        clock(pick(lang, "承诺时限", "Promised limit"), pc);
    }
    if let Some(step) = &c.step {
        let (colour, status) = status_text(lang, step.status);
        clocks.push(ClockLine {
            name: pick(lang, "本环节时限", "This step's limit"),
            due: step.due_on.to_string(),
            colour,
            status,
            detail: String::new(),
        });
    }
    let notice = view
        .notice
        .as_ref()
        .and_then(|n| serde_json::from_value::<crate::domain::engine::Notice>(n.clone()).ok())
        .map(|n| {
            n.problems
                .iter()
                .map(|p| p.message.get(lang).to_owned())
                .chain(n.items.iter().cloned())
                .collect()
        })
        .unwrap_or_default();
    let timeline = history
        .iter()
        .rev()
        .map(|h| Moment {
            at: h
                .at
                .with_timezone(&offset)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            what: history_label(item, lang, &h.action),
        })
        .collect();
    let rating = view.may.rate.then_some(RatingBox { given: view.rating });
    FilingPageHtml {
        extend_up_to: view.may.extend_up_to,
        assignable,
        rating,
        ui: v.ui(),
        id: view.id,
        title: view.item_name.get(lang).to_owned(),
        number: view.number.clone().unwrap_or_else(|| {
            pick(
                lang,
                "（草稿，提交后编号）",
                "(draft: numbered on submission)",
            )
        }),
        state: view.state.label.get(lang).to_owned(),
        version: view.version,
        message,
        problems,
        notice,
        clocks,
        facts,
        materials,
        actions,
        may_edit: view.may.edit,
        timeline,
    }
}

/// The filing page again, fresh, with what went wrong.
async fn again(
    state: &AppState,
    v: &mut Viewer,
    id: Uuid,
    status: StatusCode,
    message: Option<String>,
    problems: Vec<String>,
) -> Result<HttpResponse, PageError> {
    let data = v
        .run(state, move |conn, ctx, p| filings::page(conn, ctx, p, id))
        .await?;
    let page = build_page(v, state.offset, data, message, problems);
    v.render(status, &page)
}

#[derive(serde::Deserialize)]
pub struct PageFlags {
    pub changed: Option<u8>,
}

/// The filing page.
#[get("/filings/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
    flags: Query<PageFlags>,
) -> Result<HttpResponse, PageError> {
    let message = v.query(flags)?.changed.map(|_| changed_message(v.lang));
    again(
        &state,
        &mut v,
        id.into_inner(),
        StatusCode::OK,
        message,
        Vec::new(),
    )
    .await
}

fn changed_message(lang: Lang) -> String {
    pick(
        lang,
        "办件已被他人处理或修改，以下是最新状态，请确认后再操作。",
        "Someone else acted on this filing first. This is its current state: check it before acting.",
    )
}

/// Take an action from the filing page.
#[post("/filings/{id}/actions/{action}")]
pub async fn act(
    state: web::Data<AppState>,
    mut v: Viewer,
    path: web::Path<(Uuid, String)>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.form(pairs)?;
    v.check_csrf(&csrf_of(&pairs))?;
    let (id, action) = path.into_inner();
    let get = |k: &str| form_value(&pairs, k);
    let version: i32 = get("version").and_then(|v| v.parse().ok()).unwrap_or(-1);
    let input = ActInput {
        reason: get("reason"),
        opinion: get("opinion"),
        verdict: get("verdict").and_then(|v| Verdict::ALL.into_iter().find(|x| x.as_str() == v)),
        notice_items: get("notice_items")
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        objection: get("objection"),
    };
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            filings::act(conn, ctx, p, id, &action, version, &input)
        })
        .await?;
    after_post(
        &state,
        &mut v,
        id,
        result,
        (
            "未能办理，请先处理以下问题：",
            "Not done: put these right first:",
        ),
        None,
    )
    .await
}

/// After a form posted from the filing's page: back to the filing when it worked (303); the
/// page again when it did not, saying why: the problems with the input under `refused` (422),
/// or, on a conflict (409), `conflict` or else that the filing changed meanwhile.
async fn after_post<T>(
    state: &AppState,
    v: &mut Viewer,
    id: Uuid,
    result: Result<T, AppError>,
    refused: (&str, &str),
    conflict: Option<(&str, &str)>,
) -> Result<HttpResponse, PageError> {
    let (status, message, problems) = match result {
        Ok(_) => return Ok(see_other(&format!("/filings/{id}"))),
        Err(AppError::Conflict { .. }) => (
            StatusCode::CONFLICT,
            conflict.map_or_else(|| changed_message(v.lang), |(zh, en)| pick(v.lang, zh, en)),
            Vec::new(),
        ),
        Err(AppError::Validation(problems)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            pick(v.lang, refused.0, refused.1),
            problems
                .iter()
                .map(|p| p.message.get(v.lang).to_owned())
                .collect(),
        ),
        Err(e) => return Err(PageError::from_app(v, e)),
    };
    again(state, v, id, status, Some(message), problems).await
}

/// Upload a file for a material from the filing page.
#[post("/filings/{id}/materials/{material}")]
pub async fn upload(
    state: web::Data<AppState>,
    mut v: Viewer,
    path: web::Path<(Uuid, String)>,
    q: Query<BTreeMap<String, String>>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, PageError> {
    // A multipart body is not read before the token is checked: the token travels in the URL.
    let q = v.query(q)?;
    v.check_csrf(q.get("_csrf").map(String::as_str).unwrap_or(""))?;
    let Some(session) = v.session.clone() else {
        return Ok(v.to_login());
    };
    let (id, material) = path.into_inner();
    let result = files::store(&state, session, id, material, &req, payload).await;
    let (status, problems) = match result {
        Ok(_) => return Ok(see_other(&format!("/filings/{id}#materials"))),
        Err(AppError::Unauthenticated) => return Ok(v.to_login()),
        Err(AppError::PayloadTooLarge(t)) | Err(AppError::UnsupportedMediaType(t)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![t.get(v.lang).to_owned()],
        ),
        Err(AppError::Validation(ps)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ps.iter()
                .map(|p| p.message.get(v.lang).to_owned())
                .collect(),
        ),
        Err(AppError::Conflict { .. }) => (StatusCode::CONFLICT, vec![changed_message(v.lang)]),
        Err(e) => return Err(PageError::from_app(&v, e)),
    };
    let msg = Some(pick(v.lang, "文件未能上传：", "The file was not uploaded:"));
    again(&state, &mut v, id, status, msg, problems).await
}

#[derive(Debug, serde::Deserialize)]
pub struct DownloadQuery {
    /// Show it in the browser (PDF and pictures) rather than download it.
    #[serde(default)]
    pub preview: Option<String>,
}

/// Download a material from the filing page, or preview it (PDF and pictures).
#[get("/filings/{id}/materials/{material_id}")]
pub async fn download(
    state: web::Data<AppState>,
    mut v: Viewer,
    path: web::Path<(Uuid, Uuid)>,
    q: Query<DownloadQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, PageError> {
    let preview = v.query(q)?.preview.is_some();
    let (id, material_id) = path.into_inner();
    let m = v
        .run(&state, move |conn, _, p| {
            filings::material_for_download(conn, p, id, material_id)
        })
        .await?;
    files::send(&state, m, &req, preview)
        .await
        .map_err(|e| PageError::from_app(&v, e))
}

/// A manager extends the statutory limit (行政许可法 §42), with written reasons.
#[post("/filings/{id}/extend")]
pub async fn extend(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.form(pairs)?;
    v.check_csrf(&csrf_of(&pairs))?;
    let id = id.into_inner();
    let get = |k: &str| form_value(&pairs, k).unwrap_or_default();
    let version: i32 = get("version").parse().unwrap_or(-1);
    let days: u32 = get("days").parse().unwrap_or(0);
    let reason = get("reason");
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            filings::extend(conn, ctx, p, id, version, days, &reason)
        })
        .await?;
    after_post(
        &state,
        &mut v,
        id,
        result,
        ("未延期：", "Not extended:"),
        None,
    )
    .await
}

/// The applicant rates a closed filing (好差评), once.
#[post("/filings/{id}/rating")]
pub async fn rate(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.form(pairs)?;
    v.check_csrf(&csrf_of(&pairs))?;
    let id = id.into_inner();
    let get = |k: &str| form_value(&pairs, k).unwrap_or_default();
    let score: i16 = get("score").parse().unwrap_or(0);
    let comment = Some(get("comment")).filter(|c| !c.is_empty());
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            filings::rate(conn, ctx, p, id, score, comment.as_deref())
        })
        .await?;
    after_post(
        &state,
        &mut v,
        id,
        result,
        ("评价未提交：", "Not rated:"),
        Some(("您已评价过此办件。", "You have rated this filing already.")),
    )
    .await
}
