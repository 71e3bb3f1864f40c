//! [`Clock`]: where the runtime reads the time. The system clock in production; a
//! [`ManualClock`] in tests that need to jump over an outage or wait for a schedule without
//! waiting in real time. The scheduler watches a manual clock and re-checks what is due
//! whenever it is moved.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

/// The instant `millis` milliseconds after the Unix epoch, as stored (the epoch if out of range).
pub(crate) fn from_millis(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;

    /// A signal that fires when the clock is moved by hand; `None` for clocks that only tick.
    fn moved(&self) -> Option<watch::Receiver<()>> {
        None
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is set or advanced.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    moved: watch::Sender<()>,
}

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(now),
            moved: watch::Sender::new(()),
        }
    }

    /// Shows `now` from here on.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().expect("clock lock") = now;
        self.moved.send_replace(());
    }

    /// What the clock shows, plus `by`.
    pub fn now_plus(&self, by: Duration) -> DateTime<Utc> {
        self.now() + by
    }

    /// Moves the clock by `by` (backwards when negative).
    pub fn advance(&self, by: Duration) {
        let now = self.now() + by;
        self.set(now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    fn moved(&self) -> Option<watch::Receiver<()>> {
        Some(self.moved.subscribe())
    }
}

/// A stream that yields each time `clock` is moved by hand; `None` for clocks that only tick.
pub(crate) fn moves(clock: &dyn Clock) -> Option<impl futures::Stream<Item = ()> + use<>> {
    let moved = clock.moved()?;
    Some(futures::stream::unfold(moved, |mut moved| async move {
        moved.changed().await.ok()?;
        Some(((), moved))
    }))
}
