//! Letters: what a message says, in the recipient's language, rendered through two templates
//! (plain text and HTML, auto-escaped) so that every message has the same shape in both parts.
//!
//! Policy: the wording lives here, in Chinese and English side by side; the templates only lay
//! it out. Nothing user-supplied reaches HTML except through the template's escaping.

use askama::Template;
use chrono::NaiveDate;

use crate::domain::definition::{ApplicantEvent, Escalation, Lang, SuspendReason};
use crate::domain::{Problem, Text};

/// A table in a letter (the digest's work list).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// What a message says, already in one language.
#[derive(Debug, Clone)]
pub struct Letter {
    pub lang: Lang,
    pub subject: String,
    pub greeting: String,
    pub paragraphs: Vec<String>,
    /// Label and value pairs: number, item, state, due date.
    pub facts: Vec<(String, String)>,
    /// A numbered list (everything to supplement, in one notice).
    pub items: Vec<String>,
    pub table: Option<Table>,
    pub link: Option<Link>,
    pub signature: String,
}

/// The three parts stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail/letter.txt", config = "config/askama.toml")]
struct TextPart<'a> {
    l: &'a Letter,
}

#[derive(Template)]
#[template(path = "mail/letter.html", config = "config/askama.toml")]
struct HtmlPart<'a> {
    l: &'a Letter,
    lang: &'a str,
}

impl Letter {
    /// The label separator of the plain-text part.
    pub fn colon(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "：",
            Lang::En => ": ",
        }
    }

    pub fn render(&self) -> Result<Rendered, askama::Error> {
        Ok(Rendered {
            subject: self.subject.clone(),
            text: TextPart { l: self }.render()?,
            html: HtmlPart {
                l: self,
                lang: self.lang.tag(),
            }
            .render()?,
        })
    }
}

fn pick(lang: Lang, zh: impl Into<String>, en: impl Into<String>) -> String {
    match lang {
        Lang::Zh => zh.into(),
        Lang::En => en.into(),
    }
}

fn date(lang: Lang, d: NaiveDate) -> String {
    match lang {
        Lang::Zh => d.format("%Y年%-m月%-d日").to_string(),
        Lang::En => d.format("%-d %B %Y").to_string(),
    }
}

fn greeting(lang: Lang, name: &str) -> String {
    pick(lang, format!("{name}，您好："), format!("Dear {name},"))
}

fn signature(lang: Lang, authority: &Text) -> String {
    pick(
        lang,
        format!("{}（系统邮件，请勿直接回复）", authority.zh),
        format!(
            "{} (an automatic message: please do not reply)",
            authority.en
        ),
    )
}

/// The facts about one filing every letter about it carries.
#[derive(Debug, Clone)]
pub struct FilingFacts<'a> {
    pub number: Option<&'a str>,
    pub item: &'a Text,
    pub state: &'a Text,
    pub url: String,
}

impl FilingFacts<'_> {
    fn rows(&self, lang: Lang) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        if let Some(n) = self.number {
            rows.push((pick(lang, "办件编号", "Filing number"), n.to_owned()));
        }
        rows.push((
            pick(lang, "办理事项", "Item"),
            self.item.get(lang).to_owned(),
        ));
        rows.push((
            pick(lang, "当前状态", "Status"),
            self.state.get(lang).to_owned(),
        ));
        rows
    }

    fn link(&self, lang: Lang) -> Link {
        Link {
            label: pick(lang, "查看办件", "Open the filing"),
            url: self.url.clone(),
        }
    }

    fn reference(&self, lang: Lang) -> String {
        match self.number {
            Some(n) => n.to_owned(),
            None => pick(lang, "您的申请", "your application"),
        }
    }
}

/// Everything a letter to the applicant about an event may mention.
#[derive(Debug, Clone, Default)]
pub struct EventDetail<'a> {
    pub statutory_due: Option<NaiveDate>,
    pub promised_due: Option<NaiveDate>,
    pub remaining_working_days: Option<i64>,
    pub suspend_reason: Option<SuspendReason>,
    pub notice_problems: &'a [Problem],
    pub notice_items: &'a [String],
    pub reason: Option<&'a str>,
    pub opinion: Option<&'a str>,
    /// For a decision: whether it is favourable.
    pub approved: bool,
    /// The statutory clock started before this event, on receipt (建筑法 §8).
    pub clock_from_receipt: bool,
    /// The documents the action issued (受理通知书, 施工许可证), to be found on the filing.
    pub documents: &'a [Text],
}

