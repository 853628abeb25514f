//! Closed vocabularies stored as text. Each is a Rust enum on read: a stored value the enum does
//! not know is an error naming the value, never a default (the first migration's policy, and
//! STYLE's "enums, not integers"). The words are the enums' own (`as_str`, `ALL`); this module
//! only teaches diesel to read and write them.

use std::io::Write;

use diesel::deserialize::{self, FromSql, Queryable};
use diesel::dsl::AsExprOf;
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Nullable, Text};

use crate::domain::Lang;
use crate::domain::definition::{Role, StateKind, SuspendReason, UserKind};
use crate::domain::engine::Verdict;
use crate::domain::legal_time::ClockEvent;
use crate::domain::notify::MailStatus;

/// Map an enum with `ALL` and `as_str` to a text column.
macro_rules! text_enum {
    ($ty:ty, $what:literal) => {
        impl FromSql<Text, Pg> for $ty {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                let text = std::str::from_utf8(bytes.as_bytes())?;
                <$ty>::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| format!(concat!("unknown ", $what, " `{}` stored"), text).into())
            }
        }

        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(serialize::IsNull::No)
            }
        }

        impl Queryable<Text, Pg> for $ty {
            type Row = Self;
            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }

        // Written as the enum's word: the bind is the `&'static str`.
        impl AsExpression<Text> for $ty {
            type Expression = AsExprOf<&'static str, Text>;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }

        impl<'a> AsExpression<Text> for &'a $ty {
            type Expression = AsExprOf<&'static str, Text>;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Text>>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Nullable<Text>> for $ty {
            type Expression = AsExprOf<&'static str, Nullable<Text>>;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Nullable<Text>>>::as_expression(self.as_str())
            }
        }

        impl<'a> AsExpression<Nullable<Text>> for &'a $ty {
            type Expression = AsExprOf<&'static str, Nullable<Text>>;
            fn as_expression(self) -> Self::Expression {
                <&'static str as AsExpression<Nullable<Text>>>::as_expression(self.as_str())
            }
        }
    };
}

text_enum!(StateKind, "state kind");
text_enum!(Role, "role");
text_enum!(Verdict, "verdict");
text_enum!(ClockEvent, "clock event");
text_enum!(SuspendReason, "suspend reason");
text_enum!(Lang, "language");
text_enum!(MailStatus, "mail status");
text_enum!(UserKind, "user kind");
