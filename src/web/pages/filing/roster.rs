//! A table field (an owners' roster) beyond its textarea: the configuration of the table editor
//! (`/static/roster.js`), the count of the owners' vote shown to staff, and rows imported from a
//! spreadsheet file.
//!
//! Policy:
//! - The textarea stays the one way in: the editor writes its text back before the form is
//!   sent, and an imported file fills it, so every row is read and judged by the same code
//!   ([`super::form`]) whichever way it came.
//! - Thresholds reach the editor from the item's `owner_consent` guard as the filing's item
//!   version resolved them (a city's rules included), never from the script.
//! - An import stores nothing: the form comes back with the rows in the table, each bad cell
//!   named, and is saved only when the applicant saves it.
//! - A file is read by its content, not its name: an XLSX is a zip, anything else must be text
//!   in UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text") or GBK/GB18030
//!   (what Excel in China saves a CSV as). It is refused, saying why, when it is empty, larger
//!   than [`IMPORT_MAX_BYTES`], not a table, or longer than the table's rows.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::form::{self, FormPage, NO, YES};
use super::pick;
use crate::app::AppState;
use crate::domain::Problem;
use crate::domain::Text;
use crate::domain::consent::{self, ABSENT, ABSTAIN, AGREE, Measure, OBJECT, Share, Tally};
use crate::domain::definition::{
    ConsentBase, Definition, Field, FieldType, Fraction, Guard, Lang, Role,
};
use crate::domain::forms;
use crate::error::AppError;
use crate::services::filings;
use crate::services::items::Item;
use crate::web::extract::Query;
use crate::web::pages::{PageError, Viewer, form_value};

/// The largest spreadsheet file a table is imported from: a roster of 2,000 units is about
/// 100 KB as CSV and less as XLSX.
pub const IMPORT_MAX_BYTES: usize = 2 * 1024 * 1024;

/// What the parts of an uploaded XLSX may inflate to, together. A real roster's parts inflate
/// to a few MB; a zip bomb of 2 MB to a thousand times that.
const XLSX_MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// Columns read from a file row; a roster has five.
const MAX_FILE_COLUMNS: usize = 64;

// ---------------------------------------------------------------------------------------------
// Words shared by the editor and the staff view.

/// A threshold's share as people write it: ≥ 2/3 (以上, reached) or > 1/2 (过半数, exceeded).
fn share_text(f: Fraction) -> String {
    format!(
        "{} {}/{}",
        if f.more_than { ">" } else { "≥" },
        f.num,
        f.den
    )
}

/// What a threshold measures, against what: "参与表决的专有部分面积 / 总面积".
fn threshold_label(code: &str, base: ConsentBase, lang: Lang) -> String {
    let of_base = |zh_p: &str, en_p: &str, zh_t: &str, en_t: &str| match base {
        ConsentBase::Participating => pick(lang, zh_p, en_p),
        ConsentBase::Total => pick(lang, zh_t, en_t),
    };
    match code {
        "participation_area" => pick(
            lang,
            "参与表决的专有部分面积占总面积",
            "Area of the owners taking part, of all the area",
        ),
        "participation_headcount" => pick(
            lang,
            "参与表决的业主人数占业主总人数",
            "Owners taking part, of all the owners",
        ),
        "approval_area" => of_base(
            "同意（已签字）的专有部分面积占参与表决的面积",
            "Area of the owners agreeing (signed), of the area taking part",
            "同意（已签字）的专有部分面积占总面积",
            "Area of the owners agreeing (signed), of all the area",
        ),
        _ => of_base(
            "同意（已签字）的业主人数占参与表决的人数",
            "Owners agreeing (signed), of the owners taking part",
            "同意（已签字）的业主人数占业主总人数",
            "Owners agreeing (signed), of all the owners",
        ),
    }
}

fn no_objection_label(lang: Lang) -> String {
    pick(
        lang,
        "无业主反对（本地规定）",
        "No owner objects (local rules)",
    )
}

