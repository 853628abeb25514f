//! Where a filing stands, told in words: the steps it has come through (已提交 → 受理 → 审查 →
//! 决定 → 出证), what happens next and by when, the decision with its reasons and the
//! applicant's remedies, and the timeline with who did what and why.
//!
//! Everything here is read from the filing's view and its audit chain (the payload of each
//! entry holds the action's opinion, reasons, notice, clock events and documents), so the page
//! tells what the record holds and nothing else.

use std::collections::HashMap;

use chrono::FixedOffset;
use serde_json::Value;
use uuid::Uuid;

use crate::domain::definition::{DocumentKind, Lang, StateKind, SuspendReason, Text};
use crate::domain::legal_time::{ClockView, Standing};
use crate::services::filings::{ActorName, FilingView, HistoryEntry};
use crate::services::items::Item;

use super::pick;

/// One step of the picture of where the filing stands.
pub struct ProgressStep {
    pub label: String,
    /// done, current, todo, or stopped (where a filing ended without a grant).
    pub mark: &'static str,
}

/// What the page says first: what happens next and by when, or how the filing ended and why.
pub struct Outlook {
    pub closed: bool,
    /// green, red or blue (the notice's border).
    pub tone: &'static str,
    pub heading: String,
    pub lines: Vec<String>,
    /// (what, text): the reasons, the opinion, each refusing department's reasons.
    pub reasons: Vec<(String, String)>,
    /// What the applicant may do against an adverse decision (行政许可法 §38).
    pub remedy: Option<String>,
    /// The decision's document, to read and print: (href, title).
    pub document: Option<(String, String)>,
}

/// An entry of the timeline.
pub struct Moment {
    pub at: String,
    pub what: String,
    /// Who: the department and name of staff, the applicant's name.
    pub who: String,
    /// What the entry holds: the material and file, the opinion, reasons, notice, clock.
    pub details: Vec<String>,
}

pub struct Context<'a> {
    pub lang: Lang,
    pub offset: FixedOffset,
    pub item: &'a Item,
    pub view: &'a FilingView,
    pub history: &'a [HistoryEntry],
    pub actors: &'a HashMap<Uuid, ActorName>,
    pub departments: &'a HashMap<String, Text>,
    pub documents: &'a [crate::services::documents::DocumentView],
}

