//! The fair draw of the fire filing's spot check (双随机、一公开: random objects, random
//! inspectors, results public; 51号令 原第三十六条), as a pure function of recorded inputs.
//!
//! Policy (RFC 3797 in spirit): the inputs (the pool, the ratios as exact fractions, the
//! inspectors' roster and each filing's conflicts) are committed before the seed exists; the
//! seed is a value nobody in the office chooses (the services take the hash of the first audit
//! seal made after the commitment). Everything here is then arithmetic anyone can redo:
//! - a filing is selected when `h·den < num·2^256`, with `h = SHA-256(seed ‖ number)` read as a
//!   256-bit big-endian integer: exactly the probability `num/den`, compared as integers, never
//!   as floats (`printf '%s%s' SEED NUMBER | sha256sum`);
//! - its inspectors are the eligible members of the roster with the lowest
//!   `SHA-256(seed ‖ number ‖ "inspector" ‖ user id)`, the first of them leading. The filing's
//!   number is in the hash so that the filings of one batch do not all get the same pair.
//!
//! A ratio is drawn per filing, not as a quota of the batch, so a window draw of one filing and
//! a daily batch follow the same rule.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A share as an exact fraction `num/den` (0 ≤ num ≤ den, den > 0): "1/10", "1/2", "1/1".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub num: u64,
    pub den: u64,
}

impl Ratio {
    pub fn parse(s: &str) -> Result<Ratio, String> {
        let bad =
            || format!("`{s}` is not a share like \"1/10\" (num/den, 0 ≤ num ≤ den, den > 0)");
        let (n, d) = s.trim().split_once('/').ok_or_else(bad)?;
        let num: u64 = n.trim().parse().map_err(|_| bad())?;
        let den: u64 = d.trim().parse().map_err(|_| bad())?;
        if den == 0 || num > den {
            return Err(bad());
        }
        Ok(Ratio { num, den })
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

impl Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ratio, D::Error> {
        let s = String::deserialize(d)?;
        Ratio::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// When a filing is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Right after the filing receipt, as 深圳 draws at the window (the default).
    AtReceipt,
    /// The filings received that day, together, by the `draw` job.
    Daily,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::AtReceipt => "at_receipt",
            Mode::Daily => "daily",
        }
    }
}

/// The draw's rules as an item's settings give them (the region's rule set applied):
/// `spot_check_ratios` (class → share), `spot_check_ratio_late` (the share of filings flagged
/// late), `spot_check_inspectors` (how many are drawn, at least 2), `spot_check_draw`
/// (`at_receipt` or `daily`) and `spot_check_rule_version` (the rule's name as published).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub ratios: BTreeMap<String, Ratio>,
    pub late: Ratio,
    pub inspectors: usize,
    pub mode: Mode,
    pub rule_version: String,
}

/// The setting an item declares to take part in draws.
pub const RATIOS: &str = "spot_check_ratios";
/// The actions a draw takes: for a selected filing, and for one not selected.
pub const ACTIONS: [&str; 2] = ["select_for_check", "mark_not_selected"];
/// The flag that raises a filing's share to `spot_check_ratio_late`.
pub const LATE_FLAG: &str = "late_filing";

