//! Panics in jobs: each becomes a failed attempt with the panic's message, and the process's
//! panic hook stays quiet about it (the message is in the job's history and the log); panics
//! anywhere else still reach the hook that was installed before.

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
}

static INSTALL: Once = Once::new();

/// Chains a hook that says nothing about panics inside jobs in front of the current one.
fn install_quiet_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_JOB.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Runs `f` as job code: a panic is returned as its message.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_hook();
    let was = IN_JOB.with(|flag| flag.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_JOB.with(|flag| flag.set(was));
    result.map_err(message)
}

/// A job's future whose polls are job code: a panic ends it with the panic's message.
pub(crate) struct Caught<F: ?Sized>(pub(crate) Pin<Box<F>>);

impl<F: Future + ?Sized> Future for Caught<F> {
    type Output = Result<F::Output, String>;

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
        let caught = catch(|| -> u8 { panic!("boom {}", 42) });
        assert_eq!(caught, Err("boom 42".to_owned()));
        assert!(!IN_JOB.with(Cell::get), "the flag is reset after the panic");
    }

    #[test]
    fn a_panicking_future_ends_with_the_message() {
        let future = Caught(Box::pin(async { panic!("in a poll") }));
        let polled: Result<(), String> = futures::executor::block_on(future);
        assert_eq!(polled, Err("in a poll".to_owned()));
    }
}
