//! The Keeper actor, one per runtime: it keeps the set of open workspaces small. It releases
//! workspaces that stayed idle for the idle timeout (and, with more open than the cap, the
//! longest idle of those quiet for a moment), keeps the index of when each released
//! (or never opened) workspace of its own store is next due, and opens each again at that
//! instant. When the runtime starts it finds the workspaces in storage and learns when each
//! is due. A shared store needs no such index: its housekeeping covers every workspace, and
//! tells the Keeper which ones got jobs. It also forwards what PostgreSQL listeners hear. A
//! workspace that got jobs is woken if it is open, else opened: in rounds, a few at a time,
//! under the cap.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix::prelude::*;
use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;

use super::housekeeping::Woken;
use super::stoker::{CROWDED_QUIET, Inner, OPENING_AT_ONCE, Stoker};
use super::supervisor::Stop;
use crate::name::WorkspaceName;
use crate::storage::Notice;

/// The most often idle workspaces are looked for.
const SWEEP_AT_MOST_EVERY: Duration = Duration::from_millis(100);
/// The least often idle workspaces are looked for.
const SWEEP_AT_LEAST_EVERY: Duration = Duration::from_secs(10);

/// When each workspace that is not open is next due (`None`: not by itself), and how it came
/// to be dormant.
#[derive(Default)]
pub(super) struct Dormant {
    due: HashMap<WorkspaceName, (Option<i64>, Released)>,
    by_time: BTreeSet<(i64, WorkspaceName)>,
}

/// How a workspace came to be dormant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Released {
    /// This process shut it down after it was idle: nothing of it was left running.
    Here,
    /// Found in storage: a process that died may have left jobs running.
    Found,
}

impl Dormant {
    pub(super) fn insert(&mut self, name: WorkspaceName, due: Option<i64>, released: Released) {
        self.remove(&name);
        if let Some(at) = due {
            self.by_time.insert((at, name.clone()));
        }
        self.due.insert(name, (due, released));
    }

    /// Takes `name` out of the index; says how it got there, if it was there.
    pub(super) fn remove(&mut self, name: &WorkspaceName) -> Option<Released> {
        let (due, released) = self.due.remove(name)?;
        if let Some(at) = due {
            self.by_time.remove(&(at, name.clone()));
        }
        Some(released)
    }

    /// How `name` came to be dormant, if it is.
    pub(super) fn released(&self, name: &WorkspaceName) -> Option<Released> {
        self.due.get(name).map(|(_, how)| *how)
    }

    pub(super) fn names(&self) -> impl Iterator<Item = &WorkspaceName> {
        self.due.keys()
    }

    fn earliest(&self) -> Option<i64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// The workspaces due at `now`, taken out of the index.
    fn take_due(&mut self, now: i64) -> Vec<WorkspaceName> {
        let due: Vec<WorkspaceName> = self
            .by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, name)| name.clone())
            .collect();
        for name in &due {
            // Still known: opening it takes it out, and a failed open puts it back.
            let released = self.released(name).unwrap_or(Released::Found);
            self.insert(name.clone(), None, released);
        }
        due
    }
}

pub(super) struct Keeper {
    stoker: Weak<Inner>,
    notices: Option<UnboundedReceiver<Notice>>,
    alarm: Option<SpawnHandle>,
    sweeping: bool,
    /// Workspaces that got jobs while released, waiting to be opened. They are opened in
    /// rounds, one round at a time and a few at once within it, so that a burst of news (on
    /// PostgreSQL a notification per job) opens them in turn under the cap, not all at once
    /// over it.
    to_open: BTreeSet<String>,
    opening: bool,
}

impl Keeper {
    /// Starts the keeper of `stoker` on its control arbiter.
    pub(super) fn start_for(stoker: &Stoker, notices: UnboundedReceiver<Notice>) {
        let keeper = Keeper {
            stoker: Arc::downgrade(&stoker.inner),
            notices: Some(notices),
            alarm: None,
            sweeping: false,
            to_open: BTreeSet::new(),
            opening: false,
        };
        let addr = Keeper::start_in_arbiter(&stoker.inner.settings.control, |_| keeper);
        let _ = stoker.inner.keeper.set(addr.clone());
        // Once its address is known: discovery may start a shared store's housekeeping,
        // which reports to it.
        addr.do_send(Discover);
    }

