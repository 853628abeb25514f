//! Numbers: whole numbers within bounds, and money and areas read exactly from their decimal
//! text into hundredths (分, 0.01 m²), never through a float.

use serde_json::Value;

use super::wrong_type;
use crate::domain::Problem;
use crate::domain::definition::Text;

pub(super) fn check_integer(
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

pub(super) fn check_decimal(
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
pub(super) enum NumError {
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

pub(super) fn parse_hundredths(v: &Value) -> Result<i64, NumError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::definition::FieldType;
    use crate::domain::forms::tests::{codes, def_with, field, one, one_code};
    use crate::domain::forms::{Mode, validate};
    use proptest::prelude::*;
    use serde_json::{Map, json};

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
                unit: Default::default(),
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
    fn hundredths_are_shown_as_people_write_them() {
        assert_eq!(show_hundredths(0), "0");
        assert_eq!(show_hundredths(30_000_000), "300000");
        assert_eq!(show_hundredths(1250), "12.5");
        assert_eq!(show_hundredths(5), "0.05");
        assert_eq!(show_hundredths(-1234), "-12.34");
        assert_eq!(show_hundredths(i64::MIN), "-92233720368547758.08");
    }
    proptest! {
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
