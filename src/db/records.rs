//! Rows read as PostgreSQL records, in the binary protocol: `ARRAY(SELECT ROW(…) …)` for a list,
//! `(SELECT ROW(…) …)` for one row or none. Each field arrives as its type's binary form (a
//! timestamp as eight bytes, a uuid as sixteen), with no JSON to print on the server and parse
//! here; the type is built by its diesel `Queryable`, so the record's fields must come in the
//! order of the type's fields.

use diesel::deserialize::{self, FromSql, FromSqlRow, Queryable};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::{Array, Record};

/// The rows of an array of records, each built as `T`.
#[derive(Debug, FromSqlRow)]
pub struct Records<T>(pub Vec<T>);

impl<T, ST> FromSql<Array<Record<ST>>, Pg> for Records<T>
where
    ST: 'static,
    T: Queryable<ST, Pg>,
    T::Row: FromSql<Record<ST>, Pg>,
{
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let rows = <Vec<T::Row> as FromSql<Array<Record<ST>>, Pg>>::from_sql(value)?;
        rows.into_iter()
            .map(T::build)
            .collect::<deserialize::Result<Vec<T>>>()
            .map(Records)
    }
}

/// One record, built as `T` (as `Option<One<T>>` where the subquery may find no row).
#[derive(Debug, FromSqlRow)]
pub struct One<T>(pub T);

impl<T, ST> FromSql<Record<ST>, Pg> for One<T>
where
    ST: 'static,
    T: Queryable<ST, Pg>,
    T::Row: FromSql<Record<ST>, Pg>,
{
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        T::build(<T::Row as FromSql<Record<ST>, Pg>>::from_sql(value)?).map(One)
    }
}