    fn stoker(&self) -> Option<Stoker> {
        let inner = self.stoker.upgrade()?;
        let stoker = Stoker { inner };
        (!stoker.is_closed()).then_some(stoker)
    }

    /// Releases the open workspaces that are idle, one after the other.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let Some(stoker) = self.stoker() else { return };
        if self.sweeping {
            return;
        }
        self.sweeping = true;
        let settings = &stoker.inner.settings;
        let open = stoker.inner.workspaces.len();
        // Over the cap, the longest idle go first, once they have been quiet a moment.
        let (quiet, excess) = match open.checked_sub(settings.max_open) {
            Some(excess) if excess > 0 => (CROWDED_QUIET.min(settings.idle_timeout), excess),
            _ => (settings.idle_timeout, 0),
        };
        let long_idle = settings.idle_timeout;
        let mut idle: Vec<(u64, bool, WorkspaceName)> = stoker
            .inner
            .workspaces
            .iter()
            .filter(|entry| entry.value().releasable(quiet))
            .map(|entry| {
                let workspace = entry.value();
                let long = workspace.releasable(long_idle);
                (workspace.last_active(), long, entry.key().clone())
            })
            .collect();
        idle.sort_unstable();
        let mut crowding = excess;
        idle.retain(|(_, long, _)| {
            let take = *long || crowding > 0;
            crowding = crowding.saturating_sub(1);
            take
        });
        let work = async move {
            futures::stream::iter(idle)
                .for_each_concurrent(OPENING_AT_ONCE, |(_, _, name)| {
                    let stoker = stoker.clone();
                    async move {
                        stoker.release_if_idle(&name, quiet).await;
                    }
                })
                .await;
        };
        ctx.spawn(work.into_actor(self).map(|(), keeper, ctx| {
            keeper.sweeping = false;
            keeper.arm(ctx);
        }));
    }

    /// Tells the open workspaces among `names` that they have jobs, and opens the others.
    fn wake(&mut self, names: impl IntoIterator<Item = String>, ctx: &mut Context<Self>) {
        let Some(stoker) = self.stoker() else { return };
        for name in names {
            let Ok(workspace) = WorkspaceName::new(&name) else {
                continue;
            };
            match stoker.open_workspace(&workspace) {
                Some(open) => open.wake(),
                None => {
                    self.to_open.insert(name);
                }
            }
        }
        self.open_woken(ctx);
    }

    /// Opens the workspaces in `to_open`, unless a round of that is under way already; the
    /// news that arrives meanwhile goes in the next round.
    fn open_woken(&mut self, ctx: &mut Context<Self>) {
        if self.opening || self.to_open.is_empty() {
            return;
        }
        let Some(stoker) = self.stoker() else { return };
        self.opening = true;
        let names = std::mem::take(&mut self.to_open);
        let work = async move { stoker.wake_each(names).await };
        ctx.spawn(work.into_actor(self).map(|(), keeper, ctx| {
            keeper.opening = false;
            keeper.open_woken(ctx);
        }));
    }

    /// Sets the alarm for the earliest due workspace.
    fn arm(&mut self, ctx: &mut Context<Self>) {
        if let Some(alarm) = self.alarm.take() {
            ctx.cancel_future(alarm);
        }
        let Some(stoker) = self.stoker() else { return };
        let Some(at) = stoker.dormant().earliest() else {
            return;
        };
        let wait = (at - stoker.inner.settings.now_ms()).max(0) as u64;
        self.alarm = Some(ctx.run_later(Duration::from_millis(wait), |keeper, ctx| {
            keeper.alarm = None;
            keeper.open_due(ctx);
        }));
    }

    /// Opens the workspaces that are due; their schedulers take it from there.
    fn open_due(&mut self, ctx: &mut Context<Self>) {
        let Some(stoker) = self.stoker() else { return };
        let due = stoker.dormant().take_due(stoker.inner.settings.now_ms());
        let work = async move {
            let open = |name: WorkspaceName| {
                let stoker = stoker.clone();
                async move {
                    let _room = stoker.room().await;
                    if let Err(error) = stoker.workspace(name.as_str()).await {
                        tracing::error!(workspace = %name, %error, "cannot open a due workspace");
                        let retry = stoker.inner.settings.now_ms() + 1000;
                        stoker.dormant().insert(name, Some(retry), Released::Found);
                    }
                }
            };
            futures::stream::iter(due)
                .for_each_concurrent(OPENING_AT_ONCE, open)
                .await;
        };
        ctx.spawn(work.into_actor(self).map(|(), keeper, ctx| keeper.arm(ctx)));
    }

    /// Learns of the workspaces found in storage: when each of its own store is due, or,
    /// in a shared store, which have jobs waiting.
    fn discover(&mut self, ctx: &mut Context<Self>) {
        let Some(stoker) = self.stoker() else { return };
        let work = async move {
            let found = async {
                let store = stoker.store_housekeeping().await?;
                Ok::<_, crate::Error>((store, stoker.inner.settings.databases.workspaces().await?))
            };
            let (store, names) = match found.await {
                Ok(found) => found,
                Err(error) => {
                    tracing::error!(%error, "cannot list the workspaces in storage");
                    return;
                }
            };
            let unknown = |name: &WorkspaceName| {
                stoker.dormant().released(name).is_none()
                    && !stoker.inner.workspaces.contains_key(name)
            };
            if store.is_some() {
                for name in names.into_iter().filter(unknown) {
                    stoker.dormant().insert(name, None, Released::Found);
                }
                stoker.wake_waiting().await;
                return;
            }
            for name in names {
                if stoker.dormant().released(&name).is_none() {
                    stoker.look_up_due(&name).await;
                }
            }
        };
        ctx.spawn(work.into_actor(self).map(|(), keeper, ctx| keeper.arm(ctx)));
    }
}