pub fn suspend_reason_text(r: SuspendReason) -> Text {
    let (zh, en) = match r {
        SuspendReason::Supplement => ("补正材料", "supplementing the application"),
        SuspendReason::ExpertReview => ("专家评审", "expert review"),
        SuspendReason::PublicNotice => ("公示", "public notice"),
        SuspendReason::SiteInspection => ("现场勘验", "site inspection"),
        SuspendReason::Testing => ("检验检测", "testing"),
        SuspendReason::Hearing => ("听证", "a hearing"),
        SuspendReason::Rectification => ("整改", "rectification"),
        SuspendReason::Mediation => ("调解", "mediation"),
    };
    Text {
        zh: zh.into(),
        en: en.into(),
    }
}

/// A letter to the applicant about an event in their filing.
pub fn applicant_event(
    lang: Lang,
    name: &str,
    authority: &Text,
    event: ApplicantEvent,
    f: &FilingFacts<'_>,
    d: &EventDetail<'_>,
) -> Letter {
    let reference = f.reference(lang);
    let item = f.item.get(lang);
    let state = f.state.get(lang);
    let mut facts = f.rows(lang);
    let mut paragraphs = Vec::new();
    let mut items = Vec::new();
    let reasons_and_opinion = |facts: &mut Vec<(String, String)>| {
        if let Some(r) = d.reason {
            facts.push((pick(lang, "理由", "Reasons"), r.to_owned()));
        }
        if let Some(o) = d.opinion {
            facts.push((pick(lang, "意见", "Opinion"), o.to_owned()));
        }
    };
    let due_rows = |facts: &mut Vec<(String, String)>| {
        if let Some(p) = d.promised_due {
            facts.push((pick(lang, "承诺办结日期", "Promised by"), date(lang, p)));
        }
        if let Some(s) = d.statutory_due {
            facts.push((
                pick(lang, "法定办结期限", "Statutory deadline"),
                date(lang, s),
            ));
        }
    };
    let subject = match event {
        ApplicantEvent::Received => {
            paragraphs.push(pick(
                lang,
                format!("您申请的「{item}」已收件，办件编号 {reference}。窗口将审查材料是否齐全，并告知是否受理。"),
                format!("We have received your application for {item}, number {reference}. The window will check that it is complete and tell you whether it is accepted."),
            ));
            if d.statutory_due.is_some() {
                paragraphs.push(pick(
                    lang,
                    "办理时限自收件次日起按工作日计算；需要补正的，补正期间不计入。",
                    "The time limit counts in working days from the day after receipt; time spent supplementing the application is not counted.",
                ));
                due_rows(&mut facts);
            }
            pick(
                lang,
                format!("【收件】{reference} {item}"),
                format!("Received: {reference} {item}"),
            )
        }
        ApplicantEvent::Accepted => {
            paragraphs.push(if d.clock_from_receipt {
                pick(
                    lang,
                    format!("您的申请 {reference} 已受理。办理时限自收件次日起按工作日计算，补正期间不计入。"),
                    format!("Your application {reference} has been accepted. The time limit counts in working days from the day after receipt; time spent supplementing it is not counted."),
                )
            } else {
                pick(
                    lang,
                    format!("您的申请 {reference} 已受理。办理时限自受理次日起按工作日计算。"),
                    format!("Your application {reference} has been accepted. The time limit counts in working days from the day after acceptance."),
                )
            });
            // Accepted into a step the law does not count (a public notice): told at once.
            if let Some(r) = d.suspend_reason {
                let why = suspend_reason_text(r).get(lang).to_owned();
                paragraphs.push(pick(
                    lang,
                    format!("依照《行政许可法》第四十五条，申请现进入「{why}」环节，所需时间不计入办理时限。"),
                    format!("Under Article 45 of the Administrative Licensing Law, the application now enters {why}; the time it takes is not counted in the time limit."),
                ));
            }
            due_rows(&mut facts);
            pick(
                lang,
                format!("【已受理】{reference} {item}"),
                format!("Accepted: {reference} {item}"),
            )
        }
        ApplicantEvent::SupplementRequested => {
            paragraphs.push(pick(
                lang,
                format!("您的申请 {reference} 需要补正。以下是需要补正的全部内容（一次性告知），请一并补齐后重新提交。补正期间办理时限暂停计算。"),
                format!("Your application {reference} needs to be supplemented. Below is everything that is missing or wrong, told at once: please put all of it right and submit again. The time limit is suspended meanwhile."),
            ));
            for p in d.notice_problems {
                items.push(p.message.get(lang).to_owned());
            }
            items.extend(d.notice_items.iter().cloned());
            pick(
                lang,
                format!("【补正告知】{reference} {item}"),
                format!("Supplement needed: {reference} {item}"),
            )
        }
        ApplicantEvent::ClockSuspended => {
            let why = d
                .suspend_reason
                .map(|r| suspend_reason_text(r).get(lang).to_owned())
                .unwrap_or_default();
            paragraphs.push(pick(
                lang,
                format!("依照《行政许可法》第四十五条，您的申请 {reference} 进入「{why}」环节，所需时间不计入办理时限。"),
                format!("Under Article 45 of the Administrative Licensing Law, your application {reference} has entered {why}; the time it takes is not counted in the time limit."),
            ));
            if let Some(r) = d.remaining_working_days {
                facts.push((pick(lang, "剩余工作日", "Working days left"), r.to_string()));
            }
            pick(
                lang,
                format!("【计时暂停】{reference} {item}"),
                format!("Clock suspended: {reference} {item}"),
            )
        }
        ApplicantEvent::ClockResumed => {
            paragraphs.push(pick(
                lang,
                format!("您的申请 {reference} 恢复计时，当前状态为「{state}」。"),
                format!("The time limit of your application {reference} runs again; it is now at: {state}."),
            ));
            if let Some(r) = d.remaining_working_days {
                facts.push((pick(lang, "剩余工作日", "Working days left"), r.to_string()));
            }
            due_rows(&mut facts);
            pick(
                lang,
                format!("【恢复计时】{reference} {item}"),
                format!("Clock resumed: {reference} {item}"),
            )
        }
        ApplicantEvent::Decided => {
            paragraphs.push(if d.approved {
                pick(
                    lang,
                    format!("您的申请 {reference} 已办结，结果为「{state}」。"),
                    format!("Your application {reference} has been decided: {state}."),
                )
            } else {
                pick(
                    lang,
                    format!("您的申请 {reference} 已办结，结果为「{state}」。如对决定不服，可依法申请行政复议或者提起行政诉讼。"),
                    format!("Your application {reference} has been decided: {state}. You may apply for administrative reconsideration or bring an administrative lawsuit."),
                )
            });
            reasons_and_opinion(&mut facts);
            pick(
                lang,
                format!("【办结】{reference} {item}：{state}"),
                format!("Decided: {reference} {item}: {state}"),
            )
        }
        ApplicantEvent::StateEntered => {
            paragraphs.push(pick(
                lang,
                format!("您的申请 {reference} 现为「{state}」。"),
                format!("Your application {reference} is now: {state}."),
            ));
            reasons_and_opinion(&mut facts);
            pick(
                lang,
                format!("【办件进度】{reference} {item}：{state}"),
                format!("Update: {reference} {item}: {state}"),
            )
        }
    };
    if !d.documents.is_empty() {
        let titles: Vec<&str> = d.documents.iter().map(|t| t.get(lang)).collect();
        paragraphs.push(pick(
            lang,
            format!(
                "本次出具的文书：{}。文书加盖电子印章，与纸质文书具有同等效力；请登录后在办件页面的「文书与证照」栏查看、下载或打印：{}#documents",
                titles.join("、"),
                f.url
            ),
            format!(
                "Issued with this step: {}. They carry the bureau's electronic seal and have the force of paper; sign in to view, download or print them under \"Documents and certificates\" on the filing: {}#documents",
                titles.join(", "),
                f.url
            ),
        ));
    }
    Letter {
        lang,
        subject,
        greeting: greeting(lang, name),
        paragraphs,
        facts,
        items,
        table: None,
        link: Some(f.link(lang)),
        signature: signature(lang, authority),
    }
}

