//! Item definitions: the data that describes one approval item (事项).
//!
//! Policy: a definition is parsed from TOML into these types and then checked by [`super::check`];
//! nothing else in the service reads item files. The engine knows only the vocabulary here
//! (state kinds, guards, effects, inputs) and nothing about any particular item, so a new item is a
//! new file and never new code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A text in Chinese and English. Chinese is the authoritative language of the bureau.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The language tag of a document in this language (HTML `lang`, `Content-Language`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language (the pages' language link).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language an `Accept-Language` header asks for: the known language (Chinese or
    /// English, any region) of the highest quality, the first of equals; Chinese, the bureau's
    /// language, when it names neither.
    pub fn negotiate(accept_language: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag.starts_with("en") {
                Lang::En
            } else if tag.starts_with("zh") {
                Lang::Zh
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or_default()
    }
}

/// What kind of account a person has: an applicant who is a natural person or a company, or
/// a member of staff (who belongs to a department).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    Person,
    Company,
    Staff,
    /// The service itself, taking the actions a deadline's expiry causes (one account, which
    /// cannot sign in).
    System,
}

impl UserKind {
    pub const ALL: [UserKind; 4] = [
        UserKind::Person,
        UserKind::Company,
        UserKind::Staff,
        UserKind::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Person => "person",
            UserKind::Company => "company",
            UserKind::Staff => "staff",
            UserKind::System => "system",
        }
    }
}

/// Who may act. Stored as lower-case text in the database.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Applicant,
    Clerk,
    Reviewer,
    Inspector,
    Manager,
    Admin,
    Auditor,
    /// The service itself: an action only a deadline's expiry takes (a permit lapses when
    /// works have not started in time). Never granted to an account.
    System,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Applicant,
        Role::Clerk,
        Role::Reviewer,
        Role::Inspector,
        Role::Manager,
        Role::Admin,
        Role::Auditor,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Applicant => "applicant",
            Role::Clerk => "clerk",
            Role::Reviewer => "reviewer",
            Role::Inspector => "inspector",
            Role::Manager => "manager",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Staff roles work in a department and see its filings.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Applicant | Role::System)
    }
}

/// The kind of a state tells the engine and the reports what the state means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// Being prepared by the applicant; not yet received.
    Draft,
    /// Received; the window checks completeness (受理 or not).
    Intake,
    /// Accepted and being examined (审查, 勘验, 联合审查).
    Review,
    /// Waiting for the applicant (补正, 整改).
    WaitingApplicant,
    /// The legal clock does not run (公示, 专家评审, 检验检测).
    Suspended,
    /// Closed with a favourable result (准予许可, 备案, 出证).
    Approved,
    /// Closed with a refusal (不予许可).
    Refused,
    /// Closed because the applicant withdrew (撤回).
    Withdrawn,
    /// Closed without acceptance (不予受理, or not required at all).
    NotAccepted,
}

impl StateKind {
    pub const ALL: [StateKind; 9] = [
        StateKind::Draft,
        StateKind::Intake,
        StateKind::Review,
        StateKind::WaitingApplicant,
        StateKind::Suspended,
        StateKind::Approved,
        StateKind::Refused,
        StateKind::Withdrawn,
        StateKind::NotAccepted,
    ];

    pub fn is_final(self) -> bool {
        matches!(
            self,
            StateKind::Approved
                | StateKind::Refused
                | StateKind::Withdrawn
                | StateKind::NotAccepted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Draft => "draft",
            StateKind::Intake => "intake",
            StateKind::Review => "review",
            StateKind::WaitingApplicant => "waiting_applicant",
            StateKind::Suspended => "suspended",
            StateKind::Approved => "approved",
            StateKind::Refused => "refused",
            StateKind::Withdrawn => "withdrawn",
            StateKind::NotAccepted => "not_accepted",
        }
    }

    /// What the main (statutory and promised) clocks do while a filing is in a state of this
    /// kind, unless the state says otherwise.
    pub fn default_clock(self) -> ClockMode {
        match self {
            StateKind::Draft | StateKind::Intake => ClockMode::NotStarted,
            StateKind::Review => ClockMode::Run,
            StateKind::WaitingApplicant | StateKind::Suspended => ClockMode::Suspend,
            _ => ClockMode::Stopped,
        }
    }
}

/// What the main clocks do in a state (行政许可法 §42, §45).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Before acceptance: the limit counts from acceptance (民法典 §201: from the next day).
    NotStarted,
    Run,
    /// §45: hearings, testing, expert review, public notice, supplement are not counted.
    Suspend,
    Stopped,
}

/// Why a clock is suspended; told to the applicant in writing (§45).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SuspendReason {
    /// 补正
    Supplement,
    /// 专家评审
    ExpertReview,
    /// 公示
    PublicNotice,
    /// 现场勘验
    SiteInspection,
    /// 检验检测
    Testing,
    /// 听证
    Hearing,
    /// 整改
    Rectification,
    /// 调解 (mediation of objections by the street office)
    Mediation,
}

impl SuspendReason {
    pub const ALL: [SuspendReason; 8] = [
        SuspendReason::Supplement,
        SuspendReason::ExpertReview,
        SuspendReason::PublicNotice,
        SuspendReason::SiteInspection,
        SuspendReason::Testing,
        SuspendReason::Hearing,
        SuspendReason::Rectification,
        SuspendReason::Mediation,
    ];

