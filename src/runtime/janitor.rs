//! The Janitor actor: the upkeep of a workspace's own store, or of a store that workspaces
//! share (see `housekeeping`), on one timer, a round in one transaction (see
//! `Storage::upkeep`) — the server's heartbeat (which renews the leases of its running jobs)
//! and recovery of jobs whose lease ran out, on every server; expiry of finished jobs and
//! dropping silent servers from the list, on the one server that holds the upkeep lease.

use actix::prelude::*;

use super::housekeeping::Wakes;
use super::settings::SharedSettings;
use crate::storage::{Round, ServerRow, Storage, StorageResult, Upkept};

pub(crate) struct Janitor {
    storage: Storage,
    settings: SharedSettings,
    wakes: Wakes,
    busy: bool,
}

impl Janitor {
    pub(crate) fn new(storage: Storage, settings: SharedSettings, wakes: Wakes) -> Self {
        Janitor {
            storage,
            settings,
            wakes,
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
                    if !done.recovered.is_empty() {
                        let recovered = done.recovered.len();
                        tracing::warn!(recovered, "recovered jobs whose server stopped answering");
                        janitor.wakes.tell(done.recovered.into_iter().collect());
                    }
                }
                Err(error) => tracing::error!(%error, "upkeep failed"),
            }
        }));
    }
}

/// A round of upkeep as of now; then the rest of a long expiry, a batch per transaction so
/// that the round's own does not hold its locks for long.
async fn upkeep(
    storage: Storage,
    server: ServerRow,
    settings: SharedSettings,
) -> StorageResult<Upkept> {
    let now = settings.now_ms();
    let round = Round {
        server: &server,
        now,
        lease_until: now + settings.lease_ms(),
        silent_before: now - settings.server_timeout_ms(),
    };
    let done = storage.upkeep(&round).await?;
    if done.more_to_expire {
        while storage.expire(now).await? {}
    }
    Ok(done)
}

impl Actor for Janitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.tick(ctx);
        ctx.run_interval(self.settings.heartbeat, |janitor, ctx| janitor.tick(ctx));
    }
}
