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

/// Heads (owners, each counted once) and exclusive area (hundredths of a square metre).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub heads: i64,
    pub area: i64,
}

/// What a threshold counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Area,
    Heads,
}

/// One threshold of the guard, against the count: `part` of `whole` must reach `share`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    /// participation_area, participation_headcount, approval_area, approval_headcount (the
    /// codes of the problems `eval` returns when it is missed).
    pub code: &'static str,
    pub measure: Measure,
    pub share: Fraction,
    pub part: i64,
    pub whole: i64,
    pub met: bool,
}

/// The count of an owners' vote as an `owner_consent` guard makes it: what staff check the
/// decision by, and what `eval` judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Rows of the table (专有部分).
    pub units: usize,
    /// Every owner once, and all the area.
    pub total: Share,
    /// By vote, in the order of [`VOTES`]: agree, object, abstain, absent. An agreement is
    /// here signed or not.
    pub votes: [Share; 4],
    /// The agreements that count: signed (or the table has no signature column).
    pub agreeing: Share,
    /// Owners who took part: every vote but absent.
    pub participating: Share,
    /// What the approval thresholds are shares of.
    pub base: ConsentBase,
    /// Participation (area, heads), then approval (area, heads).
    pub thresholds: Vec<Threshold>,
    /// Local rules require that no owner object (福州).
    pub no_objection: bool,
}

impl Tally {
    /// The heads and area of one of [`VOTES`].
    pub fn vote(&self, vote: &str) -> Share {
        VOTES
            .iter()
            .position(|v| *v == vote)
            .map(|i| self.votes[i])
            .unwrap_or_default()
    }

    /// Whether the objection rule holds (always, where the rules have none).
    pub fn no_objection_met(&self) -> bool {
        !self.no_objection || self.vote(OBJECT).heads == 0
    }

    /// The decision is carried: every threshold met, and no objection where that is required.
    pub fn carried(&self) -> bool {
        self.thresholds.iter().all(|t| t.met) && self.no_objection_met()
    }
}

/// The `owner_consent` guard that counts a table of the item, wherever it sits among the
/// actions' guards (the fund's vote is inside an `any_of`); the first one found.
pub fn guard_for<'d>(def: &'d Definition, table: &str) -> Option<&'d Guard> {
    fn find<'g>(g: &'g Guard, table: &str) -> Option<&'g Guard> {
        match g {
            Guard::OwnerConsent { table: t, .. } if t == table => Some(g),
            Guard::AllOf { guards } | Guard::AnyOf { guards } => {
                guards.iter().find_map(|g| find(g, table))
            }
            Guard::Not { guard } => find(guard, table),
            _ => None,
        }
    }
    def.actions
        .iter()
        .flat_map(|a| &a.guards)
        .find_map(|g| find(g, table))
}

