//! Writes gathered during a use case and sent to PostgreSQL as one statement.
//!
//! An action writes to half a dozen tables (the filing, its clock ledger, its tasks, the audit
//! chain, the outbox, the applicant's deadlines). Sent one by one, each write is a round trip:
//! on 2 cores the wake-ups on both ends of a round trip cost more than most of these statements
//! themselves. A [`Batch`] collects the writes whose results the use case does not need and
//! sends them at the end as one statement of data-modifying `WITH` parts:
//!
//! ```sql
//! WITH w0 AS (UPDATE filings …), w1 AS (INSERT INTO clock_events …), … SELECT 1
//! ```
//!
//! What PostgreSQL guarantees for such a statement, and what the parts must respect:
//! - it is one statement: all of it is written or none of it;
//! - every part runs exactly once, to completion, whether or not anything reads its rows;
//! - every part sees the database as it was when the statement began, not the other parts'
//!   writes, and the parts run in no promised order. Two parts must not change the same row,
//!   and a part that must come after another (an INSERT that would collide in a unique index
//!   with a row another part closes) reads the other's `RETURNING` rows, which makes it wait
//!   for it: see [`Batch::push`] and `tasks::open_in`.
//!
//! Statements are prepared once per connection and SQL text (see [`super::cached`]); the text
//! depends only on which parts an action writes, a small set.

use std::marker::PhantomData;

use diesel::expression::{AsExpression, TypedExpressionType};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::sql_types::{Integer, SqlType, Untyped};
use diesel::{PgConnection, QueryResult, QueryableByName};

use super::cached::cached;

/// A statement or a piece of one, as diesel builds it.
pub type Fragment = Box<dyn QueryFragment<Pg>>;

/// SQL text with bind parameters, for statements diesel's builder cannot express (those that
/// read another part of a batch). Parameters are numbered where the batch puts them.
#[derive(Default)]
pub struct Raw {
    pieces: Vec<Piece>,
}

enum Piece {
    Sql(String),
    Bind(Fragment),
}

impl Raw {
    pub fn new(sql: impl Into<String>) -> Raw {
        Raw {
            pieces: vec![Piece::Sql(sql.into())],
        }
    }

    /// More SQL text.
    pub fn sql(mut self, sql: impl Into<String>) -> Raw {
        self.pieces.push(Piece::Sql(sql.into()));
        self
    }

    /// A bind parameter of SQL type `ST`.
    pub fn bind<ST, U>(mut self, value: U) -> Raw
    where
        ST: SqlType + TypedExpressionType,
        U: AsExpression<ST>,
        U::Expression: QueryFragment<Pg> + 'static,
    {
        self.pieces
            .push(Piece::Bind(Box::new(value.as_expression())));
        self
    }
}

impl QueryFragment<Pg> for Raw {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for p in &self.pieces {
            match p {
                Piece::Sql(s) => pass.push_sql(s),
                Piece::Bind(b) => b.walk_ast(pass.reborrow())?,
            }
        }
        Ok(())
    }
}

