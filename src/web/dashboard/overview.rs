//! The workspace picker, a workspace's overview (counts, queues, the live graph and the
//! history graphs) and the counts the live graph polls.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::page::{self, Frame, PageError};
use super::viewer::Viewer;
use crate::{Granularity, HistoryPoint, Stats, Stoker};

#[derive(Template)]
#[template(path = "workspaces.html")]
struct WorkspacesPage {
    frame: Frame,
    names: Vec<String>,
}

/// The workspaces the viewer may see.
pub(super) async fn workspaces(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
) -> Result<HttpResponse, PageError> {
    let names = stoker
        .workspace_names()
        .into_iter()
        .filter(|name| viewer.caller.reaches(name))
        .collect();
    viewer.page(&WorkspacesPage {
        frame: viewer.frame(None, "workspaces"),
        names,
    })
}

/// One count on the overview, linking to its list.
struct Count {
    label: &'static str,
    key: &'static str,
    value: u64,
    link: String,
}

/// A bar chart of succeeded and failed jobs, laid out for an SVG 100 units high.
struct Chart {
    bars: Vec<Bar>,
    peak: u64,
}

struct Bar {
    x: usize,
    succeeded_height: f64,
    failed_height: f64,
    label: String,
    succeeded: u64,
    failed: u64,
}

/// Bar width plus gap, in SVG units.
const BAR_STEP: usize = 10;

impl Chart {
    fn of(points: &[HistoryPoint], label: fn(&HistoryPoint) -> String) -> Chart {
        let peak = points
            .iter()
            .map(|point| point.succeeded + point.failed)
            .max()
            .unwrap_or(0);
        let scale = |value: u64| match peak {
            0 => 0.0,
            peak => value as f64 * 100.0 / peak as f64,
        };
        let bars = points
            .iter()
            .enumerate()
            .map(|(index, point)| Bar {
                x: index * BAR_STEP,
                succeeded_height: scale(point.succeeded),
                failed_height: scale(point.failed),
                label: label(point),
                succeeded: point.succeeded,
                failed: point.failed,
            })
            .collect();
        Chart { bars, peak }
    }

    fn width(&self) -> usize {
        self.bars.len().max(1) * BAR_STEP
    }
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    counts: Vec<Count>,
    stats: Stats,
    charts: Vec<(&'static str, Chart)>,
}

/// A workspace at a glance.
pub(super) async fn overview(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let workspace = viewer.readable(&stoker, &ws).await?;
    let failing = |error| viewer.error(error);
    let stats = workspace.stats().await.map_err(failing)?;
    let hours = workspace
        .history(Granularity::Hour)
        .await
        .map_err(failing)?;
    let days = workspace.history(Granularity::Day).await.map_err(failing)?;
    let frame = viewer.frame(Some(&ws), "overview");
    let counts = counts(&stats, &frame);
    viewer.page(&OverviewPage {
        counts,
        stats,
        charts: vec![
            (
                "Last 24 hours",
                Chart::of(&hours, |point| point.at.format("%H:00").to_string()),
            ),
            (
                "Last 30 days",
                Chart::of(&days, |point| point.at.format("%d %b").to_string()),
            ),
        ],
        frame,
    })
}

fn counts(stats: &Stats, frame: &Frame) -> Vec<Count> {
    let jobs = |state: &str| format!("{}/jobs?state={state}", frame.ws_path());
    let count = |label, key, value, link| Count {
        label,
        key,
        value,
        link,
    };
    vec![
        count("Enqueued", "enqueued", stats.enqueued, jobs("enqueued")),
        count("Scheduled", "scheduled", stats.scheduled, jobs("scheduled")),
        count(
            "Processing",
            "processing",
            stats.processing,
            jobs("processing"),
        ),
        count("Succeeded", "succeeded", stats.succeeded, jobs("succeeded")),
        count("Failed", "failed", stats.failed, jobs("failed")),
        count("Deleted", "deleted", stats.deleted, jobs("deleted")),
        count("Awaiting", "awaiting", stats.awaiting, jobs("awaiting")),
        count(
            "Retries",
            "retries",
            stats.retries,
            format!("{}/retries", frame.ws_path()),
        ),
        count(
            "Recurring",
            "recurring",
            stats.recurring,
            format!("{}/recurring", frame.ws_path()),
        ),
        count(
            "Servers",
            "servers",
            stats.servers,
            format!("{}/servers", frame.ws_path()),
        ),
    ]
}

/// The counts, for the live graph and the overview's refresh.
pub(super) async fn live(
    stoker: web::Data<Stoker>,
    viewer: Viewer,
    ws: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let workspace = viewer.readable(&stoker, &ws).await?;
    let stats = workspace
        .stats()
        .await
        .map_err(|error| viewer.error(error))?;
    let mut response = HttpResponse::Ok();
    page::headers(&mut response);
    Ok(response.json(stats))
}
