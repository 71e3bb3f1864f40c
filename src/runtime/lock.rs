//! [`DistributedLock`]: a lock every server of a workspace respects, held as a lease in the
//! workspace's storage so that it frees itself when its holder dies without releasing it.

use std::time::Duration;

use super::settings::{SharedSettings, millis};
use crate::error::Result;
use crate::name::check_lock_name;
use crate::storage::Storage;

/// A held lock. It lapses `ttl` after it was taken or last renewed; work that may outlast the
/// `ttl` renews it, and checks the answer: `false` means another holder may have it now.
pub struct DistributedLock {
    storage: Storage,
    settings: SharedSettings,
    name: String,
    /// Unique per acquisition, so two holders in one process are told apart.
    owner: String,
    ttl: Duration,
}

impl std::fmt::Debug for DistributedLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedLock")
            .field("name", &self.name)
            .field("owner", &self.owner)
            .finish()
    }
}

impl DistributedLock {
    /// Takes lock `name` for `ttl`, or `None` while another holder has it.
    pub(super) async fn try_acquire(
        storage: Storage,
        settings: SharedSettings,
        name: &str,
        ttl: Duration,
    ) -> Result<Option<Self>> {
        check_lock_name(name)?;
        let owner = format!("{}/{:016x}", settings.server_id, rand::random::<u64>());
        let lock = DistributedLock {
            storage,
            settings,
            name: name.to_owned(),
            owner,
            ttl,
        };
        Ok(lock.renew().await?.then_some(lock))
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Pushes the lapse `ttl` past now. `false` when the lock lapsed and another holder took
    /// it: stop the work it guards.
    pub async fn renew(&self) -> Result<bool> {
        let now = self.settings.now_ms();
        let until = now.saturating_add(millis(self.ttl));
        Ok(self
            .storage
            .acquire_lease(&self.name, &self.owner, now, until)
            .await?)
    }

    /// Releases the lock; `false` when it had lapsed and another holder took it meanwhile.
    pub async fn release(self) -> Result<bool> {
        Ok(self.storage.release_lease(&self.name, &self.owner).await?)
    }
}
