//! Running the plan: every step through the real use cases, in the order of its simulated
//! time across all journeys, with a `Ctx` whose `now` is that time. Before the office opens
//! on each working day the deadline scan runs (escalations, reminders, lapses) and the audit
//! chains are sealed, as the jobs would have done that morning.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use diesel::PgConnection;
use rand::rngs::StdRng;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::people::Cast;
use super::plan::{self, FIRE, FIRE_NOT_SELECTED, FIRE_SELECTED, Journey, Kind, Step, Who};
use super::{Made, Setup, pdf};
use crate::error::AppError;
use crate::services::Ctx;
use crate::services::filings::{self, ActInput, Created, Upload};
use crate::services::{audit, digest, scan};

/// The same context at another time.
fn at<'c>(base: &Ctx<'c>, now: DateTime<Utc>) -> Ctx<'c> {
    Ctx {
        items: base.items,
        calendar: base.calendar,
        now,
        offset: base.offset,
        mail: base.mail,
        issuer: base.issuer,
    }
}

struct Live {
    filing: Option<Uuid>,
}

struct Office<'s> {
    setup: &'s Setup,
    days: Vec<NaiveDate>,
    journeys: Vec<Journey>,
    live: Vec<Live>,
    queue: BinaryHeap<Reverse<(DateTime<Utc>, usize, usize)>>,
    cast: Cast,
    rng: StdRng,
    /// The fire filings' draws so far.
    selected: usize,
    not_selected: usize,
    /// General filings received and not yet drawn.
    pending: usize,
    stream_done: bool,
    made: Made,
}

/// Make the year over `days` (working days, today excluded), then run the jobs at `base.now`.
pub fn year(
    conn: &mut PgConnection,
    base: &Ctx<'_>,
    setup: &Setup,
    days: Vec<NaiveDate>,
) -> Result<Made, AppError> {
    let mut rng = plan::rng();
    let journeys = plan::plan(&mut rng, &days);
    let mut o = Office {
        setup,
        live: journeys.iter().map(|_| Live { filing: None }).collect(),
        days,
        journeys,
        queue: BinaryHeap::new(),
        cast: Cast::default(),
        rng,
        selected: 0,
        not_selected: 0,
        pending: 0,
        stream_done: false,
        made: Made::default(),
    };
    for j in 0..o.journeys.len() {
        o.schedule(base, j, 0)?;
    }
    let mut scanned = 0;
    while let Some(Reverse((t, j, s))) = o.queue.pop() {
        while scanned < o.days.len() {
            let morning = o.time(base, scanned, -15)?;
            if morning > t {
                break;
            }
            morning_jobs(conn, &at(base, morning), setup)?;
            scanned += 1;
        }
        o.step(conn, &at(base, t), j, s)?;
    }
    while scanned < o.days.len() {
        let morning = o.time(base, scanned, -15)?;
        morning_jobs(conn, &at(base, morning), setup)?;
        scanned += 1;
    }
    // Today, at the service's time: what the jobs would find now, and the staff's digests.
    morning_jobs(conn, base, setup)?;
    digest::digest(conn, base, &setup.jobs)?;
    o.made.selected = o.selected;
    o.made.not_selected = o.not_selected;
    Ok(o.made)
}

/// The deadline scan (as `jobs::deadline_scan`) and a seal of the chains that grew.
fn morning_jobs(conn: &mut PgConnection, ctx: &Ctx<'_>, setup: &Setup) -> Result<(), AppError> {
    scan::fold_open_due(conn)?;
    scan::expire(conn, ctx)?;
    if !ctx.is_rest_day(&setup.jobs)? {
        scan::escalate(conn, ctx)?;
        scan::remind(conn, ctx)?;
        // Permits issued go to the platform within their five working days. (The SPGL rows
        // wait for the `exchange` job after the start: the front database is written outside
        // this transaction, and a making rolled back must leave nothing there.)
        if let Some(dir) = &setup.platform_files {
            crate::services::exchange::deliver_to_files(conn, ctx, dir)?;
        }
    }
    audit::seal(conn, ctx.now)?;
    Ok(())
}