    pub fn parse(s: &str) -> Option<SuspendReason> {
        SuspendReason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SuspendReason::Supplement => "supplement",
            SuspendReason::ExpertReview => "expert_review",
            SuspendReason::PublicNotice => "public_notice",
            SuspendReason::SiteInspection => "site_inspection",
            SuspendReason::Testing => "testing",
            SuspendReason::Hearing => "hearing",
            SuspendReason::Rectification => "rectification",
            SuspendReason::Mediation => "mediation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayUnit {
    /// 行政许可法 §82: working days exclude statutory holidays.
    Working,
    Calendar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub days: u32,
    pub unit: DayUnit,
}

/// Statutory limit and the bureau's shorter published promise (法定时限 / 承诺时限).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub statutory: Limit,
    pub promised: Option<Limit>,
    /// §32: completeness is decided on the spot or within this many days of receipt.
    pub completeness: Option<Limit>,
    /// When the clocks turn yellow: `{ days_before = 2 }` or `{ share = "4/5" }`.
    #[serde(default)]
    pub warning: Warning,
    /// §42: the most days a manager may add to the statutory limit (e.g. 10).
    #[serde(default)]
    pub max_extension_days: u32,
    /// The most days, in each clock's unit, that a suspension for a reason is not counted
    /// (51号令 原第二十二条: expert review at most 20 working days); days beyond count as
    /// running.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub suspension_caps: BTreeMap<SuspendReason, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    Required,
    /// 容缺: may be missing at acceptance on the applicant's written promise of a date;
    /// the decision waits until it is supplied.
    Tolerable,
    Optional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub code: String,
    pub label: Text,
    pub requirement: Requirement,
    /// The requirement applies only when this holds (land-use and planning approvals for new
    /// works, not for decoration); otherwise the material is not asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_when: Option<Condition>,
    /// Accepted file types by extension, lower case: pdf, jpg, jpeg, png, ofd, dwg, zip.
    #[serde(default = "default_file_types")]
    pub file_types: Vec<String>,
    /// Largest accepted file, in MiB.
    #[serde(default = "default_max_mb")]
    pub max_mb: u32,
    #[serde(default)]
    pub note: Option<Text>,
}

impl Material {
    /// What the material is for a filing with this form: its requirement, or optional where
    /// its condition does not hold.
    pub fn requirement_for(
        &self,
        form: &serde_json::Map<String, serde_json::Value>,
    ) -> Requirement {
        match &self.required_when {
            Some(c) if !c.holds(form) => Requirement::Optional,
            _ => self.requirement,
        }
    }
}

/// A condition on the form: the field `field` holds one of `in` (a select's values; `"true"`
/// or `"false"` for a boolean). An empty field holds none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    #[serde(rename = "in")]
    pub values: Vec<String>,
}

impl Condition {
    pub fn holds(&self, form: &serde_json::Map<String, serde_json::Value>) -> bool {
        use serde_json::Value;
        match form.get(&self.field) {
            Some(Value::String(s)) => self.values.iter().any(|v| v == s),
            Some(Value::Bool(b)) => {
                let b = if *b { "true" } else { "false" };
                self.values.iter().any(|v| v == b)
            }
            _ => false,
        }
    }
}

fn default_file_types() -> Vec<String> {
    vec!["pdf".into(), "jpg".into(), "jpeg".into(), "png".into()]
}

fn default_max_mb() -> u32 {
    20
}

/// The unit an amount field is kept in: the definition says it (`unit = "万元"`), and the
/// field's label must name the same unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum MoneyUnit {
    /// 元.
    #[default]
    #[serde(rename = "元")]
    Yuan,
    /// 万元: ten thousand yuan.
    #[serde(rename = "万元")]
    TenThousandYuan,
}

impl MoneyUnit {
    pub fn is_yuan(&self) -> bool {
        *self == MoneyUnit::Yuan
    }

    /// As a definition writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MoneyUnit::Yuan => "元",
            MoneyUnit::TenThousandYuan => "万元",
        }
    }
}

