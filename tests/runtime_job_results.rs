//! What a run returns and what the application's logs show of it: any error through `?` with
//! its chain, a snooze that spends no attempt, and each run inside a `job` span whose failures
//! and panics are logged with the job's fields.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use common::{Explode, FailTimes, PATIENCE, Runs, builder, events_of, wait_for, wait_for_state};
use serde::{Deserialize, Serialize};
use stoker::{EventKind, Job, JobContext, JobError, JobState, Needs, RetryPolicy};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Reads an invoice file that is not there, through `anyhow`.
#[derive(Serialize, Deserialize)]
struct LoadInvoice {}

impl Job for LoadInvoice {
    const NAME: &'static str = "load_invoice";

    fn retry_policy() -> RetryPolicy {
        RetryPolicy::attempts(0)
    }

    async fn run(self, _: JobContext) -> Result<(), JobError> {
        std::fs::read("/nonexistent/invoice-7.json").context("loading invoice 7")?;
        Ok(())
    }
}

/// Snoozes for `ms` on its first run, then succeeds.
#[derive(Serialize, Deserialize)]
struct SnoozeOnce {
    ms: u64,
}

impl Job for SnoozeOnce {
    const NAME: &'static str = "snooze_once";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let runs = ctx.data::<Runs>().expect("Runs registered");
        runs.record(ctx.workspace(), "snooze_once");
        match runs.count(ctx.workspace(), "snooze_once") {
            1 => Err(JobError::snooze(Duration::from_millis(self.ms))),
            _ => Ok(()),
        }
    }
}

/// Who was mailed.
#[derive(Default)]
struct Mailer(Mutex<Vec<String>>);

/// Mails `to` through the application's [`Mailer`].
#[derive(Serialize, Deserialize)]
struct Welcome {
    to: String,
}

impl Job for Welcome {
    const NAME: &'static str = "welcome";

    fn needs(needs: &mut Needs) {
        needs.data::<Mailer>();
    }

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        ctx.needed::<Mailer>()?.0.lock().unwrap().push(self.to);
        Ok(())
    }
}

