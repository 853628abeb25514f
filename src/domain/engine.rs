//! The workflow engine: given a definition, a snapshot of a filing, an action, an actor and the
//! date, decide whether the action may be taken and what follows from it.
//!
//! Policy: pure. It reads nothing and writes nothing; the caller (a service) holds the row lock,
//! applies the [`Outcome`] in the same transaction and records the audit entry. Refusals are
//! typed so that the web layer can map them once: a wrong state is a conflict (409), a missing
//! permission is 403, and failing guards or inputs list every problem (422).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Problem;
use super::calendar::Calendar;
use super::definition::{
    Action, ClockMode, CompareOp, DayUnit, Definition, EffectKind, Guard, Input, Lang, Requirement,
    Role, State, StateKind, SuspendReason,
};
use super::forms::{self, Mode};
use super::legal_time::Phase;

/// A department's answer in a joint review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Refuse,
}

impl Verdict {
    pub const ALL: [Verdict; 2] = [Verdict::Approve, Verdict::Refuse];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Refuse => "refuse",
        }
    }
}

/// A department's recorded answer in the current joint review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub department: String,
    pub verdict: Verdict,
}

/// Who acts.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub roles: &'a [Role],
    pub department: Option<&'a str>,
    /// The actor is the applicant who owns the filing.
    pub is_owner: bool,
}

/// What the engine needs to know about a filing.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub state: &'a str,
    pub form: &'a Map<String, Value>,
    /// Material code → number of current (not superseded) files.
    pub materials: &'a BTreeMap<String, u32>,
    /// 容缺: material code → the date the applicant promised to supply it by.
    pub promises: &'a BTreeMap<String, NaiveDate>,
    /// Answers recorded in the current joint review.
    pub reviews: &'a [ReviewRecord],
    /// Objections recorded in the current public notice.
    pub objections: u32,
    /// The authority's local date on which the filing entered its state.
    pub entered_state_on: NaiveDate,
    /// Where the main clocks' ledger stands (they start once and stop once).
    pub clock: Phase,
    /// The region's working-day calendar (periods counted in working days).
    pub calendar: &'a Calendar,
    /// The deadlines on the applicant still open (start of works, rectification).
    pub deadlines: &'a [DeadlineFact],
    /// The authority's local date of the first submission, once submitted.
    pub submitted_on: Option<NaiveDate>,
}

/// An open deadline on the applicant, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineFact {
    pub code: String,
    pub due_on: NaiveDate,
    /// Times it was extended so far.
    pub extensions: u32,
    /// The state visit it is bound to (it ends when the filing leaves it).
    pub state_visit: Option<i32>,
}

/// What the actor supplies with the action.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub action: &'a str,
    pub reason: Option<&'a str>,
    pub opinion: Option<&'a str>,
    pub verdict: Option<Verdict>,
    pub notice_items: &'a [String],
    pub objection: Option<&'a str>,
    /// Values for fields the action `sets`; `null` clears one.
    pub fields: Option<&'a Map<String, Value>>,
}

/// Longest accepted free text in an action (a reason, an opinion, an objection).
pub const MAX_TEXT_CHARS: usize = 4000;

/// A change of the main (statutory and promised) clocks, derived from the states' clock modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ClockChange {
    Start,
    Suspend { reason: SuspendReason },
    Resume,
    Stop,
}

/// 一次性告知: everything missing or wrong, told at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Notice {
    pub problems: Vec<Problem>,
    /// Further items written by the clerk.
    pub items: Vec<String>,
}

impl Notice {
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty() && self.items.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    AssignNumber,
    IssueNotice(Notice),
    RecordObjection(String),
    RecordReview {
        department: String,
        verdict: Verdict,
    },
    /// The filing entered a joint review: one task per department.
    OpenReviews(Vec<String>),
    Clock(ClockChange),
    /// Fields of the form set by the action (those it `sets`), as sent.
    SetFields(Map<String, Value>),
    /// A deadline on the applicant moves on: its new day and how many times it has now been
    /// extended.
    ExtendDeadline {
        code: String,
        from: NaiveDate,
        to: NaiveDate,
        extensions: u32,
    },
}

/// The result of an allowed action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub action: String,
    pub from: String,
    pub to: String,
    pub effects: Vec<Effect>,
}

