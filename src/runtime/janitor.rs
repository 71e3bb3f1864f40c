//! The Janitor actor: the workspace's upkeep on one timer — the server's heartbeat (which
//! renews the leases of its running jobs) and recovery of jobs whose lease ran out, on every
//! server; expiry of finished jobs and dropping silent servers from the list, on the one
//! server that holds the janitor lease. This is the only thing an idle workspace does.

use actix::prelude::*;

use super::queue::Wake;
use super::settings::SharedSettings;
use crate::storage::{ServerRow, Storage, StorageResult};

/// Jobs removed per expiry statement.
const EXPIRE_BATCH: u64 = 1000;

/// The lease whose holder does the upkeep only one server should do.
pub(crate) const JANITOR_LEASE: &str = "stoker:janitor";

pub(crate) struct Janitor {
    storage: Storage,
    settings: SharedSettings,
    queue: Recipient<Wake>,
    busy: bool,
}

impl Janitor {
    pub(crate) fn new(storage: Storage, settings: SharedSettings, queue: Recipient<Wake>) -> Self {
        Janitor {
            storage,
            settings,
            queue,
            busy: false,
        }
    }

    fn server(&self) -> ServerRow {
        ServerRow {
            id: self.settings.server_id.clone(),
            workers: self.settings.workers() as i32,
            queues: self.settings.queues().to_vec(),
            started_at: self.settings.started_at,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let work = upkeep(self.storage.clone(), self.server(), self.settings.clone());
        ctx.spawn(work.into_actor(self).map(|result, janitor, _| {
            janitor.busy = false;
            match result {
                Ok(done) => {
                    for server in &done.dropped {
                        tracing::warn!(%server, "dropped a server that stopped sending heartbeats");
                    }
                    if done.recovered > 0 {
                        let recovered = done.recovered;
                        tracing::warn!(recovered, "recovered jobs whose server stopped answering");
                        janitor.queue.do_send(Wake);
                    }
                }
                Err(error) => tracing::error!(%error, "workspace upkeep failed"),
            }
        }));
    }
}

/// What a round of upkeep did that is worth telling.
struct Upkeep {
    /// Abandoned jobs put back.
    recovered: usize,
    /// Silent servers dropped from the list.
    dropped: Vec<String>,
}

async fn upkeep(
    storage: Storage,
    server: ServerRow,
    settings: SharedSettings,
) -> StorageResult<Upkeep> {
    let now = settings.now_ms();
    let lease_until = now + settings.lease_ms();
    storage.heartbeat(&server, now, lease_until).await?;
    let recovered = storage.recover_abandoned(now, now).await?;
    let mut dropped = Vec::new();
    // Alone with its storage, a server needs no lease to be the one that does the upkeep.
    if storage.is_exclusive()
        || storage
            .acquire_lease(JANITOR_LEASE, &server.id, now, lease_until)
            .await?
    {
        while storage.expire(now, EXPIRE_BATCH).await? == EXPIRE_BATCH as usize {}
        dropped = storage
            .prune_servers(now - settings.server_timeout_ms())
            .await?;
    }
    Ok(Upkeep { recovered, dropped })
}

impl Actor for Janitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.tick(ctx);
        ctx.run_interval(self.settings.heartbeat, |janitor, ctx| janitor.tick(ctx));
    }
}
