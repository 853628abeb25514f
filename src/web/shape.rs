//! Every place where a JSON body departs from the shape its type declares.
//!
//! serde stops at the first member it cannot read, so a body missing three members would be
//! refused three times in a row, one name each time. When a body does not deserialize, its
//! JSON is checked against the type's OpenAPI schema (the document's own, from
//! `utoipa::ToSchema`), and every departure is listed at once: a required member missing, a
//! member of the wrong JSON type or outside its enumeration, an integer out of its format's
//! range, a date or UUID that does not parse, a member the type does not have. Only bodies
//! that already failed are checked, so a good request costs nothing more.

use serde_json::{Map, Value};

use crate::domain::Problem;

/// The departures of `body` from `T`'s schema, in document order; empty when the schema finds
/// nothing wrong (serde's own message then stands alone).
pub fn problems<T: utoipa::ToSchema>(body: &Value) -> Vec<Problem> {
    let root = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
    let mut referenced = Vec::new();
    T::schemas(&mut referenced);
    let defs: Map<String, Value> = referenced
        .into_iter()
        .filter_map(|(name, s)| Some((name, serde_json::to_value(s).ok()?)))
        .collect();
    let mut out = Vec::new();
    walk(&root, body, "", &defs, &mut out, 0);
    out
}

/// How deep schemas are followed (a recursive type would otherwise not end).
const MAX_DEPTH: usize = 32;

