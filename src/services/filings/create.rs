//! Creating a draft, once per idempotency key.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{FilingView, parse_promises, views};
use crate::domain::Problem;
use crate::domain::definition::Role;
use crate::domain::forms::{self, Mode};
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::filings::{self as repo, NewFiling};
use crate::repo::users;
use crate::services::Ctx;
use crate::services::auth::Principal;

/// An idempotency key as a create takes it: 1 to 64 visible ASCII characters.
pub fn is_idempotency_key(k: &str) -> bool {
    (1..=64).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic())
}

/// How a create answered: a new draft, or the draft an earlier create with the same
/// idempotency key made.
pub enum Created {
    New(Box<FilingView>),
    Replayed(Box<FilingView>),
}

/// Create a draft of an item's newest version. With an idempotency key, a create sent again
/// (the same item, form and promises: a retry after an answer that was lost) is answered with
/// the filing the first one made, as it is now, and writes nothing; the same key with another
/// request is refused.
///
/// Window filing (窗口收件 / 代办): a clerk names the applicant who came to the counter
/// (`on_behalf_of`, their username). The draft is the applicant's; `filed_by` records the clerk,
/// who (with the clerks of their department) carries it to submission, which records the
/// window channel (GB/T 39046 A.5 code 1). Only a clerk may; the key is kept per clerk.
#[allow(clippy::too_many_arguments)]
pub fn create(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    item_code: &str,
    form: Map<String, Value>,
    promises: Map<String, Value>,
    on_behalf_of: Option<&str>,
    idempotency_key: Option<&str>,
) -> Result<Created, AppError> {
    let may = match on_behalf_of {
        None => p.has(Role::Applicant),
        Some(_) => p.has(Role::Clerk),
    };
    if !may {
        return Err(AppError::Forbidden);
    }
    let keyed = idempotency_key.map(|key| {
        let mut request = json!({ "item": item_code, "form": form, "promises": promises });
        // Only when sent, so that an applicant's keys hash as they always did.
        if let Some(username) = on_behalf_of {
            request["on_behalf_of"] = json!(username);
        }
        let digest = Sha256::digest(crate::domain::audit::canonical(&request).as_bytes());
        (key, hex::encode(digest))
    });
    if let Some((key, sha)) = &keyed
        && let Some(done) = replay(conn, ctx, p, key, sha)?
    {
        return Ok(Created::Replayed(Box::new(done)));
    }
    let item = ctx.items.latest(item_code).ok_or_else(|| {
        AppError::one_invalid(
            "item",
            "unknown_item",
            format!("没有编码为「{item_code}」的事项"),
            format!("There is no item with code “{item_code}”"),
        )
    })?;
    let mut problems = forms::validate(&item.def, &form, Mode::Draft);
    let applicant = match on_behalf_of {
        None => Some(p.user_id),
        Some(username) => {
            let found = window_applicant(conn, username)?;
            if found.is_none() {
                problems.push(Problem::new(
                    "on_behalf_of",
                    "unknown_applicant",
                    format!("没有用户名为「{username}」的申请人账户"),
                    format!("There is no applicant account with user name “{username}”"),
                ));
            }
            found
        }
    };
    let promises = match parse_promises(&promises, &item) {
        Ok(p) => p,
        Err(more) => {
            problems.extend(more);
            BTreeMap::new()
        }
    };
    let Some(applicant_id) = applicant.filter(|_| problems.is_empty()) else {
        return Err(AppError::Validation(problems));
    };
    let filed_by = on_behalf_of.map(|_| p.user_id);
    let initial = item
        .def
        .state(&item.def.initial)
        .ok_or_else(|| anyhow::anyhow!("{} has no initial state", item.def.code))?;
    let id = Uuid::new_v4();
    let made = conn.transaction(|conn| {
        let row = repo::insert(
            conn,
            &NewFiling {
                id,
                item_version_id: item.id,
                item_code: &item.def.code,
                applicant_id,
                state: &initial.code,
                state_kind: initial.kind.as_str(),
                department: item.def.department_of(initial),
                form: Value::Object(form),
                promises: serde_json::to_value(&promises)
                    .map_err(|e| AppError::Internal(e.into()))?,
                entered_state_at: ctx.now,
                created_at: ctx.now,
                updated_at: ctx.now,
                filed_by,
            },
        )?;
        let mut payload =
            json!({ "item": item.def.code, "item_version": item.version, "state": initial.code });
        if let Some(clerk) = filed_by {
            payload["filed_by"] = json!(clerk);
            payload["on_behalf_of"] = json!(applicant_id);
        }
        audit::append(
            conn,
            Event::filing(id, p.user_id, "create", ctx.now, payload),
        )?;
        if let Some((key, sha)) = &keyed {
            match repo::remember_key(conn, p.user_id, key, sha, id, ctx.now) {
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => return Err(NotMade::KeyTaken),
                other => other?,
            }
        }
        Ok(views::view(conn, ctx, p, &item, row)?)
    });
    match made {
        Ok(v) => Ok(Created::New(Box::new(v))),
        // A create with the same key committed while this one waited: this one wrote nothing.
        Err(NotMade::KeyTaken) => {
            let found = match &keyed {
                Some((key, sha)) => replay(conn, ctx, p, key, sha)?,
                None => None,
            };
            found
                .map(|v| Created::Replayed(Box::new(v)))
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!(
                        "an idempotency key taken, its filing not found"
                    ))
                })
        }
        Err(NotMade::Failed(e)) => Err(e),
    }
}

/// The applicant a clerk files for at the window: an active account holding the applicant
/// role; `None` for any other username (unknown, staff, or deactivated alike).
fn window_applicant(conn: &mut PgConnection, username: &str) -> Result<Option<Uuid>, AppError> {
    let Some(user) = users::by_username(conn, username.trim())? else {
        return Ok(None);
    };
    if !user.active || !users::roles_of(conn, user.id)?.contains(&Role::Applicant) {
        return Ok(None);
    }
    Ok(Some(user.id))
}

/// Why a create's transaction did not commit: the key was taken by a concurrent create with
/// the same key, or anything else.
enum NotMade {
    KeyTaken,
    Failed(AppError),
}

impl From<AppError> for NotMade {
    fn from(e: AppError) -> Self {
        NotMade::Failed(e)
    }
}

impl From<diesel::result::Error> for NotMade {
    fn from(e: diesel::result::Error) -> Self {
        NotMade::Failed(e.into())
    }
}

/// The filing an earlier create with this key made, if any; the key used for another
/// request is refused.
fn replay(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    p: &Principal,
    key: &str,
    sha: &str,
) -> Result<Option<FilingView>, AppError> {
    let Some((filing, earlier)) = repo::created_for_key(conn, p.user_id, key)? else {
        return Ok(None);
    };
    if earlier != sha {
        return Err(AppError::one_invalid(
            "Idempotency-Key",
            "key_reused",
            "此 Idempotency-Key 已用于另一份不同的申请，请为新申请使用新的键",
            "This Idempotency-Key was used for a different create: use a new key for a new request",
        ));
    }
    super::get(conn, ctx, p, filing).map(Some)
}
