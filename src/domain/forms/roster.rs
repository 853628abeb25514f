//! The owners' roster (业主名册) and the owners' votes in a 民法典 §278 decision: read exactly, or
//! every problem listed at its cell.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::numbers::{NumError, parse_hundredths};
use super::text::has_control;
use super::wrong_type;
use crate::domain::Problem;
use crate::domain::definition::Text;

/// The largest roster accepted; a residential building has far fewer units.
pub const ROSTER_MAX_ROWS: usize = 2000;
/// The longest unit (房号) in a roster, in characters.
pub const UNIT_MAX_CHARS: usize = 50;

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

pub(super) fn roster_labelled(
    v: &Value,
    path: &str,
    l: &Text,
) -> Result<Vec<RosterRow>, Vec<Problem>> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::forms::tests::{codes, one};
    use serde_json::json;

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
}
