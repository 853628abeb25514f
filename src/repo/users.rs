//! People, roles, departments and API tokens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{api_tokens, departments, user_roles, users};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub kind: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub credit_code: Option<String>,
    pub lang: String,
    pub password_hash: String,
    pub department: Option<String>,
    pub active: bool,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub display_name: &'a str,
    pub kind: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub credit_code: Option<&'a str>,
    pub lang: &'a str,
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

pub fn by_id(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn roles_of(conn: &mut PgConnection, id: Uuid) -> QueryResult<Vec<String>> {
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

/// Count a failed login; lock the account once `max` consecutive failures are reached.
pub fn record_failed_login(
    conn: &mut PgConnection,
    id: Uuid,
    max: i32,
    lock_until: DateTime<Utc>,
) -> QueryResult<i32> {
    let failures: i32 = diesel::update(users::table.find(id))
        .set(users::failed_logins.eq(users::failed_logins + 1))
        .returning(users::failed_logins)
        .get_result(conn)?;
    if failures >= max {
        diesel::update(users::table.find(id))
            .set((
                users::locked_until.eq(Some(lock_until)),
                users::failed_logins.eq(0),
            ))
            .execute(conn)?;
    }
    Ok(failures)
}

pub fn reset_failed_logins(conn: &mut PgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn insert_token(conn: &mut PgConnection, token: &NewToken<'_>) -> QueryResult<()> {
    diesel::insert_into(api_tokens::table)
        .values(token)
        .execute(conn)
        .map(|_| ())
}

/// The active user holding a live token with this hash.
pub fn by_token_hash(
    conn: &mut PgConnection,
    hash: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<UserRow>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::expires_at.gt(now))
        .filter(users::active.eq(true))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
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

/// Staff of a department holding a role (for reassignment checks).
pub fn staff_has_role(
    conn: &mut PgConnection,
    id: Uuid,
    department: &str,
    role: &str,
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
