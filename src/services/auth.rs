//! Accounts, passwords and tokens.
//!
//! Policy: passwords are hashed with argon2id; bearer tokens are 256 random bits shown once and
//! stored as SHA-256, expire, and can be revoked. A login for an unknown name costs as much as
//! one for a known name (no user enumeration by timing). Consecutive failures lock the account
//! for a while. Registrations and logins are audited in the user's own chain.

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash, PasswordVerifier};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Auth as AuthSettings;
use crate::domain::Lang;
use crate::domain::definition::{Role, UserKind};
use crate::error::AppError;
use crate::repo::audit::{self, Event};
use crate::repo::users::{self, NewToken, NewUser, UserRow};

/// A bearer token or session cookie as the caller presented it, not yet checked. The web layer
/// reads it from the request; the use case's own hop checks it ([`crate::app::AppState::run_as`]),
/// so a request costs one trip to the pool, not one for the caller and one for the work.
#[derive(Debug, Clone)]
pub struct Token(String);

impl Token {
    /// A token as presented: at most 200 characters, not empty (longer ones are no token of
    /// ours and are refused without a query).
    pub fn presented(raw: &str) -> Option<Token> {
        let t = raw.trim();
        (!t.is_empty() && t.len() <= 200).then(|| Token(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Token {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Principal {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub kind: UserKind,
    pub roles: Vec<Role>,
    pub department: Option<String>,
    pub lang: Lang,
}

/// The service's own account (created by the `life_after_decision` migration).
pub const SYSTEM_USER: Uuid = Uuid::from_u128(1);

impl Principal {
    /// The service itself, taking the action a deadline's expiry causes. It holds the one
    /// role no account can be granted.
    pub fn system() -> Principal {
        Principal {
            user_id: SYSTEM_USER,
            username: "system".into(),
            display_name: "系统".into(),
            kind: UserKind::System,
            roles: vec![Role::System],
            department: None,
            lang: Lang::Zh,
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// 403 unless the caller holds one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Staff who work filings (not admins or auditors, who only read).
    pub fn works_filings(&self) -> bool {
        self.department.is_some()
            && self.roles.iter().any(|r| {
                matches!(
                    r,
                    Role::Clerk | Role::Reviewer | Role::Inspector | Role::Manager
                )
            })
    }

    fn from_row(row: UserRow, roles: Vec<Role>) -> Principal {
        Principal {
            user_id: row.id,
            username: row.username,
            display_name: row.display_name,
            kind: row.kind,
            roles,
            department: row.department,
            lang: row.lang,
        }
    }
}

pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of a random password, verified against when the user does not exist so that both
/// paths cost the same.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not-a-real-password-0").unwrap_or_default())
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "pt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A new account's details, already validated at the edge.
pub struct Registration<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub display_name: &'a str,
    pub kind: UserKind,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub credit_code: Option<&'a str>,
    pub lang: Lang,
    pub department: Option<&'a str>,
    pub roles: &'a [Role],
}

/// Create an account. `by` is the admin creating staff, or None for self-registration.
pub fn create_user(
    conn: &mut PgConnection,
    reg: &Registration<'_>,
    by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    let hash = hash_password(reg.password)?;
    let id = Uuid::new_v4();
    conn.transaction(|conn| {
        if users::by_username(conn, reg.username)?.is_some() {
            return Err(AppError::conflict(
                "username_taken",
                "该用户名已被使用",
                "This username is taken",
                json!({}),
            ));
        }
        let roles: Vec<&str> = reg.roles.iter().map(|r| r.as_str()).collect();
        users::insert(
            conn,
            &NewUser {
                id,
                username: reg.username,
                display_name: reg.display_name,
                kind: reg.kind.as_str(),
                email: reg.email,
                phone: reg.phone,
                credit_code: reg.credit_code,
                lang: reg.lang.as_str(),
                password_hash: &hash,
                department: reg.department,
                created_at: now,
            },
            &roles,
        )
        .map_err(unique_username)?;
        audit::append(
            conn,
            Event {
                chain: match by {
                    Some(_) => "admin".to_owned(),
                    None => format!("user:{id}"),
                },
                filing_id: None,
                actor_id: Some(by.unwrap_or(id)),
                action: if by.is_some() {
                    "create_user"
                } else {
                    "register"
                },
                at: now,
                payload: json!({
                    "user_id": id, "username": reg.username, "kind": reg.kind,
                    "roles": roles, "department": reg.department,
                }),
            },
        )?;
        Ok(id)
    })
}

/// What a change of an account's access did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AccessChange {
    pub user_id: Uuid,
    pub username: String,
    pub active: bool,
    /// False when the account already was so (a repeated request changes nothing).
    pub changed: bool,
    /// Live tokens and sessions revoked (deactivation).
    pub tokens_revoked: usize,
    /// Tasks the person had claimed, returned to their queues (deactivation).
    pub claims_released: usize,
}

/// An administrator deactivates or reactivates an account. Deactivation revokes every token
/// and session at once (the token check also requires an active account), returns the
/// person's claimed tasks to their queues, and stops letters to them; nothing is deleted, and
/// the person's history stays theirs. Audited in the admin chain (each released claim in its
/// filing's chain). Administrators cannot deactivate themselves.
pub fn set_active(
    conn: &mut PgConnection,
    admin: &Principal,
    user: Uuid,
    active: bool,
    now: DateTime<Utc>,
) -> Result<AccessChange, AppError> {
    admin.require(&[Role::Admin])?;
    conn.transaction(|conn| {
        let u = users::lock(conn, user)?.ok_or(AppError::NotFound)?;
        if !active && u.id == admin.user_id {
            return Err(AppError::conflict(
                "cannot_deactivate_self",
                "不能停用自己的账号",
                "You cannot deactivate your own account",
                json!({}),
            ));
        }
        let mut change = AccessChange {
            user_id: u.id,
            username: u.username.clone(),
            active,
            changed: u.active != active,
            tokens_revoked: 0,
            claims_released: 0,
        };
        if !change.changed {
            return Ok(change);
        }
        users::set_active(conn, u.id, active)?;
        if !active {
            change.tokens_revoked = users::revoke_all_tokens(conn, u.id, None, now)?;
            let claimed = crate::repo::tasks::claimed_open(conn, u.id)?;
            for t in &claimed {
                crate::repo::tasks::set_claim(conn, t.id, None, None)?;
                audit::append(
                    conn,
                    Event {
                        chain: format!("filing:{}", t.filing_id),
                        filing_id: Some(t.filing_id),
                        actor_id: Some(admin.user_id),
                        action: "release_on_deactivation",
                        at: now,
                        payload: json!({
                            "task_id": t.id, "role": t.role, "department": t.department,
                            "previous": u.id, "claimed_at": t.claimed_at,
                        }),
                    },
                )?;
            }
            change.claims_released = claimed.len();
        }
        audit::append(
            conn,
            Event {
                chain: "admin".to_owned(),
                filing_id: None,
                actor_id: Some(admin.user_id),
                action: if active {
                    "activate_user"
                } else {
                    "deactivate_user"
                },
                at: now,
                payload: json!({
                    "user_id": u.id, "username": u.username,
                    "tokens_revoked": change.tokens_revoked,
                    "claims_released": change.claims_released,
                }),
            },
        )?;
        Ok(change)
    })
}

/// Passwords: 10 to 128 characters (as at registration).
fn check_new_password(path: &str, new: &str) -> Result<(), AppError> {
    let n = new.chars().count();
    if !(10..=128).contains(&n) {
        return Err(AppError::one_invalid(
            path,
            "length",
            "密码须为 10 到 128 个字符",
            "A password needs 10 to 128 characters",
        ));
    }
    Ok(())
}

/// What a password change did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    /// Other sessions and tokens of the account, ended.
    pub sessions_ended: usize,
}

/// A signed-in person changes their own password, giving the current one. Every other session
/// and token of theirs ends; the one in use stays. A wrong current password counts as a failed
/// sign-in (the same throttle), so a stolen session cannot be used to guess it.
pub fn change_password(
    conn: &mut PgConnection,
    settings: &AuthSettings,
    p: &Principal,
    token: &str,
    current: &str,
    new: &str,
    now: DateTime<Utc>,
) -> Result<PasswordChanged, AppError> {
    check_new_password("new_password", new)?;
    let u = users::by_id(conn, p.user_id)?.ok_or(AppError::Unauthenticated)?;
    ensure_not_locked(conn, &u.username, now)?;
    let wrong_current = || {
        AppError::one_invalid(
            "current_password",
            "wrong_password",
            "当前密码不正确",
            "The current password is not right",
        )
    };
    if !verify_password(current, &u.password_hash) {
        conn.transaction::<_, AppError, _>(|conn| {
            count_failure(conn, settings, &u.username, now)?;
            Ok(())
        })?;
        return Err(wrong_current());
    }
    if current == new {
        return Err(AppError::one_invalid(
            "new_password",
            "unchanged",
            "新密码不能与当前密码相同",
            "The new password must differ from the current one",
        ));
    }
    let hash = hash_password(new)?;
    conn.transaction(|conn| {
        // The password was checked before the lock (hashing is slow). Changed meanwhile (a
        // change sent from another session at the same time, an administrator's reset), the
        // password given is no longer the current one.
        let locked = users::lock(conn, u.id)?.ok_or(AppError::Unauthenticated)?;
        if locked.password_hash != u.password_hash {
            return Err(wrong_current());
        }
        users::set_password_hash(conn, u.id, &hash)?;
        users::reset_failed_logins(conn, &u.username)?;
        let ended = users::revoke_all_tokens(conn, u.id, Some(&token_hash(token)), now)?;
        audit::append(
            conn,
            Event::own_account(
                u.id,
                "change_password",
                now,
                json!({ "sessions_ended": ended }),
            ),
        )?;
        Ok(PasswordChanged {
            sessions_ended: ended,
        })
    })
}

/// An administrator sets a new initial password for someone who lost theirs: every session
/// and token of the account ends. Audited in the admin chain (the password itself nowhere).
pub fn reset_password(
    conn: &mut PgConnection,
    admin: &Principal,
    user: Uuid,
    new: &str,
    now: DateTime<Utc>,
) -> Result<PasswordChanged, AppError> {
    admin.require(&[Role::Admin])?;
    // One's own password is changed knowing the current one (`/me/password`): the reset would
    // let a stolen admin session take the account over for good.
    if user == admin.user_id {
        return Err(AppError::conflict(
            "own_account",
            "不能在此重置自己的密码，请在“修改密码”中输入当前密码后修改",
            "You cannot reset your own password here: change it with your current password (/me/password)",
            json!({ "change_password": "/api/v1/me/password" }),
        ));
    }
    check_new_password("password", new)?;
    let hash = hash_password(new)?;
    conn.transaction(|conn| {
        let u = users::lock(conn, user)?.ok_or(AppError::NotFound)?;
        users::set_password_hash(conn, u.id, &hash)?;
        users::reset_failed_logins(conn, &u.username)?;
        let ended = users::revoke_all_tokens(conn, u.id, None, now)?;
        audit::append(
            conn,
            Event {
                chain: "admin".to_owned(),
                filing_id: None,
                actor_id: Some(admin.user_id),
                action: "reset_password",
                at: now,
                payload: json!({ "user_id": u.id, "username": u.username, "sessions_ended": ended }),
            },
        )?;
        Ok(PasswordChanged {
            sessions_ended: ended,
        })
    })
}

/// Two registrations of one name at once: the loser gets the same 409 as a later one.
fn unique_username(e: diesel::result::Error) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::conflict(
            "username_taken",
            "该用户名已被使用",
            "This username is taken",
            json!({}),
        ),
        other => other.into(),
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Login {
    /// Shown once; send it as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: Principal,
}

/// A name locked after repeated failures gets 429 until the lock ends.
fn ensure_not_locked(
    conn: &mut PgConnection,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if let Some(until) = users::locked_until(conn, name)?.filter(|u| *u > now) {
        return Err(AppError::TooManyRequests {
            retry_after_secs: (until - now).num_seconds().max(1) as u64,
        });
    }
    Ok(())
}

/// One more failed password for a name, locking it at the configured count; the count.
fn count_failure(
    conn: &mut PgConnection,
    settings: &AuthSettings,
    name: &str,
    now: DateTime<Utc>,
) -> QueryResult<i32> {
    let lock_until = now + Duration::minutes(i64::from(settings.lockout_minutes));
    let max = i32::try_from(settings.max_failed_logins).unwrap_or(i32::MAX);
    users::record_failed_login(conn, name, max, lock_until, now)
}

pub fn login(
    conn: &mut PgConnection,
    settings: &AuthSettings,
    username: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<Login, AppError> {
    // The name as typed decides the throttle, known or not (see login_throttle in the baseline migration).
    let name = username.trim().to_lowercase();
    ensure_not_locked(conn, &name, now)?;
    // Unknown and inactive accounts cost one verification too: no enumeration by timing.
    let user = users::by_username(conn, &name)?
        .filter(|u| u.active && u.kind != crate::domain::definition::UserKind::System);
    let hash = user
        .as_ref()
        .map_or(dummy_hash(), |u| u.password_hash.as_str());
    let verified = verify_password(password, hash);
    let Some(user) = user.filter(|_| verified) else {
        conn.transaction::<_, AppError, _>(|conn| {
            let failures = count_failure(conn, settings, &name, now)?;
            if let Some(u) = users::by_username(conn, &name)? {
                audit::append(
                    conn,
                    Event::own_account(
                        u.id,
                        "login_failed",
                        now,
                        json!({ "consecutive_failures": failures }),
                    ),
                )?;
            }
            Ok(())
        })?;
        return Err(AppError::Unauthenticated);
    };
    let token = new_token();
    let expires_at = now + Duration::hours(i64::from(settings.token_ttl_hours));
    let principal = conn.transaction::<_, AppError, _>(|conn| {
        // The password was checked before this transaction (hashing is slow). Changed or
        // reset meanwhile, every session was ended and the old password must not open a new
        // one; deactivated meanwhile, none may open. The share lock keeps either from
        // happening until this session is recorded, so the change or deactivation ends it.
        let now_row = users::lock_shared(conn, user.id)?;
        if !now_row.is_some_and(|u| u.active && u.password_hash == user.password_hash) {
            return Err(AppError::Unauthenticated);
        }
        users::reset_failed_logins(conn, &name)?;
        users::insert_token(
            conn,
            &NewToken {
                id: Uuid::new_v4(),
                user_id: user.id,
                token_hash: &token_hash(&token),
                created_at: now,
                expires_at,
            },
        )?;
        audit::append(
            conn,
            Event::own_account(
                user.id,
                "login",
                now,
                json!({ "expires_at": expires_at.to_rfc3339() }),
            ),
        )?;
        let roles = users::roles_of(conn, user.id)?;
        Ok(Principal::from_row(user, roles))
    })?;
    Ok(Login {
        token,
        expires_at,
        user: principal,
    })
}

pub fn logout(
    conn: &mut PgConnection,
    p: &Principal,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    conn.transaction(|conn| {
        users::revoke_token(conn, &token_hash(token), now)?;
        audit::append(
            conn,
            Event::own_account(p.user_id, "logout", now, json!({})),
        )?;
        Ok(())
    })
}

/// The caller behind a bearer token, if the token is live.
pub fn principal(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Principal, AppError> {
    let u =
        users::by_live_token(conn, &token_hash(token), now)?.ok_or(AppError::Unauthenticated)?;
    Ok(Principal {
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        kind: u.kind,
        roles: u.roles,
        department: u.department,
        lang: u.lang,
    })
}