/// The type of a form field, with its bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldType {
    Text {
        #[serde(default)]
        min_len: Option<u32>,
        #[serde(default)]
        max_len: Option<u32>,
        /// A regular expression the whole value must match.
        #[serde(default)]
        pattern: Option<String>,
    },
    Integer {
        #[serde(default)]
        min: Option<i64>,
        #[serde(default)]
        max: Option<i64>,
    },
    /// Money in CNY with at most two decimals, given as a JSON number or string, in the
    /// field's `unit` (元 unless the definition says 万元); `min` and `max` are in it too.
    Amount {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default, skip_serializing_if = "MoneyUnit::is_yuan")]
        unit: MoneyUnit,
    },
    /// Area in square metres with at most two decimals.
    Area {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    /// A calendar date, YYYY-MM-DD.
    Date,
    /// 统一社会信用代码 (GB 32100-2015), 18 characters with a check character.
    CreditCode,
    /// 居民身份证号码 (GB 11643-1999), 18 characters with a check character.
    IdCard,
    /// A mainland mobile number (11 digits starting with 1) or a landline with area code.
    Phone,
    Email,
    Select {
        options: Vec<SelectOption>,
    },
    Boolean,
    /// Rows of cells whose columns are declared in the item (业主名册: unit, owner, exclusive
    /// area, vote, signed). A column is a field of one of the types above: a table holds no
    /// table.
    Table {
        /// The most rows accepted; at most, and by default, [`crate::domain::forms::TABLE_MAX_ROWS`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_rows: Option<u32>,
        /// Columns whose cells differ from row to row (a unit is listed once), compared trimmed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unique: Vec<String>,
        /// In the order the columns are shown and typed (one row per line on the pages).
        #[schema(no_recursion)]
        columns: Vec<Field>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectOption {
    pub value: String,
    pub label: Text,
}

/// A form field. Read through [`RawField`] so that an unknown or misplaced key in a definition
/// file (`max_length`, a `pattern` on a date) is refused instead of silently ignored: serde's
/// `deny_unknown_fields` does not work together with `flatten`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawField")]
pub struct Field {
    pub code: String,
    pub label: Text,
    #[serde(flatten)]
    pub ty: FieldType,
    #[serde(default)]
    pub required: bool,
    /// Required when this holds (and `required` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_when: Option<Condition>,
    /// Personal data (个人信息保护法): masked where it is not needed.
    #[serde(default)]
    pub personal: bool,
    #[serde(default)]
    pub help: Option<Text>,
}

impl Field {
    /// Whether the field must be filled in, for a filing with this form.
    pub fn is_required(&self, form: &serde_json::Map<String, serde_json::Value>) -> bool {
        self.required || self.required_when.as_ref().is_some_and(|c| c.holds(form))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    code: String,
    label: Text,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    required_when: Option<Condition>,
    #[serde(default)]
    personal: bool,
    #[serde(default)]
    help: Option<Text>,
    #[serde(default)]
    min_len: Option<u32>,
    #[serde(default)]
    max_len: Option<u32>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    /// An amount's unit: 元 (the default) or 万元.
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    options: Option<Vec<SelectOption>>,
    #[serde(default)]
    max_rows: Option<u32>,
    #[serde(default)]
    unique: Option<Vec<String>>,
    #[serde(default)]
    columns: Option<Vec<RawField>>,
}

impl TryFrom<RawField> for Field {
    type Error = String;

    fn try_from(r: RawField) -> Result<Self, Self::Error> {
        let what = format!("field `{}`", r.code);
        r.read(&what)
    }
}

impl RawField {
    /// The field, or what is wrong with it, said of `what` (`field `owners``, or
    /// `field `owners`, column `vote`` for a table's column).
    fn read(self, what: &str) -> Result<Field, String> {
        let r = self;
        let mut misplaced = Vec::new();
        let mut not_here = |present: bool, key: &str| {
            if present {
                misplaced.push(key.to_owned());
            }
        };
        let integer = |v: Option<f64>, key: &str| -> Result<Option<i64>, String> {
            match v {
                Some(x) if x.fract() != 0.0 || x.abs() > 9.0e15 => Err(format!(
                    "{what}: `{key}` of an integer field must be a whole number"
                )),
                Some(x) => Ok(Some(x as i64)),
                None => Ok(None),
            }
        };
        if r.ty != "amount" {
            not_here(r.unit.is_some(), "unit");
        }
        if r.ty != "table" {
            not_here(r.max_rows.is_some(), "max_rows");
            not_here(r.unique.is_some(), "unique");
            not_here(r.columns.is_some(), "columns");
        }
        let ty = match r.ty.as_str() {
            "text" => {
                not_here(r.min.is_some(), "min");
                not_here(r.max.is_some(), "max");
                not_here(r.options.is_some(), "options");
                FieldType::Text {
                    min_len: r.min_len,
                    max_len: r.max_len,
                    pattern: r.pattern,
                }
            }
            "integer" | "amount" | "area" => {
                not_here(r.min_len.is_some(), "min_len");
                not_here(r.max_len.is_some(), "max_len");
                not_here(r.pattern.is_some(), "pattern");
                not_here(r.options.is_some(), "options");
                match r.ty.as_str() {
                    "integer" => FieldType::Integer {
                        min: integer(r.min, "min")?,
                        max: integer(r.max, "max")?,
                    },
                    "amount" => FieldType::Amount {
                        min: r.min,
                        max: r.max,
                        unit: match r.unit.as_deref() {
                            None | Some("元") => MoneyUnit::Yuan,
                            Some("万元") => MoneyUnit::TenThousandYuan,
                            Some(other) => {
                                return Err(format!(
                                    "{what}: `unit` {other:?} must be \"元\" or \"万元\""
                                ));
                            }
                        },
                    },
                    _ => FieldType::Area {
                        min: r.min,
                        max: r.max,
                    },
                }
            }
            "select" => {
                not_here(r.min_len.is_some(), "min_len");
                not_here(r.max_len.is_some(), "max_len");
                not_here(r.pattern.is_some(), "pattern");
                not_here(r.min.is_some(), "min");
                not_here(r.max.is_some(), "max");
                FieldType::Select {
                    options: r.options.unwrap_or_default(),
                }
            }
            "table" => {
                not_here(r.min_len.is_some(), "min_len");
                not_here(r.max_len.is_some(), "max_len");
                not_here(r.pattern.is_some(), "pattern");
                not_here(r.min.is_some(), "min");
                not_here(r.max.is_some(), "max");
                not_here(r.options.is_some(), "options");
                let columns = r
                    .columns
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| {
                        let what = format!("{what}, column `{}`", c.code);
                        c.read(&what)
                    })
                    .collect::<Result<_, _>>()?;
                FieldType::Table {
                    max_rows: r.max_rows,
                    unique: r.unique.unwrap_or_default(),
                    columns,
                }
            }
            simple @ ("date" | "credit_code" | "id_card" | "phone" | "email" | "boolean") => {
                not_here(r.min_len.is_some(), "min_len");
                not_here(r.max_len.is_some(), "max_len");
                not_here(r.pattern.is_some(), "pattern");
                not_here(r.min.is_some(), "min");
                not_here(r.max.is_some(), "max");
                not_here(r.options.is_some(), "options");
                match simple {
                    "date" => FieldType::Date,
                    "credit_code" => FieldType::CreditCode,
                    "id_card" => FieldType::IdCard,
                    "phone" => FieldType::Phone,
                    "email" => FieldType::Email,
                    _ => FieldType::Boolean,
                }
            }
            other => {
                return Err(format!(
                    "{what}: unknown type `{other}` (text, integer, amount, area, date, credit_code, \
                     id_card, phone, email, select, boolean, table)"
                ));
            }
        };
        if !misplaced.is_empty() {
            return Err(format!(
                "{what}: {} not allowed for a field of type `{}`",
                misplaced.join(", "),
                r.ty
            ));
        }
        Ok(Field {
            code: r.code,
            label: r.label,
            ty,
            required: r.required,
            required_when: r.required_when,
            personal: r.personal,
            help: r.help,
        })
    }
}

fn calendar_days() -> DayUnit {
    DayUnit::Calendar
}

/// A numeric comparison in a guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CompareOp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

/// A rule between two fields of the same kind (dates, or numbers: integers, amounts, areas):
/// `field op other`, e.g. `planned_end >= planned_start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Relation {
    pub field: String,
    pub op: CompareOp,
    pub other: String,
}

/// Whose share the 民法典 §278 approval thresholds are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentBase {
    /// 民法典 §278: of the owners taking part in the vote.
    Participating,
    /// Some cities: of all owners of the building.
    Total,
}