/// A reminder of a deadline on the applicant.
pub fn applicant_reminder(
    lang: Lang,
    name: &str,
    authority: &Text,
    what: &Text,
    due: NaiveDate,
    today: NaiveDate,
    f: &FilingFacts<'_>,
) -> Letter {
    let reference = f.reference(lang);
    let what_l = what.get(lang);
    let when = date(lang, due);
    let mut facts = f.rows(lang);
    facts.push((pick(lang, "期限", "Deadline"), when.clone()));
    let paragraph = if due == today {
        pick(
            lang,
            format!("提醒：{reference} 的「{what_l}」期限为今天（{when}）。"),
            format!("Reminder: the deadline for {what_l} ({reference}) is today, {when}."),
        )
    } else {
        pick(
            lang,
            format!("提醒：{reference} 的「{what_l}」期限为 {when}，请在期限前办理。"),
            format!(
                "Reminder: the deadline for {what_l} ({reference}) is {when}. Please act before then."
            ),
        )
    };
    Letter {
        lang,
        subject: pick(
            lang,
            format!("【期限提醒】{reference} {what_l}：{when}"),
            format!("Deadline reminder: {reference} {what_l} by {when}"),
        ),
        greeting: greeting(lang, name),
        paragraphs: vec![paragraph],
        facts,
        items: Vec::new(),
        table: None,
        link: Some(f.link(lang)),
        signature: signature(lang, authority),
    }
}

