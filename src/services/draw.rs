//! The fire filing's spot-check draw (双随机、一公开), made by the service, never by a clerk.
//!
//! Policy: commit, then seed, then draw (RFC 3797 in spirit; the arithmetic is
//! `domain::draw`).
//! 1. **Commit.** An entry in the draw's own audit chain (`draw:<id>`, action `draw:commit`)
//!    fixes the pool (sorted filing numbers with class and late flag), the ratios as exact
//!    fractions, the rule version (the item version and digest, the region's
//!    `spot_check_rule_version`), the inspectors' roster and each filing's conflicts (回避: the
//!    staff who acted on it, the conflicts declared against its builder). At receipt it is
//!    written in the receipt's own transaction; in the daily mode, by the `draw` job.
//! 2. **Seed.** Right after the commit the audit chains are sealed ([`audit::seal`]). The seed is
//!    the hash of the first seal that records the draw's chain: a seal covers the commitment's
//!    hash, so it cannot exist before the commitment, and its hash depends on the moment of
//!    sealing and on every chain that moved since the last seal; nobody in the office chooses
//!    it or can know it when the pool is fixed.
//! 3. **Draw.** The result is computed from the committed inputs and the seed, recorded in
//!    `draws`/`draw_filings` and as a `draw:result` entry, and the filings move on as the
//!    system user: `select_for_check` (the inspection's task claimed for the lead drawn
//!    inspector) or `mark_not_selected`.
//!
//! A process that dies between the steps leaves a draw committed but not drawn, or drawn with
//! filings not yet moved: the `draw` job finishes both from the same recorded inputs, and the
//! seed is still the first seal after the commitment, whenever it is read.
//!
//! [`verify`] redoes all of it from the evidence (the commitment entry and the seal), so a
//! changed `draws` row, a changed result or a seed from another seal is named.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::Ctx;
use super::auth::{Principal, SYSTEM_USER};
use super::items::Item;
use super::paging::{PageRequest, Paged};
use crate::domain::Text;
use crate::domain::audit as chain;
use crate::domain::definition::{Definition, Role, UserKind};
use crate::domain::draw::{self as pure, Candidate, Drawn, Inputs, Mode, Rules};
use crate::error::AppError;
use crate::repo::audit::{self as audit_repo, Event};
use crate::repo::draws::{self as repo, DrawFilingRow, DrawRow, NewDraw};
use crate::repo::filings::{self as filings_repo, FilingRow};

/// The item's action the draw takes for a selected filing, and for one not selected.
pub const SELECT: &str = pure::ACTIONS[0];
pub const NOT_SELECTED: &str = pure::ACTIONS[1];
/// How many filings a batch commits at most (the rest wait for the next run).
const BATCH: i64 = 500;

/// An item's draw: its rules and the states it joins.
#[derive(Debug)]
pub struct ItemDraw {
    pub rules: Rules,
    /// Where filings wait for the draw (`select_for_check` leaves it).
    pub pool_state: String,
    /// Where a selected filing is inspected (`select_for_check` leads to it).
    pub inspection_state: String,
    /// The department whose inspectors are drawn.
    pub department: String,
}

/// The item's draw, if it has one (`spot_check_ratios` among its settings): read when the
/// version was registered ([`parse_draw`]).
pub fn of_item(item: &Item) -> Option<&ItemDraw> {
    item.draw.as_ref()
}

/// An item version's draw, read once when the registry takes the version in (a definition
/// that passed the check always has a good one; a stored one that no longer does stops the
/// start, like a definition that no longer parses).
pub fn parse_draw(def: &Definition, version: i32) -> Result<Option<ItemDraw>, String> {
    let rules = match Rules::from_settings(&def.settings) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(problems) => {
            return Err(format!(
                "{} v{version}: bad spot-check settings: {}",
                def.code,
                problems.join("; ")
            ));
        }
    };
    let select = def
        .action(SELECT)
        .ok_or_else(|| format!("{} has spot-check settings but no `{SELECT}`", def.code))?;
    let pool_state = select.from.first().cloned().unwrap_or_default();
    let inspection_state = select.to.clone().unwrap_or_default();
    let department = def
        .state(&inspection_state)
        .map(|s| def.department_of(s).to_owned())
        .unwrap_or_else(|| def.department.clone());
    Ok(Some(ItemDraw {
        rules,
        pool_state,
        inspection_state,
        department,
    }))
}

