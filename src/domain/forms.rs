//! Form validation: the fields of an item definition checked against what an applicant typed.
//!
//! Policy:
//! - Pure and total: any JSON value is judged, none makes it panic, and a bad rule in a definition
//!   (a pattern that does not compile) is reported as a problem rather than crashing the request.
//! - Every problem is reported, not the first (行政许可法 §32: the applicant is told everything that
//!   is wrong at once). Each problem has a path (`form.<code>`, `form.<code>[<row>].<column>`), a
//!   stable machine code and a message in Chinese and English that names the field's label.
//! - `null`, a blank string and an empty roster count as absent: a draft may be saved with gaps
//!   ([`Mode::Draft`]); only [`Mode::Complete`] (submitting, accepting) insists on required fields.
//! - Money and areas are exact: they are read from their decimal text into hundredths (分, 0.01 m²)
//!   and never pass through a float, so 0.1 + 0.2 is never 0.30000000000000004 and a threshold of
//!   300000 means exactly 300000.00.
//! - Values are judged, not corrected: lower-case letters in a credit code are refused with a message
//!   saying so, because the stored value is what is printed on certificates and compared later.

use std::collections::HashMap;

use chrono::NaiveDate;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Problem;
use super::definition::{Definition, Field, FieldType, Text};

/// A text field without `max_len` still has a ceiling: a form is not a place for documents, and
/// an unbounded value would be stored, indexed and mailed as is.
pub const TEXT_CAP: usize = 2000;
/// The largest roster accepted; a residential building has far fewer units.
pub const ROSTER_MAX_ROWS: usize = 2000;
/// The longest unit (房号) in a roster, in characters.
pub const UNIT_MAX_CHARS: usize = 50;
/// The longest e-mail address that can be delivered (RFC 5321 path length).
pub const EMAIL_MAX: usize = 254;

/// How strict a validation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Saving a draft: only the values present are checked.
    Draft,
    /// Submitting or deciding: every required field must also be present and non-empty.
    Complete,
}

/// Check a form against the fields of a definition, listing every problem found.
pub fn validate(def: &Definition, form: &Map<String, Value>, mode: Mode) -> Vec<Problem> {
    let mut problems = Vec::new();
    for field in &def.fields {
        let path = format!("form.{}", field.code);
        match form.get(&field.code) {
            Some(value) if !is_absent(field, value) => {
                check_value(field, value, &path, &mut problems)
            }
            _ => {
                if mode == Mode::Complete && field.required {
                    problems.push(Problem::new(
                        path,
                        "required",
                        format!("请填写「{}」", field.label.zh),
                        format!("{} is required", field.label.en),
                    ));
                }
            }
        }
    }
    for key in form.keys() {
        if def.field(key).is_none() {
            problems.push(Problem::new(
                format!("form.{key}"),
                "unknown_field",
                format!("本事项没有「{key}」这一项，请删除"),
                format!("This application has no field `{key}`; please remove it"),
            ));
        }
    }
    problems
}

/// `null`, a blank string and (for a roster) an empty table are what a form sends for a field the
/// applicant has not filled in yet.
fn is_absent(field: &Field, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(rows) => rows.is_empty() && matches!(field.ty, FieldType::Roster),
        _ => false,
    }
}

fn check_value(field: &Field, value: &Value, path: &str, out: &mut Vec<Problem>) {
    let l = &field.label;
    match &field.ty {
        FieldType::Text {
            min_len,
            max_len,
            pattern,
        } => {
            let Some(s) = string_or_wrong_type(l, value, path, "文字", "text", out) else {
                return;
            };
            check_text(
                l,
                s,
                path,
                *min_len,
                *max_len,
                pattern.as_deref(),
                field.help.as_ref(),
                out,
            );
        }
        FieldType::Integer { min, max } => check_integer(l, value, path, *min, *max, out),
        FieldType::Amount { min, max } | FieldType::Area { min, max } => {
            check_decimal(l, value, path, *min, *max, out)
        }
        FieldType::Date => {
            let Some(s) = string_or_wrong_type(l, value, path, "日期", "a date", out) else {
                return;
            };
            check_date(l, s, path, out);
        }
        FieldType::CreditCode => {
            let Some(s) = string_or_wrong_type(l, value, path, "文字", "text", out) else {
                return;
            };
            if let Some(e) = credit_code_error(s) {
                out.push(e.problem(l, path));
            }
        }
        FieldType::IdCard => {
            let Some(s) = string_or_wrong_type(l, value, path, "文字", "text", out) else {
                return;
            };
            for e in id_card_errors(s) {
                out.push(e.problem(l, path));
            }
        }
        FieldType::Phone => {
            let Some(s) = string_or_wrong_type(l, value, path, "文字", "text", out) else {
                return;
            };
            if !phone_valid(s) {
                out.push(Problem::new(
                    path,
                    "invalid_format",
                    format!("「{}」应为 11 位手机号码或带区号的固定电话，如 13812345678 或 0571-88889999", l.zh),
                    format!(
                        "{} must be an 11-digit mobile number or a landline with its area code, \
                         such as 13812345678 or 0571-88889999",
                        l.en
                    ),
                ));
            }
        }
        FieldType::Email => {
            let Some(s) = string_or_wrong_type(l, value, path, "文字", "text", out) else {
                return;
            };
            let n = s.chars().count();
            if n > EMAIL_MAX {
                out.push(too_long(l, path, EMAIL_MAX, n));
            } else if !email_valid(s) {
                out.push(Problem::new(
                    path,
                    "invalid_format",
                    format!("「{}」不是有效的电子邮箱地址，如 name@example.cn", l.zh),
                    format!(
                        "{} is not a valid e-mail address such as name@example.cn",
                        l.en
                    ),
                ));
            }
        }
        FieldType::Select { options } => {
            let Some(s) = string_or_wrong_type(l, value, path, "选项", "one of the options", out)
            else {
                return;
            };
            if !options.iter().any(|o| o.value == s) {
                let zh: Vec<&str> = options.iter().map(|o| o.label.zh.as_str()).collect();
                let en: Vec<&str> = options.iter().map(|o| o.label.en.as_str()).collect();
                out.push(Problem::new(
                    path,
                    "not_an_option",
                    format!("「{}」只能选择：{}", l.zh, zh.join("、")),
                    format!("{} must be one of: {}", l.en, en.join(", ")),
                ));
            }
        }
        FieldType::Boolean => {
            if !value.is_boolean() {
                out.push(wrong_type(l, path, "是或否", "yes or no"));
            }
        }
        FieldType::Roster => {
            if let Err(problems) = roster_labelled(value, path, l) {
                out.extend(problems);
            }
        }
    }
}

fn string_or_wrong_type<'v>(
    l: &Text,
    value: &'v Value,
    path: &str,
    zh: &str,
    en: &str,
    out: &mut Vec<Problem>,
) -> Option<&'v str> {
    match value {
        Value::String(s) => Some(s),
        _ => {
            out.push(wrong_type(l, path, zh, en));
            None
        }
    }
}

fn wrong_type(l: &Text, path: &str, zh: &str, en: &str) -> Problem {
    Problem::new(
        path,
        "wrong_type",
        format!("「{}」应填写{zh}", l.zh),
        format!("{} must be {en}", l.en),
    )
}

fn too_long(l: &Text, path: &str, max: usize, n: usize) -> Problem {
    Problem::new(
        path,
        "too_long",
        format!("「{}」不能超过 {max} 个字（现有 {n} 个）", l.zh),
        format!(
            "{} must be at most {max} characters long (it has {n})",
            l.en
        ),
    )
}