impl Outcome {
    pub fn changes_state(&self) -> bool {
        self.from != self.to
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownAction(String),
    /// The action exists but not from this state: 409 with the actions allowed now.
    NotAllowedNow {
        action: String,
        state: String,
        allowed: Vec<String>,
    },
    /// The actor may not take this action on this filing.
    Forbidden {
        action: String,
    },
    /// This department already answered in the current joint review.
    AlreadyAnswered {
        department: String,
    },
    /// Inputs missing or guards failing: every problem.
    Unprocessable(Vec<Problem>),
}

/// The filing's state is not in its definition (a definition changed under it): a bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state `{0}` is not in the definition")]
pub struct UnknownState(pub String);

/// Actions the actor could take now, ignoring guards (what a page offers).
pub fn available_actions<'a>(
    def: &'a Definition,
    snap: &Snapshot<'_>,
    actor: &Actor<'_>,
) -> Vec<&'a Action> {
    let Some(state) = def.state(snap.state) else {
        return Vec::new();
    };
    def.actions
        .iter()
        .filter(|a| a.from.iter().any(|f| f == snap.state))
        .filter(|a| permitted(def, state, a, snap, actor).is_ok())
        .collect()
}

/// Decide an action.
pub fn decide(
    def: &Definition,
    snap: &Snapshot<'_>,
    actor: &Actor<'_>,
    req: &Request<'_>,
    today: NaiveDate,
) -> Result<Outcome, Refusal> {
    let action = def
        .action(req.action)
        .ok_or_else(|| Refusal::UnknownAction(req.action.to_owned()))?;
    let from = def
        .state(snap.state)
        .ok_or_else(|| Refusal::UnknownAction(req.action.to_owned()))?;
    if !action.from.iter().any(|f| f == snap.state) {
        return Err(Refusal::NotAllowedNow {
            action: action.code.clone(),
            state: from.code.clone(),
            allowed: available_actions(def, snap, actor)
                .into_iter()
                .map(|a| a.code.clone())
                .collect(),
        });
    }
    let department = permitted(def, from, action, snap, actor)?;

    let mut problems = check_inputs(action, req);
    // Fields the action sets: the guards judge the form as it will be.
    let before = problems.len();
    let (set, merged) = set_fields(def, action, snap.form, req.fields, &mut problems).unzip();
    // A value that cannot stand is told with the inputs alone: the guards would repeat it.
    if problems.len() > before {
        return Err(Refusal::Unprocessable(problems));
    }
    let with_set;
    let snap = match &merged {
        Some(form) => {
            with_set = Snapshot {
                form,
                ..snap.clone()
            };
            &with_set
        }
        None => snap,
    };
    for guard in &action.guards {
        for p in eval(def, guard, snap, today) {
            // Two guards may find the same problem (a promised material both "not supplied"
            // and "missing"): it is said once.
            if !problems
                .iter()
                .any(|q| q.path == p.path && q.code == p.code)
            {
                problems.push(p);
            }
        }
    }
    let extension = match extend_deadline(def, action, snap, today) {
        Ok(e) => e,
        Err(p) => {
            problems.push(p);
            None
        }
    };
    if !problems.is_empty() {
        return Err(Refusal::Unprocessable(problems));
    }

    let mut effects: Vec<Effect> = extension.into_iter().collect();
    if let Some(set) = set {
        effects.push(Effect::SetFields(set));
    }
    let mut to = action.to.clone().unwrap_or_else(|| from.code.clone());
    for kind in &action.effects {
        match kind {
            EffectKind::AssignNumber => effects.push(Effect::AssignNumber),
            EffectKind::IssueNotice => {
                let notice = notice_for(def, snap, req, today);
                if notice.is_empty() {
                    return Err(Refusal::Unprocessable(vec![Problem::new(
                        "input.notice_items",
                        "empty_notice",
                        "材料和表单均已齐全，请写明需要补正的内容",
                        "Nothing is missing: list what the applicant must supplement",
                    )]));
                }
                effects.push(Effect::IssueNotice(notice));
            }
            EffectKind::RecordObjection => {
                let text = req.objection.unwrap_or_default().trim().to_owned();
                effects.push(Effect::RecordObjection(text));
            }
            EffectKind::RecordReview => {
                let (Some(parallel), Some(dept), Some(verdict)) =
                    (&from.parallel, &department, req.verdict)
                else {
                    return Err(Refusal::Forbidden {
                        action: action.code.clone(),
                    });
                };
                effects.push(Effect::RecordReview {
                    department: dept.clone(),
                    verdict,
                });
                let mut answers: Vec<Verdict> = snap.reviews.iter().map(|r| r.verdict).collect();
                answers.push(verdict);
                let all_answered = parallel.tasks.iter().all(|t| {
                    t.department == *dept
                        || snap.reviews.iter().any(|r| r.department == t.department)
                });
                let refused = answers.contains(&Verdict::Refuse);
                if refused && (parallel.refuse_immediately || all_answered) {
                    to = parallel.on_refused.clone();
                } else if all_answered {
                    to = parallel.on_approved.clone();
                }
            }
        }
    }

    let to_state = def
        .state(&to)
        .ok_or_else(|| Refusal::UnknownAction(action.code.clone()))?;
    // 容缺受理 (DOMAIN: "approval blocked until supplied"): whatever an item's own guards say,
    // no action grants while a material accepted as missing on a promise is still not on file.
    // Checked here, on the state the action really enters (a joint review's last answer may
    // grant), so that an item file without `tolerable_supplied` cannot close a filing granted
    // with a promise never kept.
    if to_state.kind == StateKind::Approved && from.kind != StateKind::Approved {
        let missing = promised_not_supplied(def, snap);
        if !missing.is_empty() {
            return Err(Refusal::Unprocessable(missing));
        }
    }
    if to != from.code {
        effects.extend(
            clock_changes(snap.clock, from, to_state)
                .into_iter()
                .map(Effect::Clock),
        );
        if let Some(parallel) = &to_state.parallel {
            effects.push(Effect::OpenReviews(
                parallel
                    .tasks
                    .iter()
                    .map(|t| t.department.clone())
                    .collect(),
            ));
        }
    }
    Ok(Outcome {
        action: action.code.clone(),
        from: from.code.clone(),
        to,
        effects,
    })
}

