//! People, roles, departments and API tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::cached::cached;
use crate::db::schema::{api_tokens, departments, login_throttle, user_roles, users};
use crate::domain::definition::{Lang, Role, UserKind};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub kind: UserKind,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub credit_code: Option<String>,
    pub lang: Lang,
    pub password_hash: String,
    pub department: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub display_name: &'a str,
    /// `UserKind::as_str` (a diesel `Insertable` with a lifetime takes text for an enum).
    pub kind: &'static str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub credit_code: Option<&'a str>,
    /// `Lang::as_str`.
    pub lang: &'static str,
    pub password_hash: &'a str,
    pub department: Option<&'a str>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = departments, check_for_backend(diesel::pg::Pg))]
pub struct DepartmentRow {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewToken<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: &'a str,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub fn insert(conn: &mut PgConnection, user: &NewUser<'_>, roles: &[&str]) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    let rows: Vec<_> = roles
        .iter()
        .map(|r| (user_roles::user_id.eq(user.id), user_roles::role.eq(*r)))
        .collect();
    diesel::insert_into(user_roles::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

pub fn by_username(conn: &mut PgConnection, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Accounts whose user name is `text` (any case) or whose name contains it: at most `limit`.
pub fn ids_matching(conn: &mut PgConnection, text: &str, limit: i64) -> QueryResult<Vec<Uuid>> {
    // LIKE's own characters in the text are matched as themselves.
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    users::table
        .filter(
            users::username
                .eq(text.to_lowercase())
                .or(users::display_name.ilike(format!("%{escaped}%"))),
        )
        .select(users::id)
        .order(users::username)
        .limit(limit)
        .load(conn)
}

pub fn by_id(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn roles_of(conn: &mut PgConnection, id: Uuid) -> QueryResult<Vec<Role>> {
    user_roles::table
        .filter(user_roles::user_id.eq(id))
        .select(user_roles::role)
        .order(user_roles::role)
        .load(conn)
}

pub fn list(conn: &mut PgConnection, limit: i64, offset: i64) -> QueryResult<Vec<UserRow>> {
    users::table
        .order(users::username)
        .limit(limit)
        .offset(offset)
        .select(UserRow::as_select())
        .load(conn)
}

/// Accounts by user name with their roles, one query (`ARRAY(subquery)` per row, as for the
/// token's user).
pub fn list_with_roles(
    conn: &mut PgConnection,
    after: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<(UserRow, Vec<Role>)>> {
    use diesel::sql_types::{Array, Text};
    let roles = diesel::dsl::sql::<Array<Text>>(
        "ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = users.id ORDER BY r.role)",
    );
    // The service's own account is not one to manage.
    let mut q = users::table.filter(users::kind.ne("system")).into_boxed();
    if let Some(name) = after {
        q = q.filter(users::username.gt(name.to_owned()));
    }
    q.order(users::username)
        .limit(limit)
        .offset(offset)
        .select((UserRow::as_select(), roles))
        .load(conn)
}

/// How many accounts there are.
pub fn count(conn: &mut PgConnection) -> QueryResult<i64> {
    users::table
        .filter(users::kind.ne("system"))
        .count()
        .get_result(conn)
}

/// When logins for a name are refused until, if they are.
pub fn locked_until(conn: &mut PgConnection, username: &str) -> QueryResult<Option<DateTime<Utc>>> {
    login_throttle::table
        .find(username)
        .select(login_throttle::locked_until)
        .first::<Option<DateTime<Utc>>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Count a failed login for a name; lock it once `max` consecutive failures are reached.
pub fn record_failed_login(
    conn: &mut PgConnection,
    username: &str,
    max: i32,
    lock_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> QueryResult<i32> {
    let failures: i32 = diesel::insert_into(login_throttle::table)
        .values((
            login_throttle::username.eq(username),
            login_throttle::failures.eq(1),
            login_throttle::updated_at.eq(now),
        ))
        .on_conflict(login_throttle::username)
        .do_update()
        .set((
            login_throttle::failures.eq(login_throttle::failures + 1),
            login_throttle::updated_at.eq(now),
        ))
        .returning(login_throttle::failures)
        .get_result(conn)?;
    if failures >= max {
        diesel::update(login_throttle::table.find(username))
            .set((
                login_throttle::locked_until.eq(Some(lock_until)),
                login_throttle::failures.eq(0),
            ))
            .execute(conn)?;
    }
    Ok(failures)
}

pub fn reset_failed_logins(conn: &mut PgConnection, username: &str) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(username))
        .execute(conn)
        .map(|_| ())
}

pub fn insert_token(conn: &mut PgConnection, token: &NewToken<'_>) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values(token)
        .execute(conn)
        .map(|_| ())
}

pub fn revoke_token(conn: &mut PgConnection, hash: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::token_hash.eq(hash))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// The account, locked for a change of its access.
pub fn lock(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// The account's row, locked against changes (a password change, a deactivation) until the
/// transaction ends; other readers and sharers go on.
pub fn lock_shared(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .for_share()
        .first(conn)
        .optional()
}

pub fn set_active(conn: &mut PgConnection, id: Uuid, active: bool) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::active.eq(active))
        .execute(conn)
}

/// Revoke every live token (API tokens and web sessions) of an account but `keep` (the hash
/// of the caller's own); how many.
pub fn revoke_all_tokens(
    conn: &mut PgConnection,
    user: Uuid,
    keep: Option<&str>,
    now: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::user_id.eq(user))
            .filter(api_tokens::revoked_at.is_null())
            .filter(api_tokens::expires_at.gt(now))
            .filter(api_tokens::token_hash.ne(keep.unwrap_or(""))),
    )
    .set(api_tokens::revoked_at.eq(Some(now)))
    .execute(conn)
}

pub fn set_password_hash(conn: &mut PgConnection, id: Uuid, hash: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)
}