/// A character no text taken in may hold: a control character other than tab and the line
/// breaks. NUL in particular cannot be stored in a PostgreSQL text column and would turn a
/// typing slip into a server error.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// Whether text holds a forbidden character (see [`is_forbidden_char`]).
pub fn has_control(s: &str) -> bool {
    s.chars().any(is_forbidden_char)
}

#[allow(clippy::too_many_arguments)]
fn check_text(
    l: &Text,
    s: &str,
    path: &str,
    min_len: Option<u32>,
    max_len: Option<u32>,
    pattern: Option<&str>,
    help: Option<&Text>,
    out: &mut Vec<Problem>,
) {
    let n = s.chars().count();
    let max = max_len.map_or(TEXT_CAP, |m| m as usize);
    if n > max {
        out.push(too_long(l, path, max, n));
    }
    if let Some(min) = min_len.map(|m| m as usize)
        && n < min
    {
        out.push(Problem::new(
            path,
            "too_short",
            format!("「{}」至少需要 {min} 个字（现有 {n} 个）", l.zh),
            format!(
                "{} must be at least {min} characters long (it has {n})",
                l.en
            ),
        ));
    }
    if has_control(s) {
        out.push(Problem::new(
            path,
            "invalid_format",
            format!("「{}」含有不可见的控制字符，请删除", l.zh),
            format!(
                "{} contains invisible control characters; please remove them",
                l.en
            ),
        ));
    }
    if let Some(p) = pattern {
        match compile_pattern(p) {
            Ok(re) => {
                if !re.is_match(s) {
                    let (hint_zh, hint_en) = match help {
                        Some(h) => (format!("：{}", h.zh), format!(": {}", h.en)),
                        None => (String::new(), String::new()),
                    };
                    out.push(Problem::new(
                        path,
                        "pattern",
                        format!("「{}」的格式不正确{hint_zh}", l.zh),
                        format!("{} is not in the required format{hint_en}", l.en),
                    ));
                }
            }
            // The applicant cannot fix this, but refusing is safer than skipping the rule; the
            // definition checker refuses such a definition before it is ever loaded.
            Err(_) => out.push(Problem::new(
                path,
                "pattern",
                format!("「{}」的格式规则配置有误，请联系办理机关", l.zh),
                format!(
                    "The format rule of {} is misconfigured; please contact the bureau",
                    l.en
                ),
            )),
        }
    }
}

/// Compile a definition's pattern so that it must match the whole value. The pattern is first
/// compiled alone, so that one like `a)|(b` cannot escape the anchoring group; sizes are capped
/// so that a careless pattern cannot take the memory of the service.
pub(crate) fn compile_pattern(pattern: &str) -> Result<Regex, regex::Error> {
    let build = |p: &str| {
        RegexBuilder::new(p)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .nest_limit(64)
            .build()
    };
    build(pattern)?;
    build(&format!(r"\A(?:{pattern})\z"))
}

fn check_integer(
    l: &Text,
    value: &Value,
    path: &str,
    min: Option<i64>,
    max: Option<i64>,
    out: &mut Vec<Problem>,
) {
    let Value::Number(n) = value else {
        out.push(wrong_type(l, path, "整数", "a whole number"));
        return;
    };
    let Some(i) = n.as_i64() else {
        if n.is_u64() {
            out.push(Problem::new(
                path,
                "too_large",
                format!("「{}」的数值过大", l.zh),
                format!("{} is too large", l.en),
            ));
        } else {
            out.push(wrong_type(l, path, "整数", "a whole number"));
        }
        return;
    };
    if let Some(min) = min
        && i < min
    {
        out.push(too_small(l, path, &min.to_string()));
    }
    if let Some(max) = max
        && i > max
    {
        out.push(too_large(l, path, &max.to_string()));
    }
}

fn too_small(l: &Text, path: &str, min: &str) -> Problem {
    Problem::new(
        path,
        "too_small",
        format!("「{}」不能小于 {min}", l.zh),
        format!("{} must not be less than {min}", l.en),
    )
}

fn too_large(l: &Text, path: &str, max: &str) -> Problem {
    Problem::new(
        path,
        "too_large",
        format!("「{}」不能大于 {max}", l.zh),
        format!("{} must not be more than {max}", l.en),
    )
}

fn check_decimal(
    l: &Text,
    value: &Value,
    path: &str,
    min: Option<f64>,
    max: Option<f64>,
    out: &mut Vec<Problem>,
) {
    let h = match parse_hundredths(value) {
        Ok(h) => h,
        Err(e) => {
            out.push(e.problem(l, path));
            return;
        }
    };
    // Without a minimum, money and areas are not negative: a negative investment or floor area is
    // a typing slip, and a definition that wants negatives says so with `min`.
    let lo = min.map_or(0, |m| bound_hundredths(m, true));
    if h < lo {
        out.push(too_small(l, path, &show_hundredths(lo)));
    }
    if let Some(m) = max {
        let hi = bound_hundredths(m, false);
        if h > hi {
            out.push(too_large(l, path, &show_hundredths(hi)));
        }
    }
}

/// A bound from a definition in hundredths. The checker refuses bounds with more than two
/// decimals; should one get here anyway, it is rounded towards the inside of the range.
fn bound_hundredths(x: f64, is_min: bool) -> i64 {
    if let Some(h) = hundredths(&Value::from(x)) {
        return h;
    }
    // `as` saturates and maps NaN to 0: no panic whatever the definition holds.
    if is_min {
        (x * 100.0).ceil() as i64
    } else {
        (x * 100.0).floor() as i64
    }
}

/// Hundredths as a citizen writes the number: 300000, 12.5, 0.05, -3.
pub(crate) fn show_hundredths(h: i64) -> String {
    let sign = if h < 0 { "-" } else { "" };
    let a = h.unsigned_abs();
    let (int, frac) = (a / 100, a % 100);
    if frac == 0 {
        format!("{sign}{int}")
    } else if frac % 10 == 0 {
        format!("{sign}{int}.{}", frac / 10)
    } else {
        format!("{sign}{int}.{frac:02}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumError {
    WrongType,
    Format,
    TooManyDecimals,
    OutOfRange { negative: bool },
}

impl NumError {
    fn problem(self, l: &Text, path: &str) -> Problem {
        match self {
            NumError::WrongType => wrong_type(l, path, "数字", "a number"),
            NumError::Format => Problem::new(
                path,
                "invalid_format",
                format!(
                    "「{}」不是有效的数字，请只填写数字和小数点，如 1250.50",
                    l.zh
                ),
                format!(
                    "{} is not a valid number; use digits and a decimal point, such as 1250.50",
                    l.en
                ),
            ),
            NumError::TooManyDecimals => Problem::new(
                path,
                "too_many_decimals",
                format!("「{}」最多保留两位小数", l.zh),
                format!("{} may have at most two decimals", l.en),
            ),
            NumError::OutOfRange { negative: false } => Problem::new(
                path,
                "too_large",
                format!("「{}」的数值过大", l.zh),
                format!("{} is too large", l.en),
            ),
            NumError::OutOfRange { negative: true } => Problem::new(
                path,
                "too_small",
                format!("「{}」的数值过小", l.zh),
                format!("{} is too small", l.en),
            ),
        }
    }
}

/// A JSON number or numeric string with at most two decimals, as an exact count of hundredths
/// (12.5 → 1250). Exponents are read exactly ("1e3" → 100000) and refused when they leave more
/// than two decimals ("1e-3"). Trailing zeros are not decimals that matter ("1.500" → 150).
pub fn hundredths(v: &Value) -> Option<i64> {
    parse_hundredths(v).ok()
}

fn parse_hundredths(v: &Value) -> Result<i64, NumError> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return i
                    .checked_mul(100)
                    .ok_or(NumError::OutOfRange { negative: i < 0 });
            }
            if n.is_u64() {
                return Err(NumError::OutOfRange { negative: false });
            }
            // A float is read from its shortest round-trip text, which is the decimal the sender
            // wrote (1.005 stays "1.005", and is refused, instead of becoming 1.00499…).
            decimal_hundredths(&n.to_string())
        }
        Value::String(s) => decimal_hundredths(s.trim()),
        _ => Err(NumError::WrongType),
    }
}

