//! Panics in jobs: each becomes a failed attempt with the panic's message, and the process's
//! panic hook stays quiet about it: the worker logs it at error level with the job's fields and
//! where it happened, and the message goes into the job's history. Panics anywhere else still
//! reach the hook that was installed before.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

thread_local! {
    /// Whether this thread is inside a job's code right now.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic in job code on this thread happened, as the hook saw it.
    static LOCATION: Cell<Option<String>> = const { Cell::new(None) };
}

/// A panic in job code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Panic {
    /// The panic's message.
    pub(crate) message: String,
    /// The file, line and column that panicked, when the hook was told.
    pub(crate) location: Option<String>,
}

static INSTALL: Once = Once::new();

/// Chains a hook in front of the current one that only notes where panics inside jobs happen.
fn install_quiet_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| match IN_JOB.with(Cell::get) {
            true => LOCATION.set(info.location().map(ToString::to_string)),
            false => previous(info),
        }));
    });
}

/// Runs `f` as job code: a panic is returned as a [`Panic`].
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    install_quiet_hook();
    let was = IN_JOB.with(|flag| flag.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_JOB.with(|flag| flag.set(was));
    result.map_err(|payload| Panic {
        message: message(payload),
        location: LOCATION.take(),
    })
}

/// A job's future whose polls are job code: a panic ends it with the panic's message.
pub(crate) struct Caught<F: ?Sized>(pub(crate) Pin<Box<F>>);

impl<F: Future + ?Sized> Future for Caught<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match catch(|| future.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// The text of a panic's payload.
fn message(panic: Box<dyn Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_job_code_is_returned_as_its_message() {
        assert_eq!(catch(|| 7), Ok(7));
        let caught = catch(|| -> u8 { panic!("boom {}", 42) }).unwrap_err();
        assert_eq!(caught.message, "boom 42");
        let at = caught.location.expect("the hook saw where");
        assert!(at.starts_with("src/runtime/panics.rs:"), "{at}");
        assert!(!IN_JOB.with(Cell::get), "the flag is reset after the panic");
    }

    #[test]
    fn a_panicking_future_ends_with_the_message() {
        let future = Caught(Box::pin(async { panic!("in a poll") }));
        let polled: Result<(), Panic> = futures::executor::block_on(future);
        assert_eq!(polled.unwrap_err().message, "in a poll");
    }
}
