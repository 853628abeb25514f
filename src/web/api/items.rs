//! The item catalogue and each item's service guide (办事指南).

use actix_web::{HttpResponse, get, web};
use serde::Serialize;

use crate::app::AppState;
use crate::domain::definition::{Definition, Field, Limits, Material, State};
use crate::domain::{Lang, Text};
use crate::error::AppError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemSummary {
    pub code: String,
    pub version: i32,
    pub name: Text,
    pub department: String,
    pub limits: Limits,
}

/// The guide of one item: conditions, materials, fields, limits, basis, steps.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemGuide {
    pub code: String,
    pub version: i32,
    pub name: Text,
    pub department: String,
    pub basis: Vec<Text>,
    pub conditions: Vec<Text>,
    pub fees: Option<Text>,
    pub limits: Limits,
    pub materials: Vec<Material>,
    pub fields: Vec<Field>,
    /// Rules between two fields (a completion date not before the start, …).
    pub relations: Vec<crate::domain::definition::Relation>,
    /// The item's settings as in force here (the region's rules applied): thresholds, shares,
    /// notice lengths.
    #[schema(value_type = Object)]
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
    pub states: Vec<State>,
    pub actions: Vec<GuideAction>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GuideAction {
    pub code: String,
    pub label: Text,
    pub from: Vec<String>,
    pub to: Option<String>,
    pub roles: Vec<crate::domain::definition::Role>,
}

fn guide(def: &Definition, version: i32) -> ItemGuide {
    ItemGuide {
        code: def.code.clone(),
        version,
        name: def.name.clone(),
        department: def.department.clone(),
        basis: def.basis.clone(),
        conditions: def.conditions.clone(),
        fees: def.fees.clone(),
        limits: def.limits.clone(),
        materials: def.materials.clone(),
        fields: def.fields.clone(),
        relations: def.relations.clone(),
        settings: def.settings.clone(),
        states: def.states.clone(),
        actions: def
            .actions
            .iter()
            .map(|a| GuideAction {
                code: a.code.clone(),
                label: a.label.clone(),
                from: a.from.clone(),
                to: a.to.clone(),
                roles: a.roles.clone(),
            })
            .collect(),
    }
}

/// Every item with its newest version. Public.
#[utoipa::path(tag = "items", responses((status = 200, body = [ItemSummary])))]
#[get("/items")]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let items: Vec<ItemSummary> = state
        .items
        .all_latest()
        .iter()
        .map(|i| ItemSummary {
            code: i.def.code.clone(),
            version: i.version,
            name: i.def.name.clone(),
            department: i.def.department.clone(),
            limits: i.def.limits.clone(),
        })
        .collect();
    HttpResponse::Ok().json(items)
}

/// One item's service guide. Public.
#[utoipa::path(tag = "items", params(("code" = String, Path, example = "construction-permit")), responses((status = 200, body = ItemGuide), (status = 404)))]
#[get("/items/{code}")]
pub async fn get(
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let item = state.items.latest(&code).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(guide(&item.def, item.version)))
}

/// The item's state machine as a Mermaid diagram (text/plain). Public.
#[utoipa::path(tag = "items", params(("code" = String, Path, example = "construction-permit")), responses((status = 200, content_type = "text/plain"), (status = 404)))]
#[get("/items/{code}/graph")]
pub async fn graph(
    state: web::Data<AppState>,
    code: web::Path<String>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, AppError> {
    let item = state.items.latest(&code).ok_or(AppError::NotFound)?;
    let lang: Lang = crate::error::lang_of(&req);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(crate::domain::graph::mermaid(&item.def, lang)))
}
