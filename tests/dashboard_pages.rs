//! The dashboard over real HTTP, against the `stoker` binary: pages show what the API knows,
//! actions work through forms with their CSRF token and not without, a read-only server shows
//! and takes no action, tokens decide who sees which workspace, and nothing from job arguments
//! or errors reaches a page unescaped. Pages of other sites and rebinding names are refused;
//! every page tells the browser to run only the dashboard's own code and never in a frame.

mod common;

use common::backend;
use common::pages::Pages;
use common::server::Server;
use common::wait_for;
use serde_json::json;

const SCRIPT: &str = "<script>alert('owned')</script>";
const ALPHA: &str = "alpha-0123456789abcdef";

/// A job of type `fail` that fails every run with `message`, with no retry.
async fn failed_job(server: &Server, ws: &str, message: &str) -> String {
    let body = json!({"type": "fail", "args": {"times": 100, "message": message},
        "retry": {"attempts": 0}});
    let created = server
        .post(&format!("/api/workspaces/{ws}/jobs"), body)
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    server.wait_for_job(ws, &id, "failed").await;
    id
}

#[actix_rt::test]
async fn a_failed_job_is_shown_escaped_and_requeued_from_its_page() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let id = failed_job(&server, "default", SCRIPT).await;

    let page = pages.get(&format!("/dashboard/default/jobs/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(!page.html.contains(SCRIPT), "args or error printed raw");
    assert!(
        page.html.contains("&#60;script&#62;alert("),
        "{}",
        page.html
    );
    assert!(page.html.contains("value=\"requeue\""));

    let done = pages
        .submit(
            &format!("/dashboard/default/jobs/{id}"),
            &[("action", "requeue")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let back = done.location.unwrap();
    assert_eq!(back, format!("/dashboard/default/jobs/{id}"));
    let details = server
        .get(&format!("/api/workspaces/default/jobs/{id}"))
        .await;
    let states: Vec<_> = details.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["state"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        states.contains(&"enqueued".to_owned()) && states.len() > 3,
        "{states:?}"
    );
    let after = pages.get(&back).await;
    assert!(
        after.html.contains(&format!("Requeued job {id}.")),
        "{}",
        after.html
    );
    let again = pages.get(&back).await;
    assert!(
        !again.html.contains("Requeued job"),
        "the notice shows once"
    );
}

#[actix_rt::test]
async fn an_action_without_the_csrf_token_or_from_another_site_changes_nothing() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let id = failed_job(&server, "default", "boom").await;
    let path = format!("/dashboard/default/jobs/{id}");
    pages.get(&path).await;

    let forged = pages.post_form(&path, &[("action", "delete")]).await;
    assert_eq!(forged.status, 403, "{}", forged.html);
    let wrong = pages
        .post_form(&path, &[("csrf", &"0".repeat(32)), ("action", "delete")])
        .await;
    assert_eq!(wrong.status, 403);
    let cross_site = pages
        .submit_from(Some("http://evil.example"), &path, &[("action", "delete")])
        .await;
    assert_eq!(cross_site.status, 403, "{}", cross_site.html);
    let job = server
        .get(&format!("/api/workspaces/default/jobs/{id}"))
        .await;
    assert_eq!(job.body["state"], "failed");
    let stranger = Pages::new(&server.base);
    stranger.get("/dashboard/").await;
    let other_browser = stranger
        .submit_from(Some(&server.base), &path, &[("action", "delete")])
        .await;
    assert_eq!(other_browser.status, 303, "a browser's own token works");
    server.wait_for_job("default", &id, "deleted").await;
}

#[actix_rt::test]
async fn a_read_only_server_shows_no_action_and_refuses_a_forged_post() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let writable = Server::start_on(&storage, &[]).await;
    let id = failed_job(&writable, "default", "boom").await;
    drop(writable);
    let server = Server::start_on(&storage, &["--read-only"]).await;
    let pages = Pages::new(&server.base);

    for path in [
        format!("/dashboard/default/jobs/{id}"),
        "/dashboard/default/jobs?state=failed".to_owned(),
        "/dashboard/default/recurring".to_owned(),
        "/dashboard/default/retries".to_owned(),
    ] {
        let page = pages.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.html);
        assert!(!page.has_actions(), "{path} offers an action");
    }
    let forged = pages
        .submit(
            &format!("/dashboard/default/jobs/{id}"),
            &[("action", "requeue")],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.html);
    assert!(forged.html.contains("read-only"), "{}", forged.html);
    let job = server
        .get(&format!("/api/workspaces/default/jobs/{id}"))
        .await;
    assert_eq!(job.body["state"], "failed");
}