/// The fields an action sets, checked: only those it `sets`, each valid as the form's field
/// (its problems at `form.<field>`). Returns what changes and the form as it will be, if
/// anything changes.
fn set_fields(
    def: &Definition,
    action: &Action,
    form: &Map<String, Value>,
    sent: Option<&Map<String, Value>>,
    problems: &mut Vec<Problem>,
) -> Option<(Map<String, Value>, Map<String, Value>)> {
    // What changes: a value sent as it already stands changes nothing.
    let sent: Map<String, Value> = sent
        .into_iter()
        .flatten()
        .filter(|(k, v)| form.get(*k).unwrap_or(&Value::Null) != *v)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if sent.is_empty() {
        return None;
    }
    let mut merged = form.clone();
    for (k, v) in &sent {
        if !action.sets.iter().any(|f| f == k) {
            problems.push(Problem::new(
                format!("input.fields.{k}"),
                "not_settable",
                format!("「{}」不能通过此操作修改", label_zh(def, k)),
                format!("`{k}` cannot be changed by this action"),
            ));
            continue;
        }
        if v.is_null() {
            merged.remove(k);
        } else {
            merged.insert(k.clone(), v.clone());
        }
    }
    problems.extend(
        forms::validate(def, &merged, Mode::Complete)
            .into_iter()
            .filter(|p| {
                sent.keys().any(|k| {
                    let at = format!("form.{k}");
                    p.path == at || p.path.starts_with(&format!("{at}["))
                })
            }),
    );
    Some((sent, merged))
}