fn conclusion_text(carried: bool, lang: Lang) -> String {
    if carried {
        pick(
            lang,
            "表决通过：达到本事项规定的业主共同决定要求（民法典第二百七十八条）",
            "Carried: the owners' joint decision meets this item's rules (Civil Code, art. 278)",
        )
    } else {
        pick(
            lang,
            "表决未通过：未达到本事项规定的业主共同决定要求（民法典第二百七十八条）",
            "Not carried: the owners' joint decision falls short of this item's rules (Civil Code, art. 278)",
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The editor's configuration.

/// The editor of a table field, as JSON for `data-editor`: its columns with their controls
/// (select options with both languages' labels, as typed rows may use either), the words a
/// yes/no cell takes, the server's problems at their row and column, the vote's thresholds
/// from the item's guard, and the page's words in the viewer's language.
pub(super) fn editor(def: &Definition, field: &Field, lang: Lang, problems: &[&Problem]) -> String {
    let FieldType::Table {
        columns, max_rows, ..
    } = &field.ty
    else {
        return "{}".into();
    };
    let columns: Vec<Value> = columns.iter().map(|c| column(c, lang)).collect();
    let path = format!("form.{}", field.code);
    let problems: Vec<Value> = problems
        .iter()
        .filter_map(|p| {
            let rest = p.path.strip_prefix(&path)?.strip_prefix('[')?;
            let (row, rest) = rest.split_once(']')?;
            let row: usize = row.parse().ok()?;
            let column = rest.strip_prefix('.');
            Some(json!({ "row": row, "column": column, "message": p.message.get(lang) }))
        })
        .collect();
    let consent = consent::guard_for(def, &field.code).and_then(|g| consent_config(g, lang));
    json!({
        "label": field.label.get(lang),
        "max_rows": forms::row_cap(*max_rows),
        "columns": columns,
        "yes": YES,
        "no": NO,
        "yes_word": pick(lang, "是", "yes"),
        "no_word": pick(lang, "否", "no"),
        "problems": problems,
        "consent": consent,
        "text": words(lang),
    })
    .to_string()
}

fn column(c: &Field, lang: Lang) -> Value {
    let mut out = json!({
        "code": c.code,
        "label": c.label.get(lang),
        "required": c.required,
    });
    let (kind, extra) = match &c.ty {
        FieldType::Select { options } => (
            "select",
            json!({ "options": options
                .iter()
                .map(|o| json!({
                    "value": o.value,
                    "label": o.label.get(lang),
                    "zh": o.label.zh,
                    "en": o.label.en,
                }))
                .collect::<Vec<_>>() }),
        ),
        FieldType::Boolean => ("boolean", json!({})),
        FieldType::Area { min, max } | FieldType::Amount { min, max, .. } => {
            ("number", json!({ "min": min, "max": max, "step": "0.01" }))
        }
        FieldType::Integer { min, max } => {
            ("number", json!({ "min": min, "max": max, "step": "1" }))
        }
        FieldType::Date => ("date", json!({})),
        FieldType::Text { max_len, .. } => ("text", json!({ "max_len": max_len })),
        _ => ("text", json!({})),
    };
    out["type"] = json!(kind);
    if let (Some(o), Value::Object(extra)) = (out.as_object_mut(), extra) {
        o.extend(extra);
    }
    out
}

/// The guard's columns and thresholds, each with its words.
fn consent_config(guard: &Guard, lang: Lang) -> Option<Value> {
    let Guard::OwnerConsent {
        columns,
        participation_area,
        participation_headcount,
        approval_area,
        approval_headcount,
        base,
        no_objection,
        ..
    } = guard
    else {
        return None;
    };
    let threshold = |code: &str, measure: &str, f: &Fraction, of: &str| {
        json!({
            "code": code,
            "measure": measure,
            "num": f.num,
            "den": f.den,
            "more_than": f.more_than,
            "of": of,
            "label": threshold_label(code, *base, lang),
            "share": share_text(*f),
        })
    };
    let approval_of = match base {
        ConsentBase::Participating => "participating",
        ConsentBase::Total => "total",
    };
    Some(json!({
        "owner": columns.owner,
        "area": columns.area,
        "vote": columns.vote,
        "signed": columns.signed,
        "votes": [AGREE, OBJECT, ABSTAIN, ABSENT],
        "no_objection": no_objection,
        "thresholds": [
            threshold("participation_area", "area", participation_area, "total"),
            threshold("participation_headcount", "heads", participation_headcount, "total"),
            threshold("approval_area", "area", approval_area, approval_of),
            threshold("approval_headcount", "heads", approval_headcount, approval_of),
        ],
    }))
}

/// The editor's words; `{n}`, `{owner}`, `{rows}` are filled in by the script.
fn words(lang: Lang) -> Value {
    let t = |zh: &str, en: &str| Value::String(pick(lang, zh, en));
    json!({
        "row": t("行", "Row"),
        "add_row": t("添加一行", "Add a row"),
        "remove_row": t("删除第 {n} 行", "Remove row {n}"),
        "remove": t("删除", "Remove"),
        "cell": t("第 {n} 行 {column}", "Row {n}, {column}"),
        "as_text": t("以文本编辑（可粘贴整张表）", "Edit as text (paste a whole table)"),
        "as_table": t("以表格编辑", "Edit as a table"),
        "editor_help": t(
            "可直接从表格软件复制多行多列，粘贴到任一单元格；按回车键跳到下一行。",
            "Rows and columns copied from a spreadsheet may be pasted into any cell; Enter moves to the next row."
        ),
        "totals": t("表决统计（随填写即时计算）", "The vote so far (counted as you type)"),
        "what": t("项目", "What"),
        "heads": t("人数", "Owners"),
        "area": t("面积（㎡）", "Area (m²)"),
        "units": t("专有部分（户）", "Units"),
        "owners": t("业主（一人多套按一人计）", "Owners (one owner of several units counts once)"),
        "agree_unsigned": t("其中同意但未签字", "of whom agreeing but not signed"),
        "requirement": t("表决要求", "Requirement"),
        "actual": t("实际", "Actual"),
        "result": t("结果", "Result"),
        "met": t("达到", "met"),
        "not_met": t("未达到", "not met"),
        "no_objection": Value::String(no_objection_label(lang)),
        "objecting": t("反对 {n} 人", "{n} object"),
        "carried": Value::String(conclusion_text(true, lang)),
        "not_carried": Value::String(conclusion_text(false, lang)),
        "uncounted": t(
            "有 {n} 行缺少业主、面积或表决意见，或面积有误，未计入统计。",
            "{n} rows lack an owner, an area or a vote, or have a wrong area, and are not counted."
        ),
        "conflict": t(
            "业主「{owner}」在第 {rows} 行的表决意见或签字不一致（一位业主只有一票）。",
            "The owner `{owner}` votes or signs differently in rows {rows} (an owner has one vote)."
        ),
        "undecided": t(
            "名册尚有问题，改正后才能判断表决结果。",
            "Put the roster right to see whether the vote is carried."
        ),
        "choose": t("请选择", "Choose"),
        "share_of": t("{part} / {whole}（{percent}）", "{part} / {whole} ({percent})"),
        "rows": t("共 {n} 行", "{n} rows"),
        "too_many_rows": t("最多 {n} 行", "At most {n} rows"),
    })
}

// ---------------------------------------------------------------------------------------------
// The count shown on the filing page.

/// The count of an owners' vote under its table on the filing page.
pub struct CountView {
    /// (what, owners, area in m²)
    pub lines: Vec<(String, String, String)>,
    /// (requirement, actual, met)
    pub thresholds: Vec<(String, String, bool)>,
    pub carried: bool,
    pub conclusion: String,
    /// Why the table cannot be counted (then there are no lines).
    pub problems: Vec<String>,
}

/// The count of a table whose vote a guard of the item counts, as staff check it.
pub(super) fn count_view(
    def: &Definition,
    table: &Field,
    tally: &Result<Tally, Vec<Problem>>,
    lang: Lang,
) -> CountView {
    let t = match tally {
        Ok(t) => t,
        Err(problems) => {
            return CountView {
                lines: Vec::new(),
                thresholds: Vec::new(),
                carried: false,
                conclusion: pick(
                    lang,
                    "名册有误，无法计票：",
                    "The roster cannot be counted:",
                ),
                problems: problems
                    .iter()
                    .map(|p| p.message.get(lang).to_owned())
                    .collect(),
            };
        }
    };
    let m2 = forms::show_hundredths;
    let vote_label = |vote: &str| -> String {
        let Some(Guard::OwnerConsent { columns, .. }) = consent::guard_for(def, &table.code) else {
            return vote.to_owned();
        };
        let FieldType::Table { columns: cols, .. } = &table.ty else {
            return vote.to_owned();
        };
        cols.iter()
            .find(|c| c.code == columns.vote)
            .and_then(|c| match &c.ty {
                FieldType::Select { options } => options.iter().find(|o| o.value == vote),
                _ => None,
            })
            .map_or_else(|| vote.to_owned(), |o| o.label.get(lang).to_owned())
    };
    let line = |what: String, s: Share| (what, s.heads.to_string(), m2(s.area));
    let mut lines = vec![
        (
            pick(lang, "专有部分（户）", "Units"),
            t.units.to_string(),
            String::new(),
        ),
        line(
            pick(
                lang,
                "业主（一人多套按一人计）",
                "Owners (one owner of several units counts once)",
            ),
            t.total,
        ),
    ];
    for vote in [AGREE, OBJECT, ABSTAIN, ABSENT] {
        lines.push(line(vote_label(vote), t.vote(vote)));
        if vote == AGREE && t.agreeing != t.vote(AGREE) {
            let unsigned = Share {
                heads: t.vote(AGREE).heads - t.agreeing.heads,
                area: t.vote(AGREE).area - t.agreeing.area,
            };
            lines.push(line(
                pick(lang, "其中同意但未签字", "of whom agreeing but not signed"),
                unsigned,
            ));
        }
    }
    let mut thresholds: Vec<(String, String, bool)> = t
        .thresholds
        .iter()
        .map(|th| {
            let (part, whole, unit) = match th.measure {
                Measure::Area => (m2(th.part), m2(th.whole), pick(lang, " ㎡", " m²")),
                Measure::Heads => (
                    th.part.to_string(),
                    th.whole.to_string(),
                    pick(lang, " 人", ""),
                ),
            };
            (
                format!(
                    "{} {}",
                    threshold_label(th.code, t.base, lang),
                    share_text(th.share)
                ),
                match lang {
                    Lang::Zh => format!("{part} / {whole}{unit}（{}）", percent(th.part, th.whole)),
                    Lang::En => format!("{part} / {whole}{unit} ({})", percent(th.part, th.whole)),
                },
                th.met,
            )
        })
        .collect();
    if t.no_objection {
        let objecting = t.vote(OBJECT).heads;
        thresholds.push((
            no_objection_label(lang),
            pick(
                lang,
                &format!("反对 {objecting} 人"),
                &format!("{objecting} object"),
            ),
            t.no_objection_met(),
        ));
    }
    CountView {
        lines,
        thresholds,
        carried: t.carried(),
        conclusion: conclusion_text(t.carried(), lang),
        problems: Vec::new(),
    }
}

/// A share as a percentage with one decimal, for reading (the verdict is exact).
fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "—".into();
    }
    let tenths = (i128::from(part) * 1000 + i128::from(whole) / 2) / i128::from(whole);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

// ---------------------------------------------------------------------------------------------
// Reading a spreadsheet file.

/// Why a file gave no rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ImportError {
    NoFile,
    Empty,
    TooLarge,
    /// An Excel 97–2003 workbook (or an encrypted one): a compound file, not read here.
    OldExcel,
    NotATable,
    /// Text in none of the encodings read.
    Encoding,
    /// A zip that is no readable workbook, or a CSV with broken quoting (at a line).
    Malformed(Option<u64>),
    TooManyColumns,
    TooManyRows {
        found: usize,
        cap: usize,
    },
}

impl ImportError {
    fn code(&self) -> &'static str {
        match self {
            ImportError::NoFile => "no_file",
            ImportError::Empty => "empty_file",
            ImportError::TooLarge => "file_too_large",
            ImportError::OldExcel => "old_excel",
            ImportError::NotATable => "not_a_table",
            ImportError::Encoding => "unknown_encoding",
            ImportError::Malformed(_) => "malformed_file",
            ImportError::TooManyColumns => "too_many_columns",
            ImportError::TooManyRows { .. } => "too_many_rows",
        }
    }

    fn text(&self, table: &Text) -> Text {
        let (zh, en) = match self {
            ImportError::NoFile => (
                "请先选择要导入的文件（.xlsx 或 .csv）".to_owned(),
                "Choose a file to import first (.xlsx or .csv)".to_owned(),
            ),
            ImportError::Empty => (
                "文件是空的，没有可导入的数据行".to_owned(),
                "The file is empty: there are no rows to import".to_owned(),
            ),
            ImportError::TooLarge => (
                format!("文件超过 {} MB 的上限", IMPORT_MAX_BYTES / (1024 * 1024)),
                format!(
                    "The file exceeds the {} MB limit",
                    IMPORT_MAX_BYTES / (1024 * 1024)
                ),
            ),
            ImportError::OldExcel => (
                "这是旧版 Excel（.xls）或加密的文件，请在 Excel 中另存为 .xlsx 或 CSV 后再导入".to_owned(),
                "This is an old Excel file (.xls) or an encrypted one: save it as .xlsx or CSV in Excel and import that".to_owned(),
            ),
            ImportError::NotATable => (
                "文件不是表格：只能导入 Excel 工作簿（.xlsx）或 CSV 文本文件".to_owned(),
                "The file is not a table: import an Excel workbook (.xlsx) or a CSV text file".to_owned(),
            ),
            ImportError::Encoding => (
                "无法识别文件的文字编码：请另存为“CSV UTF-8”或 .xlsx 后再导入".to_owned(),
                "The file's text encoding is not recognised: save it as \"CSV UTF-8\" or .xlsx and import that".to_owned(),
            ),
            ImportError::Malformed(None) => (
                "文件已损坏或不是有效的 Excel 工作簿，无法读取".to_owned(),
                "The file is damaged or not a valid Excel workbook, and cannot be read".to_owned(),
            ),
            ImportError::Malformed(Some(line)) => (
                format!("CSV 文件第 {line} 行的引号未闭合，无法读取"),
                format!("A quote opened on line {line} of the CSV file is never closed; the file cannot be read"),
            ),
            ImportError::TooManyColumns => (
                format!("文件的列数过多（超过 {MAX_FILE_COLUMNS} 列），请只保留名册各栏"),
                format!(
                    "The file has too many columns (more than {MAX_FILE_COLUMNS}); keep only the roster's"
                ),
            ),
            ImportError::TooManyRows { found, cap } => (
                format!(
                    "文件有 {found} 行数据，「{}」最多 {cap} 行",
                    table.zh
                ),
                format!("The file has {found} rows; {} takes at most {cap}", table.en),
            ),
        };
        Text {
            zh: format!("文件未能导入：{zh}"),
            en: format!("The file was not imported: {en}"),
        }
    }
}

