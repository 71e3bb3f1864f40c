//! The enqueuing span's trace kept with the job (feature `opentelemetry`): an enqueue writes
//! down the OpenTelemetry context of the span it runs in as a W3C `traceparent`, and each run's
//! `job` span is made that context's child, so that a tracing-opentelemetry user sees the run
//! in the trace of the request that enqueued it. Without the feature nothing is kept, and each
//! run's span starts where the worker is.

/// The `traceparent` of the current span, when it belongs to a trace.
#[cfg(feature = "opentelemetry")]
pub(super) fn current() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let context = tracing::Span::current().context();
    let span = context.span();
    let parent = span.span_context();
    parent.is_valid().then(|| {
        let flags = parent.trace_flags().to_u8();
        format!("00-{}-{}-{flags:02x}", parent.trace_id(), parent.span_id())
    })
}

#[cfg(not(feature = "opentelemetry"))]
pub(super) fn current() -> Option<String> {
    None
}

/// Makes `span` (not yet entered) a child of the span `trace_parent` names. A value that is no
/// `traceparent` (a row written by hand) is passed over: the run starts a trace of its own.
#[cfg(feature = "opentelemetry")]
pub(super) fn adopt(span: &tracing::Span, trace_parent: Option<&str>) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    if let Some(parent) = trace_parent.and_then(parse) {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
}

#[cfg(not(feature = "opentelemetry"))]
pub(super) fn adopt(_span: &tracing::Span, _trace_parent: Option<&str>) {}

/// The span context a W3C `traceparent` of version `00` names, if it is one and valid.
#[cfg(feature = "opentelemetry")]
fn parse(text: &str) -> Option<opentelemetry::trace::SpanContext> {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    let [version, trace, span, flags] = text.split('-').collect::<Vec<_>>()[..] else {
        return None;
    };
    let hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit());
    if version != "00" || !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) {
        return None;
    }
    let context = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

#[cfg(all(test, feature = "opentelemetry"))]
mod tests {
    use super::parse;

    #[test]
    fn a_traceparent_is_read_and_anything_else_is_passed_over() {
        let good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let context = parse(good).expect("a valid traceparent");
        assert_eq!(
            context.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(context.span_id().to_string(), "b7ad6b7169203331");
        assert!(context.is_sampled() && context.is_remote());
        for bad in [
            "",
            "garbage",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333\u{e9}-01",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