/// The extension an action makes of a deadline on the applicant, if it is one's `extension`
/// action: applied for while the deadline is open and before its day has passed, and fewer
/// times than allowed (建筑法 §9; 18号令 §8). A refusal names the rule it fails.
fn extend_deadline(
    def: &Definition,
    action: &Action,
    snap: &Snapshot<'_>,
    today: NaiveDate,
) -> Result<Option<Effect>, Problem> {
    let Some((deadline, ext)) = def.deadlines.iter().find_map(|d| {
        d.extension
            .as_ref()
            .filter(|e| e.action == action.code)
            .map(|e| (d, e))
    }) else {
        return Ok(None);
    };
    let label = &deadline.label;
    let Some(open) = snap.deadlines.iter().find(|d| d.code == deadline.code) else {
        return Err(Problem::new(
            "action",
            "no_open_deadline",
            format!("「{}」不在进行中，无需延期", label.zh),
            format!("{} is not running: there is nothing to extend", label.en),
        ));
    };
    if today > open.due_on {
        return Err(Problem::new(
            "action",
            "deadline_passed",
            format!(
                "「{}」已于{}届满；延期应当在期满前申请",
                label.zh,
                open.due_on.format("%Y年%-m月%-d日")
            ),
            format!(
                "{} ended on {}; an extension must be applied for before then",
                label.en, open.due_on
            ),
        ));
    }
    if open.extensions >= ext.max {
        return Err(Problem::new(
            "action",
            "extensions_used",
            format!(
                "「{}」延期以{}次为限，已延期{}次",
                label.zh, ext.max, open.extensions
            ),
            format!(
                "{} may be extended {} times; it has been extended {} times",
                label.en, ext.max, open.extensions
            ),
        ));
    }
    let to = super::notify::period_end(snap.calendar, open.due_on, ext.within)
        .map_err(|e| {
            Problem::new(
                "action",
                "calendar",
                format!("无法计算延期后的期限：{e}"),
                format!("The extended deadline cannot be computed: {e}"),
            )
        })?
        .value;
    Ok(Some(Effect::ExtendDeadline {
        code: deadline.code.clone(),
        from: open.due_on,
        to,
        extensions: open.extensions + 1,
    }))
}

/// May this actor take this action here? Returns the department the actor acts for (staff).
fn permitted(
    def: &Definition,
    state: &State,
    action: &Action,
    snap: &Snapshot<'_>,
    actor: &Actor<'_>,
) -> Result<Option<String>, Refusal> {
    let forbidden = || Refusal::Forbidden {
        action: action.code.clone(),
    };
    let reviewing = action.effects.contains(&EffectKind::RecordReview);
    for role in action.roles.iter().filter(|r| actor.roles.contains(r)) {
        if *role == Role::Applicant {
            if actor.is_owner {
                return Ok(None);
            }
            continue;
        }
        // Only the service holds `system` (no account can be granted it).
        if *role == Role::System {
            return Ok(None);
        }
        let Some(dept) = actor.department else {
            continue;
        };
        if reviewing {
            let Some(parallel) = &state.parallel else {
                continue;
            };
            if parallel.tasks.iter().any(|t| t.department == dept) {
                if snap.reviews.iter().any(|r| r.department == dept) {
                    return Err(Refusal::AlreadyAnswered {
                        department: dept.to_owned(),
                    });
                }
                return Ok(Some(dept.to_owned()));
            }
        } else if def.department_of(state) == dept {
            return Ok(Some(dept.to_owned()));
        }
    }
    Err(forbidden())
}

fn check_inputs(action: &Action, req: &Request<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut text = |name: &str, value: Option<&str>, zh: &str, en: &str| match value.map(str::trim)
    {
        None | Some("") => problems.push(Problem::new(
            format!("input.{name}"),
            "required",
            format!("请填写{zh}"),
            format!("{en} is required"),
        )),
        Some(v) if v.chars().count() > MAX_TEXT_CHARS => problems.push(Problem::new(
            format!("input.{name}"),
            "too_long",
            format!("{zh}不能超过 {MAX_TEXT_CHARS} 个字"),
            format!("{en} must be at most {MAX_TEXT_CHARS} characters"),
        )),
        Some(_) => {}
    };
    for input in &action.inputs {
        match input {
            Input::Reason => text("reason", req.reason, "理由", "A reason"),
            Input::Opinion => text("opinion", req.opinion, "审查意见", "An opinion"),
            Input::Objection => text("objection", req.objection, "异议内容", "The objection"),
            Input::RefusalReason => {
                if req.verdict == Some(Verdict::Refuse) {
                    text("reason", req.reason, "不同意的理由", "A refusal's reasons");
                } else if req
                    .reason
                    .is_some_and(|r| r.chars().count() > MAX_TEXT_CHARS)
                {
                    text("reason", req.reason, "理由", "A reason");
                }
            }
            Input::Verdict | Input::NoticeItems => {}
        }
    }
    if action.inputs.contains(&Input::Verdict) && req.verdict.is_none() {
        problems.push(Problem::new(
            "input.verdict",
            "required",
            "请选择审查结论（approve 或 refuse）",
            "A verdict is required (approve or refuse)",
        ));
    }
    for (i, item) in req.notice_items.iter().enumerate() {
        if item.trim().is_empty() || item.chars().count() > MAX_TEXT_CHARS {
            problems.push(Problem::new(
                format!("input.notice_items[{i}]"),
                "invalid_format",
                "告知事项不能为空且不能过长",
                "A notice item must be non-empty and not too long",
            ));
        }
    }
    problems
}

