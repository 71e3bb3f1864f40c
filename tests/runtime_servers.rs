//! Servers sharing a workspace: the registry drops a server that stopped sending heartbeats,
//! and a distributed lock is held by one holder at a time and lapses when not renewed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{PATIENCE, Runs, backend, builder_on, wait_for};
use entities::server;
use sea_orm::{ActiveValue::Set, EntityTrait};
use stoker::{Error, ManualClock};

#[actix_rt::test]
async fn a_server_silent_past_the_timeout_leaves_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let storage = backend::storage(dir.path());
    let stoker = builder_on(storage.clone(), &Runs::default())
        .heartbeat(Duration::from_millis(100))
        .server_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let workspace = stoker.workspace("fleet").await.unwrap();
    let long_ago = Utc::now().timestamp_millis() - 3_600_000;
    let db = backend::connect(&storage, "fleet").await;
    // Server rows are the store's, in every placement: they carry `''`.
    server::Entity::insert(server::ActiveModel {
        workspace: Set(String::new()),
        id: Set("gone:1:dead".into()),
        workers: Set(5),
        queues: Set("default".into()),
        started_at: Set(long_ago),
        heartbeat_at: Set(long_ago),
    })
    .exec_without_returning(&db)
    .await
    .unwrap();

    let ids = || async {
        let servers = workspace.servers().await.unwrap();
        servers
            .into_iter()
            .map(|server| server.id)
            .collect::<Vec<_>>()
    };
    wait_for("the silent server to be dropped", PATIENCE, || async {
        let ids = ids().await;
        (!ids.iter().any(|id| id == "gone:1:dead")).then_some(())
    })
    .await;
    assert_eq!(
        ids().await,
        [stoker.server_id().to_owned()],
        "this server stays"
    );
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_distributed_lock_has_one_holder_until_released_or_lapsed() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let stoker = builder_on(backend::storage(dir.path()), &Runs::default())
        .clock(clock.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("locks").await.unwrap();
    let ttl = Duration::from_secs(60);
    let report = || async { workspace.try_lock("nightly-report", ttl).await.unwrap() };

    let first = report().await.expect("a free lock is taken");
    assert!(report().await.is_none());
    assert!(
        workspace.try_lock("other", ttl).await.unwrap().is_some(),
        "locks of other names are independent"
    );
    assert!(first.renew().await.unwrap(), "the holder renews");
    assert!(first.release().await.unwrap());
    let second = report().await.expect("a released lock is free");

    // Its holder dies without releasing it: it lapses after the ttl.
    clock.advance(chrono::Duration::seconds(59));
    assert!(report().await.is_none());
    clock.advance(chrono::Duration::seconds(2));
    assert!(report().await.is_some(), "a lapsed lock is free");
    assert!(!second.renew().await.unwrap(), "the lapsed holder is told");

    let bad = workspace.try_lock("no spaces", ttl).await;
    assert!(matches!(bad, Err(Error::InvalidName(_))), "{bad:?}");
    stoker.shutdown().await;
}
