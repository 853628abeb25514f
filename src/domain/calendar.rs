//! Working-day calendars and the arithmetic of legal time.
//!
//! Policy:
//! - 行政许可法 §82: limits are counted in working days, which exclude statutory holidays.
//!   A working day is Monday to Friday, minus public holidays, plus the make-up working days
//!   (调休) of the State Council's yearly notice.
//! - A year without a loaded notice is *provisional*: only the statutory holidays of
//!   全国年节及纪念日放假办法 (2024 revision, 13 days) are known. They are computed here (the
//!   lunar ones through a lunisolar table, 清明 from the solar-term formula), never typed in, and
//!   every answer that touches such a year says `provisional`.
//! - 民法典 §201: a period of N days starts the day after the event; §203: a period whose last
//!   day is a holiday ends on the next working day.
//! - Queries are O(1): the calendar precomputes, for every day of its range, whether it is a
//!   working day and how many working days precede it, plus the list of working days.

use std::collections::BTreeMap;

use chinese_lunisolar_calendar::LunisolarDate;
use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::Text;

/// The first and last years a calendar covers (the lunisolar table ends in 2100).
pub const FIRST_YEAR: i32 = 2000;
pub const LAST_YEAR: i32 = 2099;

/// What kind of day a date is, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Monday to Friday, no holiday.
    Workday,
    /// Saturday or Sunday, no make-up working day.
    Weekend,
    /// A public holiday from a published notice.
    Holiday,
    /// A weekend day worked in exchange for a holiday (调休上班).
    MakeupWorkday,
    /// A statutory holiday of a provisional year (computed from the law, no notice yet).
    StatutoryHoliday,
    /// A holiday of the region alone (a city's local day).
    LocalHoliday,
}

impl DayKind {
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Workday | DayKind::MakeupWorkday)
    }
}

/// One year's published schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearNotice {
    pub year: i32,
    /// The notice it comes from, e.g. 国办发明电〔2024〕12号.
    pub notice: String,
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

/// A region's own days on top of its base calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalDays {
    pub holidays: Vec<NaiveDate>,
    pub workdays: Vec<NaiveDate>,
}

/// An answer, flagged when it depends on a year whose schedule is not yet published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Answer<T> {
    pub value: T,
    pub provisional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("{0} is outside the calendar ({FIRST_YEAR}–{LAST_YEAR})")]
    OutOfRange(NaiveDate),
    #[error("{0} working days from {1} run past the end of the calendar")]
    TooFar(u32, NaiveDate),
    #[error("{0}")]
    Invalid(String),
}

/// A special (non-ordinary) day, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SpecialDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    /// The notice, `statutory` (computed, provisional year) or `local`.
    pub source: String,
    pub name: Option<Text>,
}

