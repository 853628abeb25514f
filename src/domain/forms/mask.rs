//! Masking: personal fields shown without what identifies the person (个人信息保护法).

use serde_json::Value;

use crate::domain::definition::{Field, FieldType};

/// The value as shown where personal data is not needed (个人信息保护法): a phone keeps its first
/// three and last four digits (138****5678), an ID number its first six and last four, other
/// personal text its first character. Numbers and yes/no answers in a personal field have no
/// harmless part and are hidden whole. An ID number is masked even if the definition forgot to
/// mark it personal: it identifies a person on its own. Other fields are returned unchanged.
pub fn mask(field: &Field, value: &Value) -> Value {
    if let (FieldType::Table { columns, .. }, Value::Array(rows)) = (&field.ty, value) {
        return mask_table(columns, rows);
    }
    let personal = field.personal || matches!(field.ty, FieldType::IdCard);
    if !personal {
        return value.clone();
    }
    match (&field.ty, value) {
        (_, Value::Null) => Value::Null,
        (FieldType::Phone, Value::String(s)) => Value::String(mask_keep(s, 3, 4)),
        (FieldType::IdCard, Value::String(s)) => Value::String(mask_keep(s, 6, 4)),
        (_, Value::String(s)) => Value::String(mask_keep(s, 1, 0)),
        _ => Value::String("***".into()),
    }
}

/// A person's name where it is not needed: its first character (王**).
pub fn mask_name(name: &str) -> String {
    mask_keep(name, 1, 0)
}

/// A table's cells are masked as their columns say: an owners' roster keeps its areas and votes
/// (what the decision is computed from) and hides who the owners are where their columns are
/// personal. A row that is not a record, or a cell of no column, has nothing to go by and is
/// hidden whole.
fn mask_table(columns: &[Field], rows: &[Value]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| match row {
                Value::Object(cells) => Value::Object(
                    cells
                        .iter()
                        .map(|(k, v)| {
                            let v = match columns.iter().find(|c| &c.code == k) {
                                Some(c) => mask(c, v),
                                None => Value::String("***".into()),
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                ),
                _ => Value::String("***".into()),
            })
            .collect(),
    )
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
mod tests {
    use super::*;
    use crate::domain::forms::tests::{field, roster};
    use serde_json::json;

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
        let mut owners = field("owners", roster(), false);
        if let FieldType::Table { columns, .. } = &mut owners.ty {
            columns[0].personal = true;
        }
        assert_eq!(
            mask(
                &owners,
                &json!([{"unit": "1-101", "area": 1, "vote": "agree"}, 3, {"x": "y"}])
            ),
            json!([{"unit": "1****", "area": 1, "vote": "agree"}, "***", {"x": "***"}])
        );
    }
}