#[actix_rt::test]
async fn the_list_finds_a_job_by_an_args_value_and_filters_by_queue() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let jobs = "/api/workspaces/default/jobs";
    let mut ids = Vec::new();
    for (queue, message) in [
        ("mail", "invoice-4711"),
        ("mail", "welcome"),
        ("sms", "invoice-9"),
    ] {
        let body = json!({"type": "fail", "queue": queue, "delay_seconds": 3600,
            "args": {"times": 1, "message": message}});
        let created = server.post(jobs, body).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }

    let found = pages
        .get("/dashboard/default/jobs?state=scheduled&search=invoice-4711")
        .await;
    assert_eq!(found.status, 200);
    assert!(found.html.contains(&format!("/jobs/{}\"", ids[0])));
    assert!(!found.html.contains(&format!("/jobs/{}\"", ids[1])));
    assert!(found.html.contains("1 scheduled job(s)"), "{}", found.html);

    let sms = pages
        .get("/dashboard/default/jobs?state=scheduled&queue=sms&search=")
        .await;
    assert!(sms.html.contains(&format!("/jobs/{}\"", ids[2])));
    assert!(!sms.html.contains(&format!("/jobs/{}\"", ids[0])));

    let ticked: Vec<(&str, &str)> = ids[..2].iter().map(|id| ("id", id.as_str())).collect();
    let mut fields = vec![
        ("action", "enqueue"),
        ("back", "/dashboard/default/retries"),
    ];
    fields.extend(ticked);
    pages.get("/dashboard/default/jobs?state=scheduled").await;
    let done = pages.submit("/dashboard/default/jobs", &fields).await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location.as_deref(), Some("/dashboard/default/retries"));
    for id in &ids[..2] {
        wait_for("enqueued now", common::PATIENCE, || async {
            let job = server.get(&format!("{jobs}/{id}")).await;
            (job.body["state"] != "scheduled").then_some(())
        })
        .await;
    }
    let still = server.get(&format!("{jobs}/{}", ids[2])).await;
    assert_eq!(still.body["state"], "scheduled");
}

