//! SLA reports for managers: received, closed, on time and late against the statutory and the
//! promised limits, processing-time median and 90th percentile (suspended time excluded and
//! shown apart), overdue now and due soon, workload per member of staff.
//!
//! Policy: figures come from the maintained aggregates (see the baseline migration) and the
//! partial index on open filings' due dates, so a report's cost does not grow with the number
//! of filings. Percentiles are exact: the lower value at rank ⌈q·N⌉ of the histogram.
//! Managers see their own department; admins and auditors see every department.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::auth::Principal;
use crate::domain::definition::{Role, StateKind};
use crate::error::AppError;
use crate::repo::reports::{self as repo, Filter};
pub use crate::repo::reports::{DueRow, GroupBy};

#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaRow {
    /// The item code, department code, staff id or month (YYYY-MM); `total` for the sum.
    pub key: String,
    /// A readable name for a staff id.
    pub label: Option<String>,
    pub received: i64,
    pub closed: i64,
    pub approved: i64,
    pub refused: i64,
    pub withdrawn: i64,
    pub not_accepted: i64,
    /// Closed after the legal clock started (the base of the rates and times below).
    pub decided: i64,
    pub on_time_statutory: i64,
    pub late_statutory: i64,
    /// 按时办结率 against the statutory limit, 0..1.
    pub on_time_rate_statutory: Option<f64>,
    pub on_time_promised: i64,
    pub late_promised: i64,
    pub on_time_rate_promised: Option<f64>,
    pub median_working_days: Option<i32>,
    pub p90_working_days: Option<i32>,
    pub median_suspended_days: Option<i32>,
    pub suspended_days_total: i64,
    pub open: i64,
    /// Open now and past the statutory limit.
    pub overdue_now: i64,
    /// Open now and past the promised limit (承诺时限), which comes first.
    pub overdue_promised_now: i64,
    pub due_soon: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SlaReport {
    #[schema(value_type = String)]
    pub from: NaiveDate,
    #[schema(value_type = String)]
    pub to: NaiveDate,
    pub group_by: GroupBy,
    #[schema(value_type = String)]
    pub today: NaiveDate,
    /// Due soon means due from today up to this day.
    #[schema(value_type = String)]
    pub due_soon_until: NaiveDate,
    pub department: Option<String>,
    pub rows: Vec<SlaRow>,
    pub total: SlaRow,
    /// Every group's decided filings together, by working days used (suspended time
    /// excluded), in bands.
    pub distribution: Vec<DaysBand>,
}

/// Decided filings that took from `from_days` to `to_days` working days (both inclusive; no
/// upper end for the last band).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DaysBand {
    pub from_days: i32,
    pub to_days: Option<i32>,
    pub filings: i64,
}

/// The bands' lower ends: around the usual limits of 5, 10, 15 and 20 working days.
const BANDS: [i32; 9] = [0, 1, 3, 6, 11, 16, 21, 31, 61];

/// A histogram (days → count) in `BANDS`; every band listed, empty ones with 0.
pub fn bands(hist: &BTreeMap<i32, i64>) -> Vec<DaysBand> {
    BANDS
        .iter()
        .enumerate()
        .map(|(i, &from)| {
            let to = BANDS.get(i + 1).map(|next| next - 1);
            let filings = hist
                .range(from..=to.unwrap_or(i32::MAX))
                .map(|(_, n)| n)
                .sum();
            DaysBand {
                from_days: from,
                to_days: to,
                filings,
            }
        })
        .collect()
}

pub struct SlaQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: GroupBy,
    pub item: Option<String>,
    pub department: Option<String>,
    pub soon_days: u32,
}

/// Which department a caller's report covers: a manager's own, or any for admins and auditors.
pub fn scope(p: &Principal, asked: Option<String>) -> Result<Option<String>, AppError> {
    if p.has(Role::Admin) || p.has(Role::Auditor) {
        return Ok(asked);
    }
    if p.has(Role::Manager) {
        let own = p.department.clone().ok_or(AppError::Forbidden)?;
        return match asked {
            Some(d) if d != own => Err(AppError::Forbidden),
            _ => Ok(Some(own)),
        };
    }
    Err(AppError::Forbidden)
}

