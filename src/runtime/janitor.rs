//! The Janitor actor: the workspace's upkeep on one timer — the server's heartbeat (which
//! renews the leases of its running jobs), recovery of jobs whose lease ran out, and expiry
//! of finished jobs. This is the only thing an idle workspace does.

use actix::prelude::*;

use super::queue::Wake;
use super::settings::SharedSettings;
use crate::storage::{ServerRow, Storage, StorageResult};

/// Jobs removed per expiry statement.
const EXPIRE_BATCH: u64 = 1000;

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
            workers: self.settings.workers as i32,
            queues: self.settings.queues.clone(),
            started_at: self.settings.started_at,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let (storage, server, lease) = (
            self.storage.clone(),
            self.server(),
            self.settings.lease_ms(),
        );
        let work = upkeep(storage, server, lease, self.settings.now_ms());
        ctx.spawn(work.into_actor(self).map(|result, janitor, _| {
            janitor.busy = false;
            match result {
                Ok(0) => {}
                Ok(recovered) => {
                    tracing::warn!(recovered, "recovered jobs whose server stopped answering");
                    janitor.queue.do_send(Wake);
                }
                Err(error) => tracing::error!(%error, "workspace upkeep failed"),
            }
        }));
    }
}

/// One round of upkeep; returns how many abandoned jobs were recovered.
async fn upkeep(
    storage: Storage,
    server: ServerRow,
    lease_ms: i64,
    now: i64,
) -> StorageResult<usize> {
    storage.heartbeat(&server, now, now + lease_ms).await?;
    let recovered = storage.recover_abandoned(now, now).await?;
    while storage.expire(now, EXPIRE_BATCH).await? == EXPIRE_BATCH as usize {}
    Ok(recovered)
}

impl Actor for Janitor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.tick(ctx);
        ctx.run_interval(self.settings.heartbeat, |janitor, ctx| janitor.tick(ctx));
    }
}
