//! Reference data (departments) for every environment, and demo people for the demo.
//!
//! Policy: idempotent. Departments are upserted from `seeds/departments.toml`; demo users are
//! created only if missing, so restarting the demo never duplicates anything.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;

use super::auth::{self, Registration};
use crate::domain::definition::{Role, UserKind};
use crate::domain::{Lang, Text};
use crate::repo::users;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentsFile {
    departments: Vec<DepartmentSeed>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepartmentSeed {
    code: String,
    name: Text,
}

/// Upsert the departments; returns their codes.
pub fn departments(conn: &mut PgConnection, seeds: &Path) -> anyhow::Result<Vec<String>> {
    let path = seeds.join("departments.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: DepartmentsFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        for d in &file.departments {
            users::upsert_department(conn, &d.code, &d.name.zh, &d.name.en)
                .with_context(|| format!("storing department {}", d.code))?;
        }
        Ok(())
    })?;
    Ok(users::departments(conn)?
        .into_iter()
        .map(|d| d.code)
        .collect())
}

/// The demo password of every demo account.
pub const DEMO_PASSWORD: &str = "permits-demo-2026";

/// (username, display name, kind, department, roles, credit code)
type DemoUser = (
    &'static str,
    &'static str,
    UserKind,
    Option<&'static str>,
    &'static [Role],
    Option<&'static str>,
);

pub const DEMO_USERS: &[DemoUser] = &[
    (
        "admin",
        "系统管理员",
        UserKind::Staff,
        Some("window"),
        &[Role::Admin],
        None,
    ),
    (
        "auditor",
        "审计员 王审",
        UserKind::Staff,
        Some("window"),
        &[Role::Auditor],
        None,
    ),
    (
        "clerk",
        "窗口受理员 李窗",
        UserKind::Staff,
        Some("window"),
        &[Role::Clerk],
        None,
    ),
    (
        "reviewer",
        "建管科审查员 张审",
        UserKind::Staff,
        Some("construction"),
        &[Role::Reviewer],
        None,
    ),
    (
        "manager",
        "建管科科长 陈科",
        UserKind::Staff,
        Some("construction"),
        &[Role::Manager, Role::Reviewer],
        None,
    ),
    (
        "housing",
        "房屋安全科 赵审",
        UserKind::Staff,
        Some("housing"),
        &[Role::Reviewer, Role::Clerk],
        None,
    ),
    (
        "planning",
        "规划分局 钱审",
        UserKind::Staff,
        Some("planning"),
        &[Role::Reviewer],
        None,
    ),
    (
        "market",
        "市场监管局 孙审",
        UserKind::Staff,
        Some("market"),
        &[Role::Reviewer],
        None,
    ),
    (
        "fire",
        "消防审验科 周受",
        UserKind::Staff,
        Some("fire"),
        &[Role::Clerk, Role::Reviewer],
        None,
    ),
    (
        "inspector",
        "消防审验科 吴检",
        UserKind::Staff,
        Some("fire"),
        &[Role::Inspector],
        None,
    ),
    // 双随机: at least two inspectors are drawn for a spot check.
    (
        "inspector2",
        "消防审验科 冯检",
        UserKind::Staff,
        Some("fire"),
        &[Role::Inspector],
        None,
    ),
    (
        "street",
        "街道办 郑调",
        UserKind::Staff,
        Some("street"),
        &[Role::Clerk],
        None,
    ),
    (
        "builder",
        "示范建设集团有限公司",
        UserKind::Company,
        None,
        &[Role::Applicant],
        Some("91350100M000100Y43"),
    ),
    (
        "resident",
        "居民 刘业主",
        UserKind::Person,
        None,
        &[Role::Applicant],
        None,
    ),
];

/// Create the demo accounts that do not exist yet; returns how many were created.
///
/// Several instances started at once on an empty database each seed: under one advisory lock,
/// held to the end of the transaction, the first creates the accounts and the others wait, then
/// find them (before, two of three instances exited with `username_taken`).
pub fn demo_users(conn: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<usize> {
    conn.transaction::<_, anyhow::Error, _>(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(DEMO_SEED_LOCK)
            .execute(conn)?;
        create_demo_users(conn, now)
    })
}

/// The advisory lock key of demo seeding (beside the migrations' 7012001 and the item
/// loader's 7012002).
const DEMO_SEED_LOCK: i64 = 7_012_003;

fn create_demo_users(conn: &mut PgConnection, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let mut created = 0;
    for (username, name, kind, dept, roles, credit) in DEMO_USERS {
        if users::by_username(conn, username)?.is_some() {
            continue;
        }
        auth::create_user(
            conn,
            &Registration {
                username,
                password: DEMO_PASSWORD,
                display_name: name,
                kind: *kind,
                email: Some(&format!("{username}@demo.permits.invalid")),
                phone: None,
                credit_code: *credit,
                lang: Lang::Zh,
                department: *dept,
                roles,
            },
            None,
            now,
        )
        .map_err(|e| anyhow::anyhow!("creating demo user {username}: {e}"))?;
        created += 1;
    }
    Ok(created)
}
