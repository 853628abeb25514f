//! Property and example tests of the checker and the engine, run against the real item
//! definitions in `seeds/items`, so that what is tested is what the service loads.
//!
//! The random walks drive [`engine::decide`] the way the filings service does (apply each
//! outcome, keep reviews and objections per visit of a state) and check after every step what the
//! rest of the service relies on: the filing stays inside its definition's graph, refusals mean
//! what the web layer maps them to, and the clock ledger is well formed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value, json};

use super::check;
use super::definition::{
    ClockMode, ConsentBase, Definition, EffectKind, Fraction, Guard, Role, State, StateKind,
    SuspendReason, Text,
};
use super::engine::{
    self, Actor, ClockChange, Effect, Refusal, Request, ReviewRecord, Snapshot, Verdict,
};
use super::forms::{self, Mode};
use super::legal_time::Phase;

const ITEMS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/items");

/// Every `*.toml` in `seeds/items`: (file name, text), in name order.
fn item_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(ITEMS_DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn item_text(file: &str) -> String {
    std::fs::read_to_string(format!("{ITEMS_DIR}/{file}")).unwrap()
}

fn item(code: &str) -> Definition {
    let file = format!("{code}.toml");
    check::parse(&file, &item_text(&file)).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Fixtures: a filing whose form is valid, with every material uploaded and every promise given.
// The forms are those of tests/api/helpers.rs.

fn elevator_form(agree: usize, total: usize) -> Value {
    let owners: Vec<Value> = (0..total)
        .map(|i| {
            json!({
                "unit": format!("{}0{}", i / 2 + 1, i % 2 + 1),
                "owner": format!("业主{}", i + 1),
                "area": "89.50",
                "vote": if i < agree { "agree" } else { "object" },
                "signed": true
            })
        })
        .collect();
    json!({
        "residential_area": "幸福里小区",
        "building_address": "幸福里 3 栋 2 单元",
        "floors": 6,
        "elevator_count": 1,
        "owners": owners,
        "representative": "刘业主",
        "representative_phone": "13912345678",
        "representative_id": "11010519491231002X",
        "notice_posted_on": "2025-08-01",
        "notice_removed_on": "2025-08-25",
        "notice_places": "本单元楼道口、小区公示栏",
        "notice_outcome": "no_objection",
        "affected_neighbours": false,
        "design_unit": "示范建筑设计院",
        "estimated_cost": "580000",
        "funding": "owners_and_subsidy"
    })
}

fn construction_form() -> Value {
    json!({
        "project_name": "示范小学教学楼",
        "project_type": "new",
        "project_code": "2025-330108-47-01-123456",
        "builder_name": "示范建设集团有限公司",
        "builder_credit_code": "91350100M000100Y43",
        "contractor_name": "示范建工有限公司",
        "contractor_credit_code": "91110000600037341L",
        "site_address": "示范区文昌路 88 号",
        "investment": "12500000.00",
        "contract_price": 11800000,
        "floor_area": "8650.5",
        "planned_start": "2026-12-01",
        "planned_end": "2028-06-30",
        "project_manager": "王建国",
        "project_manager_phone": "13800138000",
        "project_manager_id": "11010519491231002X",
        "project_scale": "地上5层，建筑面积8650.5平方米",
        "contract_duration_days": 540,
        "safety_licence_no": "(闽)JZ安许证字[2024]000123",
        "survey_unit": "示范勘察院有限公司",
        "survey_unit_credit_code": "91350100M000100Y43",
        "design_unit": "示范建筑设计研究院有限公司",
        "design_unit_credit_code": "91110000600037341L",
        "drawing_review_no": "SCTS-2026-0088",
        "supervised": false
    })
}

/// Valid forms for the items we have them for, differing where the item's guards look (a
/// project below the permit threshold, a roster without enough consent). Other items are walked
/// with an empty form (their field guards then simply fail), so that a new item file needs no
/// change here.
fn valid_forms(code: &str) -> Vec<Value> {
    match code {
        "construction-permit" => {
            let mut small = construction_form();
            small["investment"] = json!("280000");
            small["contract_price"] = json!("260000");
            vec![construction_form(), small]
        }
        "elevator-installation" => {
            // The maintenance fund used, on a vote of its own.
            let mut fund = elevator_form(10, 12);
            fund["funding"] = json!("owners_and_fund");
            fund["fund_owners"] = fund["owners"].clone();
            vec![elevator_form(10, 12), elevator_form(8, 12), fund]
        }
        "fire-acceptance-filing" => vec![json!({
            "project_name": "示范商业综合体",
            "builder_name": "示范建设集团有限公司",
            "builder_credit_code": "91350100M000100Y43",
            "project_address": "示范区湖滨路 1 号",
            "completion_acceptance_date": "2026-11-18",
            "project_class": "general",
            "building_area": 23000,
            "commitment": false,
            "contact_phone": "13800138000"
        })],
        _ => Vec::new(),
    }
}

struct Fixture {
    def: Definition,
    /// Whether `form` is a known valid form (so that, over its item's forms, every state
    /// should be reachable).
    valid: bool,
    form: Map<String, Value>,
    materials: BTreeMap<String, u32>,
    promises: BTreeMap<String, NaiveDate>,
    /// Every department the walk may act for: those the item names and two it does not.
    departments: Vec<String>,
}

fn fixture(def: Definition, form: Option<Value>) -> Fixture {
    let valid = form.is_some();
    let form = form
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let materials = def.materials.iter().map(|m| (m.code.clone(), 1)).collect();
    let promise = NaiveDate::from_ymd_opt(2100, 1, 1).unwrap();
    let promises = def
        .materials
        .iter()
        .map(|m| (m.code.clone(), promise))
        .collect();
    let mut departments: BTreeSet<String> = ["window", "elsewhere"].map(String::from).into();
    departments.insert(def.department.clone());
    for s in &def.states {
        departments.extend(s.department.clone());
        if let Some(p) = &s.parallel {
            departments.extend(p.tasks.iter().map(|t| t.department.clone()));
        }
    }
    Fixture {
        def,
        valid,
        form,
        materials,
        promises,
        departments: departments.into_iter().collect(),
    }
}

fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let mut all = Vec::new();
        for (file, text) in item_files() {
            let def = check::parse(&file, &text).unwrap();
            let forms = valid_forms(&def.code);
            if forms.is_empty() {
                all.push(fixture(def.clone(), None));
            }
            for form in forms {
                all.push(fixture(def.clone(), Some(form)));
            }
        }
        all
    })
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The real files pass the checker.

