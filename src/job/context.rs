//! [`JobContext`]: what a running job can see — who it is, which attempt, its workspace, its
//! cancellation signal — and [`AppData`], the values the embedding application registered.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;

use super::JobId;

/// Values shared with every job, looked up by type, like actix-web's `web::Data`.
#[derive(Clone, Default)]
pub struct AppData {
    values: Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl AppData {
    pub(crate) fn insert<T: Any + Send + Sync>(&mut self, value: Arc<T>) {
        Arc::make_mut(&mut self.values).insert(TypeId::of::<T>(), value);
    }

    /// Whether the application registered a value of the type `id` names.
    pub(crate) fn has(&self, id: TypeId) -> bool {
        self.values.contains_key(&id)
    }

    /// The value of type `T`, if the application registered one.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let value = self.values.get(&TypeId::of::<T>())?.clone();
        value.downcast::<T>().ok()
    }
}

impl std::fmt::Debug for AppData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppData")
            .field("values", &self.values.len())
            .finish()
    }
}

/// What a job sees while it runs.
#[derive(Clone)]
pub struct JobContext {
    pub(crate) id: JobId,
    pub(crate) attempt: u32,
    pub(crate) workspace: Arc<str>,
    pub(crate) cancellation: CancellationToken,
    pub(crate) data: AppData,
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

impl JobContext {
    /// The runtime's time (its clock can be set in tests): use it for "this month" and such.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// Which run this is: 1 for the first.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The workspace the job belongs to.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Whether the runtime asked the job to stop (shutdown, deletion, timeout).
    pub fn is_cancelled(&self) -> bool {
        self.cancellation.is_cancelled()
    }

    /// Completes when the runtime asks the job to stop; `select!` on it in long jobs.
    pub async fn cancelled(&self) {
        self.cancellation.cancelled().await
    }

    /// The application's value of type `T`, registered with `StokerBuilder::data`.
    pub fn data<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.data.get::<T>()
    }

    /// The application's value of type `T`, which the job type declares in
    /// [`Job::needs`](super::Job::needs): the runtime was refused at `build()` without it, so
    /// the error (failing the run for good) is only for a type that forgot to declare it.
    pub fn needed<T: std::any::Any + Send + Sync>(&self) -> Result<Arc<T>, super::JobError> {
        self.data::<T>().ok_or_else(|| {
            let name = std::any::type_name::<T>();
            super::JobError::fatal(format!("no `{name}` was given to the runtime"))
        })
    }
}
