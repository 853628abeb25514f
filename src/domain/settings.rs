//! An item's settings and the references to them: a value in a definition (a guard's
//! threshold, a limit's days, a period's length, a consent share, a select's options, a joint
//! review's departments) may be written as `{ setting = "name" }`, and takes the value of `name` in the item's `[settings]`, or in the
//! region's rule set for the item when it has one (a province raising a threshold, a city's
//! notice length). One number lives in one place.
//!
//! References are resolved on the TOML document before it is read as a definition, so the
//! engine only ever sees values; the definition stored for a version holds them, so a filing
//! keeps the values it started under when a rule set changes.

use toml_edit::{DocumentMut, Item, Table, Value};

/// A reference the document makes to a setting it has no value for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// Where the reference stands, e.g. `actions.accept.guards[2].guards[0].value`.
    pub place: String,
    pub message: String,
}

/// Resolve every `{ setting = "…" }` in `doc` in place, with `rules` (the region's values for
/// this item) taking precedence over the item's own `[settings]`; the effective values are
/// written back into `[settings]`, so that the service guide shows them. The rest of the
/// document keeps its layout, so that errors found when it is read still name its lines.
/// Every problem is returned: a reference to a setting that has no value, and a rule for a
/// setting the item does not declare (a misspelt rule would otherwise change nothing,
/// silently).
pub fn resolve(doc: &mut DocumentMut, rules: Option<&Table>) -> Vec<Unresolved> {
    let mut problems = Vec::new();
    if let Some(rules) = rules {
        let declared: Vec<String> = doc
            .get("settings")
            .and_then(Item::as_table)
            .map(|s| s.iter().map(|(k, _)| k.to_owned()).collect())
            .unwrap_or_default();
        for (k, v) in rules.iter() {
            let known = declared.iter().any(|d| d == k);
            match v.as_value() {
                Some(value) if known => {
                    let mut value = value.clone();
                    value.decor_mut().clear();
                    doc["settings"][k] = Item::Value(value);
                }
                Some(_) => problems.push(Unresolved {
                    place: format!("rules.{k}"),
                    message: format!(
                        "the region's rules set `{k}`, which the item's [settings] does not declare"
                    ),
                }),
                None => problems.push(Unresolved {
                    place: format!("rules.{k}"),
                    message: format!("the region's rule `{k}` is not a single value"),
                }),
            }
        }
    }
    let settings = doc
        .get("settings")
        .and_then(Item::as_table)
        .cloned()
        .unwrap_or_default();
    for (key, item) in doc.as_table_mut().iter_mut() {
        if key.get() != "settings" {
            walk_item(item, key.get().to_owned(), &settings, &mut problems);
        }
    }
    problems
}

/// The name of the setting a value refers to, if it is a reference.
fn reference(v: &Value) -> Option<String> {
    let t = v.as_inline_table()?;
    match (t.len(), t.get("setting")) {
        (1, Some(Value::String(name))) => Some(name.value().clone()),
        _ => None,
    }
}

fn walk_item(item: &mut Item, place: String, settings: &Table, problems: &mut Vec<Unresolved>) {
    match item {
        Item::Value(v) => walk_value(v, place, settings, problems),
        Item::Table(t) => {
            for (k, child) in t.iter_mut() {
                walk_item(child, format!("{place}.{}", k.get()), settings, problems);
            }
        }
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter_mut().enumerate() {
                // Elements with a code are named by it: `actions.accept`, not `actions[4]`.
                let here = match t.get("code").and_then(Item::as_str) {
                    Some(code) => format!("{place}.{code}"),
                    None => format!("{place}[{i}]"),
                };
                for (k, child) in t.iter_mut() {
                    walk_item(child, format!("{here}.{}", k.get()), settings, problems);
                }
            }
        }
        Item::None => {}
    }
}

fn walk_value(v: &mut Value, place: String, settings: &Table, problems: &mut Vec<Unresolved>) {
    if let Some(name) = reference(v) {
        match settings.get(&name).map(Item::as_value) {
            // A single value, or a list or table a region sets whole (a city's joint-review
            // departments, a province's project classes).
            Some(Some(value)) => {
                let decor = v.decor().clone();
                *v = value.clone();
                *v.decor_mut() = decor;
            }
            Some(None) => problems.push(Unresolved {
                place,
                message: format!("the setting `{name}` is not a value"),
            }),
            None => problems.push(Unresolved {
                place,
                message: format!("names the setting `{name}`, which [settings] does not have"),
            }),
        }
        return;
    }
    match v {
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                let here = match child
                    .as_inline_table()
                    .and_then(|t| t.get("code"))
                    .and_then(Value::as_str)
                {
                    Some(code) => format!("{place}.{code}"),
                    None => format!("{place}[{i}]"),
                };
                walk_value(child, here, settings, problems);
            }
        }
        Value::InlineTable(t) => {
            for (k, child) in t.iter_mut() {
                walk_value(child, format!("{place}.{}", k.get()), settings, problems);
            }
        }
        Value::String(text) if text.value().contains("{{") => {
            match interpolate(text.value(), settings) {
                Ok(filled) => {
                    let decor = v.decor().clone();
                    *v = Value::from(filled);
                    *v.decor_mut() = decor;
                }
                Err(message) => problems.push(Unresolved { place, message }),
            }
        }
        _ => {}
    }
}

