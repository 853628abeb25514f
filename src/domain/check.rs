//! The definition checker: an item definition is refused when it is loaded, not when a filing
//! runs into its mistake months later.
//!
//! Policy:
//! - Every rule is checked and every violation reported, each with the place it is in ("state
//!   `review`", "guard of action `accept`") and what is wrong, so that whoever edits an item file
//!   fixes it in one pass. The service refuses to start on a definition with any error.
//! - The checker proves what the engine relies on and cannot check cheaply at run time: every
//!   name refers to something that exists, every state can be reached, a closed filing never moves,
//!   and no filing can be trapped where no final state is reachable.
//! - Nothing here knows a particular item: the rules are about the vocabulary of
//!   [`super::definition`] only.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

use serde_json::Value;

use super::consent;
use super::definition::{
    ConsentColumns, Definition, EffectKind, Field, FieldType, Guard, Input, Limit, MoneyUnit, Role,
    State, StateKind, Text,
};
use super::forms;

/// One thing wrong in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// Where: "code", "prefix", "state `review`", "action `accept`", "field `investment`",
    /// "material `drawings`", "guard of action `accept`", "syntax".
    pub place: String,
    pub message: String,
}

/// Everything wrong in one definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub file: String,
    pub errors: Vec<CheckError>,
}

impl fmt::Display for DefinitionError {
    /// One line per error: `<file>: <place>: <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}: {}", self.file, e.place, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for DefinitionError {}

/// File types a material may accept: documents, scans, drawings and archives of them.
pub const FILE_TYPES: [&str; 11] = [
    "pdf", "jpg", "jpeg", "png", "ofd", "dwg", "zip", "doc", "docx", "xls", "xlsx",
];
/// The largest upload a material may allow, in MiB.
pub const MAX_MB: u32 = 100;

/// Read a definition from TOML and check it. A syntax or shape error (an unknown key, a wrong
/// type) is one error at place "syntax" with its line and column; otherwise every rule violation.
pub fn parse(file: &str, text: &str) -> Result<Definition, DefinitionError> {
    parse_with(file, text, None).map(|(def, _)| def)
}

/// [`parse`] with the region's rules for the item (values for its settings); the definition,
/// and the text it was read from once its setting references were resolved (what a stored
/// version is made of).
pub fn parse_with(
    file: &str,
    text: &str,
    rules: Option<&toml_edit::Table>,
) -> Result<(Definition, String), DefinitionError> {
    let failed = |errors| DefinitionError {
        file: file.to_owned(),
        errors,
    };
    // Read once as plain TOML for the syntax (its errors carry the position), then as an
    // editable document.
    toml::from_str::<toml::Table>(text).map_err(|e| failed(vec![syntax_error(text, &e)]))?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        failed(vec![CheckError {
            place: "syntax".into(),
            message: one_line(&e.to_string()),
        }])
    })?;
    let unresolved = super::settings::resolve(&mut doc, rules);
    if !unresolved.is_empty() {
        return Err(failed(
            unresolved
                .into_iter()
                .map(|u| CheckError {
                    place: u.place,
                    message: u.message,
                })
                .collect(),
        ));
    }
    let resolved = doc.to_string();
    let def: Definition =
        toml::from_str(&resolved).map_err(|e| failed(vec![syntax_error(&resolved, &e)]))?;
    let errors = check(&def);
    if errors.is_empty() {
        Ok((def, resolved))
    } else {
        Err(DefinitionError {
            file: file.to_owned(),
            errors,
        })
    }
}

fn syntax_error(text: &str, e: &toml::de::Error) -> CheckError {
    // toml's own Display draws the offending line over several lines; the report is one line per
    // error, so the position is spelled out instead.
    let msg = one_line(e.message());
    let message = match e.span().and_then(|s| text.get(..s.start)) {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {msg}")
        }
        None => msg,
    };
    CheckError {
        place: "syntax".into(),
        message,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Check a parsed definition. Empty means good.
pub fn check(def: &Definition) -> Vec<CheckError> {
    let mut c = Checker {
        def,
        errors: Vec::new(),
    };
    c.item();
    c.unique_codes();
    c.fields();
    c.title();
    c.relations();
    c.materials();
    c.states();
    c.actions();
    c.graph();
    c.notifications();
    c.flags();
    c.documents();
    c.report();
    c.exchange();
    c.errors
}

struct Checker<'d> {
    def: &'d Definition,
    errors: Vec<CheckError>,
}

fn state_place(code: &str) -> String {
    format!("state `{code}`")
}

fn action_place(code: &str) -> String {
    format!("action `{code}`")
}

/// Codes of states, actions, fields and materials appear in paths (`form.<code>[3].area`), URLs
/// and diagrams: plain lower-case ASCII keeps them safe in all of them.
fn is_member_code(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && s.len() <= 64
}

fn blank(t: &Text) -> bool {
    t.zh.trim().is_empty() || t.en.trim().is_empty()
}

impl<'d> Checker<'d> {
    fn err(&mut self, place: impl Into<String>, message: impl Into<String>) {
        self.errors.push(CheckError {
            place: place.into(),
            message: message.into(),
        });
    }

    /// The title names fields of the form that are not personal data (it is shown in lists).
    fn title(&mut self) {
        let def = self.def;
        for code in &def.title {
            match def.fields.iter().find(|f| &f.code == code) {
                None => self.err("title", format!("`{code}` is not a field of the form")),
                Some(f) if f.personal => self.err(
                    "title",
                    format!("`{code}` is personal data and would be shown in every list"),
                ),
                Some(_) => {}
            }
        }
    }