#[actix_rt::test]
async fn recurring_jobs_read_in_words_and_are_triggered_and_paused_from_the_page() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let put = server
        .put(
            "/api/workspaces/default/recurring/nightly-report",
            json!({"type": "noop", "cron": "0 2 * * *", "time_zone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(put.status, 200, "{:?}", put.body);

    let page = pages.get("/dashboard/default/recurring").await;
    assert!(page.html.contains("daily at 02:00"), "{}", page.html);
    assert!(page.html.contains("Europe/Paris"));

    let triggered = pages
        .submit(
            "/dashboard/default/recurring",
            &[("act", "trigger nightly-report")],
        )
        .await;
    assert_eq!(triggered.status, 303);
    let job = wait_for("the triggered job", common::PATIENCE, || async {
        let recurring = server
            .get("/api/workspaces/default/recurring/nightly-report")
            .await;
        recurring.body["last_job_id"].as_str().map(str::to_owned)
    })
    .await;
    server.wait_for_job("default", &job, "succeeded").await;

    pages
        .submit(
            "/dashboard/default/recurring",
            &[("act", "pause nightly-report")],
        )
        .await;
    let recurring = server
        .get("/api/workspaces/default/recurring/nightly-report")
        .await;
    assert_eq!(recurring.body["paused"], true);
    let page = pages.get("/dashboard/default/recurring").await;
    assert!(
        page.html.contains("Paused nightly-report."),
        "{}",
        page.html
    );
    assert!(page.html.contains("paused-marker"));
    assert!(
        page.html.contains(&format!("/jobs/{job}\"")),
        "last job linked"
    );
}

#[actix_rt::test]
async fn tokens_decide_which_workspaces_a_browser_sees() {
    let server = Server::start(&[
        "--workspace",
        "a",
        "--workspace",
        "b",
        "--token",
        &format!("a={ALPHA}"),
    ])
    .await;
    let pages = Pages::new(&server.base);

    let anonymous = pages.get("/dashboard/a").await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.html.contains("/dashboard/login"));

    pages.get("/dashboard/login").await;
    let wrong = pages.submit("/dashboard/login", &[("token", "nope")]).await;
    assert_eq!(wrong.status, 401);
    let signed = pages.submit("/dashboard/login", &[("token", ALPHA)]).await;
    assert_eq!(signed.status, 303, "{}", signed.html);
    assert!(pages.cookie("stoker_token").is_some());

    let picker = pages.get("/dashboard/").await;
    assert!(
        picker.html.contains("href=\"/dashboard/a\""),
        "{}",
        picker.html
    );
    assert!(!picker.html.contains("href=\"/dashboard/b\""));
    assert_eq!(pages.get("/dashboard/a").await.status, 200);
    assert_eq!(pages.get("/dashboard/b").await.status, 403);
    let api = server.get("/api/workspaces/a/stats").await;
    assert_eq!(
        api.status, 401,
        "the sign-in cookie is the dashboard's only"
    );

    pages.submit("/dashboard/logout", &[]).await;
    assert_eq!(pages.get("/dashboard/a").await.status, 401);
}

#[actix_rt::test]
async fn every_page_tells_the_browser_to_run_only_its_own_code_and_never_in_a_frame() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let id = failed_job(&server, "default", "boom").await;

    for path in [
        "/dashboard/".to_owned(),
        "/dashboard/default".to_owned(),
        "/dashboard/default/jobs?state=failed".to_owned(),
        format!("/dashboard/default/jobs/{id}"),
        "/dashboard/default/live".to_owned(),
        "/dashboard/login".to_owned(),
        "/dashboard/nobody".to_owned(),
    ] {
        let page = pages.get(&path).await;
        let policy = page.header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy:?}");
        }
        assert!(!policy.contains("unsafe"), "{path}: {policy:?}");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(page.header("referrer-policy"), "same-origin", "{path}");
    }
}

#[actix_rt::test]
async fn a_page_of_another_site_or_a_rebinding_name_cannot_read_the_dashboard() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let id = failed_job(&server, "default", "boom").await;
    let path = format!("/dashboard/default/jobs/{id}");

    let rebound = pages.get_with(&path, &[("host", "attacker.example")]).await;
    assert_eq!(rebound.status, 403, "{}", rebound.html);
    assert!(!rebound.html.contains("boom"));
    let fetched = pages
        .get_with(&path, &[("origin", "http://evil.example")])
        .await;
    assert_eq!(fetched.status, 403);
    let own = pages.get_with(&path, &[("host", "localhost")]).await;
    assert_eq!(own.status, 200);
}