#[test]
fn every_item_file_passes_the_checker_and_is_named_after_its_code() {
    let files = item_files();
    assert!(files.len() >= 3, "seeds/items holds {} files", files.len());
    for (file, text) in files {
        let def = check::parse(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format!("{}.toml", def.code), file);
    }
}

#[test]
fn the_fixture_forms_are_valid_for_their_items() {
    for fx in fixtures().iter().filter(|f| f.valid) {
        let problems = forms::validate(&fx.def, &fx.form, Mode::Complete);
        assert!(problems.is_empty(), "{}: {problems:?}", fx.def.code);
    }
}

// ---------------------------------------------------------------------------------------------
// Broken definitions are refused, naming the file and the place.

const PERMIT: &str = "construction-permit.toml";

/// `text` with `from` (which must occur exactly once) replaced by `to`.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` must occur once");
    text.replacen(from, to, 1)
}

/// The checker refuses `text`, and one line of the report names the file, the place and the
/// problem.
fn refused(text: &str, place: &str, problem: &str) -> String {
    let shown = match check::parse(PERMIT, text) {
        Ok(_) => panic!("accepted, but {place} should be refused for {problem}"),
        Err(e) => e.to_string(),
    };
    let prefix = format!("{PERMIT}: {place}: ");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(problem)),
        "no line `{prefix}…{problem}…` in:\n{shown}"
    );
    shown
}