/// The rows of a table read from a file: each row as typed rows are read (see
/// [`form::table_row`]), blank rows left out, and a first row of column names skipped.
/// Returns the rows and whether a header was skipped.
pub(super) fn import_rows(
    columns: &[Field],
    max_rows: Option<u32>,
    bytes: &[u8],
) -> Result<(Vec<Value>, bool), ImportError> {
    let cap = forms::row_cap(max_rows);
    // One more row than the table takes, for a header.
    let (mut rows, found) = read_cells(bytes, cap + 1)?;
    let header = rows.first().is_some_and(|r| is_header(columns, r));
    let mut found = found;
    if header {
        rows.remove(0);
        found -= 1;
    }
    if found == 0 {
        return Err(ImportError::Empty);
    }
    if found > cap {
        return Err(ImportError::TooManyRows { found, cap });
    }
    let rows = rows
        .iter()
        .map(|cells| {
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            form::table_row(columns, &cells, &cells.join("\t"))
        })
        .collect();
    Ok((rows, header))
}

/// A first row that names the columns: every cell it has is a column's label (in either
/// language, or its code) at that column's place, compared without spaces, `*`, case, or a
/// unit in brackets ("专有部分面积（㎡）" and "专有部分面积" are the same header).
fn is_header(columns: &[Field], cells: &[String]) -> bool {
    fn norm(s: &str) -> String {
        let s: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '*')
            .flat_map(char::to_lowercase)
            .collect();
        match s.find(['（', '(']) {
            Some(i) if i > 0 => s[..i].to_owned(),
            _ => s,
        }
    }
    cells.iter().any(|c| !c.trim().is_empty())
        && cells.iter().enumerate().all(|(i, cell)| {
            let cell = norm(cell);
            cell.is_empty()
                || columns.get(i).is_some_and(|c| {
                    [&c.label.zh, &c.label.en, &c.code]
                        .iter()
                        .any(|l| norm(l) == cell)
                })
        })
}