/// A region's working-day calendar over [`FIRST_YEAR`, `LAST_YEAR`].
#[derive(Debug, Clone)]
pub struct Calendar {
    pub region: String,
    start: NaiveDate,
    kinds: Vec<DayKind>,
    /// `before[i]`: working days in [start, start + i).
    before: Vec<u32>,
    /// Day offsets of the working days, ascending.
    working: Vec<u32>,
    /// Published notices by year; a year absent here is provisional.
    notices: BTreeMap<i32, String>,
    names: BTreeMap<NaiveDate, Text>,
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// 清明: the day the sun reaches 15° longitude. The 21st-century solar-term formula
/// (寿星通用公式): ⌊Y·0.2422 + 4.81⌋ − ⌊Y/4⌋ with Y the year within the century.
fn qingming(year: i32) -> Option<NaiveDate> {
    let y = f64::from(year % 100);
    let day = (y * 0.2422 + 4.81).floor() as i32 - (year % 100) / 4;
    date(year, 4, u32::try_from(day).ok()?)
}

fn lunar(year: i32, month: u8, day: u8) -> Option<NaiveDate> {
    let y = u16::try_from(year).ok()?;
    LunisolarDate::from_ymd(y, month, false, day)
        .ok()
        .map(|d| d.to_naive_date())
}

/// The statutory holidays of a year under 全国年节及纪念日放假办法 (2024 revision): 13 days.
pub fn statutory_holidays(year: i32) -> Vec<(NaiveDate, Text)> {
    let t = |zh: &str, en: &str| Text {
        zh: zh.into(),
        en: en.into(),
    };
    let mut out = Vec::new();
    let mut push = |d: Option<NaiveDate>, name: Text| {
        if let Some(d) = d {
            out.push((d, name));
        }
    };
    push(date(year, 1, 1), t("元旦", "New Year's Day"));
    // 春节: four days from 除夕, the eve of the first day of the first lunar month.
    if let Some(new_year) = lunar(year, 1, 1) {
        for offset in -1i64..=2 {
            let d = if offset < 0 {
                new_year.checked_sub_days(Days::new(1))
            } else {
                new_year.checked_add_days(Days::new(offset as u64))
            };
            push(d, t("春节", "Spring Festival"));
        }
    }
    push(qingming(year), t("清明节", "Qingming Festival"));
    push(date(year, 5, 1), t("劳动节", "Labour Day"));
    push(date(year, 5, 2), t("劳动节", "Labour Day"));
    push(lunar(year, 5, 5), t("端午节", "Dragon Boat Festival"));
    push(lunar(year, 8, 15), t("中秋节", "Mid-Autumn Festival"));
    for d in 1..=3 {
        push(date(year, 10, d), t("国庆节", "National Day"));
    }
    out.sort_by_key(|(d, _)| *d);
    out
}

fn weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl Calendar {
    /// Build a calendar from published notices and the region's local days. Notices must not
    /// contradict themselves (a day both holiday and workday) and must name the days of their
    /// own year or its neighbours.
    pub fn build(
        region: &str,
        notices: &[YearNotice],
        local: &LocalDays,
    ) -> Result<Calendar, CalendarError> {
        let start =
            date(FIRST_YEAR, 1, 1).ok_or_else(|| CalendarError::Invalid("bad start".into()))?;
        let end =
            date(LAST_YEAR, 12, 31).ok_or_else(|| CalendarError::Invalid("bad end".into()))?;
        let days = (end - start).num_days() as usize + 1;
        let mut kinds = Vec::with_capacity(days);
        let mut names = BTreeMap::new();
        let mut notice_years = BTreeMap::new();
        for n in notices {
            if !(FIRST_YEAR..=LAST_YEAR).contains(&n.year) {
                return Err(CalendarError::Invalid(format!(
                    "year {} is outside the calendar",
                    n.year
                )));
            }
            if n.notice.trim().is_empty() {
                return Err(CalendarError::Invalid(format!(
                    "year {}: the notice must be named",
                    n.year
                )));
            }
            for d in n.holidays.iter().chain(&n.workdays) {
                if (d.year() - n.year).abs() > 1 {
                    return Err(CalendarError::Invalid(format!(
                        "year {}: {d} is not in or next to the notice's year",
                        n.year
                    )));
                }
            }
            if let Some(d) = n.holidays.iter().find(|d| n.workdays.contains(d)) {
                return Err(CalendarError::Invalid(format!(
                    "year {}: {d} is both a holiday and a workday",
                    n.year
                )));
            }
            if notice_years.insert(n.year, n.notice.clone()).is_some() {
                return Err(CalendarError::Invalid(format!(
                    "year {} has two notices",
                    n.year
                )));
            }
        }
        // Days a notice names, whichever year the notice is for (2023's names 2022-12-31).
        let mut named: BTreeMap<NaiveDate, DayKind> = BTreeMap::new();
        for n in notices {
            for d in &n.holidays {
                named.insert(*d, DayKind::Holiday);
            }
            for d in &n.workdays {
                named.insert(*d, DayKind::MakeupWorkday);
            }
        }
        let mut statutory: BTreeMap<NaiveDate, Text> = BTreeMap::new();
        for year in FIRST_YEAR..=LAST_YEAR {
            for (d, name) in statutory_holidays(year) {
                statutory.insert(d, name.clone());
                names.insert(d, name);
            }
        }
        let mut d = start;
        for _ in 0..days {
            let mut kind = match named.get(&d) {
                Some(k) => *k,
                None if !notice_years.contains_key(&d.year()) && statutory.contains_key(&d) => {
                    DayKind::StatutoryHoliday
                }
                None if weekend(d) => DayKind::Weekend,
                None => DayKind::Workday,
            };
            if local.holidays.contains(&d) {
                kind = DayKind::LocalHoliday;
            } else if local.workdays.contains(&d) {
                kind = DayKind::MakeupWorkday;
            }
            kinds.push(kind);
            d = d.succ_opt().unwrap_or(d);
        }
        let mut before = Vec::with_capacity(days + 1);
        let mut working = Vec::new();
        let mut count = 0u32;
        for (i, k) in kinds.iter().enumerate() {
            before.push(count);
            if k.is_working() {
                working.push(i as u32);
                count += 1;
            }
        }
        before.push(count);
        Ok(Calendar {
            region: region.to_owned(),
            start,
            kinds,
            before,
            working,
            notices: notice_years,
            names,
        })
    }

    fn index(&self, d: NaiveDate) -> Result<usize, CalendarError> {
        let i = (d - self.start).num_days();
        if i < 0 || i as usize >= self.kinds.len() {
            return Err(CalendarError::OutOfRange(d));
        }
        Ok(i as usize)
    }

    fn day(&self, i: usize) -> NaiveDate {
        self.start
            .checked_add_days(Days::new(i as u64))
            .unwrap_or(self.start)
    }

    pub fn kind(&self, d: NaiveDate) -> Result<DayKind, CalendarError> {
        Ok(self.kinds[self.index(d)?])
    }

    pub fn is_working(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        self.kind(d).map(DayKind::is_working)
    }

    /// The notice a year's schedule comes from; `None` means the year is provisional.
    pub fn notice(&self, year: i32) -> Option<&str> {
        self.notices.get(&year).map(String::as_str)
    }

    pub fn is_provisional(&self, year: i32) -> bool {
        !self.notices.contains_key(&year)
    }

    /// Does any day in (a, b] fall in a provisional year?
    fn provisional_between(&self, a: NaiveDate, b: NaiveDate) -> bool {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let first = lo.succ_opt().unwrap_or(lo).year();
        (first..=hi.year()).any(|y| self.is_provisional(y))
    }

    /// The N-th working day after `from` (民法典 §201: the start day is not counted). Zero days
    /// is `from` itself.
    pub fn add_working_days(
        &self,
        from: NaiveDate,
        n: u32,
    ) -> Result<Answer<NaiveDate>, CalendarError> {
        let i = self.index(from)?;
        if n == 0 {
            return Ok(Answer {
                value: from,
                provisional: self.is_provisional(from.year()),
            });
        }
        // Working days up to and including `from`, then the n-th after it.
        let k = self.before[i + 1] as usize + n as usize - 1;
        let day = *self.working.get(k).ok_or(CalendarError::TooFar(n, from))?;
        let value = self.day(day as usize);
        Ok(Answer {
            value,
            provisional: self.provisional_between(from, value),
        })
    }

    /// The working day N working days before `to` (for warnings: "2 working days before the
    /// due date"). Zero is `to` itself.
    pub fn sub_working_days(
        &self,
        to: NaiveDate,
        n: u32,
    ) -> Result<Answer<NaiveDate>, CalendarError> {
        let i = self.index(to)?;
        if n == 0 {
            return Ok(Answer {
                value: to,
                provisional: self.is_provisional(to.year()),
            });
        }
        // Working days strictly before `to`; the n-th of them counting back.
        let before = self.before[i] as usize;
        let k = before
            .checked_sub(n as usize)
            .ok_or(CalendarError::TooFar(n, to))?;
        let value = self.day(self.working[k] as usize);
        Ok(Answer {
            value,
            provisional: self.provisional_between(value, to),
        })
    }

    /// Working days in (a, b]: how many a clock running from `a` has used by the end of `b`.
    /// Negative when `b` is before `a`.
    pub fn working_days_between(
        &self,
        a: NaiveDate,
        b: NaiveDate,
    ) -> Result<Answer<i64>, CalendarError> {
        let (i, j) = (self.index(a)?, self.index(b)?);
        let value = i64::from(self.before[j + 1]) - i64::from(self.before[i + 1]);
        Ok(Answer {
            value,
            provisional: self.provisional_between(a, b),
        })
    }

    /// The first working day on or after `d`.
    pub fn next_working_day(&self, d: NaiveDate) -> Result<Answer<NaiveDate>, CalendarError> {
        let i = self.index(d)?;
        let k = self.before[i] as usize;
        let day = *self.working.get(k).ok_or(CalendarError::TooFar(0, d))?;
        let value = self.day(day as usize);
        Ok(Answer {
            value,
            provisional: self.is_provisional(d.year()) || self.is_provisional(value.year()),
        })
    }

    /// The last day of a period of N calendar days after `from` (民法典 §201, §203): `from` + N,
    /// moved to the next working day when it falls on a holiday or a weekend.
    pub fn calendar_period_end(
        &self,
        from: NaiveDate,
        n: u32,
    ) -> Result<Answer<NaiveDate>, CalendarError> {
        let end = from
            .checked_add_days(Days::new(u64::from(n)))
            .ok_or(CalendarError::OutOfRange(from))?;
        let next = self.next_working_day(end)?;
        Ok(Answer {
            value: next.value,
            provisional: next.provisional || self.provisional_between(from, end),
        })
    }

    /// Every non-ordinary day of a year, with its kind and source.
    pub fn special_days(&self, year: i32) -> Result<Vec<SpecialDay>, CalendarError> {
        let first =
            date(year, 1, 1).ok_or_else(|| CalendarError::Invalid(format!("bad year {year}")))?;
        let last =
            date(year, 12, 31).ok_or_else(|| CalendarError::Invalid(format!("bad year {year}")))?;
        let (i, j) = (self.index(first)?, self.index(last)?);
        let source = self.notice(year).unwrap_or("statutory").to_owned();
        Ok((i..=j)
            .filter_map(|k| {
                let d = self.day(k);
                let kind = self.kinds[k];
                let ordinary = matches!(kind, DayKind::Workday | DayKind::Weekend);
                (!ordinary).then(|| SpecialDay {
                    date: d,
                    kind,
                    source: if kind == DayKind::LocalHoliday {
                        "local".to_owned()
                    } else {
                        source.clone()
                    },
                    name: self.names.get(&d).cloned(),
                })
            })
            .collect())
    }
}

/// A calendar file in `seeds/calendars/`: a region, its notices, and its local days.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFile {
    pub region: String,
    pub name: Text,
    /// A city's calendar builds on its country's (`CN`), adding local days.
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub years: Vec<YearEntry>,
    #[serde(default)]
    pub local_holidays: Vec<String>,
    #[serde(default)]
    pub local_workdays: Vec<String>,
}

