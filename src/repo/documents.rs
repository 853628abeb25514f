//! Documents and certificates: issued in the action's transaction, rendered after it.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::db::schema::{certificate_events, certificate_serials, certificates, documents};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = documents, check_for_backend(diesel::pg::Pg))]
pub struct DocumentMeta {
    pub id: Uuid,
    pub filing_id: Uuid,
    pub code: String,
    pub kind: String,
    pub title_zh: String,
    pub title_en: String,
    pub version: i32,
    pub action: String,
    pub issued_at: DateTime<Utc>,
    pub certificate_id: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    pub superseded_at: Option<DateTime<Utc>>,
    pub sha256: Option<String>,
    pub rendered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = documents)]
pub struct NewDocument {
    pub id: Uuid,
    pub filing_id: Uuid,
    pub code: String,
    pub kind: String,
    pub title_zh: String,
    pub title_en: String,
    pub version: i32,
    pub action: String,
    pub issued_at: DateTime<Utc>,
    pub issued_by: Uuid,
    pub sheet: Value,
    pub certificate_id: Option<Uuid>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = certificates, check_for_backend(diesel::pg::Pg))]
pub struct CertificateRow {
    pub id: Uuid,
    pub identifier: String,
    pub filing_id: Uuid,
    pub document_code: String,
    pub version: i32,
    pub number: String,
    pub status: String,
    pub status_at: DateTime<Utc>,
    pub status_reason: Option<String>,
    pub valid_until: Option<NaiveDate>,
    pub issued_at: DateTime<Utc>,
    pub public_fields: Value,
    pub superseded_by: Option<Uuid>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = certificates)]
pub struct NewCertificate {
    pub id: Uuid,
    pub identifier: String,
    pub filing_id: Uuid,
    pub document_code: String,
    pub version: i32,
    pub number: String,
    pub status: String,
    pub status_at: DateTime<Utc>,
    pub valid_until: Option<NaiveDate>,
    pub issued_at: DateTime<Utc>,
    pub public_fields: Value,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = certificate_events, check_for_backend(diesel::pg::Pg))]
pub struct CertificateEvent {
    pub status: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
    pub action: Option<String>,
}

/// The next serial of a certificate type on a day (1, 2, …): the counter's row stays locked
/// until the issuing action's transaction ends, so serials have no gaps.
pub fn next_serial(conn: &mut PgConnection, type_code: &str, day: NaiveDate) -> QueryResult<i32> {
    diesel::insert_into(certificate_serials::table)
        .values((
            certificate_serials::type_code.eq(type_code),
            certificate_serials::day.eq(day),
            certificate_serials::last.eq(1),
        ))
        .on_conflict((certificate_serials::type_code, certificate_serials::day))
        .do_update()
        .set(certificate_serials::last.eq(certificate_serials::last + 1))
        .returning(certificate_serials::last)
        .get_result(conn)
}

pub fn insert_certificate(conn: &mut PgConnection, c: &NewCertificate) -> QueryResult<()> {
    diesel::insert_into(certificates::table)
        .values(c)
        .execute(conn)?;
    record_event(conn, c.id, &c.status, c.issued_at, None, None)
}

