//! The servers working a workspace, with a marker on those silent past the server timeout.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::format;
use super::page::{Frame, PageError};
use super::viewer::Viewer;
use crate::Stoker;

struct Row {
    id: String,
    workers: u32,
    queues: String,
    started: String,
    started_ago: String,
    heartbeat: String,
    heartbeat_ago: String,
    possibly_dead: bool,
}

#[derive(Template)]
#[template(path = "servers.html")]
struct ServersPage {
    frame: Frame,
    rows: Vec<Row>,
    timeout_seconds: u64,
}

/// The servers that announced themselves in the workspace.
pub(super) async fn list(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let workspace = viewer.readable(&stoker, &ws).await?;
    let servers = workspace
        .servers()
        .await
        .map_err(|error| viewer.error(error))?;
    let now = stoker.now();
    let timeout = stoker.server_timeout();
    let silent_since = now - chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
    let rows = servers
        .iter()
        .map(|server| Row {
            id: server.id.clone(),
            workers: server.workers,
            queues: server.queues.join(", "),
            started: format::time(server.started_at),
            started_ago: format::relative(server.started_at, now),
            heartbeat: format::time(server.heartbeat_at),
            heartbeat_ago: format::relative(server.heartbeat_at, now),
            possibly_dead: server.heartbeat_at < silent_since,
        })
        .collect();
    viewer.page(&ServersPage {
        frame: viewer.frame(Some(&ws), "servers"),
        rows,
        timeout_seconds: timeout.as_secs(),
    })
}