#[test]
fn an_action_leading_to_a_missing_state_is_refused_naming_the_action_and_the_state() {
    let text = replaced(&item_text(PERMIT), r#"to = "issued""#, r#"to = "granted""#);
    refused(&text, "action `approve`", "`granted` does not exist");
}

#[test]
fn a_state_without_a_way_out_is_refused_naming_the_state() {
    let text = item_text(PERMIT);
    // The correction can neither be submitted (it now loops) nor withdrawn.
    let text = replaced(
        &text,
        "from = [\"correction\"]\nto = \"review\"",
        "from = [\"correction\"]\nto = \"correction\"",
    );
    let text = replaced(
        &text,
        r#"from = ["draft", "intake", "supplement", "review", "correction"]"#,
        r#"from = ["draft", "intake", "supplement", "review"]"#,
    );
    refused(&text, "state `correction`", "no way out");
}

#[test]
fn a_compare_guard_on_an_unknown_field_is_refused_naming_the_action_and_the_field() {
    let text = replaced(
        &item_text(PERMIT),
        r#"{ kind = "compare", field = "investment", op = ">""#,
        r#"{ kind = "compare", field = "investmnet", op = ">""#,
    );
    refused(&text, "guard of action `accept`", "`investmnet`");
}

#[test]
fn a_misspelled_field_key_is_refused_naming_the_key_and_its_line() {
    let text = item_text(PERMIT);
    let original =
        "label = { zh = \"工程名称\", en = \"Project name\" }\nrequired = true\nmax_len = 200";
    let text = replaced(&text, original, &original.replace("max_len", "max_length"));
    let line = text
        .lines()
        .position(|l| l.starts_with("max_length"))
        .unwrap()
        + 1;
    let shown = refused(&text, "syntax", "`max_length`");
    assert!(shown.contains(&format!("line {line},")), "{shown}");
}

#[test]
fn every_problem_of_a_broken_file_is_reported_at_once() {
    let text = replaced(&item_text(PERMIT), r#"to = "issued""#, r#"to = "granted""#);
    let text = replaced(
        &text,
        r#"{ kind = "compare", field = "investment", op = ">""#,
        r#"{ kind = "compare", field = "investmnet", op = ">""#,
    );
    let shown = refused(&text, "action `approve`", "`granted`");
    refused(&text, "guard of action `accept`", "`investmnet`");
    // The permit's state can no longer be reached either.
    refused(&text, "state `issued`", "cannot be reached");
    assert!(shown.lines().count() >= 3, "{shown}");
}

// ---------------------------------------------------------------------------------------------
// Random action sequences.

#[derive(Debug, Clone)]
struct Step {
    /// Pick among the actions from the current state (else among all actions).
    from_here: bool,
    /// Among those, prefer the ones that do not close the filing (so that walks get far).
    keep_open: bool,
    action: usize,
    /// Pick the role among the action's roles (else among all roles).
    listed_role: bool,
    role: usize,
    /// Act for the department that fits (the state's, or an unanswered task's; else any).
    fitting_department: bool,
    department: usize,
    /// An applicant acting is the filing's owner.
    owner: bool,
    verdict: Option<Verdict>,
    /// Reason, opinion, objection and a notice item are supplied.
    inputs: bool,
    /// Calendar days that pass before the step.
    days: u64,
}

/// Steps; `helpful` is how often each choice is the one that can succeed.
fn step(helpful: f64) -> impl Strategy<Value = Step> {
    (
        prop::bool::weighted(helpful),
        // Closing actions stay common enough that every final state is reached too.
        prop::bool::weighted(helpful.min(0.85)),
        0usize..64,
        prop::bool::weighted(helpful),
        0usize..64,
        prop::bool::weighted(helpful),
        0usize..64,
        prop::bool::weighted(helpful),
        prop_oneof![
            4 => Just(Some(Verdict::Approve)),
            1 => Just(Some(Verdict::Refuse)),
            1 => Just(None),
        ],
        prop::bool::weighted(helpful),
        prop_oneof![3 => Just(0u64), 1 => 1u64..=12],
    )
        .prop_map(
            |(
                from_here,
                keep_open,
                action,
                listed_role,
                role,
                fitting_department,
                department,
                owner,
                verdict,
                inputs,
                days,
            )| Step {
                from_here,
                keep_open,
                action,
                listed_role,
                role,
                fitting_department,
                department,
                owner,
                verdict,
                inputs,
                days,
            },
        )
}

/// The main clock, as the ledger of clock events tells it.
/// Walk one filing of `fx` through `steps`, checking every step; returns the states visited.
fn walk(fx: &Fixture, steps: &[Step]) -> Result<BTreeSet<String>, TestCaseError> {
    let def = &fx.def;
    let mut state = def.initial.clone();
    let mut reviews: Vec<ReviewRecord> = Vec::new();
    let mut objections = 0u32;
    let mut today = day(2025, 9, 26);
    let mut entered = today;
    let mut clock = Phase::NotStarted;
    let mut visited = BTreeSet::from([state.clone()]);
    let notice_items = vec!["请补充施工合同盖章页".to_owned()];

    for s in steps {
        today = today + Days::new(s.days);
        let here: &State = def.state(&state).ok_or_else(|| {
            TestCaseError::fail(format!("{}: state `{state}` is not defined", def.code))
        })?;
        let mut from_here: Vec<_> = def.actions_from(&state).collect();
        // An action that ends the walk: to a state nothing leaves (a granted permit still has
        // its life after the decision to walk).
        let closes = |a: &&super::definition::Action| {
            a.to.as_deref()
                .is_some_and(|t| def.actions_from(t).next().is_none())
        };
        if s.keep_open && from_here.iter().any(|a| !closes(a)) {
            from_here.retain(|a| !closes(a));
        }
        let action = if s.from_here && !from_here.is_empty() {
            from_here[s.action % from_here.len()]
        } else {
            &def.actions[s.action % def.actions.len()]
        };
        let role = if s.listed_role {
            action.roles[s.role % action.roles.len()]
        } else {
            Role::ALL[s.role % Role::ALL.len()]
        };
        let records_review = action.effects.contains(&EffectKind::RecordReview);
        let fitting = match &here.parallel {
            Some(p) if records_review => p
                .tasks
                .iter()
                .map(|t| t.department.as_str())
                .find(|d| !reviews.iter().any(|r| r.department == *d))
                .unwrap_or(p.tasks[s.department % p.tasks.len()].department.as_str()),
            _ => def.department_of(here),
        };
        let department = match role {
            // The service acts for no department (an action a deadline's expiry causes).
            Role::Applicant | Role::System => None,
            _ if s.fitting_department => Some(fitting),
            _ => Some(fx.departments[s.department % fx.departments.len()].as_str()),
        };
        let roles = [role];
        let actor = Actor {
            roles: &roles,
            department,
            is_owner: s.owner,
        };
        let text = |t: &'static str| s.inputs.then_some(t);
        let req = Request {
            fields: None,
            action: &action.code,
            reason: text("理由"),
            opinion: text("意见"),
            verdict: s.verdict,
            notice_items: if s.inputs { &notice_items } else { &[] },
            objection: text("业主反对"),
        };
        let snap = Snapshot {
            state: &state,
            form: &fx.form,
            materials: &fx.materials,
            promises: &fx.promises,
            reviews: &reviews,
            objections,
            entered_state_on: entered,
            clock,
            calendar: crate::domain::calendar::seed_cn(),
            deadlines: &[],
            submitted_on: None,
        };
        let result = engine::decide(def, &snap, &actor, &req, today);
        let place = format!("{}: `{}` in `{state}` by {role:?}", def.code, action.code);

        let in_from = action.from.contains(&state);
        let listed = action.roles.contains(&role);
        if !in_from {
            let Err(Refusal::NotAllowedNow {
                state: at, allowed, ..
            }) = &result
            else {
                return Err(TestCaseError::fail(format!(
                    "{place}: not from here, yet {result:?}"
                )));
            };
            prop_assert_eq!(at, &state, "{}", place);
            let offered: Vec<String> = engine::available_actions(def, &snap, &actor)
                .into_iter()
                .map(|a| a.code.clone())
                .collect();
            prop_assert_eq!(allowed, &offered, "{}", place);
            for a in allowed {
                prop_assert!(
                    def.action(a).is_some_and(|a| a.from.contains(&state)),
                    "{place}: `{a}` offered but not from here"
                );
            }
            continue;
        }
        if !listed {
            prop_assert!(
                matches!(result, Err(Refusal::Forbidden { .. })),
                "{place}: role not listed, yet {result:?}"
            );
            continue;
        }
        let outcome = match result {
            Err(Refusal::UnknownAction(a)) => {
                return Err(TestCaseError::fail(format!(
                    "{place}: unknown action `{a}`"
                )));
            }
            Err(Refusal::NotAllowedNow { .. }) => {
                return Err(TestCaseError::fail(format!(
                    "{place}: refused as not allowed though it is from here"
                )));
            }
            Err(Refusal::AlreadyAnswered { department: d }) => {
                prop_assert!(records_review, "{place}: already answered outside a review");
                prop_assert!(
                    reviews.iter().any(|r| r.department == d),
                    "{place}: `{d}` had not answered"
                );
                continue;
            }
            Err(Refusal::Unprocessable(problems)) => {
                prop_assert!(!problems.is_empty(), "{place}: refused without a problem");
                continue;
            }
            Err(Refusal::Forbidden { .. }) => continue,
            Ok(o) => o,
        };

        // Who may act: the owning applicant, or staff of the department working the state (or,
        // in a joint review, of a department with a task in it).
        match department {
            None if role == Role::System => prop_assert!(
                action.roles.contains(&Role::System),
                "{place}: the service took an action not its own"
            ),
            None => prop_assert!(s.owner, "{place}: an applicant not owning the filing acted"),
            Some(d) if records_review => prop_assert!(
                here.parallel
                    .as_ref()
                    .is_some_and(|p| p.tasks.iter().any(|t| t.department == d)),
                "{place}: `{d}` has no task here"
            ),
            Some(d) => prop_assert_eq!(d, def.department_of(here), "{}", place),
        }

        prop_assert_eq!(&outcome.action, &action.code, "{}", &place);
        prop_assert_eq!(&outcome.from, &state, "{}", &place);
        let Some(to) = def.state(&outcome.to) else {
            return Err(TestCaseError::fail(format!(
                "{place}: went to undefined state `{}`",
                outcome.to
            )));
        };
        match (&action.to, &here.parallel) {
            (Some(t), _) => prop_assert_eq!(&outcome.to, t, "{}", &place),
            (None, Some(p)) if records_review => prop_assert!(
                [&state, &p.on_approved, &p.on_refused].contains(&&outcome.to),
                "{place}: a review went to `{}`",
                outcome.to
            ),
            (None, _) => prop_assert_eq!(&outcome.to, &state, "{}", &place),
        }

        let mut clock_events = Vec::new();
        let mut opened = None;
        for e in &outcome.effects {
            match e {
                Effect::Clock(c) => clock_events.push(*c),
                Effect::OpenReviews(d) => opened = Some(d.clone()),
                Effect::AssignNumber => prop_assert!(
                    action.effects.contains(&EffectKind::AssignNumber),
                    "{place}: a number nobody asked for"
                ),
                Effect::IssueNotice(n) => {
                    prop_assert!(!n.is_empty(), "{place}: an empty notice");
                }
                Effect::RecordObjection(_) => objections += 1,
                Effect::RecordReview {
                    department: d,
                    verdict,
                } => {
                    prop_assert_eq!(Some(d.as_str()), department, "{}", &place);
                    reviews.push(ReviewRecord {
                        department: d.clone(),
                        verdict: *verdict,
                    });
                }
                // The walks send no fields.
                Effect::SetFields(f) => {
                    prop_assert!(false, "{place}: set {f:?}, though nothing was sent");
                }
                // The snapshot holds no open deadline, so nothing can be extended.
                Effect::ExtendDeadline { code, .. } => {
                    prop_assert!(false, "{place}: extended `{code}`, which is not open");
                }
            }
        }
        if outcome.changes_state() {
            prop_assert_eq!(
                &clock_events,
                &engine::clock_changes(clock, here, to),
                "{}",
                &place
            );
            let tasks = to
                .parallel
                .as_ref()
                .map(|p| p.tasks.iter().map(|t| t.department.clone()).collect());
            prop_assert_eq!(&opened, &tasks, "{}", &place);
        } else {
            prop_assert!(
                clock_events.is_empty(),
                "{place}: clock moved without a change of state"
            );
            prop_assert!(
                opened.is_none(),
                "{place}: reviews opened without a change of state"
            );
        }
        for c in &clock_events {
            let Some(next) = clock.after(*c) else {
                return Err(TestCaseError::fail(format!(
                    "{place} → `{}`: clock event {c:?} while the clock is {clock:?}",
                    outcome.to
                )));
            };
            clock = next;
        }

        // The join: a joint review is left only when every department answered (or at the first
        // refusal, if the state says so), to on_refused exactly when someone refused.
        if let (true, Some(p)) = (records_review, &here.parallel)
            && outcome.changes_state()
        {
            let refused = reviews.iter().any(|r| r.verdict == Verdict::Refuse);
            let all = p
                .tasks
                .iter()
                .all(|t| reviews.iter().any(|r| r.department == t.department));
            prop_assert!(
                all || (refused && p.refuse_immediately),
                "{place}: left the joint review early: {reviews:?}"
            );
            let expected = if refused {
                &p.on_refused
            } else {
                &p.on_approved
            };
            prop_assert_eq!(&outcome.to, expected, "{}", &place);
        }

        if outcome.changes_state() {
            state = outcome.to.clone();
            reviews.clear();
            objections = 0;
            entered = today;
            visited.insert(state.clone());
        }

        // A closed filing offers nothing to anyone, unless it was granted and has a life
        // after the decision (works started, lapsed …), which keeps it decided.
        if to.kind.is_final() && to.kind != StateKind::Approved {
            prop_assert!(
                def.actions_from(&state).next().is_none(),
                "{place}: actions leave final `{state}`"
            );
            for d in &fx.departments {
                let everyone = Actor {
                    roles: &Role::ALL,
                    department: Some(d),
                    is_owner: true,
                };
                let snap = Snapshot {
                    state: &state,
                    form: &fx.form,
                    materials: &fx.materials,
                    promises: &fx.promises,
                    reviews: &reviews,
                    objections,
                    entered_state_on: entered,
                    clock,
                    calendar: crate::domain::calendar::seed_cn(),
                    deadlines: &[],
                    submitted_on: None,
                };
                prop_assert!(
                    engine::available_actions(def, &snap, &everyone).is_empty(),
                    "{place}: final `{state}` offers actions"
                );
            }
        }
    }
    Ok(visited)
}

proptest! {
    #![proptest_config(Config { cases: 128, failure_persistence: None, ..Config::default() })]

    #[test]
    fn random_action_sequences_never_leave_the_definition_graph(
        steps in prop::collection::vec(step(0.75), 1..60)
    ) {
        for fx in fixtures() {
            walk(fx, &steps)?;
        }
    }
}

/// The walks above prove nothing if they never get far: with a deterministic seed and mostly
/// helpful choices, every state of every item with valid forms is reached.
#[test]
fn helpful_random_walks_reach_every_state_of_every_item() {
    let mut visited: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for fx in fixtures().iter().filter(|f| f.valid) {
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 100,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::deterministic_rng(RngAlgorithm::ChaCha),
        );
        let reached = RefCell::new(BTreeSet::new());
        runner
            .run(&prop::collection::vec(step(0.95), 1..80), |steps| {
                reached.borrow_mut().extend(walk(fx, &steps)?);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", fx.def.code));
        visited
            .entry(&fx.def.code)
            .or_default()
            .extend(reached.into_inner());
    }
    assert!(visited.len() >= 3, "{:?}", visited.keys());
    for fx in fixtures().iter().filter(|f| f.valid) {
        let all: BTreeSet<String> = fx.def.states.iter().map(|s| s.code.clone()).collect();
        let missed: Vec<_> = all.difference(&visited[fx.def.code.as_str()]).collect();
        assert!(
            missed.is_empty(),
            "{}: never reached {missed:?}",
            fx.def.code
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The clock, directly.

fn text(s: &str) -> Text {
    Text {
        zh: s.into(),
        en: s.into(),
    }
}

fn state_with(clock: ClockMode, reason: Option<SuspendReason>) -> State {
    State {
        code: "s".into(),
        kind: StateKind::Review,
        label: text("s"),
        clock: Some(clock),
        suspend_reason: reason,
        queue: None,
        department: None,
        applicant_edits: false,
        step_limit: None,
        parallel: None,
    }
}

#[test]
fn clock_changes_follow_every_transition_of_clock_modes() {
    use ClockChange::{Resume, Start, Stop, Suspend};
    let not_started = state_with(ClockMode::NotStarted, None);
    let run = state_with(ClockMode::Run, None);
    let notice = state_with(ClockMode::Suspend, Some(SuspendReason::PublicNotice));
    let mediation = state_with(ClockMode::Suspend, Some(SuspendReason::Mediation));
    let stopped = state_with(ClockMode::Stopped, None);
    let on_notice = Suspend {
        reason: SuspendReason::PublicNotice,
    };
    let in_mediation = Suspend {
        reason: SuspendReason::Mediation,
    };
    use Phase::{NotStarted, Running, Stopped, Suspended};
    let mut before_acceptance = state_with(ClockMode::Run, Some(SuspendReason::Supplement));
    before_acceptance.kind = StateKind::WaitingApplicant;
    before_acceptance.clock = None;
    let cases: Vec<(Phase, &State, &State, Vec<ClockChange>)> = vec![
        // Before acceptance nothing runs; §42 counts from acceptance.
        (NotStarted, &not_started, &not_started, vec![]),
        (NotStarted, &not_started, &run, vec![Start]),
        // A supplement requested before acceptance (§32) does not start the clock.
        (NotStarted, &not_started, &before_acceptance, vec![]),
        // Accepted straight into a public notice: started and suspended at once (§45).
        (NotStarted, &not_started, &notice, vec![Start, on_notice]),
        // Closed without acceptance: there is no clock to stop.
        (NotStarted, &not_started, &stopped, vec![]),
        (Running, &run, &run, vec![]),
        (Running, &run, &notice, vec![on_notice]),
        (Running, &run, &stopped, vec![Stop]),
        // A running clock is never started again, whatever the states say.
        (Running, &run, &not_started, vec![]),
        (Running, &not_started, &run, vec![]),
        (Suspended, &notice, &run, vec![Resume]),
        (Suspended, &notice, &notice, vec![]),
        // A new reason is a new suspension, told in writing on its own.
        (Suspended, &notice, &mediation, vec![Resume, in_mediation]),
        (Suspended, &notice, &stopped, vec![Stop]),
        // A stopped clock is never restarted.
        (Stopped, &stopped, &not_started, vec![]),
        (Stopped, &stopped, &run, vec![]),
        (Stopped, &stopped, &notice, vec![]),
        (Stopped, &stopped, &stopped, vec![]),
    ];
    for (phase, from, to, expected) in cases {
        assert_eq!(
            engine::clock_changes(phase, from, to),
            expected,
            "{phase:?}: {:?} → {:?}",
            from.clock_mode(),
            to.clock_mode()
        );
    }
    // The kinds' defaults: a supplement after acceptance suspends for the supplement, a
    // decision stops.
    let mut waiting = state_with(ClockMode::Run, Some(SuspendReason::Supplement));
    waiting.kind = StateKind::WaitingApplicant;
    waiting.clock = None;
    assert_eq!(
        engine::clock_changes(Running, &run, &waiting),
        vec![Suspend {
            reason: SuspendReason::Supplement
        }]
    );
    let mut approved = state_with(ClockMode::Run, None);
    approved.kind = StateKind::Approved;
    approved.clock = None;
    assert_eq!(
        engine::clock_changes(Suspended, &waiting, &approved),
        vec![Stop]
    );
}

/// Drive `def` through `actions` (each by an actor that may take it, with every input), from
/// its initial state; returns the clock events of every step.
fn clock_events_along(def: &Definition, actions: &[&str]) -> Vec<ClockChange> {
    let fx = fixture(def.clone(), valid_forms(&def.code).into_iter().next());
    let mut state = def.initial.clone();
    let mut events = Vec::new();
    let mut clock = Phase::NotStarted;
    let today = day(2025, 9, 26);
    for code in actions {
        let action = def.action(code).unwrap();
        let here = def.state(&state).unwrap();
        let roles = [action.roles[0]];
        let actor = Actor {
            roles: &roles,
            department: Some(def.department_of(here)),
            is_owner: true,
        };
        let items = vec!["补充说明".to_owned()];
        let req = Request {
            fields: None,
            action: code,
            reason: Some("理由"),
            opinion: Some("意见"),
            verdict: None,
            notice_items: &items,
            objection: None,
        };
        let snap = Snapshot {
            state: &state,
            form: &fx.form,
            materials: &fx.materials,
            promises: &fx.promises,
            reviews: &[],
            objections: 0,
            entered_state_on: today,
            clock,
            calendar: crate::domain::calendar::seed_cn(),
            deadlines: &[],
            submitted_on: None,
        };
        let o = engine::decide(def, &snap, &actor, &req, today)
            .unwrap_or_else(|r| panic!("{code} from {state}: {r:?}"));
        for e in &o.effects {
            if let Effect::Clock(c) = e {
                events.push(*c);
                clock = clock
                    .after(*c)
                    .unwrap_or_else(|| panic!("{c:?} cannot follow {clock:?}"));
            }
        }
        state = o.to;
    }
    events
}

#[test]
fn the_construction_permits_clock_runs_from_receipt_and_stops_for_each_supplement() {
    let def = item("construction-permit");
    let events = clock_events_along(
        &def,
        &[
            "submit",
            "request_supplement",
            "supplement",
            "accept",
            "request_correction",
            "submit_correction",
            "approve",
        ],
    );
    assert_eq!(
        events,
        vec![
            ClockChange::Start,
            ClockChange::Suspend {
                reason: SuspendReason::Supplement
            },
            ClockChange::Resume,
            ClockChange::Suspend {
                reason: SuspendReason::Supplement
            },
            ClockChange::Resume,
            ClockChange::Stop
        ]
    );
}

/// A supplement state before acceptance that keeps its kind's default clock (suspend, reason
/// supplement) must neither start the clock at the supplement request (§32/§42: the limit
/// counts from acceptance) nor start it twice: the engine follows the ledger's phase.
#[test]
fn a_definition_that_passes_the_checker_never_starts_the_clock_twice() {
    // The permit as an item whose clock runs from acceptance: intake and its supplement keep
    // their kinds' defaults.
    let text = replaced(
        &item_text(PERMIT),
        "clock = \"run\"\nstep_limit",
        "step_limit",
    );
    let text = replaced(
        &text,
        "clock = \"suspend\"\nsuspend_reason = \"supplement\"\napplicant_edits",
        "suspend_reason = \"supplement\"\napplicant_edits",
    );
    let Ok(def) = check::parse(PERMIT, &text) else {
        return; // refusing such a definition is one right answer
    };
    let events = clock_events_along(
        &def,
        &["submit", "request_supplement", "supplement", "accept"],
    );
    let starts = events.iter().filter(|c| **c == ClockChange::Start).count();
    assert_eq!(starts, 1, "{events:?}");
}

// ---------------------------------------------------------------------------------------------
// 民法典 §278 thresholds, exactly.

fn frac(s: &str) -> Fraction {
    Fraction::try_from(s.to_owned()).unwrap()
}

fn consent(pa: &str, ph: &str, aa: &str, ah: &str, base: ConsentBase) -> Guard {
    Guard::OwnerConsent {
        table: "owners".into(),
        columns: super::definition::ConsentColumns {
            owner: "owner".into(),
            area: "area".into(),
            vote: "vote".into(),
            signed: Some("signed".into()),
        },
        participation_area: frac(pa),
        participation_headcount: frac(ph),
        approval_area: frac(aa),
        approval_headcount: frac(ah),
        base,
        no_objection: false,
    }
}

/// The problem codes of `guard` on a roster of (area, vote, signed), each unit its own owner.
fn consent_problems(guard: &Guard, rows: &[(&str, &str, bool)]) -> Vec<String> {
    let def = item("elevator-installation");
    let owners: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, (area, vote, signed))| {
            json!({
                "unit": format!("{}", 101 + i),
                "owner": format!("业主{}", i + 1),
                "area": area,
                "vote": vote,
                "signed": signed
            })
        })
        .collect();
    let mut form = Map::new();
    form.insert("owners".into(), Value::Array(owners));
    let none = BTreeMap::new();
    let snap = Snapshot {
        state: "intake",
        form: &form,
        materials: &none,
        promises: &BTreeMap::new(),
        reviews: &[],
        objections: 0,
        entered_state_on: day(2025, 9, 26),
        clock: Phase::NotStarted,
        calendar: crate::domain::calendar::seed_cn(),
        deadlines: &[],
        submitted_on: None,
    };
    engine::eval(&def, guard, &snap, day(2025, 9, 26))
        .into_iter()
        .map(|p| {
            assert_eq!(p.path, "form.owners");
            p.code
        })
        .collect()
}

#[test]
fn owner_consent_participation_is_exact_to_the_hundredth_of_a_square_metre() {
    let g = consent("2/3", "0/1", "0/1", "0/1", ConsentBase::Participating);
    // Exactly 2/3 of 300 m² takes part: enough.
    let exact = [("200.00", "agree", true), ("100.00", "absent", true)];
    assert_eq!(consent_problems(&g, &exact), Vec::<String>::new());
    // 0.01 m² less is not.
    let short = [("199.99", "agree", true), ("100.01", "absent", true)];
    assert_eq!(consent_problems(&g, &short), ["participation_area"]);
}

#[test]
fn owner_consent_approval_is_exact_three_quarters_of_the_participating_owners() {
    let g = consent("0/1", "0/1", "3/4", "3/4", ConsentBase::Participating);
    // 225 of 300 m² and 3 of 4 owners: exactly 3/4. The absent owner is not counted.
    let exact = [
        ("75.00", "agree", true),
        ("75.00", "agree", true),
        ("75.00", "agree", true),
        ("75.00", "object", true),
        ("500.00", "absent", false),
    ];
    assert_eq!(consent_problems(&g, &exact), Vec::<String>::new());
    let short_area = [
        ("75.00", "agree", true),
        ("75.00", "agree", true),
        ("74.99", "agree", true),
        ("75.01", "object", true),
    ];
    assert_eq!(consent_problems(&g, &short_area), ["approval_area"]);
    // Abstaining owners take part without agreeing.
    let short_heads = [
        ("100.00", "agree", true),
        ("100.00", "agree", true),
        ("100.00", "agree", true),
        ("0.01", "abstain", true),
        ("0.01", "abstain", true),
    ];
    assert_eq!(consent_problems(&g, &short_heads), ["approval_headcount"]);
    // An agreement without a signature does not count.
    let unsigned = [
        ("75.00", "agree", true),
        ("75.00", "agree", true),
        ("75.00", "agree", false),
        ("75.00", "object", true),
    ];
    assert_eq!(
        consent_problems(&g, &unsigned),
        ["approval_area", "approval_headcount"]
    );
}

#[test]
fn owner_consent_measured_against_all_owners_counts_the_absent_ones() {
    let rows = [
        ("75.00", "agree", true),
        ("75.00", "agree", true),
        ("75.00", "agree", true),
        ("75.00", "object", true),
        ("75.00", "absent", true),
    ];
    let participating = consent("0/1", "0/1", "3/4", "3/4", ConsentBase::Participating);
    assert_eq!(
        consent_problems(&participating, &rows),
        Vec::<String>::new()
    );
    let total = consent("0/1", "0/1", "3/4", "3/4", ConsentBase::Total);
    assert_eq!(
        consent_problems(&total, &rows),
        ["approval_area", "approval_headcount"]
    );
}

/// 民法典 §278 ¶2: the other matters (using the maintenance fund, item (5)) need "过半数" of the
/// participating area and owners: more than half, so a tie is not carried, where "以上" (2/3,
/// 3/4) includes the share itself.
#[test]
fn owner_consent_more_than_half_is_not_carried_by_a_tie() {
    let g = consent("2/3", "2/3", ">1/2", ">1/2", ConsentBase::Participating);
    let tie = [
        ("80.00", "agree", true),
        ("80.00", "agree", true),
        ("80.00", "object", true),
        ("80.00", "object", true),
    ];
    assert_eq!(
        consent_problems(&g, &tie),
        ["approval_area", "approval_headcount"]
    );
    let one_more = [
        ("80.00", "agree", true),
        ("80.00", "agree", true),
        ("80.00", "agree", true),
        ("80.00", "object", true),
    ];
    assert_eq!(consent_problems(&g, &one_more), Vec::<String>::new());
    // Reached but not exceeded: the message says so.
    let def = item("elevator-installation");
    let mut form = Map::new();
    form.insert(
        "owners".into(),
        json!([
            { "unit": "101", "owner": "甲", "area": "80", "vote": "agree", "signed": true },
            { "unit": "102", "owner": "乙", "area": "80", "vote": "object", "signed": true },
        ]),
    );
    let p = super::consent::eval(&def, &g, &form);
    assert!(
        p[1].message.zh.contains("1 人未超过 2 人的 1/2"),
        "{}",
        p[1].message.zh
    );
    assert!(
        p[1].message.en.contains("not more than 1/2"),
        "{}",
        p[1].message.en
    );

    // Written and read back with its `>`; more than the whole is refused.
    assert_eq!(String::from(frac(">1/2")), ">1/2");
    assert!(!frac("1/2").more_than);
    assert!(Fraction::try_from(">1/1".to_owned()).is_err());
    assert!(Fraction::try_from(">3/2".to_owned()).is_err());
    // A warning share is a plain share of the limit.
    let text = replaced(
        &item_text(PERMIT),
        "warning = { days_before = 2 }",
        "warning = { share = \">4/5\" }",
    );
    refused(&text, "limits.warning", "without `>`");
}

// ---------------------------------------------------------------------------------------------
// Periods (民法典 §201: from the day after the start).

/// A period of N calendar days entered on D has run on D + N + 1, not on D + N; through an
/// action too: the construction permit's re-check after a year's stoppage.
#[test]
fn a_calendar_day_period_entered_on_d_has_run_the_day_after_its_last_day() {
    let def = item("construction-permit");
    let fx = fixture(def.clone(), Some(construction_form()));
    let stopped = day(2025, 9, 30);
    let snap = Snapshot {
        state: "works_suspended",
        form: &fx.form,
        materials: &fx.materials,
        promises: &fx.promises,
        reviews: &[],
        objections: 0,
        entered_state_on: stopped,
        clock: Phase::Stopped,
        calendar: crate::domain::calendar::seed_cn(),
        deadlines: &[],
        submitted_on: Some(day(2025, 1, 6)),
    };
    let guard = Guard::PeriodElapsed {
        days: 10,
        unit: crate::domain::definition::DayUnit::Calendar,
    };
    let codes = |today: NaiveDate| -> Vec<String> {
        engine::eval(&def, &guard, &snap, today)
            .into_iter()
            .map(|p| p.code)
            .collect()
    };
    assert_eq!(codes(stopped), ["period_running"]);
    assert_eq!(codes(day(2025, 10, 10)), ["period_running"]);
    assert_eq!(codes(day(2025, 10, 11)), Vec::<String>::new());

    // 18号令 §9: works resuming after a stoppage of a year (365 days) are re-checked first.
    let roles = [Role::Reviewer];
    let reviewer = Actor {
        roles: &roles,
        department: Some("construction"),
        is_owner: false,
    };
    let verify = Request {
        action: "verify_resumption",
        opinion: Some("核验合格"),
        ..Request::default()
    };
    match engine::decide(&def, &snap, &reviewer, &verify, day(2026, 9, 30)) {
        Err(Refusal::Unprocessable(p)) => {
            assert_eq!(p.len(), 1);
            assert_eq!(p[0].code, "period_running");
            assert!(
                p[0].message.en.contains("2026-09-30"),
                "{}",
                p[0].message.en
            );
        }
        other => panic!("re-checked on D+365: {other:?}"),
    }
    let o = engine::decide(&def, &snap, &reviewer, &verify, day(2026, 10, 1)).unwrap();
    assert_eq!(o.to, "under_construction");
}

/// The elevator item as the demo runs it, with 长沙's rules (seeds/rules/changsha.toml).
fn changsha(code: &str) -> Definition {
    let rules: toml_edit::DocumentMut = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/seeds/rules/changsha.toml"
    ))
    .unwrap()
    .parse()
    .unwrap();
    let file = format!("{code}.toml");
    check::parse_with(&file, &item_text(&file), rules["items"][code].as_table())
        .unwrap()
        .0
}

/// 长沙: the owners' notice lasts at least 15 working days, counted from the day after posting
/// on the region's calendar, before they file. Posted on 30 September 2025 (1–8 October are
/// holidays, Saturday 11 October a make-up working day), it has not run when taken down on 28
/// October, and has on the 29th: the submission is refused naming the posting date, then taken.
#[test]
fn a_fifteen_working_day_notice_posted_before_national_day_runs_until_the_28th_of_october() {
    let def = changsha("elevator-installation");
    assert_eq!(def.settings["notice_working_days"], json!(15));
    let roles = [Role::Applicant];
    let owner = Actor {
        roles: &roles,
        department: None,
        is_owner: true,
    };
    let submit = Request {
        action: "submit",
        ..Request::default()
    };
    let submitted = |removed: &str| {
        let mut form = elevator_form(10, 12);
        form["notice_posted_on"] = json!("2025-09-30");
        form["notice_removed_on"] = json!(removed);
        let fx = fixture(def.clone(), Some(form));
        let snap = Snapshot {
            state: "draft",
            form: &fx.form,
            materials: &fx.materials,
            promises: &fx.promises,
            reviews: &[],
            objections: 0,
            entered_state_on: day(2025, 9, 1),
            clock: Phase::NotStarted,
            calendar: crate::domain::calendar::seed_cn(),
            deadlines: &[],
            submitted_on: None,
        };
        engine::decide(&def, &snap, &owner, &submit, day(2025, 11, 3))
    };
    // Counted: 9, 10, 11 (the make-up Saturday), 13–17, 20–24, 27, 28 October.
    match submitted("2025-10-28") {
        Err(Refusal::Unprocessable(p)) => {
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].path, "form.notice_posted_on");
            assert_eq!(p[0].code, "period_running");
            assert!(p[0].message.zh.contains("15 个工作日"), "{p:?}");
            assert!(p[0].message.zh.contains("2025-10-28"), "{p:?}");
        }
        other => panic!("a notice of 14 working days was taken: {other:?}"),
    }
    assert_eq!(submitted("2025-10-29").unwrap().to, "intake");

    // In calendar days the same notice would have run by 16 October.
    let mut form = Map::new();
    form.insert("notice_posted_on".into(), json!("2025-09-30"));
    form.insert("notice_removed_on".into(), json!("2025-10-16"));
    let none = BTreeMap::new();
    let snap = Snapshot {
        state: "draft",
        form: &form,
        materials: &none,
        promises: &BTreeMap::new(),
        reviews: &[],
        objections: 0,
        entered_state_on: day(2025, 9, 1),
        clock: Phase::NotStarted,
        calendar: crate::domain::calendar::seed_cn(),
        deadlines: &[],
        submitted_on: None,
    };
    let in_days = |unit| Guard::FieldPeriodElapsed {
        field: "notice_posted_on".into(),
        until: Some("notice_removed_on".into()),
        days: 15,
        unit,
    };
    use crate::domain::definition::DayUnit;
    let today = day(2025, 11, 3);
    assert!(engine::eval(&def, &in_days(DayUnit::Calendar), &snap, today).is_empty());
    assert_eq!(
        engine::eval(&def, &in_days(DayUnit::Working), &snap, today).len(),
        1
    );
}