/// Does this action, at receipt, put the filing into a draw now (the item draws at receipt and
/// the action leads into the pool)?
pub fn draws_at_receipt(item: &Item, to: &str, changes_state: bool) -> bool {
    changes_state
        && matches!(of_item(item), Some(d) if d.rules.mode == Mode::AtReceipt && d.pool_state == to)
}

fn chain_of(id: Uuid) -> String {
    format!("draw:{id}")
}

/// Commit a draw of these filings (each with the codes of its flags), in the caller's
/// transaction; its id. The filings must hold their numbers.
pub fn commit(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    item: &Item,
    filings: &[(FilingRow, Vec<String>)],
    actor: Uuid,
) -> Result<Uuid, AppError> {
    let d =
        of_item(item).ok_or_else(|| anyhow::anyhow!("{} has no spot-check draw", item.def.code))?;
    let roster: Vec<String> =
        crate::repo::users::with_role_in(conn, Role::Inspector, &d.department)?
            .into_iter()
            .filter(|u| u.kind == UserKind::Staff)
            .map(|u| u.id.to_string())
            .collect();
    let mut pool = Vec::new();
    let mut entries = Vec::new();
    let id = Uuid::new_v4();
    for (row, flags) in filings {
        let number = row
            .number
            .clone()
            .ok_or_else(|| anyhow::anyhow!("filing {} has no number to draw", row.id))?;
        let class = row
            .form
            .get("project_class")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let late = flags.iter().any(|f| f == pure::LATE_FLAG);
        let mut excluded: Vec<String> = repo::actors_on(conn, row.id)?
            .into_iter()
            .map(|u| u.to_string())
            .collect();
        if let Some(code) = row.form.get("builder_credit_code").and_then(Value::as_str) {
            excluded.extend(
                repo::conflicted(conn, code)?
                    .into_iter()
                    .map(|u| u.to_string()),
            );
        }
        // Only the roster's conflicts matter (and the applicant's own id is not published).
        excluded.retain(|u| roster.contains(u));
        pool.push(Candidate {
            number: number.clone(),
            class: class.clone(),
            late,
            excluded,
        });
        entries.push(DrawFilingRow {
            filing_id: row.id,
            draw_id: id,
            number,
            class,
            late,
            selected: None,
            inspectors: Vec::new(),
        });
    }
    let inputs = Inputs {
        ratios: d.rules.ratios.clone(),
        late_ratio: d.rules.late,
        inspectors: d.rules.inspectors,
        pool,
        roster,
    }
    .normalised();
    // A pool whose class has no ratio is refused here, before anything is committed.
    inputs.pool.iter().try_for_each(|c| {
        inputs.ratio_of(c).map(|_| ()).map_err(|e| {
            AppError::one_invalid(
                "form.project_class",
                "no_spot_check_ratio",
                format!("工程类别「{}」没有抽取比例", c.class),
                format!("no spot-check ratio for the class `{}` ({e})", c.class),
            )
        })
    })?;
    let inputs_json = serde_json::to_value(&inputs).map_err(anyhow::Error::from)?;
    // The public record is read in Chinese (抽查结果公示): the rule's published name, then the
    // item by its name, version and digest.
    let rule_version = format!(
        "{}；{}第 {} 版，摘要 {}",
        d.rules.rule_version,
        item.def.name.zh,
        item.version,
        &item.digest[..12.min(item.digest.len())]
    );
    let written = audit_repo::append(
        conn,
        Event {
            chain: chain_of(id),
            filing_id: None,
            actor_id: Some(actor),
            action: "draw:commit",
            at: ctx.now,
            payload: json!({
                "draw": id,
                "item": item.def.code,
                "item_version": item.version,
                "item_digest": item.digest,
                "rule_version": rule_version,
                "mode": d.rules.mode.as_str(),
                "inputs": inputs_json,
                "seed_source": "the hash of the first audit seal recording this chain at this entry or later",
            }),
        },
    )?;
    repo::insert(
        conn,
        &NewDraw {
            id,
            item_code: &item.def.code,
            item_version_id: item.id,
            pool_state: &d.pool_state,
            mode: d.rules.mode.as_str(),
            rule_version: &rule_version,
            inputs: inputs_json,
            committed_at: ctx.now,
            commit_seq: written.seq,
        },
        &entries,
    )?;
    Ok(id)
}

