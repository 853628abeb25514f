//! Counting the owners' vote in a 民法典 §278 decision, from a table of the item with one row
//! per unit (专有部分) and the columns the `owner_consent` guard names.
//!
//! Policy:
//! - Areas are summed per unit, in hundredths of a square metre, exactly (司法解释 on
//!   建筑物区分所有权 §8: the area as registered).
//! - Heads are counted per owner, not per row (§9): one buyer of several units is one head,
//!   and so are the developer's unsold units, written with the developer as their owner. Two
//!   rows are the same owner when their owner cells are equal once trimmed; nothing else is
//!   normalised (no case folding, no full-width to half-width), because a looser match would
//!   silently merge two people. An item that has the owners' ID or credit codes names that
//!   column as the owner instead of the name.
//! - One owner has one vote: an owner whose rows vote differently (or who agrees on one row and
//!   has not signed on another) is refused with a problem naming the rows, rather than counted
//!   by a guess; the roster is put right and the guard tried again.
//! - A table with a bad cell is not counted: its problems are returned, as the form shows them.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::Problem;
use super::definition::{ConsentBase, ConsentColumns, Definition, FieldType, Fraction, Guard};
use super::forms;

/// The values of the vote column, and what each means. The checker requires the vote column to
/// be a select of exactly these, so that no option has a meaning the count does not know.
pub const VOTES: [&str; 4] = [AGREE, OBJECT, ABSTAIN, ABSENT];
pub const AGREE: &str = "agree";
pub const OBJECT: &str = "object";
pub const ABSTAIN: &str = "abstain";
/// Did not take part in the vote.
pub const ABSENT: &str = "absent";

/// One owner's part in the vote: their rows, the area they hold and how they voted.
struct Owner<'a> {
    name: &'a str,
    rows: Vec<usize>,
    /// The vote and signature of each row, in row order.
    ballots: Vec<(&'a str, bool)>,
}

