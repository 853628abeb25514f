//! The workflow of an item as a Mermaid state diagram, for the service guide (办事指南) and for
//! whoever reviews a definition.
//!
//! Policy: drawn from the definition alone, with the same edges the checker walks (an action's
//! from → to, a parallel review's join to on_approved / on_refused), so the picture cannot drift
//! from what the engine does. Actions that stay in their state (recording an objection or a
//! verdict) move nothing and are not edges. Labels come from item files edited by hand, so every
//! character that would end a Mermaid statement or label is replaced, never passed through.

use super::definition::{Definition, Lang};

/// A Mermaid `stateDiagram-v2` of the item's states and actions, labelled in `lang`.
pub fn mermaid(def: &Definition, lang: Lang) -> String {
    let (all_approved, any_refused) = match lang {
        Lang::Zh => ("各部门均同意", "有部门不同意"),
        Lang::En => ("all approved", "any refused"),
    };
    let mut lines = vec!["stateDiagram-v2".to_owned()];
    for s in &def.states {
        lines.push(format!(
            "    state \"{}\" as {}",
            label(s.label.get(lang)),
            id(&s.code)
        ));
    }
    lines.push(format!("    [*] --> {}", id(&def.initial)));
    for a in &def.actions {
        let Some(to) = &a.to else { continue };
        for from in &a.from {
            lines.push(format!(
                "    {} --> {} : {}",
                id(from),
                id(to),
                label(a.label.get(lang))
            ));
        }
    }
    for s in &def.states {
        if let Some(p) = &s.parallel {
            lines.push(format!(
                "    {} --> {} : {all_approved}",
                id(&s.code),
                id(&p.on_approved)
            ));
            lines.push(format!(
                "    {} --> {} : {any_refused}",
                id(&s.code),
                id(&p.on_refused)
            ));
        }
    }
    for s in def.states.iter().filter(|s| s.kind.is_final()) {
        lines.push(format!("    {} --> [*]", id(&s.code)));
    }
    for s in &def.states {
        let Some(p) = &s.parallel else { continue };
        lines.push(format!("    note right of {}", id(&s.code)));
        for t in &p.tasks {
            let task = match lang {
                Lang::Zh => format!("{}（{}）", t.label.zh, t.department),
                Lang::En => format!("{} ({})", t.label.en, t.department),
            };
            // The bullet also keeps a line from reading as the closing `end note`.
            lines.push(format!("        • {}", label(&task)));
        }
        lines.push("    end note".to_owned());
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// Mermaid ids are plain words: `-` (and anything else but letters, digits and `_`) becomes `_`,
/// and ids that are keywords of the diagram language get a trailing `_`.
fn id(code: &str) -> String {
    let mut s: String = code
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 's');
    }
    const KEYWORDS: [&str; 9] = [
        "end",
        "state",
        "note",
        "direction",
        "class",
        "classDef",
        "style",
        "click",
        "as",
    ];
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// A label on one line with nothing Mermaid reads as syntax: `:` separates a transition from its
/// label, `"` closes a state's name, `;` and newlines end statements, `#…;` is an entity and `<>`
/// would be taken as HTML. Full-width forms keep Chinese text readable.
fn label(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ':' => '：',
            '"' => '\'',
            ';' => '；',
            '#' => '＃',
            '<' => '＜',
            '>' => '＞',
            '{' => '（',
            '}' => '）',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::check;

    fn small() -> Definition {
        check::parse("small.toml", check::tests::SMALL).unwrap()
    }

    /// The ids a line of the diagram refers to.
    fn ids_in(line: &str) -> Vec<String> {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("state \"") {
            return rest
                .rsplit_once(" as ")
                .map(|(_, id)| vec![id.to_owned()])
                .unwrap_or_default();
        }
        if let Some(id) = line.strip_prefix("note right of ") {
            return vec![id.to_owned()];
        }
        if let Some((a, rest)) = line.split_once(" --> ") {
            let b = rest.split_once(" : ").map_or(rest, |(b, _)| b);
            return [a, b]
                .into_iter()
                .filter(|x| *x != "[*]")
                .map(str::to_owned)
                .collect();
        }
        vec![]
    }

    #[test]
    fn the_diagram_has_every_edge_of_the_small_item() {
        let out = mermaid(&small(), Lang::Zh);
        for expected in [
            "stateDiagram-v2",
            "    state \"联合审查\" as joint_review",
            "    [*] --> draft",
            "    draft --> intake : 提交",
            "    intake --> notice : 受理",
            "    intake --> intake : 改派",
            "    notice --> joint_review : 公示期满",
            "    joint_review --> withdrawn : 撤回",
            "    joint_review --> done : 各部门均同意",
            "    joint_review --> refused : 有部门不同意",
            "    done --> [*]",
            "    refused --> [*]",
            "    withdrawn --> [*]",
            "    note right of joint_review",
            "        • 规划审查（planning）",
            "        • 消防审查（fire）",
            "    end note",
        ] {
            assert!(
                out.lines().any(|l| l == expected),
                "missing `{expected}` in\n{out}"
            );
        }
        // Staying actions are not edges; a state that is not final does not end.
        assert!(!out.contains("登记异议"));
        assert!(!out.contains("部门审查意见"));
        assert!(!out.contains("intake --> [*]"));
    }

    #[test]
    fn ids_never_contain_a_dash() {
        for lang in [Lang::Zh, Lang::En] {
            let out = mermaid(&small(), lang);
            let ids: Vec<String> = out.lines().flat_map(ids_in).collect();
            assert!(ids.len() > 20, "{ids:?}");
            for id in ids {
                assert!(
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad id `{id}`"
                );
            }
        }
    }

    #[test]
    fn english_labels_are_used_in_english() {
        let out = mermaid(&small(), Lang::En);
        assert!(out.contains("    draft --> intake : Submit\n"));
        assert!(out.contains("    joint_review --> done : all approved\n"));
        assert!(out.contains("        • Planning (planning)\n"));
    }

    #[test]
    fn labels_cannot_break_the_diagram() {
        let mut def = small();
        def.states[0].label.zh = "第一步: \"草稿\"\n<b>#1;</b>".into();
        def.actions[0].label.zh = "提交:\r\n再说".into();
        let out = mermaid(&def, Lang::Zh);
        assert!(
            out.contains("    state \"第一步： '草稿' ＜b＞＃1；＜/b＞\" as draft\n"),
            "{out}"
        );
        assert!(
            out.contains("    draft --> intake : 提交：  再说\n"),
            "{out}"
        );
        for line in out.lines().skip(1) {
            assert!(line.starts_with("    "), "a label broke a line: `{line}`");
        }
    }

    #[test]
    fn odd_codes_become_safe_ids() {
        assert_eq!(id("joint-review"), "joint_review");
        assert_eq!(id("end"), "end_");
        assert_eq!(id("1st"), "s1st");
        assert_eq!(id(""), "s");
        assert_eq!(id("a b:c"), "a_b_c");
    }
}