/// Evaluate a guard: empty when it holds, otherwise every reason it does not.
pub fn eval(
    def: &Definition,
    guard: &Guard,
    snap: &Snapshot<'_>,
    today: NaiveDate,
) -> Vec<Problem> {
    match guard {
        Guard::FieldsValid => forms::validate(def, snap.form, Mode::Complete),
        Guard::MaterialsComplete { tolerate } => missing_materials(def, snap, *tolerate, today),
        Guard::MaterialsOnFile { materials } => materials
            .iter()
            .filter(|m| count(snap, m) == 0)
            .map(|m| {
                let label = def.material(m).map(|x| x.label.clone());
                let (zh, en) = label
                    .map(|l| (l.zh, l.en))
                    .unwrap_or_else(|| (m.clone(), m.clone()));
                Problem::new(
                    format!("materials.{m}"),
                    "required",
                    format!("请上传「{zh}」"),
                    format!("{en} is required"),
                )
            })
            .collect(),
        Guard::TolerableSupplied => def
            .materials
            .iter()
            .filter(|m| {
                m.requirement_for(snap.form) == Requirement::Tolerable && count(snap, &m.code) == 0
            })
            .map(|m| tolerated_missing(&m.code, &m.label.zh, &m.label.en))
            .collect(),
        Guard::Compare { field, op, value } => compare(def, snap, field, *op, *value),
        Guard::AllOf { guards } => guards
            .iter()
            .flat_map(|g| eval(def, g, snap, today))
            .collect(),
        Guard::AnyOf { guards } => {
            let mut all = Vec::new();
            for g in guards {
                let p = eval(def, g, snap, today);
                if p.is_empty() {
                    return Vec::new();
                }
                all.extend(p);
            }
            all
        }
        Guard::Not { guard } => {
            if !eval(def, guard, snap, today).is_empty() {
                return Vec::new();
            }
            // A field's value that rules the action out is named with the field.
            if let Guard::FieldIn { field, .. } = guard.as_ref() {
                let raw = match snap.form.get(field) {
                    Some(Value::Bool(b)) => b.to_string(),
                    Some(Value::String(v)) => v.clone(),
                    _ => String::new(),
                };
                let en_label = def
                    .field(field)
                    .map_or(field.as_str(), |f| f.label.en.as_str());
                return vec![Problem::new(
                    format!("form.{field}"),
                    "condition_holds",
                    format!(
                        "「{}」为「{}」，不能进行此操作",
                        label_zh(def, field),
                        shown_value(def, field, &raw, true)
                    ),
                    format!(
                        "{en_label} is \"{}\": this action is ruled out",
                        shown_value(def, field, &raw, false)
                    ),
                )];
            }
            vec![Problem::new(
                format!("guard.{}", guard_name(guard)),
                "condition_holds",
                "条件不符合此操作",
                "The filing meets a condition that rules this action out",
            )]
        }
        Guard::OwnerConsent { .. } => super::consent::eval(def, guard, snap.form),
        Guard::NoObjections => {
            if snap.objections == 0 {
                Vec::new()
            } else {
                vec![Problem::new(
                    "guard.no_objections",
                    "has_objections",
                    format!("公示期间收到 {} 条异议", snap.objections),
                    format!(
                        "{} objections were raised during the notice",
                        snap.objections
                    ),
                )]
            }
        }
        Guard::HasObjections => {
            if snap.objections > 0 {
                Vec::new()
            } else {
                vec![Problem::new(
                    "guard.has_objections",
                    "no_objections",
                    "公示期间未收到异议",
                    "No objection was raised during the notice",
                )]
            }
        }
        Guard::PeriodElapsed { days, unit } => {
            // 民法典 §201: the period starts the day after posting; it has run when that many
            // whole days have passed: calendar days, or working days on the region's calendar
            // (the period ends on the Nth working day after posting).
            let ends = period_end(snap.calendar, snap.entered_state_on, *days, *unit);
            let (zh_unit, en_unit) = unit_words(*unit);
            match ends {
                Some(end) if today > end => Vec::new(),
                _ => vec![Problem::new(
                    "guard.period_elapsed",
                    "period_running",
                    format!(
                        "期限（{days} {zh_unit}）尚未届满，届满日为 {}",
                        ends.map(|d| d.to_string()).unwrap_or_default()
                    ),
                    format!(
                        "The {days}-{en_unit} period has not run; it ends on {}",
                        ends.map(|d| d.to_string()).unwrap_or_default()
                    ),
                )],
            }
        }
        Guard::FieldIn { field, values } => {
            let condition = super::definition::Condition {
                field: field.clone(),
                values: values.clone(),
            };
            if condition.holds(snap.form) {
                Vec::new()
            } else {
                let shown = |zh: bool| -> Vec<String> {
                    values
                        .iter()
                        .map(|v| shown_value(def, field, v, zh))
                        .collect()
                };
                let en_label = def
                    .field(field)
                    .map_or(field.as_str(), |f| f.label.en.as_str());
                vec![Problem::new(
                    format!("form.{field}"),
                    "field_not_in",
                    format!(
                        "「{}」须为：{}",
                        label_zh(def, field),
                        shown(true).join("或")
                    ),
                    format!("{en_label} must be: {}", shown(false).join(" or ")),
                )]
            }
        }
        Guard::FieldPeriodElapsed {
            field,
            until,
            days,
            unit,
        } => {
            let date = |f: &str| {
                snap.form
                    .get(f)
                    .and_then(Value::as_str)
                    .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            };
            let on = match until {
                Some(u) => match date(u) {
                    Some(d) => d,
                    None => {
                        return vec![Problem::new(
                            format!("form.{u}"),
                            "required",
                            format!("请填写「{}」", label_zh(def, u)),
                            format!("`{u}` is needed to count the period"),
                        )];
                    }
                },
                None => snap.submitted_on.unwrap_or(today),
            };
            let from = date(field);
            let ends = from.and_then(|d| period_end(snap.calendar, d, *days, *unit));
            let (zh_unit, en_unit) = unit_words(*unit);
            match ends {
                Some(end) if on > end => Vec::new(),
                _ => vec![Problem::new(
                    format!("form.{field}"),
                    "period_running",
                    format!(
                        "自「{}」起 {days} {zh_unit}的期限至 {} 未过",
                        label_zh(def, field),
                        ends.map(|d| d.to_string()).unwrap_or_default()
                    ),
                    format!("The {days}-{en_unit} period from `{field}` had not run by {on}"),
                )],
            }
        }
    }
}

