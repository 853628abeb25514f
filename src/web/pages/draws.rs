//! The public page of the spot-check draws (双随机、一公开: the ratios are published, and so are
//! the results): no login, no personal data.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::{PageError, Ui, Viewer};
use crate::app::AppState;
use crate::services::draw::{self, DrawDetail, RatiosInForce};
use crate::services::paging::PageRequest;
use crate::web::extract::Query;

#[derive(Template)]
#[template(path = "pages/draws.html", config = "config/askama.toml")]
struct Draws {
    ui: Ui,
    rules: Vec<RatiosInForce>,
    draws: Vec<DrawDetail>,
    next: Option<String>,
    offset: chrono::FixedOffset,
}

impl Draws {
    /// A time in the office's zone, the zone said.
    fn local(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        format!(
            "{} {}",
            super::words::local_minute(*t, self.offset),
            super::words::zone(self.offset)
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawsQuery {
    pub cursor: Option<String>,
}

/// Draws a page shows.
const PER_PAGE: i64 = 20;

/// The ratios in force and the draws, newest first.
#[get("/draws")]
pub async fn index(
    state: web::Data<AppState>,
    mut v: Viewer,
    q: Query<DrawsQuery>,
) -> Result<HttpResponse, PageError> {
    let cursor = v.query(q)?.cursor;
    let (rules, draws, next) = v
        .run_public(&state, move |conn, ctx, _| {
            let page = PageRequest {
                limit: Some(PER_PAGE),
                offset: None,
                cursor,
            }
            .checked()?;
            let listed = draw::list(conn, &page)?;
            let draws = listed
                .items
                .iter()
                .map(|d| draw::get(conn, ctx, d.id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((draw::in_force(ctx)?, draws, listed.next))
        })
        .await?;
    v.render(
        StatusCode::OK,
        &Draws {
            ui: v.ui(),
            rules,
            draws,
            next,
            offset: state.offset,
        },
    )
}
