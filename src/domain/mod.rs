//! The pure core: item definitions, the workflow engine, form validation, audit hashing.
//!
//! Policy: nothing here touches the database, the network, the file system or the system clock.
//! Time and every fact about a filing come in as arguments, so the whole module is testable
//! exhaustively and with property tests.

pub mod audit;
pub mod calendar;
pub mod certificate;
pub mod check;
pub mod consent;
pub mod definition;
pub mod draw;
pub mod engine;
pub mod exchange;
pub mod forms;
pub mod graph;
pub mod legal_time;
pub mod notify;
#[cfg(test)]
mod proptests;
pub mod settings;

use serde::Serialize;

pub use definition::{Lang, Text};

/// One thing wrong with an input, addressed by a JSON-pointer-like path
/// (`form.investment`, `materials.drawings`, `form.owners[3].area`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// Where: `form.<field>`, `materials.<code>`, `input.<name>`, `guard.<kind>`.
    pub path: String,
    /// A stable machine code: `required`, `invalid_format`, `too_small`, `check_character`, ...
    pub code: String,
    pub message: Text,
}

impl Problem {
    pub fn new(
        path: impl Into<String>,
        code: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Problem {
            path: path.into(),
            code: code.to_owned(),
            message: Text {
                zh: zh.into(),
                en: en.into(),
            },
        }
    }
}