/// A select's or a boolean's value as the form shows it: the option's label, 是 or 否; money
/// grouped with its unit (12,500,000 元).
pub fn shown_value(def: &Definition, field: &str, v: &str, zh: bool) -> String {
    match def.field(field).map(|f| &f.ty) {
        Some(super::definition::FieldType::Select { options }) => {
            options.iter().find(|o| o.value == v).map_or_else(
                || v.to_owned(),
                |o| {
                    if zh {
                        o.label.zh.clone()
                    } else {
                        o.label.en.clone()
                    }
                },
            )
        }
        Some(super::definition::FieldType::Amount { .. }) => match def.field(field) {
            Some(f) => forms::field_amount_text(f, v, if zh { Lang::Zh } else { Lang::En }),
            None => v.to_owned(),
        },
        Some(super::definition::FieldType::Boolean) => match (v, zh) {
            ("true", true) => "是".into(),
            ("false", true) => "否".into(),
            ("true", false) => "yes".into(),
            ("false", false) => "no".into(),
            _ => v.to_owned(),
        },
        _ => v.to_owned(),
    }
}

/// A field's Chinese label, or its code.
fn label_zh<'a>(def: &'a Definition, field: &'a str) -> &'a str {
    def.field(field).map_or(field, |f| f.label.zh.as_str())
}

/// The item's flags that hold for the filing (derived, never stored).
pub fn flags<'a>(
    def: &'a Definition,
    snap: &Snapshot<'_>,
    today: NaiveDate,
) -> Vec<&'a super::definition::Flag> {
    def.flags
        .iter()
        .filter(|f| eval(def, &f.when, snap, today).is_empty())
        .collect()
}