#[actix_rt::test]
async fn a_runtime_without_the_data_a_job_type_needs_is_refused_when_built() {
    let dir = tempfile::tempdir().unwrap();
    let without = builder(dir.path(), &Runs::default()).register::<Welcome>();
    let Err(stoker::Error::InvalidConfig(reason)) = without.build() else {
        panic!("a runtime without its Mailer was built");
    };
    assert!(reason.contains("`welcome` needs"), "{reason}");
    assert!(reason.contains("Mailer"), "{reason}");

    let mailer = Arc::new(Mailer::default());
    let stoker = builder(dir.path(), &Runs::default())
        .register::<Welcome>()
        .shared_data(mailer.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("welcomes").await.unwrap();
    let to = "ada@example.com".to_owned();
    let id = workspace.enqueue(Welcome { to: to.clone() }).await.unwrap();
    wait_for_state(&workspace, id, JobState::Succeeded).await;
    assert_eq!(*mailer.0.lock().unwrap(), [to]);
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn an_anyhow_error_through_question_mark_fails_the_job_with_its_whole_chain() {
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default())
        .register::<LoadInvoice>()
        .build()
        .unwrap();
    let workspace = stoker.workspace("chains").await.unwrap();

    let id = workspace.enqueue(LoadInvoice {}).await.unwrap();
    wait_for_state(&workspace, id, JobState::Failed).await;
    let reason = workspace.job(id).await.unwrap().summary.reason.unwrap();
    assert!(
        reason.starts_with("loading invoice 7: No such file"),
        "reason: {reason}"
    );
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_snoozed_job_waits_scheduled_and_runs_again_without_spending_an_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let runs = Runs::default();
    let stoker = builder(dir.path(), &runs)
        .register::<SnoozeOnce>()
        .poll_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut events = stoker.events();
    let workspace = stoker.workspace("snoozes").await.unwrap();

    let id = workspace.enqueue(SnoozeOnce { ms: 200 }).await.unwrap();
    let told = events_of(&mut events, id, &EventKind::Succeeded).await;
    let started = EventKind::Started { attempt: 1 };
    assert_eq!(
        told[1..],
        [
            started.clone(),
            EventKind::Snoozed,
            started,
            EventKind::Succeeded
        ]
    );
    let job = workspace.job(id).await.unwrap();
    assert_eq!(runs.count("snoozes", "snooze_once"), 2);
    assert_eq!(job.summary.attempt, 1, "the snoozed run is not counted");
    let snoozed = job
        .history
        .iter()
        .find(|entry| entry.state == JobState::Scheduled)
        .expect("a scheduled entry");
    assert_eq!(snoozed.reason.as_deref(), Some("snoozed for 200 ms"));
    assert!(
        !job.history
            .iter()
            .any(|entry| entry.state == JobState::Failed),
        "a snooze is no failure: {:#?}",
        job.history
    );
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_failed_run_is_logged_at_warn_inside_a_job_span_with_the_jobs_fields() {
    let logs = captured();
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("logged").await.unwrap();

    let id = workspace.enqueue(FailTimes { times: 1 }).await.unwrap();
    let warning = wait_for("the failure's warning", PATIENCE, async || {
        logs.find(Level::WARN, "job failed: it will be retried", "logged")
    })
    .await;
    assert_eq!(warning.fields["error"], "failure 1 of 1");
    let span = &warning.span;
    assert_eq!(span["id"], id.0.to_string());
    assert_eq!(span["type"], "fail_times");
    assert_eq!(span["queue"], "default");
    assert_eq!(span["attempt"], "1");
    wait_for_state(&workspace, id, JobState::Succeeded).await;
    stoker.shutdown().await;
}

#[actix_rt::test]
async fn a_panic_is_logged_at_error_with_where_it_happened() {
    let logs = captured();
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let workspace = stoker.workspace("panicked").await.unwrap();

    workspace.enqueue(Explode {}).await.unwrap();
    let panic = wait_for("the panic's error", PATIENCE, async || {
        logs.find(Level::ERROR, "job panicked", "panicked")
    })
    .await;
    assert_eq!(panic.fields["error"], "panicked: the boiler burst");
    let location = &panic.fields["location"];
    assert!(location.contains("tests/common/mod.rs:"), "{location}");
    assert_eq!(panic.span["type"], "explode");
    stoker.shutdown().await;
}

/// An event as a subscriber saw it: its fields, and those of the `job` span it is in.
#[derive(Clone, Debug)]
struct Logged {
    level: Level,
    fields: HashMap<String, String>,
    span: HashMap<String, String>,
}

/// Every event logged inside a `job` span, since [`captured`] installed the subscriber.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<Logged>>>);

impl Logs {
    /// The first event at `level` with `message` inside a job of `workspace`.
    fn find(&self, level: Level, message: &str, workspace: &str) -> Option<Logged> {
        let logged = self.0.lock().unwrap();
        logged
            .iter()
            .find(|event| {
                event.level == level
                    && event.fields.get("message").map(String::as_str) == Some(message)
                    && event.span.get("workspace").map(String::as_str) == Some(workspace)
            })
            .cloned()
    }
}

/// The process's subscriber, installed once: stoker's actors run on threads of their own.
fn captured() -> Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::registry().with(logs.clone());
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
    .clone()
}

/// Fields as text, by name.
#[derive(Default)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Logs {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event).filter(|span| span.name() == "job") else {
            return;
        };
        let span = span
            .extensions()
            .get::<Fields>()
            .map(|fields| fields.0.clone());
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push(Logged {
            level: *event.metadata().level(),
            fields: fields.0,
            span: span.unwrap_or_default(),
        });
    }
}
