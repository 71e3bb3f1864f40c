//! Per-workspace jobs in an actix-web application, as the OpenRadius application does with
//! Hangfire, done with stoker: the application's own routes enqueue typed jobs into the
//! caller's workspace (named by the `X-Workspace` header), and stoker's dashboard and HTTP
//! API are mounted beside them under `/stoker` for operators.
//!
//! `cargo run --release --example workspace_jobs`, then for example:
//!
//! ```text
//! curl -X POST -H 'X-Workspace: acme' localhost:8081/api/jobs/cleanup
//! curl -X POST -H 'X-Workspace: acme' 'localhost:8081/api/jobs/reports/7?delayMinutes=30'
//! curl -X POST -H 'X-Workspace: acme' localhost:8081/api/jobs/sync/recurring
//! curl localhost:8081/stoker/api/workspaces/acme/jobs
//! ```
//!
//! and open `http://localhost:8081/stoker/dashboard/acme` in a browser.

use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use stoker::web::{Access, api, dashboard};
use stoker::{Cron, Job, JobContext, JobError, RecurringOptions, Stoker, Workspace};

/// Removes stale sessions of the workspace.
#[derive(Serialize, Deserialize)]
pub struct CleanupData {}

impl Job for CleanupData {
    const NAME: &'static str = "radius.cleanup";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        tracing::info!(workspace = ctx.workspace(), "cleaning up stale sessions");
        Ok(())
    }
}

/// Builds report `report_id`.
#[derive(Serialize, Deserialize)]
pub struct GenerateReport {
    /// Which report.
    pub report_id: u64,
}

impl Job for GenerateReport {
    const NAME: &'static str = "radius.generate_report";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        tracing::info!(
            workspace = ctx.workspace(),
            report = self.report_id,
            "report generated"
        );
        Ok(())
    }
}

/// Pulls data from the workspace's external systems.
#[derive(Serialize, Deserialize)]
pub struct SyncExternalData {}

impl Job for SyncExternalData {
    const NAME: &'static str = "radius.sync";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        tracing::info!(workspace = ctx.workspace(), "synchronised");
        Ok(())
    }
}

/// The runtime with this application's job types.
pub fn stoker() -> stoker::StokerBuilder {
    Stoker::builder()
        .register::<CleanupData>()
        .register::<GenerateReport>()
        .register::<SyncExternalData>()
}

/// The caller's workspace, from the `X-Workspace` header (a real application would take it
/// from the signed-in user).
async fn workspace(stoker: &Stoker, request: &HttpRequest) -> actix_web::Result<Workspace> {
    let name = request
        .headers()
        .get("x-workspace")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| actix_web::error::ErrorBadRequest("the X-Workspace header is missing"))?;
    stoker
        .workspace(name)
        .await
        .map_err(actix_web::error::ErrorBadRequest)
}

fn failed(error: stoker::Error) -> actix_web::Error {
    actix_web::error::ErrorInternalServerError(error)
}

async fn cleanup(
    stoker: web::Data<Stoker>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let id = workspace(&stoker, &request)
        .await?
        .enqueue(CleanupData {})
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Ok().json(json!({ "jobId": id })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportQuery {
    delay_minutes: Option<u64>,
}

async fn report(
    stoker: web::Data<Stoker>,
    request: HttpRequest,
    report_id: web::Path<u64>,
    query: web::Query<ReportQuery>,
) -> actix_web::Result<HttpResponse> {
    let delay = Duration::from_secs(60 * query.delay_minutes.unwrap_or(30));
    let job = GenerateReport {
        report_id: report_id.into_inner(),
    };
    let id = workspace(&stoker, &request)
        .await?
        .schedule(job, delay)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Ok().json(json!({ "jobId": id })))
}

async fn sync_recurring(
    stoker: web::Data<Stoker>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let workspace = workspace(&stoker, &request).await?;
    let job = stoker::NewJob::of(&SyncExternalData {});
    let options = RecurringOptions::default();
    workspace
        .add_or_update_recurring("daily-sync", job, &Cron::daily_at(2, 0), options)
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Ok().json(json!({ "recurringJobId": "daily-sync" })))
}

async fn sync_now(
    stoker: web::Data<Stoker>,
    request: HttpRequest,
) -> actix_web::Result<HttpResponse> {
    let id = workspace(&stoker, &request)
        .await?
        .enqueue(SyncExternalData {})
        .await
        .map_err(failed)?;
    Ok(HttpResponse::Ok().json(json!({ "jobId": id })))
}

async fn remove_recurring(
    stoker: web::Data<Stoker>,
    request: HttpRequest,
    id: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let workspace = workspace(&stoker, &request).await?;
    match workspace.remove_recurring(&id).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(stoker::Error::RecurringNotFound(_)) => Ok(HttpResponse::NotFound().finish()),
        Err(error) => Err(failed(error)),
    }
}

/// The application: its own job routes, and stoker's dashboard and API beside them under
/// `/stoker` (the dashboard's scope first: the API's would otherwise answer its paths).
pub fn app(stoker: Stoker, config: &mut web::ServiceConfig) {
    config
        .app_data(web::Data::new(stoker.clone()))
        .route("/api/jobs/cleanup", web::post().to(cleanup))
        .route("/api/jobs/reports/{id}", web::post().to(report))
        .route("/api/jobs/sync/recurring", web::post().to(sync_recurring))
        .route("/api/jobs/sync/now", web::post().to(sync_now))
        .route(
            "/api/jobs/recurring/{id}",
            web::delete().to(remove_recurring),
        )
        .service(
            web::scope("/stoker/dashboard")
                .configure(dashboard(stoker.clone(), Access::loopback())),
        )
        .service(web::scope("/stoker").configure(api(stoker, Access::loopback())));
}

#[allow(dead_code)]
#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().init();
    let stoker = stoker().build()?;
    let for_app = stoker.clone();
    HttpServer::new(move || {
        let stoker = for_app.clone();
        App::new().configure(move |config| app(stoker, config))
    })
    .bind(("127.0.0.1", 8081))?
    .run()
    .await?;
    stoker.shutdown().await;
    Ok(())
}
