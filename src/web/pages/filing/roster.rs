//! A table field (an owners' roster) beyond its rows: the count of the owners' vote shown
//! under it on the filing page, with each threshold of the item's `owner_consent` guard.

use super::pick;
use crate::domain::Problem;
use crate::domain::consent::{self, ABSENT, ABSTAIN, AGREE, Measure, OBJECT, Share, Tally};
use crate::domain::definition::{ConsentBase, Definition, Field, FieldType, Fraction, Guard, Lang};
use crate::domain::forms;

// ---------------------------------------------------------------------------------------------
// Words shared by the editor and the staff view.

/// A threshold's share as people write it: ≥ 2/3 (以上, reached) or > 1/2 (过半数, exceeded).
fn share_text(f: Fraction) -> String {
    format!(
        "{} {}/{}",
        if f.more_than { ">" } else { "≥" },
        f.num,
        f.den
    )
}

/// What a threshold measures, against what: "参与表决的专有部分面积 / 总面积".
fn threshold_label(code: &str, base: ConsentBase, lang: Lang) -> String {
    let of_base = |zh_p: &str, en_p: &str, zh_t: &str, en_t: &str| match base {
        ConsentBase::Participating => pick(lang, zh_p, en_p),
        ConsentBase::Total => pick(lang, zh_t, en_t),
    };
    match code {
        "participation_area" => pick(
            lang,
            "参与表决的专有部分面积占总面积",
            "Area of the owners taking part, of all the area",
        ),
        "participation_headcount" => pick(
            lang,
            "参与表决的业主人数占业主总人数",
            "Owners taking part, of all the owners",
        ),
        "approval_area" => of_base(
            "同意（已签字）的专有部分面积占参与表决的面积",
            "Area of the owners agreeing (signed), of the area taking part",
            "同意（已签字）的专有部分面积占总面积",
            "Area of the owners agreeing (signed), of all the area",
        ),
        _ => of_base(
            "同意（已签字）的业主人数占参与表决的人数",
            "Owners agreeing (signed), of the owners taking part",
            "同意（已签字）的业主人数占业主总人数",
            "Owners agreeing (signed), of all the owners",
        ),
    }
}

fn no_objection_label(lang: Lang) -> String {
    pick(
        lang,
        "无业主反对（本地规定）",
        "No owner objects (local rules)",
    )
}

fn conclusion_text(carried: bool, lang: Lang) -> String {
    if carried {
        pick(
            lang,
            "表决通过：达到本事项规定的业主共同决定要求（民法典第二百七十八条）",
            "Carried: the owners' joint decision meets this item's rules (Civil Code, art. 278)",
        )
    } else {
        pick(
            lang,
            "表决未通过：未达到本事项规定的业主共同决定要求（民法典第二百七十八条）",
            "Not carried: the owners' joint decision falls short of this item's rules (Civil Code, art. 278)",
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The count shown on the filing page.

/// The count of an owners' vote under its table on the filing page.
pub struct CountView {
    /// (what, owners, area in m²)
    pub lines: Vec<(String, String, String)>,
    /// (requirement, actual, met)
    pub thresholds: Vec<(String, String, bool)>,
    pub carried: bool,
    pub conclusion: String,
    /// Why the table cannot be counted (then there are no lines).
    pub problems: Vec<String>,
}

/// The count of a table whose vote a guard of the item counts, as staff check it.
pub(super) fn count_view(
    def: &Definition,
    table: &Field,
    tally: &Result<Tally, Vec<Problem>>,
    lang: Lang,
) -> CountView {
    let t = match tally {
        Ok(t) => t,
        Err(problems) => {
            return CountView {
                lines: Vec::new(),
                thresholds: Vec::new(),
                carried: false,
                conclusion: pick(
                    lang,
                    "名册有误，无法计票：",
                    "The roster cannot be counted:",
                ),
                problems: problems
                    .iter()
                    .map(|p| p.message.get(lang).to_owned())
                    .collect(),
            };
        }
    };
    let m2 = forms::show_hundredths;
    let vote_label = |vote: &str| -> String {
        let Some(Guard::OwnerConsent { columns, .. }) = consent::guard_for(def, &table.code) else {
            return vote.to_owned();
        };
        let FieldType::Table { columns: cols, .. } = &table.ty else {
            return vote.to_owned();
        };
        cols.iter()
            .find(|c| c.code == columns.vote)
            .and_then(|c| match &c.ty {
                FieldType::Select { options } => options.iter().find(|o| o.value == vote),
                _ => None,
            })
            .map_or_else(|| vote.to_owned(), |o| o.label.get(lang).to_owned())
    };
    let line = |what: String, s: Share| (what, s.heads.to_string(), m2(s.area));
    let mut lines = vec![
        (
            pick(lang, "专有部分（户）", "Units"),
            t.units.to_string(),
            String::new(),
        ),
        line(
            pick(
                lang,
                "业主（一人多套按一人计）",
                "Owners (one owner of several units counts once)",
            ),
            t.total,
        ),
    ];
    for vote in [AGREE, OBJECT, ABSTAIN, ABSENT] {
        lines.push(line(vote_label(vote), t.vote(vote)));
        if vote == AGREE && t.agreeing != t.vote(AGREE) {
            let unsigned = Share {
                heads: t.vote(AGREE).heads - t.agreeing.heads,
                area: t.vote(AGREE).area - t.agreeing.area,
            };
            lines.push(line(
                pick(lang, "其中同意但未签字", "of whom agreeing but not signed"),
                unsigned,
            ));
        }
    }
    let mut thresholds: Vec<(String, String, bool)> = t
        .thresholds
        .iter()
        .map(|th| {
            let (part, whole, unit) = match th.measure {
                Measure::Area => (m2(th.part), m2(th.whole), pick(lang, " ㎡", " m²")),
                Measure::Heads => (
                    th.part.to_string(),
                    th.whole.to_string(),
                    pick(lang, " 人", ""),
                ),
            };
            (
                format!(
                    "{} {}",
                    threshold_label(th.code, t.base, lang),
                    share_text(th.share)
                ),
                match lang {
                    Lang::Zh => format!("{part} / {whole}{unit}（{}）", percent(th.part, th.whole)),
                    Lang::En => format!("{part} / {whole}{unit} ({})", percent(th.part, th.whole)),
                },
                th.met,
            )
        })
        .collect();
    if t.no_objection {
        let objecting = t.vote(OBJECT).heads;
        thresholds.push((
            no_objection_label(lang),
            pick(
                lang,
                &format!("反对 {objecting} 人"),
                &format!("{objecting} object"),
            ),
            t.no_objection_met(),
        ));
    }
    CountView {
        lines,
        thresholds,
        carried: t.carried(),
        conclusion: conclusion_text(t.carried(), lang),
        problems: Vec::new(),
    }
}

/// A share as a percentage with one decimal, for reading (the verdict is exact).
fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "—".into();
    }
    let tenths = (i128::from(part) * 1000 + i128::from(whole) / 2) / i128::from(whole);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_rounded_to_a_tenth() {
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(48050, 57050), "84.2%");
        assert_eq!(percent(0, 0), "—");
        assert_eq!(percent(1, 1), "100.0%");
    }
}