/// The columns of the table an `owner_consent` guard counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentColumns {
    /// Who owns the unit (a name as in the 不动产登记簿, or an ID or credit code), compared
    /// trimmed and otherwise exactly: rows with the same owner are one head (司法解释 on
    /// 建筑物区分所有权 §9: one buyer of several units, the developer's unsold units).
    pub owner: String,
    /// The unit's exclusive area: an area column.
    pub area: String,
    /// The owner's vote: a select whose values are agree, object, abstain and absent.
    pub vote: String,
    /// A boolean column: the written consent is signed. When named, an agreement counts only
    /// when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<String>,
}

/// When a clock turns yellow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Warning {
    /// N days (in the clock's unit) before the due date.
    DaysBefore(u32),
    /// When this share of the budget is used.
    Share(Fraction),
}

impl Default for Warning {
    fn default() -> Self {
        Warning::DaysBefore(2)
    }
}

/// A fraction written as "2/3"; compared exactly, never as a float. Written ">1/2" it is a
/// share that must be exceeded, not only reached (民法典 §278: "过半数", more than half, where
/// "三分之二以上" includes two thirds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fraction {
    pub num: u32,
    pub den: u32,
    /// More than the share ("过半数"), not at least it ("以上").
    pub more_than: bool,
}

impl Fraction {
    /// `part` of `whole` reaches the share (exceeds it, if `more_than`); nothing of nothing
    /// never does.
    pub fn met_by(self, part: i64, whole: i64) -> bool {
        let (left, right) = (
            i128::from(part) * i128::from(self.den),
            i128::from(whole) * i128::from(self.num),
        );
        whole > 0
            && if self.more_than {
                left > right
            } else {
                left >= right
            }
    }
}

impl utoipa::PartialSchema for Fraction {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .examples(["2/3", ">1/2"])
            .into()
    }
}

impl utoipa::ToSchema for Fraction {}

impl TryFrom<String> for Fraction {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let bad = || {
            format!(
                "`{s}` is not a fraction like 2/3 between 0 and 1 (or >1/2 for more than a share below 1)"
            )
        };
        let trimmed = s.trim();
        let (more_than, rest) = match trimmed.strip_prefix('>') {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let (n, d) = rest.split_once('/').ok_or_else(bad)?;
        let num: u32 = n.trim().parse().map_err(|_| bad())?;
        let den: u32 = d.trim().parse().map_err(|_| bad())?;
        // More than the whole can never be met.
        if den == 0 || num > den || (more_than && num == den) {
            return Err(bad());
        }
        Ok(Fraction {
            num,
            den,
            more_than,
        })
    }
}

impl From<Fraction> for String {
    fn from(f: Fraction) -> String {
        let more = if f.more_than { ">" } else { "" };
        format!("{more}{}/{}", f.num, f.den)
    }
}

