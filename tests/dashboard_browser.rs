//! The dashboard in a real browser (headless chromium): an operator watches counts change as
//! jobs run, opens a failed job and requeues it, searches by an args value, triggers and
//! pauses a recurring job; markup in job arguments never runs; a job's page fits a phone's
//! width; a read-only server shows no button and refuses a POST forged from the page. The
//! pages' content policy lets their own script, stylesheet and forms work.
//! Screenshots land in `target/tmp/screenshots/` for people to look at.

mod common;

use common::backend;
use common::browser::Browser;
use common::server::Server;
use common::{PATIENCE, wait_for};
use serde_json::json;

/// Markup that would set `window.owned` if it ever ran.
const HOSTILE: &str = "<img src=x onerror=\"window.owned=1\"><script>window.owned=2</script>";

/// A job of type `fail` that fails for good with `message`.
async fn failed_job(server: &Server, message: &str) -> String {
    let body = json!({"type": "fail", "args": {"times": 100, "message": message},
        "retry": {"attempts": 0}});
    let created = server.post("/api/workspaces/default/jobs", body).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    server.wait_for_job("default", &id, "failed").await;
    id
}

#[actix_rt::test]
async fn an_operator_watches_and_steers_jobs_in_the_browser() {
    let server = Server::start(&[]).await;
    let hostile = failed_job(&server, HOSTILE).await;
    let invoice = failed_job(&server, "invoice-4711").await;
    let recurring = json!({"type": "noop", "cron": "0 2 * * *", "time_zone": "Europe/Paris"});
    let put = server
        .put("/api/workspaces/default/recurring/nightly", recurring)
        .await;
    assert_eq!(put.status, 200);
    let browser = Browser::start().await;
    let dashboard = format!("{}/dashboard/default", server.base);

    browser.open(&dashboard).await;
    assert_eq!(browser.text("[data-stat=succeeded]").await, "0");
    let styled = browser
        .run("return [...document.styleSheets].some(sheet => sheet.cssRules.length > 0)")
        .await;
    assert_eq!(styled, true, "the content policy lets the stylesheet in");
    for _ in 0..3 {
        let created = server
            .post("/api/workspaces/default/jobs", json!({"type": "noop"}))
            .await;
        assert_eq!(created.status, 201);
    }
    browser.wait_for_text("[data-stat=succeeded]", "3").await;
    wait_for("the live graph to draw", PATIENCE, || async {
        (browser.count("#live-graph polyline").await == 2).then_some(())
    })
    .await;
    browser.screenshot("overview").await;

    browser.click(".count-failed a").await;
    browser.click(&format!("a[href$='/jobs/{hostile}']")).await;
    browser.wait_for_text("h1", &format!("Job {hostile}")).await;
    assert!(
        browser.text("pre.args").await.contains("<script>"),
        "shown as text"
    );
    assert_eq!(browser.run("return window.owned === undefined").await, true);
    browser.screenshot("job-detail").await;
    browser.click("button[value=requeue]").await;
    browser
        .wait_for_text(".notice", &format!("Requeued job {hostile}."))
        .await;

    browser
        .open(&format!("{dashboard}/jobs?state=failed"))
        .await;
    let search = browser.element("input[name=search]").await;
    search.send_keys("invoice-4711").await.unwrap();
    browser.click(".filters button").await;
    browser
        .wait_for_text("p.quiet", "matching “invoice-4711”")
        .await;
    assert_eq!(
        browser.count(&format!("a[href$='/jobs/{invoice}']")).await,
        1
    );
    assert_eq!(browser.count("table.jobs tbody tr").await, 1);

    browser.open(&format!("{dashboard}/recurring")).await;
    assert!(
        browser
            .text("#recurring-nightly")
            .await
            .contains("daily at 02:00")
    );
    browser.click("button[value='trigger nightly']").await;
    browser.wait_for_text(".notice", "Triggered nightly.").await;
    browser.click("button[value='pause nightly']").await;
    browser
        .wait_for_text("#recurring-nightly .paused-marker", "paused")
        .await;
    browser.screenshot("recurring").await;
    let paused = server
        .get("/api/workspaces/default/recurring/nightly")
        .await;
    assert_eq!(paused.body["paused"], true);

    browser.client.set_window_size(390, 844).await.unwrap();
    browser.open(&format!("{dashboard}/jobs/{hostile}")).await;
    let overflow = browser
        .run("return document.documentElement.scrollWidth > window.innerWidth + 1")
        .await;
    assert_eq!(overflow, false, "a phone-wide page scrolls sideways");
    browser.screenshot("job-detail-phone").await;
    browser.close().await;
}

#[actix_rt::test]
async fn a_read_only_dashboard_shows_no_button_and_refuses_a_forged_post() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let writable = Server::start_on(&storage, &[]).await;
    let id = failed_job(&writable, "boom").await;
    drop(writable);
    let server = Server::start_on(&storage, &["--read-only"]).await;
    let browser = Browser::start().await;
    let page = format!("{}/dashboard/default/jobs/{id}", server.base);

    browser.open(&page).await;
    browser.wait_for_text("h1", &format!("Job {id}")).await;
    assert_eq!(browser.count("button").await, 0);
    let forged = browser
        .run(&format!(
            "return fetch('{page}', {{method: 'POST', headers: {{'content-type': \
             'application/x-www-form-urlencoded'}}, body: 'action=requeue'}}).then(r => r.status)"
        ))
        .await;
    assert_eq!(forged, 403);
    let job = server
        .get(&format!("/api/workspaces/default/jobs/{id}"))
        .await;
    assert_eq!(job.body["state"], "failed");
    browser.close().await;
}