/// The last day of a period of `days` counted from `from` (民法典 §201: from the next day), in
/// calendar days or working days on the region's calendar.
fn period_end(cal: &Calendar, from: NaiveDate, days: u32, unit: DayUnit) -> Option<NaiveDate> {
    match unit {
        DayUnit::Calendar => from.checked_add_days(chrono::Days::new(u64::from(days))),
        DayUnit::Working => cal.add_working_days(from, days).ok().map(|a| a.value),
    }
}

fn unit_words(unit: DayUnit) -> (&'static str, &'static str) {
    match unit {
        DayUnit::Calendar => ("日", "day"),
        DayUnit::Working => ("个工作日", "working-day"),
    }
}

fn guard_name(g: &Guard) -> &'static str {
    match g {
        Guard::FieldsValid => "fields_valid",
        Guard::MaterialsComplete { .. } => "materials_complete",
        Guard::TolerableSupplied => "tolerable_supplied",
        Guard::MaterialsOnFile { .. } => "materials_on_file",
        Guard::Compare { .. } => "compare",
        Guard::AllOf { .. } => "all_of",
        Guard::AnyOf { .. } => "any_of",
        Guard::Not { .. } => "not",
        Guard::OwnerConsent { .. } => "owner_consent",
        Guard::NoObjections => "no_objections",
        Guard::HasObjections => "has_objections",
        Guard::PeriodElapsed { .. } => "period_elapsed",
        Guard::FieldIn { .. } => "field_in",
        Guard::FieldPeriodElapsed { .. } => "field_period_elapsed",
    }
}

fn m2(hundredths: i64) -> String {
    format!("{}.{:02}", hundredths / 100, (hundredths % 100).abs())
}

/// The materials accepted as missing on a promise (容缺) and still not on file, each as the
/// problem that names it.
pub fn promised_not_supplied(def: &Definition, snap: &Snapshot<'_>) -> Vec<Problem> {
    snap.promises
        .keys()
        .filter(|code| count(snap, code) == 0)
        .map(|code| {
            let (zh, en) = def
                .material(code)
                .map(|m| (m.label.zh.clone(), m.label.en.clone()))
                .unwrap_or_else(|| (code.clone(), code.clone()));
            tolerated_missing(code, &zh, &en)
        })
        .collect()
}

fn tolerated_missing(code: &str, zh: &str, en: &str) -> Problem {
    Problem::new(
        format!("materials.{code}"),
        "tolerated_missing",
        format!("容缺受理的材料「{zh}」尚未补交，补交前不能作出准予决定"),
        format!(
            "{en} was accepted as missing on a promise to supply it later and has not been supplied; nothing can be granted until it is"
        ),
    )
}

fn count(snap: &Snapshot<'_>, code: &str) -> u32 {
    snap.materials.get(code).copied().unwrap_or(0)
}

fn missing_materials(
    def: &Definition,
    snap: &Snapshot<'_>,
    tolerate: bool,
    today: NaiveDate,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for m in &def.materials {
        if count(snap, &m.code) > 0 {
            continue;
        }
        let path = format!("materials.{}", m.code);
        match m.requirement_for(snap.form) {
            Requirement::Optional => {}
            Requirement::Required => problems.push(Problem::new(
                path,
                "missing",
                format!("缺少材料「{}」", m.label.zh),
                format!("{} is missing", m.label.en),
            )),
            Requirement::Tolerable if tolerate => match snap.promises.get(&m.code) {
                Some(date) if *date >= today => {}
                Some(date) => problems.push(Problem::new(
                    path,
                    "promise_past",
                    format!("材料「{}」的承诺补交日期 {date} 已过", m.label.zh),
                    format!("The promised date {date} for {} has passed", m.label.en),
                )),
                None => problems.push(Problem::new(
                    path,
                    "missing_without_promise",
                    format!(
                        "缺少材料「{}」；可容缺受理，但须书面承诺补交日期",
                        m.label.zh
                    ),
                    format!(
                        "{} is missing; it may be tolerated with a written promise of a date",
                        m.label.en
                    ),
                )),
            },
            // Accepted on a promise and still missing: said as such (as `tolerable_supplied`
            // says it; the two are one problem).
            Requirement::Tolerable if snap.promises.contains_key(&m.code) => {
                problems.push(tolerated_missing(&m.code, &m.label.zh, &m.label.en))
            }
            Requirement::Tolerable => problems.push(Problem::new(
                path,
                "missing",
                format!("缺少材料「{}」", m.label.zh),
                format!("{} is missing", m.label.en),
            )),
        }
    }
    problems
}

