//! Which methods each route answers: the `Allow` header of a 405, and `HEAD` wherever `GET`.
//!
//! A route is registered with its method as a guard (`#[get("…")]`), so a request whose path
//! matches a route but whose method does not falls through the router to the default service.
//! There the router's own map says whether any route has that path
//! ([`actix_web::dev::ResourceMap::match_pattern`], which ignores guards): if one does, the
//! answer is 405 with the methods from [`methods`], else 404.
//!
//! The table is the API's OpenAPI document (every API operation is in it; the contract tests
//! hold it to the routes) and [`crate::web::pages::ROUTES`] with the few routes outside both
//! (`tests/api/service.rs` holds both lists to the route attributes in the source).

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use utoipa::OpenApi;

/// Routes outside the API document and the pages: health, the published key, the API
/// document and its viewer, and `/metrics` (where it is served on the service's address).
pub const OTHER_ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/.well-known/permits-seal.pem"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs/{_:.*}"),
];

/// The API's routes sit under this prefix (the OpenAPI document's server).
pub const API_PREFIX: &str = "/api/v1";

/// A route pattern with its parameters' names (and regular expressions) dropped:
/// `/filings/{id}/materials/{material}` and `/filings/{id}/materials/{material_id}` are the
/// same path to the router.
pub fn shape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    for c in pattern.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push_str("{}");
                }
                depth += 1;
            }
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Every route's methods, by [`shape`], `HEAD` included wherever `GET` is, in the order an
/// `Allow` header lists them.
pub fn table() -> &'static HashMap<String, Vec<Method>> {
    static TABLE: OnceLock<HashMap<String, Vec<Method>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: HashMap<String, Vec<Method>> = HashMap::new();
        let mut add = |method: &str, pattern: &str| {
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                return;
            };
            let methods = table.entry(shape(pattern)).or_default();
            if !methods.contains(&method) {
                methods.push(method);
            }
        };
        let doc = crate::web::api::ApiDoc::openapi();
        for (path, item) in &doc.paths.paths {
            let full = format!("{API_PREFIX}{path}");
            let operations = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            for (method, present) in operations {
                if present {
                    add(method, &full);
                }
            }
        }
        for (method, pattern) in crate::web::pages::ROUTES.iter().chain(OTHER_ROUTES) {
            add(method, pattern);
        }
        for methods in table.values_mut() {
            if methods.contains(&Method::GET) {
                methods.push(Method::HEAD);
            }
            methods.sort_by_key(|m| {
                ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
                    .iter()
                    .position(|o| *o == m.as_str())
            });
        }
        table
    })
}

/// The `Allow` header for a route pattern the router matched; `None` for a pattern missing
/// from the table (a route added without its entry: the tests catch that).
pub fn methods(pattern: &str) -> Option<String> {
    table().get(&shape(pattern)).map(|methods| {
        methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// Middleware: a `HEAD` request is routed as the `GET` of the same path (RFC 9110 §9.3.2: the
/// same headers, no body). The connection still knows it was `HEAD` and sends no body.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_drop_parameter_names_and_expressions() {
        assert_eq!(
            shape("/filings/{id}/materials/{material_id}"),
            shape("/filings/{x}/materials/{material}")
        );
        assert_eq!(shape("/api/docs/{_:.*}"), "/api/docs/{}");
        assert_eq!(shape("/dashboard/work.{ext}"), "/dashboard/work.{}");
        assert_eq!(shape("/queue"), "/queue");
    }

    #[test]
    fn the_table_merges_the_api_and_the_pages_with_head_beside_get() {
        assert_eq!(
            methods("/api/v1/filings").as_deref(),
            Some("GET, HEAD, POST")
        );
        assert_eq!(
            methods("/api/v1/filings/{whatever}").as_deref(),
            Some("GET, HEAD, PATCH")
        );
        // Two API routes of the same shape: upload (POST) and remove (DELETE).
        assert_eq!(
            methods("/api/v1/filings/{id}/materials/{m}").as_deref(),
            Some("POST, DELETE")
        );
        assert_eq!(methods("/login").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(methods("/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(methods("/nowhere"), None);
    }
}