/// The value at rank ⌈q·N⌉ of a histogram (value → count).
pub fn percentile(hist: &BTreeMap<i32, i64>, q: f64) -> Option<i32> {
    let total: i64 = hist.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as i64).max(1);
    let mut seen = 0;
    for (v, n) in hist {
        seen += n;
        if seen >= rank {
            return Some(*v);
        }
    }
    hist.keys().next_back().copied()
}

#[derive(Default)]
struct Acc {
    row: SlaRow,
    used: BTreeMap<i32, i64>,
    suspended: BTreeMap<i32, i64>,
}

impl Acc {
    fn finish(mut self) -> SlaRow {
        let r = &mut self.row;
        let rate = |ok: i64, all: i64| (all > 0).then(|| ok as f64 / all as f64);
        r.on_time_rate_statutory = rate(r.on_time_statutory, r.decided);
        r.on_time_rate_promised = rate(r.on_time_promised, r.decided);
        r.median_working_days = percentile(&self.used, 0.5);
        r.p90_working_days = percentile(&self.used, 0.9);
        r.median_suspended_days = percentile(&self.suspended, 0.5);
        self.row
    }

    fn add_closed(&mut self, b: &repo::ClosedBucket) -> Result<(), AppError> {
        let r = &mut self.row;
        r.closed += b.n;
        match b.outcome {
            StateKind::Approved => r.approved += b.n,
            StateKind::Refused => r.refused += b.n,
            StateKind::Withdrawn => r.withdrawn += b.n,
            StateKind::NotAccepted => r.not_accepted += b.n,
            open => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "a closed filing counted with the outcome `{}`, which closes nothing",
                    open.as_str()
                )));
            }
        }
        if b.used_days >= 0 {
            r.decided += b.n;
            if b.on_time_statutory {
                r.on_time_statutory += b.n;
            } else {
                r.late_statutory += b.n;
            }
            if b.on_time_promised {
                r.on_time_promised += b.n;
            } else {
                r.late_promised += b.n;
            }
            *self.used.entry(b.used_days).or_default() += b.n;
            *self.suspended.entry(b.suspended_days.max(0)).or_default() += b.n;
            r.suspended_days_total += i64::from(b.suspended_days.max(0)) * b.n;
        }
        Ok(())
    }
}