/// A deadline's life is checked: its expiry is the service's alone and leaves the state (which
/// ends the deadline, so the scan cannot take it twice), its extension stays, and a `system`
/// action nothing triggers is refused.
#[test]
fn a_deadlines_extension_and_expiry_are_checked_naming_the_deadline() {
    let text = item_text(PERMIT);
    refused(
        &replaced(&text, "ends_on_leaving = true\nextension", "extension"),
        "deadline `start_construction`",
        "needs `ends_on_leaving = true`",
    );
    refused(
        &replaced(
            &text,
            "to = \"lapsed\"\nroles = [\"system\"]",
            "to = \"lapsed\"\nroles = [\"reviewer\"]",
        ),
        "deadline `start_construction`",
        "must have `roles = [\"system\"]`",
    );
    refused(
        &replaced(&text, "on_expiry = \"lapse\"", ""),
        "action `lapse`",
        "must be a deadline's `on_expiry`",
    );
    refused(
        &replaced(
            &text,
            "from = [\"issued\"]\nroles = [\"applicant\"]\ninputs = [\"reason\"]",
            "from = [\"issued\"]\nto = \"under_construction\"\nroles = [\"applicant\"]\ninputs = [\"reason\"]",
        ),
        "deadline `start_construction`",
        "must not have `to`",
    );
    refused(
        &replaced(&text, "max = { setting = \"max_extensions\" }", "max = 0"),
        "deadline `start_construction`",
        "`extension.max` must be at least 1",
    );
}