fn walk(
    schema: &Value,
    v: &Value,
    path: &str,
    defs: &Map<String, Value>,
    out: &mut Vec<Problem>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        if let Some(s) = defs.get(name) {
            walk(s, v, path, defs, out, depth + 1);
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            walk(s, v, path, defs, out, depth + 1);
        }
    }
    let alternatives = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array);
    if let Some(alts) = alternatives {
        // Fits if any alternative fits; otherwise tell what the real (not-null) one expects.
        let fits = |s: &Value| {
            let mut found = Vec::new();
            walk(s, v, path, defs, &mut found, depth + 1);
            found
        };
        let mut first = None;
        for alt in alts {
            let found = fits(alt);
            if found.is_empty() {
                return;
            }
            if first.is_none() && alt.get("type").and_then(Value::as_str) != Some("null") {
                first = Some(found);
            }
        }
        out.extend(first.unwrap_or_default());
        return;
    }

    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| is_of(t, v)) {
        out.push(wrong_type(path, &types, schema));
        return;
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !v.is_null()
        && !options.contains(v)
    {
        out.push(not_an_option(path, options));
        return;
    }
    if let Some(p) = format_problem(path, schema, v) {
        out.push(p);
        return;
    }
    match v {
        Value::Object(members) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !members.contains_key(name) {
                    out.push(required(&join(path, name)));
                }
            }
            let extra = schema.get("additionalProperties");
            for (name, member) in members {
                let here = join(path, name);
                match (properties.and_then(|ps| ps.get(name)), extra) {
                    (Some(s), _) => walk(s, member, &here, defs, out, depth + 1),
                    (None, Some(Value::Bool(false))) if properties.is_some() => {
                        out.push(unknown_field(&here));
                    }
                    (None, Some(s @ Value::Object(_))) => {
                        walk(s, member, &here, defs, out, depth + 1)
                    }
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(s, item, &format!("{path}[{i}]"), defs, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// A member's path as `serde_path_to_error` writes it.
fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn is_of(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn shown_path(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

fn required(path: &str) -> Problem {
    Problem::new(
        path,
        "required",
        format!("{path}：缺少此项"),
        format!("{path}: required"),
    )
}

fn unknown_field(path: &str) -> Problem {
    Problem::new(
        path,
        "unknown_field",
        format!("{path}：请求中没有此项"),
        format!("{path}: not a member of this request"),
    )
}

fn not_an_option(path: &str, options: &[Value]) -> Problem {
    let list: Vec<String> = options
        .iter()
        .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
        .collect();
    let path = shown_path(path);
    Problem::new(
        path,
        "not_an_option",
        format!("{path}：应为 {} 之一", list.join("、")),
        format!("{path}: must be one of {}", list.join(", ")),
    )
}

fn wrong_type(path: &str, types: &[&str], schema: &Value) -> Problem {
    let format = schema.get("format").and_then(Value::as_str);
    let names: Vec<(&str, &str)> = types
        .iter()
        .map(|t| match (*t, format) {
            ("string", Some("date")) => ("日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)"),
            ("string", Some("uuid")) => ("UUID", "a UUID"),
            ("string", Some("date-time")) => ("时间（RFC 3339）", "a time (RFC 3339)"),
            ("string", _) => ("文本", "a string"),
            ("integer", _) => ("整数", "an integer"),
            ("number", _) => ("数字", "a number"),
            ("boolean", _) => ("true 或 false", "true or false"),
            ("array", _) => ("数组", "an array"),
            ("object", _) => ("对象", "an object"),
            ("null", _) => ("null", "null"),
            (other, _) => (other, other),
        })
        .collect();
    let zh: Vec<&str> = names.iter().map(|n| n.0).collect();
    let en: Vec<&str> = names.iter().map(|n| n.1).collect();
    let path = shown_path(path);
    Problem::new(
        path,
        "wrong_type",
        format!("{path}：应为{}", zh.join("或")),
        format!("{path}: must be {}", en.join(" or ")),
    )
}

/// A value of the right JSON type that its format still refuses.
fn format_problem(path: &str, schema: &Value, v: &Value) -> Option<Problem> {
    let format = schema.get("format").and_then(Value::as_str)?;
    let path = shown_path(path);
    let range = |lo: i64, hi: i64| {
        let fits = v.as_i64().is_some_and(|n| (lo..=hi).contains(&n));
        (!fits).then(|| {
            Problem::new(
                path,
                "out_of_range",
                format!("{path}：应为 {lo} 到 {hi} 之间的整数"),
                format!("{path}: must be an integer from {lo} to {hi}"),
            )
        })
    };
    let bound =
        |key: &str, default: i64| schema.get(key).and_then(Value::as_i64).unwrap_or(default);
    match (format, v) {
        ("int32", Value::Number(_)) => range(
            bound("minimum", i32::MIN.into()),
            bound("maximum", i32::MAX.into()),
        ),
        ("int64", Value::Number(_)) => {
            range(bound("minimum", i64::MIN), bound("maximum", i64::MAX))
        }
        ("date", Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .is_err()
            .then(|| {
                Problem::new(
                    path,
                    "invalid_date",
                    format!("{path}：不是有效日期（YYYY-MM-DD）"),
                    format!("{path}: not a valid date (YYYY-MM-DD)"),
                )
            }),
        ("date-time", Value::String(s)) => {
            chrono::DateTime::parse_from_rfc3339(s).is_err().then(|| {
                Problem::new(
                    path,
                    "invalid_format",
                    format!("{path}：不是有效时间（RFC 3339）"),
                    format!("{path}: not a valid time (RFC 3339)"),
                )
            })
        }
        ("uuid", Value::String(s)) => uuid::Uuid::parse_str(s).is_err().then(|| {
            Problem::new(
                path,
                "invalid_format",
                format!("{path}：不是有效的 UUID"),
                format!("{path}: not a valid UUID"),
            )
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::web::api::auth::RegisterRequest;

    fn found(body: Value) -> Vec<(String, String)> {
        problems::<RegisterRequest>(&body)
            .into_iter()
            .map(|p| (p.path, p.code))
            .collect()
    }

    #[test]
    fn every_missing_member_and_every_wrong_type_is_listed() {
        assert_eq!(
            found(json!({ "username": 5, "email": [], "colour": "blue", "kind": "alien" })),
            [
                ("password".into(), "required".into()),
                ("display_name".into(), "required".into()),
                ("colour".into(), "unknown_field".into()),
                ("email".into(), "wrong_type".into()),
                ("kind".into(), "not_an_option".into()),
                ("username".into(), "wrong_type".into()),
            ]
        );
    }

    /// The schema must agree with serde on good bodies, or a refusal would list problems that
    /// are not there: one good body of every request type, read by serde and found clean.
    #[test]
    fn every_request_types_schema_accepts_what_serde_accepts() {
        use crate::web::api::{admin, auth, calendars, filings, queue};
        fn clean<T: serde::de::DeserializeOwned + utoipa::ToSchema>(body: Value) {
            let name = T::name();
            assert!(
                serde_json::from_value::<T>(body.clone()).is_ok(),
                "{name}: serde refuses {body}"
            );
            let found: Vec<String> = problems::<T>(&body).into_iter().map(|p| p.path).collect();
            assert!(found.is_empty(), "{name}: {found:?} in {body}");
        }
        let uuid = "6f1c1a52-9d4e-4c1e-9b7a-1f2d3c4b5a69";
        clean::<queue::Assign>(json!({ "user_id": uuid }));
        clean::<queue::ClaimNext>(json!({}));
        clean::<queue::ClaimNext>(json!({ "role": "clerk" }));
        clean::<auth::ChangePassword>(json!({ "current_password": "a", "new_password": "b" }));
        clean::<auth::LoginRequest>(json!({ "username": "a", "password": "b" }));
        clean::<auth::RegisterRequest>(json!({ "username": "a", "password": "b",
            "display_name": "c", "kind": "company", "credit_code": "x", "phone": null }));
        clean::<filings::CreateFiling>(json!({ "item": "x", "form": { "a": 1 },
            "promises": { "m": "2026-12-31" } }));
        clean::<filings::EditFiling>(json!({ "expected_version": 3, "form": { "a": null } }));
        clean::<filings::ActRequest>(json!({ "expected_version": 3, "reason": "r",
            "opinion": null, "notice_items": ["a"], "verdict": "approve", "objection": "o" }));
        clean::<filings::ExtendRequest>(json!({ "days": 5, "reason": "r" }));
        clean::<filings::RatingRequest>(json!({ "score": 5, "comment": null }));
        clean::<admin::CreateStaff>(json!({ "username": "a", "password": "b",
            "display_name": "c", "department": "window", "roles": ["clerk", "manager"],
            "lang": "zh" }));
        clean::<admin::ResetPassword>(json!({ "password": "b" }));
        clean::<admin::MoveClock>(json!({ "advance_days": 1, "advance_hours": 2 }));
        clean::<admin::MoveClock>(json!({ "set": "2026-12-01T09:00:00+08:00" }));
        clean::<calendars::LoadYear>(json!({ "notice": "n", "holidays": ["2027-01-01",
            "2027-02-05..2027-02-12"], "workdays": [] }));
    }

    #[test]
    fn a_body_of_the_right_shape_has_no_problems() {
        let body = json!({ "username": "li", "password": "x", "display_name": "李",
                           "kind": "person", "email": null, "lang": "en" });
        assert_eq!(found(body), []);
        assert_eq!(
            found(json!([])),
            [(".".into(), "wrong_type".into())],
            "not an object at all"
        );
    }
}