/// What completing a draw did.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Completed {
    /// The draw was drawn now (false: it already was).
    pub drawn: bool,
    /// Filings moved on (selected or not).
    pub moved: usize,
    /// Filings whose action was refused or raced: tried again by the next run of the job.
    pub failed: Vec<String>,
}

/// Seal if no seal covers the commitment yet, draw if not drawn, and move on the draw's filings
/// still waiting. Each step is its own transaction; run again, it continues where it stopped.
pub fn complete(conn: &mut PgConnection, ctx: &Ctx<'_>, id: Uuid) -> Result<Completed, AppError> {
    let d = repo::find(conn, id)?.ok_or(AppError::NotFound)?;
    let mut done = Completed::default();
    if d.drawn_at.is_none() {
        let chain_key = chain_of(id);
        if repo::first_seal_recording(conn, &chain_key, d.commit_seq)?.is_none() {
            super::audit::seal(conn, ctx.now)?;
        }
        let seal = repo::first_seal_recording(conn, &chain_key, d.commit_seq)?
            .ok_or_else(|| anyhow::anyhow!("draw {id}: no seal covers its commitment"))?;
        done.drawn = conn.transaction(|conn| -> Result<bool, AppError> {
            let d = repo::lock(conn, id)?.ok_or(AppError::NotFound)?;
            if d.drawn_at.is_some() {
                return Ok(false);
            }
            let inputs: Inputs = serde_json::from_value(d.inputs.clone())
                .map_err(|e| anyhow::anyhow!("draw {id}: recorded inputs unreadable: {e}"))?;
            let result =
                pure::draw(&inputs, &seal.hash).map_err(|e| anyhow::anyhow!("draw {id}: {e}"))?;
            let per_filing = result
                .iter()
                .map(|r| {
                    let ids = r
                        .inspectors
                        .iter()
                        .filter_map(|u| Uuid::parse_str(u).ok())
                        .collect();
                    (r.number.clone(), r.selected, ids)
                })
                .collect::<Vec<_>>();
            let result_json = serde_json::to_value(&result).map_err(anyhow::Error::from)?;
            repo::record_result(
                conn,
                id,
                seal.seq,
                &seal.hash,
                result_json.clone(),
                ctx.now,
                &per_filing,
            )?;
            audit_repo::append(
                conn,
                Event {
                    chain: chain_key.clone(),
                    filing_id: None,
                    actor_id: Some(SYSTEM_USER),
                    action: "draw:result",
                    at: ctx.now,
                    payload: json!({
                        "draw": id,
                        "seal_seq": seal.seq,
                        "seed": seal.hash,
                        "result": result_json,
                    }),
                },
            )?;
            Ok(true)
        })?;
    }
    let d = repo::find(conn, id)?.ok_or(AppError::NotFound)?;
    let item = ctx.items.by_id(conn, d.item_version_id)?;
    let Some(plan) = of_item(&item) else {
        return Ok(done);
    };
    let system = Principal::system();
    for (e, state) in repo::entries_with_state(conn, id)? {
        if state != d.pool_state {
            continue;
        }
        let Some(selected) = e.selected else { continue };
        let Some(row) = filings_repo::find(conn, e.filing_id)? else {
            continue;
        };
        let action = if selected { SELECT } else { NOT_SELECTED };
        let input = super::filings::ActInput::default();
        match super::filings::act(conn, ctx, &system, row.id, action, row.version, &input) {
            Ok(_) => done.moved += 1,
            Err(
                err @ (AppError::Conflict { .. } | AppError::Validation(_) | AppError::Forbidden),
            ) => {
                tracing::warn!(draw = %id, filing = %row.id, action, error = %err, "draw: action not taken");
                done.failed.push(format!("{}: {err}", e.number));
                continue;
            }
            Err(err) => return Err(err),
        }
        if let Some(lead) = e.inspector_ids().first() {
            assign_lead(conn, ctx, plan, &e, *lead)?;
        }
    }
    Ok(done)
}