/// The non-blank rows of a file's first sheet (or of its text), as cells; at most `keep` rows
/// are kept, and how many there are is counted all the same.
fn read_cells(bytes: &[u8], keep: usize) -> Result<(Vec<Vec<String>>, usize), ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    if bytes.len() > IMPORT_MAX_BYTES {
        return Err(ImportError::TooLarge);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return xlsx_cells(bytes, keep);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(ImportError::OldExcel);
    }
    let binary: [&[u8]; 4] = [b"%PDF-", b"\x89PNG", &[0xFF, 0xD8, 0xFF], b"GIF8"];
    if binary.iter().any(|m| bytes.starts_with(m)) {
        return Err(ImportError::NotATable);
    }
    let text = decode(bytes)?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ImportError::NotATable);
    }
    let rows = text_cells(&text)?;
    let found = rows.len();
    if found == 0 {
        return Err(ImportError::Empty);
    }
    Ok((rows.into_iter().take(keep).collect(), found))
}

/// Text in UTF-8 (a BOM dropped), UTF-16 with its BOM, or else GB18030 (a superset of GBK, what
/// Excel in China saves "CSV (逗号分隔)" in). Bytes that are none of them are refused rather
/// than decoded with replacement characters.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(s));
    }
    let (encoding, rest) = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        (encoding_rs::UTF_16LE, rest)
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        (encoding_rs::UTF_16BE, rest)
    } else {
        (encoding_rs::GB18030, bytes)
    };
    encoding
        .decode_without_bom_handling_and_without_replacement(rest)
        .map(|s| Cow::Owned(s.into_owned()))
        .ok_or(ImportError::Encoding)
}

