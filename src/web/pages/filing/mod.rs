//! A filing's pages: the new-filing and edit forms ([`form`]), the filing page ([`page`]) and
//! the forms posted from it.
//!
//! Every form posts the version it was rendered from: if someone acted first, the page comes
//! back with the fresh state and says so. Problems are shown next to their fields.

mod form;
mod page;
mod roster;
mod story;

use std::collections::BTreeMap;

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde_json::Value;
use uuid::Uuid;

use super::{PageError, Viewer, form_value, see_other};
use crate::app::AppState;
use crate::domain::definition::{Field, FieldType, Lang};
use crate::domain::engine::Verdict;
use crate::error::AppError;
use crate::services::filings::{self, ActInput};
use crate::web::extract::{Form, Query};
use crate::web::files;

pub use form::{create, edit, edit_form, new_form};
pub use roster::{import_edit, import_new};

pub(super) fn pick(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// A cell as shown and typed: a select's label in the viewer's language, 是/否 (yes/no), the
/// text or number as it is.
fn cell_text(column: &Field, v: Option<&Value>, lang: Lang) -> String {
    match (&column.ty, v) {
        (_, None | Some(Value::Null)) => String::new(),
        (FieldType::Select { options }, Some(Value::String(s))) => options
            .iter()
            .find(|o| &o.value == s)
            .map_or_else(|| s.clone(), |o| o.label.get(lang).to_owned()),
        (_, Some(Value::Bool(b))) => match (b, lang) {
            (true, Lang::Zh) => "是".into(),
            (false, Lang::Zh) => "否".into(),
            (true, Lang::En) => "yes".into(),
            (false, Lang::En) => "no".into(),
        },
        (_, v) => value_text(v),
    }
}

/// The cells of a table's rows, in column order (a row that is not a record as it was sent).
fn table_cells(columns: &[Field], v: &Value, lang: Lang) -> Vec<Vec<String>> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|row| match row {
            Value::Object(cells) => columns
                .iter()
                .map(|c| cell_text(c, cells.get(&c.code), lang))
                .collect(),
            other => vec![value_text(Some(other))],
        })
        .collect()
}