impl Rules {
    /// The rules in an item's settings: `None` when the item has no draw (no
    /// `spot_check_ratios`), and every problem at once when it has a bad one.
    pub fn from_settings(settings: &BTreeMap<String, Value>) -> Result<Option<Rules>, Vec<String>> {
        let Some(ratios) = settings.get(RATIOS) else {
            return Ok(None);
        };
        let mut problems = Vec::new();
        let mut parsed = BTreeMap::new();
        match ratios.as_object() {
            Some(m) if !m.is_empty() => {
                for (class, v) in m {
                    match v.as_str().map(Ratio::parse) {
                        Some(Ok(r)) => {
                            parsed.insert(class.clone(), r);
                        }
                        Some(Err(e)) => problems.push(format!("settings.{RATIOS}.{class}: {e}")),
                        None => problems
                            .push(format!("settings.{RATIOS}.{class}: write the share as \"1/10\"")),
                    }
                }
            }
            _ => problems.push(format!(
                "settings.{RATIOS}: a table of shares by project class, e.g. {{ general = \"1/10\" }}"
            )),
        }
        let late = match settings
            .get("spot_check_ratio_late")
            .and_then(Value::as_str)
        {
            Some(s) => Ratio::parse(s).unwrap_or_else(|e| {
                problems.push(format!("settings.spot_check_ratio_late: {e}"));
                Ratio { num: 1, den: 1 }
            }),
            None => {
                problems.push("settings.spot_check_ratio_late is missing".into());
                Ratio { num: 1, den: 1 }
            }
        };
        let inspectors = match settings
            .get("spot_check_inspectors")
            .and_then(Value::as_u64)
        {
            Some(n) if n >= 2 => usize::try_from(n).unwrap_or(2),
            _ => {
                problems.push(
                    "settings.spot_check_inspectors: at least 2 inspectors are drawn (国办发〔2015〕58号)"
                        .into(),
                );
                2
            }
        };
        let mode = match settings.get("spot_check_draw").and_then(Value::as_str) {
            None | Some("at_receipt") => Mode::AtReceipt,
            Some("daily") => Mode::Daily,
            Some(other) => {
                problems.push(format!(
                    "settings.spot_check_draw: `{other}` is neither \"at_receipt\" nor \"daily\""
                ));
                Mode::AtReceipt
            }
        };
        let rule_version = match settings
            .get("spot_check_rule_version")
            .and_then(Value::as_str)
        {
            Some(v) if !v.trim().is_empty() => v.to_owned(),
            _ => {
                problems.push("settings.spot_check_rule_version: name the rule in force".into());
                String::new()
            }
        };
        if problems.is_empty() {
            Ok(Some(Rules {
                ratios: parsed,
                late,
                inspectors,
                mode,
                rule_version,
            }))
        } else {
            Err(problems)
        }
    }
}

/// A filing in a draw's pool, as committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Candidate {
    /// The public filing number.
    pub number: String,
    pub class: String,
    pub late: bool,
    /// Inspectors who may not inspect this filing (回避): staff who acted on it, declared
    /// conflicts with its builder. User ids, sorted.
    pub excluded: Vec<String>,
}

/// Everything a draw is computed from, fixed before its seed exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inputs {
    /// Share by project class, as exact fractions.
    #[schema(value_type = BTreeMap<String, String>)]
    pub ratios: BTreeMap<String, Ratio>,
    /// The share of filings flagged late (吉林: 100 %).
    #[schema(value_type = String)]
    pub late_ratio: Ratio,
    /// Inspectors drawn per selected filing.
    pub inspectors: usize,
    /// Sorted by number.
    pub pool: Vec<Candidate>,
    /// The inspectors' roster (执法检查人员名录库) at the commitment: user ids, sorted.
    pub roster: Vec<String>,
}

/// One filing's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Drawn {
    pub number: String,
    pub selected: bool,
    /// The drawn inspectors, lead first (empty when not selected).
    pub inspectors: Vec<String>,
}

impl Inputs {
    /// The pool sorted by number, each exclusion list and the roster sorted: the committed
    /// form, so that the same filings always make the same commitment.
    pub fn normalised(mut self) -> Inputs {
        self.pool.sort_by(|a, b| a.number.cmp(&b.number));
        for c in &mut self.pool {
            c.excluded.sort();
            c.excluded.dedup();
        }
        self.roster.sort();
        self.roster.dedup();
        self
    }

    /// The share a candidate is drawn at.
    pub fn ratio_of(&self, c: &Candidate) -> Result<Ratio, String> {
        if c.late {
            return Ok(self.late_ratio);
        }
        self.ratios
            .get(&c.class)
            .copied()
            .ok_or_else(|| format!("{}: no share for the class `{}`", c.number, c.class))
    }
}

