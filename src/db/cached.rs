//! Named prepared statements for the statements diesel will not cache by itself.
//!
//! Diesel caches a statement's prepared form per connection only when the statement's SQL is
//! fixed by its Rust type: selects and plain inserts. `sql_query`, every `UPDATE`, `ON CONFLICT
//! … DO UPDATE`, batch inserts and `eq_any` are sent unnamed, so PostgreSQL parses and plans
//! them on every execution (the merged facts query took about three times as long planned
//! each time as prepared: README, Benchmarks). [`Cached`] marks such a statement safe to cache anyway, keyed by its SQL text
//! and bind types (never by Rust type), so each distinct SQL string gets its own prepared
//! statement and two statements of one type with different SQL never share one.
//!
//! Use it only where the number of distinct SQL strings is small (a fixed text, or a changeset
//! with a handful of optional columns): each distinct text stays prepared for the connection's
//! life.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

/// A statement to be prepared once per connection and SQL text (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(pub Q);

impl<Q: QueryFragment<Pg>> Cached<Q> {
    /// Run an `INSERT`, `UPDATE` or `DELETE` without a `RETURNING` clause; the number of rows
    /// it wrote. (Diesel's own `execute` asks the statement itself, through a reference,
    /// whether it may be cached, and never gets to this wrapper's answer; loading does. So the
    /// statement is run as `… RETURNING 1` and its rows are counted.)
    pub fn execute(self, conn: &mut PgConnection) -> QueryResult<usize> {
        Cached(ReturningOne(self.0))
            .load::<i32>(conn)
            .map(|rows| rows.len())
    }
}

/// A writing statement with `RETURNING 1` appended (see [`Cached::execute`]).
#[derive(Debug, Clone, Copy)]
pub struct ReturningOne<Q>(pub Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for ReturningOne<Q> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass.reborrow())?;
        pass.push_sql(" RETURNING 1");
        Ok(())
    }
}

impl<Q> QueryId for ReturningOne<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for ReturningOne<Q> {
    type SqlType = diesel::sql_types::Integer;
}

/// Wrap a statement so that its prepared form is cached by SQL text.
pub fn cached<Q>(q: Q) -> Cached<Q> {
    Cached(q)
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

/// No static query id: the cache key is the SQL text with the bind types.
impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}