impl Office<'_> {
    /// Local time on a working day: 09:00 plus `minute`.
    fn time(&self, base: &Ctx<'_>, day: usize, minute: i64) -> Result<DateTime<Utc>, AppError> {
        let date = self.days[day];
        let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
        let local = date.and_time(nine) + Duration::minutes(minute);
        local
            .and_local_timezone(base.offset)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no local time {local}")))
    }

    /// Queue step `s` of journey `j`, unless it falls on today or later (work still to do).
    fn schedule(&mut self, base: &Ctx<'_>, j: usize, s: usize) -> Result<(), AppError> {
        let Some(p) = self.journeys[j].steps.get(s) else {
            return Ok(());
        };
        if p.day >= self.days.len() {
            return Ok(());
        }
        let t = self.time(base, p.day, i64::from(p.minute))?;
        self.queue.push(Reverse((t, j, s)));
        Ok(())
    }

    fn step(
        &mut self,
        conn: &mut PgConnection,
        ctx: &Ctx<'_>,
        j: usize,
        s: usize,
    ) -> Result<(), AppError> {
        let step = self.journeys[j].steps[s].step.clone();
        let kind = self.journeys[j].kind;
        match step {
            Step::File(materials) => {
                if kind == Kind::FireGeneral {
                    // The stream opens a filing only while it may still be needed.
                    if self.stream_done || self.not_selected + self.pending >= FIRE_NOT_SELECTED {
                        return Ok(());
                    }
                    self.pending += 1;
                }
                self.file(conn, ctx, j, &materials)?;
            }
            Step::Upload(materials) => {
                let id = self.filing(j)?;
                let who = self.journeys[j].applicant;
                for m in materials {
                    self.upload(conn, ctx, who, id, m)?;
                }
            }
            Step::Act { who, action, input } => {
                let id = self.filing(j)?;
                self.act(conn, ctx, j, id, who, action, &input)?;
                if action == "issue_receipt" && self.journeys[j].item == FIRE {
                    self.drawn(conn, ctx, j, s, id)?;
                }
            }
        }
        self.schedule(&at(ctx, ctx.now), j, s + 1)
    }

    fn filing(&self, j: usize) -> Result<Uuid, AppError> {
        self.live[j].filing.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("demo office: journey {j} has no filing"))
        })
    }

    fn file(
        &mut self,
        conn: &mut PgConnection,
        ctx: &Ctx<'_>,
        j: usize,
        materials: &[&'static str],
    ) -> Result<(), AppError> {
        let (item, applicant) = (self.journeys[j].item, self.journeys[j].applicant);
        let form = match &self.journeys[j].form {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        let p = self.cast.get(conn, applicant)?.clone();
        let view = match filings::create(conn, ctx, &p, item, form, Map::new(), None, None)? {
            Created::New(v) | Created::Replayed(v) => v,
        };
        self.live[j].filing = Some(view.id);
        self.made.filings += 1;
        for m in materials {
            self.upload(conn, ctx, applicant, view.id, m)?;
        }
        let submit = at(ctx, ctx.now + Duration::minutes(3));
        self.act(
            conn,
            &submit,
            j,
            view.id,
            Who::Applicant,
            "submit",
            &ActInput::default(),
        )
    }

    /// Store a small PDF as the upload handler would (content-addressed under the upload
    /// directory), then record it through the use case.
    fn upload(
        &mut self,
        conn: &mut PgConnection,
        ctx: &Ctx<'_>,
        who: &str,
        id: Uuid,
        material: &str,
    ) -> Result<(), AppError> {
        let bytes = pdf::material(&[
            "permits demo office".to_owned(),
            format!("filing {id}"),
            format!("material: {material}"),
            format!("uploaded {}", ctx.now.to_rfc3339()),
        ]);
        let sha = hex::encode(Sha256::digest(&bytes));
        store(&self.setup.uploads, &sha, &bytes)?;
        let p = self.cast.get(conn, who)?.clone();
        filings::add_material(
            conn,
            ctx,
            &p,
            id,
            material,
            &Upload {
                file_name: format!("{material}.pdf"),
                content_type: "application/pdf".to_owned(),
                size_bytes: bytes.len() as i64,
                sha256: sha,
            },
        )?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn act(
        &mut self,
        conn: &mut PgConnection,
        ctx: &Ctx<'_>,
        j: usize,
        id: Uuid,
        who: Who,
        action: &str,
        input: &ActInput,
    ) -> Result<(), AppError> {
        let p = match who {
            Who::Staff(name) => self.cast.get(conn, name)?.clone(),
            Who::Applicant => self.cast.get(conn, self.journeys[j].applicant)?.clone(),
            Who::Lead => {
                let lead = crate::repo::draws::for_filing(conn, id)?
                    .and_then(|e| e.inspector_ids().first().copied());
                match lead {
                    Some(u) => self.cast.by_id(conn, u)?.clone(),
                    None => self.cast.get(conn, "inspector")?.clone(),
                }
            }
        };
        let version = crate::repo::filings::find(conn, id)?
            .ok_or(AppError::NotFound)?
            .version;
        filings::act(conn, ctx, &p, id, action, version, input).map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "demo office: {} `{action}` by {} on {}: {e:?}",
                self.journeys[j].item,
                p.username,
                ctx.now
            ))
        })?;
        self.made.actions += 1;
        Ok(())
    }

    /// A fire filing was receipted and drawn at once: count it; a selected one goes on to its
    /// inspection. When the stream has its 19 not drawn, the late filings that top the drawn
    /// up to 7 are planned from here on.
    fn drawn(
        &mut self,
        conn: &mut PgConnection,
        ctx: &Ctx<'_>,
        j: usize,
        s: usize,
        id: Uuid,
    ) -> Result<(), AppError> {
        let state = crate::repo::filings::find(conn, id)?
            .ok_or(AppError::NotFound)?
            .state;
        if self.journeys[j].kind == Kind::FireGeneral {
            self.pending = self.pending.saturating_sub(1);
        }
        let (day, minute) = {
            let p = &self.journeys[j].steps[s];
            (p.day, p.minute)
        };
        match state.as_str() {
            "inspection" => {
                self.selected += 1;
                // The last filing drawn lately awaits its inspection (the inspectors' queue
                // has work, its 15 working days running); the others are inspected.
                let last = self.selected == FIRE_SELECTED && day + 15 >= self.days.len();
                if !last {
                    let more = plan::inspection(&mut self.rng, self.selected - 1, day, minute);
                    self.journeys[j].steps.extend(more);
                }
            }
            "not_selected" => self.not_selected += 1,
            other => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "demo office: a receipted fire filing is in `{other}`, not drawn"
                )));
            }
        }
        if self.journeys[j].kind == Kind::FireGeneral
            && !self.stream_done
            && self.not_selected >= FIRE_NOT_SELECTED
        {
            self.stream_done = true;
            if self.selected > FIRE_SELECTED {
                tracing::warn!(
                    selected = self.selected,
                    "demo office: the draw selected {} of the general fire filings, more than the {FIRE_SELECTED} the figures want: the year shows {}",
                    self.selected,
                    self.selected
                );
            }
            let needed = FIRE_SELECTED.saturating_sub(self.selected);
            let w = self.days.len();
            let from = day + 2;
            let to = w.saturating_sub(6).max(from);
            for n in 0..needed {
                let at_day = from + (to - from) * (n + 1) / needed;
                let journey = plan::late_fire(&mut self.rng, &self.days, at_day, n);
                self.journeys.push(journey);
                self.live.push(Live { filing: None });
                let k = self.journeys.len() - 1;
                self.schedule(ctx, k, 0)?;
            }
        }
        Ok(())
    }
}

/// An upload's file where the upload handler keeps it: `<dir>/<sha[..2]>/<sha>`.
fn store(dir: &Path, sha: &str, bytes: &[u8]) -> Result<(), AppError> {
    let target = dir.join(&sha[..2]).join(sha);
    if target.exists() {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(&target, bytes)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", target.display()))?;
    Ok(())
}