/// Evaluate an `owner_consent` guard on a form: empty when the decision is carried, otherwise
/// every threshold it misses (or the problems that keep the table from being counted).
pub fn eval(def: &Definition, guard: &Guard, form: &Map<String, Value>) -> Vec<Problem> {
    let Guard::OwnerConsent {
        table,
        columns,
        participation_area,
        participation_headcount,
        approval_area,
        approval_headcount,
        base,
        no_objection,
    } = guard
    else {
        return Vec::new();
    };
    let path = format!("form.{table}");
    let field = match def.field(table) {
        Some(f) if matches!(f.ty, FieldType::Table { .. }) => f,
        // The checker refuses such a definition; should one get here, the guard does not hold.
        _ => {
            return vec![Problem::new(
                path,
                "misconfigured",
                "业主表决的计票规则配置有误，请联系办理机关",
                "The rule counting the owners' vote is misconfigured; please contact the bureau",
            )];
        }
    };
    let value = match form.get(table) {
        Some(v) if v.as_array().is_some_and(|rows| !rows.is_empty()) => v,
        _ => {
            return vec![Problem::new(
                path,
                "required",
                format!("缺少「{}」", field.label.zh),
                format!("{} is missing", field.label.en),
            )];
        }
    };
    let problems = forms::judge(field, value, &path);
    if !problems.is_empty() {
        return problems;
    }
    let rows = match read_rows(columns, value, &path) {
        Ok(rows) => rows,
        Err(problems) => return problems,
    };

    // Owners in the order they first appear.
    let mut owners: Vec<Owner<'_>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for r in &rows {
        let k = *index.entry(r.owner).or_insert_with(|| {
            owners.push(Owner {
                name: r.owner,
                rows: Vec::new(),
                ballots: Vec::new(),
            });
            owners.len() - 1
        });
        owners[k].rows.push(r.row);
        owners[k].ballots.push((r.vote, r.signed));
    }
    let conflicts: Vec<Problem> = owners
        .iter()
        .filter(|o| !one_vote(&o.ballots))
        .map(|o| conflict(&path, &field.label, o))
        .collect();
    if !conflicts.is_empty() {
        return conflicts;
    }
    // Whether an agreement counts (an owner's rows all vote alike: see `one_vote`).
    let agrees = |(vote, signed): (&str, bool)| vote == AGREE && signed;

    let total_area: i64 = rows.iter().map(|r| r.area).sum();
    let part_area: i64 = rows
        .iter()
        .filter(|r| r.vote != ABSENT)
        .map(|r| r.area)
        .sum();
    let agree_area: i64 = rows
        .iter()
        .filter(|r| agrees((r.vote, r.signed)))
        .map(|r| r.area)
        .sum();
    let heads = |f: &dyn Fn((&str, bool)) -> bool| -> i64 {
        owners
            .iter()
            .filter(|o| o.ballots.first().is_some_and(|&b| f(b)))
            .count() as i64
    };
    let total_heads = owners.len() as i64;
    let part_heads = heads(&|(v, _)| v != ABSENT);
    let agree_heads = heads(&agrees);
    let objecting = heads(&|(v, _)| v == OBJECT);
    let (base_area, base_heads) = match base {
        ConsentBase::Participating => (part_area, part_heads),
        ConsentBase::Total => (total_area, total_heads),
    };

    let mut problems = Vec::new();
    let mut need = |ok: bool, code: &str, zh: String, en: String| {
        if !ok {
            problems.push(Problem::new(path.clone(), code, zh, en));
        }
    };
    let m2 = forms::show_hundredths;
    need(
        participation_area.met_by(part_area, total_area),
        "participation_area",
        format!(
            "参与表决的专有面积 {} ㎡ {}总面积 {} ㎡ 的 {}",
            m2(part_area),
            short_zh(*participation_area),
            m2(total_area),
            frac(*participation_area)
        ),
        format!(
            "Owners taking part hold {} m² of {} m², {} {}",
            m2(part_area),
            m2(total_area),
            short_en(*participation_area),
            frac(*participation_area)
        ),
    );
    need(
        participation_headcount.met_by(part_heads, total_heads),
        "participation_headcount",
        format!(
            "参与表决的业主 {part_heads} 人{}业主总人数 {total_heads} 人的 {}（一人拥有多套的按一人计）",
            short_zh(*participation_headcount),
            frac(*participation_headcount)
        ),
        format!(
            "{part_heads} of {total_heads} owners took part, {} {} \
             (an owner of several units counts once)",
            short_en(*participation_headcount),
            frac(*participation_headcount)
        ),
    );
    need(
        approval_area.met_by(agree_area, base_area),
        "approval_area",
        format!(
            "同意（已签字）业主的专有面积 {} ㎡ {} {} ㎡ 的 {}",
            m2(agree_area),
            short_zh(*approval_area),
            m2(base_area),
            frac(*approval_area)
        ),
        format!(
            "Owners agreeing (signed) hold {} m² of {} m², {} {}",
            m2(agree_area),
            m2(base_area),
            short_en(*approval_area),
            frac(*approval_area)
        ),
    );
    need(
        approval_headcount.met_by(agree_heads, base_heads),
        "approval_headcount",
        format!(
            "同意（已签字）业主 {agree_heads} 人{} {base_heads} 人的 {}（一人拥有多套的按一人计）",
            short_zh(*approval_headcount),
            frac(*approval_headcount)
        ),
        format!(
            "{agree_heads} of {base_heads} owners agree (signed), {} {} \
             (an owner of several units counts once)",
            short_en(*approval_headcount),
            frac(*approval_headcount)
        ),
    );
    need(
        !*no_objection || objecting == 0,
        "owner_objects",
        format!("有 {objecting} 位业主表示反对，本地规定须无反对意见"),
        format!("{objecting} owners object; local rules require no objection"),
    );
    problems
}

/// A row as the count sees it.
struct Row<'a> {
    row: usize,
    owner: &'a str,
    area: i64,
    vote: &'a str,
    /// Signed, or no signature column.
    signed: bool,
}