/// The guards the engine knows. A guard is a condition on the filing that must hold for an
/// action to be taken; a failing guard yields every problem it found, not only the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Guard {
    /// Every field valid and every required field present.
    FieldsValid,
    /// Every required material uploaded; tolerable ones too unless `tolerate` is set, in which
    /// case a missing tolerable material needs a promise date (容缺受理).
    MaterialsComplete {
        #[serde(default)]
        tolerate: bool,
    },
    /// Every tolerable material accepted with a promise has since been supplied.
    TolerableSupplied,
    /// These materials are on file, whatever their requirement at submission (the written
    /// re-check request and the rectification report, asked for when the re-check is).
    MaterialsOnFile {
        materials: Vec<String>,
    },
    /// A numeric field compared with a constant (thresholds are configuration), in the field's
    /// own unit: an amount kept in 万元 is compared with a value in 万元.
    Compare {
        field: String,
        op: CompareOp,
        value: f64,
    },
    AllOf {
        guards: Vec<Guard>,
    },
    AnyOf {
        guards: Vec<Guard>,
    },
    Not {
        guard: Box<Guard>,
    },
    /// 民法典 §278 owners' decision, counted from a table field with a row per unit: areas
    /// per unit, heads per owner (the owner column names the same owner on each of their rows).
    OwnerConsent {
        table: String,
        columns: ConsentColumns,
        /// Share of the exclusive area and of the owners that must take part.
        participation_area: Fraction,
        participation_headcount: Fraction,
        /// Share that must agree, of `base`.
        approval_area: Fraction,
        approval_headcount: Fraction,
        base: ConsentBase,
        /// Some cities require that no owner objects.
        #[serde(default)]
        no_objection: bool,
    },
    /// No objection has been recorded during the public notice.
    NoObjections,
    HasObjections,
    /// A period of `days` (calendar days unless `unit = "working"`, counted on the region's
    /// calendar) has run since the filing entered the current state (a public notice of N
    /// days runs from the day after posting, 民法典 §201).
    PeriodElapsed {
        days: u32,
        #[serde(default = "calendar_days")]
        unit: DayUnit,
    },
    /// A select or boolean field holds one of the values (`{ kind = "field_in", field =
    /// "special_design_case", in = ["no_standard", …] }`).
    FieldIn {
        field: String,
        #[serde(rename = "in")]
        values: Vec<String>,
    },
    /// More than `days` (calendar or working, on the region's calendar) have run from the date
    /// in `field` to the date in `until`, or without `until` to the day the filing was
    /// submitted (today before it is): the builder's five working days to file after
    /// completion acceptance have passed; a public notice posted on one day and taken down on
    /// another lasted its fifteen working days.
    FieldPeriodElapsed {
        field: String,
        #[serde(default)]
        until: Option<String>,
        days: u32,
        #[serde(default = "calendar_days")]
        unit: DayUnit,
    },
}

/// A fact about a filing that an item declares and the service derives whenever it shows the
/// filing (a late filing): shown on the filing, never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    pub code: String,
    pub label: Text,
    /// The flag is raised when this guard holds.
    pub when: Guard,
}

/// What a document is, in law: it decides the document's standard wording, the law it cites,
/// and whether it tells the right to review or sue (行政许可法 §38 ¶2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// 受理通知书 (行政许可法 §32): dated and sealed.
    Acceptance,
    /// 不予受理决定书 (§32), with the reason and the remedies.
    RefusalToAccept,
    /// 补正材料告知书: everything to supplement, at once (§32 ¶1 (4)).
    Supplement,
    /// 准予行政许可决定书 (§38 ¶1).
    Approval,
    /// 不予行政许可决定书 (§38 ¶2), with the reasons and the remedies.
    Refusal,
    /// An electronic certificate (电子证照): identifier, permit number, QR code and seal.
    Certificate,
    /// A filing receipt (备案凭证).
    FilingReceipt,
    /// A review's or an inspection's written opinion (意见书, 检查记录, 结果通知书).
    Opinion,
}

impl DocumentKind {
    /// Whether the document tells the right to administrative review or litigation.
    pub fn tells_remedy(self) -> bool {
        matches!(self, DocumentKind::RefusalToAccept | DocumentKind::Refusal)
    }
}

/// A written instrument an item issues: which actions issue it and what it says. The layout is
/// the service's; the words are the kind's standard wording unless the item writes its own.
/// Texts may name `{item}`, `{filing_number}`, `{submitted_on}`, `{today}`, `{due_on}`,
/// `{applicant}`, `{authority}`, `{reason}`, `{opinion}` and `{form.<field>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentDef {
    pub code: String,
    pub kind: DocumentKind,
    /// The title; the kind's standard title when absent (a certificate or opinion needs one).
    #[serde(default)]
    pub title: Option<Text>,
    /// The actions that issue it.
    #[serde(default)]
    pub on: Vec<String>,
    /// The states whose entering issues it, by whichever action (a joint review's last verdict
    /// files the elevator).
    #[serde(default)]
    pub on_entering: Vec<String>,
    /// Whom it is addressed to, when not the builder (`{form.residential_area}全体业主`).
    #[serde(default)]
    pub addressee: Option<String>,
    /// Printed beside the title (备案凭证（抽中）).
    #[serde(default)]
    pub mark: Option<String>,
    /// The text, paragraph by paragraph (Chinese); the kind's standard text when empty.
    #[serde(default)]
    pub text: Vec<String>,
    /// Fields of the form printed in the document's table.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The law the document is issued under; the kind's when absent.
    #[serde(default)]
    pub basis: Option<String>,
    /// Tells the right to review or sue even when its kind does not (an unfavourable opinion).
    #[serde(default)]
    pub remedy: bool,
    /// The document is an electronic certificate.
    #[serde(default)]
    pub certificate: Option<CertificateDef>,
}

