//! The PostgreSQL storage: shared tables in schema `stoker`, a schema per workspace in one
//! database, or a database per workspace; a database of the layout before 0.2 refused under
//! shared tables, names PostgreSQL keeps for itself refused, and a server woken at once when
//! another server enqueues. Ignored but in the PostgreSQL pass.

mod common;

use std::time::Duration;

use common::{PATIENCE, Record, Runs, backend, builder_on, wait_for};
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::sqlx::{self, Connection};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use stoker::{Error, JobFilter, StorageConfig};

/// A fresh database on the test server.
fn fresh_database() -> String {
    backend::fresh_database(&backend::required_postgres_url())
}

async fn strings(url: &str, sql: &str) -> Vec<String> {
    let db = Database::connect(url).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap();
    db.close().await.unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index(0).unwrap())
        .collect()
}

/// A runtime on `storage` in which workspaces `acme` and `tenant-42` each ran a job.
async fn two_workspaces_that_ran_a_job(storage: StorageConfig, runs: &Runs) -> stoker::Stoker {
    let stoker = builder_on(storage, runs).build().unwrap();
    for name in ["acme", "tenant-42"] {
        let workspace = stoker.workspace(name).await.unwrap();
        workspace
            .enqueue(Record { key: name.into() })
            .await
            .unwrap();
    }
    wait_for("both jobs to run", PATIENCE, || async {
        (runs.total() == 2).then_some(())
    })
    .await;
    stoker
}

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn workspaces_share_the_tables_of_schema_stoker_as_rows_of_their_own() {
    let url = fresh_database();
    let runs = Runs::default();
    let stoker = two_workspaces_that_ran_a_job(StorageConfig::postgres(&url), &runs).await;
    let schemas = strings(
        &url,
        "SELECT nspname::text || ': ' || obj_description(oid, 'pg_namespace') FROM pg_namespace \
         WHERE obj_description(oid, 'pg_namespace') LIKE 'stoker%' ORDER BY nspname",
    )
    .await;
    assert_eq!(schemas, ["stoker: stoker shared tables"]);
    let names = strings(&url, "SELECT name FROM stoker.workspaces ORDER BY name").await;
    assert_eq!(names, ["acme", "tenant-42"]);
    let rows = strings(
        &url,
        "SELECT workspace || ' ' || args FROM stoker.jobs ORDER BY workspace",
    )
    .await;
    assert_eq!(
        rows,
        [r#"acme {"key":"acme"}"#, r#"tenant-42 {"key":"tenant-42"}"#]
    );
    stoker.shutdown().await;

    let again = builder_on(StorageConfig::postgres(&url), &runs)
        .build()
        .unwrap();
    for name in ["acme", "tenant-42"] {
        assert!(again.existing_workspace(name).await.is_ok(), "{name}");
    }
    let missing = again.existing_workspace("nobody").await.unwrap_err();
    assert!(matches!(missing, Error::WorkspaceNotFound(_)), "{missing}");
    again.shutdown().await;
}

/// A database whose workspaces have schemas of their own (the layout before 0.2) opened with
/// shared tables would show them empty: it is refused with what to do instead, and nothing is
/// written; with a schema per workspace they are all there.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn a_database_of_schemas_per_workspace_is_refused_shared_tables_and_opens_as_it_was() {
    let url = fresh_database();
    let runs = Runs::default();
    let before = builder_on(StorageConfig::postgres_schema_per_workspace(&url), &runs)
        .build()
        .unwrap();
    let workspace = before.workspace("acme").await.unwrap();
    let id = workspace.enqueue(Record { key: "a".into() }).await.unwrap();
    common::wait_for_state(&workspace, id, stoker::JobState::Succeeded).await;
    before.shutdown().await;

    let shared = builder_on(StorageConfig::postgres(&url), &runs)
        .build()
        .unwrap();
    let refused = shared.workspace("acme").await.unwrap_err().to_string();
    assert!(refused.contains("--schema-per-workspace"), "{refused}");
    shared.shutdown().await;
    let stoker_schema = strings(
        &url,
        "SELECT nspname::text FROM pg_namespace WHERE nspname = 'stoker'",
    )
    .await;
    assert!(stoker_schema.is_empty(), "nothing was created");

    let after = builder_on(StorageConfig::postgres_schema_per_workspace(&url), &runs)
        .build()
        .unwrap();
    let job = after
        .existing_workspace("acme")
        .await
        .unwrap()
        .job(id)
        .await;
    assert_eq!(job.unwrap().summary.state, stoker::JobState::Succeeded);
    after.shutdown().await;
}