/// A yellow or red card for a manager.
pub fn escalation(
    lang: Lang,
    name: &str,
    authority: &Text,
    level: Escalation,
    due: NaiveDate,
    f: &FilingFacts<'_>,
) -> Letter {
    let reference = f.reference(lang);
    let item = f.item.get(lang);
    let when = date(lang, due);
    let mut facts = f.rows(lang);
    facts.push((pick(lang, "办理期限", "Due"), when.clone()));
    let (subject, paragraph) = match level {
        Escalation::Yellow => (
            pick(
                lang,
                format!("【黄牌预警】{reference} {item} 将于 {when} 到期"),
                format!("Yellow card: {reference} {item} is due on {when}"),
            ),
            pick(
                lang,
                format!("办件 {reference} 临近办理期限（{when}），请督促按时办结。"),
                format!(
                    "Filing {reference} is close to its deadline ({when}): please see that it is decided in time."
                ),
            ),
        ),
        Escalation::Red => (
            pick(
                lang,
                format!("【红牌督办】{reference} {item} 已超过办理期限"),
                format!("Red card: {reference} {item} is overdue"),
            ),
            pick(
                lang,
                format!(
                    "办件 {reference} 已超过办理期限（{when}），请立即督办，必要时依法办理延期。"
                ),
                format!(
                    "Filing {reference} passed its deadline ({when}): act now, and extend the limit lawfully where needed."
                ),
            ),
        ),
    };
    Letter {
        lang,
        subject,
        greeting: greeting(lang, name),
        paragraphs: vec![paragraph],
        facts,
        items: Vec::new(),
        table: None,
        link: Some(f.link(lang)),
        signature: signature(lang, authority),
    }
}

/// One filing in a card listing several.
#[derive(Debug, Clone)]
pub struct CardLine {
    pub number: String,
    pub item: Text,
    pub state: Text,
    pub due: NaiveDate,
}

