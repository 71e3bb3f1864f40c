//! [`Registry`]: from a stored type name to the code that checks, decodes and runs it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::needs::Need;
use super::{AppData, Job, JobContext, JobError, Needs, Unique};
use crate::retry::RetryPolicy;

/// A run of a job, boxed; it stays on the worker thread that made it.
pub(crate) type RunFuture = Pin<Box<dyn Future<Output = Result<(), JobError>>>>;

type Check = fn(&serde_json::Value) -> Result<Option<Unique>, String>;
type Start = fn(&str, JobContext) -> Result<RunFuture, String>;

/// One registered job type, with its type erased.
#[derive(Clone)]
pub(crate) struct JobType {
    pub(crate) queue: &'static str,
    pub(crate) retry_policy: RetryPolicy,
    pub(crate) priority: u8,
    pub(crate) timeout: Option<Duration>,
    needs: Vec<Need>,
    check: Check,
    start: Start,
}

impl JobType {
    fn of<J: Job>() -> Self {
        JobType {
            queue: J::queue(),
            retry_policy: J::retry_policy(),
            priority: J::priority(),
            timeout: J::timeout(),
            needs: {
                let mut needs = Needs::default();
                J::needs(&mut needs);
                needs.into_data()
            },
            check: |args| {
                J::deserialize(args)
                    .map(|job| job.unique())
                    .map_err(|error| error.to_string())
            },
            start: |args, ctx| {
                let job: J = serde_json::from_str(args).map_err(|error| error.to_string())?;
                Ok(Box::pin(job.run(ctx)))
            },
        }
    }

    /// Whether `args` decode into the job type's arguments (the error says why not), and if
    /// so, how the type makes a job of them unique ([`Job::unique`]).
    pub(crate) fn check(&self, args: &serde_json::Value) -> Result<Option<Unique>, String> {
        (self.check)(args)
    }

    /// Decodes stored arguments and starts the run.
    pub(crate) fn start(&self, args: &str, ctx: JobContext) -> Result<RunFuture, String> {
        (self.start)(args, ctx)
    }
}

/// The job types a runtime knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    types: Arc<HashMap<&'static str, JobType>>,
}

impl Registry {
    /// Adds (or replaces) the type `J` under `J::NAME`.
    pub fn register<J: Job>(&mut self) {
        Arc::make_mut(&mut self.types).insert(J::NAME, JobType::of::<J>());
    }

    pub(crate) fn get(&self, name: &str) -> Option<&JobType> {
        self.types.get(name)
    }

    /// Why `data` cannot run every registered type: the first value a type needs and `data`
    /// lacks. `None` when it has them all.
    pub(crate) fn unmet_need(&self, data: &AppData) -> Option<String> {
        let (name, need) = self.names().into_iter().find_map(|name| {
            let needs = &self.types[name].needs;
            Some((name, needs.iter().find(|need| !data.has(need.id))?))
        })?;
        Some(format!(
            "job type `{name}` needs a `{}`: give it with StokerBuilder::data",
            need.name
        ))
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.types.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("types", &self.names())
            .finish()
    }
}
