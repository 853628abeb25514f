//! A `jsonb` value read straight into a Rust type: diesel's `serde_json::Value` reader builds
//! every map and string of the document first, and turning that into the type copies it all
//! again. The read of an action's facts (`repo::filings`) has a dozen such rows.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Jsonb;
use serde::de::DeserializeOwned;

/// A `jsonb` value deserialised as `T`.
#[derive(Debug, FromSqlRow)]
pub struct JsonbAs<T>(pub T);

impl<T: DeserializeOwned> FromSql<Jsonb, Pg> for JsonbAs<T> {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        // jsonb's binary form: a version byte (1), then the text.
        match value.as_bytes().split_first() {
            Some((1, text)) => Ok(JsonbAs(serde_json::from_slice(text)?)),
            Some((v, _)) => Err(format!("unsupported jsonb version {v}").into()),
            None => Err("an empty jsonb value".into()),
        }
    }
}

/// The values of a list, unwrapped.
pub fn unwrap<T>(list: Vec<JsonbAs<T>>) -> Vec<T> {
    list.into_iter().map(|j| j.0).collect()
}