/// Yellow or red cards for several filings that turned in one scan, in one letter: a manager
/// is told of 170 overdue filings once, not 170 times.
pub fn escalations(
    lang: Lang,
    name: &str,
    authority: &Text,
    level: Escalation,
    lines: &[CardLine],
    dashboard_url: String,
) -> Letter {
    let n = lines.len();
    let (subject, paragraph) = match level {
        Escalation::Yellow => (
            pick(
                lang,
                format!("【黄牌预警】{n} 件办件临近办理期限"),
                format!("Yellow cards: {n} filings close to their deadline"),
            ),
            pick(
                lang,
                format!("以下 {n} 件办件临近办理期限，请督促按时办结。"),
                format!(
                    "These {n} filings are close to their deadline: please see that they are decided in time."
                ),
            ),
        ),
        Escalation::Red => (
            pick(
                lang,
                format!("【红牌督办】{n} 件办件已超过办理期限"),
                format!("Red cards: {n} filings overdue"),
            ),
            pick(
                lang,
                format!("以下 {n} 件办件已超过办理期限，请立即督办，必要时依法办理延期。"),
                format!(
                    "These {n} filings passed their deadline: act now, and extend limits lawfully where needed."
                ),
            ),
        ),
    };
    Letter {
        lang,
        subject,
        greeting: greeting(lang, name),
        paragraphs: vec![paragraph],
        facts: Vec::new(),
        items: Vec::new(),
        table: Some(Table {
            headers: vec![
                pick(lang, "办件编号", "Number"),
                pick(lang, "事项", "Item"),
                pick(lang, "状态", "Status"),
                pick(lang, "办理期限", "Due"),
            ],
            rows: lines
                .iter()
                .map(|l| {
                    vec![
                        l.number.clone(),
                        l.item.get(lang).to_owned(),
                        l.state.get(lang).to_owned(),
                        date(lang, l.due),
                    ]
                })
                .collect(),
        }),
        link: Some(Link {
            label: pick(lang, "打开时限监控", "Open the dashboard"),
            url: dashboard_url,
        }),
        signature: signature(lang, authority),
    }
}

/// One line of a clerk's digest.
#[derive(Debug, Clone)]
pub struct DigestLine {
    pub number: String,
    pub item: Text,
    pub state: Text,
    pub due: Option<NaiveDate>,
    pub claimed: bool,
}