/// Writes to send as one statement (see the module docs).
#[derive(Default)]
pub struct Batch {
    parts: Vec<(String, Fragment)>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Add a data-modifying statement (INSERT, UPDATE or DELETE). Its name in the statement,
    /// for a later part that must read its `RETURNING` rows (and so run after it).
    pub fn push(&mut self, q: impl QueryFragment<Pg> + 'static) -> String {
        let name = format!("w{}", self.parts.len());
        self.parts.push((name.clone(), Box::new(q)));
        name
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Send the parts as one statement (nothing when there are none).
    pub fn flush(&mut self, conn: &mut PgConnection) -> QueryResult<()> {
        if self.parts.is_empty() {
            return Ok(());
        }
        let parts = std::mem::take(&mut self.parts);
        cached(Combined::<Integer> {
            parts: &parts,
            main: None,
            st: PhantomData,
        })
        .load::<i32>(conn)?;
        Ok(())
    }

    /// Send the parts with `main` as the statement's last word (an `INSERT … RETURNING`, say):
    /// its rows.
    pub fn flush_returning<U>(&mut self, conn: &mut PgConnection, main: Raw) -> QueryResult<Vec<U>>
    where
        U: QueryableByName<Pg> + 'static,
    {
        let parts = std::mem::take(&mut self.parts);
        cached(Combined::<Untyped> {
            parts: &parts,
            main: Some(&main),
            st: PhantomData,
        })
        .load::<U>(conn)
    }
}

/// An SQL condition that fails the whole statement (`serialization_failure`) unless `part`, a
/// part with `RETURNING`, wrote exactly one row; true otherwise. Reading the part makes it run
/// before whatever evaluates the condition.
pub fn expect_one(part: &str) -> String {
    format!("permits_expect_row((SELECT count(*) FROM {part}))")
}

/// Whether an error is [`expect_one`]'s (or another serialization failure): the rows read
/// changed; read again.
pub fn is_changed(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::SerializationFailure,
            _
        )
    )
}

/// `WITH w0 AS (…), … <main>`; without a main, `SELECT 1`.
struct Combined<'a, ST> {
    parts: &'a [(String, Fragment)],
    main: Option<&'a Raw>,
    st: PhantomData<ST>,
}

impl<ST> QueryFragment<Pg> for Combined<'_, ST> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (i, (name, q)) in self.parts.iter().enumerate() {
            pass.push_sql(if i == 0 { "WITH " } else { ", " });
            pass.push_sql(name);
            pass.push_sql(" AS (");
            q.walk_ast(pass.reborrow())?;
            pass.push_sql(")");
        }
        if !self.parts.is_empty() {
            pass.push_sql(" ");
        }
        match self.main {
            Some(main) => main.walk_ast(pass.reborrow()),
            None => {
                pass.push_sql("SELECT 1");
                Ok(())
            }
        }
    }
}

impl<ST> QueryId for Combined<'_, ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: 'static> Query for Combined<'_, ST> {
    type SqlType = ST;
}

impl<ST, Conn> RunQueryDsl<Conn> for Combined<'_, ST> {}

#[cfg(test)]
mod tests {
    use diesel::sql_types::{Integer, Text};

    use super::*;

    fn sql_of(parts: &[(String, Fragment)], main: Option<&Raw>) -> String {
        let combined = Combined::<Untyped> {
            parts,
            main,
            st: PhantomData,
        };
        diesel::debug_query::<Pg, _>(&combined).to_string()
    }

    #[test]
    fn parts_become_with_clauses_in_order_with_binds_numbered_across_them() {
        let mut b = Batch::new();
        let first = b.push(
            Raw::new("UPDATE t SET a = ")
                .bind::<Integer, _>(1)
                .sql(" RETURNING 1"),
        );
        let second = b.push(
            Raw::new("INSERT INTO u VALUES (")
                .bind::<Text, _>("x")
                .sql(")"),
        );
        assert_eq!((first.as_str(), second.as_str()), ("w0", "w1"));
        let main = Raw::new(format!("SELECT {}", expect_one(&first)));
        let sql = sql_of(&b.parts, Some(&main));
        assert!(
            sql.starts_with(
                "WITH w0 AS (UPDATE t SET a = $1 RETURNING 1), w1 AS (INSERT INTO u VALUES ($2)) \
                 SELECT permits_expect_row((SELECT count(*) FROM w0))"
            ),
            "{sql}"
        );
        assert!(sql.ends_with("-- binds: [1, \"x\"]"), "{sql}");
    }

    #[test]
    fn without_a_main_statement_the_batch_selects_one_and_an_empty_batch_is_nothing() {
        let mut b = Batch::new();
        assert!(b.is_empty());
        b.push(Raw::new("DELETE FROM t"));
        let sql = sql_of(&b.parts, None);
        assert!(
            sql.starts_with("WITH w0 AS (DELETE FROM t) SELECT 1"),
            "{sql}"
        );
    }
}