/// A workspace named `stoker` with a schema of its own takes the shared tables' schema name:
/// shared tables are then refused, and never written into it.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn a_workspace_schema_named_stoker_is_never_taken_for_the_shared_tables() {
    let url = fresh_database();
    let runs = Runs::default();
    let own = builder_on(StorageConfig::postgres_schema_per_workspace(&url), &runs)
        .build()
        .unwrap();
    own.workspace("stoker").await.unwrap();
    own.shutdown().await;

    let shared = builder_on(StorageConfig::postgres(&url), &runs)
        .build()
        .unwrap();
    let refused = shared.workspace("acme").await.unwrap_err().to_string();
    assert!(refused.contains("not stoker's shared tables"), "{refused}");
    shared.shutdown().await;
    let names = strings(&url, "SELECT name FROM stoker.workspaces").await;
    assert!(
        names.is_empty(),
        "no workspace written into the workspace's schema: {names:?}"
    );
}

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn with_a_schema_per_workspace_workspaces_are_schemas_and_reserved_names_are_refused() {
    let url = fresh_database();
    let runs = Runs::default();
    let stoker =
        two_workspaces_that_ran_a_job(StorageConfig::postgres_schema_per_workspace(&url), &runs)
            .await;
    let schemas = strings(
        &url,
        "SELECT nspname::text FROM pg_namespace \
         WHERE obj_description(oid, 'pg_namespace') = 'stoker workspace' ORDER BY nspname",
    )
    .await;
    assert_eq!(schemas, ["acme", "tenant-42"]);
    let args = strings(&url, "SELECT args FROM \"tenant-42\".jobs").await;
    assert_eq!(
        args,
        [r#"{"key":"tenant-42"}"#],
        "each schema holds its own jobs"
    );

    for reserved in ["public", "pg_temp", "information_schema"] {
        let refused = stoker.workspace(reserved).await.unwrap_err();
        assert!(
            matches!(refused, Error::InvalidName(_)),
            "{reserved}: {refused}"
        );
    }
    stoker.shutdown().await;

    // Another runtime finds the workspaces stored before, and only those.
    let again = builder_on(StorageConfig::postgres_schema_per_workspace(&url), &runs)
        .build()
        .unwrap();
    assert!(again.existing_workspace("acme").await.is_ok());
    let missing = again.existing_workspace("nobody").await.unwrap_err();
    assert!(matches!(missing, Error::WorkspaceNotFound(_)), "{missing}");
    again.shutdown().await;
}

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn a_url_naming_the_workspace_gives_each_workspace_a_database() {
    let url = fresh_database();
    // `…/test_1234` becomes `…/test_1234_{workspace}`.
    let per_workspace = format!("{url}_{{workspace}}");
    let runs = Runs::default();
    let stoker = builder_on(StorageConfig::postgres(&per_workspace), &runs)
        .build()
        .unwrap();
    let workspace = stoker.workspace("solo").await.unwrap();
    workspace
        .enqueue(Record { key: "solo".into() })
        .await
        .unwrap();
    wait_for("the job to run", PATIENCE, || async {
        (runs.count("solo", "solo") == 1).then_some(())
    })
    .await;
    stoker.shutdown().await;
    let own = per_workspace.replace("{workspace}", "solo");
    let args = strings(&own, "SELECT args FROM solo.jobs").await;
    assert_eq!(args, [r#"{"key":"solo"}"#]);

    // The database it created is its own when a later server opens it.
    let later = builder_on(StorageConfig::postgres(&per_workspace), &runs)
        .build()
        .unwrap();
    later.workspace("solo").await.unwrap();
    later.shutdown().await;
}

/// With `{workspace}` in the URL a workspace's name picks a database: stoker must not take one
/// that is not its own (`postgres`, another application's), and takes one an operator marks.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn a_url_naming_the_workspace_never_uses_a_database_stoker_did_not_create() {
    let url = fresh_database();
    let per_workspace = format!("{url}_{{workspace}}");
    let foreign = per_workspace.replace("{workspace}", "app");
    let foreign_name = foreign.rsplit_once('/').unwrap().1.to_owned();
    strings(&url, &format!("CREATE DATABASE {foreign_name}")).await;
    let stoker = builder_on(StorageConfig::postgres(&per_workspace), &Runs::default())
        .build()
        .unwrap();

    let Err(refused) = stoker.workspace("app").await else {
        panic!("a database that is not stoker's was used")
    };
    assert!(matches!(refused, Error::InvalidConfig(_)), "{refused:?}");
    assert!(
        refused.to_string().contains("not a stoker workspace"),
        "{refused}"
    );
    let schemas = strings(
        &foreign,
        "SELECT nspname::text FROM pg_namespace WHERE nspname = 'app' \
         UNION ALL SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
    )
    .await;
    assert!(schemas.is_empty(), "stoker wrote {schemas:?}");
    let found = stoker.existing_workspace("app").await;
    assert!(
        matches!(found, Err(Error::WorkspaceNotFound(_))),
        "{:?}",
        found.err()
    );

    strings(
        &url,
        &format!("COMMENT ON DATABASE {foreign_name} IS 'stoker workspace'"),
    )
    .await;
    stoker
        .workspace("app")
        .await
        .expect("a marked database is used");
    stoker.shutdown().await;
}

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn a_job_enqueued_by_another_server_wakes_an_idle_one_at_once() {
    let url = fresh_database();
    let runs = Runs::default();
    // The worker never polls within the test: only a notification can wake it.
    let worker = builder_on(StorageConfig::postgres(&url), &runs)
        .poll_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    worker.workspace("shared").await.unwrap();
    let client = builder_on(StorageConfig::postgres(&url), &Runs::default())
        .queues(["nothing-here"])
        .build()
        .unwrap();
    let submit = client.workspace("shared").await.unwrap();
    for key in ["first", "second"] {
        // The first may meet the worker's first claim; the second finds it idle.
        submit.enqueue(Record { key: key.into() }).await.unwrap();
        wait_for(key, PATIENCE, || async {
            (runs.count("shared", key) == 1).then_some(())
        })
        .await;
    }
    client.shutdown().await;
    worker.shutdown().await;
}

/// A list a tenant can make slow gives up after the read timeout rather than hold one of the
/// connections every workspace shares; the next one answers.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn a_list_that_runs_past_the_read_timeout_fails_as_unavailable_and_the_next_answers() {
    let url = fresh_database();
    let stoker = builder_on(StorageConfig::postgres(&url), &Runs::default())
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let workspace = stoker.workspace("slow").await.unwrap();
    workspace.enqueue(Record { key: "a".into() }).await.unwrap();
    let filter = JobFilter::new().limit(10);

    // Another session holds the table: the list waits on its lock as on a slow plan.
    let mut holder = PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE stoker.jobs IN ACCESS EXCLUSIVE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let listed = workspace.jobs(&filter).await;
    assert!(
        matches!(listed, Err(Error::Storage(_))),
        "{:?}",
        listed.map(|page| page.total)
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();

    let page = workspace.jobs(&filter).await.unwrap();
    assert_eq!(page.total, 1);
    stoker.shutdown().await;
}

/// With the whole database name the workspace's (`…/{workspace}`), every database of the
/// server is a candidate, `template0` (which takes no connection) and the `postgres` database
/// among them: finding the workspaces in storage passes over them instead of failing.
#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn workspaces_with_databases_named_after_them_are_found_among_the_servers_others() {
    let url = backend::required_postgres_url();
    let server = url.rsplit_once('/').unwrap().0;
    let per_workspace = format!("{server}/{{workspace}}");
    let name = format!("found_{:08x}", rand::random::<u32>());
    let first = builder_on(StorageConfig::postgres(&per_workspace), &Runs::default())
        .build()
        .unwrap();
    first.workspace(&name).await.unwrap();
    first.shutdown().await;

    let next = builder_on(StorageConfig::postgres(&per_workspace), &Runs::default())
        .build()
        .unwrap();
    wait_for("the workspace to be found in storage", PATIENCE, || async {
        next.workspace_names().contains(&name).then_some(())
    })
    .await;
    let known = next.workspace_names();
    assert!(
        !known
            .iter()
            .any(|known| known == "template0" || known == "postgres"),
        "{known:?}"
    );
    next.shutdown().await;
}
