//! Calendars: seeded from `seeds/calendars`, stored in the database, served from memory.
//!
//! Policy: the database is the truth. Seed files add regions and the years that are not stored
//! yet; they never overwrite a year an administrator loaded. An administrator loading a new
//! year's notice replaces that year, the change is audited, and every open filing's deadlines
//! are recomputed with the new calendar.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::domain::Text;
use crate::domain::calendar::{Calendar, LocalDays, RegionFile, YearEntry, YearNotice};
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::calendars::{self as repo, NewRegion, NewYear};

/// Store the seed files' regions and any year not stored yet.
pub fn sync_seeds(conn: &mut PgConnection, dir: &Path, now: DateTime<Utc>) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("reading calendars from {}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let f = RegionFile::parse(&path.display().to_string(), &text)
                .map_err(anyhow::Error::msg)?;
            files.push((path, f));
        }
    }
    // Bases before the regions that build on them.
    files.sort_by_key(|(_, f)| (f.base.is_some(), f.region.clone()));
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        for (path, f) in &files {
            let local = f
                .local()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            repo::upsert_region(
                conn,
                &NewRegion {
                    region: &f.region,
                    name_zh: &f.name.zh,
                    name_en: &f.name.en,
                    base: f.base.as_deref(),
                    local_holidays: &local.holidays,
                    local_workdays: &local.workdays,
                },
                now,
            )
            .with_context(|| format!("storing region {}", f.region))?;
            for y in &f.years {
                let n = y
                    .to_notice()
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                repo::put_year(
                    conn,
                    &NewYear {
                        region: &f.region,
                        year: n.year,
                        notice: &n.notice,
                        holidays: &n.holidays,
                        workdays: &n.workdays,
                        source: "seed",
                        loaded_by: None,
                    },
                    false,
                    now,
                )?;
            }
        }
        Ok(())
    })
}

#[derive(Debug)]
pub struct RegionCalendar {
    pub calendar: Calendar,
    pub name: Text,
    pub base: Option<String>,
}

/// Every region's calendar, rebuilt from the database when a notice is loaded.
#[derive(Debug, Default)]
pub struct Calendars {
    map: RwLock<BTreeMap<String, Arc<RegionCalendar>>>,
    /// What the stored calendars looked like when last loaded (see [`Calendars::stamp`]).
    stamp: RwLock<String>,
}

fn dates(v: &[Option<NaiveDate>]) -> Vec<NaiveDate> {
    v.iter().flatten().copied().collect()
}

impl Calendars {
    pub fn load(conn: &mut PgConnection) -> anyhow::Result<Calendars> {
        let c = Calendars::default();
        c.reload(conn)?;
        Ok(c)
    }

    /// A fingerprint of the stored calendars: another instance's load changes it.
    pub fn stamp(conn: &mut PgConnection) -> anyhow::Result<String> {
        Ok(repo::stamp(conn)?)
    }

    /// Reload when another instance loaded a notice since we last looked.
    pub fn refresh_if_changed(&self, conn: &mut PgConnection) -> anyhow::Result<bool> {
        let now = Self::stamp(conn)?;
        let seen = self.stamp.read().map(|s| s.clone()).unwrap_or_default();
        if now == seen {
            return Ok(false);
        }
        self.reload(conn)?;
        Ok(true)
    }

    pub fn reload(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let stamp = Self::stamp(conn)?;
        let regions = repo::regions(conn)?;
        let mut notices: BTreeMap<String, Vec<YearNotice>> = BTreeMap::new();
        for r in &regions {
            let years = repo::years(conn, &r.region)?
                .into_iter()
                .map(|y| YearNotice {
                    year: y.year,
                    notice: y.notice,
                    holidays: dates(&y.holidays),
                    workdays: dates(&y.workdays),
                })
                .collect();
            notices.insert(r.region.clone(), years);
        }
        let mut built = BTreeMap::new();
        for r in &regions {
            // A region's own notices win over its base's for the same year.
            let mut by_year: BTreeMap<i32, YearNotice> = BTreeMap::new();
            if let Some(base) = &r.base {
                for n in notices.get(base).into_iter().flatten() {
                    by_year.insert(n.year, n.clone());
                }
            }
            for n in notices.get(&r.region).into_iter().flatten() {
                by_year.insert(n.year, n.clone());
            }
            let list: Vec<YearNotice> = by_year.into_values().collect();
            let local = LocalDays {
                holidays: dates(&r.local_holidays),
                workdays: dates(&r.local_workdays),
            };
            let calendar = Calendar::build(&r.region, &list, &local)
                .map_err(|e| anyhow::anyhow!("calendar {}: {e}", r.region))?;
            built.insert(
                r.region.clone(),
                Arc::new(RegionCalendar {
                    calendar,
                    name: Text {
                        zh: r.name_zh.clone(),
                        en: r.name_en.clone(),
                    },
                    base: r.base.clone(),
                }),
            );
        }
        if built.is_empty() {
            bail!("no calendar is stored: seeds/calendars must hold at least one region");
        }
        *self
            .map
            .write()
            .map_err(|_| anyhow::anyhow!("calendar lock poisoned"))? = built;
        *self
            .stamp
            .write()
            .map_err(|_| anyhow::anyhow!("calendar lock poisoned"))? = stamp;
        Ok(())
    }