/// One year's notice as written in a file or sent by an administrator.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearEntry {
    pub year: i32,
    pub notice: String,
    /// Dates or inclusive ranges: `2025-01-28..2025-02-04`.
    pub holidays: Vec<String>,
    pub workdays: Vec<String>,
}

impl YearEntry {
    pub fn to_notice(&self) -> Result<YearNotice, String> {
        Ok(YearNotice {
            year: self.year,
            notice: self.notice.trim().to_owned(),
            holidays: parse_days(&self.holidays)
                .map_err(|e| format!("year {}: holidays: {e}", self.year))?,
            workdays: parse_days(&self.workdays)
                .map_err(|e| format!("year {}: workdays: {e}", self.year))?,
        })
    }
}

impl RegionFile {
    pub fn parse(file: &str, text: &str) -> Result<RegionFile, String> {
        let f: RegionFile = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        let ok = !f.region.is_empty()
            && f.region.len() <= 32
            && f.region
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(format!(
                "{file}: region `{}` must be upper-case letters, digits and -",
                f.region
            ));
        }
        Ok(f)
    }

    pub fn local(&self) -> Result<LocalDays, String> {
        Ok(LocalDays {
            holidays: parse_days(&self.local_holidays)
                .map_err(|e| format!("local holidays: {e}"))?,
            workdays: parse_days(&self.local_workdays)
                .map_err(|e| format!("local workdays: {e}"))?,
        })
    }
}