/// The inspection's task goes to the lead drawn inspector, audited in the filing's chain as an
/// assignment by the service (as a manager's would be, with the draw).
fn assign_lead(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    plan: &ItemDraw,
    e: &DrawFilingRow,
    lead: Uuid,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let tasks = crate::repo::tasks::open_for_filing(conn, e.filing_id)?;
        if let Some(t) = tasks
            .iter()
            .find(|t| t.state == plan.inspection_state && t.role == Role::Inspector)
        {
            crate::repo::tasks::set_claim(conn, t.id, Some(lead), Some(ctx.now))?;
            audit_repo::append(
                conn,
                Event::filing(
                    e.filing_id,
                    SYSTEM_USER,
                    "assign",
                    ctx.now,
                    json!({
                        "task_id": t.id,
                        "role": t.role,
                        "department": t.department,
                        "detail": { "previous": null, "assignee": lead, "draw": e.draw_id, "inspectors": e.inspector_ids() },
                    }),
                ),
            )?;
        }
        Ok(())
    })
}

/// Only the drawn inspectors inspect a drawn filing (双随机: the inspectors are drawn too). A
/// filing drawn with no eligible inspector on the roster is open to the department's
/// inspectors, as before the draw. `draw` is the filing's place in its draw, read with its facts.
pub fn check_inspector(
    item: &Item,
    state: &str,
    p: &Principal,
    draw: Option<&DrawFilingRow>,
) -> Result<(), AppError> {
    if p.has(Role::System) {
        return Ok(());
    }
    let Some(plan) = of_item(item) else {
        return Ok(());
    };
    if plan.inspection_state != state {
        return Ok(());
    }
    match draw {
        Some(e)
            if e.selected == Some(true)
                && !e.inspector_ids().is_empty()
                && !e.inspector_ids().contains(&p.user_id) =>
        {
            Err(AppError::Forbidden)
        }
        _ => Ok(()),
    }
}

/// The job: commit a batch of every item's filings waiting for a draw that none holds (the daily
/// mode; at receipt, filings received before the draw was configured), then complete every
/// draw not drawn or with filings not yet moved.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct DrawReport {
    /// Draws committed by this run.
    pub committed: Vec<Uuid>,
    /// Draws drawn by this run.
    pub drawn: usize,
    /// Filings moved on.
    pub moved: usize,
    pub failed: Vec<String>,
}

pub fn run(conn: &mut PgConnection, ctx: &Ctx<'_>) -> Result<DrawReport, AppError> {
    let mut report = DrawReport::default();
    for latest in ctx.items.all_latest() {
        let Some(plan) = of_item(&latest) else {
            continue;
        };
        let committed = conn.transaction(|conn| -> Result<Vec<Uuid>, AppError> {
            let rows = repo::undrawn_filings(conn, &latest.def.code, &plan.pool_state, BATCH)?;
            // A batch per item version: each filing is drawn by the rules it runs under.
            let mut by_version: BTreeMap<i32, Vec<(FilingRow, Vec<String>)>> = BTreeMap::new();
            for row in rows {
                let item = ctx.items.by_id(conn, row.item_version_id)?;
                let flags = super::filings::flag_codes(conn, ctx, &item, &row)?;
                by_version
                    .entry(row.item_version_id)
                    .or_default()
                    .push((row, flags));
            }
            let mut ids = Vec::new();
            for (version, rows) in by_version {
                let item = ctx.items.by_id(conn, version)?;
                if of_item(&item).is_some() {
                    ids.push(commit(conn, ctx, &item, &rows, SYSTEM_USER)?);
                }
            }
            Ok(ids)
        })?;
        report.committed.extend(committed);
    }
    let mut todo = repo::undrawn(conn)?;
    todo.extend(repo::unfinished(conn)?);
    todo.sort();
    todo.dedup();
    for id in todo {
        let c = complete(conn, ctx, id)?;
        report.drawn += usize::from(c.drawn);
        report.moved += c.moved;
        report.failed.extend(c.failed);
    }
    Ok(report)
}