/// The daily digest of a member of staff.
pub fn digest(
    lang: Lang,
    name: &str,
    authority: &Text,
    today: NaiveDate,
    lines: &[DigestLine],
    more: usize,
    queue_url: String,
) -> Letter {
    let claimed = lines.iter().filter(|l| l.claimed).count();
    let waiting = lines.len() - claimed;
    let mut paragraphs = vec![pick(
        lang,
        format!("今日待办：您已认领 {claimed} 件，所在部门临近期限未认领 {waiting} 件。"),
        format!(
            "Today: {claimed} filings claimed by you, {waiting} unclaimed in your department close to their deadline."
        ),
    )];
    if more > 0 {
        paragraphs.push(pick(
            lang,
            format!("另有 {more} 件未列出，请在工作台查看。"),
            format!("{more} more are not listed: see the queue."),
        ));
    }
    let table = Table {
        headers: vec![
            pick(lang, "办件编号", "Number"),
            pick(lang, "事项", "Item"),
            pick(lang, "状态", "Status"),
            pick(lang, "期限", "Due"),
            pick(lang, "认领", "Claimed"),
        ],
        rows: lines
            .iter()
            .map(|l| {
                vec![
                    l.number.clone(),
                    l.item.get(lang).to_owned(),
                    l.state.get(lang).to_owned(),
                    l.due.map(|d| date(lang, d)).unwrap_or_else(|| "—".into()),
                    if l.claimed {
                        pick(lang, "本人", "you")
                    } else {
                        pick(lang, "未认领", "open")
                    },
                ]
            })
            .collect(),
    };
    Letter {
        lang,
        subject: pick(
            lang,
            format!(
                "【每日待办】{} 共 {} 件",
                date(lang, today),
                lines.len() + more
            ),
            format!(
                "Daily work list for {}: {} filings",
                date(lang, today),
                lines.len() + more
            ),
        ),
        greeting: greeting(lang, name),
        paragraphs,
        facts: Vec::new(),
        items: Vec::new(),
        table: Some(table),
        link: Some(Link {
            label: pick(lang, "打开工作台", "Open the queue"),
            url: queue_url,
        }),
        signature: signature(lang, authority),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn authority() -> Text {
        Text {
            zh: "某区住房和城乡建设局".into(),
            en: "District Housing and Construction Bureau".into(),
        }
    }

    fn facts<'a>(item: &'a Text, state: &'a Text) -> FilingFacts<'a> {
        FilingFacts {
            number: Some("SGXK-2026-000001"),
            item,
            state,
            url: "http://example.test/filings/1?a=1&b=2".into(),
        }
    }

    #[test]
    fn a_supplement_letter_lists_every_problem_in_both_parts_and_languages() {
        let item = Text {
            zh: "施工许可".into(),
            en: "Construction permit".into(),
        };
        let state = Text {
            zh: "待补正".into(),
            en: "Supplement requested".into(),
        };
        let problems = vec![Problem::new(
            "materials.drawings",
            "required",
            "缺少施工图审查合格书",
            "The drawing review certificate is missing",
        )];
        let extra = vec!["合同价款与中标通知书不一致 <b>".to_owned()];
        let d = EventDetail {
            notice_problems: &problems,
            notice_items: &extra,
            ..Default::default()
        };
        let zh = applicant_event(
            Lang::Zh,
            "张三",
            &authority(),
            ApplicantEvent::SupplementRequested,
            &facts(&item, &state),
            &d,
        )
        .render()
        .unwrap();
        assert_eq!(zh.subject, "【补正告知】SGXK-2026-000001 施工许可");
        assert!(zh.text.contains("张三，您好："), "{}", zh.text);
        assert!(zh.text.contains("1. 缺少施工图审查合格书"), "{}", zh.text);
        assert!(
            zh.text.contains("2. 合同价款与中标通知书不一致 <b>"),
            "{}",
            zh.text
        );
        // The HTML part escapes what a clerk typed, and the link's ampersand.
        assert!(
            zh.html.contains("合同价款与中标通知书不一致 &#60;b&#62;"),
            "{}",
            zh.html
        );
        assert!(!zh.html.contains("<b>"), "{}", zh.html);
        assert!(zh.html.contains("lang=\"zh-CN\""));
        assert!(zh.html.contains("a=1&#38;b=2"), "{}", zh.html);

        let en = applicant_event(
            Lang::En,
            "Zhang San",
            &authority(),
            ApplicantEvent::SupplementRequested,
            &facts(&item, &state),
            &d,
        )
        .render()
        .unwrap();
        assert_eq!(
            en.subject,
            "Supplement needed: SGXK-2026-000001 Construction permit"
        );
        assert!(
            en.text
                .contains("1. The drawing review certificate is missing"),
            "{}",
            en.text
        );
        assert!(en.text.contains("Dear Zhang San,"));
    }

    #[test]
    fn a_reminder_on_the_day_says_today() {
        let item = Text {
            zh: "施工许可".into(),
            en: "Construction permit".into(),
        };
        let state = Text {
            zh: "已发证".into(),
            en: "Issued".into(),
        };
        let what = Text {
            zh: "按期开工".into(),
            en: "the start of works".into(),
        };
        let due = NaiveDate::from_ymd_opt(2026, 6, 16).unwrap();
        let l = applicant_reminder(
            Lang::Zh,
            "张三",
            &authority(),
            &what,
            due,
            due,
            &facts(&item, &state),
        )
        .render()
        .unwrap();
        assert!(l.text.contains("期限为今天（2026年6月16日）"), "{}", l.text);
        let l = applicant_reminder(
            Lang::En,
            "Zhang",
            &authority(),
            &what,
            due,
            due.pred_opt().unwrap(),
            &facts(&item, &state),
        )
        .render()
        .unwrap();
        assert_eq!(
            l.subject,
            "Deadline reminder: SGXK-2026-000001 the start of works by 16 June 2026"
        );
    }

    #[test]
    fn a_digest_renders_its_table() {
        let lines = vec![DigestLine {
            number: "XFBA-2026-000007".into(),
            item: Text {
                zh: "消防备案".into(),
                en: "Fire filing".into(),
            },
            state: Text {
                zh: "待备案".into(),
                en: "Awaiting filing".into(),
            },
            due: NaiveDate::from_ymd_opt(2026, 11, 24),
            claimed: true,
        }];
        let l = digest(
            Lang::Zh,
            "李四",
            &authority(),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            &lines,
            2,
            "http://example.test/queue".into(),
        )
        .render()
        .unwrap();
        assert_eq!(l.subject, "【每日待办】2026年11月23日 共 3 件");
        assert!(l.html.contains("<td>XFBA-2026-000007</td>"), "{}", l.html);
        assert!(
            l.text
                .contains("XFBA-2026-000007 | 消防备案 | 待备案 | 2026年11月24日 | 本人"),
            "{}",
            l.text
        );
        assert!(l.text.contains("另有 2 件未列出"));
    }
}
