//! Tables: rows of cells whose columns are declared in the item (an owners' roster: unit,
//! owner, exclusive area, vote, signed). Each cell is judged as a field of its column's type,
//! with that type's rules and bounds; every problem is listed at its cell,
//! `form.<field>[<row>].<column>`, rows counted from 0 there and from 1 in the messages, as
//! people count them.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{check_value, wrong_type};
use crate::domain::Problem;
use crate::domain::definition::{Field, Text};

/// The most rows any table accepts, whatever its definition says: a residential building has
/// far fewer units, and a form this size still fits the request limit.
pub const TABLE_MAX_ROWS: u32 = 5000;

/// The rows a table accepts: its `max_rows`, within [`TABLE_MAX_ROWS`].
pub fn row_cap(max_rows: Option<u32>) -> usize {
    max_rows.map_or(TABLE_MAX_ROWS, |m| m.min(TABLE_MAX_ROWS)) as usize
}

/// A cell the applicant left empty: missing, `null` or blank text.
pub fn cell_absent(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

pub(super) fn check_table(
    table: &Field,
    max_rows: Option<u32>,
    unique: &[String],
    columns: &[Field],
    value: &Value,
    path: &str,
    out: &mut Vec<Problem>,
) {
    let l = &table.label;
    let Value::Array(rows) = value else {
        out.push(wrong_type(l, path, "表格（每行一条）", "a table of rows"));
        return;
    };
    if rows.is_empty() {
        out.push(Problem::new(
            path,
            "empty",
            format!("「{}」至少需要填写一行", l.zh),
            format!("{} must have at least one row", l.en),
        ));
        return;
    }
    let cap = row_cap(max_rows);
    if rows.len() > cap {
        // The rows are not examined: a huge table would only yield a huge list of problems.
        out.push(Problem::new(
            path,
            "too_long",
            format!("「{}」最多 {cap} 行（现有 {} 行）", l.zh, rows.len()),
            format!(
                "{} may have at most {cap} rows (it has {})",
                l.en,
                rows.len()
            ),
        ));
        return;
    }
    // Per unique column: a cell's trimmed text and the row it was first seen in.
    let mut seen: Vec<HashMap<String, usize>> = vec![HashMap::new(); unique.len()];
    for (i, row) in rows.iter().enumerate() {
        let row_path = format!("{path}[{i}]");
        let n = i + 1;
        let Value::Object(cells) = row else {
            let zh: Vec<&str> = columns.iter().map(|c| c.label.zh.as_str()).collect();
            let en: Vec<&str> = columns.iter().map(|c| c.label.en.as_str()).collect();
            out.push(Problem::new(
                row_path,
                "wrong_type",
                format!("「{}」第 {n} 行应依次填写：{}", l.zh, zh.join("、")),
                format!("Row {n} of {} must give, in order: {}", l.en, en.join(", ")),
            ));
            continue;
        };
        for key in cells.keys() {
            if !columns.iter().any(|c| &c.code == key) {
                out.push(Problem::new(
                    format!("{row_path}.{key}"),
                    "unknown_field",
                    format!("「{}」第 {n} 行有多余的一栏「{key}」", l.zh),
                    format!("Row {n} of {} has an extra column `{key}`", l.en),
                ));
            }
        }
        for column in columns {
            let cell_path = format!("{row_path}.{}", column.code);
            let cell = cells.get(&column.code);
            if cell_absent(cell) {
                if column.required {
                    out.push(Problem::new(
                        cell_path,
                        "required",
                        format!("「{}」第 {n} 行缺少「{}」", l.zh, column.label.zh),
                        format!("Row {n} of {}: {} is missing", l.en, column.label.en),
                    ));
                }
                continue;
            }
            let Some(cell) = cell else { continue };
            let mut found = Vec::new();
            check_value(column, cell, &cell_path, &mut found);
            let clean = found.is_empty();
            out.extend(found.into_iter().map(|p| in_row(l, n, p)));
            if let Some(u) = unique.iter().position(|u| *u == column.code)
                && clean
                && let Some(key) = cell_key(cell)
            {
                match seen[u].get(&key) {
                    Some(first) => out.push(Problem::new(
                        cell_path,
                        "duplicate",
                        format!(
                            "「{}」第 {n} 行的「{}」「{key}」与第 {} 行重复",
                            l.zh,
                            column.label.zh,
                            first + 1
                        ),
                        format!(
                            "Row {n} of {}: {} `{key}` already appears in row {}",
                            l.en,
                            column.label.en,
                            first + 1
                        ),
                    )),
                    None => {
                        seen[u].insert(key, i);
                    }
                }
            }
        }
    }
}

/// A cell's problem as said of its row: 「业主名册」第 3 行：「专有部分面积」最多保留两位小数.
fn in_row(table: &Text, n: usize, p: Problem) -> Problem {
    Problem {
        message: Text {
            zh: format!("「{}」第 {n} 行：{}", table.zh, p.message.zh),
            en: format!("Row {n} of {}: {}", table.en, p.message.en),
        },
        ..p
    }
}

/// What a cell is compared by in a unique column: its trimmed text, or its number as written.
fn cell_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The rows of a table value that are records, with their index (for a caller that has
/// validated the table already).
pub fn records(value: &Value) -> impl Iterator<Item = (usize, &Map<String, Value>)> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, r)| r.as_object().map(|o| (i, o)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::definition::{FieldType, SelectOption};
    use crate::domain::forms::tests::{codes, def_with, field};
    use crate::domain::forms::{Mode, validate};
    use serde_json::json;

    fn labelled(code: &str, zh: &str, en: &str, ty: FieldType, required: bool) -> Field {
        Field {
            label: Text {
                zh: zh.into(),
                en: en.into(),
            },
            ..field(code, ty, required)
        }
    }

    /// A table with a column of every scalar type.
    fn owners(max_rows: Option<u32>) -> Field {
        let option = |v: &str, zh: &str| SelectOption {
            value: v.into(),
            label: Text {
                zh: zh.into(),
                en: v.into(),
            },
        };
        let columns = vec![
            labelled(
                "unit",
                "房号",
                "Unit",
                FieldType::Text {
                    min_len: None,
                    max_len: Some(10),
                    pattern: None,
                },
                true,
            ),
            labelled(
                "area",
                "专有部分面积",
                "Exclusive area",
                FieldType::Area {
                    min: Some(0.01),
                    max: Some(1000.0),
                },
                true,
            ),
            labelled(
                "vote",
                "表决意见",
                "Vote",
                FieldType::Select {
                    options: vec![option("agree", "同意"), option("object", "反对")],
                },
                true,
            ),
            labelled("signed", "已签字", "Signed", FieldType::Boolean, false),
            labelled(
                "floor",
                "楼层",
                "Floor",
                FieldType::Integer {
                    min: Some(1),
                    max: Some(30),
                },
                false,
            ),
            labelled("since", "登记日期", "Registered", FieldType::Date, false),
            labelled("id", "身份证号码", "ID card", FieldType::IdCard, false),
            labelled("phone", "电话", "Phone", FieldType::Phone, false),
            labelled(
                "company",
                "信用代码",
                "Credit code",
                FieldType::CreditCode,
                false,
            ),
            labelled("email", "邮箱", "Email", FieldType::Email, false),
            labelled(
                "fee",
                "分摊费用",
                "Share of the cost",
                FieldType::Amount {
                    min: None,
                    max: None,
                    unit: Default::default(),
                },
                false,
            ),
        ];
        labelled(
            "owners",
            "业主名册",
            "The owners' roster",
            FieldType::Table {
                max_rows,
                unique: vec!["unit".into()],
                columns,
            },
            true,
        )
    }

    fn problems(table: Field, value: Value) -> Vec<Problem> {
        let def = def_with(vec![table]);
        let mut form = Map::new();
        form.insert("owners".into(), value);
        validate(&def, &form, Mode::Complete)
    }

    #[test]
    fn a_table_of_valid_rows_has_no_problems() {
        let p = problems(
            owners(None),
            json!([
                {"unit": " 1-101 ", "area": "89.5", "vote": "agree", "signed": true, "floor": 1,
                 "since": "2020-05-01", "id": "11010519491231002X", "phone": "13812345678",
                 "company": "91350100M000100Y43", "email": "a@example.cn", "fee": "1200.50"},
                {"unit": "1-102", "area": 90, "vote": "object", "signed": null},
            ]),
        );
        assert_eq!(p, vec![]);
    }

    #[test]
    fn every_cell_problem_is_reported_at_its_cell_with_row_and_column_named() {
        let p = problems(
            owners(None),
            json!([
                {"unit": "1-101", "area": "89.5", "vote": "agree"},
                {"unit": "1-101 ", "area": "0", "vote": "maybe", "signed": "yes", "colour": "red"},
                {"unit": "", "area": "1.234", "floor": 31, "since": "2025-02-30"},
                {"unit": "x".repeat(11), "area": "abc", "vote": 1, "id": "110105194912310021",
                 "phone": "12345", "company": "91350100m000100y43", "email": "x@", "fee": -1},
                "1-104, 80, agree",
            ]),
        );
        assert_eq!(
            codes(&p),
            vec![
                ("form.owners[1].colour", "unknown_field"),
                ("form.owners[1].unit", "duplicate"),
                ("form.owners[1].area", "too_small"),
                ("form.owners[1].vote", "not_an_option"),
                ("form.owners[1].signed", "wrong_type"),
                ("form.owners[2].unit", "required"),
                ("form.owners[2].area", "too_many_decimals"),
                ("form.owners[2].vote", "required"),
                ("form.owners[2].floor", "too_large"),
                ("form.owners[2].since", "invalid_date"),
                ("form.owners[3].unit", "too_long"),
                ("form.owners[3].area", "invalid_format"),
                ("form.owners[3].vote", "wrong_type"),
                ("form.owners[3].id", "check_character"),
                ("form.owners[3].phone", "invalid_format"),
                ("form.owners[3].company", "invalid_format"),
                ("form.owners[3].email", "invalid_format"),
                ("form.owners[3].fee", "too_small"),
                ("form.owners[4]", "wrong_type"),
            ]
        );
        // Rows count from 1 in the messages, and name the column.
        assert_eq!(
            p[1].message.zh,
            "「业主名册」第 2 行的「房号」「1-101」与第 1 行重复"
        );
        assert_eq!(
            p[2].message.zh,
            "「业主名册」第 2 行：「专有部分面积」不能小于 0.01"
        );
        assert_eq!(
            p[2].message.en,
            "Row 2 of The owners' roster: Exclusive area must not be less than 0.01"
        );
        assert_eq!(p[5].message.zh, "「业主名册」第 3 行缺少「房号」");
        assert!(
            p[3].message.zh.contains("同意、反对"),
            "{}",
            p[3].message.zh
        );
        assert_eq!(
            p[18].message.zh,
            "「业主名册」第 5 行应依次填写：房号、专有部分面积、表决意见、已签字、楼层、登记日期、\
             身份证号码、电话、信用代码、邮箱、分摊费用"
        );
    }

    #[test]
    fn a_table_is_an_array_of_at_most_its_rows_and_never_more_than_the_ceiling() {
        assert_eq!(
            codes(&problems(owners(None), json!({}))),
            vec![("form.owners", "wrong_type")]
        );
        // An empty table is a table not filled in.
        assert_eq!(
            codes(&problems(owners(None), json!([]))),
            vec![("form.owners", "required")]
        );
        let row = |i: usize| json!({"unit": format!("u{i}"), "area": 1, "vote": "agree"});
        let rows = |n: usize| Value::Array((0..n).map(row).collect());
        assert_eq!(problems(owners(Some(3)), rows(3)), vec![]);
        let p = problems(owners(Some(3)), rows(4));
        assert_eq!(codes(&p), vec![("form.owners", "too_long")]);
        assert_eq!(p[0].message.zh, "「业主名册」最多 3 行（现有 4 行）");
        // A declared cap above the ceiling is held to the ceiling (the checker refuses it).
        let max = TABLE_MAX_ROWS as usize;
        assert_eq!(problems(owners(Some(u32::MAX)), rows(max)), vec![]);
        assert_eq!(
            codes(&problems(owners(Some(u32::MAX)), rows(max + 1))),
            vec![("form.owners", "too_long")]
        );
        assert_eq!(
            codes(&problems(owners(None), rows(max + 1))),
            vec![("form.owners", "too_long")]
        );
    }

    #[test]
    fn a_unique_column_compares_trimmed_text_of_valid_cells_only() {
        let p = problems(
            owners(None),
            json!([
                {"unit": "1-101", "area": 1, "vote": "agree"},
                {"unit": "1-102", "area": 1, "vote": "agree"},
                {"unit": "  1-102", "area": 1, "vote": "agree"},
                {"unit": "x".repeat(11), "area": 1, "vote": "agree"},
                {"unit": "x".repeat(11), "area": 1, "vote": "agree"},
            ]),
        );
        assert_eq!(
            codes(&p),
            vec![
                ("form.owners[2].unit", "duplicate"),
                ("form.owners[3].unit", "too_long"),
                ("form.owners[4].unit", "too_long"),
            ]
        );
    }
}