/// How an electronic certificate is identified, numbered and kept up to date after issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateDef {
    /// The certificate type in the national catalogue (the owner's credit code and 3 digits).
    pub type_code: String,
    /// Numbered as a construction permit (18 digits: division, date, serial of the day and the
    /// class from `class_field`), or with the filing number.
    #[serde(default)]
    pub numbering: CertNumbering,
    /// The field holding the permit's 2-digit professional class (01 … 19); `01` without it.
    #[serde(default)]
    pub class_field: Option<String>,
    /// The class code (2 digits) of each value of `class_field`.
    #[serde(default)]
    pub classes: BTreeMap<String, String>,
    /// How the certificate's validity day is labelled (有效期至; a permit's 开工期限).
    #[serde(default)]
    pub validity_label: Option<String>,
    /// The deadline whose day the certificate is valid until (works must start by it); an
    /// extension moves it.
    #[serde(default)]
    pub validity_deadline: Option<String>,
    /// Actions that issue a new version (变更): the old one is marked changed.
    #[serde(default)]
    pub reissue_on: Vec<String>,
    /// Actions after issue and the status each gives the certificate.
    #[serde(default)]
    pub status_on: BTreeMap<String, crate::domain::certificate::CertStatus>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertNumbering {
    #[default]
    Filing,
    Permit,
}

/// What an action asks of the person taking it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// A written reason (refusals, withdrawals, returns).
    Reason,
    /// A reviewer's opinion (审查意见).
    Opinion,
    /// approve / refuse, for a department's part of a joint review.
    Verdict,
    /// Written reasons, required when the verdict is refuse (行政许可法 §38: a refusal gives
    /// its reasons in writing) and optional otherwise.
    RefusalReason,
    /// Items the clerk adds to the one-time notice beyond what the engine finds missing.
    NoticeItems,
    /// The text of an objection raised during a public notice.
    Objection,
}

/// Effects the engine knows, beyond the change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// Give the filing its public number (per item prefix and year, without gaps).
    AssignNumber,
    /// 一次性告知: a notice listing everything missing or wrong, at once.
    IssueNotice,
    /// Record an objection raised during a public notice.
    RecordObjection,
    /// Record a department's verdict in a joint review; the last one joins.
    RecordReview,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewTask {
    pub department: String,
    pub label: Text,
}

/// Several departments review in parallel (并联审批); the state is left when all have answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Parallel {
    pub tasks: Vec<ReviewTask>,
    /// Where the filing goes when every department approved.
    pub on_approved: String,
    /// Where it goes when a department refused.
    pub on_refused: String,
    /// Leave at the first refusal instead of waiting for every department.
    #[serde(default)]
    pub refuse_immediately: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub code: String,
    pub kind: StateKind,
    pub label: Text,
    /// Overrides the kind's clock behaviour.
    #[serde(default)]
    pub clock: Option<ClockMode>,
    #[serde(default)]
    pub suspend_reason: Option<SuspendReason>,
    /// The staff role whose queue holds filings in this state.
    #[serde(default)]
    pub queue: Option<Role>,
    /// The department working this state, if not the item's.
    #[serde(default)]
    pub department: Option<String>,
    /// The applicant may edit the form and materials here (draft, supplement, rectification).
    #[serde(default)]
    pub applicant_edits: bool,
    /// A limit for this step alone (a spot-check inspection within 15 working days, ...).
    #[serde(default)]
    pub step_limit: Option<Limit>,
    #[serde(default)]
    pub parallel: Option<Parallel>,
}

impl State {
    pub fn clock_mode(&self) -> ClockMode {
        self.clock.unwrap_or_else(|| self.kind.default_clock())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub code: String,
    pub label: Text,
    pub from: Vec<String>,
    /// The target state; absent for actions that stay (record an objection, a review verdict).
    #[serde(default)]
    pub to: Option<String>,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub guards: Vec<Guard>,
    #[serde(default)]
    pub effects: Vec<EffectKind>,
    #[serde(default)]
    pub inputs: Vec<Input>,
    /// Fields of the form the person taking the action may change with it (a clerk confirms
    /// or corrects a declared project class; the issuer approves a change of contractor). A
    /// field not sent stays as it is; each change is validated and audited.
    #[serde(default)]
    pub sets: Vec<String>,
}

/// A parsed item definition. `version` and `digest` are assigned when it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub code: String,
    /// Prefix of public filing numbers, e.g. SGXK → SGXK-2025-000123.
    pub prefix: String,
    pub name: Text,
    /// The department that receives and handles filings unless a state says otherwise.
    pub department: String,
    pub basis: Vec<Text>,
    #[serde(default)]
    pub conditions: Vec<Text>,
    #[serde(default)]
    pub fees: Option<Text>,
    pub limits: Limits,
    pub initial: String,
    /// The form fields that name a filing in lists (the applicant's filings, the queue),
    /// joined by a space: a project's name, an estate and its building. Empty: the first text
    /// field.
    #[serde(default)]
    pub title: Vec<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
    /// Rules between two fields of the form (planned completion on or after planned start,
    /// contract price at most the investment), checked whenever both are filled in.
    #[serde(default)]
    pub relations: Vec<Relation>,
    #[serde(default)]
    pub materials: Vec<Material>,
    pub states: Vec<State>,
    pub actions: Vec<Action>,
    /// Free settings shown in the guide (notice lengths, thresholds), as written in the file.
    #[serde(default)]
    pub settings: BTreeMap<String, serde_json::Value>,
    /// Who is told what by email. Absent: the item sends nothing.
    #[serde(default)]
    pub notifications: Notifications,
    /// Deadlines on the applicant (start of works, rectification), with reminders.
    #[serde(default)]
    pub deadlines: Vec<ApplicantDeadline>,
    /// Facts derived from the filing and shown on it (a late filing).
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// The written instruments the item issues (受理通知书, 决定书, 证照, 凭证).
    #[serde(default)]
    pub documents: Vec<DocumentDef>,
    /// How the office's work report counts the item (LAW.md §8).
    #[serde(default)]
    pub report: Option<WorkReport>,
    /// How the item is reported to the province's 工程建设项目审批管理系统 (LAW.md §7.1).
    #[serde(default)]
    pub exchange: Option<Exchange>,
}

