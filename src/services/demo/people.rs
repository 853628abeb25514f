//! Who works in the demo office and who files there: the demo staff of `seed::DEMO_USERS`,
//! and a handful of demo applicants (companies and residents) with the demo password, made
//! under the demo seeding lock in the office's own transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::PgConnection;

use crate::domain::Lang;
use crate::domain::definition::{Role, UserKind};
use crate::error::AppError;
use crate::repo::users;
use crate::services::auth::{self, Principal, Registration};
use crate::services::seed::DEMO_PASSWORD;

/// A company that files for permits and fire filings: (username, name, credit code).
pub type Company = (&'static str, &'static str, &'static str);

/// The builders of the district's works. `builder` is the demo user of `seed`; the others
/// are made with the office.
pub const COMPANIES: &[Company] = &[
    ("builder", "示范建设集团有限公司", "91350100M000100Y43"),
    ("xiangjiang", "湖南湘江置业有限公司", "91430104AY4CL12THX"),
    (
        "meixihu",
        "长沙梅溪湖城市建设有限公司",
        "914301043BJ1XG6122",
    ),
    ("lugu", "长沙麓谷实业发展有限公司", "91430104DD272HD1TC"),
    (
        "yuelu-edu",
        "长沙市岳麓区教育投资建设有限公司",
        "91430104J3Y7LLJY1U",
    ),
    ("xiangya", "湘雅健康产业投资有限公司", "91430104JJC171HU4E"),
];

/// Owners' representatives of old residential buildings (elevator filings): (username, name).
/// `resident` is the demo user of `seed`.
pub const RESIDENTS: &[(&str, &str)] = &[
    ("resident", "刘业主"),
    ("wangjianhua", "王建华"),
    ("chenxiuying", "陈秀英"),
    ("liguoqiang", "李国强"),
    ("zhoumin", "周敏"),
    ("huanglihua", "黄丽华"),
    ("zhaodeming", "赵德明"),
    ("sunguilan", "孙桂兰"),
];

/// The demo applicants the office adds to `seed::DEMO_USERS` (all with the demo password).
pub fn extra_applicants() -> impl Iterator<Item = (&'static str, String)> {
    COMPANIES
        .iter()
        .filter(|c| c.0 != "builder")
        .map(|c| (c.0, c.1.to_owned()))
        .chain(
            RESIDENTS
                .iter()
                .filter(|r| r.0 != "resident")
                .map(|r| (r.0, format!("居民 {}", r.1))),
        )
}

/// Create the office's applicants that do not exist yet (the caller holds the seeding lock).
pub fn create_applicants(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    let mut created = 0;
    for (username, name, credit) in COMPANIES.iter().filter(|c| c.0 != "builder") {
        created += create(conn, username, name, UserKind::Company, Some(credit), now)?;
    }
    for (username, name) in RESIDENTS.iter().filter(|r| r.0 != "resident") {
        let display = format!("居民 {name}");
        created += create(conn, username, &display, UserKind::Person, None, now)?;
    }
    Ok(created)
}

fn create(
    conn: &mut PgConnection,
    username: &str,
    name: &str,
    kind: UserKind,
    credit: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    if users::by_username(conn, username)?.is_some() {
        return Ok(0);
    }
    auth::create_user(
        conn,
        &Registration {
            username,
            password: DEMO_PASSWORD,
            display_name: name,
            kind,
            email: Some(&format!("{username}@demo.permits.invalid")),
            phone: None,
            credit_code: credit,
            lang: Lang::Zh,
            department: None,
            roles: &[Role::Applicant],
        },
        None,
        now,
    )?;
    Ok(1)
}

/// Everyone who acts, as a signed-in caller would be: the account and its roles.
#[derive(Default)]
pub struct Cast {
    by_name: HashMap<String, Principal>,
    names: HashMap<uuid::Uuid, String>,
}

impl Cast {
    /// The person signed in as `username` (read once).
    pub fn get(&mut self, conn: &mut PgConnection, username: &str) -> Result<&Principal, AppError> {
        if !self.by_name.contains_key(username) {
            let u = users::by_username(conn, username)?.ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!(
                    "demo office: no account `{username}` (are the demo users seeded?)"
                ))
            })?;
            let roles = users::roles_of(conn, u.id)?;
            self.names.insert(u.id, u.username.clone());
            self.by_name.insert(
                username.to_owned(),
                Principal {
                    user_id: u.id,
                    username: u.username,
                    display_name: u.display_name,
                    kind: u.kind,
                    roles,
                    department: u.department,
                    lang: u.lang,
                },
            );
        }
        self.by_name
            .get(username)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("demo office: {username} not read")))
    }

    /// The person with this id (a drawn inspector).
    pub fn by_id(
        &mut self,
        conn: &mut PgConnection,
        id: uuid::Uuid,
    ) -> Result<&Principal, AppError> {
        let name = match self.names.get(&id) {
            Some(n) => n.clone(),
            None => {
                users::by_id(conn, id)?
                    .ok_or_else(|| {
                        AppError::Internal(anyhow::anyhow!("demo office: no user {id}"))
                    })?
                    .username
            }
        };
        self.get(conn, &name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_company_has_a_valid_credit_code() {
        for (u, _, code) in COMPANIES {
            assert!(crate::domain::forms::credit_code_valid(code), "{u}: {code}");
        }
    }
}
