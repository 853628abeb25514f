//! The filing's page: its clocks, notice, facts, materials (upload and download), the actions
//! allowed now (each asking for what it needs), a manager's extension and assignment, the
//! rating, and the timeline.

use askama::Template;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::definition::{FieldType, Input, Lang};
use crate::domain::engine::Verdict;
use crate::domain::forms;
use crate::domain::legal_time::Standing;
use crate::services::filings;
use crate::services::items::Item;
use crate::web::pages::{Ui, Viewer};

use super::story::{self, Moment, Outlook, ProgressStep};
use super::{pick, table_cells, value_text};

pub struct Fact {
    pub code: String,
    pub label: String,
    pub value: String,
    /// A table field, shown as a table under its column headers.
    pub table: Option<FactTable>,
}

pub struct FactTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The owners' vote counted from it, where a guard of the item counts it.
    pub count: Option<super::roster::CountView>,
}

impl FactTable {
    /// The header of column `i`, for a cell's label on a phone.
    pub fn header(&self, i: &usize) -> &str {
        self.headers.get(*i).map_or("", String::as_str)
    }
}

pub struct MaterialLine {
    pub code: String,
    pub label: String,
    pub requirement: String,
    pub types: String,
    /// Id, file name, size, whether it may be previewed in the browser.
    pub files: Vec<(Uuid, String, String, bool)>,
    pub may_upload: bool,
    /// The applicant may remove a file before submitting (and upload another in its place).
    pub may_remove: bool,
    pub promised: Option<String>,
    /// Promised (容缺) and never supplied by the time the filing closed.
    pub never_supplied: bool,
    /// Why the last upload for this material failed.
    pub error: Vec<String>,
}

pub struct ActionForm {
    pub code: String,
    pub label: String,
    pub reason: bool,
    /// Reasons asked for with a verdict: required when it is refuse.
    pub refusal_reason: bool,
    pub opinion: bool,
    pub verdict: bool,
    pub notice_items: bool,
    pub objection: bool,
    /// Fields of the form the action may change, with their current values.
    pub sets: Vec<SetInput>,
    /// primary (it grants), danger (it ends the filing without a grant), or plain.
    pub tone: &'static str,
    /// A danger action asks to be confirmed: what the box says.
    pub confirm: Option<String>,
    /// Why it was not done, when it was just tried: the message and each problem.
    pub error: Option<(String, Vec<String>)>,
    /// A grant waits for these (容缺 materials promised and not yet supplied): said beside the
    /// action before it is tried, as the engine will refuse it.
    pub waiting_for: Vec<String>,
    /// What was typed when it was tried (reason, opinion, notice_items, objection).
    pub typed: std::collections::HashMap<String, String>,
}

impl ActionForm {
    pub fn typed(&self, name: &str) -> &str {
        self.typed.get(name).map_or("", String::as_str)
    }
}

/// A field an action may change: a select with its options, or a text box.
pub struct SetInput {
    pub code: String,
    pub label: String,
    pub value: String,
    /// (value, label) of a select's options; empty for a text box.
    pub options: Vec<(String, String)>,
}

/// A department's answer in a joint review, or its place while it has not answered.
pub struct ReviewLine {
    pub department: String,
    /// 同意 / 不同意 / 待审查
    pub verdict: String,
    /// approve, refuse, pending (for the badge).
    pub mark: &'static str,
    pub opinion: String,
    pub reason: String,
    pub at: String,
}

pub struct ClockLine {
    pub name: String,
    pub due: String,
    pub colour: &'static str,
    pub status: String,
    pub detail: String,
}

/// An action tried and refused: its code, why, each problem, and what was typed.
pub type Refused = (
    String,
    String,
    Vec<String>,
    std::collections::HashMap<String, String>,
);

/// What the page says about the form just posted: done, or not done and why, where.
#[derive(Default)]
pub struct Feedback {
    /// Said at the top: the filing changed meanwhile, a form not tied to one place.
    pub message: Option<String>,
    pub problems: Vec<String>,
    /// What was just done (shown as a success notice).
    pub done: Option<String>,
    /// The action that was tried and refused: its code, why, each problem, what was typed.
    pub action: Option<Refused>,
    /// The material whose upload failed, and why.
    pub upload: Option<(String, Vec<String>)>,
}

