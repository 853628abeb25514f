//! The application form, built from the item definition: a new draft, and the edit of one
//! (or of a filing sent back for supplement). Problems are shown next to their fields, with
//! what was typed kept.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::app::AppState;
use crate::domain::Problem;
use crate::domain::definition::{Field, FieldType, Lang, Requirement, Role};
use crate::error::AppError;
use crate::services::auth::Principal;
use crate::services::filings;
use crate::services::items::Item;
use crate::web::extract::Form;
use crate::web::pages::{PageError, Ui, Viewer, form_value, see_other};

use super::{pick, roster, table_text, value_text};

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
    /// A table's problems, one per bad cell or row, each naming its row and column (shown as a
    /// list under the table; `error` holds them joined, for the textarea's state).
    pub problems: Vec<String>,
    /// A table's editor: its columns, the problems at their cells and the vote's thresholds,
    /// as JSON for the script that turns the textarea into a table (see [`super::roster`]).
    pub editor: Option<String>,
    /// Where a table's rows are imported from a spreadsheet file (the form posted whole).
    pub import: Option<String>,
}

pub struct PromiseInput {
    pub code: String,
    pub label: String,
    pub value: String,
    pub error: Option<String>,
}

/// Controls for every field of an item, filled from `form`, with the problems at their fields;
/// the form posts to `action` (a table's rows are imported at `{action}/import/{field}`).
pub(super) fn field_inputs(
    item: &Item,
    lang: Lang,
    form: &Map<String, Value>,
    problems: &[Problem],
    action: &str,
) -> Vec<FieldInput> {
    item.def
        .fields
        .iter()
        .map(|f| {
            let path = format!("form.{}", f.code);
            let mine: Vec<&Problem> = problems
                .iter()
                .filter(|p| p.path == path || p.path.starts_with(&format!("{path}[")))
                .collect();
            let error = mine
                .iter()
                .map(|p| p.message.get(lang).to_owned())
                .collect::<Vec<_>>();
            let (control, inputmode) = match &f.ty {
                FieldType::Date => ("date", "text"),
                FieldType::Select { .. } => ("select", "text"),
                FieldType::Boolean => ("checkbox", "text"),
                FieldType::Table { .. } => ("textarea", "text"),
                FieldType::Email => ("email", "email"),
                FieldType::Phone => ("tel", "tel"),
                FieldType::Integer { .. } => ("text", "numeric"),
                FieldType::Amount { .. } | FieldType::Area { .. } => ("text", "decimal"),
                _ => ("text", "text"),
            };
            let value = match (&f.ty, form.get(&f.code)) {
                (FieldType::Table { columns, .. }, Some(v)) => table_text(columns, v, lang),
                (_, v) => value_text(v),
            };
            let options = match &f.ty {
                FieldType::Select { options } => options
                    .iter()
                    .map(|o| {
                        (
                            o.value.clone(),
                            o.label.get(lang).to_owned(),
                            o.value == value,
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let help = match (&f.ty, &f.help) {
                (FieldType::Table { columns, .. }, h) => Some(
                    h.iter()
                        .map(|h| h.get(lang).to_owned())
                        .chain([table_help(columns, lang)])
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                (_, h) => h.as_ref().map(|h| h.get(lang).to_owned()),
            };
            let is_table = matches!(f.ty, FieldType::Table { .. });
            FieldInput {
                problems: if is_table { error.clone() } else { Vec::new() },
                editor: is_table.then(|| roster::editor(&item.def, f, lang, &mine)),
                import: is_table.then(|| format!("{action}/import/{}", f.code)),
                code: f.code.clone(),
                label: f.label.get(lang).to_owned(),
                help,
                control,
                inputmode,
                checked: form.get(&f.code).and_then(Value::as_bool).unwrap_or(false),
                value,
                required: f.is_required(form),
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
pub(super) fn form_json(
    item: &Item,
    pairs: &[(String, String)],
) -> (Map<String, Value>, Map<String, Value>) {
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
            (FieldType::Table { columns, .. }, Some(r)) => Some(table_rows(columns, &r)),
            // 2026/12/04 and 2026年12月4日 as 2026-12-04; anything else as typed, for the
            // validation to name.
            (FieldType::Date, Some(r)) => {
                Some(Value::String(crate::domain::calendar::typed_date_text(&r)))
            }
            (_, Some(r)) => Some(Value::String(r)),
        };
        if let Some(v) = value {
            form.insert(f.code.clone(), v);
        }
    }
    let mut promises = Map::new();
    for m in &item.def.materials {
        if let Some(d) = get(&format!("promise.{}", m.code)).filter(|d| !d.is_empty()) {
            promises.insert(
                m.code.clone(),
                Value::String(crate::domain::calendar::typed_date_text(&d)),
            );
        }
    }
    (form, promises)
}

/// What a table's textarea takes: the columns in order, with the choices of selects and
/// booleans.
fn table_help(columns: &[Field], lang: Lang) -> String {
    let described: Vec<String> = columns
        .iter()
        .map(|c| {
            let label = c.label.get(lang);
            let choices = match &c.ty {
                FieldType::Select { options } => options
                    .iter()
                    .map(|o| o.label.get(lang))
                    .collect::<Vec<_>>()
                    .join("/"),
                FieldType::Boolean => pick(lang, "是/否", "yes/no"),
                _ => return label.to_owned(),
            };
            match lang {
                Lang::Zh => format!("{label}（{choices}）"),
                Lang::En => format!("{label} ({choices})"),
            }
        })
        .collect();
    match lang {
        Lang::Zh => format!(
            "每行一条，依次填写：{}；各栏以逗号或制表符分隔（可从表格软件直接复制粘贴）。",
            described.join("、")
        ),
        Lang::En => format!(
            "One row per line, in this order: {}; cells separated by commas or tabs (rows may be \
             pasted from a spreadsheet).",
            described.join(", ")
        ),
    }
}

/// A table's textarea as rows: one per non-blank line, cells split at tabs when the line has
/// any (a row pasted from a spreadsheet) and otherwise at commas, matched to the columns in
/// order. A select takes its value or its label in either language, a boolean 是/否 or
/// yes/no (empty: no). What cannot be read is passed on as typed, so that the validation names
/// it at its cell; a line with more cells than columns is passed on whole, and is told what
/// its row should hold.
fn table_rows(columns: &[Field], text: &str) -> Value {
    let rows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = if line.contains('\t') {
                line.split('\t').collect()
            } else {
                line.split([',', '，']).collect()
            };
            table_row(columns, &cells, line)
        })
        .collect();
    Value::Array(rows)
}

/// One row of a table from its cells in column order, typed or read from a file: each cell read
/// as [`table_rows`] says; a row with more (non-empty) cells than columns is passed on whole as
/// `line`, and is told what its row should hold.
pub(super) fn table_row(columns: &[Field], cells: &[&str], line: &str) -> Value {
    let mut cells: Vec<&str> = cells.iter().map(|c| c.trim()).collect();
    while cells.len() > columns.len() && cells.last().is_some_and(|c| c.is_empty()) {
        cells.pop();
    }
    if cells.len() > columns.len() {
        return Value::String(line.trim().to_owned());
    }
    let mut row = Map::new();
    for (i, c) in columns.iter().enumerate() {
        let raw = cells.get(i).copied().unwrap_or("");
        if let Some(v) = cell_value(c, raw) {
            row.insert(c.code.clone(), v);
        }
    }
    Value::Object(row)
}

/// What a yes/no cell takes for yes and for no (compared in lower case; empty is no). The
/// table editor is given the same words.
pub(super) const YES: [&str; 9] = ["是", "yes", "y", "true", "1", "已签", "已签字", "√", "✓"];
pub(super) const NO: [&str; 7] = ["否", "no", "n", "false", "0", "未签", "未签字"];

fn cell_value(column: &Field, raw: &str) -> Option<Value> {
    let text = || Value::String(raw.to_owned());
    match &column.ty {
        FieldType::Boolean => {
            let lower = raw.to_lowercase();
            Some(if lower.is_empty() || NO.contains(&lower.as_str()) {
                Value::Bool(false)
            } else if YES.contains(&lower.as_str()) {
                Value::Bool(true)
            } else {
                text()
            })
        }
        _ if raw.is_empty() => None,
        FieldType::Select { options } => Some(
            options
                .iter()
                .find(|o| {
                    o.value == raw || o.label.zh == raw || o.label.en.eq_ignore_ascii_case(raw)
                })
                .map_or_else(text, |o| Value::String(o.value.clone())),
        ),
        FieldType::Integer { .. } => Some(raw.parse::<i64>().map_or_else(|_| text(), Value::from)),
        _ => Some(text()),
    }
}

#[derive(Template)]
#[template(path = "pages/filing_form.html", config = "config/askama.toml")]
pub(super) struct FormPage {
    pub ui: Ui,
    pub has_errors: bool,
    pub title: String,
    pub action: String,
    pub version: Option<i32>,
    /// A new draft's idempotency key (see `create`).
    pub key: Option<String>,
    pub fields: Vec<FieldInput>,
    pub promises: Vec<PromiseInput>,
    pub others: Vec<String>,
    /// What was done without saving (rows imported from a file).
    pub notice: Option<String>,
    /// The form has a table whose rows may be imported from a file.
    pub imports: bool,
}

impl FormPage {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn build(
        v: &Viewer,
        item: &Item,
        action: String,
        version: Option<i32>,
        key: Option<String>,
        form: &Map<String, Value>,
        promises: &Map<String, Value>,
        problems: &[Problem],
    ) -> FormPage {
        let fields = field_inputs(item, v.lang, form, problems, &action);
        FormPage {
            title: item.def.name.get(v.lang).to_owned(),
            imports: fields.iter().any(|f| f.import.is_some()),
            action,
            version,
            key,
            fields,
            promises: promise_inputs(item, v.lang, promises, problems),
            others: other_problems(problems, v.lang),
            has_errors: !problems.is_empty(),
            notice: None,
            ui: v.ui(),
        }
    }
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
    let page = FormPage::build(
        &v,
        &item,
        format!("/filings/new/{}", item.def.code),
        None,
        Some(Uuid::new_v4().to_string()),
        &Map::new(),
        &Map::new(),
        &[],
    );
    v.render(StatusCode::OK, &page)
}

/// Problems that belong to no field of the form.
pub(super) fn other_problems(problems: &[Problem], lang: Lang) -> Vec<String> {
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
    let pairs = v.posted(pairs)?;
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
            filings::create(conn, ctx, p, &code, form, promises, None, key.as_deref())
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
            let page = FormPage::build(
                &v,
                &item,
                format!("/filings/new/{}", item.def.code),
                None,
                sent_key,
                &form,
                &promises,
                &problems,
            );
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
    let page = FormPage::build(
        &v,
        &item,
        format!("/filings/{id}/edit"),
        Some(view.version),
        None,
        &form,
        &promises,
        &[],
    );
    v.render(StatusCode::OK, &page)
}

#[post("/filings/{id}/edit")]
pub async fn edit(
    state: web::Data<AppState>,
    mut v: Viewer,
    id: web::Path<Uuid>,
    pairs: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    let pairs = v.posted(pairs)?;
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
            let page = FormPage::build(
                &v,
                &item,
                format!("/filings/{id}/edit"),
                Some(version),
                None,
                &form,
                &promises,
                &problems,
            );
            v.render(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(AppError::Conflict { .. }) => Ok(see_other(&format!("/filings/{id}?changed=1"))),
        Err(e) => Err(PageError::from_app(&v, e)),
    }
}

/// An edit as the service takes it: the form typed by the item's fields, and a field or a
/// promise left empty removed from the filing (`null`).
pub(super) fn edit_patch(
    item: &Item,
    pairs: &[(String, String)],
) -> (Map<String, Value>, Map<String, Value>) {
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
