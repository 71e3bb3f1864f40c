//! Health, statistics, history, servers, and the cron preview.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::access::Caller;
use super::error::{ApiError, ErrorBody};
use super::open_workspace;
use crate::schedule::next_occurrences;
use crate::{Error, Granularity, Stats, Stoker};

/// Says the server is up.
#[utoipa::path(get, operation_id = "health", path = "/healthz", responses((status = 200, body = Object, description = "`{\"status\": \"ok\"}`")))]
pub(super) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Jobs per state and queue, totals, recurring jobs and servers.
#[utoipa::path(get, operation_id = "stats", path = "/api/workspaces/{ws}/stats", params(("ws" = String, Path)),
    responses((status = 200, body = Stats, description = "jobs per state and queue, totals, recurring jobs and servers"), (status = 404, body = ErrorBody)))]
pub(super) async fn stats(
    stoker: web::Data<Stoker>,
    caller: Caller,
    ws: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.may_read(&ws)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    Ok(HttpResponse::Ok().json(workspace.stats().await?))
}

/// `hour` (the last 24 hours) or `day` (the last 30 days).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryQuery {
    granularity: Option<String>,
}

/// Succeeded and failed jobs per hour or day.
#[utoipa::path(get, operation_id = "history", path = "/api/workspaces/{ws}/history", params(("ws" = String, Path), HistoryQuery),
    responses((status = 200, body = Object, description = "`{\"points\": [HistoryPoint, ...]}`"), (status = 400, body = ErrorBody)))]
pub(super) async fn history(
    stoker: web::Data<Stoker>,
    caller: Caller,
    ws: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.may_read(&ws)?;
    let granularity = match query.granularity.as_deref().unwrap_or("hour") {
        "hour" => Granularity::Hour,
        "day" => Granularity::Day,
        other => {
            return Err(ApiError::bad_request(format!(
                "granularity `{other}`: use hour or day"
            )));
        }
    };
    let workspace = open_workspace(&stoker, &ws).await?;
    let points = workspace.history(granularity).await?;
    Ok(HttpResponse::Ok().json(json!({ "points": points })))
}

/// The servers working the workspace.
#[utoipa::path(get, operation_id = "servers", path = "/api/workspaces/{ws}/servers", params(("ws" = String, Path)),
    responses((status = 200, body = Object, description = "`{\"servers\": [ServerInfo, ...]}`")))]
pub(super) async fn servers(
    stoker: web::Data<Stoker>,
    caller: Caller,
    ws: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.may_read(&ws)?;
    let workspace = open_workspace(&stoker, &ws).await?;
    Ok(HttpResponse::Ok().json(json!({ "servers": workspace.servers().await? })))
}

/// A cron expression to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct CronQuery {
    expression: String,
    time_zone: Option<String>,
    after: Option<DateTime<Utc>>,
    count: Option<usize>,
}

/// The next occurrences of a cron expression in a zone, as UTC times.
#[utoipa::path(get, operation_id = "cron_next", path = "/api/cron/next", params(CronQuery),
    responses((status = 200, body = Object, description = "`{\"occurrences\": [time, ...]}`"), (status = 400, body = ErrorBody)))]
pub(super) async fn cron_next(
    _: Caller,
    query: web::Query<CronQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let count = query.count.unwrap_or(5);
    if !(1..=100).contains(&count) {
        return Err(ApiError::bad_request("`count` must be between 1 and 100"));
    }
    let zone = query.time_zone.as_deref().unwrap_or("UTC");
    let after = query.after.unwrap_or_else(Utc::now);
    let occurrences =
        next_occurrences(&query.expression, zone, after, count).map_err(Error::from)?;
    Ok(HttpResponse::Ok().json(json!({ "occurrences": occurrences })))
}
