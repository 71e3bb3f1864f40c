//! [`Event`]s: what happened to jobs as this process saw it happen, for applications (and
//! tests) that would rather be told than poll. [`Stoker::events`](crate::Stoker::events)
//! subscribes; nothing is built or sent while nobody listens.
//!
//! An event is sent once the change it tells of is stored: a job's end after its outcome is
//! committed, an enqueue after its transaction (and before the queue hears of it, so a job's
//! `Enqueued` comes before its `Started`). Jobs other servers enqueue or run are theirs to
//! tell of.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::broadcast;

use crate::job::JobId;
use crate::state::JobState;

/// How many events a subscriber may fall behind before it misses the oldest.
const CAPACITY: usize = 4096;

/// Something that happened to job `job` of `workspace`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// The workspace's name.
    pub workspace: String,
    /// The job.
    pub job: JobId,
    /// What happened.
    pub kind: EventKind,
}

/// What happened to a job.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// This process stored it, in `state`: `enqueued`, `scheduled` or `awaiting`.
    Enqueued {
        /// The state it was stored in.
        state: JobState,
    },
    /// A run started (`attempt` 1 for the first).
    Started {
        /// The run's attempt.
        attempt: u32,
    },
    /// A run succeeded.
    Succeeded,
    /// A run failed; the job waits for a retry, or has none left (`failed` or `deleted`).
    Failed {
        /// Whether the retry policy runs it again.
        will_retry: bool,
    },
    /// A run asked to try again later, and the job waits `scheduled`.
    Snoozed,
    /// A person deleted it.
    Deleted,
    /// Recurring job `recurring` created it, at an occurrence or when triggered.
    RecurringFired {
        /// The recurring job's id.
        recurring: String,
    },
}

/// The events of a runtime, from the moment of subscribing. Each subscriber gets every event;
/// one that falls more than 4,096 behind misses the oldest, and [`EventStream::missed`] says
/// how many.
#[derive(Debug)]
pub struct EventStream {
    receiver: broadcast::Receiver<Event>,
    missed: u64,
    listening: Arc<AtomicUsize>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.listening.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EventStream {
    /// The next event; `None` once the runtime is gone.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(missed)) => self.missed += missed,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// How many events this subscriber missed by falling behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

/// Where the runtime's actors send events.
#[derive(Debug)]
pub(crate) struct Events {
    sender: broadcast::Sender<Event>,
    /// Subscribers now: read on every run, where the channel's own count takes a lock.
    listening: Arc<AtomicUsize>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(CAPACITY).0,
            listening: Arc::default(),
        }
    }
}

impl Events {
    /// A new subscriber.
    pub(crate) fn subscribe(&self) -> EventStream {
        self.listening.fetch_add(1, Ordering::Relaxed);
        EventStream {
            receiver: self.sender.subscribe(),
            missed: 0,
            listening: self.listening.clone(),
        }
    }

    /// Sends what `happened` lists for jobs of `workspace`, if anybody listens.
    pub(crate) fn emit(
        &self,
        workspace: &str,
        happened: impl IntoIterator<Item = (i64, EventKind)>,
    ) {
        if self.listening.load(Ordering::Relaxed) == 0 {
            return;
        }
        for (job, kind) in happened {
            let event = Event {
                workspace: workspace.to_owned(),
                job: JobId(job),
                kind,
            };
            // Subscribers may have gone meanwhile; nobody is owed the event then.
            let _ = self.sender.send(event);
        }
    }
}