/// A text that tells a setting's value: `{{name}}` as written, `{{name:万}}` in 万 (tens of
/// thousands: 300000 → 30), so that a guide says the threshold the guards use.
fn interpolate(text: &str, settings: &Table) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("`{{{{` without `}}}}` in \"{text}\""))?;
        let (name, unit) = match after[..end].split_once(':') {
            Some((n, u)) => (n.trim(), Some(u.trim())),
            None => (after[..end].trim(), None),
        };
        let value = settings.get(name).and_then(Item::as_value).ok_or_else(|| {
            format!("the text names the setting `{name}`, which [settings] does not have")
        })?;
        let shown = match (value, unit) {
            (Value::String(s), None) => s.value().clone(),
            (Value::Integer(i), None) => i.value().to_string(),
            (Value::Float(f), None) => f.value().to_string(),
            (Value::Integer(i), Some("万")) => {
                let n = *i.value();
                if n % 10_000 == 0 {
                    (n / 10_000).to_string()
                } else {
                    format!("{}", n as f64 / 10_000.0)
                }
            }
            (_, Some(u)) => {
                return Err(format!(
                    "`{name}:{u}`: only a whole number can be shown in 万"
                ));
            }
            _ => return Err(format!("the setting `{name}` cannot be shown in a text")),
        };
        out.push_str(&shown);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn doc(s: &str) -> DocumentMut {
        s.parse().unwrap()
    }

    fn rules(s: &str) -> Table {
        s.parse::<DocumentMut>().unwrap().as_table().clone()
    }

    #[test]
    fn references_take_the_items_value_or_the_regions_and_the_effective_values_are_shown() {
        let mut d = doc(r#"
            [settings]
            threshold = 300000
            share = "2/3"
            [[actions]]
            code = "accept"
            guards = [{ kind = "compare", value = { setting = "threshold" } }]
            [limits]
            consent = { setting = "share" }
        "#);
        assert!(resolve(&mut d, None).is_empty());
        assert_eq!(
            d["actions"][0]["guards"][0]["value"].as_integer(),
            Some(300000)
        );
        assert_eq!(d["limits"]["consent"].as_str(), Some("2/3"));
        // The rest keeps its layout: lines stay where they were.
        assert!(
            d.to_string()
                .contains("guards = [{ kind = \"compare\", value = 300000 }]")
        );

        let mut d2 = doc(r#"
            [settings]
            threshold = 300000
            [[actions]]
            code = "accept"
            guards = [{ kind = "compare", value = { setting = "threshold" } }]
        "#);
        assert!(resolve(&mut d2, Some(&rules("threshold = 1000000"))).is_empty());
        assert_eq!(
            d2["actions"][0]["guards"][0]["value"].as_integer(),
            Some(1000000)
        );
        assert_eq!(d2["settings"]["threshold"].as_integer(), Some(1000000));
    }

    #[test]
    fn a_region_sets_a_list_whole() {
        let text = r#"
            [settings]
            classes = [{ value = "general" }, { value = "key" }]
            [[fields]]
            code = "class"
            options = { setting = "classes" }
        "#;
        let mut d = doc(text);
        assert!(resolve(&mut d, None).is_empty());
        assert_eq!(
            d["fields"][0]["options"].as_array().map(|a| a.len()),
            Some(2)
        );
        let mut d = doc(text);
        let crowded = rules(
            r#"classes = [{ value = "crowded" }, { value = "general" }, { value = "unfiled" }]"#,
        );
        assert!(resolve(&mut d, Some(&crowded)).is_empty());
        let options = d["fields"][0]["options"].as_array().unwrap();
        assert_eq!(options.len(), 3);
        assert_eq!(
            options
                .get(0)
                .and_then(|o| o.as_inline_table())
                .and_then(|t| t.get("value"))
                .and_then(|v| v.as_str()),
            Some("crowded")
        );
    }

    #[test]
    fn texts_tell_the_settings_in_force() {
        let text = r#"
            [settings]
            investment_threshold_cny = 300000
            floor_area_threshold_m2 = 300
            [[deadlines]]
            code = "start"
            label = { zh = "投资额在{{investment_threshold_cny:万}}万元以下或者建筑面积在{{floor_area_threshold_m2}}平方米以下" }
        "#;
        let mut d = doc(text);
        assert!(resolve(&mut d, None).is_empty());
        assert_eq!(
            d["deadlines"][0]["label"]["zh"].as_str(),
            Some("投资额在30万元以下或者建筑面积在300平方米以下")
        );
        let mut d = doc(text);
        let hubei = rules("investment_threshold_cny = 1000000\nfloor_area_threshold_m2 = 500");
        assert!(resolve(&mut d, Some(&hubei)).is_empty());
        assert_eq!(
            d["deadlines"][0]["label"]["zh"].as_str(),
            Some("投资额在100万元以下或者建筑面积在500平方米以下")
        );
        let mut d = doc(&text.replace("{{floor_area_threshold_m2}}", "{{floor_area}}"));
        let got = resolve(&mut d, None);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].place, "deadlines.start.label.zh");
        assert!(got[0].message.contains("`floor_area`"), "{got:?}");
    }

    #[test]
    fn a_missing_setting_and_a_rule_for_no_setting_are_named_with_their_places() {
        let mut d = doc(r#"
            [settings]
            threshold = 1
            [[actions]]
            code = "accept"
            guards = [{ kind = "all_of", guards = [{ kind = "compare", value = { setting = "treshold" } }] }]
        "#);
        let got = resolve(&mut d, Some(&rules("threshhold = 2")));
        assert_eq!(
            got.iter().map(|u| u.place.as_str()).collect::<Vec<_>>(),
            [
                "rules.threshhold",
                "actions.accept.guards[0].guards[0].value"
            ]
        );
        assert!(got[1].message.contains("`treshold`"));
    }
}