pub fn upsert_department(
    conn: &mut PgConnection,
    code: &str,
    zh: &str,
    en: &str,
) -> QueryResult<usize> {
    diesel::insert_into(departments::table)
        .values((
            departments::code.eq(code),
            departments::name_zh.eq(zh),
            departments::name_en.eq(en),
        ))
        .on_conflict(departments::code)
        .do_update()
        .set((departments::name_zh.eq(zh), departments::name_en.eq(en)))
        .execute(conn)
}

pub fn departments(conn: &mut PgConnection) -> QueryResult<Vec<DepartmentRow>> {
    departments::table
        .order(departments::code)
        .select(DepartmentRow::as_select())
        .load(conn)
}

/// Who these people are, for a timeline: id, display name and department (code and names)
/// of each that exists.
pub fn names_of(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, String, Option<DepartmentRow>)>> {
    users::table
        .left_join(departments::table.on(users::department.eq(departments::code.nullable())))
        .filter(users::id.eq_any(ids))
        .select((
            users::id,
            users::display_name,
            Option::<DepartmentRow>::as_select(),
        ))
        .load(conn)
}

/// Active users of a department holding a role (managers to escalate to).
pub fn with_role_in(
    conn: &mut PgConnection,
    role: Role,
    department: &str,
) -> QueryResult<Vec<UserRow>> {
    users::table
        .inner_join(user_roles::table)
        .filter(users::active.eq(true))
        .filter(users::department.eq(department))
        .filter(user_roles::role.eq(role))
        .order(users::username)
        .select(UserRow::as_select())
        .load(conn)
}

/// Active staff working queues (clerks, reviewers, inspectors) with an email address, and the
/// queue roles each holds: the readers of the daily digest.
pub fn queue_staff(conn: &mut PgConnection) -> QueryResult<Vec<(UserRow, String)>> {
    users::table
        .inner_join(user_roles::table)
        .filter(users::active.eq(true))
        .filter(users::email.is_not_null())
        .filter(users::department.is_not_null())
        .filter(user_roles::role.eq_any(["clerk", "reviewer", "inspector"]))
        .order((users::id, user_roles::role))
        .select((UserRow::as_select(), user_roles::role))
        .load(conn)
}

/// Staff of a department holding a role (for reassignment checks).
pub fn staff_has_role(
    conn: &mut PgConnection,
    id: Uuid,
    department: &str,
    role: Role,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table
            .inner_join(user_roles::table)
            .filter(users::id.eq(id))
            .filter(users::active.eq(true))
            .filter(users::department.eq(department))
            .filter(user_roles::role.eq(role)),
    ))
    .get_result(conn)
}

/// The active user holding a live token, with their roles, in one query (every authenticated
/// request runs it).
#[derive(Debug, QueryableByName)]
pub struct TokenUser {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub username: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub display_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kind: UserKind,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub lang: Lang,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub department: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
    pub roles: Vec<Role>,
}

/// The user behind a live token, with their roles: asked on every authenticated request. The
/// roles come as `ARRAY(subquery)` rather than a grouped `array_agg` (no aggregate for the
/// executor to set up on every request: README, Benchmarks).
pub fn by_live_token(
    conn: &mut PgConnection,
    hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<TokenUser>> {
    cached(
        diesel::sql_query(
        "SELECT u.id, u.username, u.display_name, u.kind, u.lang, u.department, \
                ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id ORDER BY r.role) AS roles \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.active",
    )
    .bind::<diesel::sql_types::Text, _>(hash)
    .bind::<diesel::sql_types::Timestamptz, _>(now),
    )
    .get_result(conn)
    .optional()
}