/// CSV as spreadsheets write it (quotes, a quoted cell over several lines), separated by tabs,
/// commas or semicolons as the first line shows; a file of lines separated by Chinese commas
/// only (typed in a text editor) is split as the textarea splits it.
fn text_cells(text: &str) -> Result<Vec<Vec<String>>, ImportError> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let blank = |cells: &Vec<String>| cells.iter().all(|c| c.trim().is_empty());
    let delimiter = if first.contains('\t') {
        b'\t'
    } else if first.contains(',') {
        b','
    } else if first.contains(';') {
        b';'
    } else if first.contains('，') {
        return Ok(text
            .lines()
            .map(|l| l.split('，').map(str::to_owned).collect::<Vec<_>>())
            .filter(|cells| !blank(cells))
            .collect());
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut records = reader.records().peekable();
    while let Some(record) = records.next() {
        let record = record.map_err(|e| ImportError::Malformed(e.position().map(|p| p.line())))?;
        // A quote left open takes the rest of the file into one cell: a last record with a
        // line break in a cell. Elsewhere a cell over two lines (Alt+Enter in Excel) is one
        // line, as a row of the textarea must be.
        let broken = record.iter().any(|c| c.contains(['\n', '\r']));
        if broken && records.peek().is_none() {
            return Err(ImportError::Malformed(record.position().map(|p| p.line())));
        }
        let cells: Vec<String> = record.iter().map(one_line).collect();
        if cells.len() > MAX_FILE_COLUMNS {
            return Err(ImportError::TooManyColumns);
        }
        if !blank(&cells) {
            rows.push(cells);
        }
    }
    Ok(rows)
}