/// Declare a conflict of interest (回避): the inspector `username` is not drawn for works of
/// the builder with this credit code. Audited in the inspector's own chain.
pub fn declare_conflict(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    username: &str,
    credit_code: &str,
    reason: &str,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        let user = crate::repo::users::by_username(conn, username)?.ok_or(AppError::NotFound)?;
        repo::declare_conflict(conn, user.id, credit_code.trim(), reason, now)?;
        audit_repo::append(
            conn,
            Event {
                chain: format!("user:{}", user.id),
                filing_id: None,
                actor_id: None,
                action: "draw:conflict",
                at: now,
                payload: json!({ "credit_code": credit_code.trim(), "reason": reason }),
            },
        )?;
        Ok(())
    })
}

// -------------------------------------------------------------------------------------------
// Verification

/// A draw recomputed from its evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrawVerification {
    pub ok: bool,
    pub draw: Uuid,
    /// False while the draw waits for its seal (nothing to recompute yet).
    pub drawn: bool,
    /// What differs, one line each (empty when ok).
    pub differences: Vec<String>,
}

/// Recompute a draw: the recorded inputs against the commitment entry (and that entry's hash),
/// the seed against the first seal recording the commitment (and that seal's hash), and the
/// result, from the committed inputs and the seed, against the recorded result, its audit entry
/// and each filing's row.
pub fn verify(conn: &mut PgConnection, id: Uuid) -> Result<DrawVerification, AppError> {
    let d = repo::find(conn, id)?.ok_or(AppError::NotFound)?;
    let chain_key = chain_of(id);
    let mut diffs = Vec::new();
    let mut commitment_hash = String::new();
    let commitment = match repo::chain_entry(conn, &chain_key, d.commit_seq)? {
        Some((entry, prev, hash)) => {
            if chain::link(&prev, &entry) != hash {
                diffs.push("commitment: the audit entry does not hash to its recorded hash".into());
            }
            commitment_hash = hash;
            serde_json::from_str::<Value>(&entry)
                .ok()
                .and_then(|v| v.get("payload").cloned())
                .unwrap_or(Value::Null)
        }
        None => {
            diffs.push("commitment: no audit entry at the recorded place".into());
            Value::Null
        }
    };
    let committed_inputs = commitment.get("inputs").cloned().unwrap_or(Value::Null);
    for key in ["ratios", "late_ratio", "inspectors", "pool", "roster"] {
        if d.inputs.get(key) != committed_inputs.get(key) {
            diffs.push(format!(
                "inputs.{key}: the draw's record differs from its commitment"
            ));
        }
    }
    if commitment.get("rule_version").and_then(Value::as_str) != Some(d.rule_version.as_str()) {
        diffs.push("rule_version: the draw's record differs from its commitment".into());
    }
    let Some(seal_seq) = d.seal_seq else {
        return Ok(DrawVerification {
            ok: diffs.is_empty(),
            draw: id,
            drawn: false,
            differences: diffs,
        });
    };
    let first = repo::first_seal_recording(conn, &chain_key, d.commit_seq)?;
    match &first {
        Some(s) if s.seq == seal_seq => {
            if chain::link(&s.prev_hash, &s.entry) != s.hash {
                diffs.push(format!("seal {}: its hash does not match its entry", s.seq));
            }
            // The seal recorded this very commitment (when it sealed the chain at it).
            if let Some((seq, hash)) = repo::sealed_head(conn, s.seq, &chain_key)?
                && seq == d.commit_seq
                && hash != commitment_hash
            {
                diffs.push(format!(
                    "seal {}: it recorded another commitment than the one in the log",
                    s.seq
                ));
            }
        }
        Some(s) => diffs.push(format!(
            "seed: taken from seal {seal_seq}, but the first seal after the commitment is {}",
            s.seq
        )),
        None => diffs.push(format!(
            "seed: no seal records the commitment (seal {seal_seq} is named)"
        )),
    }
    let seed = first.map(|s| s.hash).unwrap_or_default();
    if d.seed.as_deref() != Some(seed.as_str()) {
        diffs.push("seed: not the hash of the first seal after the commitment".into());
    }
    let recomputed = serde_json::from_value::<Inputs>(committed_inputs)
        .map_err(|e| e.to_string())
        .and_then(|i| pure::draw(&i, &seed));
    let recomputed = match recomputed {
        Ok(r) => r,
        Err(e) => {
            diffs.push(format!("inputs: the committed inputs cannot be drawn: {e}"));
            Vec::new()
        }
    };
    let recorded: Vec<Drawn> = d
        .result
        .clone()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default();
    diffs.extend(
        pure::differences(&recorded, &recomputed)
            .into_iter()
            .map(|l| format!("result: {l}")),
    );
    let logged: Vec<Drawn> = repo::chain_entry(conn, &chain_key, d.commit_seq + 1)?
        .and_then(|(entry, _, _)| serde_json::from_str::<Value>(&entry).ok())
        .and_then(|v| v.pointer("/payload/result").cloned())
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default();
    diffs.extend(
        pure::differences(&logged, &recomputed)
            .into_iter()
            .map(|l| format!("result entry: {l}")),
    );
    let rows: Vec<Drawn> = repo::entries(conn, id)?
        .into_iter()
        .map(|e| Drawn {
            number: e.number,
            selected: e.selected == Some(true),
            inspectors: e.inspectors.iter().flatten().map(Uuid::to_string).collect(),
        })
        .collect();
    diffs.extend(
        pure::differences(&rows, &recomputed)
            .into_iter()
            .map(|l| format!("draw_filings: {l}")),
    );
    Ok(DrawVerification {
        ok: diffs.is_empty(),
        draw: id,
        drawn: true,
        differences: diffs,
    })
}