/// A table as typed in its textarea: one row per line, the cells in column order separated by
/// commas, or by tabs where a cell holds a comma, so that it reads back the same
/// ([`form`] parses it).
fn table_text(columns: &[Field], v: &Value, lang: Lang) -> String {
    table_cells(columns, v, lang)
        .iter()
        .map(|cells| {
            if cells.iter().any(|c| c.contains([',', '，'])) {
                cells.join("\t")
            } else {
                cells.join(", ")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The filing page again, fresh, with what was done or went wrong.
async fn again(
    state: &AppState,
    v: &mut Viewer,
    id: Uuid,
    status: StatusCode,
    feedback: page::Feedback,
) -> Result<HttpResponse, PageError> {
    let data = v
        .run(state, move |conn, ctx, p| filings::page(conn, ctx, p, id))
        .await?;
    let page = page::build_page(v, state.offset, data, feedback);
    v.render(status, &page)
}

#[derive(serde::Deserialize)]
pub struct PageFlags {
    pub changed: Option<u8>,
    /// What was just done: an action's code, `extend`, `rating`, `upload` or `remove`.
    pub done: Option<String>,
    /// The material just uploaded or removed.
    pub material: Option<String>,
}

/// The filing page.
#[get("/filings/{id}")]
pub async fn show(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
    flags: Query<PageFlags>,
) -> Result<HttpResponse, PageError> {
    let flags = v.query(flags)?;
    let id = id.into_inner();
    let data = v
        .run(&state, move |conn, ctx, p| filings::page(conn, ctx, p, id))
        .await?;
    let feedback = page::Feedback {
        message: flags.changed.map(|_| changed_message(v.lang)),
        done: done_message(
            v.lang,
            &data,
            flags.done.as_deref(),
            flags.material.as_deref(),
        ),
        ..Default::default()
    };
    let page = page::build_page(&v, state.offset, data, feedback);
    v.render(StatusCode::OK, &page)
}

/// The success notice after a form: what was done, in words (nothing for a code the filing's
/// item does not know: the link was made up).
fn done_message(
    lang: Lang,
    data: &filings::FilingPage,
    done: Option<&str>,
    material: Option<&str>,
) -> Option<String> {
    let def = &data.item.def;
    let material_label = || {
        material
            .and_then(|m| def.materials.iter().find(|x| x.code == m))
            .map(|m| m.label.get(lang).to_owned())
    };
    Some(match done? {
        "extend" => pick(
            lang,
            "已延长办理期限，并书面告知申请人。",
            "The limit was extended; the applicant is told in writing.",
        ),
        "rating" => pick(lang, "感谢您的评价。", "Thank you for your rating."),
        "upload" => {
            let m = material_label()?;
            pick(
                lang,
                &format!("已上传「{m}」。"),
                &format!("Uploaded: {m}."),
            )
        }
        "remove" => {
            let m = material_label()?;
            pick(
                lang,
                &format!("已删除「{m}」的文件，可重新上传。"),
                &format!("The file of {m} was removed; you may upload another."),
            )
        }
        "submit" => match &data.view.number {
            Some(n) => pick(
                lang,
                &format!(
                    "申请已提交，办件编号 {n}。请留意受理结果，也可随时在「我的办件」中查看。"
                ),
                &format!(
                    "Submitted: your filing number is {n}. Watch for the decision on acceptance; the filing stays under My filings."
                ),
            ),
            None => pick(lang, "申请已提交。", "Submitted."),
        },
        code => {
            let a = def.action(code)?;
            pick(
                lang,
                &format!("已办理：{}。", a.label.get(lang)),
                &format!("Done: {}.", a.label.get(lang)),
            )
        }
    })
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
    let pairs = v.posted(pairs)?;
    let (id, action) = path.into_inner();
    let get = |k: &str| form_value(&pairs, k);
    let typed: std::collections::HashMap<String, String> =
        ["reason", "opinion", "notice_items", "objection"]
            .into_iter()
            .filter_map(|k| get(k).map(|t| (k.to_owned(), t)))
            .collect();
    let version: i32 = get("version").and_then(|v| v.parse().ok()).unwrap_or(-1);
    let confirmed = get("confirm").is_some_and(|c| c == "1");
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
        // Fields the action sets, as typed; a text left as it was is sent as it was.
        fields: pairs
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("set.")
                    .map(|code| (code.to_owned(), Value::String(v.trim().to_owned())))
            })
            .filter(|(_, v)| v.as_str().is_some_and(|s| !s.is_empty()))
            .collect(),
        // The pages are the online channel (staff acting here are at the window).
        channel: None,
    };
    let code = action.clone();
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            // An action that ends the filing without a grant is confirmed on the page first
            // (the API's callers confirm in their own way).
            if !confirmed {
                let row = filings::find_visible(conn, p, id)?;
                let item = ctx.items.by_id(conn, row.item_version_id)?;
                if page::tone(&item, &action) == "danger" {
                    return Err(AppError::Validation(vec![crate::domain::Problem::new(
                        "confirm",
                        "required",
                        "请勾选确认后再提交：此操作办结本件，不能撤销。",
                        "Tick the box to confirm: this ends the filing and cannot be undone.",
                    )]));
                }
            }
            filings::act(conn, ctx, p, id, &action, version, &input)
        })
        .await?;
    let (status, message, problems) = match result {
        Ok(_) => return Ok(see_other(&format!("/filings/{id}?done={code}"))),
        Err(AppError::Validation(problems)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            pick(
                v.lang,
                "未能办理，请先处理以下问题：",
                "Not done: put these right first:",
            ),
            problems
                .iter()
                .map(|p| p.message.get(v.lang).to_owned())
                .collect(),
        ),
        other => return after_post(&state, &mut v, id, other, ("", ""), None, "").await,
    };
    let feedback = page::Feedback {
        action: Some((code.clone(), message, problems, typed)),
        ..Default::default()
    };
    again(&state, &mut v, id, status, feedback).await
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
    done: &str,
) -> Result<HttpResponse, PageError> {
    let (status, message, problems) = match result {
        Ok(_) if done.is_empty() => return Ok(see_other(&format!("/filings/{id}"))),
        Ok(_) => return Ok(see_other(&format!("/filings/{id}?done={done}"))),
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
    let feedback = page::Feedback {
        message: Some(message),
        problems,
        ..Default::default()
    };
    again(state, v, id, status, feedback).await
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
    let code = material.clone();
    let result = files::store(&state, session, id, material, &req, payload).await;
    let (status, problems) = match result {
        Ok(_) => {
            return Ok(see_other(&format!(
                "/filings/{id}?done=upload&material={code}#material-{code}"
            )));
        }
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
    let feedback = page::Feedback {
        upload: Some((code, problems)),
        ..Default::default()
    };
    again(&state, &mut v, id, status, feedback).await
}

/// Remove a file before submitting (to upload another in its place).
#[post("/filings/{id}/materials/{material_id}/remove")]
pub async fn remove(
    state: web::Data<AppState>,
    mut v: Viewer,
    path: web::Path<(Uuid, Uuid)>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let _ = v.posted(pairs)?;
    let (id, material_id) = path.into_inner();
    let result = v
        .attempt(&state, move |conn, ctx, p| {
            let code = filings::material_for_download(conn, p, id, material_id)?.material;
            filings::remove_material(conn, ctx, p, id, material_id).map(|_| code)
        })
        .await?;
    match result {
        Ok(code) => Ok(see_other(&format!(
            "/filings/{id}?done=remove&material={code}#material-{code}"
        ))),
        other => {
            after_post(
                &state,
                &mut v,
                id,
                other,
                ("文件未能删除：", "The file was not removed:"),
                None,
                "",
            )
            .await
        }
    }
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

#[derive(serde::Deserialize)]
pub struct DocumentQuery {
    pub download: Option<u8>,
}

/// A document's sealed PDF: shown in the browser to read and print, or (`?download=1`) saved.
#[get("/filings/{id}/documents/{document}")]
pub async fn document(
    state: web::Data<AppState>,
    mut v: Viewer,
    path: web::Path<(Uuid, Uuid)>,
    q: Query<DocumentQuery>,
) -> Result<HttpResponse, PageError> {
    let save = v.query(q)?.download.is_some();
    let (id, doc) = path.into_inner();
    let (bytes, meta) = v
        .run(&state, move |conn, ctx, p| {
            crate::services::documents::file(conn, ctx, p, id, doc)
        })
        .await?;
    Ok(crate::web::api::documents::pdf_response(bytes, &meta, save))
}

/// A manager extends the statutory limit (行政许可法 §42), with written reasons.
#[post("/filings/{id}/extend")]
pub async fn extend(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.posted(pairs)?;
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
        "extend",
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
    let pairs = v.posted(pairs)?;
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
        "rating",
    )
    .await
}
