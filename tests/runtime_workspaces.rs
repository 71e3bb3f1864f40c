//! Workspaces come and go while the runtime runs: removing one stops its actors and keeps its
//! data, the others keep working, and it can be opened again.

mod common;

use common::{PATIENCE, Record, Runs, builder, wait_for, wait_for_state};
use stoker::{Error, JobState};

#[actix_rt::test]
async fn a_workspace_removed_while_running_keeps_its_jobs_and_the_others_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs).build().unwrap();
    let staying = stoker.workspace("staying").await.unwrap();
    let leaving = stoker.workspace("leaving").await.unwrap();
    let before = leaving
        .enqueue(Record {
            key: "before".into(),
        })
        .await
        .unwrap();
    wait_for_state(&leaving, before, JobState::Succeeded).await;
    assert_eq!(stoker.workspace_names(), ["leaving", "staying"]);

    stoker.remove_workspace("leaving").await.unwrap();
    assert_eq!(stoker.workspace_names(), ["staying"]);
    assert!(matches!(
        leaving.enqueue(Record { key: "late".into() }).await,
        Err(Error::ShuttingDown)
    ));
    assert!(matches!(
        stoker.remove_workspace("leaving").await,
        Err(Error::WorkspaceNotFound(_))
    ));

    let id = staying
        .enqueue(Record {
            key: "still".into(),
        })
        .await
        .unwrap();
    wait_for_state(&staying, id, JobState::Succeeded).await;

    let back = stoker.workspace("leaving").await.unwrap();
    assert_eq!(
        back.job(before).await.unwrap().summary.state,
        JobState::Succeeded,
        "its data stayed"
    );
    back.enqueue(Record {
        key: "again".into(),
    })
    .await
    .unwrap();
    wait_for("the reopened workspace to run jobs", PATIENCE, || async {
        (runs.count("leaving", "again") == 1).then_some(())
    })
    .await;
    stoker.shutdown().await;
    assert!(stoker.workspace_names().is_empty());
    let after = stoker.workspace("late").await;
    assert!(matches!(after, Err(Error::ShuttingDown)), "{after:?}");
    assert!(
        !dir.path().join("late.db").exists(),
        "nothing was created after shutdown"
    );
}