/// Evaluate an `owner_consent` guard on a form: empty when the decision is carried, otherwise
/// every threshold it misses (or the problems that keep the table from being counted).
pub fn eval(def: &Definition, guard: &Guard, form: &Map<String, Value>) -> Vec<Problem> {
    let Guard::OwnerConsent { table, .. } = guard else {
        return Vec::new();
    };
    let t = match tally(def, guard, form) {
        Ok(t) => t,
        Err(problems) => return problems,
    };
    let path = format!("form.{table}");
    let m2 = forms::show_hundredths;
    let mut problems = Vec::new();
    for th in t.thresholds.iter().filter(|th| !th.met) {
        let (part, whole, f) = (th.part, th.whole, th.share);
        let (zh, en) = match th.code {
            "participation_area" => (
                format!(
                    "参与表决的专有面积 {} ㎡ {}总面积 {} ㎡ 的 {}",
                    m2(part),
                    short_zh(f),
                    m2(whole),
                    frac(f)
                ),
                format!(
                    "Owners taking part hold {} m² of {} m², {} {}",
                    m2(part),
                    m2(whole),
                    short_en(f),
                    frac(f)
                ),
            ),
            "participation_headcount" => (
                format!(
                    "参与表决的业主 {part} 人{}业主总人数 {whole} 人的 {}（一人拥有多套的按一人计）",
                    short_zh(f),
                    frac(f)
                ),
                format!(
                    "{part} of {whole} owners took part, {} {} \
                     (an owner of several units counts once)",
                    short_en(f),
                    frac(f)
                ),
            ),
            "approval_area" => (
                format!(
                    "同意（已签字）业主的专有面积 {} ㎡ {} {} ㎡ 的 {}",
                    m2(part),
                    short_zh(f),
                    m2(whole),
                    frac(f)
                ),
                format!(
                    "Owners agreeing (signed) hold {} m² of {} m², {} {}",
                    m2(part),
                    m2(whole),
                    short_en(f),
                    frac(f)
                ),
            ),
            _ => (
                format!(
                    "同意（已签字）业主 {part} 人{} {whole} 人的 {}（一人拥有多套的按一人计）",
                    short_zh(f),
                    frac(f)
                ),
                format!(
                    "{part} of {whole} owners agree (signed), {} {} \
                     (an owner of several units counts once)",
                    short_en(f),
                    frac(f)
                ),
            ),
        };
        problems.push(Problem::new(path.clone(), th.code, zh, en));
    }
    if !t.no_objection_met() {
        let objecting = t.vote(OBJECT).heads;
        problems.push(Problem::new(
            path,
            "owner_objects",
            format!("有 {objecting} 位业主表示反对，本地规定须无反对意见"),
            format!("{objecting} owners object; local rules require no objection"),
        ));
    }
    problems
}