    pub fn get(&self, region: &str) -> Option<Arc<RegionCalendar>> {
        self.map.read().ok().and_then(|m| m.get(region).cloned())
    }

    pub fn regions(&self) -> Vec<String> {
        self.map
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Loaded {
    pub region: String,
    pub year: i32,
    pub notice: String,
    pub holidays: usize,
    pub workdays: usize,
    /// Open filings whose deadlines were recomputed.
    pub recomputed: u64,
}

/// Validate a year's notice against the stored calendar and store it. `by` is the
/// administrator (None from the command line). Returns the notice as parsed; the caller reloads
/// the calendars and recomputes deadlines.
pub fn store_year(
    conn: &mut PgConnection,
    by: Option<Uuid>,
    region: &str,
    entry: &YearEntry,
    now: DateTime<Utc>,
) -> Result<YearNotice, AppError> {
    // Every line's problem in both languages first (to_notice's own words are English, for
    // the files the command line loads).
    let mut problems =
        crate::domain::calendar::day_problems("holidays", entry.year, &entry.holidays);
    problems.extend(crate::domain::calendar::day_problems(
        "workdays",
        entry.year,
        &entry.workdays,
    ));
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    let notice = entry
        .to_notice()
        .map_err(|e| AppError::one_invalid("holidays", "invalid_date", e.clone(), e))?;
    if let Some(d) = notice.holidays.iter().find(|d| notice.workdays.contains(d)) {
        problems.push(crate::domain::Problem::new(
            "workdays",
            "both",
            format!("{d} 不能既放假又调休上班"),
            format!("{d} cannot be both a holiday and a make-up working day"),
        ));
    }
    if !(crate::domain::calendar::FIRST_YEAR..=crate::domain::calendar::LAST_YEAR)
        .contains(&notice.year)
    {
        problems.push(crate::domain::Problem::new(
            "year",
            "out_of_range",
            "年份须在 2000 至 2099 之间",
            "The year must be between 2000 and 2099",
        ));
    }
    if notice.notice.is_empty() || notice.notice.chars().count() > 200 {
        problems.push(crate::domain::Problem::new(
            "notice",
            "required",
            "请填写通知文号（不超过 200 字）",
            "Name the notice (at most 200 characters)",
        ));
    }
    if notice.holidays.is_empty() {
        problems.push(crate::domain::Problem::new(
            "holidays",
            "required",
            "放假安排不能为空",
            "A notice lists at least one holiday",
        ));
    }
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    conn.transaction(|conn| {
        let stored: Vec<YearNotice> = repo::years(conn, region)?
            .into_iter()
            .filter(|y| y.year != notice.year)
            .map(|y| YearNotice {
                year: y.year,
                notice: y.notice,
                holidays: dates(&y.holidays),
                workdays: dates(&y.workdays),
            })
            .chain(std::iter::once(notice.clone()))
            .collect();
        if !repo::regions(conn)?.iter().any(|r| r.region == region) {
            return Err(AppError::NotFound);
        }
        Calendar::build(region, &stored, &LocalDays::default()).map_err(|e| {
            // The checks above catch what an administrator can type; this is the last guard.
            AppError::one_invalid(
                "holidays",
                "inconsistent",
                format!("放假安排与已有日历矛盾，未载入（{e}）"),
                format!("The notice contradicts the calendar and was not loaded ({e})"),
            )
        })?;
        repo::put_year(
            conn,
            &NewYear {
                region,
                year: notice.year,
                notice: &notice.notice,
                holidays: &notice.holidays,
                workdays: &notice.workdays,
                source: "admin",
                loaded_by: by,
            },
            true,
            now,
        )?;
        audit::append(
            conn,
            Event {
                chain: "admin".to_owned(),
                filing_id: None,
                actor_id: by,
                action: "load_calendar_year",
                at: now,
                payload: json!({
                    "region": region, "year": notice.year, "notice": notice.notice,
                    "holidays": notice.holidays, "workdays": notice.workdays,
                }),
            },
        )?;
        Ok(notice.clone())
    })
}

/// Load a year's notice, rebuild the calendars and recompute every open filing's deadlines;
/// each step is audited. Used by the API and the command line.
#[allow(clippy::too_many_arguments)]
pub fn load_year(
    conn: &mut PgConnection,
    calendars: &Calendars,
    items: &super::items::Registry,
    authority_region: &str,
    by: Option<Uuid>,
    region: &str,
    entry: &YearEntry,
    now: DateTime<Utc>,
    offset: chrono::FixedOffset,
) -> Result<Loaded, AppError> {
    let notice = store_year(conn, by, region, entry, now)?;
    calendars.reload(conn)?;
    let cal = calendars
        .get(authority_region)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no calendar for {authority_region}")))?;
    let recomputed = super::deadlines::recompute_open(conn, items, &cal.calendar, now, offset)?;
    audit::append(
        conn,
        Event {
            chain: "admin".to_owned(),
            filing_id: None,
            actor_id: by,
            action: "recompute_deadlines",
            at: now,
            payload: json!({ "region": region, "year": notice.year, "filings": recomputed }),
        },
    )?;
    Ok(Loaded {
        region: region.to_owned(),
        year: notice.year,
        notice: notice.notice,
        holidays: notice.holidays.len(),
        workdays: notice.workdays.len(),
        recomputed,
    })
}