/// A `field_in` guard names a select or boolean and values it can hold; a
/// `field_period_elapsed` one a date field.
#[test]
fn guards_reading_fields_are_checked_naming_the_place() {
    const FIRE: &str = "fire-acceptance-filing.toml";
    let text = item_text(FIRE);
    let refused_fire = |text: &str, problem: &str| {
        let shown = match check::parse(FIRE, text) {
            Ok(_) => panic!("accepted, but should be refused for {problem}"),
            Err(e) => e.to_string(),
        };
        assert!(
            shown
                .lines()
                .any(|l| l.starts_with(&format!("{FIRE}: flag `late_filing`: "))
                    && l.contains(problem)),
            "{shown}"
        );
    };
    refused_fire(
        &replaced(
            &text,
            "field = \"completion_acceptance_date\", days",
            "field = \"project_name\", days",
        ),
        "needs a date field, but `project_name` is not one",
    );
    refused_fire(
        &replaced(
            &text,
            "when = { kind = \"field_period_elapsed\", field = \"completion_acceptance_date\", days = { setting = \"file_within_working_days\" }, unit = \"working\" }",
            "when = { kind = \"field_in\", field = \"project_class\", in = [\"huge\"] }",
        ),
        "field_in: `project_class` can never be `huge`",
    );
}