#[actix_rt::test]
async fn overview_servers_and_retries_show_the_workspace() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let body = json!({"type": "fail", "args": {"times": 100, "message": "later"},
        "retry": {"attempts": 5, "delays_seconds": [3600]}});
    let created = server.post("/api/workspaces/default/jobs", body).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    server.wait_for_job("default", &id, "scheduled").await;

    let overview = pages.get("/dashboard/default").await;
    assert_eq!(overview.status, 200);
    assert!(
        overview.html.contains("data-stat=\"scheduled\">1<"),
        "{}",
        overview.html
    );
    assert!(overview.html.contains("data-stat=\"retries\">1<"));

    let retries = pages.get("/dashboard/default/retries").await;
    assert!(retries.html.contains(&format!("/jobs/{id}\"")));
    assert!(retries.html.contains("retry 1 of 5"), "{}", retries.html);
    assert!(retries.html.contains("in 59 min") || retries.html.contains("in 1 h"));

    let servers = pages.get("/dashboard/default/servers").await;
    assert!(
        servers.html.contains(&format!(":{}:", server.pid())),
        "{}",
        servers.html
    );
    assert!(!servers.html.contains("possibly dead"));

    let live = pages.get("/dashboard/default/live").await;
    let stats: serde_json::Value = serde_json::from_str(&live.html).unwrap();
    assert_eq!(stats["retries"], 1);

    assert_eq!(pages.get("/dashboard/nobody").await.status, 404);
    assert_eq!(
        pages.get("/dashboard/default/nothing-here").await.status,
        404
    );
    let bad_state = pages.get("/dashboard/default/jobs?state=sideways").await;
    assert_eq!(bad_state.status, 400);
}

/// The job ids a list page links to, in page order.
fn listed_ids(html: &str) -> Vec<u64> {
    html.split("/jobs/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

/// The target of the pager link marked `rel`.
fn pager_link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&").replace("&#38;", "&"))
}

#[actix_rt::test]
async fn the_pager_walks_a_long_list_by_its_index_and_agrees_with_page_numbers() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let jobs: Vec<_> = (0..120)
        .map(|_| json!({"type": "noop", "delay_seconds": 3600}))
        .collect();
    let created = server
        .post(
            "/api/workspaces/default/jobs/batch",
            json!({ "jobs": jobs }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);

    let list = "/dashboard/default/jobs?state=scheduled";
    let first = pages.get(list).await;
    assert!(first.html.contains("page 1 of 3"), "{}", first.html);
    assert_eq!(pager_link(&first.html, "prev"), None);
    let ids = listed_ids(&first.html);
    assert_eq!((ids.len(), ids[0]), (50, 120));

    let second = pages.get(&pager_link(&first.html, "next").unwrap()).await;
    let third_link = pager_link(&second.html, "next").unwrap();
    assert!(third_link.contains("before=21"), "{third_link}");
    let third = pages.get(&third_link).await;
    assert!(third.html.contains("page 3 of 3"));
    assert_eq!(listed_ids(&third.html), (1..=20).rev().collect::<Vec<_>>());
    assert_eq!(pager_link(&third.html, "next"), None);

    let by_number = pages.get(&format!("{list}&page=3")).await;
    assert_eq!(listed_ids(&by_number.html), listed_ids(&third.html));
    let back = pages.get(&pager_link(&third.html, "prev").unwrap()).await;
    assert_eq!(listed_ids(&back.html), listed_ids(&second.html));
    assert_eq!(
        listed_ids(&second.html),
        (21..=70).rev().collect::<Vec<_>>()
    );
}

#[actix_rt::test]
async fn a_page_number_past_a_million_rows_is_refused_with_a_page() {
    let server = Server::start(&[]).await;
    let pages = Pages::new(&server.base);
    let list = "/dashboard/default/jobs?state=scheduled";
    for page in ["20002", "184467440737095516", "18446744073709551615"] {
        let deep = pages.get(&format!("{list}&page={page}")).await;
        assert_eq!(deep.status, 400, "page {page}: {}", deep.html);
        assert!(
            deep.html.contains("`page` must be at most 20001"),
            "{}",
            deep.html
        );
    }
    let deepest = pages.get(&format!("{list}&page=20001")).await;
    assert_eq!(deepest.status, 200, "{}", deepest.html);
}