// -------------------------------------------------------------------------------------------
// What is published (no personal data: numbers, classes, results, staff ids)

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrawSummary {
    pub id: Uuid,
    pub item: String,
    pub mode: String,
    pub rule_version: String,
    pub committed_at: DateTime<Utc>,
    pub drawn_at: Option<DateTime<Utc>>,
    pub filings: usize,
    pub selected: usize,
}

fn summary(d: &DrawRow) -> DrawSummary {
    let count = |f: &dyn Fn(&Value) -> bool| {
        d.result
            .as_ref()
            .and_then(Value::as_array)
            .map_or(0, |a| a.iter().filter(|x| f(x)).count())
    };
    DrawSummary {
        id: d.id,
        item: d.item_code.clone(),
        mode: d.mode.clone(),
        rule_version: d.rule_version.clone(),
        committed_at: d.committed_at,
        drawn_at: d.drawn_at,
        filings: d
            .inputs
            .get("pool")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        selected: count(&|x| x.get("selected") == Some(&Value::Bool(true))),
    }
}

/// One filing of a published draw.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublishedFiling {
    pub number: String,
    pub class: String,
    pub class_label: Text,
    pub late: bool,
    /// Null while the draw waits for its seal.
    pub selected: Option<bool>,
    /// The inspection's result once done (`passed`, `rectification`, …, as the filing's state),
    /// with its label.
    pub inspection: Option<String>,
    pub inspection_label: Option<Text>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DrawDetail {
    #[serde(flatten)]
    pub summary: DrawSummary,
    pub item_version: i32,
    /// The inputs as committed (the pool, the ratios, the roster and conflicts as staff ids).
    #[schema(value_type = Object)]
    pub inputs: Value,
    /// The commitment's place in the draw's audit chain `draw:<id>`.
    pub commit_seq: i64,
    /// The seal whose hash is the seed.
    pub seal_seq: Option<i64>,
    pub seed: Option<String>,
    #[schema(value_type = Object)]
    pub result: Option<Value>,
    pub filings_now: Vec<PublishedFiling>,
}