/// `field_period_elapsed` with `until` counts between two dates of the form, on the region's
/// calendar: a notice posted on 30 September 2025 and taken down on 28 October has not run its
/// 15 working days; taken down on the 29th it has; without the second date it cannot be told.
#[test]
fn a_period_between_two_dates_of_the_form_counts_working_days() {
    let def = item("construction-permit");
    let guard = Guard::FieldPeriodElapsed {
        field: "planned_start".into(),
        until: Some("planned_end".into()),
        days: 15,
        unit: crate::domain::definition::DayUnit::Working,
    };
    let codes = |end: Option<&str>| {
        let mut form = Map::new();
        form.insert("planned_start".into(), json!("2025-09-30"));
        if let Some(e) = end {
            form.insert("planned_end".into(), json!(e));
        }
        let none = BTreeMap::new();
        let snap = Snapshot {
            state: "draft",
            form: &form,
            materials: &none,
            promises: &BTreeMap::new(),
            reviews: &[],
            objections: 0,
            entered_state_on: day(2025, 9, 30),
            clock: Phase::NotStarted,
            calendar: crate::domain::calendar::seed_cn(),
            deadlines: &[],
            submitted_on: None,
        };
        engine::eval(&def, &guard, &snap, day(2026, 1, 5))
            .into_iter()
            .map(|p| (p.path, p.code))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        codes(Some("2025-10-28")),
        [("form.planned_start".to_owned(), "period_running".to_owned())]
    );
    assert_eq!(codes(Some("2025-10-29")), []);
    assert_eq!(
        codes(None),
        [("form.planned_end".to_owned(), "required".to_owned())]
    );
}