/// SHA-256 over the parts, concatenated.
fn sha256(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// `h·den < num·2^256`, exactly: with `h·den` as a 320-bit number, `num·2^256` has nothing below
/// bit 256, so the comparison is that of `⌊h·den / 2^256⌋` (the product's top 64 bits) with
/// `num`.
pub fn below(h: &[u8; 32], r: Ratio) -> bool {
    // h as four 64-bit limbs, least significant first.
    let mut limbs = [0u64; 4];
    for (i, chunk) in h.chunks_exact(8).enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        limbs[3 - i] = u64::from_be_bytes(b);
    }
    let mut carry: u128 = 0;
    for limb in limbs {
        let p = u128::from(limb) * u128::from(r.den) + carry;
        carry = p >> 64;
    }
    // `carry` is now the top limb: < den ≤ u64::MAX.
    carry < u128::from(r.num)
}

/// Is the filing `number` selected at `ratio` with `seed`?
pub fn selects(seed: &str, number: &str, ratio: Ratio) -> bool {
    below(&sha256(&[seed, number]), ratio)
}

/// The inspectors for a selected filing: the eligible (roster minus `excluded`) with the lowest
/// hashes, at most `n`, lead first.
pub fn inspectors_for(
    seed: &str,
    number: &str,
    roster: &[String],
    excluded: &[String],
    n: usize,
) -> Vec<String> {
    let mut ranked: Vec<([u8; 32], &String)> = roster
        .iter()
        .filter(|u| !excluded.contains(u))
        .map(|u| (sha256(&[seed, number, "inspector", u]), u))
        .collect();
    ranked.sort();
    ranked.into_iter().take(n).map(|(_, u)| u.clone()).collect()
}

/// The draw: every filing of the pool, in the pool's order.
pub fn draw(inputs: &Inputs, seed: &str) -> Result<Vec<Drawn>, String> {
    inputs
        .pool
        .iter()
        .map(|c| {
            let selected = selects(seed, &c.number, inputs.ratio_of(c)?);
            let inspectors = if selected {
                inspectors_for(
                    seed,
                    &c.number,
                    &inputs.roster,
                    &c.excluded,
                    inputs.inspectors,
                )
            } else {
                Vec::new()
            };
            Ok(Drawn {
                number: c.number.clone(),
                selected,
                inspectors,
            })
        })
        .collect()
}

