//! [`MetricsLayer`]: counts the `login`, `renewal`, `resume` and `logout` spans of `twofa-core`
//! as they finish.

use std::sync::Arc;

use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id},
};
use tracing_subscriber::{
    Layer,
    filter::{FilterFn, Filtered},
    layer::Context,
    registry::LookupSpan,
};

use super::{Metrics, Operation};

/// A `tracing` layer that feeds [`Metrics`] from `twofa-core`'s operation spans: each span's
/// `finished` event gives its outcome, or its error's kind.
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

/// The layer for `metrics`, with its own filter: it sees `twofa-core`'s INFO spans whatever level
/// the process logs at (give the log output its own filter too, with
/// [`Layer::with_filter`], rather than a global one).
pub fn layer<S>(metrics: Arc<Metrics>) -> Filtered<MetricsLayer, FilterFn, S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let ours: FilterFn = FilterFn::new(|m| m.target().starts_with("twofa_core") && *m.level() <= Level::INFO);
    MetricsLayer { metrics }.with_filter(ours)
}

/// What the layer keeps of an operation span.
struct OperationSpan {
    operation: Operation,
    provider: String,
}

/// Picks `provider`, or `outcome` and `kind`, out of fields.
#[derive(Default)]
struct Fields {
    provider: Option<String>,
    outcome: Option<String>,
    kind: Option<String>,
    message: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "provider" => &mut self.provider,
            "outcome" => &mut self.outcome,
            "kind" => &mut self.kind,
            _ => return,
        };
        *slot = Some(value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        }
    }
}

impl<S> Layer<S> for MetricsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(operation) = Operation::from_name(attrs.metadata().name()) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(span), Some(provider)) = (ctx.span(id), fields.provider) {
            span.extensions_mut().insert(OperationSpan { operation, provider });
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(outcome) = fields.outcome.filter(|_| fields.message.as_deref() == Some("finished")) else { return };
        let Some(span) = ctx.event_span(event) else { return };
        let extensions = span.extensions();
        let Some(op) = extensions.get::<OperationSpan>() else { return };
        let result = match outcome.as_str() {
            "error" => Err(fields.kind.as_deref().unwrap_or("unknown")),
            how => Ok(how),
        };
        self.metrics.operation(op.operation, &op.provider, result);
    }
}