/// `owners`: each item's department.
pub fn sla(
    conn: &mut PgConnection,
    p: &Principal,
    q: SlaQuery,
    today: NaiveDate,
    owners: &BTreeMap<String, String>,
) -> Result<SlaReport, AppError> {
    let department = scope(p, q.department)?;
    let soon = today
        .checked_add_days(Days::new(u64::from(q.soon_days)))
        .unwrap_or(today);
    let filter = Filter {
        from: q.from,
        to: q.to,
        item: q.item.as_deref(),
        department: department.as_deref(),
    };
    // Open work is counted per item and folded into the groups here: the department of an
    // item is known in memory, so no query joins item definitions.
    let owner = |item: &str| owners.get(item).cloned().unwrap_or_default();
    let items: Option<Vec<String>> = match (&q.item, &department) {
        (Some(i), _) => Some(vec![i.clone()]),
        (None, Some(d)) => Some(
            owners
                .iter()
                .filter(|(_, o)| *o == d)
                .map(|(i, _)| i.clone())
                .collect(),
        ),
        (None, None) => None,
    };
    // One snapshot for all figures.
    let (buckets, received, open, due, promised) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, diesel::result::Error, _>(|conn| {
            let per_item = matches!(q.group_by, GroupBy::Item | GroupBy::Department);
            Ok((
                repo::closed_buckets(conn, q.group_by, &filter)?,
                repo::received(conn, q.group_by, &filter)?,
                if per_item {
                    repo::open_by_item(conn, filter.department)?
                } else {
                    Vec::new()
                },
                if per_item {
                    repo::due_counts(conn, today, soon, items.as_deref())?
                } else {
                    Vec::new()
                },
                if per_item {
                    repo::promised_overdue_counts(conn, today, items.as_deref())?
                } else {
                    Vec::new()
                },
            ))
        })?;
    let key_of = |item: &str| match q.group_by {
        GroupBy::Department => owner(item),
        _ => item.to_owned(),
    };
    let wanted = |item: &str| q.item.as_deref().is_none_or(|i| i == item);
    let mut by_key: BTreeMap<String, Acc> = BTreeMap::new();
    let mut total = Acc::default();
    for b in &buckets {
        by_key.entry(b.key.clone()).or_default().add_closed(b)?;
        total.add_closed(b)?;
    }
    for r in &received {
        by_key.entry(r.key.clone()).or_default().row.received += r.n;
        total.row.received += r.n;
    }
    for o in open.iter().filter(|o| wanted(&o.key)) {
        by_key.entry(key_of(&o.key)).or_default().row.open += o.n;
        total.row.open += o.n;
    }
    for d in &due {
        let acc = by_key.entry(key_of(&d.item_code)).or_default();
        acc.row.overdue_now += d.overdue;
        acc.row.due_soon += d.due_soon;
        total.row.overdue_now += d.overdue;
        total.row.due_soon += d.due_soon;
    }
    for d in &promised {
        by_key
            .entry(key_of(&d.key))
            .or_default()
            .row
            .overdue_promised_now += d.n;
        total.row.overdue_promised_now += d.n;
    }
    let names = if q.group_by == GroupBy::Clerk {
        staff_names(conn, by_key.keys())?
    } else {
        BTreeMap::new()
    };
    let rows = by_key
        .into_iter()
        .map(|(key, acc)| {
            let mut row = acc.finish();
            row.label = names.get(&key).cloned();
            row.key = key;
            row
        })
        .collect();
    let distribution = bands(&total.used);
    let mut total = total.finish();
    total.key = "total".into();
    Ok(SlaReport {
        from: q.from,
        to: q.to,
        group_by: q.group_by,
        today,
        due_soon_until: soon,
        department,
        rows,
        total,
        distribution,
    })
}

fn staff_names<'a>(
    conn: &mut PgConnection,
    keys: impl Iterator<Item = &'a String>,
) -> Result<BTreeMap<String, String>, AppError> {
    use crate::db::schema::users;
    let ids: Vec<Uuid> = keys.filter_map(|k| k.parse().ok()).collect();
    let rows: Vec<(Uuid, String)> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::display_name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (id.to_string(), n))
        .collect())
}

/// The report as CSV (UTF-8 with a byte-order mark, so that spreadsheet programs read Chinese).
pub fn to_csv(report: &SlaReport) -> Result<Vec<u8>, AppError> {
    // Every column flat, one row per group and a last `total` row.
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    for row in report.rows.iter().chain(std::iter::once(&report.total)) {
        w.serialize(row)
            .map_err(|e| anyhow::anyhow!("writing CSV: {e}"))?;
    }
    w.into_inner()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing CSV: {e}")))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkloadRow {
    pub user_id: Uuid,
    pub display_name: String,
    /// Open tasks the person has claimed.
    pub claimed: i64,
}

pub fn workload(
    conn: &mut PgConnection,
    p: &Principal,
    department: Option<String>,
) -> Result<Vec<WorkloadRow>, AppError> {
    let department = scope(p, department)?;
    Ok(repo::workload(conn, department.as_deref())?
        .into_iter()
        .map(|w| WorkloadRow {
            user_id: w.user_id,
            display_name: w.display_name,
            claimed: w.claimed,
        })
        .collect())
}

pub fn due(
    conn: &mut PgConnection,
    p: &Principal,
    department: Option<String>,
    until: NaiveDate,
    limit: i64,
    owners: &BTreeMap<String, String>,
) -> Result<Vec<repo::DueRow>, AppError> {
    let department = scope(p, department)?;
    let items: Option<Vec<String>> = department.map(|d| {
        owners
            .iter()
            .filter(|(_, o)| **o == d)
            .map(|(i, _)| i.clone())
            .collect()
    });
    Ok(repo::due_list(conn, until, items.as_deref(), limit)?)
}