/// A date as people type it into a form: `2026-12-04`, `2026/12/04`, `2026.12.04` or
/// `2026年12月4日` (month and day with or without a leading zero; full-width digits and
/// separators too, as a Chinese input method gives them). `None` when it is none of these or
/// no such day exists.
pub fn parse_typed_date(s: &str) -> Option<NaiveDate> {
    // Full-width forms (０-９, －, ／, ．) to ASCII first.
    let s: String = s
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' | '－' | '／' | '．' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect();
    let (body, chinese) = match s.strip_suffix('日') {
        Some(b) => (b, true),
        None => (s.as_str(), false),
    };
    let parts: Vec<&str> = if chinese {
        let (y, rest) = body.split_once('年')?;
        let (m, d) = rest.split_once('月')?;
        vec![y, m, d]
    } else {
        let sep = ['-', '/', '.'].into_iter().find(|c| body.contains(*c))?;
        body.split(sep).collect()
    };
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    let number = |t: &str, max_len: usize| {
        let t = t.trim();
        (!t.is_empty() && t.len() <= max_len && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u32>().ok())
            .flatten()
    };
    if y.trim().len() != 4 {
        return None;
    }
    let year = i32::try_from(number(y, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(m, 2)?, number(d, 2)?)
}

/// A typed date as the ISO text a date input and the API take (`2026-12-04`), or the text as
/// typed when it is not a date (for the validation to name).
pub fn typed_date_text(s: &str) -> String {
    parse_typed_date(s).map_or_else(|| s.trim().to_owned(), |d| d.to_string())
}

/// What is wrong with the days of a notice an administrator typed (one date or range per
/// line), in both languages: lines that are not dates or ranges of at most a month, and dates
/// neither in the notice's year nor next to it. The field is `holidays` or `workdays`.
pub fn day_problems(field: &str, year: i32, items: &[String]) -> Vec<super::Problem> {
    let mut out = Vec::new();
    for item in items {
        let dates: Option<Vec<NaiveDate>> = match item.split_once("..") {
            Some((a, b)) => parse_typed_date(a)
                .zip(parse_typed_date(b))
                .map(|(a, b)| vec![a, b]),
            None => parse_typed_date(item).map(|d| vec![d]),
        };
        let Some(dates) = dates else {
            out.push(super::Problem::new(
                field,
                "invalid_date",
                format!(
                    "「{item}」不是有效日期：请写成 2027-02-06，一段日期写成 2027-02-06..2027-02-13"
                ),
                format!(
                    "“{item}” is not a date: write 2027-02-06, or 2027-02-06..2027-02-13 for a run of days"
                ),
            ));
            continue;
        };
        if let [a, b] = dates.as_slice()
            && (b < a || (*b - *a).num_days() > 31)
        {
            out.push(super::Problem::new(
                field,
                "invalid_range",
                format!("「{item}」不是一个月以内、先早后晚的日期区间"),
                format!("“{item}” is not a run of at most a month, earlier day first"),
            ));
            continue;
        }
        if let Some(d) = dates.iter().find(|d| (d.year() - year).abs() > 1) {
            out.push(super::Problem::new(
                field,
                "wrong_year",
                format!("{d} 不在 {year} 年，也不在相邻年份"),
                format!("{d} is neither in {year} nor next to it"),
            ));
        }
    }
    out
}

/// Parse an inclusive range `2025-01-28..2025-02-04` or a single date (each date as
/// [`parse_typed_date`] reads it).
pub fn parse_days(items: &[String]) -> Result<Vec<NaiveDate>, String> {
    let mut out = Vec::new();
    for item in items {
        let parse = |s: &str| {
            parse_typed_date(s).ok_or_else(|| format!("“{}” is not a YYYY-MM-DD date", s.trim()))
        };
        match item.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (parse(a)?, parse(b)?);
                if b < a || (b - a).num_days() > 31 {
                    return Err(format!("“{item}” is not a range of at most a month"));
                }
                let mut d = a;
                while d <= b {
                    out.push(d);
                    d = d
                        .succ_opt()
                        .ok_or_else(|| format!("“{item}” runs off the calendar"))?;
                }
            }
            None => out.push(parse(item)?),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The national calendar of the seed file, built once, for tests elsewhere in the domain.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn seed_cn() -> &'static Calendar {
    static CN: std::sync::OnceLock<Calendar> = std::sync::OnceLock::new();
    CN.get_or_init(|| {
        let text = include_str!("../../seeds/calendars/CN.toml");
        let f = RegionFile::parse("CN.toml", text).unwrap();
        let notices: Vec<YearNotice> = f.years.iter().map(|y| y.to_notice().unwrap()).collect();
        Calendar::build("CN", &notices, &f.local().unwrap()).unwrap()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn qingming_matches_the_published_dates() {
        for (y, day) in [
            (2008, 4),
            (2015, 5),
            (2019, 5),
            (2020, 4),
            (2023, 5),
            (2024, 4),
            (2025, 4),
            (2026, 5),
        ] {
            assert_eq!(qingming(y), date(y, 4, day), "{y}");
        }
    }

    #[test]
    fn there_are_thirteen_statutory_holidays_a_year() {
        for y in FIRST_YEAR..=LAST_YEAR {
            let days = statutory_holidays(y);
            assert_eq!(days.len(), 13, "{y}: {days:?}");
        }
        // 2025: 除夕 is 01-28, 端午 05-31, 中秋 10-06.
        let days: Vec<NaiveDate> = statutory_holidays(2025)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        for s in [
            "2025-01-28",
            "2025-01-31",
            "2025-05-31",
            "2025-10-06",
            "2025-04-04",
        ] {
            assert!(days.contains(&d(s)), "{s}");
        }
    }

    #[test]
    fn ranges_parse_inclusively_and_bad_ones_are_named() {
        let days = parse_days(&["2025-01-28..2025-01-30".into(), "2025-05-01".into()]).unwrap();
        assert_eq!(
            days,
            [
                d("2025-01-28"),
                d("2025-01-29"),
                d("2025-01-30"),
                d("2025-05-01")
            ]
        );
        assert!(
            parse_days(&["2025-02-30".into()])
                .unwrap_err()
                .contains("2025-02-30")
        );
        assert!(parse_days(&["2025-03-01..2025-01-01".into()]).is_err());
    }

    fn cn() -> &'static Calendar {
        crate::domain::calendar::seed_cn()
    }

    fn range(a: &str, b: &str) -> Vec<NaiveDate> {
        parse_days(&[format!("{a}..{b}")]).unwrap()
    }

    /// The schedules as DOMAIN.md quotes the State Council notices, typed in independently of
    /// the seed file.
    fn published() -> Vec<(Vec<NaiveDate>, Vec<&'static str>)> {
        vec![
            (
                [
                    range("2022-12-31", "2023-01-02"),
                    range("2023-01-21", "2023-01-27"),
                    vec![d("2023-04-05")],
                    range("2023-04-29", "2023-05-03"),
                    range("2023-06-22", "2023-06-24"),
                    range("2023-09-29", "2023-10-06"),
                ]
                .concat(),
                vec![
                    "2023-01-28",
                    "2023-01-29",
                    "2023-04-23",
                    "2023-05-06",
                    "2023-06-25",
                    "2023-10-07",
                    "2023-10-08",
                ],
            ),
            (
                [
                    vec![d("2024-01-01")],
                    range("2024-02-10", "2024-02-17"),
                    range("2024-04-04", "2024-04-06"),
                    range("2024-05-01", "2024-05-05"),
                    vec![d("2024-06-10")],
                    range("2024-09-15", "2024-09-17"),
                    range("2024-10-01", "2024-10-07"),
                ]
                .concat(),
                vec![
                    "2024-02-04",
                    "2024-02-18",
                    "2024-04-07",
                    "2024-04-28",
                    "2024-05-11",
                    "2024-09-14",
                    "2024-09-29",
                    "2024-10-12",
                ],
            ),
            (
                [
                    vec![d("2025-01-01")],
                    range("2025-01-28", "2025-02-04"),
                    range("2025-04-04", "2025-04-06"),
                    range("2025-05-01", "2025-05-05"),
                    range("2025-05-31", "2025-06-02"),
                    range("2025-10-01", "2025-10-08"),
                ]
                .concat(),
                vec![
                    "2025-01-26",
                    "2025-02-08",
                    "2025-04-27",
                    "2025-09-28",
                    "2025-10-11",
                ],
            ),
            (
                [
                    range("2026-01-01", "2026-01-03"),
                    range("2026-02-15", "2026-02-23"),
                    range("2026-04-04", "2026-04-06"),
                    range("2026-05-01", "2026-05-05"),
                    range("2026-06-19", "2026-06-21"),
                    range("2026-09-25", "2026-09-27"),
                    range("2026-10-01", "2026-10-07"),
                ]
                .concat(),
                vec![
                    "2026-01-04",
                    "2026-02-14",
                    "2026-02-28",
                    "2026-05-09",
                    "2026-09-20",
                    "2026-10-10",
                ],
            ),
        ]
    }

    #[test]
    fn every_published_holiday_and_make_up_day_of_2023_to_2026_is_known() {
        let cal = cn();
        for (holidays, workdays) in published() {
            for h in holidays {
                assert_eq!(cal.kind(h).unwrap(), DayKind::Holiday, "{h}");
                assert!(!cal.is_working(h).unwrap());
            }
            for w in workdays {
                let w = d(w);
                assert_eq!(cal.kind(w).unwrap(), DayKind::MakeupWorkday, "{w}");
                assert!(weekend(w), "a make-up day is a weekend day: {w}");
            }
        }
        for y in 2023..=2026 {
            assert!(!cal.is_provisional(y));
        }
        assert!(cal.is_provisional(2027));
    }

    #[test]
    fn the_computed_statutory_holidays_fall_within_the_published_ones_under_the_2024_law() {
        // The 2024 revision (in force 2025) made 除夕 a holiday: from 2025 every computed
        // statutory day must be among the published holidays, which checks the lunar table.
        let cal = cn();
        for y in [2025, 2026] {
            for (day, name) in statutory_holidays(y) {
                assert_eq!(
                    cal.kind(day).unwrap(),
                    DayKind::Holiday,
                    "{day} {}",
                    name.en
                );
            }
        }
    }

    #[test]
    fn a_provisional_year_has_only_the_statutory_holidays_and_says_so() {
        let cal = cn();
        let special = cal.special_days(2027).unwrap();
        assert_eq!(special.len(), 13);
        assert!(
            special
                .iter()
                .all(|s| s.kind == DayKind::StatutoryHoliday && s.source == "statutory")
        );
        // 2027: 除夕 is 02-05, 春节 02-06; 中秋 09-15.
        for s in [
            "2027-01-01",
            "2027-02-05",
            "2027-02-08",
            "2027-09-15",
            "2027-10-03",
        ] {
            assert_eq!(cal.kind(d(s)).unwrap(), DayKind::StatutoryHoliday, "{s}");
        }
        let a = cal.add_working_days(d("2026-12-28"), 5).unwrap();
        assert!(a.provisional);
        assert_eq!(a.value, d("2027-01-05"));
        assert!(
            !cal.add_working_days(d("2026-12-01"), 5)
                .unwrap()
                .provisional
        );
    }

    #[test]
    fn the_law_s_example_accepted_2025_09_26_with_15_working_days_is_due_2025_10_23() {
        let cal = cn();
        let due = cal.add_working_days(d("2025-09-26"), 15).unwrap();
        assert_eq!(
            due,
            Answer {
                value: d("2025-10-23"),
                provisional: false
            }
        );
    }

    #[test]
    fn edges_of_the_calendar_arithmetic() {
        let cal = cn();
        let add = |from: &str, n: u32| cal.add_working_days(d(from), n).unwrap().value;
        // Accepted on a holiday or a weekend: counting starts from the next working day.
        assert_eq!(add("2025-10-03", 1), d("2025-10-09"));
        assert_eq!(add("2025-11-22", 1), d("2025-11-24"));
        // A Friday before a make-up Saturday (and Sunday).
        assert_eq!(add("2025-09-26", 1), d("2025-09-28"));
        assert_eq!(add("2026-02-13", 1), d("2026-02-14"));
        // Across New Year: 2026-01-01..03 off, Sunday 01-04 worked.
        assert_eq!(add("2025-12-30", 3), d("2026-01-05"));
        assert_eq!(add("2025-12-31", 1), d("2026-01-04"));
        // Across the Spring Festival of 2026 (02-15..23 off, 02-14 and 02-28 worked).
        assert_eq!(add("2026-02-14", 1), d("2026-02-24"));
        assert_eq!(add("2026-02-13", 7), d("2026-03-02"));
        // Zero days is the day itself.
        assert_eq!(add("2025-10-03", 0), d("2025-10-03"));
        // Working days used between acceptance and a date.
        assert_eq!(
            cal.working_days_between(d("2025-09-26"), d("2025-10-23"))
                .unwrap()
                .value,
            15
        );
        assert_eq!(
            cal.working_days_between(d("2025-10-23"), d("2025-09-26"))
                .unwrap()
                .value,
            -15
        );
        // Next working day on or after.
        assert_eq!(
            cal.next_working_day(d("2025-10-01")).unwrap().value,
            d("2025-10-09")
        );
        assert_eq!(
            cal.next_working_day(d("2025-10-09")).unwrap().value,
            d("2025-10-09")
        );
        // §203: a 7-day period ending on a holiday ends on the next working day.
        assert_eq!(
            cal.calendar_period_end(d("2025-09-24"), 7).unwrap().value,
            d("2025-10-09")
        );
        assert_eq!(
            cal.calendar_period_end(d("2025-11-03"), 10).unwrap().value,
            d("2025-11-13")
        );
    }

    #[test]
    fn subtracting_working_days_steps_back_over_holidays() {
        let cal = cn();
        assert_eq!(
            cal.sub_working_days(d("2025-10-09"), 1).unwrap().value,
            d("2025-09-30")
        );
        assert_eq!(
            cal.sub_working_days(d("2025-10-23"), 15).unwrap().value,
            d("2025-09-26")
        );
        assert_eq!(
            cal.sub_working_days(d("2025-10-05"), 1).unwrap().value,
            d("2025-09-30")
        );
        let mut from = d("2023-02-01");
        while from <= d("2027-12-31") {
            for n in [1u32, 2, 3, 10] {
                let back = cal.sub_working_days(from, n).unwrap().value;
                // (back, from] holds the n-1 working days between them, plus `from` if it works.
                let expected = i64::from(n) - i64::from(!cal.is_working(from).unwrap());
                assert_eq!(
                    cal.working_days_between(back, from).unwrap().value,
                    expected,
                    "{from} - {n}"
                );
            }
            from = from.succ_opt().unwrap();
        }
    }

    #[test]
    fn out_of_range_dates_are_errors_not_panics() {
        let cal = cn();
        assert!(matches!(
            cal.add_working_days(d("1999-12-31"), 1),
            Err(CalendarError::OutOfRange(_))
        ));
        assert!(matches!(
            cal.add_working_days(d("2099-12-30"), 10),
            Err(CalendarError::TooFar(..))
        ));
        assert!(cal.kind(d("2100-01-01")).is_err());
    }

    #[test]
    fn a_region_adds_its_local_days_to_its_base() {
        let text = include_str!("../../seeds/calendars/CN.toml");
        let f = RegionFile::parse("CN.toml", text).unwrap();
        let notices: Vec<YearNotice> = f.years.iter().map(|y| y.to_notice().unwrap()).collect();
        let local = LocalDays {
            holidays: vec![d("2025-11-24")],
            workdays: vec![],
        };
        let cal = Calendar::build("CN-TEST", &notices, &local).unwrap();
        assert_eq!(cal.kind(d("2025-11-24")).unwrap(), DayKind::LocalHoliday);
        assert_eq!(
            cal.add_working_days(d("2025-11-21"), 1).unwrap().value,
            d("2025-11-25")
        );
    }

    #[test]
    fn contradictory_notices_are_refused() {
        let bad = YearNotice {
            year: 2025,
            notice: "x".into(),
            holidays: vec![d("2025-05-01")],
            workdays: vec![d("2025-05-01")],
        };
        assert!(Calendar::build("CN", &[bad], &LocalDays::default()).is_err());
    }

    /// The naive version: step day by day.
    fn naive_add(cal: &Calendar, from: NaiveDate, n: u32) -> NaiveDate {
        let mut d = from;
        let mut left = n;
        while left > 0 {
            d = d.succ_opt().unwrap();
            if cal.is_working(d).unwrap() {
                left -= 1;
            }
        }
        d
    }

    #[test]
    fn fast_arithmetic_agrees_with_the_naive_version_on_every_date_2023_to_2027() {
        let cal = cn();
        let mut from = d("2023-01-01");
        while from <= d("2027-12-31") {
            for n in [0u32, 1, 2, 3, 5, 7, 10, 15, 20, 30, 60] {
                assert_eq!(
                    cal.add_working_days(from, n).unwrap().value,
                    naive_add(cal, from, n),
                    "{from} + {n}"
                );
            }
            let mut next = from;
            while !cal.is_working(next).unwrap() {
                next = next.succ_opt().unwrap();
            }
            assert_eq!(cal.next_working_day(from).unwrap().value, next, "{from}");
            from = from.succ_opt().unwrap();
        }
    }

    #[test]
    fn dates_are_read_as_people_type_them() {
        let day = Some(d("2026-12-04"));
        for typed in [
            "2026-12-04",
            " 2026-12-4 ",
            "2026/12/04",
            "2026/12/4",
            "2026.12.04",
            "2026年12月4日",
            "2026年12月04日",
            "２０２６年１２月４日",
            "２０２６－１２－０４",
        ] {
            assert_eq!(parse_typed_date(typed), day, "{typed}");
        }
        for wrong in [
            "",
            "2026-02-30",
            "26-12-04",
            "2026-12",
            "2026-12-04-01",
            "2026/12-04",
            "2026年12月",
            "十二月四日",
            "2026-12-04T00:00",
            "+2026-12-04",
        ] {
            assert_eq!(parse_typed_date(wrong), None, "{wrong}");
        }
        assert_eq!(typed_date_text("2026年12月4日"), "2026-12-04");
        assert_eq!(typed_date_text(" nonsense "), "nonsense");
    }

    #[test]
    fn a_notice_typed_wrong_is_told_line_by_line_in_both_languages() {
        let lines = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(
            day_problems(
                "holidays",
                2027,
                &lines(&["2027/01/01", "2027-02-06..2027-02-13"])
            )
            .is_empty()
        );
        let ps = day_problems(
            "holidays",
            2027,
            &lines(&["2027-02-30", "2027-02-13..2027-02-06", "2030-01-01"]),
        );
        let codes: Vec<&str> = ps.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["invalid_date", "invalid_range", "wrong_year"]);
        assert!(ps.iter().all(|p| p.path == "holidays"));
        assert!(ps[0].message.zh.contains("「2027-02-30」不是有效日期"));
        assert!(ps.iter().all(|p| !p.message.en.contains('`')));
    }

    proptest::proptest! {
        #[test]
        fn between_inverts_add(offset in 0i64..(5 * 365), n in 0u32..400) {
            let cal = cn();
            let from = d("2023-01-01") + chrono::Duration::days(offset);
            let to = cal.add_working_days(from, n).unwrap().value;
            proptest::prop_assert_eq!(to, naive_add(cal, from, n));
            proptest::prop_assert_eq!(cal.working_days_between(from, to).unwrap().value, i64::from(n));
        }
    }
}