/// Where a recorded result differs from the one recomputed: one line per filing.
pub fn differences(recorded: &[Drawn], recomputed: &[Drawn]) -> Vec<String> {
    let mut out = Vec::new();
    let by_number = |list: &[Drawn]| -> BTreeMap<String, Drawn> {
        list.iter().map(|d| (d.number.clone(), d.clone())).collect()
    };
    let (a, b) = (by_number(recorded), by_number(recomputed));
    for (number, want) in &b {
        match a.get(number) {
            None => out.push(format!("{number}: missing from the recorded result")),
            Some(got) if got.selected != want.selected => out.push(format!(
                "{number}: recorded {}, recomputed {}",
                if got.selected {
                    "selected"
                } else {
                    "not selected"
                },
                if want.selected {
                    "selected"
                } else {
                    "not selected"
                }
            )),
            Some(got) if got.inspectors != want.inspectors => out.push(format!(
                "{number}: recorded inspectors {:?}, recomputed {:?}",
                got.inspectors, want.inspectors
            )),
            Some(_) => {}
        }
    }
    for number in a.keys().filter(|n| !b.contains_key(*n)) {
        out.push(format!("{number}: recorded but not in the pool"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEED: &str = "5f1c0a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7";

    fn r(s: &str) -> Ratio {
        Ratio::parse(s).unwrap()
    }

    fn inputs(pool: Vec<Candidate>) -> Inputs {
        Inputs {
            ratios: [("general".into(), r("1/10")), ("key".into(), r("1/2"))].into(),
            late_ratio: r("1/1"),
            inspectors: 2,
            pool,
            roster: ["u1", "u2", "u3", "u4"].map(String::from).to_vec(),
        }
        .normalised()
    }

    fn candidate(i: usize, class: &str, late: bool) -> Candidate {
        Candidate {
            number: format!("XFBA-2026-{i:06}"),
            class: class.into(),
            late,
            excluded: Vec::new(),
        }
    }

    #[test]
    fn shares_are_exact_fractions_and_nothing_else() {
        assert_eq!(r(" 1 / 10 "), Ratio { num: 1, den: 10 });
        assert_eq!(r("0/1").to_string(), "0/1");
        for bad in ["", "1", "1/0", "2/1", "0.1", "-1/2", "1/2/3", "a/b"] {
            assert!(Ratio::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_comparison_is_exact_at_the_edges() {
        let max = [0xffu8; 32];
        let zero = [0u8; 32];
        let mut half = [0u8; 32];
        half[0] = 0x80; // exactly 2^255: h/2^256 = 1/2
        assert!(below(&max, r("1/1")), "every hash is below 1");
        assert!(!below(&zero, r("0/1")), "nothing is below 0");
        assert!(below(&zero, r("1/1000000")));
        assert!(!below(&half, r("1/2")), "1/2 is not below 1/2");
        let mut just_under = [0xffu8; 32];
        just_under[0] = 0x7f; // 2^255 - 1
        assert!(below(&just_under, r("1/2")));
        // Large denominators do not overflow: (2^64-2)/(2^64-1) of the maximum is below it.
        let big = Ratio {
            num: u64::MAX - 1,
            den: u64::MAX,
        };
        assert!(!below(&max, big));
        assert!(below(&zero, big));
    }

    #[test]
    fn the_same_inputs_always_give_the_same_selection_and_another_seed_another() {
        let pool: Vec<_> = (1..=200)
            .map(|i| candidate(i, if i % 3 == 0 { "key" } else { "general" }, false))
            .collect();
        let i = inputs(pool);
        let a = draw(&i, SEED).unwrap();
        let b = draw(&i.clone().normalised(), SEED).unwrap();
        assert_eq!(a, b);
        assert!(differences(&a, &b).is_empty());
        let other = draw(&i, &SEED.replace('5', "6")).unwrap();
        assert_ne!(a, other);
        assert!(!differences(&a, &other).is_empty());
    }

    #[test]
    fn a_late_filing_is_always_drawn() {
        let pool: Vec<_> = (1..=500).map(|i| candidate(i, "general", true)).collect();
        let drawn = draw(&inputs(pool), SEED).unwrap();
        assert!(drawn.iter().all(|d| d.selected));
        assert!(drawn.iter().all(|d| d.inspectors.len() == 2));
    }

    #[test]
    fn inspectors_are_distinct_lowest_hashes_without_the_conflicted() {
        let roster: Vec<String> = ["u1", "u2", "u3", "u4"].map(String::from).to_vec();
        let all = inspectors_for(SEED, "XFBA-2026-000001", &roster, &[], 4);
        assert_eq!(all.len(), 4);
        let two = inspectors_for(SEED, "XFBA-2026-000001", &roster, &[], 2);
        assert_eq!(two, all[..2]);
        let without_lead = inspectors_for(SEED, "XFBA-2026-000001", &roster, &[all[0].clone()], 2);
        assert_eq!(without_lead, all[1..3]);
        // Fewer eligible than asked: all of them.
        assert_eq!(inspectors_for(SEED, "n", &roster[..1], &[], 2).len(), 1);
    }

    #[test]
    fn an_unknown_class_is_an_error_naming_the_filing() {
        let err = draw(&inputs(vec![candidate(1, "crowded", false)]), SEED).unwrap_err();
        assert!(
            err.contains("XFBA-2026-000001") && err.contains("crowded"),
            "{err}"
        );
    }

    #[test]
    fn the_rules_are_read_from_settings_with_every_problem_named() {
        let settings: BTreeMap<String, Value> = serde_json::from_value(serde_json::json!({
            "spot_check_ratios": { "general": "1/10", "key": "1/2" },
            "spot_check_ratio_late": "1/1",
            "spot_check_inspectors": 2,
            "spot_check_rule_version": "test-1",
        }))
        .unwrap();
        let rules = Rules::from_settings(&settings).unwrap().unwrap();
        assert_eq!(rules.mode, Mode::AtReceipt);
        assert_eq!(rules.ratios["key"], r("1/2"));
        assert_eq!(Rules::from_settings(&BTreeMap::new()), Ok(None));
        let bad: BTreeMap<String, Value> = serde_json::from_value(serde_json::json!({
            "spot_check_ratios": { "general": "10%" },
            "spot_check_inspectors": 1,
            "spot_check_draw": "weekly",
        }))
        .unwrap();
        let problems = Rules::from_settings(&bad).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    /// Over 10,000 simulated filings the share drawn per class is within a few points of its
    /// ratio (the standard deviation of a share of n at p is √(p(1-p)/n): 0.4 points for 1/10
    /// of 5,000, 0.7 for 1/2; four points is far outside either).
    #[test]
    fn over_ten_thousand_filings_each_class_is_drawn_at_its_ratio() {
        let pool: Vec<_> = (1..=10_000)
            .map(|i| candidate(i, if i % 2 == 0 { "key" } else { "general" }, false))
            .collect();
        let i = inputs(pool);
        for seed in [SEED, "00", "a seed"] {
            let drawn = draw(&i, seed).unwrap();
            for (class, want) in [("general", 0.10), ("key", 0.50)] {
                let of_class: Vec<_> = i
                    .pool
                    .iter()
                    .zip(&drawn)
                    .filter(|(c, _)| c.class == class)
                    .collect();
                let share = of_class.iter().filter(|(_, d)| d.selected).count() as f64
                    / of_class.len() as f64;
                assert!((share - want).abs() < 0.03, "{class}: {share} for {want}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        /// The exact comparison agrees with the big-number definition, spelt out with u128
        /// halves: h·den < num·2^256.
        #[test]
        fn the_comparison_is_the_definition(h in proptest::array::uniform32(any::<u8>()), den in 1u64.., num_frac in 0.0f64..=1.0) {
            let num = ((den as f64) * num_frac) as u64;
            let num = num.min(den);
            let ratio = Ratio { num, den };
            // ⌊h·den / 2^256⌋ via the top 128 bits of h: ⌊(hi·2^128 + lo)·den / 2^256⌋, computed
            // as ⌊(hi·den + ⌊lo·den / 2^128⌋) / 2^128⌋.
            let hi = u128::from_be_bytes(h[..16].try_into().unwrap());
            let lo = u128::from_be_bytes(h[16..].try_into().unwrap());
            let mul = |a: u128, b: u64| -> (u128, u128) {
                // a·b as (high, low) 128-bit halves.
                let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
                let p0 = a0 * u128::from(b);
                let p1 = a1 * u128::from(b) + (p0 >> 64);
                (p1 >> 64, (p1 << 64) | (p0 & u128::from(u64::MAX)))
            };
            let (lo_hi, _) = mul(lo, den);
            let (hi_hi, hi_lo) = mul(hi, den);
            let carry = u128::from(hi_lo.checked_add(lo_hi).is_none());
            let top = hi_hi + carry;
            prop_assert_eq!(below(&h, ratio), top < u128::from(num));
        }

        /// Whatever the pool, the draw is a function of its inputs, a late filing is selected,
        /// and the inspectors of a selected filing are distinct, eligible and as many as asked
        /// (or all the eligible).
        #[test]
        fn any_pool_draws_consistently(classes in proptest::collection::vec((0u8..2, any::<bool>()), 1..40), seed in "[0-9a-f]{64}") {
            let pool: Vec<_> = classes
                .iter()
                .enumerate()
                .map(|(i, (c, late))| {
                    let mut k = candidate(i, if *c == 0 { "general" } else { "key" }, *late);
                    if i % 5 == 0 {
                        k.excluded = vec!["u1".into()];
                    }
                    k
                })
                .collect();
            let i = inputs(pool);
            let a = draw(&i, &seed).unwrap();
            prop_assert_eq!(&a, &draw(&i, &seed).unwrap());
            for (c, d) in i.pool.iter().zip(&a) {
                if c.late {
                    prop_assert!(d.selected);
                }
                if d.selected {
                    let mut seen = d.inspectors.clone();
                    seen.dedup();
                    prop_assert_eq!(seen.len(), d.inspectors.len());
                    prop_assert!(d.inspectors.iter().all(|u| !c.excluded.contains(u)));
                    prop_assert_eq!(d.inspectors.len(), 2);
                } else {
                    prop_assert!(d.inspectors.is_empty());
                }
            }
        }
    }
}