/// Parse `-?digits(.digits)?([eE][+-]?digits)?` into hundredths, exactly.
fn decimal_hundredths(s: &str) -> Result<i64, NumError> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || (mantissa.contains('.') && !all_digits(frac)) {
        return Err(NumError::Format);
    }
    let exp: i64 = match exponent {
        None => 0,
        Some(e) => {
            let (sign, digits) = match e.as_bytes().first() {
                Some(b'-') => (-1, &e[1..]),
                Some(b'+') => (1, &e[1..]),
                _ => (1, e),
            };
            if !all_digits(digits) {
                return Err(NumError::Format);
            }
            // Any exponent beyond nine digits is out of range or inexact for every mantissa
            // but zero; clamping keeps the arithmetic below in range.
            let magnitude: i64 = if digits.len() > 9 {
                1_000_000_000
            } else {
                digits.parse().map_err(|_| NumError::Format)?
            };
            sign * magnitude
        }
    };
    let digits: String = [int, frac].concat();
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0); // "0", "-0", "0.00", "0e7"
    }
    // The value is digits × 10^shift hundredths.
    let shift = exp - frac.len() as i64 + 2;
    let significant = if shift >= 0 {
        digits
    } else {
        let drop = usize::try_from(-shift).unwrap_or(usize::MAX);
        if drop >= digits.len() {
            return Err(NumError::TooManyDecimals);
        }
        let (keep, dropped) = digits.split_at(digits.len() - drop);
        if dropped.bytes().any(|b| b != b'0') {
            return Err(NumError::TooManyDecimals);
        }
        keep
    };
    let range = NumError::OutOfRange { negative };
    // i64 has 19 digits; anything longer (after the shift) cannot fit.
    if significant.len() as i64 + shift.max(0) > 19 {
        return Err(range);
    }
    let mut value: i128 = 0;
    for b in significant.bytes() {
        value = value * 10 + i128::from(b - b'0');
    }
    for _ in 0..shift.max(0) {
        value *= 10;
    }
    let value = if negative { -value } else { value };
    i64::try_from(value).map_err(|_| range)
}

