//! Stored calendars: regions and yearly notices.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{calendar_regions, calendar_years};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calendar_regions, check_for_backend(diesel::pg::Pg))]
pub struct RegionRow {
    pub region: String,
    pub name_zh: String,
    pub name_en: String,
    pub base: Option<String>,
    pub local_holidays: Vec<Option<NaiveDate>>,
    pub local_workdays: Vec<Option<NaiveDate>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = calendar_years, check_for_backend(diesel::pg::Pg))]
pub struct YearRow {
    pub region: String,
    pub year: i32,
    pub notice: String,
    pub holidays: Vec<Option<NaiveDate>>,
    pub workdays: Vec<Option<NaiveDate>>,
    pub source: String,
    pub loaded_at: DateTime<Utc>,
}

pub struct NewRegion<'a> {
    pub region: &'a str,
    pub name_zh: &'a str,
    pub name_en: &'a str,
    pub base: Option<&'a str>,
    pub local_holidays: &'a [NaiveDate],
    pub local_workdays: &'a [NaiveDate],
}

pub fn upsert_region(
    conn: &mut PgConnection,
    r: &NewRegion<'_>,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    let holidays: Vec<Option<NaiveDate>> = r.local_holidays.iter().copied().map(Some).collect();
    let workdays: Vec<Option<NaiveDate>> = r.local_workdays.iter().copied().map(Some).collect();
    diesel::insert_into(calendar_regions::table)
        .values((
            calendar_regions::region.eq(r.region),
            calendar_regions::name_zh.eq(r.name_zh),
            calendar_regions::name_en.eq(r.name_en),
            calendar_regions::base.eq(r.base),
            calendar_regions::local_holidays.eq(&holidays),
            calendar_regions::local_workdays.eq(&workdays),
            calendar_regions::updated_at.eq(at),
        ))
        .on_conflict(calendar_regions::region)
        .do_update()
        .set((
            calendar_regions::name_zh.eq(r.name_zh),
            calendar_regions::name_en.eq(r.name_en),
            calendar_regions::base.eq(r.base),
            calendar_regions::local_holidays.eq(&holidays),
            calendar_regions::local_workdays.eq(&workdays),
            calendar_regions::updated_at.eq(at),
        ))
        .execute(conn)
}

pub fn regions(conn: &mut PgConnection) -> QueryResult<Vec<RegionRow>> {
    calendar_regions::table
        .order(calendar_regions::region)
        .select(RegionRow::as_select())
        .load(conn)
}

pub fn years(conn: &mut PgConnection, region: &str) -> QueryResult<Vec<YearRow>> {
    calendar_years::table
        .filter(calendar_years::region.eq(region))
        .order(calendar_years::year)
        .select(YearRow::as_select())
        .load(conn)
}

pub struct NewYear<'a> {
    pub region: &'a str,
    pub year: i32,
    pub notice: &'a str,
    pub holidays: &'a [NaiveDate],
    pub workdays: &'a [NaiveDate],
    pub source: &'a str,
    pub loaded_by: Option<Uuid>,
}

/// Insert a year; `replace` decides whether an existing row is overwritten (an administrator's
/// load) or kept (a seed never overwrites what is stored).
pub fn put_year(
    conn: &mut PgConnection,
    y: &NewYear<'_>,
    replace: bool,
    at: DateTime<Utc>,
) -> QueryResult<usize> {
    let holidays: Vec<Option<NaiveDate>> = y.holidays.iter().copied().map(Some).collect();
    let workdays: Vec<Option<NaiveDate>> = y.workdays.iter().copied().map(Some).collect();
    let insert = diesel::insert_into(calendar_years::table).values((
        calendar_years::region.eq(y.region),
        calendar_years::year.eq(y.year),
        calendar_years::notice.eq(y.notice),
        calendar_years::holidays.eq(&holidays),
        calendar_years::workdays.eq(&workdays),
        calendar_years::source.eq(y.source),
        calendar_years::loaded_at.eq(at),
        calendar_years::loaded_by.eq(y.loaded_by),
    ));
    if replace {
        insert
            .on_conflict((calendar_years::region, calendar_years::year))
            .do_update()
            .set((
                calendar_years::notice.eq(y.notice),
                calendar_years::holidays.eq(&holidays),
                calendar_years::workdays.eq(&workdays),
                calendar_years::source.eq(y.source),
                calendar_years::loaded_at.eq(at),
                calendar_years::loaded_by.eq(y.loaded_by),
            ))
            .execute(conn)
    } else {
        insert.on_conflict_do_nothing().execute(conn)
    }
}

/// A fingerprint of everything stored: the count and latest change of regions and years.
pub fn stamp(conn: &mut PgConnection) -> QueryResult<String> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
        "(SELECT count(*) || '/' || coalesce(max(loaded_at)::text, '') FROM calendar_years) || '|' || \
         (SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM calendar_regions)",
    ))
    .get_result(conn)
}
