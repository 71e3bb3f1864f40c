//! Fire-and-forget jobs across workspaces: every job runs once, in its own workspace, and each
//! workspace's database holds only its own jobs.

mod common;

use common::{PATIENCE, Record, Runs, backend, builder_on, wait_for};
use entities::job;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use stoker::{JobState, NewJob};

#[actix_rt::test]
async fn a_thousand_jobs_across_three_workspaces_each_run_once_in_their_own_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let storage = backend::storage(dir.path());
    let stoker = builder_on(storage.clone(), &runs).build().unwrap();
    let names = ["acme", "globex", "initech"];
    let mut expected = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let workspace = stoker.workspace(name).await.unwrap();
        // One workspace gets its jobs one by one, the others in a batch.
        let count = [334, 333, 333][index];
        let keys: Vec<String> = (0..count).map(|n| format!("{name}-{n}")).collect();
        if index == 0 {
            for key in &keys {
                workspace
                    .enqueue(Record { key: key.clone() })
                    .await
                    .unwrap();
            }
        } else {
            let jobs = keys
                .iter()
                .map(|key| NewJob::of(&Record { key: key.clone() }));
            let created = workspace.enqueue_many(jobs).await.unwrap();
            assert!(created.iter().all(|job| job.state == JobState::Enqueued));
        }
        expected.extend(keys.into_iter().map(|key| (name.to_string(), key)));
    }
    assert_eq!(expected.len(), 1000);

    wait_for("all jobs to run", PATIENCE, || async {
        (runs.total() >= 1000).then_some(())
    })
    .await;
    let all = runs.all();
    for (workspace, key) in &expected {
        assert_eq!(
            all.get(&(workspace.clone(), key.clone())),
            Some(&1),
            "{workspace}/{key}"
        );
    }
    assert_eq!(all.len(), 1000, "no job ran outside its workspace");
    stoker.shutdown().await;

    for name in names {
        let db = backend::connect(&storage, name).await;
        let of_workspace = job::Column::Workspace.eq(backend::key(&storage, name));
        let rows = job::Entity::find()
            .filter(of_workspace.clone())
            .all(&db)
            .await
            .unwrap();
        assert!(rows.len() >= 333, "{name} holds {} jobs", rows.len());
        for row in &rows {
            assert_eq!(row.state, "succeeded");
            assert!(
                row.args.contains(&format!("\"{name}-")),
                "{name} holds {}",
                row.args
            );
        }
        assert_eq!(
            job::Entity::find()
                .filter(of_workspace)
                .count(&db)
                .await
                .unwrap() as usize,
            rows.len()
        );
    }
}