impl Context<'_> {
    fn t(&self, zh: &str, en: &str) -> String {
        pick(self.lang, zh, en)
    }

    fn when(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        at.with_timezone(&self.offset)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    fn who(&self, id: Option<Uuid>) -> String {
        let Some(a) = id.and_then(|id| self.actors.get(&id)) else {
            return self.t("系统", "The system");
        };
        match &a.department {
            Some(d) => format!("{} {}", d.get(self.lang), a.name),
            None => a.name.clone(),
        }
    }

    fn state_label(&self, code: &str) -> String {
        self.item
            .def
            .state(code)
            .map(|s| s.label.get(self.lang).to_owned())
            .unwrap_or_else(|| code.to_owned())
    }

    fn department(&self, code: &str) -> String {
        self.departments
            .get(code)
            .map(|d| d.get(self.lang).to_owned())
            .unwrap_or_else(|| code.to_owned())
    }

    fn material(&self, code: &str) -> String {
        self.item
            .def
            .materials
            .iter()
            .find(|m| m.code == code)
            .map(|m| m.label.get(self.lang).to_owned())
            .unwrap_or_else(|| code.to_owned())
    }

    /// The entry that brought the filing into its present state.
    /// The entry that decided the filing: the last action that took it from an open state
    /// into a final one (a permit's later life, 已开工 or 延期, moves between final states and
    /// is not the decision); for a filing still open, the action that entered its state.
    fn decisive(&self) -> Option<&HistoryEntry> {
        let is_final = |code: Option<&str>| {
            code.and_then(|c| self.item.def.state(c))
                .is_some_and(|s| s.kind.is_final())
        };
        let actions = || {
            self.history
                .iter()
                .rev()
                .filter(|h| h.action.starts_with("action:"))
        };
        let to = |h: &HistoryEntry| {
            h.payload
                .get("to")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let from = |h: &HistoryEntry| {
            h.payload
                .get("from")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if self.view.state.kind.is_final()
            && let Some(h) =
                actions().find(|h| is_final(to(h).as_deref()) && !is_final(from(h).as_deref()))
        {
            return Some(h);
        }
        actions().find(|h| to(h).as_deref() == Some(self.view.state.code.as_str()))
    }

    /// The last action, when it came after the decision (a permit's later life).
    fn since_decision(&self) -> Option<&HistoryEntry> {
        let decisive = self.decisive()?;
        let last = self
            .history
            .iter()
            .rev()
            .find(|h| h.action.starts_with("action:"))?;
        (!std::ptr::eq(last, decisive)).then_some(last)
    }

    /// Days in words: "3 个工作日" / "3 working days" (or natural days for such a limit).
    fn days(&self, n: i64, clock: &ClockView) -> String {
        days_text(self.lang, n, clock.unit)
    }
}

pub fn days_text(lang: Lang, n: i64, unit: crate::domain::definition::DayUnit) -> String {
    use crate::domain::definition::DayUnit;
    match (lang, unit) {
        (Lang::Zh, DayUnit::Working) => format!("{n} 个工作日"),
        (Lang::Zh, _) => format!("{n} 日"),
        (Lang::En, DayUnit::Working) if n == 1 => "1 working day".into(),
        (Lang::En, DayUnit::Working) => format!("{n} working days"),
        (Lang::En, _) if n == 1 => "1 day".into(),
        (Lang::En, _) => format!("{n} days"),
    }
}

pub fn suspend_reason_text(lang: Lang, r: SuspendReason) -> String {
    let (zh, en) = match r {
        SuspendReason::Supplement => ("补正材料", "supplementing materials"),
        SuspendReason::ExpertReview => ("专家评审", "expert review"),
        SuspendReason::PublicNotice => ("公示", "public notice"),
        SuspendReason::SiteInspection => ("现场勘验", "site inspection"),
        SuspendReason::Testing => ("检验检测", "testing"),
        SuspendReason::Hearing => ("听证", "hearing"),
        SuspendReason::Rectification => ("整改", "rectification"),
        SuspendReason::Mediation => ("调解", "mediation"),
    };
    pick(lang, zh, en)
}

/// The steps: 填写申请 → 提交 → 受理 → 审查 → 决定 (→ 出证 for an item that certifies).
pub fn progress(c: &Context<'_>) -> Vec<ProgressStep> {
    let v = c.view;
    let certifies = c
        .item
        .def
        .documents
        .iter()
        .any(|d| d.kind == DocumentKind::Certificate);
    let certified = c
        .documents
        .iter()
        .any(|d| d.identifier.is_some() && d.superseded_by.is_none());
    let mut labels = vec![
        c.t("填写申请", "Application"),
        c.t("提交", "Submitted"),
        c.t("受理", "Accepted"),
        c.t("审查", "Examined"),
        c.t("决定", "Decided"),
    ];
    if certifies {
        labels.push(c.t("出证", "Certificate"));
    }
    let accepted = v.accepted_at.is_some();
    // The step the filing is at, and whether it stopped there.
    let (at, stopped) = match v.state.kind {
        StateKind::Draft => (0, false),
        StateKind::Intake => (2, false),
        StateKind::WaitingApplicant | StateKind::Review | StateKind::Suspended => {
            (if accepted { 3 } else { 2 }, false)
        }
        StateKind::Approved => (if certified { labels.len() } else { 4 }, false),
        StateKind::Refused => (4, true),
        StateKind::NotAccepted => (2, true),
        StateKind::Withdrawn => (if accepted { 3 } else { 2 }, true),
    };
    let closed_label = match v.state.kind {
        StateKind::Refused | StateKind::NotAccepted | StateKind::Withdrawn => {
            Some(v.state.label.get(c.lang).to_owned())
        }
        _ => None,
    };
    // Nothing follows a step where the filing ended without a grant.
    let shown = if stopped { at + 1 } else { labels.len() };
    labels
        .into_iter()
        .take(shown)
        .enumerate()
        .map(|(i, label)| {
            let approved_done = v.state.kind == StateKind::Approved && i == 4;
            let mark = if i < at || approved_done {
                "done"
            } else if i == at && stopped {
                "stopped"
            } else if i == at {
                "current"
            } else {
                "todo"
            };
            let label = match (&closed_label, mark) {
                (Some(l), "stopped") => l.clone(),
                _ => label,
            };
            ProgressStep { label, mark }
        })
        .collect()
}

/// What happens next and by when (an open filing), or the decision and its reasons (closed).
pub fn outlook(c: &Context<'_>) -> Outlook {
    let v = c.view;
    let clocks = &v.clocks;
    let mut o = Outlook {
        closed: false,
        tone: "blue",
        heading: String::new(),
        lines: Vec::new(),
        reasons: Vec::new(),
        remedy: None,
        document: None,
    };
    let decisive = c.decisive();
    let payload_text = |k: &str| {
        decisive
            .and_then(|h| h.payload.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    let limit_line = |o: &mut Outlook| {
        let s = &clocks.statutory;
        if let Some(due) = s.due_on {
            o.lines.push(match s.standing() {
                Standing::PastLastDay => pick(
                    c.lang,
                    &format!("法定办理时限 {due} 已过。"),
                    &format!("The statutory limit ended {due}."),
                ),
                Standing::Left(n) => pick(
                    c.lang,
                    &format!("法定办理时限至 {due}（剩余 {}）。", c.days(n, s)),
                    &format!("The statutory limit runs to {due} ({} left).", c.days(n, s)),
                ),
                Standing::Overdue(n) => pick(
                    c.lang,
                    &format!("法定办理时限 {due} 已过，已超期 {}。", c.days(n, s)),
                    &format!("The statutory limit ended {due}: {} overdue.", c.days(n, s)),
                ),
            });
        }
        if let Some(p) = &clocks.promised
            && let Some(due) = p.due_on
        {
            o.lines.push(match p.standing() {
                Standing::PastLastDay => pick(
                    c.lang,
                    &format!("本机关承诺 {due} 前办结，该日期已过。"),
                    &format!("The bureau promised a decision by {due}, which has passed."),
                ),
                Standing::Left(_) => pick(
                    c.lang,
                    &format!("本机关承诺 {due} 前办结。"),
                    &format!("The bureau promises a decision by {due}."),
                ),
                Standing::Overdue(n) => pick(
                    c.lang,
                    &format!("本机关承诺 {due} 前办结，已超出承诺时限 {}。", c.days(n, p)),
                    &format!(
                        "The bureau promised a decision by {due}: {} past that.",
                        c.days(n, p)
                    ),
                ),
            });
        }
    };
    match v.state.kind {
        StateKind::Draft => {
            o.heading = c.t(
                "下一步：请填写申请内容、上传材料，然后提交申请",
                "Next: fill in the application, upload the materials, then submit it",
            );
            o.lines.push(c.t(
                "草稿只有您能看到，提交后才由窗口受理，办理时限自受理之日起计算。",
                "Only you see a draft. Once submitted, the window decides whether to accept it; the time limit counts from acceptance.",
            ));
        }
        StateKind::Intake => {
            o.heading = pick(
                c.lang,
                &format!(
                    "下一步：{}审核材料，决定是否受理",
                    c.department(&v.department)
                ),
                &format!(
                    "Next: {} checks the materials and decides whether to accept",
                    c.department(&v.department)
                ),
            );
            if let Some(step) = &clocks.step {
                o.lines.push(pick(
                    c.lang,
                    &format!("应于 {} 前作出是否受理的决定；材料不全的，一次性告知需要补正的全部内容。", step.due_on),
                    &format!(
                        "A decision on acceptance is due by {}; anything missing is told at once, in one notice.",
                        step.due_on
                    ),
                ));
            } else {
                o.lines.push(c.t(
                    "材料不全或者不符合法定形式的，将一次性告知需要补正的全部内容。",
                    "Anything missing or not in the legal form is told at once, in one notice.",
                ));
            }
        }
        StateKind::Review => {
            let who = v
                .tasks
                .first()
                .map(|t| c.department(&t.department))
                .unwrap_or_else(|| c.department(&v.department));
            o.heading = pick(
                c.lang,
                &format!("下一步：{who}审查，作出决定"),
                &format!("Next: {who} examines the filing and decides"),
            );
            limit_line(&mut o);
        }
        StateKind::WaitingApplicant => {
            o.tone = "yellow";
            o.heading = c.t(
                "下一步：请您按告知内容补正或整改，然后提交",
                "Next: it is your turn: supplement or put right what you were told, then send it back",
            );
            for d in &v.deadlines {
                let label = d
                    .label
                    .as_ref()
                    .map(|l| l.get(c.lang).to_owned())
                    .unwrap_or_else(|| c.t("期限", "Deadline"));
                o.lines.push(pick(
                    c.lang,
                    &format!("{label}：请于 {} 前完成。", d.due_on),
                    &format!("{label}: by {}.", d.due_on),
                ));
            }
            if clocks.statutory.suspended_since.is_some() {
                o.lines.push(c.t(
                    "在此期间办理时限暂停计算，您提交后继续计算。",
                    "The time limit does not run meanwhile; it runs again once you send it back.",
                ));
            }
        }
        StateKind::Suspended => {
            let s = &clocks.statutory;
            let why = s
                .suspended_reason
                .map(|r| suspend_reason_text(c.lang, r))
                .unwrap_or_else(|| v.state.label.get(c.lang).to_owned());
            o.heading = pick(
                c.lang,
                &format!("办理时限暂停：{why}"),
                &format!("The time limit is paused: {why}"),
            );
            if let Some(since) = s.suspended_since {
                o.lines.push(pick(
                    c.lang,
                    &format!(
                        "自 {since} 起暂停，所需时间不计入办理时限；恢复后还有 {}。",
                        c.days(s.remaining.max(0), s)
                    ),
                    &format!(
                        "Paused since {since}; this time does not count. Once it resumes, {} remain.",
                        c.days(s.remaining.max(0), s)
                    ),
                ));
            }
        }
        StateKind::Approved
        | StateKind::Refused
        | StateKind::NotAccepted
        | StateKind::Withdrawn => {
            o.closed = true;
            o.heading = pick(
                c.lang,
                &format!("办理结果：{}", v.state.label.get(c.lang)),
                &format!("Outcome: {}", v.state.label.get(c.lang)),
            );
            o.tone = if v.state.kind == StateKind::Approved {
                "green"
            } else {
                "red"
            };
            if let Some(h) = decisive {
                let decided = h
                    .payload
                    .get("to")
                    .and_then(Value::as_str)
                    .and_then(|code| c.item.def.state(code))
                    .map(|s| s.label.get(c.lang).to_owned())
                    .unwrap_or_default();
                o.lines.push(pick(
                    c.lang,
                    &format!(
                        "{} 由 {} 办结：{decided}。",
                        c.when(h.at),
                        c.who(h.actor_id)
                    ),
                    &format!(
                        "Decided {} by {}: {decided}.",
                        c.when(h.at),
                        c.who(h.actor_id)
                    ),
                ));
            }
            if let Some(h) = c.since_decision() {
                let action = h.action.trim_start_matches("action:");
                let label = c
                    .item
                    .def
                    .actions
                    .iter()
                    .find(|a| a.code == action)
                    .map(|a| a.label.get(c.lang).to_owned())
                    .unwrap_or_else(|| action.to_owned());
                o.lines.push(pick(
                    c.lang,
                    &format!("此后：{} 由 {} {label}。", c.when(h.at), c.who(h.actor_id)),
                    &format!(
                        "Since then: {label}, {} by {}.",
                        c.when(h.at),
                        c.who(h.actor_id)
                    ),
                ));
            }
            if let Some(r) = payload_text("reason") {
                o.reasons.push((c.t("理由", "Reasons"), r));
            }
            if let Some(op) = payload_text("opinion") {
                o.reasons.push((c.t("审查意见", "Opinion"), op));
            }
            for r in &v.reviews {
                if r.verdict == Some(crate::domain::engine::Verdict::Refuse) {
                    let dept = r
                        .label
                        .as_ref()
                        .map(|l| l.get(c.lang).to_owned())
                        .unwrap_or_else(|| c.department(&r.department));
                    let text = [r.reason.as_deref(), r.opinion.as_deref()]
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.trim().is_empty())
                        .collect::<Vec<_>>()
                        .join("；");
                    o.reasons.push((
                        pick(
                            c.lang,
                            &format!("{dept}不同意的理由"),
                            &format!("{dept} refused because"),
                        ),
                        text,
                    ));
                }
            }
            let adverse = matches!(v.state.kind, StateKind::Refused | StateKind::NotAccepted);
            if adverse {
                o.remedy = Some(match c.lang {
                    Lang::Zh => crate::services::documents::REMEDY.to_owned(),
                    Lang::En => {
                        "If you disagree with this decision, you may apply for administrative \
                                 reconsideration within 60 days of receiving it, or bring an \
                                 administrative lawsuit before a people's court within six months."
                            .to_owned()
                    }
                });
            }
            // The decision's own document: the one its action issued.
            let doc = decisive.and_then(|h| {
                let action = h.action.strip_prefix("action:")?;
                c.documents
                    .iter()
                    .filter(|d| d.superseded_by.is_none())
                    .find(|d| d.action == action)
            });
            if let Some(d) = doc {
                o.document = Some((
                    format!("/filings/{}/documents/{}", v.id, d.id),
                    d.title.get(c.lang).to_owned(),
                ));
            }
            if v.state.kind == StateKind::Approved && !c.documents.is_empty() {
                o.lines.push(c.t(
                    "决定书和证照见下方「文书与证照」，可查看、打印和下载。",
                    "The decision and certificates are under Documents below, to view, print and download.",
                ));
            }
        }
    }
    o
}

/// The timeline, newest first: who did what, with what the entry holds.
pub fn timeline(c: &Context<'_>) -> Vec<Moment> {
    c.history
        .iter()
        .rev()
        .map(|h| Moment {
            at: c.when(h.at),
            what: label(c, &h.action),
            who: c.who(h.actor_id),
            details: details(c, h),
        })
        .collect()
}

fn label(c: &Context<'_>, action: &str) -> String {
    if let Some(a) = action.strip_prefix("action:") {
        return c
            .item
            .def
            .action(a)
            .map(|x| x.label.get(c.lang).to_owned())
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
        "rate" => ("服务评价", "Rated"),
        _ => ("其他操作", "Other"),
    };
    c.t(zh, en)
}

fn details(c: &Context<'_>, h: &HistoryEntry) -> Vec<String> {
    let p = &h.payload;
    let text = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    };
    let mut out = Vec::new();
    match h.action.as_str() {
        "upload_material" | "remove_material" => {
            if let Some(m) = text("material") {
                let file = text("file_name").unwrap_or_default();
                let m = c.material(m);
                out.push(pick(
                    c.lang,
                    &format!("{m}：{file}"),
                    &format!("{m}: {file}"),
                ));
            }
        }
        "extend" => {
            if let Some(d) = p.get("days").and_then(Value::as_i64) {
                out.push(pick(
                    c.lang,
                    &format!("延长 {d} 个工作日"),
                    &format!("{d} working days added"),
                ));
            }
        }
        _ => {}
    }
    if h.action.starts_with("action:") {
        let from = text("from");
        let to = text("to");
        if let (Some(f), Some(t)) = (from, to)
            && f != t
        {
            out.push(format!("{} → {}", c.state_label(f), c.state_label(t)));
        }
        if let Some(r) = p.get("review") {
            let dept = r
                .get("department")
                .and_then(Value::as_str)
                .map(|d| c.department(d))
                .unwrap_or_default();
            let verdict = match r.get("verdict").and_then(Value::as_str) {
                Some("approve") => c.t("同意", "approved"),
                Some("refuse") => c.t("不同意", "refused"),
                _ => String::new(),
            };
            out.push(pick(
                c.lang,
                &format!("{dept}：{verdict}"),
                &format!("{dept}: {verdict}"),
            ));
        }
        if let Some(n) = p.get("notice") {
            let items: Vec<&str> = n
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let problems = n
                .get("problems")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            if !items.is_empty() || problems > 0 {
                let mut all: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
                if problems > 0 {
                    all.push(pick(
                        c.lang,
                        &format!("另有 {problems} 处材料或填报问题"),
                        &format!("and {problems} missing materials or wrong fields"),
                    ));
                }
                out.push(pick(
                    c.lang,
                    &format!("告知补正：{}", all.join("；")),
                    &format!("To supplement: {}", all.join("; ")),
                ));
            }
        }
    }
    for (k, zh, en) in [
        ("reason", "理由", "Reasons"),
        ("opinion", "意见", "Opinion"),
        ("objection", "异议", "Objection"),
        ("comment", "评价意见", "Comment"),
    ] {
        if let Some(t) = text(k) {
            out.push(pick(c.lang, &format!("{zh}：{t}"), &format!("{en}: {t}")));
        }
    }
    for e in p
        .get("clock")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let reason = e
            .get("reason")
            .cloned()
            .and_then(|r| serde_json::from_value::<SuspendReason>(r).ok())
            .map(|r| suspend_reason_text(c.lang, r));
        let line = match (e.get("event").and_then(Value::as_str), reason) {
            (Some("start"), _) => c.t("办理时限开始计算", "The time limit starts"),
            (Some("suspend"), Some(r)) => pick(
                c.lang,
                &format!("办理时限暂停（{r}）"),
                &format!("The time limit pauses ({r})"),
            ),
            (Some("suspend"), None) => c.t("办理时限暂停", "The time limit pauses"),
            (Some("resume"), _) => c.t("办理时限恢复计算", "The time limit runs again"),
            (Some("stop"), _) => c.t("办理时限停止（办结）", "The time limit stops (closed)"),
            _ => continue,
        };
        out.push(line);
    }
    let issued: Vec<String> = p
        .get("documents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("code").and_then(Value::as_str))
        .filter_map(|code| c.item.def.documents.iter().find(|d| d.code == code))
        .map(|d| {
            crate::services::documents::title_of(d)
                .get(c.lang)
                .to_owned()
        })
        .collect();
    if !issued.is_empty() {
        out.push(pick(
            c.lang,
            &format!("出具：{}", issued.join("、")),
            &format!("Issued: {}", issued.join(", ")),
        ));
    }
    out
}