pub fn list(conn: &mut PgConnection, page: &PageRequest) -> Result<Paged<DrawSummary>, AppError> {
    let after: Option<(DateTime<Utc>, Uuid)> = page.after()?;
    let rows = repo::list(conn, after, page.limit() + 1, page.offset())?;
    let total = repo::count(conn)?;
    Ok(
        Paged::from_probe(rows, page.limit(), total, |d| (d.committed_at, d.id))
            .map(|d| summary(&d)),
    )
}

pub fn get(conn: &mut PgConnection, ctx: &Ctx<'_>, id: Uuid) -> Result<DrawDetail, AppError> {
    let d = repo::find(conn, id)?.ok_or(AppError::NotFound)?;
    let item = ctx.items.by_id(conn, d.item_version_id)?;
    let plan = of_item(&item);
    let filings_now = repo::entries_with_state(conn, id)?
        .into_iter()
        .map(|(e, state)| {
            let done = plan.is_some_and(|p| {
                e.selected == Some(true) && state != p.pool_state && state != p.inspection_state
            });
            PublishedFiling {
                number: e.number,
                class_label: class_label(&item, &e.class),
                class: e.class,
                late: e.late,
                selected: e.selected,
                inspection_label: done
                    .then(|| item.def.state(&state).map(|s| s.label.clone()))
                    .flatten(),
                inspection: done.then_some(state),
            }
        })
        .collect();
    Ok(DrawDetail {
        summary: summary(&d),
        item_version: item.version,
        inputs: d.inputs.clone(),
        commit_seq: d.commit_seq,
        seal_seq: d.seal_seq,
        seed: d.seed.clone(),
        result: d.result.clone(),
        filings_now,
    })
}

/// The ratios in force, per item that draws (its latest version), for the public page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RatiosInForce {
    pub item: String,
    pub item_name: Text,
    pub rule_version: String,
    pub mode: Mode,
    /// (class, its label, the share).
    pub ratios: Vec<(String, Text, String)>,
    pub late_ratio: String,
    pub inspectors: usize,
}

pub fn in_force(ctx: &Ctx<'_>) -> Result<Vec<RatiosInForce>, AppError> {
    let mut out = Vec::new();
    for item in ctx.items.all_latest() {
        let Some(plan) = of_item(&item) else {
            continue;
        };
        let label = |class: &str| class_label(&item, class);
        out.push(RatiosInForce {
            item: item.def.code.clone(),
            item_name: item.def.name.clone(),
            rule_version: plan.rules.rule_version.clone(),
            mode: plan.rules.mode,
            ratios: plan
                .rules
                .ratios
                .iter()
                .map(|(c, r)| (c.clone(), label(c), r.to_string()))
                .collect(),
            late_ratio: plan.rules.late.to_string(),
            inspectors: plan.rules.inspectors,
        });
    }
    Ok(out)
}

/// A project class as the item names it (the province's list), or its code.
fn class_label(item: &Item, class: &str) -> Text {
    item.def
        .settings
        .get("project_classes")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|o| o.get("value").and_then(Value::as_str) == Some(class))
        })
        .and_then(|o| o.get("label").cloned())
        .and_then(|l| serde_json::from_value(l).ok())
        .unwrap_or_else(|| Text {
            zh: class.to_owned(),
            en: class.to_owned(),
        })
}

/// A filing's place in a draw, as its view shows it (抽中 / 未抽中).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FilingDraw {
    pub draw_id: Uuid,
    /// Null while the draw waits for its seal.
    pub selected: Option<bool>,
    pub label: Text,
}

/// The view of a filing's place in its draw (`draw`, read with its facts), for items that draw.
pub fn of_filing(item: &Item, draw: Option<&DrawFilingRow>) -> Option<FilingDraw> {
    if !item.def.settings.contains_key(pure::RATIOS) {
        return None;
    }
    draw.map(|e| FilingDraw {
        draw_id: e.draw_id,
        selected: e.selected,
        label: match e.selected {
            Some(true) => Text {
                zh: "抽中".into(),
                en: "Selected for a spot check".into(),
            },
            Some(false) => Text {
                zh: "未抽中".into(),
                en: "Not selected".into(),
            },
            None => Text {
                zh: "待抽取".into(),
                en: "Awaiting the draw".into(),
            },
        },
    })
}