/// A cell's text on one line: line breaks within it become spaces.
fn one_line(cell: &str) -> String {
    cell.split(['\r', '\n'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first sheet of an XLSX workbook, cell by cell (calamine's streaming reader: a sheet whose
/// used range claims a million rows allocates nothing for the empty ones). Its parts are
/// inflated and counted first (see [`XLSX_MAX_INFLATED`]).
fn xlsx_cells(bytes: &[u8], keep: usize) -> Result<(Vec<Vec<String>>, usize), ImportError> {
    use calamine::{DataRef, Reader, Xlsx};

    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| ImportError::Malformed(None))?;
    let mut inflated: u64 = 0;
    for i in 0..zip.len() {
        let part = zip.by_index(i).map_err(|_| ImportError::Malformed(None))?;
        let left = XLSX_MAX_INFLATED - inflated;
        let n = std::io::copy(&mut part.take(left + 1), &mut std::io::sink())
            .map_err(|_| ImportError::Malformed(None))?;
        inflated += n;
        if inflated > XLSX_MAX_INFLATED {
            return Err(ImportError::TooLarge);
        }
    }

    let mut book: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|_| ImportError::Malformed(None))?;
    let Some(sheet) = book.sheet_names().first().cloned() else {
        return Err(ImportError::Empty);
    };
    let mut cells = book
        .worksheet_cells_reader(&sheet)
        .map_err(|_| ImportError::Malformed(None))?;
    let mut rows: BTreeMap<u32, Vec<(usize, String)>> = BTreeMap::new();
    let mut found = 0usize;
    let mut last_row: Option<u32> = None;
    while let Some(cell) = cells
        .next_cell()
        .map_err(|_| ImportError::Malformed(None))?
    {
        let (row, col) = cell.get_position();
        let text = match cell.get_value() {
            DataRef::Int(i) => i.to_string(),
            // Shortest round-trip text: 89.5 as typed, not 89.500000000000001.
            DataRef::Float(f) => f.to_string(),
            DataRef::String(s) => one_line(s),
            DataRef::SharedString(s) => one_line(s),
            DataRef::Bool(true) => "是".to_owned(),
            DataRef::Bool(false) => "否".to_owned(),
            // A date as the form takes it; a time of day or a duration as its number.
            DataRef::DateTime(d) => match d.as_datetime() {
                Some(t) if d.is_datetime() => {
                    if t.time() == chrono::NaiveTime::MIN {
                        t.date().to_string()
                    } else {
                        t.to_string()
                    }
                }
                _ => d.to_string(),
            },
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
            DataRef::Error(e) => e.to_string(),
            DataRef::Empty => String::new(),
        };
        if text.trim().is_empty() {
            continue;
        }
        let col = col as usize;
        if col >= MAX_FILE_COLUMNS {
            return Err(ImportError::TooManyColumns);
        }
        if last_row != Some(row) {
            found += 1;
            last_row = Some(row);
        }
        if rows.len() < keep || rows.contains_key(&row) {
            rows.entry(row).or_default().push((col, text));
        }
    }
    if found == 0 {
        return Err(ImportError::Empty);
    }
    let rows = rows
        .into_values()
        .map(|cells| {
            let width = cells.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
            let mut dense = vec![String::new(); width];
            for (c, text) in cells {
                dense[c] = text;
            }
            dense
        })
        .collect();
    Ok((rows, found))
}

// ---------------------------------------------------------------------------------------------
// The import routes.

/// A multipart form as posted by the import button: the form's fields as pairs, and the file
/// chosen for the table (or why there is none to read).
struct Posted {
    pairs: Vec<(String, String)>,
    file: Result<(String, Vec<u8>), ImportError>,
}

fn bad_body(e: impl std::fmt::Display) -> AppError {
    AppError::bad_request(
        format!("上传内容有误：{e}"),
        format!("Bad multipart body: {e}"),
    )
}

/// Read the form: text parts within `text_limit` bytes together, the part `file_part` kept up
/// to [`IMPORT_MAX_BYTES`] (the rest of a larger one is read and dropped, so that the fields
/// after it still arrive), and any other file dropped; a body beyond `hard_limit` is refused.
async fn read_posted(
    mut payload: Multipart,
    file_part: &str,
    text_limit: usize,
    hard_limit: u64,
) -> Result<Posted, AppError> {
    let mut pairs = Vec::new();
    let mut text_bytes = 0usize;
    let mut seen: u64 = 0;
    let mut file = Err(ImportError::NoFile);
    let too_large = || {
        AppError::PayloadTooLarge(Text {
            zh: format!("上传内容超过 {} MB 的上限", hard_limit / (1024 * 1024)),
            en: format!(
                "The upload exceeds the {} MB limit",
                hard_limit / (1024 * 1024)
            ),
        })
    };
    while let Some(part) = payload.next().await {
        let mut part = part.map_err(bad_body)?;
        let name = part.name().unwrap_or("").to_owned();
        let file_name = part
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_owned));
        let mut bytes: Vec<u8> = Vec::new();
        let mut oversize = false;
        while let Some(chunk) = part.next().await {
            let chunk = chunk.map_err(bad_body)?;
            seen += chunk.len() as u64;
            if seen > hard_limit {
                return Err(too_large());
            }
            match &file_name {
                Some(_) if name == file_part => {
                    if bytes.len() + chunk.len() > IMPORT_MAX_BYTES {
                        oversize = true;
                        bytes = Vec::new();
                    } else if !oversize {
                        bytes.extend_from_slice(&chunk);
                    }
                }
                Some(_) => {}
                None => {
                    text_bytes += chunk.len();
                    if text_bytes > text_limit {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
            }
        }
        match file_name {
            Some(file_name) if name == file_part => {
                file = if oversize {
                    Err(ImportError::TooLarge)
                } else if file_name.is_empty() && bytes.is_empty() {
                    Err(ImportError::NoFile)
                } else if bytes.is_empty() {
                    Err(ImportError::Empty)
                } else {
                    let shown = file_name
                        .rsplit(['/', '\\'])
                        .next()
                        .unwrap_or("")
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(100)
                        .collect();
                    Ok((shown, bytes))
                };
            }
            Some(_) => {}
            None => {
                let value = String::from_utf8(bytes).map_err(|_| {
                    AppError::bad_request("表单内容不是有效的 UTF-8", "The form is not valid UTF-8")
                })?;
                if forms::has_control(&name) || forms::has_control(&value) {
                    return Err(AppError::bad_request(
                        "表单中含有不允许的控制字符",
                        "The form holds control characters that are not allowed",
                    ));
                }
                pairs.push((name, value));
            }
        }
    }
    Ok(Posted { pairs, file })
}

/// The table field `code` of an item.
fn table_field<'i>(item: &'i Item, code: &str) -> Option<&'i Field> {
    item.def
        .field(code)
        .filter(|f| matches!(f.ty, FieldType::Table { .. }))
}

/// Put the rows of the posted file into the form's table: the form with the rows and their
/// problems (200 when none, 422 otherwise), or with the table as typed and why the file was not
/// read (413 or 422).
fn fill(
    v: &Viewer,
    field: &Field,
    form: &mut Map<String, Value>,
    file: Result<(String, Vec<u8>), ImportError>,
) -> (StatusCode, Option<String>, Vec<Problem>) {
    let FieldType::Table {
        columns, max_rows, ..
    } = &field.ty
    else {
        return (StatusCode::NOT_FOUND, None, Vec::new());
    };
    let read = file.and_then(|(name, bytes)| {
        import_rows(columns, *max_rows, &bytes).map(|(rows, header)| (name, rows, header))
    });
    match read {
        Ok((name, rows, header)) => {
            let n = rows.len();
            let value = Value::Array(rows);
            let problems = forms::judge(field, &value, &format!("form.{}", field.code));
            form.insert(field.code.clone(), value);
            let skipped = if header {
                pick(v.lang, "（已跳过首行列名）", " (the header row skipped)")
            } else {
                String::new()
            };
            let notice = pick(
                v.lang,
                &format!(
                    "已从文件「{name}」导入 {n} 行到「{}」{skipped}。尚未保存：请核对后点击“保存草稿”。",
                    field.label.zh
                ),
                &format!(
                    "{n} rows imported into {} from `{name}`{skipped}. Nothing is saved yet: check them, then Save draft.",
                    field.label.en
                ),
            );
            let status = if problems.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, Some(notice), problems)
        }
        Err(e) => {
            let t = e.text(&field.label);
            let status = if e == ImportError::TooLarge {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (
                status,
                None,
                vec![Problem::new(
                    format!("import.{}", field.code),
                    e.code(),
                    t.zh,
                    t.en,
                )],
            )
        }
    }
}