impl Stoker {
    /// The index of workspaces that are not open.
    pub(super) fn dormant(&self) -> std::sync::MutexGuard<'_, Dormant> {
        self.inner.dormant.lock().expect("dormant index lock")
    }
}

impl Actor for Keeper {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(notices) = self.notices.take() {
            ctx.add_stream(notices);
        }
        if let Some(stoker) = self.stoker() {
            if let Some(moves) = crate::clock::moves(stoker.inner.settings.clock.as_ref()) {
                ctx.add_stream(moves);
            }
            let every = (stoker.inner.settings.idle_timeout / 4)
                .clamp(SWEEP_AT_MOST_EVERY, SWEEP_AT_LEAST_EVERY);
            ctx.run_interval(every, Keeper::sweep);
        }
    }
}

/// What a database's listener heard.
impl StreamHandler<Notice> for Keeper {
    fn handle(&mut self, notice: Notice, ctx: &mut Context<Self>) {
        let Some(stoker) = self.stoker() else { return };
        match notice {
            Notice::Reconnected(None) => {
                stoker.wake_all();
                let work = async move { stoker.wake_waiting().await };
                ctx.spawn(work.into_actor(self));
            }
            // A workspace's own database: only its queue may have missed something (and a
            // workspace that just opened has looked already).
            Notice::Reconnected(Some(name)) => {
                let open = WorkspaceName::new(&name)
                    .ok()
                    .and_then(|name| stoker.open_workspace(&name));
                if let Some(workspace) = open {
                    workspace.wake();
                }
            }
            Notice::Enqueued(name) => self.wake([name], ctx),
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {}
}

/// The clock was moved by hand: what is due may have changed.
impl StreamHandler<()> for Keeper {
    fn handle(&mut self, (): (), ctx: &mut Context<Self>) {
        self.arm(ctx);
    }

    fn finished(&mut self, _: &mut Context<Self>) {}
}

/// Find the workspaces in storage (see [`Keeper::discover`]).
#[derive(Message)]
#[rtype(result = "()")]
struct Discover;

impl Handler<Discover> for Keeper {
    type Result = ();

    fn handle(&mut self, _: Discover, ctx: &mut Context<Self>) {
        self.discover(ctx);
    }
}

/// The housekeeping of a shared store enqueued jobs of these workspaces.
impl Handler<Woken> for Keeper {
    type Result = ();

    fn handle(&mut self, Woken(keys): Woken, ctx: &mut Context<Self>) {
        self.wake(keys, ctx);
    }
}

/// More workspaces are open than the cap: release the longest idle.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Crowded;

impl Handler<Crowded> for Keeper {
    type Result = ();

    fn handle(&mut self, _: Crowded, ctx: &mut Context<Self>) {
        self.sweep(ctx);
    }
}

impl Handler<Stop> for Keeper {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