pub fn record_event(
    conn: &mut PgConnection,
    certificate: Uuid,
    status: &str,
    at: DateTime<Utc>,
    reason: Option<&str>,
    action: Option<&str>,
) -> QueryResult<()> {
    diesel::insert_into(certificate_events::table)
        .values((
            certificate_events::certificate_id.eq(certificate),
            certificate_events::status.eq(status),
            certificate_events::at.eq(at),
            certificate_events::reason.eq(reason),
            certificate_events::action.eq(action),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The certificate in force for a filing's document (the latest version not superseded).
pub fn current_certificate(
    conn: &mut PgConnection,
    filing: Uuid,
    document_code: &str,
) -> QueryResult<Option<CertificateRow>> {
    certificates::table
        .filter(certificates::filing_id.eq(filing))
        .filter(certificates::document_code.eq(document_code))
        .filter(certificates::superseded_by.is_null())
        .order(certificates::version.desc())
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()
}

/// A certificate's status changes (with its reason), and its validity when given.
pub fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
    at: DateTime<Utc>,
    reason: Option<&str>,
    valid_until: Option<NaiveDate>,
    action: &str,
) -> QueryResult<()> {
    diesel::update(certificates::table.find(id))
        .set((
            certificates::status.eq(status),
            certificates::status_at.eq(at),
            certificates::status_reason.eq(reason),
        ))
        .execute(conn)?;
    if let Some(v) = valid_until {
        diesel::update(certificates::table.find(id))
            .set(certificates::valid_until.eq(v))
            .execute(conn)?;
    }
    record_event(conn, id, status, at, reason, Some(action))
}

pub fn mark_superseded(conn: &mut PgConnection, old: Uuid, new: Uuid) -> QueryResult<()> {
    diesel::update(certificates::table.find(old))
        .set(certificates::superseded_by.eq(new))
        .execute(conn)
        .map(|_| ())
}

pub fn certificate_by_identifier(
    conn: &mut PgConnection,
    identifier: &str,
) -> QueryResult<Option<CertificateRow>> {
    certificates::table
        .filter(certificates::identifier.eq(identifier))
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()
}

/// The identifiers of a filing's certificates, by certificate id (one query for its list).
pub fn identifiers_of(
    conn: &mut PgConnection,
    filing: Uuid,
) -> QueryResult<std::collections::HashMap<Uuid, String>> {
    certificates::table
        .filter(certificates::filing_id.eq(filing))
        .select((certificates::id, certificates::identifier))
        .load::<(Uuid, String)>(conn)
        .map(|rows| rows.into_iter().collect())
}

pub fn certificate_by_id(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<CertificateRow>> {
    certificates::table
        .find(id)
        .select(CertificateRow::as_select())
        .first(conn)
        .optional()
}

pub fn events(conn: &mut PgConnection, certificate: Uuid) -> QueryResult<Vec<CertificateEvent>> {
    certificate_events::table
        .filter(certificate_events::certificate_id.eq(certificate))
        .order(certificate_events::id)
        .select(CertificateEvent::as_select())
        .load(conn)
}

/// The latest version of a filing's document, if it was issued before.
pub fn latest_version(
    conn: &mut PgConnection,
    filing: Uuid,
    code: &str,
) -> QueryResult<Option<(Uuid, i32)>> {
    documents::table
        .filter(documents::filing_id.eq(filing))
        .filter(documents::code.eq(code))
        .order(documents::version.desc())
        .select((documents::id, documents::version))
        .first(conn)
        .optional()
}

pub fn insert_document(conn: &mut PgConnection, d: &NewDocument) -> QueryResult<()> {
    diesel::insert_into(documents::table)
        .values(d)
        .execute(conn)
        .map(|_| ())
}

pub fn supersede_document(
    conn: &mut PgConnection,
    old: Uuid,
    new: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(documents::table.find(old))
        .set((
            documents::superseded_by.eq(new),
            documents::superseded_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn list(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Vec<DocumentMeta>> {
    documents::table
        .filter(documents::filing_id.eq(filing))
        .order(documents::seq)
        .select(DocumentMeta::as_select())
        .load(conn)
}

pub fn meta(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<DocumentMeta>> {
    documents::table
        .find(id)
        .select(DocumentMeta::as_select())
        .first(conn)
        .optional()
}

/// The document a certificate version was printed on.
pub fn of_certificate(
    conn: &mut PgConnection,
    certificate: Uuid,
) -> QueryResult<Option<DocumentMeta>> {
    documents::table
        .filter(documents::certificate_id.eq(certificate))
        .select(DocumentMeta::as_select())
        .first(conn)
        .optional()
}

pub fn pdf(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<Vec<u8>>> {
    documents::table
        .find(id)
        .select(documents::pdf)
        .first::<Option<Vec<u8>>>(conn)
        .optional()
        .map(Option::flatten)
}

/// A document still to render: its sheet and its certificate's identifier. `None` when it is
/// rendered already. No lock is taken: see [`store_render`].
pub fn pending_sheet(
    conn: &mut PgConnection,
    id: Uuid,
) -> QueryResult<Option<(DocumentMeta, Value, Option<String>)>> {
    let found: Option<(DocumentMeta, Value)> = documents::table
        .filter(documents::id.eq(id))
        .filter(documents::pdf.is_null())
        .select((DocumentMeta::as_select(), documents::sheet))
        .first(conn)
        .optional()?;
    let Some((meta, sheet)) = found else {
        return Ok(None);
    };
    let identifier = match meta.certificate_id {
        Some(c) => certificate_by_id(conn, c)?.map(|c| c.identifier),
        None => None,
    };
    Ok(Some((meta, sheet, identifier)))
}

/// Store a rendered file unless one was stored meanwhile: the first renderer's file stands (a
/// second waits for the first's row lock, then finds `pdf` set and writes nothing). Whether
/// this call stored it.
pub fn store_render(
    conn: &mut PgConnection,
    id: Uuid,
    file: &[u8],
    sha256: &str,
    signature: &str,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::update(documents::table.find(id).filter(documents::pdf.is_null()))
        .set((
            documents::pdf.eq(file),
            documents::sha256.eq(sha256),
            documents::seal_signature.eq(signature),
            documents::rendered_at.eq(at),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Documents issued but not rendered, oldest first.
pub fn pending(
    conn: &mut PgConnection,
    filing: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<Uuid>> {
    let mut q = documents::table
        .filter(documents::pdf.is_null())
        .select(documents::id)
        .order(documents::seq)
        .limit(limit)
        .into_boxed();
    if let Some(f) = filing {
        q = q.filter(documents::filing_id.eq(f));
    }
    q.load(conn)
}

/// A filing's number (for the seal record).
pub fn filing_number(conn: &mut PgConnection, filing: Uuid) -> QueryResult<Option<String>> {
    use crate::db::schema::filings;
    filings::table
        .find(filing)
        .select(filings::number)
        .first::<Option<String>>(conn)
        .optional()
        .map(Option::flatten)
}
