//! [`OpsLayer`]: a `tracing` layer that watches the `login`, `renewal`, `resume` and `logout`
//! spans of `twofa-core` as they finish, counting them in [`Metrics`] and writing renewals and
//! resumes to an [`AuditLog`].

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

use crate::{
    audit::{Action, AuditLog, Record},
    metrics::{Metrics, Operation},
};

/// A `tracing` layer fed by `twofa-core`'s operation spans: each span's `finished` event gives
/// its outcome, or its error's kind. It counts every operation in its [`Metrics`], and writes a
/// line to its [`AuditLog`] for each renewal that renewed (a refresh or a new login; not a session
/// adopted from another process, which audits its own) and each resume. Logins, logouts and token
/// hand-outs are audited by the program that does them, which knows the subject and the token.
#[derive(Debug, Clone, Default)]
pub struct OpsLayer {
    metrics: Option<Arc<Metrics>>,
    audit: Option<(Arc<AuditLog>, String)>,
}

impl OpsLayer {
    /// A layer that does nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts the operations in `metrics`.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Writes renewals and resumes to `audit`, as done by `actor` (`cli:token`, `proxy`…).
    pub fn audit(mut self, audit: Arc<AuditLog>, actor: impl Into<String>) -> Self {
        self.audit = Some((audit, actor.into()));
        self
    }

    /// The layer with its own filter: it sees `twofa-core`'s INFO spans whatever level the process
    /// logs at (give the log output its own filter too, with [`Layer::with_filter`], rather than a
    /// global one).
    pub fn filtered<S>(self) -> Filtered<Self, FilterFn, S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let ours: FilterFn = FilterFn::new(|m| m.target().starts_with("twofa_core") && *m.level() <= Level::INFO);
        self.with_filter(ours)
    }

    fn write(&self, op: &OperationSpan, outcome: Result<&str, &str>) {
        let Some((audit, actor)) = &self.audit else { return };
        let (Some(profile), action) = (op.profile.as_deref(), op.operation) else { return };
        let action = match (action, outcome) {
            (Operation::Resume, _) => Action::Resume,
            (Operation::Renewal, Ok("adopted" | "kept_current" | "resumed")) => return,
            (Operation::Renewal, _) => Action::Renewal,
            _ => return,
        };
        let record = Record::new(action, profile, &op.provider, actor).with_outcome(outcome.err().unwrap_or("ok"));
        if let Err(e) = audit.append(&record) {
            tracing::warn!(error = %e, "cannot write the audit line");
        }
    }
}

/// What the layer keeps of an operation span.
struct OperationSpan {
    operation: Operation,
    provider: String,
    profile: Option<String>,
}

/// Picks `provider`, or `outcome` and `kind`, out of fields.
#[derive(Default)]
struct Fields {
    provider: Option<String>,
    profile: Option<String>,
    outcome: Option<String>,
    kind: Option<String>,
    message: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let slot = match field.name() {
            "provider" => &mut self.provider,
            "profile" => &mut self.profile,
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

impl<S> Layer<S> for OpsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(operation) = Operation::from_name(attrs.metadata().name()) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(span), Some(provider)) = (ctx.span(id), fields.provider) {
            span.extensions_mut().insert(OperationSpan { operation, provider, profile: fields.profile });
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
        if let Some(metrics) = &self.metrics {
            metrics.operation(op.operation, &op.provider, result);
        }
        self.write(op, result);
    }
}