fn render(
    v: &Viewer,
    mut page: FormPage,
    status: StatusCode,
    notice: Option<String>,
    problems: &[Problem],
) -> Result<HttpResponse, PageError> {
    page.notice = notice;
    // A file that was not read is said at the top; nothing on the form is marked.
    page.has_errors = problems.iter().any(|p| p.path.starts_with("form."));
    v.render(status, &page)
}

/// The largest body an import takes before it is refused unread (the file is kept only up
/// to [`IMPORT_MAX_BYTES`]): what a material upload may be.
fn hard_limit(state: &AppState) -> u64 {
    u64::from(state.settings.storage.max_upload_mb) * 1024 * 1024
}

fn declared_too_large(req: &HttpRequest, limit: u64) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit)
}

fn payload_too_large(v: &Viewer) -> PageError {
    PageError::from_app(
        v,
        AppError::PayloadTooLarge(Text {
            zh: "上传内容过大".into(),
            en: "The upload is too large".into(),
        }),
    )
}

/// Import a table's rows from a file into the new-filing form (posted whole, with the file, by
/// the import button beside the table): the form again, nothing saved.
#[post("/filings/new/{item}/import/{field}")]
pub async fn import_new(
    state: web::Data<AppState>,
    mut v: Viewer,
    path: web::Path<(String, String)>,
    q: Query<BTreeMap<String, String>>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, PageError> {
    // A multipart body is not read before the token is checked: the token travels in the URL.
    let q = v.query(q)?;
    v.check_csrf(q.get("_csrf").map(String::as_str).unwrap_or(""))?;
    v.require(&state, Role::Applicant).await?;
    let (code, table) = path.into_inner();
    let item = state
        .items
        .latest(&code)
        .ok_or_else(|| PageError::from_app(&v, AppError::NotFound))?;
    let field =
        table_field(&item, &table).ok_or_else(|| PageError::from_app(&v, AppError::NotFound))?;
    if declared_too_large(&req, hard_limit(&state)) {
        return Err(payload_too_large(&v));
    }
    let text_limit = state.settings.server.json_limit_kib * 1024;
    let posted = read_posted(
        payload,
        &format!("_file.{table}"),
        text_limit,
        hard_limit(&state),
    )
    .await
    .map_err(|e| PageError::from_app(&v, e))?;
    let (mut form, promises) = form::form_json(&item, &posted.pairs);
    let key = form_value(&posted.pairs, "_key").filter(|k| filings::is_idempotency_key(k));
    let (status, notice, problems) = fill(&v, field, &mut form, posted.file);
    let page = FormPage::build(
        &v,
        &item,
        format!("/filings/new/{}", item.def.code),
        None,
        key,
        &form,
        &promises,
        &problems,
    );
    render(&v, page, status, notice, &problems)
}

/// Import a table's rows from a file into a draft's (or a supplement's) edit form: the form
/// again with the rows, nothing saved until the applicant saves it.
#[post("/filings/{id}/edit/import/{field}")]
pub async fn import_edit(
    state: web::Data<AppState>,
    mut v: Viewer,
    path: web::Path<(Uuid, String)>,
    q: Query<BTreeMap<String, String>>,
    req: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    v.check_csrf(q.get("_csrf").map(String::as_str).unwrap_or(""))?;
    let (id, table) = path.into_inner();
    let item = v
        .run(&state, move |conn, ctx, p| {
            filings::item_of(conn, ctx, p, id)
        })
        .await?;
    let field =
        table_field(&item, &table).ok_or_else(|| PageError::from_app(&v, AppError::NotFound))?;
    if declared_too_large(&req, hard_limit(&state)) {
        return Err(payload_too_large(&v));
    }
    let text_limit = state.settings.server.json_limit_kib * 1024;
    let posted = read_posted(
        payload,
        &format!("_file.{table}"),
        text_limit,
        hard_limit(&state),
    )
    .await
    .map_err(|e| PageError::from_app(&v, e))?;
    let version: i32 = form_value(&posted.pairs, "version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let (mut form, mut promises) = form::edit_patch(&item, &posted.pairs);
    form.retain(|_, v| !v.is_null());
    promises.retain(|_, v| !v.is_null());
    let (status, notice, problems) = fill(&v, field, &mut form, posted.file);
    let page = FormPage::build(
        &v,
        &item,
        format!("/filings/{id}/edit"),
        Some(version),
        None,
        &form,
        &promises,
        &problems,
    );
    render(&v, page, status, notice, &problems)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::check;

    fn roster() -> Field {
        let file = "elevator-installation.toml";
        let text =
            std::fs::read_to_string(format!("{}/seeds/items/{file}", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let def = check::parse(file, &text).unwrap();
        def.field("owners").unwrap().clone()
    }

    fn import(bytes: &[u8]) -> Result<(Vec<Value>, bool), ImportError> {
        let f = roster();
        let FieldType::Table {
            columns, max_rows, ..
        } = &f.ty
        else {
            unreachable!()
        };
        import_rows(columns, *max_rows, bytes)
    }

    const ROWS: &str = "房号,业主（产权人）,专有部分面积（㎡）,表决意见,已签字\r\n\
                        101,张三,89.5,同意,是\r\n\
                        \r\n\
                        102,\"李四，王五\",80,agree,yes\r\n";

    #[test]
    fn a_utf8_csv_with_a_header_and_a_bom_is_read_as_typed_rows() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(ROWS.as_bytes());
        let (rows, header) = import(&bytes).unwrap();
        assert!(header);
        assert_eq!(
            rows,
            [
                json!({"unit": "101", "owner": "张三", "area": "89.5", "vote": "agree", "signed": true}),
                json!({"unit": "102", "owner": "李四，王五", "area": "80", "vote": "agree", "signed": true}),
            ]
        );
    }

    #[test]
    fn a_gbk_csv_from_excel_is_decoded_and_a_header_in_other_words_is_a_row() {
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(ROWS);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&gbk).is_err(), "really GBK");
        let (rows, header) = import(&gbk).unwrap();
        assert!(header);
        assert_eq!(rows[0]["owner"], "张三");
        assert_eq!(rows[0]["vote"], "agree");
        // Column names that are not the labels stay a row, to be told at its cells.
        let (rows, header) =
            import("户号,姓名,面积,意见\n101,张三,89.5,同意\n".as_bytes()).unwrap();
        assert!(!header);
        assert_eq!(rows.len(), 2);
        // Tabs (Excel's "Unicode text" is UTF-16 with a BOM) and English labels.
        let text = "Unit\tOwner\tExclusive area (m²)\tVote\tSigned\n101\t张三\t89.5\tObject\tno\n";
        let mut utf16 = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (rows, header) = import(&utf16).unwrap();
        assert!(header);
        assert_eq!(
            rows,
            [
                json!({"unit": "101", "owner": "张三", "area": "89.5", "vote": "object", "signed": false})
            ]
        );
    }

    #[test]
    fn an_xlsx_first_sheet_is_read_cell_by_cell() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in [
            "房号",
            "业主（产权人）",
            "专有部分面积（㎡）",
            "表决意见",
            "已签字",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        sheet.write_number(1, 0, 101).unwrap();
        sheet.write_string(1, 1, "张三").unwrap();
        sheet.write_number(1, 2, 89.37).unwrap();
        sheet.write_string(1, 3, "反对").unwrap();
        sheet.write_boolean(1, 4, true).unwrap();
        // A blank row, then a row with a gap.
        sheet.write_string(3, 0, "102").unwrap();
        sheet.write_string(3, 3, "弃权").unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let (rows, header) = import(&bytes).unwrap();
        assert!(header);
        assert_eq!(
            rows,
            [
                json!({"unit": "101", "owner": "张三", "area": "89.37", "vote": "object", "signed": true}),
                json!({"unit": "102", "vote": "abstain", "signed": false}),
            ]
        );
    }

    #[test]
    fn files_that_are_no_table_are_refused_saying_why() {
        assert_eq!(import(b""), Err(ImportError::Empty));
        assert_eq!(import(b"\n\r\n , ,\n"), Err(ImportError::Empty));
        assert_eq!(
            import("房号,业主（产权人）\n".as_bytes()),
            Err(ImportError::Empty)
        );
        assert_eq!(
            import(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Err(ImportError::NotATable)
        );
        assert_eq!(import(b"abc\0def"), Err(ImportError::NotATable));
        assert_eq!(
            import(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
            Err(ImportError::OldExcel)
        );
        assert_eq!(
            import(b"PK\x03\x04garbage"),
            Err(ImportError::Malformed(None))
        );
        assert_eq!(
            import(b"101,\"Zhang,89\n102,Li,80\n"),
            Err(ImportError::Malformed(Some(1)))
        );
        // A closed quote over two lines is one cell on one line.
        let (rows, _) =
            import("101,\"张三\n李四\",80,同意,是\n102,王五,80,同意,是\n".as_bytes()).unwrap();
        assert_eq!(rows[0]["owner"], "张三 李四");
        // Not GB18030 either: a lone lead byte at the end.
        assert_eq!(import(b"101,\xFF\xFE\x81"), Err(ImportError::Encoding));
        let big = vec![b'a'; IMPORT_MAX_BYTES + 1];
        assert_eq!(import(&big), Err(ImportError::TooLarge));
        let many: String = (0..2001)
            .map(|i| format!("{i},张三,80,同意,是\n"))
            .collect();
        assert_eq!(
            import(many.as_bytes()),
            Err(ImportError::TooManyRows {
                found: 2001,
                cap: 2000
            })
        );
        // The header does not count as a row.
        let header = format!(
            "房号,业主,专有部分面积,表决意见,已签字\n{}",
            &many[many.find('\n').unwrap() + 1..]
        );
        assert_eq!(import(header.as_bytes()).unwrap().0.len(), 2000);
        let t = ImportError::TooManyRows {
            found: 2001,
            cap: 2000,
        }
        .text(&roster().label);
        assert_eq!(
            t.zh,
            "文件未能导入：文件有 2001 行数据，「业主名册及表决情况」最多 2000 行"
        );
    }

    #[test]
    fn a_zip_bomb_is_refused_by_what_it_inflates_to() {
        use std::io::Write;
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("xl/sharedStrings.xml", opts).unwrap();
        let block = vec![b'a'; 1024 * 1024];
        for _ in 0..65 {
            zip.write_all(&block).unwrap();
        }
        zip.finish().unwrap();
        let bytes = out.into_inner();
        assert!(bytes.len() < IMPORT_MAX_BYTES);
        assert_eq!(import(&bytes), Err(ImportError::TooLarge));
    }

    #[test]
    fn percentages_are_rounded_to_a_tenth() {
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(48050, 57050), "84.2%");
        assert_eq!(percent(0, 0), "—");
        assert_eq!(percent(1, 1), "100.0%");
    }
}