/// The counted cells of a table already judged valid. The checker makes the owner, area and
/// vote columns required; should a cell be missing all the same, it is named, not guessed.
fn read_rows<'v>(
    columns: &ConsentColumns,
    value: &'v Value,
    path: &str,
) -> Result<Vec<Row<'v>>, Vec<Problem>> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, cells) in forms::records(value) {
        let text = |col: &str| cells.get(col).and_then(Value::as_str).map(str::trim);
        let owner = text(&columns.owner).filter(|s| !s.is_empty());
        let area = cells.get(&columns.area).and_then(forms::hundredths);
        let vote = text(&columns.vote).filter(|v| VOTES.contains(v));
        let signed = match &columns.signed {
            Some(col) => cells.get(col).and_then(Value::as_bool).unwrap_or(false),
            None => true,
        };
        match (owner, area, vote) {
            (Some(owner), Some(area), Some(vote)) => rows.push(Row {
                row: i,
                owner,
                area,
                vote,
                signed,
            }),
            _ => {
                for (col, ok) in [
                    (&columns.owner, owner.is_some()),
                    (&columns.area, area.is_some()),
                    (&columns.vote, vote.is_some()),
                ] {
                    if !ok {
                        problems.push(Problem::new(
                            format!("{path}[{i}].{col}"),
                            "required",
                            format!("第 {} 行缺少计票所需的「{col}」", i + 1),
                            format!("Row {}: `{col}` is needed to count the vote", i + 1),
                        ));
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Whether an owner's rows give one vote: the same on every row, and an agreement signed on
/// every row or on none (a signature is the owner's, not the unit's).
fn one_vote(ballots: &[(&str, bool)]) -> bool {
    let Some(&(vote, signed)) = ballots.first() else {
        return true;
    };
    ballots
        .iter()
        .all(|&(v, s)| v == vote && (v != AGREE || s == signed))
}

fn conflict(path: &str, table: &crate::domain::Text, o: &Owner<'_>) -> Problem {
    let rows: Vec<String> = o.rows.iter().map(|r| (r + 1).to_string()).collect();
    Problem::new(
        path,
        "owner_votes_differ",
        format!(
            "「{}」中业主「{}」在第 {} 行的表决意见或签字不一致：一位业主只有一票，请更正",
            table.zh,
            o.name,
            rows.join("、")
        ),
        format!(
            "In {}, the owner `{}` votes or signs differently in rows {}: an owner has one vote; \
             please correct the rows",
            table.en,
            o.name,
            rows.join(", ")
        ),
    )
}

fn frac(f: Fraction) -> String {
    format!("{}/{}", f.num, f.den)
}

/// How a share is missed: not reached (以上), or not exceeded (过半数).
fn short_zh(f: Fraction) -> &'static str {
    if f.more_than { "未超过" } else { "未达" }
}

fn short_en(f: Fraction) -> &'static str {
    if f.more_than {
        "not more than"
    } else {
        "less than"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::check;
    use serde_json::json;

    /// The elevator item as shipped: thresholds 2/3 to take part, 3/4 of those to agree.
    fn elevator() -> Definition {
        let file = "elevator-installation.toml";
        let text =
            std::fs::read_to_string(format!("{}/seeds/items/{file}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        check::parse(file, &text).unwrap()
    }

    fn guard(def: &Definition) -> Guard {
        def.actions
            .iter()
            .flat_map(|a| &a.guards)
            .find(|g| matches!(g, Guard::OwnerConsent { .. }))
            .cloned()
            .unwrap()
    }

    /// Rows of (unit, owner, area, vote, signed).
    fn count(rows: &[(&str, &str, &str, &str, bool)]) -> Vec<Problem> {
        let def = elevator();
        let owners: Vec<Value> = rows
            .iter()
            .map(|(unit, owner, area, vote, signed)| {
                json!({"unit": unit, "owner": owner, "area": area, "vote": vote, "signed": signed})
            })
            .collect();
        let mut form = Map::new();
        form.insert("owners".into(), Value::Array(owners));
        eval(&def, &guard(&def), &form)
    }

    fn codes(p: &[Problem]) -> Vec<&str> {
        p.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn one_owner_of_three_units_is_one_head_but_holds_the_area_of_all_three() {
        // Six rows, five agreeing: by rows 5 of 6 ≥ 3/4. But 张三 holds three of them: by
        // owners 3 agree of 4 … still 3/4, carried.
        let carried = [
            ("101", "张三", "90", "agree", true),
            ("102", "张三", "90", "agree", true),
            ("201", "张三", "90", "agree", true),
            ("202", "李四", "90", "agree", true),
            ("301", "王五", "90", "agree", true),
            ("302", "赵六", "90", "object", true),
        ];
        assert_eq!(codes(&count(&carried)), Vec::<&str>::new());

        // Eight rows, six agreeing: 6 of 8 rows is 3/4 by rows and by area, but the three
        // units of 张三 are one head: 4 of 6 owners agree, less than 3/4.
        let rows = [
            ("101", "张三", "90", "agree", true),
            ("102", "张三 ", "90", "agree", true),
            ("201", " 张三", "90", "agree", true),
            ("202", "李四", "90", "agree", true),
            ("301", "王五", "90", "agree", true),
            ("302", "赵六", "90", "agree", true),
            ("401", "钱七", "90", "object", true),
            ("402", "孙八", "90", "object", true),
        ];
        let p = count(&rows);
        assert_eq!(codes(&p), ["approval_headcount"]);
        assert!(
            p[0].message
                .zh
                .starts_with("同意（已签字）业主 4 人未达 6 人的 3/4"),
            "{}",
            p[0].message.zh
        );

        // The other way: 张三's three small units object, three owners with large units agree.
        // By rows 3 of 6 is short of 3/4; by owners 3 of 4 is exactly 3/4, and by area
        // 270 of 300 m².
        let rows = [
            ("101", "张三", "10", "object", true),
            ("102", "张三", "10", "object", true),
            ("201", "张三", "10", "object", true),
            ("202", "李四", "90", "agree", true),
            ("301", "王五", "90", "agree", true),
            ("302", "赵六", "90", "agree", true),
        ];
        assert_eq!(codes(&count(&rows)), Vec::<&str>::new());
    }

    #[test]
    fn the_developers_unsold_units_count_as_one_owner() {
        // Four unsold units and four sold ones, every buyer agreeing and the developer not
        // taking part: 4 of 5 owners take part (≥ 2/3), though only half the units do.
        let developer = "示范房地产开发有限公司";
        let rows = [
            ("101", developer, "80", "absent", false),
            ("102", developer, "80", "absent", false),
            ("201", developer, "80", "absent", false),
            ("202", developer, "80", "absent", false),
            ("301", "李四", "160", "agree", true),
            ("302", "王五", "160", "agree", true),
            ("401", "赵六", "160", "agree", true),
            ("402", "钱七", "160", "agree", true),
        ];
        // 640 of 960 m² is exactly 2/3 of the area; 4 of 5 heads.
        assert_eq!(codes(&count(&rows)), Vec::<&str>::new());
        // Were each unsold unit a head, 4 of 8 would be short of 2/3.
        let mut by_unit = rows;
        for (i, r) in by_unit.iter_mut().take(4).enumerate() {
            r.1 = ["甲", "乙", "丙", "丁"][i];
        }
        assert_eq!(codes(&count(&by_unit)), ["participation_headcount"]);
    }

    #[test]
    fn an_owner_who_votes_differently_on_two_rows_is_refused_naming_the_rows() {
        let rows = [
            ("101", "张三", "90", "agree", true),
            ("102", "李四", "90", "agree", true),
            ("201", "张三", "90", "object", true),
            ("202", "王五", "90", "agree", true),
            ("301", "张三", "90", "agree", true),
        ];
        let p = count(&rows);
        assert_eq!(codes(&p), ["owner_votes_differ"]);
        assert_eq!(p[0].path, "form.owners");
        assert!(
            p[0].message.zh.contains("「张三」在第 1、3、5 行"),
            "{}",
            p[0].message.zh
        );
        assert!(
            p[0].message.en.contains("rows 1, 3, 5"),
            "{}",
            p[0].message.en
        );

        // An agreement signed on one unit and not on another is not one decision either.
        let unsigned = [
            ("101", "张三", "90", "agree", true),
            ("102", "张三", "90", "agree", false),
            ("201", "李四", "90", "agree", true),
        ];
        assert_eq!(codes(&count(&unsigned)), ["owner_votes_differ"]);
        // Whether an objection is signed does not matter.
        let objecting = [
            ("101", "张三", "10", "object", true),
            ("102", "张三", "10", "object", false),
            ("201", "李四", "90", "agree", true),
            ("202", "王五", "90", "agree", true),
            ("301", "赵六", "90", "agree", true),
            ("302", "钱七", "90", "agree", true),
        ];
        assert_eq!(codes(&count(&objecting)), Vec::<&str>::new());
        // Names are compared exactly once trimmed: 张三 and 张 三 are two owners.
        let apart = [
            ("101", "张三", "90", "agree", true),
            ("102", "张 三", "90", "object", true),
        ];
        assert_eq!(
            codes(&count(&apart)),
            ["approval_area", "approval_headcount"]
        );
    }

    #[test]
    fn a_table_with_bad_cells_is_not_counted_and_a_missing_one_is_required() {
        let p = count(&[("101", "张三", "0", "agree", true)]);
        assert_eq!(
            p.iter()
                .map(|p| (p.path.as_str(), p.code.as_str()))
                .collect::<Vec<_>>(),
            [("form.owners[0].area", "too_small")]
        );
        let def = elevator();
        let p = eval(&def, &guard(&def), &Map::new());
        assert_eq!(codes(&p), ["required"]);
        assert_eq!(p[0].path, "form.owners");
    }
}
