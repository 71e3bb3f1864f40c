//! The workspace-jobs example (the OpenRadius seed): its routes enqueue into the caller's
//! workspace, and the jobs they enqueue run there.

mod common;

#[allow(unreachable_pub)]
#[path = "../examples/workspace_jobs.rs"]
mod workspace_jobs;

use actix_web::{App, test};
use stoker::testing::drain;
use stoker::{JobId, JobState};

#[actix_rt::test]
async fn the_routes_enqueue_into_the_callers_workspace_and_the_jobs_run() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = workspace_jobs::stoker()
        .storage(common::backend::storage(dir.path()))
        .build()
        .unwrap();
    let service_stoker = stoker.clone();
    let app = test::init_service(
        App::new().configure(move |config| workspace_jobs::app(service_stoker, config)),
    )
    .await;
    let call = |method: test::TestRequest, path: &str, workspace: &str| {
        method
            .uri(path)
            .insert_header(("x-workspace", workspace))
            .peer_addr("127.0.0.1:9000".parse().unwrap())
            .to_request()
    };

    let cleanup: serde_json::Value = test::call_and_read_body_json(
        &app,
        call(test::TestRequest::post(), "/api/jobs/cleanup", "acme"),
    )
    .await;
    let cleanup: JobId = cleanup["jobId"].as_str().unwrap().parse().unwrap();
    let report: serde_json::Value = test::call_and_read_body_json(
        &app,
        call(
            test::TestRequest::post(),
            "/api/jobs/reports/7?delayMinutes=30",
            "acme",
        ),
    )
    .await;
    let report: JobId = report["jobId"].as_str().unwrap().parse().unwrap();
    let sync: serde_json::Value = test::call_and_read_body_json(
        &app,
        call(test::TestRequest::post(), "/api/jobs/sync/now", "globex"),
    )
    .await;
    let sync: JobId = sync["jobId"].as_str().unwrap().parse().unwrap();
    let recurring = test::call_service(
        &app,
        call(
            test::TestRequest::post(),
            "/api/jobs/sync/recurring",
            "acme",
        ),
    )
    .await;
    assert!(recurring.status().is_success());

    let acme = stoker.workspace("acme").await.unwrap();
    let globex = stoker.workspace("globex").await.unwrap();
    for (workspace, id) in [(&acme, cleanup), (&globex, sync)] {
        drain(workspace).await.unwrap();
        let ran = workspace.job(id).await.unwrap();
        assert_eq!(ran.summary.state, JobState::Succeeded);
    }
    let delayed = acme.job(report).await.unwrap();
    assert_eq!(delayed.summary.state, JobState::Scheduled);
    let wait = delayed.summary.run_at.unwrap() - delayed.summary.created_at;
    // Stored a moment after the delay was counted from (group commit), never later than due.
    assert!((1790..=1800).contains(&wait.num_seconds()), "{wait}");
    assert_eq!(delayed.args["report_id"], 7);
    assert!(
        globex.recurring("daily-sync").await.is_err(),
        "recurring jobs stay in their workspace"
    );
    assert_eq!(
        acme.recurring("daily-sync").await.unwrap().cron,
        "0 2 * * *"
    );

    // Stoker's own API is mounted beside the application's routes.
    let listed = test::TestRequest::get()
        .uri("/stoker/api/workspaces/acme/jobs")
        .peer_addr("127.0.0.1:9000".parse().unwrap())
        .to_request();
    let listed: serde_json::Value = test::call_and_read_body_json(&app, listed).await;
    assert_eq!(listed["total"], 2);

    // And its dashboard, whose links keep the application's prefix.
    let page = test::TestRequest::get()
        .uri("/stoker/dashboard/acme/jobs?state=scheduled")
        .peer_addr("127.0.0.1:9000".parse().unwrap())
        .to_request();
    let page = test::call_and_read_body(&app, page).await;
    let page = String::from_utf8_lossy(&page);
    assert!(
        page.contains(&format!("href=\"/stoker/dashboard/acme/jobs/{report}\"")),
        "{page}"
    );

    let removed = test::call_service(
        &app,
        call(
            test::TestRequest::delete(),
            "/api/jobs/recurring/daily-sync",
            "acme",
        ),
    )
    .await;
    assert_eq!(removed.status(), 204);
    let again = test::call_service(
        &app,
        call(
            test::TestRequest::delete(),
            "/api/jobs/recurring/daily-sync",
            "acme",
        ),
    )
    .await;
    assert_eq!(again.status(), 404);
    let missing = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/api/jobs/cleanup")
            .to_request(),
    )
    .await;
    assert_eq!(missing.status(), 400, "no workspace header");
    stoker.shutdown().await;
}
