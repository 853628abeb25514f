//! Calendars: public lookups, and loading a year's notice (administrators).

use actix_web::{HttpResponse, get, put, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::domain::calendar::{SpecialDay, YearEntry};
use crate::domain::{Problem, Text};
use crate::error::AppError;
use crate::services::calendars::{self, Loaded};
use crate::web::extract::{Bearer, Body, Query};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegionSummary {
    pub region: String,
    pub name: Text,
    pub base: Option<String>,
}

/// The regions with a calendar. Public.
#[utoipa::path(tag = "calendars", responses((status = 200, body = [RegionSummary])))]
#[get("/calendars")]
pub async fn regions(state: web::Data<AppState>) -> HttpResponse {
    let list: Vec<RegionSummary> = state
        .calendars
        .regions()
        .into_iter()
        .filter_map(|r| {
            state.calendars.get(&r).map(|c| RegionSummary {
                region: r,
                name: c.name.clone(),
                base: c.base.clone(),
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct YearView {
    pub region: String,
    pub year: i32,
    /// No notice is loaded for the year: only the statutory holidays are known.
    pub provisional: bool,
    pub notice: Option<String>,
    /// Every non-ordinary day: holidays, make-up working days, statutory or local holidays.
    pub days: Vec<SpecialDay>,
}

fn region_of(
    state: &AppState,
    region: &str,
) -> Result<std::sync::Arc<calendars::RegionCalendar>, AppError> {
    state.calendars.get(region).ok_or(AppError::NotFound)
}

/// A year of a region's calendar. Public.
#[utoipa::path(tag = "calendars", params(("region" = String, Path, example = "CN"), ("year" = i32, Path, example = 2026)),
    responses((status = 200, body = YearView), (status = 404), (status = 422)))]
#[get("/calendars/{region}/{year}")]
pub async fn get_year(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (region, year) = path.into_inner();
    let rc = region_of(&state, &region)?;
    let year: i32 = year.parse().map_err(|_| {
        AppError::one_invalid(
            "year",
            "invalid_format",
            "年份须为整数，如 2026",
            "The year must be a number, e.g. 2026",
        )
    })?;
    let days = rc
        .calendar
        .special_days(year)
        .map_err(|e| AppError::one_invalid("year", "out_of_range", e.to_string(), e.to_string()))?;
    Ok(HttpResponse::Ok().json(YearView {
        region,
        year,
        provisional: rc.calendar.is_provisional(year),
        notice: rc.calendar.notice(year).map(str::to_owned),
        days,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AddQuery {
    /// YYYY-MM-DD; the day itself is not counted (民法典 §201).
    #[param(format = Date)]
    pub from: Option<String>,
    /// 0 to 3650.
    #[param(pattern = "^[0-9]{1,4}$")]
    pub days: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DateAnswer {
    #[schema(value_type = String, example = "2025-10-23")]
    pub date: NaiveDate,
    pub provisional: bool,
}

/// The N-th working day after a date. Public.
#[utoipa::path(tag = "calendars", params(("region" = String, Path, example = "CN"), AddQuery),
    responses((status = 200, body = DateAnswer), (status = 404), (status = 422, description = "bad date or number")))]
#[get("/calendars/{region}/working-days/add")]
pub async fn add(
    state: web::Data<AppState>,
    region: web::Path<String>,
    q: Query<AddQuery>,
) -> Result<HttpResponse, AppError> {
    let rc = region_of(&state, &region)?;
    let q = q.into_inner()?;
    let mut problems = Vec::new();
    let from = match q
        .from
        .as_deref()
        .map(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d"))
    {
        Some(Ok(d)) => Some(d),
        Some(Err(_)) => {
            problems.push(Problem::new(
                "from",
                "invalid_date",
                "from 须为 YYYY-MM-DD 格式的有效日期",
                "from must be a valid YYYY-MM-DD date",
            ));
            None
        }
        None => {
            problems.push(Problem::new(
                "from",
                "required",
                "请给出起算日期 from",
                "from is required",
            ));
            None
        }
    };
    let days = match q.days.as_deref().map(|s| s.trim().parse::<u32>()) {
        Some(Ok(n)) if n <= 3650 => Some(n),
        Some(_) => {
            problems.push(Problem::new(
                "days",
                "out_of_range",
                "days 须为 0 到 3650 之间的整数",
                "days must be a whole number from 0 to 3650",
            ));
            None
        }
        None => {
            problems.push(Problem::new(
                "days",
                "required",
                "请给出工作日数 days",
                "days is required",
            ));
            None
        }
    };
    let (Some(from), Some(days)) = (from, days) else {
        return Err(AppError::Validation(problems));
    };
    let ans = rc
        .calendar
        .add_working_days(from, days)
        .map_err(|e| AppError::one_invalid("from", "out_of_range", e.to_string(), e.to_string()))?;
    Ok(HttpResponse::Ok().json(DateAnswer {
        date: ans.value,
        provisional: ans.provisional,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadYear {
    /// The notice, e.g. 国办发明电〔2026〕N号.
    pub notice: String,
    /// Dates or inclusive ranges (`2027-02-05..2027-02-12`).
    pub holidays: Vec<String>,
    pub workdays: Vec<String>,
}

/// Load (or replace) a year's State Council notice; open filings' deadlines are recomputed and
/// the change is audited (administrators).
#[utoipa::path(tag = "calendars", params(("region" = String, Path), ("year" = i32, Path)), request_body = LoadYear,
    responses((status = 200, body = Loaded), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
#[put("/calendars/{region}/{year}")]
pub async fn load(
    state: web::Data<AppState>,
    who: Bearer,
    path: web::Path<(String, i32)>,
    body: Body<LoadYear>,
) -> Result<HttpResponse, AppError> {
    let (region, year) = path.into_inner();
    let body = body.into_inner()?;
    let entry = YearEntry {
        year,
        notice: body.notice,
        holidays: body.holidays,
        workdays: body.workdays,
    };
    let st = state.clone();
    let loaded = state
        .run_as(who, move |conn, ctx, p| {
            p.require(&[crate::domain::definition::Role::Admin])?;
            calendars::load_year(
                conn,
                &st.calendars,
                ctx.items,
                &st.settings.authority.region,
                Some(p.user_id),
                &region,
                &entry,
                ctx.now,
                ctx.offset,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(loaded))
}
