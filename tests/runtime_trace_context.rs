//! The `opentelemetry` feature: a job's run continues the trace of the span that enqueued it,
//! as a tracing-opentelemetry user sees it in what the tracer exports. (`scripts/test` runs
//! the suite with the feature; without it this file has no test.)
#![cfg(feature = "opentelemetry")]

mod common;

use common::{PATIENCE, Record, Runs, builder, events_of, wait_for};
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use stoker::EventKind;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// Sends every `tracing` span of the process to an OpenTelemetry tracer whose finished spans
/// the test reads back. Global: the runs' spans open on the workers' threads.
fn export_spans() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("stoker-test"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();
    (provider, exporter)
}

/// The finished span named `name`, once there is one.
async fn finished(exporter: &InMemorySpanExporter, name: &str) -> SpanData {
    wait_for(&format!("span {name} to end"), PATIENCE, || async {
        let spans = exporter.get_finished_spans().unwrap();
        spans.into_iter().find(|span| span.name == name)
    })
    .await
}

#[actix_rt::test]
async fn a_run_is_a_child_of_the_span_that_enqueued_it_and_a_job_enqueued_outside_a_trace_starts_one()
 {
    let (_provider, exporter) = export_spans();
    let dir = tempfile::tempdir().unwrap();
    let stoker = builder(dir.path(), &Runs::default()).build().unwrap();
    let mut events = stoker.events();
    let workspace = stoker.workspace("traced").await.unwrap();

    let request = tracing::info_span!("request");
    let job = Record {
        key: "traced".into(),
    };
    let traced = workspace.enqueue(job).instrument(request).await.unwrap();
    events_of(&mut events, traced, &EventKind::Succeeded).await;
    let request = finished(&exporter, "request").await;
    let run = finished(&exporter, "job").await;
    assert_eq!(run.span_context.trace_id(), request.span_context.trace_id());
    assert_eq!(run.parent_span_id, request.span_context.span_id());
    exporter.reset();

    let alone = workspace
        .enqueue(Record {
            key: "alone".into(),
        })
        .await
        .unwrap();
    events_of(&mut events, alone, &EventKind::Succeeded).await;
    let run = finished(&exporter, "job").await;
    assert_eq!(run.parent_span_id, SpanId::INVALID);
    assert_ne!(run.span_context.trace_id(), request.span_context.trace_id());
    stoker.shutdown().await;
}