fn compare(
    def: &Definition,
    snap: &Snapshot<'_>,
    field: &str,
    op: CompareOp,
    value: f64,
) -> Vec<Problem> {
    let label = def.field(field).map(|f| f.label.clone());
    let (zh, en) = label
        .map(|l| (l.zh, l.en))
        .unwrap_or_else(|| (field.to_owned(), field.to_owned()));
    let path = format!("form.{field}");
    let Some(actual) = snap.form.get(field).and_then(forms::hundredths) else {
        return vec![Problem::new(
            path,
            "required",
            format!("请填写「{zh}」"),
            format!("{en} is required"),
        )];
    };
    // Thresholds are compared in hundredths so that 300000 and "300000.00" agree exactly.
    let limit = (value * 100.0).round() as i64;
    let holds = match op {
        CompareOp::Lt => actual < limit,
        CompareOp::Le => actual <= limit,
        CompareOp::Gt => actual > limit,
        CompareOp::Ge => actual >= limit,
        CompareOp::Eq => actual == limit,
        CompareOp::Ne => actual != limit,
    };
    if holds {
        return Vec::new();
    }
    let sym = match op {
        CompareOp::Lt => "<",
        CompareOp::Le => "≤",
        CompareOp::Gt => ">",
        CompareOp::Ge => "≥",
        CompareOp::Eq => "=",
        CompareOp::Ne => "≠",
    };
    vec![Problem::new(
        path,
        "threshold",
        format!("「{zh}」须 {sym} {}（当前 {}）", m2(limit), m2(actual)),
        format!("{en} must be {sym} {} (is {})", m2(limit), m2(actual)),
    )]
}

/// The one-time notice: every required material missing, every field problem, and the clerk's
/// own items, so that the applicant is told everything at once (行政许可法 §32).
fn notice_for(
    def: &Definition,
    snap: &Snapshot<'_>,
    req: &Request<'_>,
    today: NaiveDate,
) -> Notice {
    let mut problems = missing_materials(def, snap, true, today);
    problems.extend(forms::validate(def, snap.form, Mode::Complete));
    Notice {
        problems,
        items: req
            .notice_items
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    }
}

/// The main clocks' events on leaving `from` for `to`, given where the ledger stands.
///
/// The ledger, not the states' modes alone, decides: a clock starts once (on acceptance) and
/// stops once. Waiting for the applicant before acceptance (a supplement under §32) does not
/// start it; entering any other suspended state from a not-started clock is an acceptance into
/// a suspension (a public notice), which starts the clock and suspends it the same day (§45).
pub fn clock_changes(phase: Phase, from: &State, to: &State) -> Vec<ClockChange> {
    let reason = to.suspend_reason.unwrap_or(SuspendReason::Supplement);
    match (phase, to.clock_mode()) {
        (Phase::NotStarted, ClockMode::Run) => vec![ClockChange::Start],
        (Phase::NotStarted, ClockMode::Suspend) if to.kind != StateKind::WaitingApplicant => {
            vec![ClockChange::Start, ClockChange::Suspend { reason }]
        }
        (Phase::Running, ClockMode::Suspend) => vec![ClockChange::Suspend { reason }],
        (Phase::Suspended, ClockMode::Run) => vec![ClockChange::Resume],
        (Phase::Suspended, ClockMode::Suspend) if from.suspend_reason != to.suspend_reason => {
            vec![ClockChange::Resume, ClockChange::Suspend { reason }]
        }
        (Phase::Running | Phase::Suspended, ClockMode::Stopped) => vec![ClockChange::Stop],
        _ => Vec::new(),
    }
}

impl Phase {
    /// The ledger's phase after one event; `None` for an event that cannot follow.
    pub fn after(self, change: ClockChange) -> Option<Phase> {
        match (self, change) {
            (Phase::NotStarted, ClockChange::Start) => Some(Phase::Running),
            (Phase::Running, ClockChange::Suspend { .. }) => Some(Phase::Suspended),
            (Phase::Suspended, ClockChange::Resume) => Some(Phase::Running),
            (Phase::Running | Phase::Suspended, ClockChange::Stop) => Some(Phase::Stopped),
            _ => None,
        }
    }
}