/// The item in the SPGL data exchange: its code in the province's catalogue and the BLZT code
/// (办理状态) each transition is reported with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// SPSXBM: the item's code in the province's catalogue (事项编码).
    pub item_code: String,
    /// SPSXBBH: the version of that code.
    pub item_version: String,
    /// The BLZT codes (1–15) of each reported transition, keyed by action (`approve`) or by
    /// action and the state it leads to (`review:filed`, for an action with several ends); an
    /// action may report several rows in order (`pass_inspection = [10, 11]`).
    pub blzt: BTreeMap<String, Codes>,
    /// Codes used instead when the filing was accepted with tolerated materials (容缺受理):
    /// `approve = 12` (办结（容缺通过）).
    #[serde(default)]
    pub tolerated: BTreeMap<String, Codes>,
    /// Actions deliberately not reported (the life of a permit after its issue, internal
    /// steps). Every action is either reported or listed here.
    #[serde(default)]
    pub not_reported: Vec<String>,
}

/// One BLZT code or several, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Codes {
    One(u8),
    Many(Vec<u8>),
}

impl Codes {
    pub fn list(&self) -> &[u8] {
        match self {
            Codes::One(c) => std::slice::from_ref(c),
            Codes::Many(v) => v,
        }
    }
}

/// BLZT 9 and 10: a special procedure (特别程序) starts and ends.
pub const BLZT_SPECIAL_START: u8 = 9;
pub const BLZT_SPECIAL_END: u8 = 10;

impl Exchange {
    /// The codes a transition is reported with (none: not reported).
    pub fn codes(&self, action: &str, to: &str, tolerated: bool) -> &[u8] {
        fn find<'m>(m: &'m BTreeMap<String, Codes>, action: &str, to: &str) -> Option<&'m Codes> {
            m.get(&format!("{action}:{to}")).or_else(|| m.get(action))
        }
        if tolerated && let Some(c) = find(&self.tolerated, action, to) {
            return c.list();
        }
        find(&self.blzt, action, to).map_or(&[], Codes::list)
    }
}

/// The item in the period work report: its categories and its sentence in the bureau's wording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkReport {
    /// `受理{item}{received}件（其中{selected}件抽中，…）`: `{item}`, `{received}`, `{decided}`,
    /// `{open}` and each category's code.
    pub sentence: Text,
    #[serde(default)]
    pub categories: Vec<ReportCategory>,
}

/// A category of the filings received in the period: those now in some states, or those that
/// ever entered some states; counted, or summing a number field (elevators, 台).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportCategory {
    pub code: String,
    pub label: Text,
    #[serde(default)]
    pub state_in: Vec<String>,
    #[serde(default)]
    pub ever_entered: Vec<String>,
    /// A number field to sum instead of counting filings.
    #[serde(default)]
    pub sum: Option<String>,
    /// Only filings handled online from end to end (全流程网络办理): submitted online or from a
    /// phone (GB/T 39046 A.5) and given an electronic certificate.
    #[serde(default)]
    pub online: bool,
}

/// Which notifications an item sends (DESIGN principle 6: rendered into the outbox in the
/// transaction that causes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// What the applicant is told as the filing moves.
    #[serde(default)]
    pub applicant: Vec<ApplicantEvent>,
    /// The department's managers are told when a filing's clock turns yellow or red.
    #[serde(default)]
    pub managers: Vec<Escalation>,
    /// Staff working this item's queues get it in their daily digest.
    #[serde(default)]
    pub clerk_digest: bool,
    /// Working days before a 容缺 promise date on which the applicant is reminded (0: that day).
    #[serde(default)]
    pub promise_reminders: Vec<u32>,
    /// Further states the applicant is told of entering (a filing receipt, a spot-check draw).
    #[serde(default)]
    pub on_entering: Vec<String>,
}

/// A moment in a filing's life the applicant is told of.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantEvent {
    /// Submitted and numbered (收件).
    Received,
    /// Accepted for processing (受理): the statutory clock starts.
    Accepted,
    /// 一次性告知: everything to supplement, in one notice.
    SupplementRequested,
    /// §45: the clock stops for expert review, public notice, testing … (told in writing).
    ClockSuspended,
    ClockResumed,
    /// A decision: approved, refused, not accepted.
    Decided,
    /// One of the states listed in `notifications.on_entering`.
    StateEntered,
}

