//! Dates: written in full as YYYY-MM-DD (or YYYYMMDD inside an ID number), and only days that
//! exist in the calendar.

use chrono::NaiveDate;

use crate::domain::Problem;
use crate::domain::definition::Text;

pub(super) fn check_date(l: &Text, s: &str, path: &str, out: &mut Vec<Problem>) {
    match parse_ymd(s, true) {
        Err(DateError::Format) => out.push(Problem::new(
            path,
            "invalid_format",
            format!("「{}」应为“年-月-日”格式的日期，如 2025-09-26", l.zh),
            format!(
                "{} must be a date written YYYY-MM-DD, such as 2025-09-26",
                l.en
            ),
        )),
        Err(DateError::NoSuchDay) => out.push(Problem::new(
            path,
            "invalid_date",
            format!("「{}」的日期 {s} 不存在", l.zh),
            format!("{} is not a real calendar date: {s}", l.en),
        )),
        Ok(_) => {}
    }
}

pub(super) enum DateError {
    Format,
    NoSuchDay,
}

/// `YYYY-MM-DD` (with dashes) or `YYYYMMDD` (inside an ID number), digits only, and a day that
/// exists in the calendar.
pub(super) fn parse_ymd(s: &str, dashes: bool) -> Result<NaiveDate, DateError> {
    let b = s.as_bytes();
    let (y, m, d) = if dashes {
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(DateError::Format);
        }
        (&s[0..4], &s[5..7], &s[8..10])
    } else {
        if b.len() != 8 {
            return Err(DateError::Format);
        }
        (&s[0..4], &s[4..6], &s[6..8])
    };
    let num = |t: &str| -> Result<u32, DateError> {
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().map_err(|_| DateError::Format)
        } else {
            Err(DateError::Format)
        }
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    let y = i32::try_from(y).map_err(|_| DateError::Format)?;
    NaiveDate::from_ymd_opt(y, m, d).ok_or(DateError::NoSuchDay)
}

#[cfg(test)]
mod tests {
    use crate::domain::forms::tests::one_code;
    use serde_json::json;

    #[test]
    fn dates_must_be_written_in_full_and_exist() {
        assert_eq!(one_code("start", json!("2024-02-29")), Vec::<String>::new());
        assert_eq!(one_code("start", json!("2025-02-29")), vec!["invalid_date"]);
        assert_eq!(one_code("start", json!("2025-13-01")), vec!["invalid_date"]);
        assert_eq!(one_code("start", json!("2025-1-5")), vec!["invalid_format"]);
        assert_eq!(
            one_code("start", json!("2025/01/05")),
            vec!["invalid_format"]
        );
        assert_eq!(
            one_code("start", json!("２０２５-01-05")),
            vec!["invalid_format"]
        );
        assert_eq!(one_code("start", json!(20250105)), vec!["wrong_type"]);
    }
}
