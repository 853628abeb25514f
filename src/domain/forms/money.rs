//! Money as people read it (issue 18): grouped by thousands with its unit, in the unit the
//! form's field is kept in — 35,000,000 元, or 3,500 万元 where the field is in 万元.

pub use crate::domain::definition::MoneyUnit;
use crate::domain::definition::{Field, FieldType, Lang};

/// The unit of an amount field, as its definition declares it (`unit = "万元"`; 元 when it
/// says none). The definition check holds the label to the same unit.
pub fn unit_of(field: &Field) -> MoneyUnit {
    match field.ty {
        FieldType::Amount { unit, .. } => unit,
        _ => MoneyUnit::Yuan,
    }
}

/// Whether a field holds money.
pub fn is_amount(field: &Field) -> bool {
    matches!(field.ty, FieldType::Amount { .. })
}

/// An amount field's value as printed: see [`amount_text`].
pub fn field_amount_text(field: &Field, raw: &str, lang: Lang) -> String {
    amount_text(raw, unit_of(field), lang)
}

/// 35,000,000 元, 12,500,000.50 元 (grouped by thousands, cents only when there are any); in
/// 万元, 3,500 万元. In English the yuan amount: CNY 35,000,000 (a 万 has no English word, so
/// 3,500 万元 reads CNY 35,000,000). Anything that is not a number of at most two decimals is
/// returned as it was typed.
pub fn amount_text(raw: &str, unit: MoneyUnit, lang: Lang) -> String {
    let t = raw.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
    {
        return raw.to_owned();
    }
    let (digits, frac, zh_unit) = match (unit, lang) {
        (MoneyUnit::Yuan, _) => (digits.to_owned(), frac.to_owned(), "元"),
        (MoneyUnit::TenThousandYuan, Lang::Zh) => (digits.to_owned(), frac.to_owned(), "万元"),
        // Four places to the right: 3,500.5 万元 is 35,005,000 yuan.
        (MoneyUnit::TenThousandYuan, Lang::En) => {
            (format!("{digits}{frac:0<4}"), String::new(), "元")
        }
    };
    let digits = digits.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let cents = frac.trim_end_matches('0');
    let number = if cents.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac:0<2}")
    };
    match lang {
        Lang::Zh => format!("{number} {zh_unit}"),
        Lang::En => format!("CNY {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_grouped_with_its_unit() {
        let yuan = |raw| amount_text(raw, MoneyUnit::Yuan, Lang::Zh);
        assert_eq!(yuan("35000000"), "35,000,000 元");
        assert_eq!(yuan("12500000.00"), "12,500,000 元");
        assert_eq!(yuan("1234.5"), "1,234.50 元");
        assert_eq!(yuan("0.07"), "0.07 元");
        assert_eq!(yuan("-1000"), "-1,000 元");
        assert_eq!(yuan("abc"), "abc");
        assert_eq!(yuan("1.234"), "1.234");
        assert_eq!(amount_text("999", MoneyUnit::Yuan, Lang::En), "CNY 999");
        let wan = |raw, lang| amount_text(raw, MoneyUnit::TenThousandYuan, lang);
        assert_eq!(wan("3500", Lang::Zh), "3,500 万元");
        assert_eq!(wan("3500.5", Lang::Zh), "3,500.50 万元");
        assert_eq!(wan("3500", Lang::En), "CNY 35,000,000");
        assert_eq!(wan("3500.5", Lang::En), "CNY 35,005,000");
        assert_eq!(wan("0.01", Lang::En), "CNY 100");
    }
}
