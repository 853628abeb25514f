//! What the engine and the view need to know about a filing beside its row, read in one round
//! trip with it (`repo::filings::read_with_facts`, `lock_with_facts`, `facts`).

use std::collections::BTreeMap;

use chrono::{FixedOffset, NaiveDate};
use diesel::PgConnection;
use serde_json::{Map, Value};

use crate::clock::local_date;
use crate::domain::engine::{DeadlineFact, ReviewRecord, Snapshot};
use crate::domain::legal_time::LedgerEntry;
use crate::error::AppError;
use crate::repo::actions::ActionPlan;
use crate::repo::filings::{self as repo, FilingRow, MaterialRow};
use crate::repo::reminders::Closing;
use crate::repo::tasks::TaskRow;
use crate::services::deadlines;
use crate::services::notify::Recipient;

pub(super) struct Facts {
    pub material_rows: Vec<MaterialRow>,
    /// Every department's answer on the filing, of every visit (the decision's record).
    pub review_rows: Vec<repo::ReviewRow>,
    /// Files on file by material.
    pub materials: BTreeMap<String, u32>,
    pub promises: BTreeMap<String, NaiveDate>,
    /// The answers of this visit's joint review (what the engine's join decides on).
    pub reviews: Vec<ReviewRecord>,
    pub objections: u32,
    pub ledger: Vec<LedgerEntry>,
    pub tasks: Vec<TaskRow>,
    /// Deadlines on the applicant still open (an action that leaves a state closes them).
    pub deadlines: Vec<DeadlineFact>,
    /// The applicant, when their account is active (the recipient of their letters).
    pub applicant: Option<Recipient>,
    /// The filing's place in a 双随机 draw, if it is in one.
    pub draw: Option<crate::repo::draws::DrawFilingRow>,
}

impl Facts {
    /// One round trip: see [`repo::facts`].
    pub fn load(
        conn: &mut PgConnection,
        row: &FilingRow,
        offset: FixedOffset,
    ) -> Result<Facts, AppError> {
        let f = repo::facts(conn, row.id, row.state_visit, row.applicant_id)?;
        Self::from_rows(row, f, offset)
    }

    pub fn from_rows(
        row: &FilingRow,
        f: repo::FactsRows,
        offset: FixedOffset,
    ) -> Result<Facts, AppError> {
        let mut materials = BTreeMap::new();
        for m in &f.materials {
            *materials.entry(m.material.clone()).or_insert(0) += 1;
        }
        let reviews = f
            .reviews
            .iter()
            .filter(|r| r.visit == row.state_visit)
            .map(|r| ReviewRecord {
                department: r.department.clone(),
                verdict: r.verdict,
            })
            .collect();
        let ledger = deadlines::to_ledger(&f.ledger, offset)?;
        Ok(Facts {
            ledger,
            material_rows: f.materials,
            review_rows: f.reviews,
            tasks: f.tasks,
            deadlines: f
                .open_deadlines
                .into_iter()
                .map(|d| DeadlineFact {
                    code: d.code,
                    due_on: d.due_on,
                    extensions: u32::try_from(d.extensions).unwrap_or(0),
                    state_visit: d.state_visit,
                })
                .collect(),
            applicant: f.applicant.map(Recipient::from),
            materials,
            promises: row.promise_dates(),
            reviews,
            objections: u32::try_from(f.objections).unwrap_or(u32::MAX),
            draw: f.draw,
        })
    }

    /// Whether a file is on file for a material.
    pub fn on_file(&self, material: &str) -> bool {
        self.materials.get(material).is_some_and(|n| *n > 0)
    }

    /// The facts after an action, from those it was decided on and its plan (what it wrote),
    /// as a read in the same transaction would find them: an action does not touch materials;
    /// a review adds itself to the record; a new state is a new visit (no answers or objections
    /// in it yet) with the tasks the write opened; otherwise a review closes its department's
    /// task, an objection counts.
    pub fn after(
        mut self,
        plan: &ActionPlan,
        row: &FilingRow,
        ledger: Vec<LedgerEntry>,
        opened: Option<Vec<TaskRow>>,
    ) -> Facts {
        self.ledger = ledger;
        self.promises = row.promise_dates();
        if let Some(r) = &plan.review {
            self.review_rows.push(repo::ReviewRow {
                visit: r.visit,
                department: r.department.clone(),
                verdict: r.verdict,
                opinion: r.opinion.clone(),
                reason: r.reason.clone(),
                decided_by: plan.actor,
                decided_at: plan.at,
            });
            self.reviews.push(ReviewRecord {
                department: r.department.clone(),
                verdict: r.verdict,
            });
        }
        // The deadlines the action ended, moved on and opened.
        if let Some(which) = &plan.close_deadlines {
            self.deadlines.retain(|d| match which {
                Closing::All => false,
                Closing::Visit(v) => d.state_visit != Some(*v),
                Closing::Code(c) => d.code != *c,
            });
        }
        if let Some((moved, extensions)) = &plan.extend_deadline
            && let Some(d) = self.deadlines.iter_mut().find(|d| d.code == moved.code)
        {
            d.due_on = moved.due_on;
            d.extensions = u32::try_from(*extensions).unwrap_or(0);
        }
        for o in &plan.open_deadlines {
            let d = &o.deadline;
            if !self
                .deadlines
                .iter()
                .any(|x| x.code == d.code && x.due_on == d.due_on)
            {
                self.deadlines.push(DeadlineFact {
                    code: d.code.clone(),
                    due_on: d.due_on,
                    extensions: 0,
                    state_visit: d.state_visit,
                });
            }
        }
        if let Some(opened) = opened {
            self.reviews.clear();
            self.objections = 0;
            self.tasks = opened;
            return self;
        }
        if let Some(department) = &plan.close_task_of {
            self.tasks.retain(|t| t.department != *department);
        }
        if plan.objection.is_some() {
            self.objections = self.objections.saturating_add(1);
        }
        self
    }

    pub fn snapshot<'a>(
        &'a self,
        row: &'a FilingRow,
        offset: FixedOffset,
        calendar: &'a crate::domain::calendar::Calendar,
    ) -> Snapshot<'a> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        Snapshot {
            state: &row.state,
            form: row
                .form
                .as_object()
                .unwrap_or_else(|| EMPTY.get_or_init(Map::new)),
            materials: &self.materials,
            promises: &self.promises,
            reviews: &self.reviews,
            objections: self.objections,
            entered_state_on: local_date(row.entered_state_at, offset),
            clock: crate::domain::legal_time::phase_of(&self.ledger),
            calendar,
            deadlines: &self.deadlines,
            submitted_on: row.submitted_at.map(|t| local_date(t, offset)),
        }
    }
}