/// Which open filings a drill-down lists, by their statutory due day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueWindow {
    /// Past the due day.
    Overdue,
    /// Due from today up to `soon_days` ahead.
    Soon,
    /// Every open filing with a running time limit.
    Open,
    /// Past the promised limit (承诺时限).
    OverduePromised,
}

/// A page of the open filings behind a dashboard figure (by item and department, within the
/// caller's scope), most urgent first, and how many there are in all.
#[allow(clippy::too_many_arguments)]
pub fn drill(
    conn: &mut PgConnection,
    p: &Principal,
    department: Option<String>,
    item: Option<&str>,
    window: DueWindow,
    today: NaiveDate,
    soon_days: u32,
    limit: i64,
    owners: &BTreeMap<String, String>,
) -> Result<(Vec<repo::DueRow>, i64), AppError> {
    let department = scope(p, department)?;
    let items: Option<Vec<String>> = match (item, department) {
        (Some(i), Some(d)) => Some(
            owners
                .get(i)
                .filter(|o| **o == d)
                .map(|_| vec![i.to_owned()])
                .unwrap_or_default(),
        ),
        (Some(i), None) => Some(vec![i.to_owned()]),
        (None, Some(d)) => Some(
            owners
                .iter()
                .filter(|(_, o)| **o == d)
                .map(|(i, _)| i.clone())
                .collect(),
        ),
        (None, None) => None,
    };
    let (after, until) = match window {
        DueWindow::OverduePromised => {
            return Ok(repo::drill_promised_overdue(
                conn,
                items.as_deref(),
                today,
                limit,
            )?);
        }
        DueWindow::Overdue => (None, today.pred_opt()),
        DueWindow::Soon => (
            Some(today),
            today.checked_add_days(Days::new(u64::from(soon_days))),
        ),
        DueWindow::Open => (None, None),
    };
    Ok(repo::drill(conn, items.as_deref(), after, until, limit)?)
}

/// Each item's department, for folding per-item figures into departments.
pub fn owners(items: &crate::services::items::Registry) -> BTreeMap<String, String> {
    items
        .all_latest()
        .iter()
        .map(|i| (i.def.code.clone(), i.def.department.clone()))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decided_filings_fall_into_bands_that_cover_every_day_once() {
        let hist: BTreeMap<i32, i64> = [(0, 1), (2, 2), (5, 1), (6, 3), (20, 1), (400, 2)]
            .into_iter()
            .collect();
        let b = bands(&hist);
        assert_eq!(b.len(), BANDS.len());
        let count = |from: i32| b.iter().find(|x| x.from_days == from).unwrap().filings;
        assert_eq!(count(0), 1);
        assert_eq!(count(1), 2, "1–2 days");
        assert_eq!(count(3), 1, "3–5 days");
        assert_eq!(count(6), 3, "6–10 days");
        assert_eq!(count(11), 0);
        assert_eq!(count(16), 1, "16–20 days");
        assert_eq!(count(61), 2, "61 and more");
        assert_eq!(
            b.iter().map(|x| x.filings).sum::<i64>(),
            10,
            "each counted once"
        );
        assert!(
            b.windows(2)
                .all(|w| w[0].to_days == Some(w[1].from_days - 1))
        );
        assert_eq!(b.last().unwrap().to_days, None);
    }

    #[test]
    fn percentiles_are_exact_lower_values_of_the_histogram() {
        let hist: BTreeMap<i32, i64> = [(1, 2), (3, 1), (5, 1), (9, 1)].into_iter().collect();
        // Values 1 1 3 5 9: median rank 3 → 3; p90 rank 5 → 9.
        assert_eq!(percentile(&hist, 0.5), Some(3));
        assert_eq!(percentile(&hist, 0.9), Some(9));
        let even: BTreeMap<i32, i64> = [(2, 1), (4, 1)].into_iter().collect();
        assert_eq!(percentile(&even, 0.5), Some(2));
        assert_eq!(percentile(&BTreeMap::new(), 0.5), None);
    }
}

