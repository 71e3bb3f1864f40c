//! The dashboard: server-rendered pages where operators watch and steer jobs, workspace by
//! workspace. An application mounts it under a prefix of its choosing (the standalone server
//! at `/dashboard`):
//!
//! ```no_run
//! # async fn run(stoker: stoker::Stoker) -> std::io::Result<()> {
//! use actix_web::{App, HttpServer, web};
//! use stoker::web::{Access, dashboard};
//!
//! HttpServer::new(move || {
//!     App::new().service(web::scope("/dashboard").configure(dashboard(stoker.clone(), Access::loopback())))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```
//!
//! The pages follow the API's access rules ([`Access`]), foreign origins refused even where
//! the application lets them reach the API; with tokens, a browser signs in once and keeps
//! the token in a cookie. Pages read without JavaScript; a small script of our own
//! refreshes counts and draws the live graph. Every action is a form POST carrying a CSRF token
//! (a double-submit cookie); a read-only server shows no action and refuses every POST.
//! Templates escape everything they print, job arguments and errors included.

mod assets;
mod csrf;
mod format;
mod jobs;
mod overview;
mod page;
mod recurring;
mod servers;
mod viewer;

use actix_web::web;

use super::Access;
use crate::Stoker;

/// The name of the dashboard's root resource, from which every link is derived.
const ROOT: &str = "stoker-dashboard";

/// The dashboard's routes, for `Scope::configure` under the prefix the application chooses.
pub fn dashboard(stoker: Stoker, access: Access) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(stoker))
            .app_data(web::Data::new(access.refusing_cross_origin()))
            .app_data(web::FormConfig::default().limit(page::FORM_LIMIT))
            .service(
                web::resource("")
                    .name(ROOT)
                    .route(web::get().to(overview::workspaces)),
            )
            .route("/", web::get().to(overview::workspaces))
            .route("/assets/{file}", web::get().to(assets::serve))
            .route("/login", web::get().to(viewer::login_form))
            .route("/login", web::post().to(viewer::login))
            .route("/logout", web::post().to(viewer::logout))
            .service(
                web::scope("/{ws}")
                    .configure(workspace_pages)
                    .default_service(web::to(page::not_found)),
            )
            .default_service(web::to(page::not_found));
    }
}

fn workspace_pages(config: &mut web::ServiceConfig) {
    config
        .route("", web::get().to(overview::overview))
        .route("/live", web::get().to(overview::live))
        .route("/jobs", web::get().to(jobs::list))
        .route("/jobs", web::post().to(jobs::bulk))
        .route("/jobs/{id}", web::get().to(jobs::detail))
        .route("/jobs/{id}", web::post().to(jobs::act))
        .route("/retries", web::get().to(jobs::retries))
        .route("/recurring", web::get().to(recurring::list))
        .route("/recurring", web::post().to(recurring::bulk))
        .route("/servers", web::get().to(servers::list));
}
