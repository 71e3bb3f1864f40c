//! PostgreSQL restarting in the middle of a run: the runtime reports the outage, keeps its
//! actors, reconnects by itself and finishes every job. Runs on a PostgreSQL of its own (it
//! stops it), in the PostgreSQL pass of the suite; skipped (with a note) otherwise.

mod common;

use common::private_postgres::PrivatePostgres;
use common::{Nap, PATIENCE, Runs, backend, builder_on, wait_for};
use stoker::{Error, JobState, NewJob, StorageConfig};

const JOBS: usize = 2_000;

#[actix_rt::test]
#[ignore = "needs PostgreSQL: run by the PostgreSQL pass of scripts/test"]
async fn jobs_finish_across_a_database_restart() {
    backend::required_postgres_url();
    assert!(
        PrivatePostgres::available(),
        "PostgreSQL 15 binaries are installed"
    );
    let postgres = PrivatePostgres::start();
    let runs = Runs::default();
    let stoker = builder_on(StorageConfig::postgres(postgres.url()), &runs)
        .workers(20)
        .build()
        .unwrap();
    let workspace = stoker.workspace("outage").await.unwrap();
    let jobs = (0..JOBS).map(|n| {
        NewJob::of(&Nap {
            key: format!("nap-{n}"),
            ms: 2,
        })
    });
    let ids = workspace.enqueue_many(jobs).await.unwrap();
    wait_for("a quarter of the jobs to run", PATIENCE, || async {
        (runs.total() >= JOBS / 4).then_some(())
    })
    .await;

    postgres.stop();
    let refused = workspace.stats().await;
    assert!(matches!(refused, Err(Error::Storage(_))), "{refused:?}");
    postgres.resume();

    wait_for("every job to succeed", PATIENCE * 2, || async {
        let stats = workspace.stats().await.ok()?;
        (stats.succeeded == JOBS as u64).then_some(())
    })
    .await;
    for id in ids.iter().step_by(97) {
        assert_eq!(
            workspace.job(id.id).await.unwrap().summary.state,
            JobState::Succeeded
        );
    }
    // The same actors take new work.
    let after = workspace
        .enqueue(Nap {
            key: "after".into(),
            ms: 0,
        })
        .await
        .unwrap();
    common::wait_for_state(&workspace, after, JobState::Succeeded).await;
    stoker.shutdown().await;
}
