//! Written instruments (文书) and electronic certificates (电子证照) as files: a document's
//! frozen content ([`Sheet`]), its PDF ([`pdf::render`]) and its seal ([`seal`]).
//!
//! Policy: like `domain`, nothing here touches the database, the network or the clock; a sheet
//! and a key go in, bytes come out. It sits beside `domain` rather than in it because it links
//! the PDF writer and the SM2 implementation, which the engine has no business with.
//!
//! A document's content is decided once, in the action's transaction, and stored as a `Sheet`;
//! the PDF is rendered from it after the commit and stored with its hash. The PDF writer names
//! each file with random identifiers, so the same sheet does not render to the same bytes twice:
//! a stored file is never rendered again (the table refuses it), and a correction is a new
//! version.

pub mod pdf;
pub mod seal;

use serde::{Deserialize, Serialize};

/// How a document is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A letter of the bureau (通知书, 决定书, 凭证): title, number, addressee, text, the law,
    /// date and seal; as many A4 pages as it needs.
    Notice,
    /// A certificate (证照): one A4 page in a frame, its fields in a table, the QR code and the
    /// seal.
    Certificate,
}

/// Everything a document prints, frozen when it is issued (Chinese: the bureau's documents are
/// written in Chinese).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    pub layout: Layout,
    /// The issuing authority (发证机关), as printed and on the seal.
    pub authority: String,
    pub title: String,
    /// The document's own number (文书编号).
    pub number: String,
    /// Whom it is addressed to (the applicant), without the colon.
    #[serde(default)]
    pub addressee: Option<String>,
    /// A mark printed beside the title (抽中 / 未抽中).
    #[serde(default)]
    pub mark: Option<String>,
    /// The text, paragraph by paragraph.
    #[serde(default)]
    pub paragraphs: Vec<String>,
    /// A numbered list after the text (what to supplement).
    #[serde(default)]
    pub items: Vec<String>,
    /// Label and value, in a table.
    #[serde(default)]
    pub rows: Vec<(String, String)>,
    /// Paragraphs after the table (the reasons, the right to review or sue).
    #[serde(default)]
    pub closing: Vec<String>,
    /// The law the document is issued under.
    #[serde(default)]
    pub basis: Option<String>,
    /// The date of issue as printed (二〇二六年十二月四日 or 2026年12月4日).
    pub date: String,
    /// The seal's lower line (行政审批专用章).
    pub seal_role: String,
    /// The certificate identifier, when it is one.
    #[serde(default)]
    pub identifier: Option<String>,
    /// Where the QR code leads (the public verify page).
    #[serde(default)]
    pub verify_url: Option<String>,
}