#[derive(Template)]
#[template(path = "pages/filing.html", config = "config/askama.toml")]
pub(super) struct FilingPageHtml {
    ui: Ui,
    id: Uuid,
    title: String,
    /// What names the filing: its project, estate and building.
    project: String,
    progress: Vec<ProgressStep>,
    outlook: Outlook,
    done: Option<String>,
    /// The applicant's turn: the actions come after the materials and the application.
    actions_last: bool,
    /// Some material may be uploaded now (the upload column is shown).
    any_upload: bool,
    number: String,
    state: String,
    /// Filed at the window (窗口收件 / 代办): by whom.
    filed_by: Option<String>,
    version: i32,
    message: Option<String>,
    problems: Vec<String>,
    notice: Vec<String>,
    /// The item's flags that hold (a late filing).
    flags: Vec<String>,
    clocks: Vec<ClockLine>,
    reviews: Vec<ReviewLine>,
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
    /// The documents issued on the filing, to open, download and print.
    documents: Vec<DocumentLine>,
}

pub struct DocumentLine {
    pub href: String,
    pub title: String,
    pub version: i32,
    pub issued: String,
    pub identifier: Option<String>,
    pub superseded: bool,
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

/// The tone of an action by where it leads: granting is primary; refusing, not accepting and
/// withdrawing end the filing without a grant and are asked to be confirmed.
pub(super) fn tone(item: &Item, action: &str) -> &'static str {
    use crate::domain::definition::StateKind;
    let kind = item
        .def
        .action(action)
        .and_then(|a| a.to.as_deref())
        .and_then(|to| item.def.state(to))
        .map(|s| s.kind);
    match kind {
        Some(StateKind::Approved) => "primary",
        Some(StateKind::Refused | StateKind::NotAccepted | StateKind::Withdrawn) => "danger",
        _ => "",
    }
}

