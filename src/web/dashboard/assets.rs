//! The dashboard's stylesheet and script, compiled into the binary (no build step, nothing
//! fetched from elsewhere).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use actix_web::{HttpResponse, web};

const STYLESHEET: &str = include_str!("assets/dashboard.css");
const SCRIPT: &str = include_str!("assets/dashboard.js");

/// `/assets/{file}`.
pub(super) async fn serve(file: web::Path<String>) -> HttpResponse {
    let (body, content_type) = match file.as_str() {
        "dashboard.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "dashboard.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}