impl ApplicantEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantEvent::Received => "received",
            ApplicantEvent::Accepted => "accepted",
            ApplicantEvent::SupplementRequested => "supplement_requested",
            ApplicantEvent::ClockSuspended => "clock_suspended",
            ApplicantEvent::ClockResumed => "clock_resumed",
            ApplicantEvent::Decided => "decided",
            ApplicantEvent::StateEntered => "state_entered",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// 黄牌: the warning day of the running clock has come.
    Yellow,
    /// 红牌: the running clock's due day has passed.
    Red,
}

impl Escalation {
    pub fn as_str(self) -> &'static str {
        match self {
            Escalation::Yellow => "yellow",
            Escalation::Red => "red",
        }
    }
}

/// A deadline on the applicant that starts when the filing enters a state: work must start
/// within 3 months of the permit (建筑法 §9), rectification within the period ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantDeadline {
    pub code: String,
    pub label: Text,
    /// Counted from the day the filing enters this state (民法典 §201: that day not counted).
    pub on_entering: String,
    pub within: Within,
    /// Working days before the deadline on which the applicant is reminded (0: on the day).
    pub remind_before: Vec<u32>,
    /// The deadline lapses when the filing leaves the state (a rectification ends with the
    /// re-check request, a permit's start of works with the start report); otherwise it
    /// stands until its day.
    #[serde(default)]
    pub ends_on_leaving: bool,
    /// An action that moves the deadline on, applied for before it passes and a limited number
    /// of times (建筑法 §9: at most twice, three months each).
    #[serde(default)]
    pub extension: Option<Extension>,
    /// The action the service takes itself, as `system`, when the deadline passes still open
    /// (the permit lapses, 废止). It leaves the state, which ends the deadline.
    #[serde(default)]
    pub on_expiry: Option<String>,
}

/// How a deadline on the applicant is extended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// The action that extends it (taken in the deadline's state; it stays there).
    pub action: String,
    /// Each extension, counted on from the day the deadline was due.
    pub within: Within,
    /// How many times it may be extended.
    pub max: u32,
}

/// A period: `{ months = 3 }` (民法典 §202: ends on the same day of the last month) or
/// `{ days = 30, unit = "calendar" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawWithin", into = "RawWithin")]
pub enum Within {
    Months(u32),
    Days(Limit),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWithin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    months: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<DayUnit>,
}

impl TryFrom<RawWithin> for Within {
    type Error = String;

    fn try_from(r: RawWithin) -> Result<Self, Self::Error> {
        match (r.months, r.days, r.unit) {
            (Some(m), None, None) => Ok(Within::Months(m)),
            (None, Some(days), Some(unit)) => Ok(Within::Days(Limit { days, unit })),
            (None, Some(_), None) => {
                Err("`within` with `days` needs `unit` (\"working\" or \"calendar\")".into())
            }
            _ => Err(
                "`within` is either `{ months = N }` or `{ days = N, unit = \"working\" }`".into(),
            ),
        }
    }
}

impl From<Within> for RawWithin {
    fn from(w: Within) -> Self {
        match w {
            Within::Months(m) => RawWithin {
                months: Some(m),
                days: None,
                unit: None,
            },
            Within::Days(l) => RawWithin {
                months: None,
                days: Some(l.days),
                unit: Some(l.unit),
            },
        }
    }
}

impl Definition {
    pub fn state(&self, code: &str) -> Option<&State> {
        self.states.iter().find(|s| s.code == code)
    }

    /// What names a filing of this item in a list: its [`Definition::title`] fields' values
    /// (text as written, numbers as numbers), joined by a space; empty when none is filled in.
    pub fn title_of(&self, form: &serde_json::Value) -> String {
        let first_text = || {
            self.fields
                .iter()
                .find(|f| matches!(f.ty, FieldType::Text { .. }) && !f.personal)
                .map(|f| f.code.as_str())
        };
        let codes: Vec<&str> = if self.title.is_empty() {
            first_text().into_iter().collect()
        } else {
            self.title.iter().map(String::as_str).collect()
        };
        codes
            .iter()
            .filter_map(|c| match form.get(*c)? {
                serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn action(&self, code: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.code == code)
    }

    /// The documents an action issues (a reissue of a certificate included), `entered` being
    /// the state it enters, if it changes state.
    pub fn documents_on<'a>(
        &'a self,
        action: &'a str,
        entered: Option<&'a str>,
    ) -> impl Iterator<Item = &'a DocumentDef> + 'a {
        self.documents.iter().filter(move |d| {
            d.on.iter().any(|a| a == action)
                || entered.is_some_and(|s| d.on_entering.iter().any(|x| x == s))
                || d.certificate
                    .as_ref()
                    .is_some_and(|c| c.reissue_on.iter().any(|a| a == action))
        })
    }

    pub fn field(&self, code: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.code == code)
    }

    pub fn material(&self, code: &str) -> Option<&Material> {
        self.materials.iter().find(|m| m.code == code)
    }

    /// Actions that may be taken from `state`, in definition order.
    pub fn actions_from<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a Action> + 'a {
        self.actions
            .iter()
            .filter(move |a| a.from.iter().any(|f| f == state))
    }

    /// The department working a state.
    pub fn department_of<'a>(&'a self, state: &'a State) -> &'a str {
        state.department.as_deref().unwrap_or(&self.department)
    }
}
