//! Free text: the characters no text taken in may hold, lengths counted in characters, and the
//! patterns a definition sets, which must match the whole value.

use regex::{Regex, RegexBuilder};

use super::too_long;
use crate::domain::Problem;
use crate::domain::definition::Text;

/// A text field without `max_len` still has a ceiling: a form is not a place for documents, and
/// an unbounded value would be stored, indexed and mailed as is.
pub const TEXT_CAP: usize = 2000;

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
pub(super) fn check_text(
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::definition::FieldType;
    use crate::domain::forms::tests::{codes, def_with, field, one, one_code};
    use crate::domain::forms::{Mode, validate};
    use serde_json::{Map, json};

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
}