/// A cap on a suspension names a reason some state suspends the clock for.
#[test]
fn a_suspension_cap_for_a_reason_no_state_has_is_refused() {
    const FILE: &str = "special-fire-design-review.toml";
    let text = replaced(
        &item_text(FILE),
        "suspension_caps = { expert_review",
        "suspension_caps = { hearing",
    );
    let shown = check::parse(FILE, &text).unwrap_err().to_string();
    assert!(
        shown.lines().any(
            |l| l.starts_with(&format!("{FILE}: limits.suspension_caps: "))
                && l.contains("caps `hearing`, but no state suspends the clock for it")
        ),
        "{shown}"
    );
}

/// An action sets only fields the item has, each once.
#[test]
fn an_action_setting_a_missing_field_is_refused_naming_it() {
    let text = replaced(
        &item_text(PERMIT),
        "sets = [\"contractor_name\"",
        "sets = [\"contractor\"",
    );
    refused(
        &text,
        "action `approve_change`",
        "`sets` names the field `contractor`, which does not exist",
    );
}

/// A guard asking for materials on file names materials the item has.
#[test]
fn a_guard_asking_for_a_missing_material_is_refused_naming_it() {
    const FIRE: &str = "fire-acceptance-filing.toml";
    let text = replaced(
        &item_text(FIRE),
        "materials = [\"recheck_application\", \"rectification_report\"]",
        "materials = [\"recheck_form\"]",
    );
    let shown = check::parse(FIRE, &text).unwrap_err().to_string();
    assert!(
        shown.lines().any(|l| l
            .starts_with(&format!("{FIRE}: guard of action `request_recheck`: "))
            && l.contains("materials_on_file names material `recheck_form`, which does not exist")),
        "{shown}"
    );
}