pub(super) fn build_page(
    v: &Viewer,
    offset: chrono::FixedOffset,
    data: filings::FilingPage,
    feedback: Feedback,
) -> FilingPageHtml {
    let lang = v.lang;
    let filings::FilingPage {
        view,
        item,
        history,
        assignable,
        documents,
        actors,
        departments,
        tallies,
    } = data;
    let item = &*item;
    let Feedback {
        message,
        problems,
        done,
        action: failed,
        upload: upload_failed,
    } = feedback;
    let told = story::Context {
        lang,
        offset,
        item,
        view: &view,
        history: &history,
        actors: &actors,
        departments: &departments,
        documents: &documents,
    };
    let progress = story::progress(&told);
    let outlook = story::outlook(&told);
    let timeline = story::timeline(&told);
    let closed = view.closed_at.is_some();
    let form = view.form.as_object().cloned().unwrap_or_default();
    let promises = view.promises.as_object().cloned().unwrap_or_default();
    let facts = item
        .def
        .fields
        .iter()
        .filter_map(|f| {
            let mut table = None;
            let value = match (&f.ty, form.get(&f.code)) {
                (_, None) | (_, Some(Value::Null)) => return None,
                (FieldType::Boolean, Some(Value::Bool(b))) => pick(
                    lang,
                    if *b { "是" } else { "否" },
                    if *b { "yes" } else { "no" },
                ),
                (FieldType::Table { columns, .. }, Some(v @ Value::Array(rows))) => {
                    table = Some(FactTable {
                        headers: columns
                            .iter()
                            .map(|c| c.label.get(lang).to_owned())
                            .collect(),
                        rows: table_cells(columns, v, lang),
                        count: tallies
                            .iter()
                            .find(|(code, _)| *code == f.code)
                            .map(|(_, t)| super::roster::count_view(&item.def, f, t, lang)),
                    });
                    pick(
                        lang,
                        &format!("共 {} 行", rows.len()),
                        &format!("{} rows", rows.len()),
                    )
                }
                (FieldType::Select { options }, Some(Value::String(s))) => options
                    .iter()
                    .find(|o| &o.value == s)
                    .map(|o| o.label.get(lang).to_owned())
                    .unwrap_or_else(|| s.clone()),
                (FieldType::Amount { .. }, Some(v)) => {
                    forms::field_amount_text(f, &value_text(Some(v)), lang)
                }
                (_, v) => value_text(v),
            };
            Some(Fact {
                code: f.code.clone(),
                label: f.label.get(lang).to_owned(),
                value,
                table,
            })
        })
        .collect();
    let materials: Vec<MaterialLine> = item
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
                requirement: match &m.required_when {
                    Some(c) => {
                        let when = crate::web::pages::condition_text(&item.def, c, lang);
                        let r = v.ui().requirement(&m.requirement);
                        match lang {
                            Lang::Zh => format!("{r}（{when}）"),
                            Lang::En => format!("{r} ({when})"),
                        }
                    }
                    None => v.ui().requirement(&m.requirement).to_owned(),
                },
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
                may_remove: view.may.edit,
                never_supplied: closed
                    && promised.is_some()
                    && !view.materials.iter().any(|f| f.material == m.code),
                promised,
                error: upload_failed
                    .as_ref()
                    .filter(|(code, _)| *code == m.code)
                    .map(|(_, ps)| ps.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    // 容缺: the materials a grant waits for (engine::promised_not_supplied refuses it).
    let unsupplied: Vec<String> = materials
        .iter()
        .filter(|m| m.files.is_empty())
        .filter_map(|m| {
            m.promised.as_ref().map(|d| {
                pick(
                    lang,
                    &format!("「{}」（承诺 {d} 前补交）", m.label),
                    &format!("\"{}\" (promised by {d})", m.label),
                )
            })
        })
        .collect();
    let mut actions: Vec<ActionForm> = view
        .actions
        .iter()
        .map(|a| ActionForm {
            waiting_for: if tone(item, &a.code) == "primary" {
                unsupplied.clone()
            } else {
                Vec::new()
            },
            tone: tone(item, &a.code),
            confirm: (tone(item, &a.code) == "danger").then(|| {
                pick(
                    lang,
                    &format!(
                        "我已确认「{}」：办件将就此办结，不能撤销",
                        a.label.get(lang)
                    ),
                    &format!(
                        "I confirm \"{}\": the filing ends here and this cannot be undone",
                        a.label.get(lang)
                    ),
                )
            }),
            error: failed
                .as_ref()
                .filter(|f| f.0 == a.code)
                .map(|f| (f.1.clone(), f.2.clone())),
            typed: failed
                .as_ref()
                .filter(|f| f.0 == a.code)
                .map(|f| f.3.clone())
                .unwrap_or_default(),
            code: a.code.clone(),
            label: a.label.get(lang).to_owned(),
            reason: a.inputs.contains(&Input::Reason),
            refusal_reason: a.inputs.contains(&Input::RefusalReason),
            opinion: a.inputs.contains(&Input::Opinion),
            verdict: a.inputs.contains(&Input::Verdict),
            notice_items: a.inputs.contains(&Input::NoticeItems),
            objection: a.inputs.contains(&Input::Objection),
            sets: a
                .sets
                .iter()
                .filter_map(|code| item.def.field(code))
                .map(|f| SetInput {
                    code: f.code.clone(),
                    label: f.label.get(lang).to_owned(),
                    value: super::value_text(view.form.get(&f.code)),
                    options: match &f.ty {
                        crate::domain::definition::FieldType::Select { options } => options
                            .iter()
                            .map(|o| (o.value.clone(), o.label.get(lang).to_owned()))
                            .collect(),
                        _ => Vec::new(),
                    },
                })
                .collect(),
        })
        .collect();
    // Granting first, ending without a grant last.
    actions.sort_by_key(|a| match a.tone {
        "primary" => 0,
        "danger" => 2,
        _ => 1,
    });
    let reviews = view
        .reviews
        .iter()
        .map(|r| {
            let (verdict, mark) = match r.verdict {
                Some(Verdict::Approve) => (pick(lang, "同意", "Approved"), "approve"),
                Some(Verdict::Refuse) => (pick(lang, "不同意", "Refused"), "refuse"),
                None => (pick(lang, "待审查", "Not yet answered"), "pending"),
            };
            ReviewLine {
                department: r
                    .label
                    .as_ref()
                    .map(|l| l.get(lang).to_owned())
                    .unwrap_or_else(|| r.department.clone()),
                verdict,
                mark,
                opinion: r.opinion.clone().unwrap_or_default(),
                reason: r.reason.clone().unwrap_or_default(),
                at: r
                    .decided_at
                    .map(|t| {
                        t.with_timezone(&offset)
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    let mut clocks = Vec::new();
    let c = &view.clocks;
    let mut clock = |name: String, cv: &crate::domain::legal_time::ClockView| {
        if cv.started_on.is_none() {
            return;
        }
        // A stopped clock is a closed filing's record: on time or late, and what it used; no
        // days are left to count.
        if let Some(stopped) = cv.stopped_on {
            let (colour, status) = if cv.on_time() {
                ("green", pick(lang, "按时办结", "closed on time"))
            } else {
                ("red", pick(lang, "超期办结", "closed late"))
            };
            clocks.push(ClockLine {
                name,
                due: pick(
                    lang,
                    &format!("{stopped} 办结"),
                    &format!("closed {stopped}"),
                ),
                colour,
                status,
                detail: pick(
                    lang,
                    &format!(
                        "用时 {}（时限 {}），暂停 {}",
                        story::days_text(lang, cv.used, cv.unit),
                        story::days_text(lang, i64::from(cv.days + cv.extended), cv.unit),
                        story::days_text(lang, cv.suspended, cv.unit)
                    ),
                    &format!(
                        "{} used of {}, {} suspended",
                        story::days_text(lang, cv.used, cv.unit),
                        story::days_text(lang, i64::from(cv.days + cv.extended), cv.unit),
                        story::days_text(lang, cv.suspended, cv.unit)
                    ),
                ),
            });
            return;
        }
        let days = |n: i64| story::days_text(lang, n, cv.unit);
        let left = match cv.standing() {
            Standing::PastLastDay => pick(lang, "截止日期已过", "past its last day"),
            Standing::Left(n) => pick(
                lang,
                &format!("剩余 {}", days(n)),
                &format!("{} left", days(n)),
            ),
            Standing::Overdue(n) => pick(
                lang,
                &format!("已超期 {}", days(n)),
                &format!("{} overdue", days(n)),
            ),
        };
        let provisional = if cv.provisional {
            pick(
                lang,
                "（含未公布放假安排的年度，可能变化）",
                " (provisional: a year's holidays are not yet published)",
            )
        } else {
            String::new()
        };
        let (colour, status, due) = match cv.suspended_since {
            // A paused clock is neither on time nor late: it says since when and why.
            Some(since) => (
                "grey",
                pick(lang, "已暂停", "paused"),
                pick(
                    lang,
                    &format!(
                        "暂停中（自 {since} 起{}）",
                        cv.suspended_reason
                            .map(|r| format!("，{}", story::suspend_reason_text(lang, r)))
                            .unwrap_or_default()
                    ),
                    &format!(
                        "paused since {since}{}",
                        cv.suspended_reason
                            .map(|r| format!(" ({})", story::suspend_reason_text(lang, r)))
                            .unwrap_or_default()
                    ),
                ),
            ),
            None => {
                let (colour, status) = status_text(lang, cv.status);
                (
                    colour,
                    status,
                    cv.due_on
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "—".into()),
                )
            }
        };
        clocks.push(ClockLine {
            name,
            due,
            colour,
            status,
            detail: pick(
                lang,
                &format!(
                    "已用 {}，暂停 {}，{left}{provisional}",
                    days(cv.used),
                    days(cv.suspended)
                ),
                &format!(
                    "{} used, {} suspended, {left}{provisional}",
                    days(cv.used),
                    days(cv.suspended)
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
    // The applicant's own deadlines (start works within three months, a promised material).
    for d in &view.deadlines {
        clocks.push(ClockLine {
            name: d
                .label
                .as_ref()
                .map(|l| l.get(lang).to_owned())
                .unwrap_or_else(|| d.code.clone()),
            due: d.due_on.to_string(),
            colour: "",
            status: pick(lang, "申请人期限", "Applicant's deadline"),
            detail: match d.max_extensions {
                Some(max) => pick(
                    lang,
                    &format!("已延期 {} 次，最多 {max} 次", d.extensions),
                    &format!("extended {} of {max} times", d.extensions),
                ),
                None => String::new(),
            },
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
    let rating = view.may.rate.then_some(RatingBox { given: view.rating });
    let documents = documents
        .into_iter()
        .map(|d| DocumentLine {
            href: format!("/filings/{}/documents/{}", view.id, d.id),
            title: d.title.get(lang).to_owned(),
            version: d.version,
            issued: d
                .issued_at
                .with_timezone(&offset)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            identifier: d.identifier,
            superseded: d.superseded_by.is_some(),
        })
        .collect();
    let any_upload = materials.iter().any(|m: &MaterialLine| m.may_upload);
    let actions_last = matches!(
        view.state.kind,
        crate::domain::definition::StateKind::Draft
            | crate::domain::definition::StateKind::WaitingApplicant
    ) && v
        .principal
        .as_ref()
        .is_some_and(|p| p.user_id == view.applicant_id);
    FilingPageHtml {
        project: item.def.title_of(&view.form),
        progress,
        outlook,
        done,
        actions_last,
        any_upload,
        documents,
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
        filed_by: view.filed_by.as_ref().map(|f| f.display_name.clone()),
        version: view.version,
        message,
        problems,
        notice,
        flags: view
            .flags
            .iter()
            .map(|f| f.label.get(lang).to_owned())
            .collect(),
        clocks,
        facts,
        materials,
        actions,
        may_edit: view.may.edit,
        timeline,
        reviews,
    }
}
