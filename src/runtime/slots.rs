//! [`Slots`]: the server-wide cap on running jobs, shared fairly between workspaces.
//!
//! A workspace's queue takes slots before it claims jobs and gives one back as each job ends.
//! While slots are free, a request gets what it asks for at once. When none are, requests wait
//! in line and each slot given back goes to the oldest request. A queue asks again only after
//! its request was answered, so a busy workspace that gives a slot back joins the line behind
//! the others: with every slot taken by one workspace, another's job starts when the first
//! running job ends, never after all of the busy workspace's backlog.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Running-job slots, a fixed number for the whole server.
pub(crate) struct Slots {
    state: Mutex<State>,
}

struct State {
    free: usize,
    waiting: VecDeque<Request>,
}

struct Request {
    want: usize,
    granted: oneshot::Sender<usize>,
}

/// Slots granted now, or a promise of some later.
pub(crate) enum Grant {
    Now(usize),
    Later(oneshot::Receiver<usize>),
}

impl Slots {
    pub(crate) fn new(total: usize) -> Self {
        Slots {
            state: Mutex::new(State {
                free: total.max(1),
                waiting: VecDeque::new(),
            }),
        }
    }

    /// Asks for up to `want` slots (at least one is granted, when any is). If none are free,
    /// or others wait already, the request waits its turn; dropping the receiver gives up the
    /// request (and the slots it would have got go to the next in line).
    pub(crate) fn take(&self, want: usize) -> Grant {
        let mut state = self.state.lock().expect("slots lock");
        if state.free > 0 && state.waiting.is_empty() {
            let granted = want.min(state.free);
            state.free -= granted;
            return Grant::Now(granted);
        }
        let (granted, receiver) = oneshot::channel();
        state.waiting.push_back(Request { want, granted });
        Grant::Later(receiver)
    }

    /// Gives `count` slots back; they go to the requests waiting, oldest first.
    pub(crate) fn give_back(&self, count: usize) {
        if count == 0 {
            return;
        }
        let mut state = self.state.lock().expect("slots lock");
        state.free += count;
        while state.free > 0 {
            let Some(request) = state.waiting.pop_front() else {
                break;
            };
            let granted = request.want.min(state.free);
            if request.granted.send(granted).is_ok() {
                state.free -= granted;
            }
        }
    }

    /// Slots free now (for diagnostics and tests).
    #[cfg(test)]
    fn free(&self) -> usize {
        self.state.lock().expect("slots lock").free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(grant: Grant) -> oneshot::Receiver<usize> {
        match grant {
            Grant::Later(receiver) => receiver,
            Grant::Now(n) => panic!("expected to wait, got {n} at once"),
        }
    }

    #[test]
    fn free_slots_are_granted_at_once_up_to_what_is_free() {
        let slots = Slots::new(4);
        assert!(matches!(slots.take(3), Grant::Now(3)));
        assert!(matches!(slots.take(3), Grant::Now(1)));
        assert_eq!(slots.free(), 0);
    }

    #[test]
    fn a_slot_given_back_goes_to_the_oldest_request_not_to_the_next_asker() {
        let slots = Slots::new(2);
        assert!(matches!(slots.take(2), Grant::Now(2)));
        let mut other = later(slots.take(1));
        slots.give_back(1);
        assert_eq!(other.try_recv(), Ok(1));
        // The busy workspace asks again: nothing is free, it waits.
        let mut busy = later(slots.take(2));
        slots.give_back(1);
        assert_eq!(busy.try_recv(), Ok(1));
    }

    #[test]
    fn an_abandoned_request_does_not_keep_its_slots() {
        let slots = Slots::new(1);
        assert!(matches!(slots.take(1), Grant::Now(1)));
        drop(later(slots.take(1)));
        let mut next = later(slots.take(1));
        slots.give_back(1);
        assert_eq!(next.try_recv(), Ok(1));
        assert_eq!(slots.free(), 0);
    }
}