/// Count an `owner_consent` guard's table on a form: heads per owner and areas per unit by
/// vote, and each threshold against them; or the problems that keep the table from being
/// counted (a missing table, a bad cell, an owner voting two ways).
pub fn tally(
    def: &Definition,
    guard: &Guard,
    form: &Map<String, Value>,
) -> Result<Tally, Vec<Problem>> {
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
        return Err(Vec::new());
    };
    let path = format!("form.{table}");
    let field = match def.field(table) {
        Some(f) if matches!(f.ty, FieldType::Table { .. }) => f,
        // The checker refuses such a definition; should one get here, the guard does not hold.
        _ => {
            return Err(vec![Problem::new(
                path,
                "misconfigured",
                "业主表决的计票规则配置有误，请联系办理机关",
                "The rule counting the owners' vote is misconfigured; please contact the bureau",
            )]);
        }
    };
    let value = match form.get(table) {
        Some(v) if v.as_array().is_some_and(|rows| !rows.is_empty()) => v,
        _ => {
            return Err(vec![Problem::new(
                path,
                "required",
                format!("缺少「{}」", field.label.zh),
                format!("{} is missing", field.label.en),
            )]);
        }
    };
    let problems = forms::judge(field, value, &path);
    if !problems.is_empty() {
        return Err(problems);
    }
    let rows = read_rows(columns, value, &path)?;

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
        return Err(conflicts);
    }

    // An owner's rows all vote alike (see `one_vote`): their first ballot is their vote.
    let share = |f: &dyn Fn((&str, bool)) -> bool| Share {
        heads: owners
            .iter()
            .filter(|o| o.ballots.first().is_some_and(|&b| f(b)))
            .count() as i64,
        area: rows
            .iter()
            .filter(|r| f((r.vote, r.signed)))
            .map(|r| r.area)
            .sum(),
    };
    let total = share(&|_| true);
    let votes = VOTES.map(|vote| share(&|(v, _)| v == vote));
    // Whether an agreement counts.
    let agreeing = share(&|(v, signed)| v == AGREE && signed);
    let participating = share(&|(v, _)| v != ABSENT);
    let of = match base {
        ConsentBase::Participating => participating,
        ConsentBase::Total => total,
    };
    let threshold = |code, measure, share: Fraction, part: i64, whole: i64| Threshold {
        code,
        measure,
        share,
        part,
        whole,
        met: share.met_by(part, whole),
    };
    let thresholds = vec![
        threshold(
            "participation_area",
            Measure::Area,
            *participation_area,
            participating.area,
            total.area,
        ),
        threshold(
            "participation_headcount",
            Measure::Heads,
            *participation_headcount,
            participating.heads,
            total.heads,
        ),
        threshold(
            "approval_area",
            Measure::Area,
            *approval_area,
            agreeing.area,
            of.area,
        ),
        threshold(
            "approval_headcount",
            Measure::Heads,
            *approval_headcount,
            agreeing.heads,
            of.heads,
        ),
    ];
    Ok(Tally {
        units: rows.len(),
        total,
        votes,
        agreeing,
        participating,
        base: *base,
        thresholds,
        no_objection: *no_objection,
    })
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

    fn tally_of(
        guard: &Guard,
        rows: &[(&str, &str, &str, &str, bool)],
    ) -> Result<Tally, Vec<Problem>> {
        let owners: Vec<Value> = rows
            .iter()
            .map(|(unit, owner, area, vote, signed)| {
                json!({"unit": unit, "owner": owner, "area": area, "vote": vote, "signed": signed})
            })
            .collect();
        let mut form = Map::new();
        form.insert("owners".into(), Value::Array(owners));
        tally(&elevator(), guard, &form)
    }

    #[test]
    fn the_tally_counts_heads_per_owner_and_area_per_unit_by_vote_against_each_threshold() {
        let def = elevator();
        let g = guard(&def);
        // 张三 holds two units; 钱七 agrees without signing; 孙八 did not vote.
        let rows = [
            ("101", "张三", "90", "agree", true),
            ("102", "张三", "60.5", "agree", true),
            ("201", "李四", "90", "agree", true),
            ("202", "王五", "80", "object", true),
            ("301", "赵六", "70", "abstain", false),
            ("302", "钱七", "90", "agree", false),
            ("401", "孙八", "90", "absent", false),
        ];
        let t = tally_of(&g, &rows).unwrap();
        assert_eq!(t.units, 7);
        assert_eq!(
            t.total,
            Share {
                heads: 6,
                area: 57050
            }
        );
        assert_eq!(
            t.vote(AGREE),
            Share {
                heads: 3,
                area: 33050
            }
        );
        assert_eq!(
            t.vote(OBJECT),
            Share {
                heads: 1,
                area: 8000
            }
        );
        assert_eq!(
            t.vote(ABSTAIN),
            Share {
                heads: 1,
                area: 7000
            }
        );
        assert_eq!(
            t.vote(ABSENT),
            Share {
                heads: 1,
                area: 9000
            }
        );
        // An unsigned agreement is a vote cast, not an agreement that counts.
        assert_eq!(
            t.agreeing,
            Share {
                heads: 2,
                area: 24050
            }
        );
        assert_eq!(
            t.participating,
            Share {
                heads: 5,
                area: 48050
            }
        );
        assert_eq!(t.base, ConsentBase::Participating);
        let seen: Vec<(&str, i64, i64, bool)> = t
            .thresholds
            .iter()
            .map(|th| (th.code, th.part, th.whole, th.met))
            .collect();
        assert_eq!(
            seen,
            [
                ("participation_area", 48050, 57050, true),
                ("participation_headcount", 5, 6, true),
                // 240.5 of 480.5 m² and 2 of 5 owners: short of 3/4.
                ("approval_area", 24050, 48050, false),
                ("approval_headcount", 2, 5, false),
            ]
        );
        assert_eq!(
            t.thresholds[0].share,
            Fraction {
                num: 2,
                den: 3,
                more_than: false
            }
        );
        assert_eq!(t.thresholds[2].measure, Measure::Area);
        assert_eq!(t.thresholds[3].measure, Measure::Heads);
        assert!(!t.carried());
        // eval says the same, by the same count.
        let mut form = Map::new();
        form.insert(
            "owners".into(),
            Value::Array(
                rows.iter()
                    .map(|(u, o, a, v, s)| json!({"unit": u, "owner": o, "area": a, "vote": v, "signed": s}))
                    .collect(),
            ),
        );
        assert_eq!(
            codes(&eval(&def, &g, &form)),
            ["approval_area", "approval_headcount"]
        );

        // Signed, 钱七 makes 3 of 5 heads (still short) and 330.5 of 480.5 m² (short too).
        let mut signed = rows;
        signed[5].4 = true;
        let t = tally_of(&g, &signed).unwrap();
        assert_eq!(
            t.agreeing,
            Share {
                heads: 3,
                area: 33050
            }
        );
        assert!(!t.carried());
    }

    #[test]
    fn the_tally_measures_approval_against_all_owners_and_objections_where_the_city_says_so() {
        let def = elevator();
        let Guard::OwnerConsent {
            table,
            columns,
            participation_area,
            participation_headcount,
            ..
        } = guard(&def)
        else {
            unreachable!()
        };
        // 长沙: 2/3 of all the area and all the owners agree; 福州: and no one objects.
        let changsha = Guard::OwnerConsent {
            table,
            columns,
            participation_area,
            participation_headcount,
            approval_area: Fraction {
                num: 2,
                den: 3,
                more_than: false,
            },
            approval_headcount: Fraction {
                num: 2,
                den: 3,
                more_than: false,
            },
            base: ConsentBase::Total,
            no_objection: true,
        };
        let rows = [
            ("101", "张三", "90", "agree", true),
            ("102", "李四", "90", "agree", true),
            ("201", "王五", "90", "agree", true),
            ("202", "赵六", "90", "object", true),
        ];
        let t = tally_of(&changsha, &rows).unwrap();
        assert_eq!(t.base, ConsentBase::Total);
        assert_eq!((t.thresholds[3].part, t.thresholds[3].whole), (3, 4));
        assert!(t.thresholds.iter().all(|th| th.met));
        assert!(!t.no_objection_met());
        assert!(!t.carried());
        let mut quiet = rows;
        quiet[3].3 = "absent";
        let t = tally_of(&changsha, &quiet).unwrap();
        assert!(t.no_objection_met() && t.carried());
    }

    #[test]
    fn a_table_that_cannot_be_counted_gives_its_problems_instead_of_a_tally() {
        let def = elevator();
        let g = guard(&def);
        let p = tally_of(
            &g,
            &[
                ("101", "张三", "90", "agree", true),
                ("102", "张三", "90", "object", true),
            ],
        )
        .unwrap_err();
        assert_eq!(codes(&p), ["owner_votes_differ"]);
        let p = tally_of(&g, &[("101", "张三", "abc", "agree", true)]).unwrap_err();
        assert_eq!(codes(&p), ["invalid_format"]);
    }

    #[test]
    fn the_guard_of_a_table_is_found_also_inside_any_of() {
        let def = elevator();
        let Some(Guard::OwnerConsent {
            table,
            approval_area,
            ..
        }) = guard_for(&def, "owners")
        else {
            panic!("no guard for owners")
        };
        assert_eq!(
            (table.as_str(), approval_area.num, approval_area.den),
            ("owners", 3, 4)
        );
        // The fund's vote sits in an any_of: more than half of the participating area.
        let Some(Guard::OwnerConsent {
            table,
            approval_area,
            ..
        }) = guard_for(&def, "fund_owners")
        else {
            panic!("no guard for fund_owners")
        };
        assert_eq!(table, "fund_owners");
        assert!(approval_area.more_than);
        assert!(guard_for(&def, "representative").is_none());
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
