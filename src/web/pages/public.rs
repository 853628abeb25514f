//! Public pages: the item catalogue, each item's service guide (办事指南), the working-day
//! calculator.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::{PageError, Ui, Viewer};
use crate::app::AppState;
use crate::domain::Lang;
use crate::domain::definition::{DayUnit, Definition, Limit, StateKind};
use crate::web::extract::Query;

fn limit_text(lang: Lang, l: Limit) -> String {
    match (lang, l.unit) {
        (Lang::Zh, DayUnit::Working) => format!("{} 个工作日", l.days),
        (Lang::Zh, DayUnit::Calendar) => format!("{} 日", l.days),
        (Lang::En, DayUnit::Working) => {
            super::words::en_count(l.days, "working day", "working days")
        }
        (Lang::En, DayUnit::Calendar) => {
            super::words::en_count(l.days, "calendar day", "calendar days")
        }
    }
}

pub struct CatalogueLine {
    pub code: String,
    pub name: crate::domain::Text,
    pub statutory: String,
    pub promised: Option<String>,
    pub materials: usize,
    pub fees: String,
}

#[derive(Template)]
#[template(path = "pages/index.html", config = "config/askama.toml")]
struct Index {
    ui: Ui,
    items: Vec<CatalogueLine>,
}

/// The catalogue of items.
#[get("/")]
pub async fn index(state: web::Data<AppState>, mut v: Viewer) -> Result<HttpResponse, PageError> {
    v.identify(&state).await?;
    let items = state.items.all_latest();
    let lines = items
        .iter()
        .map(|i| CatalogueLine {
            code: i.def.code.clone(),
            name: i.def.name.clone(),
            statutory: limit_text(v.lang, i.def.limits.statutory),
            promised: i.def.limits.promised.map(|p| limit_text(v.lang, p)),
            materials: i.def.materials.len(),
            fees: i
                .def
                .fees
                .as_ref()
                .map(|f| f.get(v.lang).to_owned())
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    v.render(
        StatusCode::OK,
        &Index {
            ui: v.ui(),
            items: lines,
        },
    )
}

pub struct Step {
    pub code: String,
    pub label: String,
    /// The stage the state belongs to, when its label does not say it already ("Under
    /// review" is a review; "Awaiting acceptance" is said to be at intake).
    pub kind: Option<String>,
    /// (action, target state code, target state label)
    pub ways: Vec<(String, String, String)>,
}

fn kind_text(lang: Lang, k: StateKind) -> &'static str {
    let (zh, en) = match k {
        StateKind::Draft => ("填写", "draft"),
        StateKind::Intake => ("受理", "intake"),
        StateKind::Review => ("审查", "review"),
        StateKind::WaitingApplicant => ("待申请人", "with the applicant"),
        StateKind::Suspended => ("计时暂停", "clock suspended"),
        StateKind::Approved => ("办结（准予）", "closed: granted"),
        StateKind::Refused => ("办结（不予）", "closed: refused"),
        StateKind::Withdrawn => ("撤回", "withdrawn"),
        StateKind::NotAccepted => ("不予受理", "not accepted"),
    };
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// The steps of an item in definition order, each with the ways out of it: a diagram as a
/// list, readable without scripts and by screen readers.
fn steps(def: &Definition, lang: Lang) -> Vec<Step> {
    def.states
        .iter()
        .map(|s| Step {
            code: s.code.clone(),
            label: s.label.get(lang).to_owned(),
            kind: {
                let kind = kind_text(lang, s.kind);
                let label = s.label.get(lang).to_lowercase();
                (!label.contains(&kind.to_lowercase())).then(|| match lang {
                    Lang::Zh => format!("阶段：{kind}"),
                    Lang::En => format!("stage: {kind}"),
                })
            },
            ways: def
                .actions_from(&s.code)
                .map(|a| {
                    // An action without `to` keeps the filing where it is.
                    let to_code = a.to.clone().unwrap_or_else(|| s.code.clone());
                    let to = def
                        .state(&to_code)
                        .map(|t| t.label.get(lang).to_owned())
                        .unwrap_or_else(|| to_code.clone());
                    (a.label.get(lang).to_owned(), to_code, to)
                })
                .collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "pages/item.html", config = "config/askama.toml")]
struct ItemPage<'a> {
    ui: Ui,
    def: &'a Definition,
    version: i32,
    department: String,
    statutory: String,
    promised: Option<String>,
    steps: Vec<Step>,
}

impl ItemPage<'_> {
    /// When a conditional material is asked for, in the viewer's language.
    fn when(&self, c: &crate::domain::definition::Condition) -> String {
        super::condition_text(self.def, c, self.ui.lang)
    }
}

/// An item's service guide: conditions, materials, limits, basis, the steps.
#[get("/items/{code}")]
pub async fn item(
    state: web::Data<AppState>,
    mut v: Viewer,
    code: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let code = code.into_inner();
    let found = v
        .run_public(&state, move |conn, ctx, _| {
            let item = ctx
                .items
                .latest(&code)
                .ok_or(crate::error::AppError::NotFound)?;
            let dept = crate::services::staff::departments(conn)?
                .into_iter()
                .find(|d| d.code == item.def.department);
            Ok((item, dept))
        })
        .await?;
    let (item, dept) = found;
    let department = dept
        .map(|d| match v.lang {
            Lang::Zh => d.name_zh,
            Lang::En => d.name_en,
        })
        .unwrap_or_else(|| item.def.department.clone());
    v.render(
        StatusCode::OK,
        &ItemPage {
            ui: v.ui(),
            def: &item.def,
            version: item.version,
            department,
            statutory: limit_text(v.lang, item.def.limits.statutory),
            promised: item.def.limits.promised.map(|p| limit_text(v.lang, p)),
            steps: steps(&item.def, v.lang),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct CalcQuery {
    pub from: Option<String>,
    pub days: Option<String>,
}

pub struct CalcResult {
    pub date: String,
    pub weekday: &'static str,
    pub provisional: bool,
}

#[derive(Template)]
#[template(path = "pages/calculator.html", config = "config/askama.toml")]
struct Calculator {
    ui: Ui,
    from: String,
    days: String,
    from_error: Option<&'static str>,
    days_error: Option<&'static str>,
    result: Option<CalcResult>,
}

fn weekday(lang: Lang, d: NaiveDate) -> &'static str {
    let i = d.weekday().num_days_from_monday() as usize;
    match lang {
        Lang::Zh => [
            "星期一",
            "星期二",
            "星期三",
            "星期四",
            "星期五",
            "星期六",
            "星期日",
        ][i],
        Lang::En => [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ][i],
    }
}

/// The N-th working day after a date, on the authority's calendar. Bad input is shown next to
/// its field, with the values kept.
#[get("/calculator")]
pub async fn calculator(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<CalcQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    v.identify(&state).await?;
    let ui = v.ui();
    let submitted = q.from.is_some() || q.days.is_some();
    let from_raw = q.from.unwrap_or_default();
    let days_raw = q.days.unwrap_or_default();
    let mut page = Calculator {
        from_error: None,
        days_error: None,
        result: None,
        from: from_raw.clone(),
        days: days_raw.clone(),
        ui,
    };
    if submitted {
        let from = crate::domain::calendar::parse_typed_date(&from_raw);
        // The date input shows the date only when it is written as ISO.
        if let Some(d) = from {
            page.from = d.to_string();
        }
        let days = days_raw.trim().parse::<u32>().ok().filter(|d| *d <= 3650);
        if from.is_none() {
            page.from_error = Some(page.ui.t(
                "请填写有效日期，如 2026-09-25",
                "Enter a valid date, e.g. 2026-09-25",
            ));
        }
        if days.is_none() {
            page.days_error = Some(page.ui.t(
                "请填写 0 到 3650 之间的整数",
                "Enter a whole number from 0 to 3650",
            ));
        }
        if let (Some(from), Some(days)) = (from, days) {
            let cal = state.calendar().map_err(|e| PageError::from_app(&v, e))?;
            match cal.calendar.add_working_days(from, days) {
                Ok(a) => {
                    page.result = Some(CalcResult {
                        date: a.value.format("%Y-%m-%d").to_string(),
                        weekday: weekday(v.lang, a.value),
                        provisional: a.provisional,
                    })
                }
                Err(_) => {
                    page.from_error = Some(page.ui.t(
                        "日期超出日历范围（2000—2099 年）",
                        "The date is outside the calendar (2000–2099)",
                    ))
                }
            }
        }
    }
    let status = if page.from_error.is_some() || page.days_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    v.render(status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_day_is_singular_in_english() {
        let limit = |days| Limit {
            days,
            unit: DayUnit::Working,
        };
        assert_eq!(limit_text(Lang::En, limit(1)), "1 working day");
        assert_eq!(limit_text(Lang::En, limit(20)), "20 working days");
        assert_eq!(limit_text(Lang::Zh, limit(1)), "1 个工作日");
    }
}
