//! Form validation: the fields of an item definition checked against what an applicant typed.
//!
//! Policy:
//! - Pure and total: any JSON value is judged, none makes it panic, and a bad rule in a definition
//!   (a pattern that does not compile) is reported as a problem rather than crashing the request.
//! - Every problem is reported, not the first (行政许可法 §32: the applicant is told everything that
//!   is wrong at once). Each problem has a path (`form.<code>`, `form.<code>[<row>].<column>`), a
//!   stable machine code and a message in Chinese and English that names the field's label.
//! - `null`, a blank string and an empty table count as absent: a draft may be saved with gaps
//!   ([`Mode::Draft`]); only [`Mode::Complete`] (submitting, accepting) insists on required fields.
//! - Money and areas are exact: they are read from their decimal text into hundredths (分, 0.01 m²)
//!   and never pass through a float, so 0.1 + 0.2 is never 0.30000000000000004 and a threshold of
//!   300000 means exactly 300000.00.
//! - Values are judged, not corrected: lower-case letters in a credit code are refused with a message
//!   saying so, because the stored value is what is printed on certificates and compared later.

mod codes;
mod dates;
mod mask;
mod money;
mod numbers;
mod relations;
mod table;
mod text;

use serde_json::{Map, Value};

use super::Problem;
use super::definition::{Definition, Field, FieldType, Text};

pub use codes::{EMAIL_MAX, credit_code_valid, id_card_valid};
pub use mask::{mask, mask_name};
pub use money::{MoneyUnit, amount_text, field_amount_text, is_amount, unit_of};
pub use numbers::hundredths;
pub(crate) use numbers::show_hundredths;
pub use table::{TABLE_MAX_ROWS, cell_absent, records, row_cap};
pub(crate) use text::compile_pattern;
pub use text::{TEXT_CAP, has_control, is_forbidden_char};

pub use relations::comparable_kind;

use codes::{credit_code_error, email_valid, id_card_errors, phone_valid};
use dates::check_date;
use numbers::{check_decimal, check_integer};
use text::check_text;

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
                if mode == Mode::Complete && field.is_required(form) {
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
    relations::check(def, form, &mut problems);
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

/// `null`, a blank string and (for a table) no rows are what a form sends for a field the
/// applicant has not filled in yet.
fn is_absent(field: &Field, value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(rows) => rows.is_empty() && matches!(field.ty, FieldType::Table { .. }),
        _ => false,
    }
}

/// Every problem of one value of a field, as [`validate`] finds it (an `owner_consent` guard
/// judges its table with this before counting).
pub fn judge(field: &Field, value: &Value, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    check_value(field, value, path, &mut out);
    out
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
        FieldType::Amount { min, max, .. } | FieldType::Area { min, max } => {
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
        FieldType::Table {
            max_rows,
            unique,
            columns,
        } => table::check_table(field, *max_rows, unique, columns, value, path, out),
    }
}

// Problems shared by several kinds of field: the submodules build theirs with these too.
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

    pub(super) fn field(code: &str, ty: FieldType, required: bool) -> Field {
        Field {
            code: code.into(),
            label: text(&format!("{code}标签"), &format!("{code} label")),
            ty,
            required,
            required_when: None,
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
                        unit: Default::default(),
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
            field("owners", roster(), true),
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

    /// An owners' roster: unit, exclusive area, vote and signed.
    pub(super) fn roster() -> FieldType {
        let option = |v: &str| SelectOption {
            value: v.into(),
            label: text(v, v),
        };
        FieldType::Table {
            max_rows: Some(2000),
            unique: vec!["unit".into()],
            columns: vec![
                field(
                    "unit",
                    FieldType::Text {
                        min_len: None,
                        max_len: Some(50),
                        pattern: None,
                    },
                    true,
                ),
                field(
                    "area",
                    FieldType::Area {
                        min: Some(0.01),
                        max: None,
                    },
                    true,
                ),
                field(
                    "vote",
                    FieldType::Select {
                        options: ["agree", "object", "abstain", "absent"]
                            .map(option)
                            .to_vec(),
                    },
                    true,
                ),
                field("signed", FieldType::Boolean, false),
            ],
        }
    }

    pub(super) fn def_with(fields: Vec<Field>) -> Definition {
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

    pub(super) fn codes(problems: &[Problem]) -> Vec<(&str, &str)> {
        problems
            .iter()
            .map(|p| (p.path.as_str(), p.code.as_str()))
            .collect()
    }

    /// Validate one value of one field of `all_types()` and return its problems.
    pub(super) fn one(code: &str, value: Value) -> Vec<Problem> {
        let def = def_with(all_types());
        let mut form = Map::new();
        form.insert(code.into(), value);
        validate(&def, &form, Mode::Draft)
    }

    pub(super) fn one_code(code: &str, value: Value) -> Vec<String> {
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
    fn selects_and_booleans() {
        assert_eq!(one_code("kind", json!("general")), Vec::<String>::new());
        let p = one("kind", json!("other"));
        assert_eq!(codes(&p), vec![("form.kind", "not_an_option")]);
        assert!(p[0].message.zh.contains("一般、重点"));
        assert_eq!(one_code("kind", json!(1)), vec!["wrong_type"]);
        assert_eq!(one_code("promise", json!(false)), Vec::<String>::new());
        assert_eq!(one_code("promise", json!("yes")), vec!["wrong_type"]);
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
        }
    }
}
