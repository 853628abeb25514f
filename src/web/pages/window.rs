//! 窗口收件 (window filing, 代办): a clerk at the receiving office's window files for an
//! applicant who came in person. The clerk picks the item and names the applicant's account;
//! the draft it makes is the applicant's, and the filing page takes it on from there (the clerk
//! fills in the form, uploads and submits, as the applicant would; the submission records the
//! window channel).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde_json::Map;
use uuid::Uuid;

use super::{PageError, Ui, Viewer, form_value, see_other};
use crate::app::AppState;
use crate::domain::definition::Role;
use crate::error::AppError;
use crate::services::filings;

#[derive(Template)]
#[template(path = "pages/window.html", config = "config/askama.toml")]
struct WindowPage {
    ui: Ui,
    /// (code, name, selected)
    items: Vec<(String, String, bool)>,
    applicant: String,
    /// A new draft's idempotency key: the button pressed twice makes one draft.
    key: String,
    item_error: Option<String>,
    applicant_error: Option<String>,
    /// Problems that belong to neither field.
    others: Vec<String>,
}

impl WindowPage {
    fn new(v: &Viewer, state: &AppState, item: &str, applicant: String, key: String) -> Self {
        let mut items: Vec<(String, String, bool)> = state
            .items
            .all_latest()
            .iter()
            .map(|i| {
                (
                    i.def.code.clone(),
                    i.def.name.get(v.lang).to_owned(),
                    i.def.code == item,
                )
            })
            .collect();
        items.sort();
        WindowPage {
            ui: v.ui(),
            items,
            applicant,
            key,
            item_error: None,
            applicant_error: None,
            others: Vec::new(),
        }
    }
}

/// The window's form (clerks).
#[get("/window")]
pub async fn form(state: web::Data<AppState>, mut v: Viewer) -> Result<HttpResponse, PageError> {
    v.require(&state, Role::Clerk).await?;
    let page = WindowPage::new(&v, &state, "", String::new(), Uuid::new_v4().to_string());
    v.render(StatusCode::OK, &page)
}

/// File for the applicant: an empty draft of the item, theirs, then its page; problems come
/// back at their fields with what was typed kept.
#[post("/window")]
pub async fn file(
    state: web::Data<AppState>,
    mut v: Viewer,
    pairs: crate::web::extract::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.posted(pairs)?;
    let item = form_value(&pairs, "item").unwrap_or_default();
    let applicant = form_value(&pairs, "applicant")
        .map(|a| a.trim().to_owned())
        .unwrap_or_default();
    let key = form_value(&pairs, "_key")
        .filter(|k| filings::is_idempotency_key(k))
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let mut page = WindowPage::new(&v, &state, &item, applicant.clone(), key.clone());
    if item.is_empty() {
        page.item_error = Some(page.ui.t("请选择事项", "Choose the item").to_owned());
    }
    if applicant.is_empty() {
        page.applicant_error = Some(
            page.ui
                .t("请填写申请人的用户名", "Enter the applicant's username")
                .to_owned(),
        );
    }
    if page.item_error.is_some() || page.applicant_error.is_some() {
        return v.render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let (code, name) = (item.clone(), applicant.clone());
    let create = move |key: Option<String>| {
        let (code, name) = (code.clone(), name.clone());
        move |conn: &mut diesel::PgConnection,
              ctx: &crate::services::Ctx<'_>,
              p: &crate::services::auth::Principal| {
            filings::create(
                conn,
                ctx,
                p,
                &code,
                Map::new(),
                Map::new(),
                Some(&name),
                key.as_deref(),
            )
        }
    };
    let mut result = v.attempt(&state, create(Some(key))).await?;
    // The key already made a draft for another applicant or item (the browser's Back, a
    // change, and File again): a new draft is wanted.
    if matches!(&result, Err(AppError::Validation(ps)) if ps.iter().any(|p| p.code == "key_reused"))
    {
        result = v.attempt(&state, create(None)).await?;
    }
    match result {
        Ok(filings::Created::New(view) | filings::Created::Replayed(view)) => {
            Ok(see_other(&format!("/filings/{}", view.id)))
        }
        Err(AppError::Validation(problems)) => {
            let lang = v.lang;
            for p in &problems {
                let message = p.message.get(lang).to_owned();
                match p.path.as_str() {
                    "item" => page.item_error = Some(message),
                    "on_behalf_of" => page.applicant_error = Some(message),
                    _ => page.others.push(message),
                }
            }
            page.ui = v.ui();
            v.render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}
