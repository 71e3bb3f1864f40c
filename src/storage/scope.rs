//! Which rows a housekeeping pass covers: one workspace's, or those of every workspace in its
//! store. A store that workspaces share has one upkeep round and one due pass for all of them
//! (run through [`Storage::whole_store`]), so that an idle server sends the same statements
//! whether it carries ten workspaces or ten thousand. A store of one workspace's own is that
//! workspace, and its passes are the workspace's.

use std::sync::Arc;

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef};

use super::{Retention, Storage};

/// The key of a store's own rows, which no workspace of a shared store has: the servers'
/// heartbeats and the upkeep lease. A store of one workspace's own uses it for every row.
pub(crate) const STORE_KEY: &str = "";

/// The rows a pass covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope<'a> {
    /// Those of the workspace whose rows carry this key.
    Workspace(&'a str),
    /// Every workspace's in the store.
    Store,
}

impl<'a> Scope<'a> {
    /// The workspace's key, unless the pass covers the whole store.
    pub(crate) fn key(self) -> Option<&'a str> {
        match self {
            Scope::Workspace(key) => Some(key),
            Scope::Store => None,
        }
    }

    /// `column = key` for one workspace's rows; `None` (every row) for the store's.
    pub(crate) fn only(self, column: impl IntoColumnRef) -> Option<Expr> {
        self.key().map(|key| Expr::col(column).eq(key))
    }
}

/// How long the jobs of the workspace whose rows carry a key are kept once they end.
pub(crate) type RetentionOf = Arc<dyn Fn(&str) -> Retention + Send + Sync>;

impl Storage {
    /// This store, for the passes that cover all its workspaces at once, keeping each
    /// workspace's jobs as `retention_of` says. The store's own rows (the servers' heartbeats
    /// and the upkeep lease) carry [`STORE_KEY`].
    pub(crate) fn whole_store(&self, retention_of: RetentionOf) -> Storage {
        Storage {
            key: Arc::from(STORE_KEY),
            store_wide: Some(retention_of),
            ..self.clone()
        }
    }

    /// The rows this storage's passes cover.
    pub(crate) fn scope(&self) -> Scope<'_> {
        match self.store_wide {
            Some(_) => Scope::Store,
            None => Scope::Workspace(self.key()),
        }
    }

    /// How long the jobs of the workspace whose rows carry `key` are kept once they end.
    pub(crate) fn retention_for(&self, key: &str) -> Retention {
        match &self.store_wide {
            Some(retention_of) => retention_of(key),
            None => self.retention,
        }
    }

    /// Whether this is a workspace's view of a store that workspaces share (its rows carry
    /// its name), whose housekeeping runs once for the whole store.
    pub(crate) fn in_shared_store(&self) -> bool {
        !self.key.is_empty()
    }
}