    fn item(&mut self) {
        let def = self.def;
        let code_ok = {
            let mut chars = def.code.chars();
            chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if !code_ok {
            self.err(
                "code",
                format!(
                    "`{}` is not a lower-case kebab code: letters a-z, digits and `-`, starting with a letter",
                    def.code
                ),
            );
        }
        if !(2..=8).contains(&def.prefix.len())
            || !def.prefix.bytes().all(|b| b.is_ascii_uppercase())
        {
            self.err(
                "prefix",
                format!(
                    "`{}` must be 2 to 8 upper-case letters A-Z (it starts every filing number)",
                    def.prefix
                ),
            );
        }
        if blank(&def.name) {
            self.err("name", "the item needs a name in Chinese and in English");
        }
        if def.department.trim().is_empty() {
            self.err(
                "department",
                "the department handling the item must not be empty",
            );
        }
        if def.basis.is_empty() {
            self.err(
                "basis",
                "at least one legal basis is required (it is shown in the service guide)",
            );
        }
        if def.basis.iter().any(blank) {
            self.err("basis", "every legal basis needs Chinese and English text");
        }
        let limits = &def.limits;
        self.limit("limits", "statutory", Some(limits.statutory));
        self.limit("limits", "promised", limits.promised);
        self.limit("limits", "completeness", limits.completeness);
        for (reason, days) in &limits.suspension_caps {
            if *days < 1 {
                self.err(
                    "limits.suspension_caps",
                    format!("the cap on `{}` must be at least 1 day", reason.as_str()),
                );
            }
            if !self
                .def
                .states
                .iter()
                .any(|s| s.suspend_reason == Some(*reason))
            {
                self.err(
                    "limits.suspension_caps",
                    format!(
                        "caps `{}`, but no state suspends the clock for it",
                        reason.as_str()
                    ),
                );
            }
        }
        if let super::definition::Warning::Share(f) = limits.warning
            && f.more_than
        {
            self.err(
                "limits.warning",
                "a warning share is the share of the limit used, written like 4/5, without `>`",
            );
        }
        if let Some(p) = limits.promised
            && p.unit == limits.statutory.unit
            && p.days > limits.statutory.days
        {
            self.err(
                "limits",
                format!(
                    "the promised limit ({} days) is longer than the statutory limit ({} days); \
                     a promise may only be shorter",
                    p.days, limits.statutory.days
                ),
            );
        }
    }

    /// Reminders and deadlines on the applicant: codes unique and safe, states known, periods
    /// and lead times sensible.
    fn notifications(&mut self) {
        let def = self.def;
        let n = &def.notifications;
        if n.promise_reminders.iter().any(|d| *d > 60) {
            self.err(
                "notifications.promise_reminders",
                "a reminder more than 60 working days ahead is not a reminder",
            );
        }
        if !n.promise_reminders.is_empty()
            && !def
                .materials
                .iter()
                .any(|m| m.requirement == crate::domain::definition::Requirement::Tolerable)
        {
            self.err(
                "notifications.promise_reminders",
                "the item has no tolerable (容缺) material, so no promise dates to remind of",
            );
        }
        for code in &n.on_entering {
            if def.state(code).is_none() {
                self.err(
                    "notifications.on_entering",
                    format!("names the unknown state `{code}`"),
                );
            }
        }
        if n.applicant
            .contains(&crate::domain::definition::ApplicantEvent::StateEntered)
        {
            self.err(
                "notifications.applicant",
                "`state_entered` is implied by `on_entering`: list the states there",
            );
        }
        let mut seen = HashSet::new();
        for d in &def.deadlines {
            let place = format!("deadline `{}`", d.code);
            if !is_member_code(&d.code) {
                self.err(
                    &place,
                    "the code must be lower-case ASCII letters, digits, `_` or `-`",
                );
            }
            if !seen.insert(d.code.as_str()) {
                self.err(&place, "the code is used twice");
            }
            if blank(&d.label) {
                self.err(
                    &place,
                    "the deadline needs a label in Chinese and in English",
                );
            }
            if def.state(&d.on_entering).is_none() {
                self.err(
                    &place,
                    format!("`on_entering` names the unknown state `{}`", d.on_entering),
                );
            }
            self.within(&place, "within", d.within);
            if d.remind_before.is_empty() {
                self.err(
                    &place,
                    "give at least one reminder (`remind_before = [5, 1]`)",
                );
            }
            if d.remind_before.iter().any(|x| *x > 60) {
                self.err(
                    &place,
                    "a reminder more than 60 working days ahead is not a reminder",
                );
            }
            self.deadline_life(d, &place);
        }
        // The service takes an action only when a deadline expires, or as the spot check's
        // draw (`domain::draw`: its two actions, in an item with draw rules): a `system`
        // action nothing triggers would never be taken, and one shared with people would be
        // theirs to take.
        match crate::domain::draw::Rules::from_settings(&def.settings) {
            Ok(Some(_)) => {
                for code in crate::domain::draw::ACTIONS {
                    if def
                        .action(code)
                        .is_none_or(|a| !a.roles.contains(&Role::System))
                    {
                        self.err(
                            action_place(code),
                            "an item that draws (spot_check_ratios) needs this action, for the `system` role",
                        );
                    }
                }
            }
            Ok(None) => {}
            Err(problems) => {
                for p in problems {
                    self.err("settings", &p);
                }
            }
        }
        let draws = def.settings.contains_key(crate::domain::draw::RATIOS);
        for a in &def.actions {
            if !a.roles.contains(&Role::System) {
                continue;
            }
            let place = action_place(&a.code);
            if a.roles.len() > 1 {
                self.err(
                    &place,
                    "the `system` role cannot share an action with people: the service takes it alone",
                );
            }
            let drawn = draws && crate::domain::draw::ACTIONS.contains(&a.code.as_str());
            if !drawn
                && !def
                    .deadlines
                    .iter()
                    .any(|d| d.on_expiry.as_deref() == Some(a.code.as_str()))
            {
                self.err(
                    &place,
                    "an action of the `system` role must be a deadline's `on_expiry`: nothing else takes it",
                );
            }
        }
    }

    /// Flags: a code each, a label, and a guard that could hold.
    fn flags(&mut self) {
        let def = self.def;
        let mut seen = HashSet::new();
        for f in &def.flags {
            let place = format!("flag `{}`", f.code);
            if !is_member_code(&f.code) {
                self.err(
                    &place,
                    "the code must be lower-case ASCII letters, digits, `_` or `-`",
                );
            }
            if !seen.insert(f.code.as_str()) {
                self.err(&place, "the code is used twice");
            }
            if blank(&f.label) {
                self.err(&place, "the flag needs a label in Chinese and in English");
            }
            self.guard(&place, &f.when);
        }
    }

    fn report(&mut self) {
        let def = self.def;
        let Some(r) = &def.report else { return };
        if blank(&r.sentence) {
            self.err("report", "the sentence needs Chinese and English");
        }
        let mut seen = HashSet::new();
        for c in &r.categories {
            let place = format!("report category `{}`", c.code);
            if !is_member_code(&c.code)
                || ["item", "received", "decided", "open"].contains(&c.code.as_str())
            {
                self.err(
                    &place,
                    "the code must be a lower-case code other than item, received, decided, open",
                );
            }
            if !seen.insert(c.code.as_str()) {
                self.err(&place, "the code is used twice");
            }
            if c.state_in.is_empty() == c.ever_entered.is_empty() {
                self.err(&place, "give exactly one of `state_in` and `ever_entered`");
            }
            for s in c.state_in.iter().chain(&c.ever_entered) {
                if def.state(s).is_none() {
                    self.err(&place, format!("names the unknown state `{s}`"));
                }
            }
            if let Some(f) = &c.sum
                && def.field(f).is_none()
            {
                self.err(&place, format!("sums the unknown field `{f}`"));
            }
        }
    }

    /// The SPGL exchange: known actions and states, BLZT codes in 1–15, and every action either
    /// reported or deliberately not.
    fn exchange(&mut self) {
        let def = self.def;
        let Some(x) = &def.exchange else { return };
        if x.item_code.trim().is_empty() || x.item_version.trim().is_empty() {
            self.err("exchange", "give the item's `item_code` and `item_version`");
        }
        let mut reported = HashSet::new();
        for (table, map) in [("blzt", &x.blzt), ("tolerated", &x.tolerated)] {
            for (key, codes) in map {
                let place = format!("exchange {table} `{key}`");
                let (action, to) = match key.split_once(':') {
                    Some((a, t)) => (a, Some(t)),
                    None => (key.as_str(), None),
                };
                match def.actions.iter().find(|a| a.code == action) {
                    None => self.err(&place, format!("names the unknown action `{action}`")),
                    Some(_) => {
                        if table == "blzt" {
                            reported.insert(action.to_owned());
                        }
                    }
                }
                if let Some(t) = to
                    && def.state(t).is_none()
                {
                    self.err(&place, format!("names the unknown state `{t}`"));
                }
                if codes.list().is_empty() {
                    self.err(&place, "give at least one BLZT code");
                }
                for c in codes.list() {
                    if !(1..=15).contains(c) {
                        self.err(&place, format!("{c} is not a BLZT code (1–15)"));
                    }
                }
                if table == "tolerated" && !x.blzt.contains_key(key) {
                    self.err(
                        &place,
                        "a tolerated code replaces a `blzt` code: give that first",
                    );
                }
            }
        }
        for a in &x.not_reported {
            let place = format!("exchange not_reported `{a}`");
            if def.actions.iter().all(|d| &d.code != a) {
                self.err(&place, format!("names the unknown action `{a}`"));
            }
            if reported.contains(a) {
                self.err(&place, "the action is also given a BLZT code");
            }
        }
        let unmapped: Vec<&str> = def
            .actions
            .iter()
            .map(|a| a.code.as_str())
            .filter(|a| !reported.contains(*a) && !x.not_reported.iter().any(|n| n == a))
            .collect();
        if !unmapped.is_empty() {
            self.err(
                "exchange",
                format!(
                    "every action is reported or listed in `not_reported`; these are neither: {}",
                    unmapped.join(", ")
                ),
            );
        }
    }

    fn documents(&mut self) {
        use crate::domain::definition::{CertNumbering, DocumentKind};
        let def = self.def;
        let mut seen = HashSet::new();
        for d in &def.documents {
            let place = format!("document `{}`", d.code);
            if !is_member_code(&d.code) {
                self.err(
                    &place,
                    "the code must be lower-case ASCII letters, digits, `_` or `-`",
                );
            }
            if !seen.insert(d.code.as_str()) {
                self.err(&place, "the code is used twice");
            }
            if d.title.as_ref().is_some_and(blank) {
                self.err(&place, "the title needs Chinese and English");
            }
            let needs_title = matches!(d.kind, DocumentKind::Certificate | DocumentKind::Opinion);
            if needs_title && d.title.is_none() {
                self.err(&place, "a certificate or an opinion needs its own `title`");
            }
            if d.on.is_empty() && d.on_entering.is_empty() {
                self.err(
                    &place,
                    "`on` or `on_entering` must name the actions or states that issue it",
                );
            }
            for s in &d.on_entering {
                if def.state(s).is_none() {
                    self.err(
                        &place,
                        format!("`on_entering` names the unknown state `{s}`"),
                    );
                }
            }
            let mut actions: Vec<&String> = d.on.iter().collect();
            if let Some(c) = &d.certificate {
                actions.extend(c.reissue_on.iter());
                actions.extend(c.status_on.keys());
            }
            for a in actions {
                if def.action(a).is_none() {
                    self.err(&place, format!("names the unknown action `{a}`"));
                }
            }
            for f in &d.fields {
                if def.field(f).is_none() {
                    self.err(&place, format!("prints the unknown field `{f}`"));
                }
            }
            match (&d.certificate, d.kind) {
                (Some(c), DocumentKind::Certificate) => {
                    let code_ok = !c.type_code.is_empty()
                        && c.type_code
                            .chars()
                            .all(|ch| ch.is_ascii_digit() || ch.is_ascii_uppercase());
                    if !code_ok {
                        self.err(
                            &place,
                            "`certificate.type_code` must be digits and capital letters (GB/T 36904)",
                        );
                    }
                    if let Some(f) = &c.class_field
                        && def.field(f).is_none()
                    {
                        self.err(
                            &place,
                            format!("`class_field` names the unknown field `{f}`"),
                        );
                    }
                    if c.classes
                        .values()
                        .any(|v| v.len() != 2 || !v.chars().all(|ch| ch.is_ascii_digit()))
                    {
                        self.err(
                            &place,
                            "`classes` maps values to 2-digit class codes (01 … 19)",
                        );
                    }
                    if c.class_field.is_some() && c.numbering != CertNumbering::Permit {
                        self.err(
                            &place,
                            "`class_field` is used by `numbering = \"permit\"` only",
                        );
                    }
                    if let Some(dl) = &c.validity_deadline
                        && !def.deadlines.iter().any(|x| &x.code == dl)
                    {
                        self.err(
                            &place,
                            format!("`validity_deadline` names the unknown deadline `{dl}`"),
                        );
                    }
                }
                (None, DocumentKind::Certificate) => {
                    self.err(&place, "a certificate needs its `certificate` table")
                }
                (Some(_), _) => self.err(
                    &place,
                    "only a `certificate` kind has a `certificate` table",
                ),
                (None, _) => {}
            }
        }
    }

    /// A period of a deadline: up to ten years.
    fn within(&mut self, place: &str, key: &str, w: crate::domain::definition::Within) {
        use crate::domain::definition::Within;
        match w {
            Within::Months(m) if !(1..=120).contains(&m) => {
                self.err(place, format!("`{key}.months` must be between 1 and 120"))
            }
            Within::Days(l) if !(1..=3660).contains(&l.days) => {
                self.err(place, format!("`{key}.days` must be between 1 and 3660"))
            }
            _ => {}
        }
    }

    /// A deadline's extension and expiry name actions that can be taken while it runs.
    fn deadline_life(&mut self, d: &crate::domain::definition::ApplicantDeadline, place: &str) {
        let def = self.def;
        if let Some(e) = &d.extension {
            match def.action(&e.action) {
                None => self.err(
                    place,
                    format!("`extension.action` names the unknown action `{}`", e.action),
                ),
                Some(a) => {
                    if !a.from.contains(&d.on_entering) {
                        self.err(
                            place,
                            format!(
                                "the extension action `{}` cannot be taken in `{}`, where the deadline runs",
                                a.code, d.on_entering
                            ),
                        );
                    }
                    if a.to.is_some() {
                        self.err(
                            place,
                            format!(
                                "the extension action `{}` must not have `to`: leaving the state would end the deadline it extends",
                                a.code
                            ),
                        );
                    }
                }
            }
            if e.max < 1 {
                self.err(place, "`extension.max` must be at least 1");
            }
            self.within(place, "extension.within", e.within);
        }
        if let Some(code) = &d.on_expiry {
            if !d.ends_on_leaving {
                self.err(
                    place,
                    "a deadline with `on_expiry` needs `ends_on_leaving = true`: the expiry's action leaves the state and so ends it",
                );
            }
            match def.action(code) {
                None => self.err(
                    place,
                    format!("`on_expiry` names the unknown action `{code}`"),
                ),
                Some(a) => {
                    if !a.from.contains(&d.on_entering) {
                        self.err(
                            place,
                            format!(
                                "the expiry action `{code}` cannot be taken in `{}`, where the deadline runs",
                                d.on_entering
                            ),
                        );
                    }
                    if a.to.as_deref().is_none_or(|t| t == d.on_entering) {
                        self.err(
                            place,
                            format!("the expiry action `{code}` must leave `{}`", d.on_entering),
                        );
                    }
                    if a.roles != [Role::System] {
                        self.err(
                            place,
                            format!(
                                "the expiry action `{code}` must have `roles = [\"system\"]`: the service takes it"
                            ),
                        );
                    }
                }
            }
        }
    }

    fn limit(&mut self, place: &str, what: &str, limit: Option<Limit>) {
        if let Some(l) = limit
            && l.days < 1
        {
            self.err(place, format!("the {what} limit must be at least 1 day"));
        }
    }

    fn unique_codes(&mut self) {
        let def = self.def;
        let groups: [(&str, Vec<&str>); 4] = [
            (
                "state",
                def.states.iter().map(|s| s.code.as_str()).collect(),
            ),
            (
                "action",
                def.actions.iter().map(|a| a.code.as_str()).collect(),
            ),
            (
                "field",
                def.fields.iter().map(|f| f.code.as_str()).collect(),
            ),
            (
                "material",
                def.materials.iter().map(|m| m.code.as_str()).collect(),
            ),
        ];
        for (kind, codes) in groups {
            let mut seen = HashSet::new();
            let mut reported = HashSet::new();
            for code in codes {
                if !is_member_code(code) {
                    self.err(
                        format!("{kind} `{code}`"),
                        "the code must be lower-case letters, digits, `_` or `-`, start with a letter \
                         and be at most 64 characters",
                    );
                }
                if !seen.insert(code) && reported.insert(code) {
                    self.err(
                        format!("{kind} `{code}`"),
                        format!("the code is used by more than one {kind}; codes must be unique"),
                    );
                }
            }
        }
    }

    /// A condition names a select or boolean field of the item and values it can hold.
    fn condition(&mut self, place: &str, c: &crate::domain::definition::Condition) {
        self.condition_as(place, "required_when", c);
    }

    /// A condition (`required_when`, a `field_in` guard) names a select or boolean field of the
    /// item and values it can hold; `what` names it in the errors.
    fn condition_as(&mut self, place: &str, what: &str, c: &crate::domain::definition::Condition) {
        let Some(f) = self.def.field(&c.field) else {
            self.err(
                place,
                format!("{what} names the field `{}`, which does not exist", c.field),
            );
            return;
        };
        let allowed: Vec<String> = match &f.ty {
            FieldType::Select { options } => options.iter().map(|o| o.value.clone()).collect(),
            FieldType::Boolean => vec!["true".into(), "false".into()],
            _ => {
                self.err(
                    place,
                    format!(
                        "{what} names `{}`, which is neither a select nor a boolean field",
                        c.field
                    ),
                );
                return;
            }
        };
        if c.values.is_empty() {
            self.err(place, format!("{what} lists no value (`in = [...]`)"));
        }
        for v in &c.values {
            if !allowed.contains(v) {
                self.err(
                    place,
                    format!(
                        "{what}: `{}` can never be `{v}` (it is one of {})",
                        c.field,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn relations(&mut self) {
        for (i, r) in self.def.relations.iter().enumerate() {
            let place = format!("relation {} (`{}` and `{}`)", i + 1, r.field, r.other);
            let kind = |code: &str| self.def.field(code).map(|f| forms::comparable_kind(&f.ty));
            match (kind(&r.field), kind(&r.other)) {
                (None, _) | (_, None) => {
                    for code in [&r.field, &r.other] {
                        if self.def.field(code).is_none() {
                            self.err(
                                &place,
                                format!("names the field `{code}`, which does not exist"),
                            );
                        }
                    }
                }
                (Some(None), _) | (_, Some(None)) => self.err(
                    &place,
                    "compares a field that is neither a date nor a number",
                ),
                (Some(Some(a)), Some(Some(b))) if a != b => {
                    self.err(&place, format!("compares a {a} with a {b}"))
                }
                _ if r.field == r.other => self.err(&place, "compares a field with itself"),
                _ => {}
            }
        }
    }

    /// Fields, and the columns of tables as fields of their own (`field `owners`, column
    /// `unit``): each is checked by the same rules.
    fn fields(&mut self) {
        let def = self.def;
        let columns = def.fields.iter().flat_map(|f| {
            let columns = match &f.ty {
                FieldType::Table { columns, .. } => columns.as_slice(),
                _ => &[],
            };
            columns
                .iter()
                .map(move |c| (format!("field `{}`, column `{}`", f.code, c.code), c))
        });
        let fields = def
            .fields
            .iter()
            .map(|f| (format!("field `{}`", f.code), f));
        for (place, f) in fields.chain(columns) {
            if blank(&f.label) {
                self.err(&place, "the label needs Chinese and English text");
            }
            // People type an amount in the unit its label names: the two must agree.
            if let FieldType::Amount { unit, .. } = &f.ty {
                let says = f.label.zh.contains("万元");
                if says != (*unit == MoneyUnit::TenThousandYuan) {
                    self.err(
                        &place,
                        format!(
                            "the amount is kept in {} (`unit`) but its Chinese label {} 万元",
                            unit.as_str(),
                            if says { "says" } else { "does not say" }
                        ),
                    );
                }
            }
            if let Some(c) = &f.required_when {
                if f.required {
                    self.err(&place, "a field is `required` or `required_when`, not both");
                }
                if c.field == f.code {
                    self.err(&place, "required_when cannot depend on the field itself");
                }
                self.condition(&place, c);
            }
            match &f.ty {
                FieldType::Text {
                    min_len,
                    max_len,
                    pattern,
                } => {
                    let max = max_len.map_or(forms::TEXT_CAP, |m| m as usize);
                    if let Some(min) = min_len
                        && *min as usize > max
                    {
                        self.err(
                            &place,
                            format!("min_len {min} is more than the longest allowed text ({max})"),
                        );
                    }
                    if *max_len == Some(0) {
                        self.err(&place, "max_len 0 allows no text at all");
                    }
                    if let Some(p) = pattern
                        && let Err(e) = forms::compile_pattern(p)
                    {
                        self.err(
                            &place,
                            format!("the pattern does not compile: {}", regex_message(&e)),
                        );
                    }
                }
                FieldType::Integer { min, max } => {
                    if let (Some(lo), Some(hi)) = (min, max)
                        && lo > hi
                    {
                        self.err(&place, format!("min {lo} is more than max {hi}"));
                    }
                }
                FieldType::Amount { min, max, .. } | FieldType::Area { min, max } => {
                    let mut exact = |name: &str, x: Option<f64>| -> Option<i64> {
                        let x = x?;
                        let h = forms::hundredths(&Value::from(x));
                        if h.is_none() {
                            self.err(
                                &place,
                                format!(
                                    "{name} {x} must be a finite number with at most two decimals"
                                ),
                            );
                        }
                        h
                    };
                    let lo = exact("min", *min);
                    let hi = exact("max", *max);
                    match (min, lo, hi) {
                        (_, Some(lo), Some(hi)) if lo > hi => {
                            self.err(
                                &place,
                                format!(
                                    "min {} is more than max {}",
                                    forms::show_hundredths(lo),
                                    forms::show_hundredths(hi)
                                ),
                            );
                        }
                        // Without `min`, negative amounts are refused (forms), so max < 0
                        // would admit no value at all.
                        (None, _, Some(hi)) if hi < 0 => {
                            self.err(
                                &place,
                                format!(
                                    "max {} is below 0, but without `min` negative values are refused",
                                    forms::show_hundredths(hi)
                                ),
                            );
                        }
                        _ => {}
                    }
                }
                FieldType::Select { options } => {
                    if options.is_empty() {
                        self.err(&place, "a select field needs at least one option");
                    }
                    let mut seen = HashSet::new();
                    for o in options {
                        if o.value.trim().is_empty() {
                            // A blank value is indistinguishable from no answer.
                            self.err(&place, "an option value must not be empty");
                        } else if !seen.insert(o.value.as_str()) {
                            self.err(
                                &place,
                                format!("option value `{}` appears more than once", o.value),
                            );
                        }
                        if blank(&o.label) {
                            self.err(
                                &place,
                                format!(
                                    "option `{}` needs a label in Chinese and English",
                                    o.value
                                ),
                            );
                        }
                    }
                }
                FieldType::Date
                | FieldType::CreditCode
                | FieldType::IdCard
                | FieldType::Phone
                | FieldType::Email
                | FieldType::Boolean => {}
                FieldType::Table {
                    max_rows,
                    unique,
                    columns,
                } => {
                    if f.personal {
                        self.err(
                            &place,
                            "a table is not `personal` itself: mark the columns that are personal",
                        );
                    }
                    self.table(&place, *max_rows, unique, columns);
                }
            }
        }
    }

    /// A table's own rules: at least one column, column codes unique and plain, no table in a
    /// table, no condition on a column; `unique` names its columns. The columns are checked as
    /// fields by [`Self::fields`].
    fn table(&mut self, place: &str, max_rows: Option<u32>, unique: &[String], columns: &[Field]) {
        if columns.is_empty() {
            self.err(
                place,
                "a table needs at least one column (`columns = [...]`)",
            );
        }
        if let Some(m) = max_rows
            && !(1..=forms::TABLE_MAX_ROWS).contains(&m)
        {
            self.err(
                place,
                format!(
                    "max_rows {m} must be between 1 and {}",
                    forms::TABLE_MAX_ROWS
                ),
            );
        }
        let mut seen = HashSet::new();
        for c in columns {
            let col_place = format!("{place}, column `{}`", c.code);
            if !is_member_code(&c.code) {
                self.err(
                    &col_place,
                    "the code must be lower-case letters, digits, `_` or `-`, start with a letter \
                     and be at most 64 characters",
                );
            }
            if !seen.insert(c.code.as_str()) {
                self.err(
                    &col_place,
                    "the code is used by more than one column; column codes must be unique",
                );
            }
            if c.required_when.is_some() {
                self.err(
                    &col_place,
                    "a column cannot have required_when: it is `required` in every row or not",
                );
            }
            if matches!(c.ty, FieldType::Table { .. }) {
                self.err(&col_place, "a column cannot be a table: tables do not nest");
            }
        }
        for u in unique {
            if !columns.iter().any(|c| &c.code == u) {
                self.err(
                    place,
                    format!("unique names the column `{u}`, which the table does not have"),
                );
            }
        }
    }

    fn materials(&mut self) {
        for m in &self.def.materials {
            let place = format!("material `{}`", m.code);
            if blank(&m.label) {
                self.err(&place, "the label needs Chinese and English text");
            }
            if let Some(c) = &m.required_when {
                if m.requirement == crate::domain::definition::Requirement::Optional {
                    self.err(&place, "an optional material needs no required_when");
                }
                self.condition(&place, c);
            }
            if m.file_types.is_empty() {
                self.err(
                    &place,
                    "file_types must list at least one accepted file type",
                );
            }
            for t in &m.file_types {
                if !FILE_TYPES.contains(&t.as_str()) {
                    self.err(
                        &place,
                        format!(
                            "file type `{t}` is not accepted (use {})",
                            FILE_TYPES.join(", ")
                        ),
                    );
                }
            }
            if !(1..=MAX_MB).contains(&m.max_mb) {
                self.err(
                    &place,
                    format!("max_mb {} must be between 1 and {MAX_MB}", m.max_mb),
                );
            }
        }
    }

    fn states(&mut self) {
        let def = self.def;
        if def.states.is_empty() {
            self.err("states", "the item needs at least one state");
        }
        match def.state(&def.initial) {
            None => self.err(
                "initial",
                format!("the initial state `{}` does not exist", def.initial),
            ),
            Some(s) if s.kind != StateKind::Draft => self.err(
                "initial",
                format!(
                    "the initial state `{}` must be of kind draft, not {}",
                    def.initial,
                    s.kind.as_str()
                ),
            ),
            Some(_) => {}
        }
        for s in &def.states {
            let place = state_place(&s.code);
            if blank(&s.label) {
                self.err(&place, "the label needs Chinese and English text");
            }
            if s.clock_mode() == super::definition::ClockMode::Suspend && s.suspend_reason.is_none()
            {
                self.err(
                    &place,
                    "the clock is suspended here, so suspend_reason is required \
                     (行政许可法 §45: the applicant is told in writing why)",
                );
            }
            self.limit(&place, "step", s.step_limit);
            if let Some(p) = &s.parallel {
                self.parallel(s, p);
            }
            self.queue(s);
        }
    }

    fn parallel(&mut self, s: &State, p: &super::definition::Parallel) {
        let def = self.def;
        let place = state_place(&s.code);
        if s.kind.is_final() {
            self.err(
                &place,
                "a final state cannot hold a parallel review: a closed filing does not move",
            );
        }
        if p.tasks.is_empty() {
            self.err(&place, "the parallel review needs at least one task");
        }
        let mut seen = HashSet::new();
        for t in &p.tasks {
            if t.department.trim().is_empty() {
                self.err(&place, "a parallel review task needs a department");
            } else if !seen.insert(t.department.as_str()) {
                self.err(
                    &place,
                    format!(
                        "department `{}` has more than one task in the parallel review",
                        t.department
                    ),
                );
            }
        }
        for (what, target) in [
            ("on_approved", &p.on_approved),
            ("on_refused", &p.on_refused),
        ] {
            if def.state(target).is_none() {
                self.err(
                    &place,
                    format!("{what} names state `{target}`, which does not exist"),
                );
            }
        }
        let answerable = def
            .actions_from(&s.code)
            .any(|a| a.effects.contains(&EffectKind::RecordReview));
        if !answerable {
            self.err(
                &place,
                "no action with effect record_review can be taken here, so the departments cannot answer",
            );
        }
    }

    /// Filings waiting on staff must sit in a work list, and whoever owns the list must be able
    /// to move them; otherwise they would wait unseen.
    fn queue(&mut self, s: &State) {
        // None of these kinds is final; the others are worked by the applicant or closed.
        if !matches!(
            s.kind,
            StateKind::Intake | StateKind::Review | StateKind::Suspended
        ) {
            return;
        }
        // A state only the service leaves (the spot check's pool, left by the draw) waits on
        // no one's work list.
        let mut leaving = self.def.actions_from(&s.code).peekable();
        if leaving.peek().is_some() && leaving.all(|a| a.roles == [Role::System]) {
            return;
        }
        let place = state_place(&s.code);
        let Some(role) = s.queue else {
            self.err(
                &place,
                format!(
                    "a state of kind {} needs a queue: the staff role whose work list holds it",
                    s.kind.as_str()
                ),
            );
            return;
        };
        if !role.is_staff() {
            self.err(
                &place,
                format!("queue `{}` is not a staff role", role.as_str()),
            );
            return;
        }
        let parallel = s.parallel.is_some();
        let acts = self.def.actions_from(&s.code).any(|a| {
            a.roles.contains(&role) && (!parallel || a.effects.contains(&EffectKind::RecordReview))
        });
        if !acts {
            let what = if parallel {
                "record_review action"
            } else {
                "action"
            };
            self.err(
                &place,
                format!(
                    "the queue role `{}` can take no {what} from this state",
                    role.as_str()
                ),
            );
        }
    }

    fn actions(&mut self) {
        let def = self.def;
        for a in &def.actions {
            let place = action_place(&a.code);
            if blank(&a.label) {
                self.err(&place, "the label needs Chinese and English text");
            }
            if a.from.is_empty() {
                self.err(&place, "`from` must list at least one state");
            }
            let target = a.to.as_deref().and_then(|t| def.state(t));
            for f in &a.from {
                match def.state(f) {
                    None => self.err(&place, format!("from-state `{f}` does not exist")),
                    // Life after the decision: a granted permit starts works, lapses, is
                    // revoked; a refusal, a withdrawal or a non-acceptance is the end.
                    Some(s) if s.kind.is_final() && s.kind != StateKind::Approved => self.err(
                        &place,
                        format!(
                            "leaves final state `{f}` of kind {}, but only an approved state has a life after the decision",
                            s.kind.as_str()
                        ),
                    ),
                    Some(s) if s.kind.is_final() && target.is_some_and(|t| !t.kind.is_final()) => {
                        self.err(
                            &place,
                            format!(
                                "leads from the decided state `{f}` back to an open state: a decided filing stays decided"
                            ),
                        )
                    }
                    Some(_) => {}
                }
            }
            if let Some(t) = &a.to
                && def.state(t).is_none()
            {
                self.err(&place, format!("target state `{t}` does not exist"));
            }
            if a.roles.is_empty() {
                self.err(&place, "`roles` must list at least one role");
            }
            let objection = a.effects.contains(&EffectKind::RecordObjection);
            let review = a.effects.contains(&EffectKind::RecordReview);
            let extends = def
                .deadlines
                .iter()
                .any(|d| d.extension.as_ref().is_some_and(|e| e.action == a.code));
            let written = a.inputs.contains(&Input::Reason) || a.inputs.contains(&Input::Opinion);
            if a.to.is_none() && !objection && !review && !extends && !written {
                self.err(
                    &place,
                    "an action without `to` must record something: an objection or a review \
                     (effect record_objection or record_review), a deadline's extension, or a \
                     written `reason` or `opinion` kept in the history",
                );
            }
            if review {
                if a.to.is_some() {
                    self.err(
                        &place,
                        "an action that records a review must not have `to`: the join decides where the filing goes",
                    );
                }
                if !a.inputs.contains(&Input::Verdict) {
                    self.err(
                        &place,
                        "an action that records a review needs the `verdict` input",
                    );
                }
                // A refusal gives its reasons in writing (行政许可法 §38): the action must ask
                // for them, or a department could not refuse.
                if !a.inputs.contains(&Input::RefusalReason) && !a.inputs.contains(&Input::Reason) {
                    self.err(
                        &place,
                        "an action that records a review needs the `refusal_reason` input \
                         (a refusal gives its reasons in writing), or `reason`",
                    );
                }
                for f in &a.from {
                    if def.state(f).is_some_and(|s| s.parallel.is_none()) {
                        self.err(
                            &place,
                            format!(
                                "records a review from state `{f}`, which has no parallel review"
                            ),
                        );
                    }
                }
            }
            if objection && !a.inputs.contains(&Input::Objection) {
                self.err(
                    &place,
                    "an action that records an objection needs the `objection` input",
                );
            }
            let mut sets = HashSet::new();
            for f in &a.sets {
                if def.field(f).is_none() {
                    self.err(
                        &place,
                        format!("`sets` names the field `{f}`, which does not exist"),
                    );
                }
                if !sets.insert(f.as_str()) {
                    self.err(&place, format!("`sets` names `{f}` twice"));
                }
            }
            let guard_place = format!("guard of action `{}`", a.code);
            for g in &a.guards {
                self.guard(&guard_place, g);
            }
        }
    }

    fn guard(&mut self, place: &str, g: &Guard) {
        let def = self.def;
        match g {
            Guard::Compare { field, value, .. } => {
                match def.field(field).map(|f| &f.ty) {
                    None => self.err(place, format!("compare names field `{field}`, which does not exist")),
                    Some(FieldType::Integer { .. } | FieldType::Amount { .. } | FieldType::Area { .. }) => {}
                    Some(_) => self.err(
                        place,
                        format!("compare needs a number field (integer, amount or area), but `{field}` is not one"),
                    ),
                }
                if !value.is_finite() {
                    self.err(
                        place,
                        format!("compare with `{field}` needs a finite value"),
                    );
                }
            }
            Guard::OwnerConsent { table, columns, .. } => self.owner_consent(place, table, columns),
            Guard::AllOf { guards } | Guard::AnyOf { guards } => {
                if guards.is_empty() {
                    let kind = if matches!(g, Guard::AllOf { .. }) {
                        "all_of"
                    } else {
                        "any_of"
                    };
                    self.err(place, format!("{kind} needs at least one guard"));
                }
                for inner in guards {
                    self.guard(place, inner);
                }
            }
            Guard::Not { guard } => self.guard(place, guard),
            Guard::MaterialsOnFile { materials } => {
                if materials.is_empty() {
                    self.err(place, "materials_on_file lists no material");
                }
                for m in materials {
                    if def.material(m).is_none() {
                        self.err(
                            place,
                            format!("materials_on_file names material `{m}`, which does not exist"),
                        );
                    }
                }
            }
            Guard::FieldIn { field, values } => self.condition_as(
                place,
                "field_in",
                &crate::domain::definition::Condition {
                    field: field.clone(),
                    values: values.clone(),
                },
            ),
            Guard::FieldPeriodElapsed {
                field, until, days, ..
            } => {
                for f in std::iter::once(field).chain(until) {
                    match def.field(f).map(|x| &x.ty) {
                        None => self.err(
                            place,
                            format!("field_period_elapsed names field `{f}`, which does not exist"),
                        ),
                        Some(FieldType::Date) => {}
                        Some(_) => self.err(
                            place,
                            format!(
                                "field_period_elapsed needs a date field, but `{f}` is not one"
                            ),
                        ),
                    }
                }
                if *days < 1 {
                    self.err(place, "field_period_elapsed needs at least 1 day");
                }
            }
            Guard::FieldsValid
            | Guard::MaterialsComplete { .. }
            | Guard::TolerableSupplied
            | Guard::NoObjections
            | Guard::HasObjections
            | Guard::PeriodElapsed { .. } => {}
        }
    }

    /// An `owner_consent` guard counts a table of the item by the columns it names: an owner
    /// (text or a code, required), an area (required), a vote (a required select of exactly
    /// the votes the count knows) and optionally a boolean signature.
    fn owner_consent(&mut self, place: &str, table: &str, cols: &ConsentColumns) {
        let columns = match self.def.field(table).map(|f| &f.ty) {
            None => {
                self.err(
                    place,
                    format!(
                        "owner_consent names the table `{table}`, which is not a field of the item"
                    ),
                );
                return;
            }
            Some(FieldType::Table { columns, .. }) => columns,
            Some(_) => {
                self.err(
                    place,
                    format!("owner_consent needs a table field, but `{table}` is not a table"),
                );
                return;
            }
        };
        let named = [
            ("owner", Some(&cols.owner)),
            ("area", Some(&cols.area)),
            ("vote", Some(&cols.vote)),
            ("signed", cols.signed.as_ref()),
        ];
        for (role, code) in named {
            let Some(code) = code else { continue };
            let Some(c) = columns.iter().find(|c| &c.code == code) else {
                self.err(
                    place,
                    format!(
                        "owner_consent: columns.{role} names the column `{code}`, which table `{table}` does not have"
                    ),
                );
                continue;
            };
            let (fits, wanted) = match (role, &c.ty) {
                ("owner", FieldType::Text { .. } | FieldType::IdCard | FieldType::CreditCode) => {
                    (true, "")
                }
                ("owner", _) => (false, "a text, id_card or credit_code column"),
                ("area", FieldType::Area { .. }) => (true, ""),
                ("area", _) => (false, "an area column"),
                ("vote", FieldType::Select { options }) => {
                    let mut values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
                    values.sort_unstable();
                    let mut votes = consent::VOTES;
                    votes.sort_unstable();
                    (
                        values == votes,
                        "a select whose values are exactly agree, object, abstain and absent",
                    )
                }
                ("vote", _) => (
                    false,
                    "a select whose values are exactly agree, object, abstain and absent",
                ),
                (_, FieldType::Boolean) => (true, ""),
                _ => (false, "a boolean column"),
            };
            if !fits {
                self.err(
                    place,
                    format!("owner_consent: columns.{role} `{code}` must be {wanted}"),
                );
            }
            if role != "signed" && !c.required {
                self.err(
                    place,
                    format!(
                        "owner_consent: columns.{role} `{code}` must be required: a row without it cannot be counted"
                    ),
                );
            }
        }
    }

    /// Reachability, ways out and traps, over the edges a filing can travel: an action's
    /// from → to, and a parallel review's join to on_approved or on_refused.
    fn graph(&mut self) {
        let def = self.def;
        let index: HashMap<&str, usize> = def
            .states
            .iter()
            .enumerate()
            .rev() // with duplicate codes (reported above) the first one wins, as in Definition::state
            .map(|(i, s)| (s.code.as_str(), i))
            .collect();
        let n = def.states.len();
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut prev: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut edge = |a: &str, b: &str| {
            if let (Some(&i), Some(&j)) = (index.get(a), index.get(b)) {
                next[i].push(j);
                prev[j].push(i);
            }
        };
        for a in &def.actions {
            if let Some(to) = &a.to {
                for f in &a.from {
                    edge(f, to);
                }
            }
        }
        for s in &def.states {
            if let Some(p) = &s.parallel {
                edge(&s.code, &p.on_approved);
                edge(&s.code, &p.on_refused);
            }
        }

        if let Some(&start) = index.get(def.initial.as_str()) {
            let reached = walk(start, &next);
            for (i, s) in def.states.iter().enumerate() {
                if !reached[i] {
                    self.err(
                        state_place(&s.code),
                        format!("cannot be reached from the initial state `{}`", def.initial),
                    );
                }
            }
        }

        let finals: Vec<usize> = (0..n).filter(|&i| def.states[i].kind.is_final()).collect();
        if finals.is_empty() && n > 0 {
            self.err(
                "states",
                "there is no final state (approved, refused, withdrawn or not_accepted): no filing could ever close",
            );
            return;
        }
        let mut can_close = vec![false; n];
        for &f in &finals {
            for (i, r) in walk(f, &prev).into_iter().enumerate() {
                can_close[i] |= r;
            }
        }
        for (i, s) in def.states.iter().enumerate() {
            if s.kind.is_final() {
                continue;
            }
            if next[i].iter().all(|&j| j == i) {
                self.err(
                    state_place(&s.code),
                    "has no way out: no action or parallel review leads to another state",
                );
            } else if !can_close[i] {
                self.err(
                    state_place(&s.code),
                    "no final state can be reached from here: a filing would be trapped in a cycle",
                );
            }
        }
    }
}

/// The states reachable from `start` along `edges`, `start` included.
fn walk(start: usize, edges: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = vec![false; edges.len()];
    let mut queue = VecDeque::from([start]);
    if let Some(s) = seen.get_mut(start) {
        *s = true;
    }
    while let Some(i) = queue.pop_front() {
        for &j in edges.get(i).into_iter().flatten() {
            if let Some(s) = seen.get_mut(j)
                && !*s
            {
                *s = true;
                queue.push_back(j);
            }
        }
    }
    seen
}

/// The regex crate explains a syntax error over several lines with a caret under the spot; the
/// report keeps its last line, which says what is wrong.
fn regex_message(e: &regex::Error) -> String {
    let s = e.to_string();
    let line = s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&s);
    one_line(line.trim_start_matches("error:"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::definition::{
        Action, ClockMode, CompareOp, Field, Parallel, ReviewTask, Role, SelectOption,
        SuspendReason,
    };

    /// A small item that uses every part of the vocabulary: a table with an owners' decision, a
    /// public notice with objections, a parallel review, a self-loop and a withdrawal.
    pub(crate) const SMALL: &str = r#"
code = "small-item"
prefix = "XM"
name = { zh = "小事项", en = "Small item" }
department = "housing"
basis = [{ zh = "《民法典》第二百七十八条", en = "Civil Code, article 278" }]
initial = "draft"

[limits]
statutory = { days = 20, unit = "working" }
promised = { days = 10, unit = "working" }
completeness = { days = 5, unit = "working" }

[[fields]]
code = "owners"
type = "table"
label = { zh = "业主名册", en = "Owners" }
required = true
max_rows = 500
unique = ["unit"]
columns = [
  { code = "unit", type = "text", label = { zh = "房号", en = "Unit" }, required = true, max_len = 50 },
  { code = "owner", type = "text", label = { zh = "业主", en = "Owner" }, required = true, personal = true },
  { code = "area", type = "area", label = { zh = "专有部分面积", en = "Area" }, required = true, min = 0.01 },
  { code = "vote", type = "select", label = { zh = "表决意见", en = "Vote" }, required = true, options = [
    { value = "agree", label = { zh = "同意", en = "Agree" } },
    { value = "object", label = { zh = "反对", en = "Object" } },
    { value = "abstain", label = { zh = "弃权", en = "Abstain" } },
    { value = "absent", label = { zh = "未参与", en = "Did not vote" } },
  ] },
  { code = "signed", type = "boolean", label = { zh = "已签字", en = "Signed" } },
]

[[fields]]
code = "cost"
type = "amount"
label = { zh = "费用（元）", en = "Cost (CNY)" }
min = 0
max = 1000000.5

[[fields]]
code = "floors"
type = "integer"
label = { zh = "层数", en = "Floors" }
min = 2
max = 30

[[fields]]
code = "project_code"
type = "text"
label = { zh = "项目代码", en = "Project code" }
pattern = "[0-9]{4}"

[[fields]]
code = "funding"
type = "select"
label = { zh = "资金来源", en = "Funding" }
options = [
  { value = "owners", label = { zh = "业主自筹", en = "Owners" } },
  { value = "subsidy", label = { zh = "政府补贴", en = "Subsidy" } },
]

[[materials]]
code = "plan"
label = { zh = "设计方案", en = "Design plan" }
requirement = "required"
file_types = ["pdf", "dwg"]
max_mb = 50

[[states]]
code = "draft"
kind = "draft"
label = { zh = "填写申请", en = "Draft" }
applicant_edits = true

[[states]]
code = "intake"
kind = "intake"
label = { zh = "待受理", en = "Awaiting acceptance" }
queue = "clerk"

[[states]]
code = "notice"
kind = "suspended"
label = { zh = "公示中", en = "Public notice" }
suspend_reason = "public_notice"
queue = "clerk"

[[states]]
code = "joint-review"
kind = "review"
label = { zh = "联合审查", en = "Joint review" }
queue = "reviewer"
[states.parallel]
tasks = [
  { department = "planning", label = { zh = "规划审查", en = "Planning" } },
  { department = "fire", label = { zh = "消防审查", en = "Fire safety" } },
]
on_approved = "done"
on_refused = "refused"

[[states]]
code = "done"
kind = "approved"
label = { zh = "备案完成", en = "Filed" }

[[states]]
code = "refused"
kind = "refused"
label = { zh = "不予备案", en = "Refused" }

[[states]]
code = "withdrawn"
kind = "withdrawn"
label = { zh = "已撤回", en = "Withdrawn" }

[[actions]]
code = "submit"
label = { zh = "提交", en = "Submit" }
from = ["draft"]
to = "intake"
roles = ["applicant"]
guards = [{ kind = "fields_valid" }]

[[actions]]
code = "accept"
label = { zh = "受理", en = "Accept" }
from = ["intake"]
to = "notice"
roles = ["clerk"]
guards = [
  { kind = "materials_complete", tolerate = true },
  { kind = "all_of", guards = [
    { kind = "compare", field = "cost", op = ">", value = 1000 },
    { kind = "not", guard = { kind = "compare", field = "floors", op = "<", value = 2 } },
  ] },
  { kind = "owner_consent", table = "owners", columns = { owner = "owner", area = "area", vote = "vote", signed = "signed" }, participation_area = "2/3", participation_headcount = "2/3", approval_area = "3/4", approval_headcount = "3/4", base = "participating" },
]

[[actions]]
code = "reassign"
label = { zh = "改派", en = "Reassign" }
from = ["intake"]
to = "intake"
roles = ["manager", "clerk"]

[[actions]]
code = "object"
label = { zh = "登记异议", en = "Record an objection" }
from = ["notice"]
roles = ["clerk"]
effects = ["record_objection"]
inputs = ["objection"]

[[actions]]
code = "close-notice"
label = { zh = "公示期满", en = "Close the notice" }
from = ["notice"]
to = "joint-review"
roles = ["clerk"]
guards = [{ kind = "period_elapsed", days = 10 }, { kind = "no_objections" }]

[[actions]]
code = "review"
label = { zh = "部门审查意见", en = "Department verdict" }
from = ["joint-review"]
roles = ["reviewer"]
effects = ["record_review"]
inputs = ["verdict", "opinion", "refusal_reason"]

[[actions]]
code = "withdraw"
label = { zh = "撤回", en = "Withdraw" }
from = ["draft", "intake", "notice", "joint-review"]
to = "withdrawn"
roles = ["applicant"]
inputs = ["reason"]
"#;

    fn small() -> Definition {
        parse("small.toml", SMALL).unwrap()
    }

    fn state<'a>(def: &'a mut Definition, code: &str) -> &'a mut State {
        def.states.iter_mut().find(|s| s.code == code).unwrap()
    }

    fn action<'a>(def: &'a mut Definition, code: &str) -> &'a mut Action {
        def.actions.iter_mut().find(|a| a.code == code).unwrap()
    }

    fn field<'a>(def: &'a mut Definition, code: &str) -> &'a mut Field {
        def.fields.iter_mut().find(|f| f.code == code).unwrap()
    }

    /// Check a mutated definition and assert that an error at `place` mentions `word`.
    #[track_caller]
    fn refused(def: &Definition, place: &str, word: &str) {
        let errors = check(def);
        assert!(
            errors
                .iter()
                .any(|e| e.place == place && e.message.contains(word)),
            "expected an error at {place} mentioning `{word}`, got {errors:#?}"
        );
    }

    fn mutated(f: impl FnOnce(&mut Definition)) -> Definition {
        let mut def = small();
        f(&mut def);
        def
    }

    fn text(s: &str) -> Text {
        Text {
            zh: s.into(),
            en: s.into(),
        }
    }

    /// The fire filing's draw is the service's: its two actions belong to `system` alone, its
    /// pool waits on no queue, and its rules are checked when the item is loaded.
    #[test]
    fn an_item_that_draws_leaves_its_pool_to_the_service_alone() {
        let text = include_str!("../../seeds/items/fire-acceptance-filing.toml");
        let fire = parse("fire-acceptance-filing.toml", text).unwrap();
        assert_eq!(check(&fire), vec![]);

        let mut by_clerk = fire.clone();
        action(&mut by_clerk, "select_for_check").roles = vec![Role::Clerk];
        refused(&by_clerk, "action `select_for_check`", "`system` role");

        let mut bad = fire.clone();
        bad.settings.insert(
            "spot_check_ratios".into(),
            serde_json::json!({ "general": "10%" }),
        );
        bad.settings
            .insert("spot_check_inspectors".into(), serde_json::json!(1));
        refused(&bad, "settings", "spot_check_ratios.general");
        refused(&bad, "settings", "at least 2 inspectors");
    }

    /// Documents name actions, states, fields and deadlines that exist; a certificate has its
    /// table and a type code of digits and capitals; report categories name states and fields
    /// that exist, by exactly one rule.
    #[test]
    fn documents_and_report_categories_name_what_exists() {
        let source = include_str!("../../seeds/items/construction-permit.toml");
        let permit = parse("construction-permit.toml", source).unwrap();
        assert_eq!(check(&permit), vec![]);

        let mut bad = permit.clone();
        let doc = bad
            .documents
            .iter_mut()
            .find(|d| d.code == "construction_permit")
            .unwrap();
        doc.on = vec!["grant".into()];
        doc.fields.push("colour".into());
        let cert = doc.certificate.as_mut().unwrap();
        cert.type_code = "w032".into();
        cert.validity_deadline = Some("finish".into());
        cert.status_on.insert(
            "demolish".into(),
            crate::domain::certificate::CertStatus::Revoked,
        );
        refused(
            &bad,
            "document `construction_permit`",
            "unknown action `grant`",
        );
        refused(
            &bad,
            "document `construction_permit`",
            "unknown field `colour`",
        );
        refused(&bad, "document `construction_permit`", "type_code");
        refused(
            &bad,
            "document `construction_permit`",
            "unknown deadline `finish`",
        );
        refused(
            &bad,
            "document `construction_permit`",
            "unknown action `demolish`",
        );

        let mut bare = permit.clone();
        bare.documents
            .iter_mut()
            .find(|d| d.code == "construction_permit")
            .unwrap()
            .certificate = None;
        refused(
            &bare,
            "document `construction_permit`",
            "`certificate` table",
        );

        let mut report = permit.clone();
        let r = report.report.as_mut().unwrap();
        r.categories[0].state_in = vec!["issued".into()];
        r.categories
            .push(crate::domain::definition::ReportCategory {
                code: "demolished".into(),
                label: text("拆除"),
                state_in: vec!["demolished".into()],
                ever_entered: vec![],
                sum: Some("height".into()),
                online: false,
            });
        refused(&report, "report category `issued`", "exactly one");
        refused(
            &report,
            "report category `demolished`",
            "unknown state `demolished`",
        );
        refused(
            &report,
            "report category `demolished`",
            "unknown field `height`",
        );
    }

    /// The SPGL exchange names actions and states that exist, codes in 1–15, and reports every
    /// action or lists it as not reported.
    #[test]
    fn the_exchange_maps_every_action_to_known_blzt_codes() {
        use crate::domain::definition::Codes;
        let source = include_str!("../../seeds/items/construction-permit.toml");
        let permit = parse("construction-permit.toml", source).unwrap();
        assert_eq!(check(&permit), vec![]);
        let x = permit.exchange.as_ref().unwrap();
        assert_eq!(x.codes("approve", "issued", false), &[11]);
        assert_eq!(x.codes("approve", "issued", true), &[12]);
        assert_eq!(
            x.codes("report_start", "under_construction", false),
            &[] as &[u8]
        );

        let mut bad = permit.clone();
        let x = bad.exchange.as_mut().unwrap();
        x.blzt.insert("grant".into(), Codes::One(11));
        x.blzt
            .insert("refuse:demolished".into(), Codes::Many(vec![13, 16]));
        x.blzt.remove("accept");
        x.tolerated
            .insert("refuse:refused".into(), Codes::Many(vec![]));
        x.not_reported.push("approve".into());
        refused(&bad, "exchange blzt `grant`", "unknown action `grant`");
        refused(
            &bad,
            "exchange blzt `refuse:demolished`",
            "unknown state `demolished`",
        );
        refused(
            &bad,
            "exchange blzt `refuse:demolished`",
            "16 is not a BLZT code",
        );
        refused(
            &bad,
            "exchange tolerated `refuse:refused`",
            "at least one BLZT code",
        );
        refused(
            &bad,
            "exchange tolerated `refuse:refused`",
            "replaces a `blzt` code",
        );
        refused(
            &bad,
            "exchange not_reported `approve`",
            "also given a BLZT code",
        );
        refused(&bad, "exchange", "these are neither: accept");
    }

    #[test]
    fn the_small_definition_passes() {
        assert_eq!(check(&small()), vec![]);
    }

    #[test]
    fn a_syntax_error_names_line_and_column() {
        let err = parse("bad.toml", "code = \"x\"\nprefix = \n").unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert_eq!(err.errors[0].place, "syntax");
        assert!(
            err.errors[0].message.starts_with("line 2, column "),
            "{}",
            err.errors[0].message
        );
        assert_eq!(err.to_string().lines().count(), 1);
        assert!(err.to_string().starts_with("bad.toml: syntax: line 2"));
    }

    #[test]
    fn a_reference_to_a_missing_setting_is_refused_with_the_file_and_place() {
        let text = SMALL.replace("max_mb = 50", "max_mb = { setting = \"largest_file_mb\" }");
        let err = parse("small.toml", &text).unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert_eq!(err.errors[0].place, "materials.plan.max_mb");
        assert!(
            err.to_string().starts_with(
                "small.toml: materials.plan.max_mb: names the setting `largest_file_mb`"
            ),
            "{err}"
        );

        // Declared, it is used; a later error still names its own line in the file.
        let declared = format!("{text}\n[settings]\nlargest_file_mb = 20\n");
        let def = parse("small.toml", &declared).unwrap();
        assert_eq!(def.material("plan").unwrap().max_mb, 20);
        let broken = declared.replacen("prefix = ", "prefix = 12 #", 1);
        let err = parse("small.toml", &broken).unwrap_err();
        let prefix_line = broken
            .lines()
            .position(|l| l.starts_with("prefix"))
            .unwrap()
            + 1;
        assert!(
            err.errors[0]
                .message
                .starts_with(&format!("line {prefix_line},")),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_is_a_syntax_error() {
        let text = SMALL.replace("max_mb = 50", "max_mb = 50\ncolour = \"red\"");
        let err = parse("small.toml", &text).unwrap_err();
        assert_eq!(err.errors[0].place, "syntax");
        assert!(
            err.errors[0].message.contains("colour"),
            "{}",
            err.errors[0].message
        );
        let text = SMALL.replace("pattern = \"[0-9]{4}\"", "pattern = \"[0-9]{4}\"\nmin = 3");
        let err = parse("small.toml", &text).unwrap_err();
        assert!(
            err.errors[0].message.contains("min"),
            "{}",
            err.errors[0].message
        );
    }

    #[test]
    fn every_error_is_reported_one_line_each() {
        let text = SMALL
            .replace("prefix = \"XM\"", "prefix = \"x\"")
            .replace("code = \"small-item\"", "code = \"Small\"");
        let err = parse("small.toml", &text).unwrap_err();
        assert_eq!(err.errors.len(), 2);
        let shown = err.to_string();
        assert_eq!(shown.lines().count(), 2);
        assert!(shown.lines().any(|l| l.starts_with("small.toml: code: ")));
        assert!(shown.lines().any(|l| l.starts_with("small.toml: prefix: ")));
    }

    #[test]
    fn item_code_prefix_department_and_basis() {
        refused(&mutated(|d| d.code = "Small_Item".into()), "code", "kebab");
        refused(&mutated(|d| d.code = "1x".into()), "code", "kebab");
        refused(&mutated(|d| d.prefix = "X".into()), "prefix", "upper-case");
        refused(&mutated(|d| d.prefix = "xm".into()), "prefix", "upper-case");
        refused(
            &mutated(|d| d.prefix = "ABCDEFGHI".into()),
            "prefix",
            "2 to 8",
        );
        refused(
            &mutated(|d| d.department = " ".into()),
            "department",
            "empty",
        );
        refused(&mutated(|d| d.basis.clear()), "basis", "legal basis");
        refused(&mutated(|d| d.name = text("")), "name", "name");
    }

    #[test]
    fn limits_are_at_least_a_day_and_a_promise_is_shorter() {
        refused(
            &mutated(|d| d.limits.statutory.days = 0),
            "limits",
            "statutory",
        );
        refused(
            &mutated(|d| d.limits.completeness.as_mut().unwrap().days = 0),
            "limits",
            "completeness",
        );
        refused(
            &mutated(|d| d.limits.promised.as_mut().unwrap().days = 30),
            "limits",
            "longer",
        );
        refused(
            &mutated(|d| {
                state(d, "notice").step_limit = Some(Limit {
                    days: 0,
                    unit: crate::domain::definition::DayUnit::Calendar,
                })
            }),
            "state `notice`",
            "step",
        );
    }

    #[test]
    fn codes_are_unique_and_plain() {
        refused(
            &mutated(|d| {
                let copy = d.states[1].clone();
                d.states.push(copy)
            }),
            "state `intake`",
            "more than one",
        );
        refused(
            &mutated(|d| {
                let copy = d.actions[0].clone();
                d.actions.push(copy)
            }),
            "action `submit`",
            "more than one",
        );
        refused(
            &mutated(|d| {
                let copy = d.fields[0].clone();
                d.fields.push(copy)
            }),
            "field `owners`",
            "more than one",
        );
        refused(
            &mutated(|d| {
                let copy = d.materials[0].clone();
                d.materials.push(copy)
            }),
            "material `plan`",
            "more than one",
        );
        refused(
            &mutated(|d| field(d, "cost").code = "Cost Total".into()),
            "field `Cost Total`",
            "lower-case",
        );
    }

    #[test]
    fn a_title_names_fields_of_the_form_that_are_not_personal() {
        refused(
            &mutated(|d| d.title = vec!["nowhere".into()]),
            "title",
            "not a field of the form",
        );
        let personal = mutated(|d| {
            d.fields
                .iter_mut()
                .find(|f| f.code == "project_code")
                .unwrap()
                .personal = true;
            d.title = vec!["project_code".into()];
        });
        refused(&personal, "title", "personal data");
        assert_eq!(
            check(&mutated(|d| d.title = vec!["project_code".into()])),
            vec![]
        );
        // The title as lists show it: the named fields' values, or the first text field.
        let d = mutated(|d| d.title = vec!["project_code".into(), "floors".into()]);
        assert_eq!(
            d.title_of(
                &serde_json::json!({"project_code": "2026-430104-47-01-000001", "floors": 6})
            ),
            "2026-430104-47-01-000001 6"
        );
        assert_eq!(d.title_of(&serde_json::json!({})), "");
    }

    #[test]
    fn the_initial_state_exists_and_is_a_draft() {
        refused(
            &mutated(|d| d.initial = "nowhere".into()),
            "initial",
            "does not exist",
        );
        refused(
            &mutated(|d| d.initial = "intake".into()),
            "initial",
            "draft",
        );
    }

    #[test]
    fn actions_name_existing_states_and_roles() {
        refused(
            &mutated(|d| action(d, "submit").from.clear()),
            "action `submit`",
            "at least one state",
        );
        refused(
            &mutated(|d| action(d, "submit").from = vec!["nowhere".into()]),
            "action `submit`",
            "`nowhere` does not exist",
        );
        refused(
            &mutated(|d| action(d, "submit").to = Some("nowhere".into())),
            "action `submit`",
            "`nowhere` does not exist",
        );
        refused(
            &mutated(|d| action(d, "submit").roles.clear()),
            "action `submit`",
            "roles",
        );
    }

    #[test]
    fn an_action_that_stays_must_record_something() {
        refused(
            &mutated(|d| action(d, "submit").to = None),
            "action `submit`",
            "without `to`",
        );
    }

    #[test]
    fn recording_a_review_needs_a_parallel_state_a_verdict_and_no_target() {
        refused(
            &mutated(|d| action(d, "review").to = Some("done".into())),
            "action `review`",
            "must not have `to`",
        );
        refused(
            &mutated(|d| action(d, "review").inputs = vec![Input::Opinion]),
            "action `review`",
            "verdict",
        );
        refused(
            &mutated(|d| action(d, "review").inputs = vec![Input::Verdict, Input::Opinion]),
            "action `review`",
            "`refusal_reason`",
        );
        refused(
            &mutated(|d| action(d, "review").from.push("intake".into())),
            "action `review`",
            "no parallel review",
        );
    }

    #[test]
    fn a_relation_names_fields_that_exist_and_compares_like_with_like() {
        use crate::domain::definition::{CompareOp, Relation};
        let rel = |field: &str, other: &str| Relation {
            field: field.into(),
            op: CompareOp::Le,
            other: other.into(),
        };
        assert!(check(&mutated(|d| d.relations = vec![rel("floors", "cost")])).is_empty());
        refused(
            &mutated(|d| d.relations = vec![rel("cost", "budget")]),
            "relation 1 (`cost` and `budget`)",
            "`budget`, which does not exist",
        );
        refused(
            &mutated(|d| d.relations = vec![rel("cost", "project_code")]),
            "relation 1 (`cost` and `project_code`)",
            "neither a date nor a number",
        );
        refused(
            &mutated(|d| d.relations = vec![rel("cost", "cost")]),
            "relation 1 (`cost` and `cost`)",
            "with itself",
        );
    }

    #[test]
    fn a_condition_names_a_select_or_boolean_field_and_values_it_can_hold() {
        use crate::domain::definition::Condition;
        let when = |field: &str, values: &[&str]| {
            Some(Condition {
                field: field.into(),
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            })
        };
        let funding = |d: &Definition| match &d.field("funding").unwrap().ty {
            FieldType::Select { options } => options[0].value.clone(),
            _ => unreachable!(),
        };
        let def = small();
        let value = funding(&def);
        assert!(
            check(&mutated(
                |d| d.materials[0].required_when = when("funding", &[&value])
            ))
            .is_empty()
        );
        refused(
            &mutated(|d| d.materials[0].required_when = when("project_kind", &["new"])),
            "material `plan`",
            "`project_kind`, which does not exist",
        );
        refused(
            &mutated(|d| d.materials[0].required_when = when("funding", &["gold"])),
            "material `plan`",
            "can never be `gold`",
        );
        refused(
            &mutated(|d| d.materials[0].required_when = when("floors", &["3"])),
            "material `plan`",
            "neither a select nor a boolean",
        );
        refused(
            &mutated(|d| {
                let f = d.fields.iter_mut().find(|f| f.code == "cost").unwrap();
                f.required = true;
                f.required_when = when("funding", &[&value]);
            }),
            "field `cost`",
            "not both",
        );
    }

    #[test]
    fn recording_an_objection_needs_the_objection() {
        refused(
            &mutated(|d| action(d, "object").inputs.clear()),
            "action `object`",
            "objection",
        );
    }

    #[test]
    fn a_parallel_review_is_well_formed() {
        fn par(d: &mut Definition) -> &mut Parallel {
            state(d, "joint-review").parallel.as_mut().unwrap()
        }
        refused(
            &mutated(|d| par(d).tasks.clear()),
            "state `joint-review`",
            "at least one task",
        );
        refused(
            &mutated(|d| {
                par(d).tasks.push(ReviewTask {
                    department: "fire".into(),
                    label: text("再审"),
                })
            }),
            "state `joint-review`",
            "`fire`",
        );
        refused(
            &mutated(|d| par(d).on_approved = "nowhere".into()),
            "state `joint-review`",
            "on_approved",
        );
        refused(
            &mutated(|d| par(d).on_refused = "nowhere".into()),
            "state `joint-review`",
            "on_refused",
        );
        refused(
            &mutated(|d| d.actions.retain(|a| a.code != "review")),
            "state `joint-review`",
            "record_review",
        );
    }

    #[test]
    fn a_suspended_clock_needs_a_reason() {
        refused(
            &mutated(|d| state(d, "notice").suspend_reason = None),
            "state `notice`",
            "suspend_reason",
        );
        refused(
            &mutated(|d| {
                let s = state(d, "intake");
                s.clock = Some(ClockMode::Suspend);
            }),
            "state `intake`",
            "suspend_reason",
        );
        let ok = mutated(|d| {
            let s = state(d, "intake");
            s.clock = Some(ClockMode::Suspend);
            s.suspend_reason = Some(SuspendReason::Supplement);
        });
        assert_eq!(check(&ok), vec![]);
    }

    #[test]
    fn only_an_approved_state_has_a_life_after_the_decision_and_it_stays_decided() {
        // A refusal or a withdrawal is the end.
        refused(
            &mutated(|d| action(d, "withdraw").from.push("refused".into())),
            "action `withdraw`",
            "final state `refused` of kind refused",
        );
        // A granted filing may move on (a permit lapses, is revoked), to a decided state only.
        let after = mutated(|d| action(d, "withdraw").from.push("done".into()));
        assert_eq!(check(&after), vec![]);
        refused(
            &mutated(|d| action(d, "submit").from.push("done".into())),
            "action `submit`",
            "decided state `done` back to an open state",
        );
        refused(
            &mutated(|d| {
                let p = state(d, "joint-review").parallel.clone();
                state(d, "done").parallel = p;
            }),
            "state `done`",
            "final state",
        );
    }

    #[test]
    fn every_state_is_reachable() {
        let def = mutated(|d| {
            let mut orphan = d.states[0].clone();
            orphan.code = "orphan".into();
            orphan.kind = StateKind::WaitingApplicant;
            orphan.clock = Some(ClockMode::NotStarted);
            d.states.push(orphan);
            action(d, "withdraw").from.push("orphan".into());
        });
        refused(&def, "state `orphan`", "cannot be reached");
    }

    #[test]
    fn every_state_has_a_way_out() {
        let def = mutated(|d| {
            let mut dead = d.states[0].clone();
            dead.code = "dead-end".into();
            dead.kind = StateKind::WaitingApplicant;
            dead.clock = Some(ClockMode::NotStarted);
            d.states.push(dead);
            action(d, "submit").to = Some("dead-end".into());
        });
        refused(&def, "state `dead-end`", "no way out");
        // A self-loop is not a way out.
        let def = mutated(|d| {
            d.actions
                .retain(|a| a.code == "submit" || a.code == "reassign" || a.code == "withdraw");
            action(d, "withdraw").from.retain(|f| f != "intake");
        });
        refused(&def, "state `intake`", "no way out");
    }

    #[test]
    fn no_filing_is_trapped_in_a_cycle() {
        let def = mutated(|d| {
            for code in ["loop-a", "loop-b"] {
                let mut s = d.states[0].clone();
                s.code = code.into();
                s.kind = StateKind::WaitingApplicant;
                s.clock = Some(ClockMode::NotStarted);
                d.states.push(s);
            }
            let mut there = d.actions[0].clone();
            there.code = "there".into();
            there.from = vec!["loop-a".into()];
            there.to = Some("loop-b".into());
            let mut back = there.clone();
            back.code = "back".into();
            back.from = vec!["loop-b".into()];
            back.to = Some("loop-a".into());
            d.actions.push(there);
            d.actions.push(back);
            action(d, "submit").to = Some("loop-a".into());
        });
        refused(&def, "state `loop-a`", "trapped");
        refused(&def, "state `loop-b`", "trapped");
        let no_finals = mutated(|d| d.states.retain(|s| !s.kind.is_final()));
        refused(&no_finals, "states", "no final state");
    }

    #[test]
    fn staff_states_sit_in_a_queue_whose_role_can_act() {
        refused(
            &mutated(|d| state(d, "intake").queue = None),
            "state `intake`",
            "queue",
        );
        refused(
            &mutated(|d| state(d, "intake").queue = Some(Role::Applicant)),
            "state `intake`",
            "not a staff role",
        );
        refused(
            &mutated(|d| state(d, "notice").queue = Some(Role::Manager)),
            "state `notice`",
            "`manager`",
        );
        // In a parallel state the queue role must be able to record a review.
        refused(
            &mutated(|d| {
                state(d, "joint-review").queue = Some(Role::Clerk);
                let mut other = action(d, "close-notice").clone();
                other.code = "escalate".into();
                other.from = vec!["joint-review".into()];
                other.to = Some("refused".into());
                d.actions.push(other);
            }),
            "state `joint-review`",
            "record_review",
        );
    }

    #[test]
    fn guards_refer_to_fields_of_the_right_type() {
        let place = "guard of action `accept`";
        let compare = |field: &str| Guard::Compare {
            field: field.into(),
            op: CompareOp::Gt,
            value: 1.0,
        };
        refused(
            &mutated(|d| action(d, "accept").guards.push(compare("nowhere"))),
            place,
            "does not exist",
        );
        refused(
            &mutated(|d| action(d, "accept").guards.push(compare("funding"))),
            place,
            "number field",
        );
        refused(
            &mutated(|d| {
                action(d, "accept").guards.push(Guard::Compare {
                    field: "cost".into(),
                    op: CompareOp::Gt,
                    value: f64::NAN,
                })
            }),
            place,
            "finite",
        );
        // Nested guards are checked too.
        refused(
            &mutated(|d| {
                action(d, "accept").guards.push(Guard::Not {
                    guard: Box::new(Guard::AnyOf {
                        guards: vec![compare("project_code")],
                    }),
                })
            }),
            place,
            "`project_code`",
        );
        refused(
            &mutated(|d| {
                for g in &mut action(d, "accept").guards {
                    if let Guard::OwnerConsent { table, .. } = g {
                        *table = "cost".into();
                    }
                }
            }),
            place,
            "needs a table field, but `cost` is not a table",
        );
        refused(
            &mutated(|d| {
                for g in &mut action(d, "accept").guards {
                    if let Guard::OwnerConsent { table, .. } = g {
                        *table = "roster".into();
                    }
                }
            }),
            place,
            "the table `roster`, which is not a field",
        );
        refused(
            &mutated(|d| {
                action(d, "accept")
                    .guards
                    .push(Guard::AllOf { guards: vec![] })
            }),
            place,
            "all_of",
        );
        refused(
            &mutated(|d| {
                action(d, "submit")
                    .guards
                    .push(Guard::AnyOf { guards: vec![] })
            }),
            "guard of action `submit`",
            "any_of",
        );
    }

    #[test]
    fn text_patterns_compile() {
        let def = mutated(|d| {
            field(d, "project_code").ty = FieldType::Text {
                min_len: None,
                max_len: None,
                pattern: Some("([0-9]".into()),
            }
        });
        refused(&def, "field `project_code`", "pattern");
        let errors = check(&def);
        assert!(!errors[0].message.contains('\n'), "{}", errors[0].message);
        refused(
            &mutated(|d| {
                field(d, "project_code").ty = FieldType::Text {
                    min_len: Some(5),
                    max_len: Some(4),
                    pattern: None,
                }
            }),
            "field `project_code`",
            "min_len",
        );
    }

    #[test]
    fn select_options_exist_and_are_unique() {
        let set = |opts: Vec<SelectOption>| {
            move |d: &mut Definition| field(d, "funding").ty = FieldType::Select { options: opts }
        };
        refused(
            &mutated(set(vec![])),
            "field `funding`",
            "at least one option",
        );
        let o = |v: &str| SelectOption {
            value: v.into(),
            label: text(v),
        };
        refused(
            &mutated(set(vec![o("a"), o("a")])),
            "field `funding`",
            "more than once",
        );
        refused(&mutated(set(vec![o("")])), "field `funding`", "empty");
    }

    #[test]
    fn numeric_bounds_are_ordered_and_exact() {
        refused(
            &mutated(|d| {
                field(d, "floors").ty = FieldType::Integer {
                    min: Some(5),
                    max: Some(4),
                }
            }),
            "field `floors`",
            "more than max",
        );
        refused(
            &mutated(|d| {
                field(d, "cost").ty = FieldType::Amount {
                    min: Some(2.5),
                    max: Some(2.25),
                    unit: MoneyUnit::Yuan,
                }
            }),
            "field `cost`",
            "more than max",
        );
        refused(
            &mutated(|d| {
                field(d, "cost").ty = FieldType::Area {
                    min: Some(0.001),
                    max: None,
                }
            }),
            "field `cost`",
            "two decimals",
        );
        refused(
            &mutated(|d| {
                field(d, "cost").ty = FieldType::Amount {
                    min: None,
                    max: Some(-1.0),
                    unit: MoneyUnit::Yuan,
                }
            }),
            "field `cost`",
            "below 0",
        );
        refused(
            &mutated(|d| {
                field(d, "cost").ty = FieldType::Amount {
                    min: None,
                    max: Some(f64::INFINITY),
                    unit: MoneyUnit::Yuan,
                }
            }),
            "field `cost`",
            "finite",
        );
    }

    #[test]
    fn materials_accept_known_types_and_sizes() {
        fn m(d: &mut Definition) -> &mut crate::domain::definition::Material {
            &mut d.materials[0]
        }
        refused(
            &mutated(|d| m(d).file_types.clear()),
            "material `plan`",
            "file_types",
        );
        refused(
            &mutated(|d| m(d).file_types.push("exe".into())),
            "material `plan`",
            "`exe`",
        );
        refused(
            &mutated(|d| m(d).file_types.push("PDF".into())),
            "material `plan`",
            "`PDF`",
        );
        refused(&mutated(|d| m(d).max_mb = 0), "material `plan`", "max_mb");
        refused(&mutated(|d| m(d).max_mb = 101), "material `plan`", "max_mb");
        let mut ok = small();
        ok.materials[0].max_mb = 100;
        ok.materials[0].file_types = FILE_TYPES.iter().map(|t| t.to_string()).collect();
        assert_eq!(check(&ok), vec![]);
    }

    fn table_of<'a>(
        d: &'a mut Definition,
        code: &str,
    ) -> (&'a mut Vec<Field>, &'a mut Vec<String>) {
        match &mut field(d, code).ty {
            FieldType::Table {
                columns, unique, ..
            } => (columns, unique),
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_table_declares_its_columns_once_each_of_a_scalar_type() {
        let place = "field `owners`";
        refused(
            &mutated(|d| table_of(d, "owners").0.clear()),
            place,
            "at least one column",
        );
        refused(
            &mutated(|d| {
                let (columns, _) = table_of(d, "owners");
                let copy = columns[1].clone();
                columns.push(copy);
            }),
            "field `owners`, column `owner`",
            "more than one column",
        );
        refused(
            &mutated(|d| {
                let (columns, _) = table_of(d, "owners");
                let mut inner = columns[0].clone();
                inner.code = "rooms".into();
                inner.ty = FieldType::Table {
                    max_rows: None,
                    unique: vec![],
                    columns: vec![columns[0].clone()],
                };
                columns.push(inner);
            }),
            "field `owners`, column `rooms`",
            "tables do not nest",
        );
        // A column is checked as a field is.
        refused(
            &mutated(|d| {
                table_of(d, "owners").0[0].ty = FieldType::Text {
                    min_len: Some(9),
                    max_len: Some(3),
                    pattern: None,
                }
            }),
            "field `owners`, column `unit`",
            "min_len",
        );
        refused(
            &mutated(|d| table_of(d, "owners").0[0].label = text(" ")),
            "field `owners`, column `unit`",
            "label",
        );
        refused(
            &mutated(|d| table_of(d, "owners").0[0].code = "Unit No".into()),
            "field `owners`, column `Unit No`",
            "lower-case",
        );
        refused(
            &mutated(|d| *table_of(d, "owners").1 = vec!["room".into()]),
            place,
            "unique names the column `room`",
        );
        refused(
            &mutated(|d| {
                table_of(d, "owners").0[0].required_when =
                    Some(crate::domain::definition::Condition {
                        field: "funding".into(),
                        values: vec!["owners".into()],
                    })
            }),
            "field `owners`, column `unit`",
            "required_when",
        );
        refused(
            &mutated(|d| field(d, "owners").personal = true),
            place,
            "personal",
        );
        for bad in [0, forms::TABLE_MAX_ROWS + 1] {
            refused(
                &mutated(|d| {
                    if let FieldType::Table { max_rows, .. } = &mut field(d, "owners").ty {
                        *max_rows = Some(bad);
                    }
                }),
                place,
                "max_rows",
            );
        }
    }

    #[test]
    fn an_unknown_column_type_or_key_is_refused_with_the_file_and_line() {
        let text = SMALL.replace(
            r#"{ code = "signed", type = "boolean""#,
            r#"{ code = "signed", type = "checkbox""#,
        );
        let err = parse("small.toml", &text).unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        // The line is the table field's (`[[fields]]` before `code = "owners"`), and the
        // message names the field and the column.
        let line = text.lines().position(|l| l == "code = \"owners\"").unwrap();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("small.toml: syntax: line {line}, column 1: ")),
            "{shown}"
        );
        assert!(
            shown.contains("field `owners`, column `signed`: unknown type `checkbox`"),
            "{shown}"
        );

        let text = SMALL.replace("max_rows = 500", "max_rows = 500\nmax_len = 3");
        let err = parse("small.toml", &text).unwrap_err();
        assert!(err.to_string().contains("max_len not allowed"), "{err}");
        let text = SMALL.replace(
            "label = { zh = \"费用（元）\", en = \"Cost (CNY)\" }",
            "label = { zh = \"费用（元）\", en = \"Cost (CNY)\" }\ncolumns = []",
        );
        let err = parse("small.toml", &text).unwrap_err();
        assert!(err.to_string().contains("columns not allowed"), "{err}");
    }

    /// An amount's unit is declared (`unit = "万元"`), not guessed from its label; the label must
    /// name the same unit, since people type the number in the unit it names.
    #[test]
    fn an_amount_is_kept_in_the_unit_its_definition_declares_and_its_label_names() {
        let cost = "label = { zh = \"费用（元）\", en = \"Cost (CNY)\" }";
        let wan = "label = { zh = \"费用（万元）\", en = \"Cost (CNY 10k)\" }";
        let def = parse(
            "small.toml",
            &SMALL.replace(cost, &format!("{wan}\nunit = \"万元\"")),
        )
        .unwrap();
        let f = def.field("cost").unwrap();
        assert_eq!(forms::unit_of(f), MoneyUnit::TenThousandYuan);
        assert_eq!(
            forms::field_amount_text(f, "3500", super::super::definition::Lang::Zh),
            "3,500 万元"
        );
        let f = small();
        assert_eq!(forms::unit_of(f.field("cost").unwrap()), MoneyUnit::Yuan);

        // The label alone does not make 万元: it is refused until the unit is declared.
        let err = parse("small.toml", &SMALL.replace(cost, wan)).unwrap_err();
        assert!(
            err.to_string().contains(
                "field `cost`: the amount is kept in 元 (`unit`) but its Chinese label says 万元"
            ),
            "{err}"
        );
        let err = parse(
            "small.toml",
            &SMALL.replace(cost, &format!("{cost}\nunit = \"万元\"")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not say 万元"), "{err}");
        let err = parse(
            "small.toml",
            &SMALL.replace(cost, &format!("{cost}\nunit = \"美元\"")),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("field `cost`: `unit` \"美元\" must be \"元\" or \"万元\""),
            "{err}"
        );
        // Only an amount has a unit.
        let text = SMALL.replace("max_rows = 500", "max_rows = 500\nunit = \"元\"");
        let err = parse("small.toml", &text).unwrap_err();
        assert!(err.to_string().contains("unit not allowed"), "{err}");
    }

    #[test]
    fn an_owner_consent_naming_a_missing_column_is_refused_with_the_file_and_place() {
        let text = SMALL.replace("vote = \"vote\", signed", "vote = \"ballot\", signed");
        let err = parse("small.toml", &text).unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert_eq!(
            err.to_string(),
            "small.toml: guard of action `accept`: owner_consent: columns.vote names the column \
             `ballot`, which table `owners` does not have"
        );
        // Every role is checked, and a column must be present in the guard.
        let text = SMALL.replace(
            "owner = \"owner\", area = \"area\"",
            "owner = \"name\", area = \"size\"",
        );
        let err = parse("small.toml", &text).unwrap_err();
        assert_eq!(err.errors.len(), 2, "{err}");
        assert!(
            err.errors
                .iter()
                .all(|e| e.place == "guard of action `accept`")
        );
        let text = SMALL.replace("owner = \"owner\", ", "");
        let err = parse("small.toml", &text).unwrap_err();
        assert!(
            err.errors[0].place == "syntax" && err.errors[0].message.contains("owner"),
            "{err}"
        );
    }

    fn column<'a>(d: &'a mut Definition, code: &str) -> &'a mut Field {
        table_of(d, "owners")
            .0
            .iter_mut()
            .find(|c| c.code == code)
            .unwrap()
    }

    #[test]
    fn an_owner_consent_counts_columns_of_the_right_type() {
        let place = "guard of action `accept`";
        let o = |v: &str| SelectOption {
            value: v.into(),
            label: text(v),
        };
        // The vote column's values are exactly the votes the count knows.
        for options in [
            vec![o("agree"), o("object"), o("abstain")],
            vec![
                o("agree"),
                o("object"),
                o("abstain"),
                o("absent"),
                o("proxy"),
            ],
            vec![o("yes"), o("object"), o("abstain"), o("absent")],
        ] {
            refused(
                &mutated(|d| column(d, "vote").ty = FieldType::Select { options }),
                place,
                "columns.vote `vote` must be a select whose values are exactly agree, object, abstain and absent",
            );
        }
        refused(
            &mutated(|d| column(d, "vote").ty = FieldType::Boolean),
            place,
            "columns.vote `vote` must be a select",
        );
        refused(
            &mutated(|d| {
                column(d, "area").ty = FieldType::Integer {
                    min: None,
                    max: None,
                }
            }),
            place,
            "columns.area `area` must be an area column",
        );
        refused(
            &mutated(|d| column(d, "owner").ty = FieldType::Date),
            place,
            "columns.owner `owner` must be a text, id_card or credit_code column",
        );
        refused(
            &mutated(|d| column(d, "signed").ty = FieldType::Date),
            place,
            "columns.signed `signed` must be a boolean column",
        );
        refused(
            &mutated(|d| column(d, "owner").required = false),
            place,
            "columns.owner `owner` must be required",
        );
        // An ID card column may identify the owners; the signature is optional.
        let by_id = mutated(|d| {
            column(d, "owner").ty = FieldType::IdCard;
            for g in &mut action(d, "accept").guards {
                if let Guard::OwnerConsent { columns, .. } = g {
                    columns.signed = None;
                }
            }
        });
        assert_eq!(check(&by_id), vec![]);
    }
}
