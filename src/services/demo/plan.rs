//! The demo year as a plan: who files what and when, and what each member of staff does with
//! it, as journeys of steps on working days. Everything here comes from a seeded RNG, so the
//! same window of working days gives the same plan; only the fire filings' draw (the service's
//! own, whose seed nobody chooses) decides how many general filings are needed and which go on
//! to inspection (see `run`).
//!
//! Positions are fractions of the window, so the figures hold for any window of a few months
//! or more; work in flight is placed a few working days before today, where it shows each
//! clock colour.

use chrono::{Datelike, Days, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::people::{COMPANIES, Company, RESIDENTS};
use crate::domain::engine::Verdict;
use crate::services::filings::ActInput;

/// The plan's fixed seed: names, projects, amounts and timings.
pub const SEED: u64 = 0x5045_524d_4954_5317;

/// The fire filings' figures (LAW.md §8): received 32, of which 7 drawn (抽中), 19 not drawn
/// (未抽中) and 6 still open.
pub const FIRE_SELECTED: usize = 7;
pub const FIRE_NOT_SELECTED: usize = 19;

pub const CONSTRUCTION: &str = "construction-permit";
pub const ELEVATOR: &str = "elevator-installation";
pub const FIRE: &str = "fire-acceptance-filing";
pub const DESIGN: &str = "special-fire-design-review";
pub const ACCEPTANCE: &str = "special-fire-acceptance";

const CONSTRUCTION_MATERIALS: &[&str] = &[
    "application_form",
    "land_use_approval",
    "planning_permit",
    "site_readiness",
    "construction_contract",
    "drawing_review",
    "quality_safety",
    "funds_commitment",
    "supervision_contract",
];
const ELEVATOR_MATERIALS: &[&str] = &[
    "application",
    "ownership_proof",
    "representative_authorisation",
    "owners_consent",
    "cost_sharing",
    "notice_result",
    "design_plan",
    "drawing_review",
    "structural_assessment",
    "installer_qualification",
];
const FIRE_MATERIALS: &[&str] = &["filing_form", "completion_report", "as_built_drawings"];
pub const RECHECK_MATERIALS: &[&str] = &["recheck_application", "rectification_report"];
const DESIGN_MATERIALS: &[&str] = &[
    "application_form",
    "fire_design_documents",
    "planning_permit",
];
const SPECIAL_DESIGN_MATERIALS: &[&str] = &["special_design_file", "application_cases"];
const ACCEPTANCE_MATERIALS: &[&str] =
    &["application_form", "completion_report", "as_built_drawings"];

/// Who takes a step.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// A member of staff, by username.
    Staff(&'static str),
    /// The journey's applicant.
    Applicant,
    /// The lead inspector the draw gave the filing.
    Lead,
}

#[derive(Debug, Clone)]
pub enum Step {
    /// Create the draft with the journey's form, upload these materials, submit.
    File(Vec<&'static str>),
    /// The applicant uploads these materials.
    Upload(Vec<&'static str>),
    Act {
        who: Who,
        action: &'static str,
        input: ActInput,
    },
}

#[derive(Debug, Clone)]
pub struct Planned {
    /// Index into the window's working days.
    pub day: usize,
    /// Minutes after 09:00 local time.
    pub minute: u32,
    pub step: Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Plain,
    /// A general fire filing of the stream that runs until 19 are not drawn.
    FireGeneral,
    /// A late fire filing (drawn with certainty) topping the drawn up to 7.
    FireLate,
}

#[derive(Debug, Clone)]
pub struct Journey {
    pub item: &'static str,
    pub applicant: &'static str,
    pub form: Value,
    pub kind: Kind,
    pub steps: Vec<Planned>,
}

/// Steps one after another: `then(n, …)` is n working days after the step before (0: later
/// the same day).
pub struct Script<'r> {
    rng: &'r mut StdRng,
    day: usize,
    minute: u32,
    /// The next step is the first of a new journey: it keeps the start's time.
    fresh: bool,
    steps: Vec<Planned>,
}

impl<'r> Script<'r> {
    pub fn at(rng: &'r mut StdRng, day: usize) -> Script<'r> {
        let minute = rng.random_range(0..360);
        Script {
            rng,
            day,
            minute,
            fresh: true,
            steps: Vec::new(),
        }
    }

    /// Continue after a step taken at `day` and `minute`.
    pub fn after(rng: &'r mut StdRng, day: usize, minute: u32) -> Script<'r> {
        Script {
            rng,
            day,
            minute,
            fresh: false,
            steps: Vec::new(),
        }
    }

    pub fn then(mut self, days: usize, step: Step) -> Self {
        if self.fresh && days == 0 {
            self.fresh = false;
        } else if days == 0 {
            self.minute = (self.minute + self.rng.random_range(10..50)).min(530);
        } else {
            self.day += days;
            self.minute = self.rng.random_range(0..420);
        }
        self.steps.push(Planned {
            day: self.day,
            minute: self.minute,
            step,
        });
        self
    }

    pub fn days(&mut self, lo: usize, hi: usize) -> usize {
        self.rng.random_range(lo..=hi)
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        *from.choose(self.rng).unwrap_or(&from[0])
    }

    pub fn steps(self) -> Vec<Planned> {
        self.steps
    }
}

pub fn act(who: Who, action: &'static str) -> Step {
    Step::Act {
        who,
        action,
        input: ActInput::default(),
    }
}

pub fn opinion(who: Who, action: &'static str, opinion: &str) -> Step {
    Step::Act {
        who,
        action,
        input: ActInput {
            opinion: Some(opinion.to_owned()),
            ..ActInput::default()
        },
    }
}

pub fn reason(who: Who, action: &'static str, reason: &str, opinion: Option<&str>) -> Step {
    Step::Act {
        who,
        action,
        input: ActInput {
            reason: Some(reason.to_owned()),
            opinion: opinion.map(str::to_owned),
            ..ActInput::default()
        },
    }
}

pub fn notice(who: Who, action: &'static str, items: &[&str]) -> Step {
    Step::Act {
        who,
        action,
        input: ActInput {
            notice_items: items.iter().map(|s| (*s).to_owned()).collect(),
            ..ActInput::default()
        },
    }
}

fn review(who: &'static str, verdict: Verdict, opinion: &str, reason: Option<&str>) -> Step {
    Step::Act {
        who: Who::Staff(who),
        action: "review",
        input: ActInput {
            verdict: Some(verdict),
            opinion: Some(opinion.to_owned()),
            reason: reason.map(str::to_owned),
            ..ActInput::default()
        },
    }
}

const AREAS: &[&str] = &[
    "梅溪湖",
    "洋湖",
    "麓谷",
    "含浦",
    "坪塘",
    "望城坡",
    "咸嘉湖",
    "桃花岭",
    "后湖",
    "观沙岭",
    "岳华",
    "学士",
    "银盆岭",
    "西湖",
];
const ROADS: &[&str] = &[
    "麓山南路",
    "桐梓坡路",
    "枫林三路",
    "岳麓大道",
    "金星中路",
    "望岳路",
    "梅溪湖路",
    "雷锋大道",
    "含浦大道",
    "学士路",
    "麓谷大道",
    "东方红路",
    "银杉路",
    "茯苓路",
    "旺龙路",
    "玉兰路",
    "岳华路",
    "咸嘉湖路",
    "潇湘中路",
    "观沙路",
];
const WORKS: &[&str] = &[
    "住宅小区一期",
    "住宅小区二期",
    "商业综合体",
    "小学教学楼",
    "中学综合楼",
    "社区卫生服务中心",
    "产业园标准厂房",
    "科研办公楼",
    "幼儿园",
    "安置房项目",
    "学生公寓",
    "文体中心",
    "养老服务中心",
    "物流仓储中心",
];
const CONTRACTORS: &[(&str, &str)] = &[
    ("湖南建工集团有限公司", "914301049D4H3J9HTX"),
    ("中建五局第三建设有限公司", "91430104M53JJL6B36"),
    ("长沙市第一建筑工程有限公司", "91430104HN2J1K6FMN"),
    ("湖南省第六工程有限公司", "91430104HDQAEJXEBP"),
];
const DESIGNERS: &[(&str, &str)] = &[
    ("湖南省建筑设计院集团股份有限公司", "9143010497R5NQ72JF"),
    ("长沙市规划设计院有限责任公司", "914301049GFWAPE9KD"),
    ("中机国际工程设计研究院有限责任公司", "9143010423GD5QA4X6"),
];
const SURVEYOR: (&str, &str) = ("湖南省勘测设计院有限公司", "91430104FD1YM2QHJ5");
const SUPERVISORS: &[(&str, &str)] = &[
    ("湖南长顺项目管理有限公司", "91430104RWTAANBKF7"),
    ("长沙华星建设监理有限公司", "91430104JRE2T2Y8FE"),
];
const MANAGERS: &[(&str, &str)] = &[
    ("刘建军", "430104198608108333"),
    ("谭志刚", "430104197711121232"),
    ("彭卫东", "430104197906067256"),
    ("罗海波", "430104196808023239"),
    ("曾丽娟", "430104198905058563"),
];
const SUPERVISOR_NAMES: &[&str] = &["胡国平", "邓伟", "易新华", "龙文杰"];
const ESTATES: &[&str] = &[
    "桃子湖小区",
    "咸嘉新村",
    "望月湖小区",
    "银盆岭小区",
    "后湖小区",
    "观沙岭小区",
    "阜埠河小区",
    "枫林绿洲",
    "麓山南路教工宿舍",
];
const OWNER_SURNAMES: &[&str] = &[
    "张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴", "徐", "孙",
];
const OWNER_NAMES: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "霞",
];
const APPROVALS: &[&str] = &[
    "经审查，符合法定条件，准予许可",
    "材料齐全，符合施工许可条件",
    "施工条件已落实，同意核发施工许可证",
];
const PASSES: &[&str] = &[
    "现场检查合格，消防设施运行正常",
    "经现场检查，疏散通道畅通，消防设施完好，检查合格",
    "抽查项目符合消防技术标准，检查合格",
];
const FAILS: &[(&str, &str)] = &[
    (
        "疏散指示标志缺失，部分防火门闭门器损坏",
        "责令停止使用，限期整改",
    ),
    (
        "自动喷水灭火系统末端试水压力不足",
        "责令停止使用，整改后申请复查",
    ),
];

/// A working day index at a fraction of the window.
fn at(w: usize, f: f64) -> usize {
    ((w as f64) * f).floor() as usize
}

/// The working-day index `k` days before the window's end (today), at least 0.
fn back(w: usize, k: usize) -> usize {
    w.saturating_sub(k)
}

/// The calendar date of a working-day index; before the window, five working days a week.
pub fn date_of(days: &[NaiveDate], idx: isize) -> NaiveDate {
    match usize::try_from(idx) {
        Ok(i) if i < days.len() => days[i],
        Ok(i) => {
            let last = days.last().copied().unwrap_or_default();
            last + Days::new(((i + 1 - days.len()) * 7 / 5) as u64)
        }
        Err(_) => {
            let first = days.first().copied().unwrap_or_default();
            first - Days::new((idx.unsigned_abs() * 7 / 5 + 1) as u64)
        }
    }
}

struct Forms<'d> {
    days: &'d [NaiveDate],
    serial: u32,
}

impl Forms<'_> {
    fn date(&self, idx: usize, back: isize) -> String {
        date_of(self.days, idx as isize - back).to_string()
    }

    fn project(&mut self, rng: &mut StdRng) -> (String, String) {
        self.serial += 1;
        let name = format!(
            "{}{}",
            AREAS.choose(rng).unwrap_or(&AREAS[0]),
            WORKS.choose(rng).unwrap_or(&WORKS[0])
        );
        let address = format!(
            "长沙市岳麓区{}{}号",
            ROADS.choose(rng).unwrap_or(&ROADS[0]),
            rng.random_range(1..400)
        );
        (name, address)
    }

    fn construction(&mut self, rng: &mut StdRng, c: Company, day: usize) -> Value {
        let (name, address) = self.project(rng);
        let submit = date_of(self.days, day as isize);
        let investment: u64 = rng.random_range(8_000..300_000) * 1_000;
        let price = investment / 100 * rng.random_range(70..95);
        let area: u32 = rng.random_range(3_000..90_000);
        let floors: u32 = rng.random_range(3..33);
        let (contractor, contractor_code) = *CONTRACTORS.choose(rng).unwrap_or(&CONTRACTORS[0]);
        let (designer, designer_code) = *DESIGNERS.choose(rng).unwrap_or(&DESIGNERS[0]);
        let (supervisor, supervisor_code) = *SUPERVISORS.choose(rng).unwrap_or(&SUPERVISORS[0]);
        let (manager, manager_id) = *MANAGERS.choose(rng).unwrap_or(&MANAGERS[0]);
        let days = rng.random_range(360..900);
        let start = submit + Days::new(rng.random_range(15..45));
        json!({
            "project_name": name,
            "project_type": *["new", "new", "extension", "municipal"].choose(rng).unwrap_or(&"new"),
            "project_code": format!("{}-430104-47-01-{:06}", submit.year(), 100_000 + self.serial * 7_919 % 900_000),
            "builder_name": c.1,
            "builder_credit_code": c.2,
            "contractor_name": contractor,
            "contractor_credit_code": contractor_code,
            "site_address": address,
            "investment": format!("{investment}.00"),
            "contract_price": price,
            "floor_area": format!("{area}.{}", rng.random_range(0..10)),
            "planned_start": start.to_string(),
            "planned_end": (start + Days::new(days)).to_string(),
            "project_manager": manager,
            "project_manager_phone": format!("139{:08}", rng.random_range(10_000_000..99_999_999)),
            "project_manager_id": manager_id,
            "project_scale": format!("地上{floors}层，建筑面积{area}平方米"),
            "contract_duration_days": days,
            "safety_licence_no": format!("(湘)JZ安许证字[20{}]{:06}", rng.random_range(18..25), rng.random_range(1..9999)),
            "survey_unit": SURVEYOR.0,
            "survey_unit_credit_code": SURVEYOR.1,
            "design_unit": designer,
            "design_unit_credit_code": designer_code,
            "drawing_review_no": format!("CSST-{}-{:04}", submit.year(), self.serial),
            "supervised": true,
            "supervision_unit": supervisor,
            "supervision_unit_credit_code": supervisor_code,
            "chief_supervisor": *SUPERVISOR_NAMES.choose(rng).unwrap_or(&SUPERVISOR_NAMES[0]),
        })
    }

    /// A fire filing: completion accepted `completed` working days before it is filed.
    fn fire(&mut self, rng: &mut StdRng, c: Company, day: usize, completed: isize) -> Value {
        let (name, address) = self.project(rng);
        json!({
            "project_name": name,
            "builder_name": c.1,
            "builder_credit_code": c.2,
            "project_address": address,
            "completion_acceptance_date": self.date(day, completed),
            "project_class": "general",
            "building_area": rng.random_range(800..40_000),
            "commitment": false,
            "contact_phone": format!("138{:08}", rng.random_range(10_000_000..99_999_999)),
        })
    }

    fn elevator(&mut self, rng: &mut StdRng, rep: &str, day: usize, count: u32) -> Value {
        let total = 12;
        let agree = rng.random_range(10..=12);
        let building = rng.random_range(1..30);
        let entrance = rng.random_range(1..4);
        let owners: Vec<Value> = (0..total)
            .map(|i| {
                let owner = format!(
                    "{}{}",
                    OWNER_SURNAMES.choose(rng).unwrap_or(&"张"),
                    OWNER_NAMES.choose(rng).unwrap_or(&"伟")
                );
                json!({
                    "unit": format!("{}0{}", i / 2 + 1, i % 2 + 1),
                    "owner": owner,
                    "area": format!("{}.{:02}", rng.random_range(62..118), rng.random_range(0..100)),
                    "vote": if i < agree { "agree" } else { "object" },
                    "signed": true,
                })
            })
            .collect();
        let estate = *ESTATES.choose(rng).unwrap_or(&ESTATES[0]);
        let submit = date_of(self.days, day as isize);
        let posted = submit - Days::new(rng.random_range(40..60));
        let removed = submit - Days::new(rng.random_range(5..12));
        let (designer, _) = *DESIGNERS.choose(rng).unwrap_or(&DESIGNERS[0]);
        json!({
            "residential_area": format!("长沙市岳麓区{estate}"),
            "building_address": format!("{estate} {building} 栋 {entrance} 单元"),
            "floors": 6 + rng.random_range(0..2),
            "elevator_count": count,
            "owners": owners,
            "representative": rep,
            "representative_phone": format!("137{:08}", rng.random_range(10_000_000..99_999_999)),
            "representative_id": MANAGERS.choose(rng).unwrap_or(&MANAGERS[0]).1,
            "notice_posted_on": posted.to_string(),
            "notice_removed_on": removed.to_string(),
            "notice_places": "本单元楼道口、小区公示栏",
            "notice_outcome": "no_objection",
            "affected_neighbours": false,
            "design_unit": designer,
            "estimated_cost": format!("{}", count * rng.random_range(52..68) * 10_000),
            "funding": *["owners_and_subsidy", "owners"].choose(rng).unwrap_or(&"owners"),
        })
    }

    fn design(&mut self, rng: &mut StdRng, c: Company, special: bool) -> Value {
        let (name, address) = self.project(rng);
        let (designer, code) = *DESIGNERS.choose(rng).unwrap_or(&DESIGNERS[0]);
        let area = rng.random_range(12_000..60_000);
        let mut f = json!({
            "project_name": name,
            "builder_name": c.1,
            "builder_credit_code": c.2,
            "project_address": address,
            "works_type": "new",
            "special_category": "hotel_commercial",
            "category_floor_area": format!("{}", area - 1_000),
            "total_floor_area": format!("{area}"),
            "design_unit": designer,
            "design_unit_credit_code": code,
            "design_qualification_no": format!("A143{:06}", rng.random_range(1..999_999)),
            "special_design_case": if special { "new_technology" } else { "none" },
            "contact_name": MANAGERS.choose(rng).unwrap_or(&MANAGERS[0]).0,
            "contact_phone": format!("136{:08}", rng.random_range(10_000_000..99_999_999)),
        });
        if special {
            f["foreign_standard"] = json!(false);
        }
        f
    }

    fn acceptance(&mut self, rng: &mut StdRng, c: Company, day: usize) -> Value {
        let (name, address) = self.project(rng);
        let (designer, _) = *DESIGNERS.choose(rng).unwrap_or(&DESIGNERS[0]);
        let (contractor, _) = *CONTRACTORS.choose(rng).unwrap_or(&CONTRACTORS[0]);
        json!({
            "project_name": name,
            "builder_name": c.1,
            "builder_credit_code": c.2,
            "project_address": address,
            "special_category": "culture_health_education",
            "total_floor_area": format!("{}", rng.random_range(3_000..30_000)),
            "design_review_opinion_no": format!("岳住建消审字〔{}〕第{:03}号", date_of(self.days, day as isize).year(), rng.random_range(1..200)),
            "completion_acceptance_date": self.date(day, 3),
            "design_unit": designer,
            "contractor_name": contractor,
            "contact_name": MANAGERS.choose(rng).unwrap_or(&MANAGERS[0]).0,
            "contact_phone": format!("135{:08}", rng.random_range(10_000_000..99_999_999)),
        })
    }
}

/// The year's journeys over `days` (the window's working days, today excluded).
pub fn plan(rng: &mut StdRng, days: &[NaiveDate]) -> Vec<Journey> {
    let w = days.len();
    let mut forms = Forms { days, serial: 0 };
    let mut out = Vec::new();
    let company = |i: usize| COMPANIES[i % COMPANIES.len()];
    let clerk = Who::Staff("clerk");
    let fire = Who::Staff("fire");
    let me = Who::Applicant;

    // 施工许可: 18 issued, one refused, one refused at the window; six in flight.
    for i in 0..18 {
        let day = at(w, 0.02 + 0.048 * i as f64);
        let c = company(i);
        let form = forms.construction(rng, c, day);
        let reviewer = Who::Staff(if i % 4 == 3 { "manager" } else { "reviewer" });
        let approval = *APPROVALS.choose(rng).unwrap_or(&APPROVALS[0]);
        let mut s = Script::at(rng, day).then(0, Step::File(CONSTRUCTION_MATERIALS.to_vec()));
        s = if i % 6 == 1 {
            let d = s.days(2, 4);
            s.then(
                1,
                notice(
                    clerk,
                    "request_supplement",
                    &["施工合同缺少双方盖章页", "资金到位承诺书未加盖公章"],
                ),
            )
            .then(
                d,
                Step::Upload(vec!["construction_contract", "funds_commitment"]),
            )
            .then(0, act(me, "supplement"))
            .then(1, act(clerk, "accept"))
        } else {
            let d = s.days(0, 1);
            s.then(d, act(clerk, "accept"))
        };
        s = match i % 6 {
            3 => {
                let d = s.days(3, 5);
                s.then(
                    1,
                    notice(
                        reviewer,
                        "request_correction",
                        &["请补充施工组织设计中的安全专项方案"],
                    ),
                )
                .then(d, Step::Upload(vec!["quality_safety"]))
                .then(0, act(me, "submit_correction"))
                .then(1, opinion(reviewer, "approve", approval))
            }
            // Decided after the promised three working days, within the statutory seven.
            5 => s.then(5, opinion(reviewer, "approve", approval)),
            _ => {
                let d = s.days(1, 3);
                s.then(d, opinion(reviewer, "approve", approval))
            }
        };
        // Works start within the three months; the latest permits are still waiting.
        let d = s.days(10, 30);
        s = s.then(d, act(me, "report_start"));
        let mut steps = s.steps();
        // Permits issued in the last 55 working days have not started yet (their start
        // deadline is still running); earlier ones have, before the scan would lapse them.
        let issued_on = steps.len().checked_sub(2).map(|i| steps[i].day);
        if issued_on.is_some_and(|d| d + 55 > w) {
            steps.pop();
        }
        out.push(Journey {
            item: CONSTRUCTION,
            applicant: c.0,
            form,
            kind: Kind::Plain,
            steps,
        });
    }
    let c = company(2);
    let form = forms.construction(rng, c, at(w, 0.45));
    let steps = Script::at(rng, at(w, 0.45))
        .then(0, Step::File(CONSTRUCTION_MATERIALS.to_vec()))
        .then(1, act(clerk, "accept"))
        .then(
            3,
            reason(
                Who::Staff("reviewer"),
                "refuse",
                "施工图审查合格书载明的建设规模与规划许可不一致",
                Some("不符合《建筑工程施工许可管理办法》第四条规定的条件，不予许可"),
            ),
        )
        .steps();
    out.push(Journey {
        item: CONSTRUCTION,
        applicant: c.0,
        form,
        kind: Kind::Plain,
        steps,
    });
    let c = company(4);
    let form = forms.construction(rng, c, at(w, 0.3));
    let steps = Script::at(rng, at(w, 0.3))
        .then(0, Step::File(CONSTRUCTION_MATERIALS.to_vec()))
        .then(
            1,
            reason(
                clerk,
                "refuse_to_accept",
                "该工程已于本年度取得施工许可证，属重复申请",
                None,
            ),
        )
        .steps();
    out.push(Journey {
        item: CONSTRUCTION,
        applicant: c.0,
        form,
        kind: Kind::Plain,
        steps,
    });
    // In flight: received yesterday; past the promised three days; in review, due soon and
    // overdue; a correction (the clock suspended); a supplement waiting on the builder.
    let flights: [(usize, Vec<(usize, Step)>); 6] = [
        (1, vec![]),
        (4, vec![]),
        (6, vec![(1, act(clerk, "accept"))]),
        (9, vec![(1, act(clerk, "accept"))]),
        (
            10,
            vec![
                (1, act(clerk, "accept")),
                (
                    2,
                    notice(
                        Who::Staff("reviewer"),
                        "request_correction",
                        &["请补充深基坑支护专项施工方案专家论证意见"],
                    ),
                ),
            ],
        ),
        (
            5,
            vec![(
                1,
                notice(
                    clerk,
                    "request_supplement",
                    &["建设工程规划许可证附图不清晰，请重新扫描上传"],
                ),
            )],
        ),
    ];
    for (k, (ago, rest)) in flights.into_iter().enumerate() {
        let c = company(k + 1);
        let day = back(w, ago);
        let form = forms.construction(rng, c, day);
        let mut s = Script::at(rng, day).then(0, Step::File(CONSTRUCTION_MATERIALS.to_vec()));
        for (d, step) in rest {
            s = s.then(d, step);
        }
        out.push(Journey {
            item: CONSTRUCTION,
            applicant: c.0,
            form,
            kind: Kind::Plain,
            steps: s.steps(),
        });
    }

    // 既有住宅加装电梯: 20 filed (some installing or completed), one refused, three in flight.
    for i in 0..20 {
        let day = at(w, 0.02 + 0.042 * i as f64);
        let rep = RESIDENTS[i % RESIDENTS.len()];
        let count = if i % 5 == 2 { 2 } else { 1 };
        let form = forms.elevator(rng, rep.1, day, count);
        let mut s = Script::at(rng, day).then(0, Step::File(ELEVATOR_MATERIALS.to_vec()));
        let (d1, d2, d3, d4) = (s.days(1, 2), s.days(1, 3), s.days(1, 3), s.days(0, 2));
        s = s
            .then(d1, act(clerk, "accept"))
            .then(
                d2,
                opinion(
                    Who::Staff("housing"),
                    "forward",
                    "材料齐全，业主意见征询和公示符合要求，转送并联备案",
                ),
            )
            .then(
                d3,
                review(
                    "planning",
                    Verdict::Approve,
                    "不涉及规划条件调整，同意备案",
                    None,
                ),
            )
            .then(
                d4,
                review(
                    "market",
                    Verdict::Approve,
                    "电梯制造、安装单位资质符合要求，同意备案",
                    None,
                ),
            );
        if i < 14 {
            let d = s.days(10, 20);
            s = s.then(d, act(me, "report_start"));
        }
        if i < 8 {
            let (a, b) = (s.days(20, 35), s.days(5, 10));
            s = s
                .then(a, act(me, "report_inspection"))
                .then(b, act(me, "report_completion"));
        }
        out.push(Journey {
            item: ELEVATOR,
            applicant: rep.0,
            form,
            kind: Kind::Plain,
            steps: s.steps(),
        });
    }
    let rep = RESIDENTS[3];
    let day = at(w, 0.5);
    let form = forms.elevator(rng, rep.1, day, 1);
    let steps = Script::at(rng, day)
        .then(0, Step::File(ELEVATOR_MATERIALS.to_vec()))
        .then(1, act(clerk, "accept"))
        .then(
            2,
            opinion(Who::Staff("housing"), "forward", "材料齐全，转送并联备案"),
        )
        .then(
            2,
            review(
                "planning",
                Verdict::Refuse,
                "不同意备案",
                Some("加装电梯井道占用小区消防车通道，不符合规划要求"),
            ),
        )
        .then(1, review("market", Verdict::Approve, "同意备案", None))
        .steps();
    out.push(Journey {
        item: ELEVATOR,
        applicant: rep.0,
        form,
        kind: Kind::Plain,
        steps,
    });
    let flights: [(usize, Vec<(usize, Step)>); 3] = [
        (2, vec![]),
        (7, vec![(1, act(clerk, "accept"))]),
        (
            5,
            vec![
                (1, act(clerk, "accept")),
                (
                    1,
                    opinion(Who::Staff("housing"), "forward", "材料齐全，转送并联备案"),
                ),
                (1, review("planning", Verdict::Approve, "同意备案", None)),
            ],
        ),
    ];
    for (k, (ago, rest)) in flights.into_iter().enumerate() {
        let rep = RESIDENTS[(k + 5) % RESIDENTS.len()];
        let day = back(w, ago);
        let form = forms.elevator(rng, rep.1, day, 1 + (k as u32 % 2));
        let mut s = Script::at(rng, day).then(0, Step::File(ELEVATOR_MATERIALS.to_vec()));
        for (d, step) in rest {
            s = s.then(d, step);
        }
        out.push(Journey {
            item: ELEVATOR,
            applicant: rep.0,
            form,
            kind: Kind::Plain,
            steps: s.steps(),
        });
    }

    // 竣工验收消防备案: the general stream (used in order until 19 are not drawn), and six
    // still open. The late filings that top the drawn up are planned when the stream ends.
    for i in 0..50 {
        let f = if i < 24 {
            0.01 + 0.033 * i as f64
        } else {
            0.80 + 0.004 * (i - 24) as f64
        };
        let day = at(w, f);
        let c = company(i + 3);
        let completed = rng.random_range(1..4i32) as isize;
        let form = forms.fire(rng, c, day, completed);
        let mut s = Script::at(rng, day).then(0, Step::File(FIRE_MATERIALS.to_vec()));
        s = if i % 7 == 3 {
            let d = s.days(1, 2);
            s.then(
                0,
                notice(
                    fire,
                    "request_supplement",
                    &["竣工图纸缺少消防设施平面布置图"],
                ),
            )
            .then(d, Step::Upload(vec!["as_built_drawings"]))
            .then(0, act(me, "supplement"))
            .then(0, act(fire, "issue_receipt"))
        } else {
            let d = s.days(0, 1);
            s.then(d, act(fire, "issue_receipt"))
        };
        out.push(Journey {
            item: FIRE,
            applicant: c.0,
            form,
            kind: Kind::FireGeneral,
            steps: s.steps(),
        });
    }
    let flights: [(usize, Vec<(usize, Step)>); 6] = [
        (1, vec![]),
        (1, vec![]),
        (3, vec![]),
        (
            4,
            vec![(
                0,
                notice(
                    fire,
                    "request_supplement",
                    &["消防验收备案表未加盖建设单位公章"],
                ),
            )],
        ),
        (
            12,
            vec![(
                1,
                notice(
                    fire,
                    "request_supplement",
                    &["工程竣工验收报告缺少监理单位意见"],
                ),
            )],
        ),
        (
            25,
            vec![(
                1,
                notice(
                    fire,
                    "request_supplement",
                    &["涉及消防的竣工图纸与施工图审查合格图纸不一致，请说明"],
                ),
            )],
        ),
    ];
    for (k, (ago, rest)) in flights.into_iter().enumerate() {
        let c = company(k);
        let day = back(w, ago);
        let form = forms.fire(rng, c, day, 2);
        let mut s = Script::at(rng, day).then(0, Step::File(FIRE_MATERIALS.to_vec()));
        for (d, step) in rest {
            s = s.then(d, step);
        }
        out.push(Journey {
            item: FIRE,
            applicant: c.0,
            form,
            kind: Kind::Plain,
            steps: s.steps(),
        });
    }

    // 特殊建设工程消防设计审查: five passed (two through the province's expert review), one
    // failed, one with the experts, one in review.
    for (k, (f, special)) in [
        (0.1, false),
        (0.2, true),
        (0.4, false),
        (0.55, true),
        (0.7, false),
    ]
    .into_iter()
    .enumerate()
    {
        let c = company(k + 1);
        let day = at(w, f);
        let form = forms.design(rng, c, special);
        let mut materials = DESIGN_MATERIALS.to_vec();
        let mut s = Script::at(rng, day);
        s = if special {
            materials.extend(SPECIAL_DESIGN_MATERIALS);
            let d = s.days(8, 14);
            s.then(0, Step::File(materials))
                .then(1, act(clerk, "accept_special"))
                .then(2, act(fire, "refer_to_province"))
                .then(
                    d,
                    opinion(
                        fire,
                        "resume_review",
                        "省住房和城乡建设厅组织专家评审通过（7人中6人同意）",
                    ),
                )
                .then(
                    2,
                    opinion(
                        fire,
                        "approve",
                        "特殊消防设计经专家评审通过，消防设计审查合格",
                    ),
                )
        } else {
            let d = s.days(3, 6);
            s.then(0, Step::File(materials))
                .then(1, act(clerk, "accept"))
                .then(
                    d,
                    opinion(
                        fire,
                        "approve",
                        "消防设计符合国家工程建设消防技术标准，审查合格",
                    ),
                )
        };
        out.push(Journey {
            item: DESIGN,
            applicant: c.0,
            form,
            kind: Kind::Plain,
            steps: s.steps(),
        });
    }
    let c = company(5);
    let form = forms.design(rng, c, false);
    let steps = Script::at(rng, at(w, 0.62))
        .then(0, Step::File(DESIGN_MATERIALS.to_vec()))
        .then(1, act(clerk, "accept"))
        .then(
            5,
            reason(
                fire,
                "refuse",
                "防火分区面积超过规范限值，疏散距离不满足要求",
                Some("消防设计审查不合格"),
            ),
        )
        .steps();
    out.push(Journey {
        item: DESIGN,
        applicant: c.0,
        form,
        kind: Kind::Plain,
        steps,
    });
    let c = company(3);
    let form = forms.design(rng, c, true);
    let mut materials = DESIGN_MATERIALS.to_vec();
    materials.extend(SPECIAL_DESIGN_MATERIALS);
    let steps = Script::at(rng, back(w, 8))
        .then(0, Step::File(materials))
        .then(1, act(clerk, "accept_special"))
        .then(2, act(fire, "refer_to_province"))
        .steps();
    out.push(Journey {
        item: DESIGN,
        applicant: c.0,
        form,
        kind: Kind::Plain,
        steps,
    });
    let c = company(0);
    let form = forms.design(rng, c, false);
    let steps = Script::at(rng, back(w, 3))
        .then(0, Step::File(DESIGN_MATERIALS.to_vec()))
        .then(1, act(clerk, "accept"))
        .steps();
    out.push(Journey {
        item: DESIGN,
        applicant: c.0,
        form,
        kind: Kind::Plain,
        steps,
    });

    // 特殊建设工程消防验收: three passed, one refused at the window, one on site.
    for (k, f) in [0.25, 0.5, 0.75].into_iter().enumerate() {
        let c = company(k + 2);
        let day = at(w, f);
        let form = forms.acceptance(rng, c, day);
        let steps = Script::at(rng, day)
            .then(0, Step::File(ACCEPTANCE_MATERIALS.to_vec()))
            .then(1, act(clerk, "accept"))
            .then(2, act(fire, "start_site_assessment"))
            .then(
                3,
                opinion(
                    Who::Staff("inspector"),
                    "record_site_assessment",
                    "现场评定：消防设施功能测试及联调联试正常，实体检查符合设计要求",
                ),
            )
            .then(2, opinion(fire, "approve", "消防验收合格"))
            .steps();
        out.push(Journey {
            item: ACCEPTANCE,
            applicant: c.0,
            form,
            kind: Kind::Plain,
            steps,
        });
    }
    let c = company(5);
    let form = forms.acceptance(rng, c, at(w, 0.35));
    let steps = Script::at(rng, at(w, 0.35))
        .then(0, Step::File(ACCEPTANCE_MATERIALS.to_vec()))
        .then(
            1,
            reason(
                clerk,
                "refuse_to_accept",
                "该工程尚未取得特殊建设工程消防设计审查合格意见",
                None,
            ),
        )
        .steps();
    out.push(Journey {
        item: ACCEPTANCE,
        applicant: c.0,
        form,
        kind: Kind::Plain,
        steps,
    });
    let c = company(1);
    let day = back(w, 4);
    let form = forms.acceptance(rng, c, day);
    let steps = Script::at(rng, day)
        .then(0, Step::File(ACCEPTANCE_MATERIALS.to_vec()))
        .then(1, act(clerk, "accept"))
        .then(1, act(fire, "start_site_assessment"))
        .steps();
    out.push(Journey {
        item: ACCEPTANCE,
        applicant: c.0,
        form,
        kind: Kind::Plain,
        steps,
    });
    out
}

/// A late fire filing (completion accepted weeks before: drawn with certainty) at `day`.
pub fn late_fire(rng: &mut StdRng, days: &[NaiveDate], day: usize, n: usize) -> Journey {
    let mut forms = Forms {
        days,
        serial: 1_000 + n as u32,
    };
    let c = COMPANIES[(n + 2) % COMPANIES.len()];
    let completed = rng.random_range(12..30i32) as isize;
    let form = forms.fire(rng, c, day, completed);
    let steps = Script::at(rng, day)
        .then(0, Step::File(FIRE_MATERIALS.to_vec()))
        .then(0, act(Who::Staff("fire"), "issue_receipt"))
        .steps();
    Journey {
        item: FIRE,
        applicant: c.0,
        form,
        kind: Kind::FireLate,
        steps,
    }
}

/// What follows a draw that selected the `nth` filing (from 0), from `day` and `minute`: most
/// pass their inspection; every third fails, is rectified and passes its re-check.
pub fn inspection(rng: &mut StdRng, nth: usize, day: usize, minute: u32) -> Vec<Planned> {
    let lead = Who::Lead;
    let s = Script::after(rng, day, minute);
    if nth % 3 == 1 {
        let (fail, why) = FAILS[nth % FAILS.len()];
        let mut s = s;
        // Rectified near the end of the 30 days ordered, after the reminder five days before.
        let (a, b, c) = (s.days(4, 8), s.days(19, 20), s.days(2, 5));
        s.then(a, reason(lead, "fail_inspection", fail, Some(why)))
            .then(b, Step::Upload(RECHECK_MATERIALS.to_vec()))
            .then(
                0,
                reason(
                    Who::Applicant,
                    "request_recheck",
                    "已按整改通知完成整改，申请复查",
                    None,
                ),
            )
            .then(c, opinion(lead, "pass_recheck", "复查合格，准予使用"))
            .steps()
    } else {
        let mut s = s;
        let d = s.days(3, 9);
        let pass = *PASSES.choose(s.rng).unwrap_or(&PASSES[0]);
        s.then(d, opinion(lead, "pass_inspection", pass)).steps()
    }
}

/// The plan's RNG.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(SEED)
}