/// The office's work report for a period: per item, the filings received in it, how many are
/// decided and open now, each of the item's categories, and its sentence in the bureau's
/// wording ("受理建设工程竣工验收消防备案32件（其中7件抽中，19件未抽中，办理中6件）").
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WorkReportView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<WorkItem>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WorkItem {
    pub item: String,
    pub name: crate::domain::Text,
    pub received: i64,
    /// Of those received, closed by the end of the period.
    pub decided: i64,
    pub open: i64,
    pub categories: Vec<WorkCategory>,
    /// The item's sentence with the figures in.
    pub sentence: crate::domain::Text,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WorkCategory {
    pub code: String,
    pub label: crate::domain::Text,
    /// Filings counted, or the field's sum.
    pub value: i64,
}

/// The work report as a spreadsheet (XLSX), in one language: a sheet of figures (one row per
/// item and category, as the CSV) and a sheet of the sentences, ready to paste into a report.
pub fn work_xlsx(report: &WorkReportView, lang: crate::domain::Lang) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let t = |zh: &'static str, en: &'static str| match lang {
        crate::domain::Lang::Zh => zh,
        crate::domain::Lang::En => en,
    };
    let fail = |e: rust_xlsxwriter::XlsxError| AppError::Internal(anyhow::anyhow!("XLSX: {e}"));
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    let mut book = Workbook::new();
    let figures = book.add_worksheet();
    figures.set_name(t("统计", "Figures")).map_err(fail)?;
    let period = match lang {
        crate::domain::Lang::Zh => format!("统计期间：{} 至 {}", report.from, report.to),
        crate::domain::Lang::En => format!("Period: {} to {}", report.from, report.to),
    };
    figures
        .write_string_with_format(0, 0, period, &bold)
        .map_err(fail)?;
    let heads = [
        t("事项", "Item"),
        t("受理", "Received"),
        t("办结", "Decided"),
        t("办理中", "Open"),
        t("分类", "Category"),
        t("数量", "Value"),
    ];
    for (c, h) in heads.iter().enumerate() {
        figures
            .write_string_with_format(2, c as u16, *h, &bold)
            .map_err(fail)?;
    }
    let mut row = 3u32;
    for i in &report.items {
        let lines: Vec<Option<&WorkCategory>> = if i.categories.is_empty() {
            vec![None]
        } else {
            i.categories.iter().map(Some).collect()
        };
        for c in lines {
            figures
                .write_string(row, 0, i.name.get(lang))
                .map_err(fail)?;
            figures
                .write_number(row, 1, i.received as f64)
                .map_err(fail)?;
            figures
                .write_number(row, 2, i.decided as f64)
                .map_err(fail)?;
            figures.write_number(row, 3, i.open as f64).map_err(fail)?;
            if let Some(c) = c {
                figures
                    .write_string(row, 4, c.label.get(lang))
                    .map_err(fail)?;
                figures.write_number(row, 5, c.value as f64).map_err(fail)?;
            }
            row += 1;
        }
    }
    figures.set_column_width(0, 34).map_err(fail)?;
    figures.set_column_width(4, 18).map_err(fail)?;
    let text = book.add_worksheet();
    text.set_name(t("报告表述", "Sentences")).map_err(fail)?;
    text.set_column_width(0, 100).map_err(fail)?;
    for (r, i) in report.items.iter().enumerate() {
        text.write_string_with_format(r as u32, 0, i.sentence.get(lang), &wrap)
            .map_err(fail)?;
    }
    book.save_to_buffer().map_err(fail)
}