fn check_date(l: &Text, s: &str, path: &str, out: &mut Vec<Problem>) {
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

enum DateError {
    Format,
    NoSuchDay,
}

/// `YYYY-MM-DD` (with dashes) or `YYYYMMDD` (inside an ID number), digits only, and a day that
/// exists in the calendar.
fn parse_ymd(s: &str, dashes: bool) -> Result<NaiveDate, DateError> {
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

/// GB 32100-2015: the 31 characters a credit code may use (no I, O, S, V, Z).
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeError {
    Length { expected: usize, actual: usize },
    LowerCase,
    Character(char),
    IdCharacters,
    BirthDate,
    Check,
}

impl CodeError {
    fn problem(self, l: &Text, path: &str) -> Problem {
        match self {
            CodeError::Length { expected, actual } => Problem::new(
                path,
                "invalid_format",
                format!("「{}」应为 {expected} 位（现有 {actual} 位）", l.zh),
                format!(
                    "{} must be {expected} characters long (it has {actual})",
                    l.en
                ),
            ),
            CodeError::LowerCase => Problem::new(
                path,
                "invalid_format",
                format!("「{}」中的字母须为大写", l.zh),
                format!("{} must be written with capital letters", l.en),
            ),
            CodeError::Character(c) => Problem::new(
                path,
                "invalid_format",
                format!(
                    "「{}」含有不允许的字符「{c}」（只用数字和除 I、O、S、V、Z 以外的大写字母）",
                    l.zh
                ),
                format!(
                    "{} contains `{c}`, which is not allowed (only digits and capital letters other \
                     than I, O, S, V, Z)",
                    l.en
                ),
            ),
            CodeError::IdCharacters => Problem::new(
                path,
                "invalid_format",
                format!("「{}」应为 17 位数字加 1 位数字或大写字母 X", l.zh),
                format!(
                    "{} must be 17 digits followed by a digit or a capital X",
                    l.en
                ),
            ),
            CodeError::BirthDate => Problem::new(
                path,
                "invalid_date",
                format!("「{}」中的出生日期（第 7 至 14 位）不存在", l.zh),
                format!(
                    "The date of birth in {} (characters 7 to 14) does not exist",
                    l.en
                ),
            ),
            CodeError::Check => Problem::new(
                path,
                "check_character",
                format!("「{}」的最后一位校验码不正确，请逐位核对", l.zh),
                format!(
                    "The last (check) character of {} is wrong; please check every character",
                    l.en
                ),
            ),
        }
    }
}

fn credit_code_error(s: &str) -> Option<CodeError> {
    let actual = s.chars().count();
    if actual != 18 {
        return Some(CodeError::Length {
            expected: 18,
            actual,
        });
    }
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        return Some(CodeError::LowerCase);
    }
    let mut values = [0u32; 18];
    for (slot, c) in values.iter_mut().zip(s.chars()) {
        match CREDIT_CHARSET.iter().position(|&x| char::from(x) == c) {
            Some(i) => *slot = i as u32,
            None => return Some(CodeError::Character(c)),
        }
    }
    let sum: u32 = values.iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    (values[17] != check).then_some(CodeError::Check)
}

/// Whether `s` is a 统一社会信用代码 with a correct check character (GB 32100-2015).
pub fn credit_code_valid(s: &str) -> bool {
    credit_code_error(s).is_none()
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

fn id_card_errors(s: &str) -> Vec<CodeError> {
    let actual = s.chars().count();
    if actual != 18 {
        return vec![CodeError::Length {
            expected: 18,
            actual,
        }];
    }
    let b = s.as_bytes(); // 18 chars that are all ASCII from here on, or refused below
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return vec![CodeError::IdCharacters];
    }
    if b[17] == b'x' {
        return vec![CodeError::LowerCase];
    }
    if !(b[17].is_ascii_digit() || b[17] == b'X') {
        return vec![CodeError::IdCharacters];
    }
    let mut errors = Vec::new();
    if parse_ymd(&s[6..14], false).is_err() {
        errors.push(CodeError::BirthDate);
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if ID_CHECK[(sum % 11) as usize] != b[17] {
        errors.push(CodeError::Check);
    }
    errors
}

/// Whether `s` is an 18-character 居民身份证号码 with a real birth date and a correct check
/// character (GB 11643-1999). The check X must be upper case.
pub fn id_card_valid(s: &str) -> bool {
    id_card_errors(s).is_empty()
}

/// A mainland mobile number (1[3-9] and nine digits) or a landline (0, a 2–3 digit area code, an
/// optional dash, 7–8 digits). ASCII digits only: full-width digits look alike but do not dial.
fn phone_valid(s: &str) -> bool {
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let b = s.as_bytes();
    if b.first() == Some(&b'1') {
        return b.len() == 11 && (b'3'..=b'9').contains(&b[1]) && digits(s);
    }
    if b.first() != Some(&b'0') {
        return false;
    }
    match s.split_once('-') {
        Some((area, local)) => {
            (3..=4).contains(&area.len())
                && (7..=8).contains(&local.len())
                && digits(area)
                && digits(local)
        }
        None => (10..=12).contains(&b.len()) && digits(s),
    }
}

/// A sane address, not RFC 5322: one @, something before it, a dotted domain after it, no spaces.
fn email_valid(s: &str) -> bool {
    if s.chars().count() > EMAIL_MAX || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// An owner's vote in a 民法典 §278 decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    Agree,
    Object,
    Abstain,
    /// Did not take part in the vote.
    Absent,
}

impl Vote {
    pub const ALL: [Vote; 4] = [Vote::Agree, Vote::Object, Vote::Abstain, Vote::Absent];

    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Agree => "agree",
            Vote::Object => "object",
            Vote::Abstain => "abstain",
            Vote::Absent => "absent",
        }
    }

    pub fn parse(s: &str) -> Option<Vote> {
        Vote::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// One row of an owners' roster (业主名册).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RosterRow {
    /// The unit (房号), trimmed.
    pub unit: String,
    /// Exclusive area in hundredths of a square metre.
    pub area: i64,
    pub vote: Vote,
    /// The owner signed the written consent.
    pub signed: bool,
}

const ROSTER_COLUMNS: [&str; 4] = ["unit", "area", "vote", "signed"];

/// Read an owners' roster, or list every problem in it. `path` is where the roster sits
/// (`form.owners`); a row's problems are at `form.owners[<i>].<column>`, counted from 0, while
/// messages count rows from 1 as people do.
pub fn roster(v: &Value, path: &str) -> Result<Vec<RosterRow>, Vec<Problem>> {
    let label = Text {
        zh: "业主名册".into(),
        en: "The owners' roster".into(),
    };
    roster_labelled(v, path, &label)
}

fn roster_labelled(v: &Value, path: &str, l: &Text) -> Result<Vec<RosterRow>, Vec<Problem>> {
    let Value::Array(items) = v else {
        return Err(vec![wrong_type(
            l,
            path,
            "表格（每户一行）",
            "a table with one row per unit",
        )]);
    };
    if items.is_empty() {
        return Err(vec![Problem::new(
            path,
            "empty",
            format!("「{}」至少需要填写一行", l.zh),
            format!("{} must have at least one row", l.en),
        )]);
    }
    if items.len() > ROSTER_MAX_ROWS {
        // The rows are not examined: a huge table would only yield a huge list of problems.
        return Err(vec![Problem::new(
            path,
            "too_long",
            format!(
                "「{}」最多 {ROSTER_MAX_ROWS} 行（现有 {} 行）",
                l.zh,
                items.len()
            ),
            format!(
                "{} may have at most {ROSTER_MAX_ROWS} rows (it has {})",
                l.en,
                items.len()
            ),
        )]);
    }
    let mut problems = Vec::new();
    let mut rows = Vec::with_capacity(items.len());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let row_path = format!("{path}[{i}]");
        let n = i + 1;
        let Value::Object(cells) = item else {
            problems.push(Problem::new(
                row_path,
                "wrong_type",
                format!(
                    "「{}」第 {n} 行应为一条记录（房号、面积、表决意见、是否签字）",
                    l.zh
                ),
                format!(
                    "Row {n} of {} must be a record (unit, area, vote, signed)",
                    l.en
                ),
            ));
            continue;
        };
        let before = problems.len();
        for key in cells.keys() {
            if !ROSTER_COLUMNS.contains(&key.as_str()) {
                problems.push(Problem::new(
                    format!("{row_path}.{key}"),
                    "unknown_field",
                    format!("「{}」第 {n} 行有多余的一栏「{key}」", l.zh),
                    format!("Row {n} of {} has an extra column `{key}`", l.en),
                ));
            }
        }
        let cell = |col: &str| cells.get(col).filter(|v| !v.is_null());
        let mut cell_problem = |col: &str, code: &str, zh: String, en: String| {
            problems.push(Problem::new(
                format!("{row_path}.{col}"),
                code,
                format!("「{}」第 {n} 行{zh}", l.zh),
                format!("Row {n} of {}: {en}", l.en),
            ));
        };
        let missing = |col_zh: &str, col_en: &str| {
            (format!("缺少{col_zh}"), format!("the {col_en} is missing"))
        };

        let unit = match cell("unit") {
            None => {
                let (zh, en) = missing("房号", "unit");
                cell_problem("unit", "required", zh, en);
                None
            }
            Some(Value::String(s)) => {
                let u = s.trim();
                let len = u.chars().count();
                if u.is_empty() {
                    cell_problem(
                        "unit",
                        "empty",
                        "的房号不能为空".into(),
                        "the unit must not be blank".into(),
                    );
                    None
                } else if len > UNIT_MAX_CHARS {
                    cell_problem(
                        "unit",
                        "too_long",
                        format!("的房号不能超过 {UNIT_MAX_CHARS} 个字（现有 {len} 个）"),
                        format!(
                            "the unit must be at most {UNIT_MAX_CHARS} characters long (it has {len})"
                        ),
                    );
                    None
                } else if has_control(u) {
                    cell_problem(
                        "unit",
                        "invalid_format",
                        "的房号含有不可见的控制字符".into(),
                        "the unit contains invisible control characters".into(),
                    );
                    None
                } else if let Some(first) = seen.get(u) {
                    cell_problem(
                        "unit",
                        "duplicate",
                        format!("的房号「{u}」与第 {} 行重复", first + 1),
                        format!("the unit `{u}` already appears in row {}", first + 1),
                    );
                    None
                } else {
                    seen.insert(u, i);
                    Some(u.to_owned())
                }
            }
            Some(_) => {
                cell_problem(
                    "unit",
                    "wrong_type",
                    "的房号应为文字".into(),
                    "the unit must be text".into(),
                );
                None
            }
        };

        let area = match cell("area") {
            None => {
                let (zh, en) = missing("专有部分面积", "exclusive area");
                cell_problem("area", "required", zh, en);
                None
            }
            Some(v) => match parse_hundredths(v) {
                Ok(h) if h > 0 => Some(h),
                Ok(_) => {
                    cell_problem(
                        "area",
                        "too_small",
                        "的专有部分面积须大于 0".into(),
                        "the exclusive area must be more than 0".into(),
                    );
                    None
                }
                Err(e) => {
                    let (code, zh, en) = match e {
                        NumError::WrongType => {
                            ("wrong_type", "的面积应为数字", "the area must be a number")
                        }
                        NumError::Format => (
                            "invalid_format",
                            "的面积不是有效的数字",
                            "the area is not a valid number",
                        ),
                        NumError::TooManyDecimals => (
                            "too_many_decimals",
                            "的面积最多保留两位小数",
                            "the area may have at most two decimals",
                        ),
                        NumError::OutOfRange { negative: true } => (
                            "too_small",
                            "的专有部分面积须大于 0",
                            "the exclusive area must be more than 0",
                        ),
                        NumError::OutOfRange { negative: false } => {
                            ("too_large", "的面积数值过大", "the area is too large")
                        }
                    };
                    cell_problem("area", code, zh.into(), en.into());
                    None
                }
            },
        };

        let vote = match cell("vote") {
            None => {
                let (zh, en) = missing("表决意见", "vote");
                cell_problem("vote", "required", zh, en);
                None
            }
            Some(Value::String(s)) => match Vote::parse(s) {
                Some(v) => Some(v),
                None => {
                    cell_problem(
                        "vote",
                        "not_an_option",
                        "的表决意见只能是 agree（同意）、object（反对）、abstain（弃权）或 absent（未参与）".into(),
                        "the vote must be agree, object, abstain or absent".into(),
                    );
                    None
                }
            },
            Some(_) => {
                cell_problem(
                    "vote",
                    "wrong_type",
                    "的表决意见应为文字".into(),
                    "the vote must be text".into(),
                );
                None
            }
        };

        let signed = match cell("signed") {
            None => {
                let (zh, en) = missing("是否签字", "signed flag");
                cell_problem("signed", "required", zh, en);
                None
            }
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                cell_problem(
                    "signed",
                    "wrong_type",
                    "的“是否签字”应为是或否".into(),
                    "`signed` must be yes or no".into(),
                );
                None
            }
        };

        if let (Some(unit), Some(area), Some(vote), Some(signed)) = (unit, area, vote, signed)
            && problems.len() == before
        {
            rows.push(RosterRow {
                unit,
                area,
                vote,
                signed,
            });
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// The value as shown where personal data is not needed (个人信息保护法): a phone keeps its first
/// three and last four digits (138****5678), an ID number its first six and last four, other
/// personal text its first character. Numbers and yes/no answers in a personal field have no
/// harmless part and are hidden whole. An ID number is masked even if the definition forgot to
/// mark it personal: it identifies a person on its own. Other fields are returned unchanged.
pub fn mask(field: &Field, value: &Value) -> Value {
    let personal = field.personal || matches!(field.ty, FieldType::IdCard);
    if !personal {
        return value.clone();
    }
    match (&field.ty, value) {
        (_, Value::Null) => Value::Null,
        (FieldType::Phone, Value::String(s)) => Value::String(mask_keep(s, 3, 4)),
        (FieldType::IdCard, Value::String(s)) => Value::String(mask_keep(s, 6, 4)),
        (_, Value::String(s)) => Value::String(mask_keep(s, 1, 0)),
        // A personal roster keeps its numbers (they are what the decision is computed from) but
        // not who lives where.
        (FieldType::Roster, Value::Array(rows)) => Value::Array(
            rows.iter()
                .map(|row| match row {
                    Value::Object(cells) => Value::Object(
                        cells
                            .iter()
                            .map(|(k, v)| match (k.as_str(), v) {
                                ("unit", Value::String(u)) => {
                                    (k.clone(), Value::String(mask_keep(u, 1, 0)))
                                }
                                _ => (k.clone(), v.clone()),
                            })
                            .collect(),
                    ),
                    _ => Value::String("***".into()),
                })
                .collect(),
        ),
        _ => Value::String("***".into()),
    }
}

/// Keep `head` characters at the start and `tail` at the end, one `*` for each other character.
/// A value too short to keep both is reduced to its first character (or hidden entirely when it
/// has only one), so that masking never shows a whole value.
fn mask_keep(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n == 0 {
        return String::new();
    }
    if n <= head + tail {
        if n == 1 {
            return "*".into();
        }
        return std::iter::once(chars[0])
            .chain(std::iter::repeat_n('*', n - 1))
            .collect();
    }
    chars[..head]
        .iter()
        .copied()
        .chain(std::iter::repeat_n('*', n - head - tail))
        .chain(chars[n - tail..].iter().copied())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::definition::SelectOption;
    use proptest::prelude::*;
    use serde_json::json;

    fn text(zh: &str, en: &str) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    fn field(code: &str, ty: FieldType, required: bool) -> Field {
        Field {
            code: code.into(),
            label: text(&format!("{code}标签"), &format!("{code} label")),
            ty,
            required,
            personal: false,
            help: None,
        }
    }

    /// One field of every type, all required.
    fn all_types() -> Vec<Field> {
        vec![
            field(
                "name",
                FieldType::Text {
                    min_len: Some(2),
                    max_len: Some(10),
                    pattern: None,
                },
                true,
            ),
            field(
                "project_code",
                FieldType::Text {
                    min_len: None,
                    max_len: None,
                    pattern: Some("[0-9]{4}-[0-9]{2}".into()),
                },
                true,
            ),
            field(
                "floors",
                FieldType::Integer {
                    min: Some(1),
                    max: Some(30),
                },
                true,
            ),
            Field {
                label: text("工程投资额", "Investment (CNY)"),
                ..field(
                    "investment",
                    FieldType::Amount {
                        min: None,
                        max: Some(1e12),
                    },
                    true,
                )
            },
            field(
                "floor_area",
                FieldType::Area {
                    min: Some(0.5),
                    max: Some(100000.25),
                },
                true,
            ),
            field("start", FieldType::Date, true),
            field("builder_code", FieldType::CreditCode, true),
            field("id", FieldType::IdCard, true),
            field("phone", FieldType::Phone, true),
            field("email", FieldType::Email, true),
            field(
                "kind",
                FieldType::Select {
                    options: vec![
                        SelectOption {
                            value: "general".into(),
                            label: text("一般", "General"),
                        },
                        SelectOption {
                            value: "key".into(),
                            label: text("重点", "Key"),
                        },
                    ],
                },
                true,
            ),
            field("promise", FieldType::Boolean, true),
            field("owners", FieldType::Roster, true),
            field(
                "broken",
                FieldType::Text {
                    min_len: None,
                    max_len: None,
                    pattern: Some("a)|(b".into()),
                },
                false,
            ),
        ]
    }

    fn def_with(fields: Vec<Field>) -> Definition {
        let mut def: Definition = toml::from_str(
            r#"
            code = "t"
            prefix = "TT"
            name = { zh = "测试", en = "Test" }
            department = "window"
            basis = [{ zh = "依据", en = "Basis" }]
            initial = "draft"
            limits = { statutory = { days = 5, unit = "working" } }
            states = []
            actions = []
            "#,
        )
        .unwrap();
        def.fields = fields;
        def
    }

    fn good_form() -> Map<String, Value> {
        json!({
            "name": "张三",
            "project_code": "2025-07",
            "floors": 6,
            "investment": "350000.50",
            "floor_area": 1200.25,
            "start": "2025-10-09",
            "builder_code": "91350100M000100Y43",
            "id": "11010519491231002X",
            "phone": "13812345678",
            "email": "li@example.cn",
            "kind": "key",
            "promise": true,
            "owners": [
                {"unit": "1-101", "area": "89.50", "vote": "agree", "signed": true},
                {"unit": "1-102", "area": 90, "vote": "absent", "signed": false},
            ],
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn codes(problems: &[Problem]) -> Vec<(&str, &str)> {
        problems
            .iter()
            .map(|p| (p.path.as_str(), p.code.as_str()))
            .collect()
    }

    /// Validate one value of one field of `all_types()` and return its problems.
    fn one(code: &str, value: Value) -> Vec<Problem> {
        let def = def_with(all_types());
        let mut form = Map::new();
        form.insert(code.into(), value);
        validate(&def, &form, Mode::Draft)
    }

    fn one_code(code: &str, value: Value) -> Vec<String> {
        one(code, value).into_iter().map(|p| p.code).collect()
    }

    #[test]
    fn a_complete_valid_form_has_no_problems() {
        let def = def_with(all_types());
        assert_eq!(validate(&def, &good_form(), Mode::Complete), vec![]);
    }

    #[test]
    fn a_draft_may_leave_required_fields_out_but_a_complete_form_may_not() {
        let def = def_with(all_types());
        let mut form = Map::new();
        form.insert("name".into(), json!("张三"));
        form.insert("phone".into(), Value::Null);
        form.insert("email".into(), json!("  "));
        form.insert("owners".into(), json!([]));
        assert_eq!(validate(&def, &form, Mode::Draft), vec![]);
        let problems = validate(&def, &form, Mode::Complete);
        let required: Vec<_> = problems.iter().filter(|p| p.code == "required").collect();
        // Every required field but `name`: all are reported, not only the first.
        assert_eq!(required.len(), 12);
        assert!(problems.iter().any(|p| p.path == "form.phone"));
        assert!(problems.iter().any(|p| p.path == "form.owners"));
        assert!(!problems.iter().any(|p| p.path == "form.broken"));
    }

    #[test]
    fn messages_name_the_field_in_both_languages() {
        let p = one("investment", json!(-5));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].code, "too_small");
        assert_eq!(p[0].path, "form.investment");
        assert_eq!(p[0].message.zh, "「工程投资额」不能小于 0");
        assert_eq!(p[0].message.en, "Investment (CNY) must not be less than 0");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let def = def_with(all_types());
        let mut form = good_form();
        form.insert("colour".into(), json!("red"));
        assert_eq!(
            codes(&validate(&def, &form, Mode::Complete)),
            vec![("form.colour", "unknown_field")]
        );
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let def = def_with(all_types());
        let mut form = good_form();
        form.insert("floors".into(), json!(0));
        form.insert("start".into(), json!("2025-02-30"));
        form.insert("phone".into(), json!("12345"));
        form.insert("x".into(), json!(1));
        let problems = validate(&def, &form, Mode::Complete);
        let got = codes(&problems);
        assert_eq!(
            got,
            vec![
                ("form.floors", "too_small"),
                ("form.start", "invalid_date"),
                ("form.phone", "invalid_format"),
                ("form.x", "unknown_field"),
            ]
        );
    }

    #[test]
    fn text_lengths_are_counted_in_characters() {
        assert_eq!(one_code("name", json!("张三丰")), Vec::<String>::new());
        assert_eq!(one_code("name", json!("张")), vec!["too_short"]);
        assert_eq!(
            one_code("name", json!("张三丰张三丰张三丰张三")),
            vec!["too_long"]
        );
        assert_eq!(one_code("name", json!("ab\u{0}c")), vec!["invalid_format"]);
        assert_eq!(one_code("name", json!(12)), vec!["wrong_type"]);
    }

    #[test]
    fn a_text_without_max_len_is_capped() {
        let def = def_with(vec![field(
            "note",
            FieldType::Text {
                min_len: None,
                max_len: None,
                pattern: None,
            },
            false,
        )]);
        let mut form = Map::new();
        form.insert("note".into(), json!("字".repeat(TEXT_CAP)));
        assert_eq!(validate(&def, &form, Mode::Draft), vec![]);
        form.insert("note".into(), json!("字".repeat(TEXT_CAP + 1)));
        assert_eq!(
            codes(&validate(&def, &form, Mode::Draft)),
            vec![("form.note", "too_long")]
        );
    }

    #[test]
    fn a_pattern_must_match_the_whole_value() {
        assert_eq!(
            one_code("project_code", json!("2025-07")),
            Vec::<String>::new()
        );
        assert_eq!(one_code("project_code", json!("x2025-07")), vec!["pattern"]);
        assert_eq!(one_code("project_code", json!("2025-07x")), vec!["pattern"]);
    }

    #[test]
    fn a_broken_pattern_is_a_problem_not_a_panic() {
        let p = one("broken", json!("a"));
        assert_eq!(codes(&p), vec![("form.broken", "pattern")]);
        assert!(p[0].message.en.contains("misconfigured"));
        assert!(compile_pattern("(").is_err());
        assert!(compile_pattern("a)|(b").is_err());
        // A pattern that cannot escape its anchors.
        let re = compile_pattern("a|b").unwrap();
        assert!(re.is_match("a") && !re.is_match("ab"));
    }

    #[test]
    fn integers_are_json_integers_within_bounds() {
        assert_eq!(one_code("floors", json!(30)), Vec::<String>::new());
        assert_eq!(one_code("floors", json!(31)), vec!["too_large"]);
        assert_eq!(one_code("floors", json!(0)), vec!["too_small"]);
        assert_eq!(one_code("floors", json!(5.0)), vec!["wrong_type"]);
        assert_eq!(one_code("floors", json!("5")), vec!["wrong_type"]);
        assert_eq!(one_code("floors", json!(u64::MAX)), vec!["too_large"]);
    }

    #[test]
    fn amounts_and_areas_are_exact_hundredths() {
        assert_eq!(one_code("investment", json!("0.1")), Vec::<String>::new());
        assert_eq!(
            one_code("investment", json!(1.005)),
            vec!["too_many_decimals"]
        );
        assert_eq!(
            one_code("investment", json!("1,000")),
            vec!["invalid_format"]
        );
        assert_eq!(one_code("investment", json!(true)), vec!["wrong_type"]);
        assert_eq!(one_code("investment", json!("1e30")), vec!["too_large"]);
        assert_eq!(one_code("investment", json!(1e12)), Vec::<String>::new());
        assert_eq!(
            one_code("investment", json!("1000000000000.01")),
            vec!["too_large"]
        );
        // Bounds with decimals are compared exactly.
        assert_eq!(one_code("floor_area", json!("0.49")), vec!["too_small"]);
        assert_eq!(one_code("floor_area", json!("0.5")), Vec::<String>::new());
        assert_eq!(
            one_code("floor_area", json!("100000.25")),
            Vec::<String>::new()
        );
        assert_eq!(
            one_code("floor_area", json!("100000.26")),
            vec!["too_large"]
        );
        let p = one("floor_area", json!("100000.26"));
        assert!(
            p[0].message.zh.ends_with("不能大于 100000.25"),
            "{}",
            p[0].message.zh
        );
    }

    #[test]
    fn a_negative_amount_is_allowed_only_when_the_minimum_allows() {
        let def = def_with(vec![field(
            "delta",
            FieldType::Amount {
                min: Some(-10.5),
                max: None,
            },
            false,
        )]);
        let mut form = Map::new();
        form.insert("delta".into(), json!("-10.50"));
        assert_eq!(validate(&def, &form, Mode::Draft), vec![]);
        form.insert("delta".into(), json!(-10.51));
        assert_eq!(
            codes(&validate(&def, &form, Mode::Draft)),
            vec![("form.delta", "too_small")]
        );
    }

    #[test]
    fn hundredths_edge_cases() {
        assert_eq!(hundredths(&json!("0.1")), Some(10));
        assert_eq!(hundredths(&json!(0.1)), Some(10));
        assert_eq!(hundredths(&json!(12)), Some(1200));
        assert_eq!(hundredths(&json!("12.34")), Some(1234));
        assert_eq!(hundredths(&json!(" 12.5 ")), Some(1250));
        assert_eq!(hundredths(&json!("1.500")), Some(150));
        assert_eq!(hundredths(&json!(1.005)), None);
        assert_eq!(hundredths(&json!("1.005")), None);
        assert_eq!(hundredths(&json!(0.1 + 0.2)), None);
        assert_eq!(hundredths(&json!("1e3")), Some(100_000));
        assert_eq!(hundredths(&json!("1E+3")), Some(100_000));
        assert_eq!(hundredths(&json!("1.5e1")), Some(1500));
        assert_eq!(hundredths(&json!("125e-2")), Some(125));
        assert_eq!(hundredths(&json!("1e-3")), None);
        assert_eq!(hundredths(&json!(1e3)), Some(100_000));
        assert_eq!(hundredths(&json!(1e-3)), None);
        assert_eq!(hundredths(&json!("1e999999999999")), None);
        assert_eq!(hundredths(&json!("0e999999999999")), Some(0));
        assert_eq!(hundredths(&json!("-0")), Some(0));
        assert_eq!(hundredths(&json!("-0.00")), Some(0));
        assert_eq!(hundredths(&json!(-0.0)), Some(0));
        assert_eq!(hundredths(&json!("-12.5")), Some(-1250));
        assert_eq!(hundredths(&json!("+1")), None);
        assert_eq!(hundredths(&json!(".5")), None);
        assert_eq!(hundredths(&json!("5.")), None);
        assert_eq!(hundredths(&json!("1e")), None);
        assert_eq!(hundredths(&json!("")), None);
        assert_eq!(hundredths(&json!("-")), None);
        assert_eq!(hundredths(&json!("１２")), None);
        assert_eq!(hundredths(&json!("NaN")), None);
        assert_eq!(hundredths(&json!(null)), None);
        assert_eq!(hundredths(&json!([1])), None);
        assert_eq!(hundredths(&json!("92233720368547758.07")), Some(i64::MAX));
        assert_eq!(hundredths(&json!("92233720368547758.08")), None);
        assert_eq!(hundredths(&json!(i64::MAX)), None);
        assert_eq!(hundredths(&json!(u64::MAX)), None);
        assert_eq!(hundredths(&json!(format!("0.{}1", "0".repeat(5000)))), None);
        assert_eq!(hundredths(&json!(format!("1{}", "0".repeat(5000)))), None);
    }

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

    /// A credit code with its check character computed (GB 32100-2015).
    fn with_check(first17: &str) -> String {
        let sum: u32 = first17
            .bytes()
            .zip(CREDIT_WEIGHTS)
            .map(|(c, w)| CREDIT_CHARSET.iter().position(|&x| x == c).unwrap() as u32 * w)
            .sum();
        let check = (31 - sum % 31) % 31;
        format!("{first17}{}", char::from(CREDIT_CHARSET[check as usize]))
    }

    #[test]
    fn known_credit_codes_are_valid_and_a_one_character_change_is_not() {
        for code in ["91350100M000100Y43", "91110000600037341L"] {
            assert!(credit_code_valid(code), "{code}");
            assert_eq!(with_check(&code[..17]), code);
            for i in 0..18 {
                let mut bytes = code.as_bytes().to_vec();
                bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
                let changed = String::from_utf8(bytes).unwrap();
                assert!(!credit_code_valid(&changed), "{changed}");
            }
        }
    }

    #[test]
    fn credit_code_problems_say_what_is_wrong() {
        assert_eq!(
            one_code("builder_code", json!("91350100M000100Y44")),
            vec!["check_character"]
        );
        assert_eq!(
            one_code("builder_code", json!("91350100M000100Y4")),
            vec!["invalid_format"]
        );
        let lower = one("builder_code", json!("91350100m000100y43"));
        assert_eq!(codes(&lower), vec![("form.builder_code", "invalid_format")]);
        assert!(lower[0].message.zh.contains("大写"));
        assert!(lower[0].message.en.contains("capital"));
        assert!(!credit_code_valid("91350100m000100y43"));
        let bad_char = one("builder_code", json!("91350100I000100Y43"));
        assert!(bad_char[0].message.zh.contains("「I」"));
        assert!(!credit_code_valid("９1350100M000100Y43"));
        assert!(!credit_code_valid(""));
    }

    #[test]
    fn id_cards_need_a_real_birth_date_and_the_right_check() {
        assert!(id_card_valid("11010519491231002X"));
        assert!(!id_card_valid("110105194912310021"));
        assert!(!id_card_valid("11010519491231002x"));
        assert!(!id_card_valid("110105194912310"));
        assert_eq!(
            one_code("id", json!("11010519491231002X")),
            Vec::<String>::new()
        );
        assert_eq!(
            one_code("id", json!("110105194912310021")),
            vec!["check_character"]
        );
        // 1949-02-31 does not exist; the check character is right for these digits.
        let digits = "11010519490231002";
        let sum: u32 = digits
            .bytes()
            .zip(ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        let valid_check = format!("{digits}{}", char::from(ID_CHECK[(sum % 11) as usize]));
        assert!(!id_card_valid(&valid_check));
        assert_eq!(one_code("id", json!(valid_check)), vec!["invalid_date"]);
        // Both wrong: both reported.
        let wrong = format!(
            "{digits}{}",
            if valid_check.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(
            one_code("id", json!(wrong)),
            vec!["invalid_date", "check_character"]
        );
        assert_eq!(
            one_code("id", json!("11010519491231002x")),
            vec!["invalid_format"]
        );
        assert_eq!(
            one_code("id", json!("1101051949123100AX")),
            vec!["invalid_format"]
        );
    }

    #[test]
    fn phones_are_mobiles_or_landlines_with_area_codes() {
        for ok in [
            "13812345678",
            "19912345678",
            "010-12345678",
            "0571-8888999",
            "057188889999",
            "0101234567",
        ] {
            assert!(phone_valid(ok), "{ok}");
        }
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "+8613812345678",
            "0571-888899",
            "05-12345678",
            "0571--8888999",
            "138 1234 5678",
            "１３８12345678",
            "",
        ] {
            assert!(!phone_valid(bad), "{bad}");
        }
    }

    #[test]
    fn emails_are_checked_sanely() {
        assert!(email_valid("a@b.cn"));
        for bad in [
            "a@b", "@b.cn", "a b@c.cn", "a@b@c.cn", "a@.cn", "a@b.", "a@b..cn", "ab.cn",
        ] {
            assert!(!email_valid(bad), "{bad}");
        }
        assert_eq!(one_code("email", json!("nobody")), vec!["invalid_format"]);
        let long = format!("{}@example.cn", "a".repeat(250));
        assert_eq!(one_code("email", json!(long)), vec!["too_long"]);
    }

    #[test]
    fn selects_and_booleans() {
        assert_eq!(one_code("kind", json!("general")), Vec::<String>::new());
        let p = one("kind", json!("other"));
        assert_eq!(codes(&p), vec![("form.kind", "not_an_option")]);
        assert!(p[0].message.zh.contains("一般、重点"));
        assert_eq!(one_code("kind", json!(1)), vec!["wrong_type"]);
        assert_eq!(one_code("promise", json!(false)), Vec::<String>::new());
        assert_eq!(one_code("promise", json!("yes")), vec!["wrong_type"]);
    }

    #[test]
    fn a_roster_is_read_exactly() {
        let rows = roster(
            &json!([
                {"unit": " 1-101 ", "area": "89.5", "vote": "agree", "signed": true},
                {"unit": "1-102", "area": 90, "vote": "object", "signed": false},
            ]),
            "form.owners",
        )
        .unwrap();
        assert_eq!(
            rows,
            vec![
                RosterRow {
                    unit: "1-101".into(),
                    area: 8950,
                    vote: Vote::Agree,
                    signed: true
                },
                RosterRow {
                    unit: "1-102".into(),
                    area: 9000,
                    vote: Vote::Object,
                    signed: false
                },
            ]
        );
    }

    #[test]
    fn every_problem_in_a_roster_is_reported_at_its_cell() {
        let p = roster(
            &json!([
                {"unit": "1-101", "area": "89.5", "vote": "agree", "signed": true},
                {"unit": "1-101", "area": "0", "vote": "maybe", "signed": "yes", "phone": "1"},
                {"unit": "", "area": "1.234"},
                {"unit": "x".repeat(51), "area": "abc", "vote": 1, "signed": null},
                {"unit": 7, "area": true, "vote": "abstain", "signed": true},
                "row",
            ]),
            "form.owners",
        )
        .unwrap_err();
        assert_eq!(
            codes(&p),
            vec![
                ("form.owners[1].phone", "unknown_field"),
                ("form.owners[1].unit", "duplicate"),
                ("form.owners[1].area", "too_small"),
                ("form.owners[1].vote", "not_an_option"),
                ("form.owners[1].signed", "wrong_type"),
                ("form.owners[2].unit", "empty"),
                ("form.owners[2].area", "too_many_decimals"),
                ("form.owners[2].vote", "required"),
                ("form.owners[2].signed", "required"),
                ("form.owners[3].unit", "too_long"),
                ("form.owners[3].area", "invalid_format"),
                ("form.owners[3].vote", "wrong_type"),
                ("form.owners[3].signed", "required"),
                ("form.owners[4].unit", "wrong_type"),
                ("form.owners[4].area", "wrong_type"),
                ("form.owners[5]", "wrong_type"),
            ]
        );
        assert!(p[1].message.zh.contains("第 2 行") && p[1].message.zh.contains("第 1 行重复"));
    }

    #[test]
    fn a_roster_must_be_a_table_of_one_to_two_thousand_rows() {
        assert_eq!(
            codes(&roster(&json!([]), "form.o").unwrap_err()),
            vec![("form.o", "empty")]
        );
        assert_eq!(
            codes(&roster(&json!({}), "form.o").unwrap_err()),
            vec![("form.o", "wrong_type")]
        );
        let row =
            |i: usize| json!({"unit": format!("u{i}"), "area": 1, "vote": "agree", "signed": true});
        let max: Vec<Value> = (0..ROSTER_MAX_ROWS).map(row).collect();
        assert_eq!(
            roster(&Value::Array(max.clone()), "form.o").unwrap().len(),
            ROSTER_MAX_ROWS
        );
        let mut over = max;
        over.push(row(ROSTER_MAX_ROWS));
        assert_eq!(
            codes(&roster(&Value::Array(over), "form.o").unwrap_err()),
            vec![("form.o", "too_long")]
        );
    }

    #[test]
    fn a_roster_field_names_its_label() {
        let p = one("owners", json!([{"unit": "1", "area": 1, "vote": "agree"}]));
        assert_eq!(codes(&p), vec![("form.owners[0].signed", "required")]);
        assert!(p[0].message.zh.starts_with("「owners标签」第 1 行"));
    }

    #[test]
    fn personal_data_is_masked() {
        let mut phone = field("phone", FieldType::Phone, false);
        assert_eq!(mask(&phone, &json!("13812345678")), json!("13812345678"));
        phone.personal = true;
        assert_eq!(mask(&phone, &json!("13812345678")), json!("138****5678"));
        assert_eq!(
            mask(&phone, &json!("0571-88889999")),
            json!("057******9999")
        );
        assert_eq!(mask(&phone, &json!("1234")), json!("1***"));
        assert_eq!(mask(&phone, &Value::Null), Value::Null);
        let id = field("id", FieldType::IdCard, false);
        assert_eq!(
            mask(&id, &json!("11010519491231002X")),
            json!("110105********002X")
        );
        let mut name = field(
            "name",
            FieldType::Text {
                min_len: None,
                max_len: None,
                pattern: None,
            },
            false,
        );
        assert_eq!(mask(&name, &json!("张三丰")), json!("张三丰"));
        name.personal = true;
        assert_eq!(mask(&name, &json!("张三丰")), json!("张**"));
        assert_eq!(mask(&name, &json!("张")), json!("*"));
        assert_eq!(mask(&name, &json!("")), json!(""));
        assert_eq!(mask(&name, &json!(42)), json!("***"));
        let mut owners = field("owners", FieldType::Roster, false);
        owners.personal = true;
        assert_eq!(
            mask(&owners, &json!([{"unit": "1-101", "area": 1}, 3])),
            json!([{"unit": "1****", "area": 1}, "***"])
        );
    }

    #[test]
    fn hundredths_are_shown_as_people_write_them() {
        assert_eq!(show_hundredths(0), "0");
        assert_eq!(show_hundredths(30_000_000), "300000");
        assert_eq!(show_hundredths(1250), "12.5");
        assert_eq!(show_hundredths(5), "0.05");
        assert_eq!(show_hundredths(-1234), "-12.34");
        assert_eq!(show_hundredths(i64::MIN), "-92233720368547758.08");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[-+0-9.eE ]{0,12}".prop_map(Value::String),
            "[0-9A-Za-z@.\\-]{0,20}".prop_map(Value::String),
            "(agree|object|abstain|absent|unit|area|vote|signed|general|key)"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("(unit|area|vote|signed|[a-z]{1,3})", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_form() -> impl Strategy<Value = Map<String, Value>> {
        let keys: Vec<String> = all_types().into_iter().map(|f| f.code).collect();
        prop::collection::vec(
            (
                prop_oneof![prop::sample::select(keys), "[a-z]{1,4}"],
                arb_json(),
            ),
            0..16,
        )
        .prop_map(|pairs| pairs.into_iter().collect())
    }

    proptest! {
        #[test]
        fn validate_never_panics_on_any_value(form in arb_form()) {
            let def = def_with(all_types());
            let complete = validate(&def, &form, Mode::Complete);
            let draft = validate(&def, &form, Mode::Draft);
            // A draft is never stricter than a complete form.
            prop_assert!(draft.len() <= complete.len());
            for p in &complete {
                prop_assert!(p.path.starts_with("form."));
                prop_assert!(!p.message.zh.is_empty() && !p.message.en.is_empty());
            }
            for f in all_types() {
                if let Some(v) = form.get(&f.code) {
                    let _ = mask(&f, v);
                }
            }
        }

        #[test]
        fn every_field_type_survives_any_value(v in arb_json()) {
            for f in all_types() {
                let _ = one(&f.code, v.clone());
                let _ = mask(&f, &v);
            }
            let _ = hundredths(&v);
            let _ = roster(&v, "form.o");
        }

        #[test]
        fn a_generated_credit_code_is_accepted_and_any_one_change_refused(
            body in prop::collection::vec(prop::sample::select(CREDIT_CHARSET.to_vec()), 17),
            at in 0usize..18,
            to in prop::sample::select(CREDIT_CHARSET.to_vec()),
        ) {
            let code = with_check(&String::from_utf8(body).unwrap());
            prop_assert!(credit_code_valid(&code));
            let mut bytes = code.clone().into_bytes();
            prop_assume!(bytes[at] != to);
            bytes[at] = to;
            prop_assert!(!credit_code_valid(&String::from_utf8(bytes).unwrap()));
        }

        #[test]
        fn hundredths_read_back_what_they_show(h in any::<i64>()) {
            prop_assert_eq!(hundredths(&Value::String(show_hundredths(h))), Some(h));
        }

        #[test]
        fn hundredths_never_panic_on_any_text(s in "[-+0-9.eE]{0,30}") {
            let _ = hundredths(&Value::String(s));
        }
    }
}
