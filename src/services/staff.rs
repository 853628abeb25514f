//! The bureau's directory: departments, accounts with their roles, and creating staff.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::auth::{self, Principal, Registration};
use super::paging::{PageRequest, Paged};
use crate::domain::Lang;
use crate::domain::definition::{Role, UserKind};
use crate::error::AppError;
use crate::repo::users;

pub use crate::repo::users::DepartmentRow as Department;

/// Every department, by code.
pub fn departments(conn: &mut PgConnection) -> Result<Vec<Department>, AppError> {
    Ok(users::departments(conn)?)
}

/// An account as administrators list it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserSummary {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub kind: UserKind,
    pub department: Option<String>,
    pub roles: Vec<Role>,
    pub active: bool,
}

/// Accounts by user name with their roles (administrators).
pub fn users(
    conn: &mut PgConnection,
    p: &Principal,
    page: &PageRequest,
) -> Result<Paged<UserSummary>, AppError> {
    p.require(&[Role::Admin])?;
    let after: Option<String> = page.after()?;
    let rows = users::list_with_roles(conn, after.as_deref(), page.limit() + 1, page.offset())?;
    let total = users::count(conn)?;
    Ok(
        Paged::from_probe(rows, page.limit(), total, |(u, _)| u.username.clone()).map(
            |(u, roles)| UserSummary {
                id: u.id,
                username: u.username,
                display_name: u.display_name,
                kind: u.kind,
                department: u.department,
                roles,
                active: u.active,
            },
        ),
    )
}

/// A staff account to create, already checked for shape at the edge.
pub struct NewStaff<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub display_name: &'a str,
    pub department: &'a str,
    pub roles: &'a [Role],
    pub email: Option<&'a str>,
    pub lang: Lang,
}

/// Create a staff account (administrators): in a department that exists, without the
/// applicant's role. Audited by `auth::create_user`.
pub fn create(
    conn: &mut PgConnection,
    p: &Principal,
    s: &NewStaff<'_>,
    now: DateTime<Utc>,
) -> Result<Uuid, AppError> {
    p.require(&[Role::Admin])?;
    if s.roles.contains(&Role::Applicant) {
        return Err(AppError::one_invalid(
            "roles",
            "applicant_role",
            "工作人员账号不能具有申请人角色",
            "A staff account cannot have the applicant role",
        ));
    }
    if s.roles.contains(&Role::System) {
        return Err(AppError::one_invalid(
            "roles",
            "system_role",
            "「system」角色只属于系统本身，不能授予账号",
            "The system role belongs to the service itself and cannot be granted",
        ));
    }
    if !users::departments(conn)?
        .iter()
        .any(|d| d.code == s.department)
    {
        return Err(AppError::one_invalid(
            "department",
            "unknown_department",
            format!("没有「{}」这个部门", s.department),
            format!("There is no department “{}”", s.department),
        ));
    }
    auth::create_user(
        conn,
        &Registration {
            username: s.username,
            password: s.password,
            display_name: s.display_name,
            kind: UserKind::Staff,
            email: s.email,
            phone: None,
            credit_code: None,
            lang: s.lang,
            department: Some(s.department),
            roles: s.roles,
        },
        Some(p.user_id),
        now,
    )
}
