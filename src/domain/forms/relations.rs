//! Rules between two fields of a form (`[[relations]]` in the item): a date on or after another,
//! an amount at most another. Judged only when both fields are filled in and each is valid on
//! its own (their own problems say the rest); the problem is put at the first field.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::dates::parse_ymd;
use super::numbers::hundredths;
use crate::domain::Problem;
use crate::domain::definition::{CompareOp, Definition, FieldType, MoneyUnit, Relation};

/// A field's value as something a relation compares.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Comparable {
    Date(NaiveDate),
    Hundredths(i64),
}

fn comparable(ty: &FieldType, v: &Value) -> Option<Comparable> {
    match ty {
        FieldType::Date => v
            .as_str()
            .and_then(|s| parse_ymd(s.trim(), true).ok())
            .map(Comparable::Date),
        // Money compares as money: an amount kept in 万元 against one in 元, in fen.
        FieldType::Amount {
            unit: MoneyUnit::TenThousandYuan,
            ..
        } => hundredths(v)
            .and_then(|h| h.checked_mul(10_000))
            .map(Comparable::Hundredths),
        FieldType::Integer { .. } | FieldType::Amount { .. } | FieldType::Area { .. } => {
            hundredths(v).map(Comparable::Hundredths)
        }
        _ => None,
    }
}

/// Whether a field's type can stand in a relation (dates with dates, numbers with numbers).
pub fn comparable_kind(ty: &FieldType) -> Option<&'static str> {
    match ty {
        FieldType::Date => Some("date"),
        FieldType::Integer { .. } | FieldType::Amount { .. } | FieldType::Area { .. } => {
            Some("number")
        }
        _ => None,
    }
}

/// The problems of the form's relations, given the problems its fields already have.
pub(super) fn check(def: &Definition, form: &Map<String, Value>, out: &mut Vec<Problem>) {
    for r in &def.relations {
        if let Some(p) = judge(def, form, r, out) {
            out.push(p);
        }
    }
}

fn judge(
    def: &Definition,
    form: &Map<String, Value>,
    r: &Relation,
    already: &[Problem],
) -> Option<Problem> {
    let (left, right) = (def.field(&r.field)?, def.field(&r.other)?);
    let has_problem = |code: &str| {
        let path = format!("form.{code}");
        already.iter().any(|p| p.path == path)
    };
    if has_problem(&left.code) || has_problem(&right.code) {
        return None;
    }
    let a = comparable(&left.ty, form.get(&left.code)?)?;
    let b = comparable(&right.ty, form.get(&right.code)?)?;
    let holds = match r.op {
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
    };
    if holds {
        return None;
    }
    let dates = matches!(a, Comparable::Date(_));
    let (zh, en) = match (r.op, dates) {
        (CompareOp::Lt, true) => ("须早于", "must be before"),
        (CompareOp::Le, true) => ("不能晚于", "cannot be after"),
        (CompareOp::Gt, true) => ("须晚于", "must be after"),
        (CompareOp::Ge, true) => ("不能早于", "cannot be before"),
        (CompareOp::Lt, false) => ("须小于", "must be less than"),
        (CompareOp::Le, false) => ("不能大于", "cannot be more than"),
        (CompareOp::Gt, false) => ("须大于", "must be more than"),
        (CompareOp::Ge, false) => ("不能小于", "cannot be less than"),
        (CompareOp::Eq, _) => ("须等于", "must equal"),
        (CompareOp::Ne, _) => ("不能等于", "cannot equal"),
    };
    Some(Problem::new(
        format!("form.{}", left.code),
        "relation",
        format!("「{}」{zh}「{}」", left.label.zh, right.label.zh),
        format!("{} {en} {}", left.label.en, right.label.en),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::super::tests::{def_with, field};
    use super::super::{Mode, validate};
    use crate::domain::Text;
    use crate::domain::definition::{CompareOp, Definition, Field, FieldType, MoneyUnit, Relation};

    fn def() -> Definition {
        let amount = || FieldType::Amount {
            min: None,
            max: None,
            unit: Default::default(),
        };
        let mut def = def_with(vec![
            labelled(field("start", FieldType::Date, false), "开工日期", "Start"),
            labelled(field("end", FieldType::Date, false), "竣工日期", "End"),
            labelled(
                field("price", amount(), false),
                "合同价格",
                "Contract price",
            ),
            labelled(field("investment", amount(), false), "总投资", "Investment"),
        ]);
        def.relations = vec![
            Relation {
                field: "end".into(),
                op: CompareOp::Ge,
                other: "start".into(),
            },
            Relation {
                field: "price".into(),
                op: CompareOp::Le,
                other: "investment".into(),
            },
        ];
        def
    }

    fn labelled(mut f: Field, zh: &str, en: &str) -> Field {
        f.label = Text {
            zh: zh.into(),
            en: en.into(),
        };
        f
    }

    fn problems(form: serde_json::Value) -> Vec<(String, String)> {
        validate(&def(), form.as_object().unwrap(), Mode::Draft)
            .into_iter()
            .map(|p| (p.path, p.message.zh))
            .collect()
    }

    /// An investment kept in 万元 against a price in 元: 30 万元 is 300,000 元.
    #[test]
    fn amounts_in_different_units_compare_as_money() {
        let mut d = def();
        for f in &mut d.fields {
            if f.code == "investment" {
                f.ty = FieldType::Amount {
                    min: None,
                    max: None,
                    unit: MoneyUnit::TenThousandYuan,
                };
            }
        }
        let problems = |form: serde_json::Value| {
            validate(&d, form.as_object().unwrap(), Mode::Draft)
                .into_iter()
                .map(|p| p.path)
                .collect::<Vec<_>>()
        };
        assert!(problems(json!({ "price": "300000", "investment": 30 })).is_empty());
        assert_eq!(
            problems(json!({ "price": "300000.01", "investment": "30" })),
            ["form.price"]
        );
        assert!(problems(json!({ "price": "2999999", "investment": "300" })).is_empty());
    }

    #[test]
    fn an_end_before_its_start_and_a_price_above_the_investment_are_named_at_the_first_field() {
        assert_eq!(
            problems(json!({ "start": "2026-12-01", "end": "2026-11-30",
                             "price": "300000.01", "investment": 300000 })),
            [
                (
                    "form.end".to_owned(),
                    "「竣工日期」不能早于「开工日期」".to_owned()
                ),
                (
                    "form.price".to_owned(),
                    "「合同价格」不能大于「总投资」".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn equal_values_hold_and_a_missing_or_invalid_side_is_left_to_its_own_problem() {
        assert!(
            problems(json!({ "start": "2026-12-01", "end": "2026-12-01",
                             "price": "300000.00", "investment": 300000 }))
            .is_empty()
        );
        assert!(problems(json!({ "end": "2026-11-30" })).is_empty());
        // The bad date is reported once, as a bad date, not also as out of order.
        let p = problems(json!({ "start": "2026-13-01", "end": "2026-11-30" }));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].0, "form.start");
    }
}