/// 容缺受理: a material accepted as missing on a promise blocks every grant until it is on file,
/// even where an item file forgot the `tolerable_supplied` guard on its granting action; a
/// refusal is still possible.
#[test]
fn no_action_grants_while_a_promised_material_is_not_on_file_even_without_the_items_guard() {
    let text = replaced(
        &item_text(PERMIT),
        r#"guards = [{ kind = "tolerable_supplied" }, { kind = "materials_complete" }]"#,
        "guards = []",
    );
    let def = check::parse(PERMIT, &text).unwrap();
    let mut fx = fixture(def.clone(), Some(construction_form()));
    fx.materials.remove("site_readiness");
    fx.promises.retain(|code, _| code == "site_readiness");
    let snap = Snapshot {
        state: "review",
        form: &fx.form,
        materials: &fx.materials,
        promises: &fx.promises,
        reviews: &[],
        objections: 0,
        entered_state_on: day(2026, 12, 1),
        clock: Phase::Running,
        calendar: crate::domain::calendar::seed_cn(),
        deadlines: &[],
        submitted_on: Some(day(2026, 12, 1)),
    };
    let roles = [Role::Reviewer];
    let reviewer = Actor {
        roles: &roles,
        department: Some(def.department.as_str()),
        is_owner: false,
    };
    let approve = Request {
        action: "approve",
        opinion: Some("符合条件"),
        ..Request::default()
    };
    match engine::decide(&def, &snap, &reviewer, &approve, day(2026, 12, 2)) {
        Err(Refusal::Unprocessable(p)) => {
            assert_eq!(p.len(), 1, "{p:?}");
            assert_eq!(p[0].path, "materials.site_readiness");
            assert_eq!(p[0].code, "tolerated_missing");
            assert!(p[0].message.zh.contains("施工场地已具备施工条件的证明"));
        }
        other => panic!("granted with a promise never kept: {other:?}"),
    }
    let refuse = Request {
        action: "refuse",
        reason: Some("不符合条件"),
        opinion: Some("不符合条件"),
        ..Request::default()
    };
    let o = engine::decide(&def, &snap, &reviewer, &refuse, day(2026, 12, 2)).unwrap();
    assert_eq!(o.to, "refused");
    // Supplied: the grant goes through.
    let mut supplied = fx.materials.clone();
    supplied.insert("site_readiness".into(), 1);
    let snap = Snapshot {
        materials: &supplied,
        ..snap
    };
    let o = engine::decide(&def, &snap, &reviewer, &approve, day(2026, 12, 2)).unwrap();
    assert_eq!(o.to, "issued");
}
