//! The public verify page (核验): anyone, without signing in, enters a certificate identifier or
//! arrives from the QR code on a certificate or receipt, and sees its status, key fields
//! (personal data masked), the file's hash and whether its seal verifies.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::{PageError, Ui, Viewer};
use crate::app::AppState;
use crate::domain::Text;
use crate::error::AppError;
use crate::services::documents::{self, CertificateView, DocumentCheck};
use crate::web::extract::Query;

#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    pub id: Option<String>,
    pub document: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/verify.html", config = "config/askama.toml")]
struct VerifyPage {
    ui: Ui,
    entered: String,
    error: Option<Text>,
    certificate: Option<CertificateView>,
    document: Option<DocumentCheck>,
    fields: Vec<(String, String)>,
    offset: chrono::FixedOffset,
}

impl VerifyPage {
    fn badge(&self) -> &'static str {
        match &self.certificate {
            Some(c) if c.in_force => "green",
            Some(c) if c.status == crate::domain::certificate::CertStatus::Suspended => "yellow",
            _ => "red",
        }
    }

    /// A time in the authority's zone.
    fn local(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        t.with_timezone(&self.offset)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// Look a certificate (`?id=`) or a document (`?document=`) up. A malformed identifier is
/// shown next to the field (400), an unknown one says so (404): the page, never an error page.
#[get("/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<VerifyQuery>,
) -> Result<HttpResponse, PageError> {
    let q = v.query(q)?;
    v.identify(&state).await?;
    let mut page = VerifyPage {
        ui: v.ui(),
        entered: q.id.clone().unwrap_or_default(),
        error: None,
        certificate: None,
        document: None,
        fields: Vec::new(),
        offset: state.offset,
    };
    let mut status = StatusCode::OK;
    let looked_up = match (q.id.filter(|s| !s.trim().is_empty()), q.document) {
        (Some(id), _) => Some(
            state
                .run(move |conn, ctx| documents::certificate(conn, ctx, id.trim()).map(Ok))
                .await,
        ),
        (None, Some(doc)) => match uuid::Uuid::parse_str(doc.trim()) {
            Ok(doc) => Some(
                state
                    .run(move |conn, ctx| documents::document_check(conn, ctx, doc).map(Err))
                    .await,
            ),
            Err(_) => Some(Err(AppError::NoSuch(Text {
                zh: "文书核验码格式不正确".into(),
                en: "The document's verification code is malformed".into(),
            }))),
        },
        (None, None) => None,
    };
    match looked_up {
        None => {}
        Some(Ok(Ok(c))) => {
            page.fields = c
                .fields
                .iter()
                .map(|f| (f.label.clone(), f.value.clone()))
                .collect();
            page.certificate = Some(c);
        }
        Some(Ok(Err(d))) => page.document = Some(d),
        Some(Err(e)) => {
            status = actix_web::ResponseError::status_code(&e);
            match e {
                AppError::BadRequest(m, _) | AppError::NoSuch(m) => page.error = Some(m),
                other => return Err(PageError::from_app(&v, other)),
            }
        }
    }
    v.render(status, &page)
}