/// The work report as CSV: one line per item and category (an item without categories has one
/// line), with the item's figures and its sentence, in one language.
pub fn work_csv(report: &WorkReportView, lang: crate::domain::Lang) -> Result<Vec<u8>, AppError> {
    #[derive(Serialize)]
    struct Line<'a> {
        item: &'a str,
        name: &'a str,
        received: i64,
        decided: i64,
        open: i64,
        category: &'a str,
        value: Option<i64>,
        sentence: &'a str,
    }
    // The byte-order mark Excel needs to read the Chinese.
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    for i in &report.items {
        let base = Line {
            item: &i.item,
            name: i.name.get(lang),
            received: i.received,
            decided: i.decided,
            open: i.open,
            category: "",
            value: None,
            sentence: i.sentence.get(lang),
        };
        if i.categories.is_empty() {
            w.serialize(&base).map_err(anyhow::Error::from)?;
        }
        for c in &i.categories {
            w.serialize(Line {
                category: c.label.get(lang),
                value: Some(c.value),
                ..base
            })
            .map_err(anyhow::Error::from)?;
        }
    }
    Ok(w.into_inner().map_err(|e| anyhow::anyhow!("CSV: {e}"))?)
}

/// Build the work report (managers of the item's department, admins, auditors).
pub fn work(
    conn: &mut PgConnection,
    ctx: &crate::services::Ctx<'_>,
    p: &Principal,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<WorkReportView, AppError> {
    let own = scope(p, None)?;
    let start = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(ctx.offset).single())
            .map(|t| t.with_timezone(&chrono::Utc))
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no local midnight on {d}")))
    };
    let end = to
        .checked_add_days(Days::new(1))
        .ok_or_else(|| AppError::bad_request("日期超出范围", "The date is out of range"))?;
    let rows = repo::work_rows(conn, start(from)?, start(end)?)?;
    let mut items = Vec::new();
    for item in ctx.items.all_latest() {
        let def = &item.def;
        if own.as_deref().is_some_and(|d| d != def.department) {
            continue;
        }
        let mine: Vec<&repo::WorkRow> = rows.iter().filter(|r| r.item_code == def.code).collect();
        let received = mine.len() as i64;
        let decided = mine.iter().filter(|r| r.closed).count() as i64;
        let mut categories = Vec::new();
        let mut sentence = def
            .report
            .as_ref()
            .map(|r| r.sentence.clone())
            .unwrap_or_else(|| crate::domain::Text {
                zh: "受理{item}{received}件，办结{decided}件，办理中{open}件".into(),
                en: "{item}: {received} received, {decided} decided, {open} open".into(),
            });
        for c in def.report.iter().flat_map(|r| &r.categories) {
            let counted = mine.iter().filter(|r| {
                (c.state_in.contains(&r.state)
                    || r.entered.iter().any(|e| c.ever_entered.contains(e)))
                    && (!c.online
                        || (r.e_certificate
                            && r.channel
                                .and_then(crate::domain::exchange::Channel::from_code)
                                .is_some_and(|ch| ch.is_online())))
            });
            let value = match &c.sum {
                Some(f) => counted
                    .map(|r| {
                        r.form
                            .get(f)
                            .and_then(|v| {
                                v.as_i64()
                                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                            })
                            .unwrap_or(0)
                    })
                    .sum(),
                None => counted.count() as i64,
            };
            for t in [&mut sentence.zh, &mut sentence.en] {
                *t = t.replace(&format!("{{{}}}", c.code), &value.to_string());
            }
            categories.push(WorkCategory {
                code: c.code.clone(),
                label: c.label.clone(),
                value,
            });
        }
        let fill = |t: &str, name: &str| {
            t.replace("{item}", name)
                .replace("{received}", &received.to_string())
                .replace("{decided}", &decided.to_string())
                .replace("{open}", &(received - decided).to_string())
        };
        let sentence = crate::domain::Text {
            zh: fill(&sentence.zh, &def.name.zh),
            en: fill(&sentence.en, &def.name.en),
        };
        items.push(WorkItem {
            item: def.code.clone(),
            name: def.name.clone(),
            received,
            decided,
            open: received - decided,
            categories,
            sentence,
        });
    }
    Ok(WorkReportView { from, to, items })
}
