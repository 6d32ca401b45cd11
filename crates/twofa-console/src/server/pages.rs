//! The console's pages, rendered on the server: no script at all, forms posted the old way.

use std::fmt::Write as _;

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use twofa_core::time::OffsetDateTime;

use super::{
    accounts::{Account, SessionState, idle_deadline},
    html::{absolute, duration, relative, text},
    registry::{Entry, Event, Origin, Phase},
};

/// Which page, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// `/`
    Sessions,
    /// `/pending`
    Pending,
    /// `/enrolment`
    Enrolment,
}

/// What every page shows besides its body.
#[derive(Debug)]
pub struct Frame<'a> {
    /// The CSRF token the forms carry.
    pub csrf: &'a str,
    /// How many entries wait, for the navigation badge.
    pub waiting: usize,
    /// The recent events.
    pub events: &'a [Event],
    /// The time the page is rendered at.
    pub now: OffsetDateTime,
}

fn layout(title: &str, tab: Option<(Tab, usize)>, refresh: Option<u32>, body: &str) -> String {
    let mut page = String::with_capacity(body.len() + 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{} · twofa console</title>\
         <link rel=\"stylesheet\" href=\"/static/console.css\">",
        text(title)
    );
    if let Some(secs) = refresh {
        let _ = write!(page, "<meta http-equiv=\"refresh\" content=\"{secs}\">");
    }
    page.push_str("</head><body><header><span class=\"brand\">twofa console</span>");
    if let Some((current, waiting)) = tab {
        page.push_str("<nav>");
        let badge = if waiting > 0 { format!(" <span class=\"badge\">{waiting}</span>") } else { String::new() };
        for (t, href, label) in [
            (Tab::Sessions, "/", "Sessions".to_owned()),
            (Tab::Pending, "/pending", format!("Pending codes{badge}")),
            (Tab::Enrolment, "/enrolment", "Authenticator enrolment".to_owned()),
        ] {
            let here = if t == current { " aria-current=\"page\"" } else { "" };
            let _ = write!(page, "<a href=\"{href}\"{here}>{label}</a>");
        }
        page.push_str("</nav>");
    }
    let _ = writeln!(page, "</header><main><h1>{}</h1>{body}</main></body></html>", text(title));
    page
}

fn html(status: StatusCode, page: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// A page that says what went wrong, with `status`.
pub fn error(status: StatusCode, title: &str, explanation: &str) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p class=\"muted\">HTTP {}</p><p><a href=\"/\">Back to the console</a></p>",
        text(explanation),
        status.as_u16()
    );
    html(status, layout(title, None, None, &body))
}

fn events(frame: &Frame<'_>) -> String {
    if frame.events.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section class=\"events\"><h2>Recent</h2><ul>");
    for e in frame.events.iter().take(8) {
        let class = if e.ok { "ok" } else { "error" };
        let _ = write!(
            out,
            "<li class=\"{class}\"><time title=\"{}\">{}</time> <b>{}</b>: {}</li>",
            absolute(e.at),
            relative(e.at, frame.now),
            text(&e.profile),
            text(&e.text)
        );
    }
    out.push_str("</ul></section>");
    out
}

fn csrf_field(frame: &Frame<'_>) -> String {
    format!("<input type=\"hidden\" name=\"csrf\" value=\"{}\">", text(frame.csrf))
}

/// The Sessions page.
pub fn sessions(frame: &Frame<'_>, accounts: &[Account], problem: Option<&str>) -> Response {
    let mut body = String::new();
    if let Some(problem) = problem {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", text(problem));
    }
    if accounts.is_empty() {
        body.push_str(
            "<p>No profiles yet. Log one in with <code>twofa login …</code>, or let a bot ask for a code: \
             its challenge shows under <a href=\"/pending\">Pending codes</a>.</p>",
        );
    } else {
        body.push_str(
            "<table><thead><tr><th>Profile</th><th>Provider</th><th>User</th><th>State</th><th>Expires</th>\
             <th>Idle deadline</th><th>Last renewal</th><th></th></tr></thead><tbody>",
        );
        for a in accounts {
            body.push_str(&account_row(frame, a));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str(&events(frame));
    html(StatusCode::OK, layout("Sessions", Some((Tab::Sessions, frame.waiting)), None, &body))
}

fn when(at: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    match at {
        Some(at) => format!("<time title=\"{}\">{}</time>", absolute(at), relative(at, now)),
        None => "—".to_owned(),
    }
}

fn account_row(frame: &Frame<'_>, a: &Account) -> String {
    let now = frame.now;
    let state = SessionState::of(a.session.as_ref(), now);
    let session = a.session.as_ref();
    let mut row = format!(
        "<tr id=\"profile-{p}\"><td>{p}</td><td>{}</td><td>{}</td><td><span class=\"state {s}\">{s}</span></td><td>{}</td><td>{}</td><td>{}</td><td class=\"actions\">",
        text(&a.provider),
        text(&a.user),
        when(session.and_then(twofa_core::Session::expires_at), now),
        when(session.and_then(idle_deadline), now),
        when(session.map(twofa_core::Session::issued_at), now),
        p = text(&a.profile),
        s = state.label(),
    );
    let csrf = csrf_field(frame);
    if a.can_log_in && !matches!(state, SessionState::Valid) {
        let password = if a.asks_password {
            "<input type=\"password\" name=\"password\" autocomplete=\"off\" placeholder=\"password\" aria-label=\"password\" required>"
        } else {
            ""
        };
        let _ = write!(
            row,
            "<form method=\"post\" action=\"/sessions/{}/login\">{csrf}{password}<button>Log in</button></form>",
            text(&a.profile)
        );
    }
    if session.is_some() {
        let _ = write!(
            row,
            "<form method=\"post\" action=\"/sessions/{}/logout\">{csrf}<button class=\"secondary\">Log out</button></form>",
            text(&a.profile)
        );
    }
    row.push_str("</td></tr>");
    row
}

/// A problem with a code the person typed, shown on its entry.
#[derive(Debug)]
pub struct FormError<'a> {
    /// The entry.
    pub id: &'a str,
    /// What is wrong.
    pub message: String,
}

/// The person's word for a delivery method.
fn delivery(method: &str) -> &str {
    match method {
        "email" => "e-mail",
        "sms" => "SMS",
        "email_or_sms" => "e-mail or SMS",
        "authenticator" => "authenticator app",
        "security_pin" => "security PIN",
        other => other,
    }
}

/// The Pending codes page; `status` is 200, or the 4xx of a refused form.
pub fn pending(
    frame: &Frame<'_>,
    entries: &[std::sync::Arc<Entry>],
    status: StatusCode,
    form_error: Option<FormError<'_>>,
) -> Response {
    let now = frame.now;
    let mut body = String::new();
    if entries.is_empty() {
        body.push_str("<p>No login is waiting for a code. This page refreshes by itself.</p>");
    }
    for e in entries {
        body.push_str(&entry_card(frame, e, form_error.as_ref().filter(|f| f.id == e.id)));
    }
    body.push_str(&events(frame));
    // Refresh by itself only while nobody has a field to type into (a refresh would wipe it).
    let typing = entries.iter().any(|e| e.wants_code(now));
    let refresh = (!typing).then_some(if entries.is_empty() { 3 } else { 1 });
    html(status, layout("Pending codes", Some((Tab::Pending, frame.waiting)), refresh, &body))
}

fn entry_card(frame: &Frame<'_>, e: &Entry, form_error: Option<&FormError<'_>>) -> String {
    let now = frame.now;
    let origin = match e.origin {
        Origin::Bot => "bot",
        Origin::Console => "this console",
    };
    let left = time_left(e.expires_at, now);
    let hint = e.hint.as_deref().map_or("—".to_owned(), text);
    let mut card = format!(
        "<section class=\"card\" id=\"pending-{p}\"><h2>{p} <span class=\"tag\">{origin}</span></h2><dl>\
         <dt>Provider</dt><dd>{}</dd><dt>Delivery</dt><dd>{}</dd><dt>Provider says</dt><dd>{hint}</dd>\
         <dt>Time left</dt><dd class=\"left\">{left}</dd><dt>Attempt</dt><dd>{} of {}</dd></dl>",
        text(&e.provider),
        text(delivery(&e.method)),
        e.attempt,
        e.max_attempts,
        p = text(&e.profile),
    );
    if let Some(problem) = &e.previous_error {
        let _ =
            write!(card, "<p class=\"error\" role=\"alert\">{}. Type the new code.</p>", text(&capitalised(problem)));
    }
    let answer = if e.wants_pin() { "Security PIN" } else { "Verification code" };
    if e.is_expired(now) {
        card.push_str("<p class=\"error\">This challenge expired. The login gives up or starts over.</p>");
    } else {
        match e.phase() {
            Phase::Waiting => {
                if let Some(problem) = form_error {
                    let _ = write!(card, "<p class=\"error\" role=\"alert\">{}</p>", text(&problem.message));
                }
                let (kind, mode) = if e.wants_pin() { ("password", "numeric") } else { ("text", "numeric") };
                if e.enrolment.is_some() {
                    card.push_str("<p>First <a href=\"/enrolment\">set up the authenticator app</a>, then type the code it shows.</p>");
                }
                let _ = write!(
                    card,
                    "<form method=\"post\" action=\"/pending/{}\">{}<label>{answer} \
                     <input type=\"{kind}\" name=\"code\" inputmode=\"{mode}\" autocomplete=\"one-time-code\" maxlength=\"64\" required autofocus></label> \
                     <button>Send</button></form>",
                    text(&e.id),
                    csrf_field(frame)
                );
            }
            Phase::Typed | Phase::HandedOver => {
                card.push_str("<p class=\"info\">Handed to the login; waiting for the provider's answer…</p>");
            }
            Phase::Refused { message, .. } => {
                let _ = write!(
                    card,
                    "<p class=\"error\" role=\"alert\">{}. The login asks for another code…</p>",
                    text(&capitalised(&message))
                );
            }
            Phase::Gone | Phase::Done { .. } => card.push_str("<p class=\"muted\">Finished.</p>"),
        }
    }
    card.push_str("</section>");
    card
}

fn time_left(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (at - now).whole_seconds();
    if secs <= 0 { "expired".to_owned() } else { duration(secs.unsigned_abs()) }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The Authenticator enrolment page: a QR code (SVG) and the manual key of every waiting login
/// whose provider sent enrolment data. The only page that shows a secret: that is its purpose.
pub fn enrolment(frame: &Frame<'_>, entries: &[std::sync::Arc<Entry>]) -> Response {
    let now = frame.now;
    let mut body = String::new();
    let mut shown = 0;
    for e in entries.iter().filter(|e| !e.is_expired(now)) {
        let Some(setup) = &e.enrolment else { continue };
        shown += 1;
        let _ = write!(
            body,
            "<section class=\"card\" id=\"enrol-{p}\"><h2>{p} <span class=\"tag\">{}</span></h2>\
             <p>Scan this code with your authenticator app, then type the code it shows on the \
             <a href=\"/pending#pending-{p}\">Pending codes</a> page.</p>",
            text(&e.provider),
            p = text(&e.profile),
        );
        if let Some(payload) = &setup.qr_payload {
            body.push_str(&super::qr::svg(payload.expose_secret()));
        }
        if let Some(key) = &setup.manual_key {
            let _ = write!(
                body,
                "<details><summary>Cannot scan? Show the key to type by hand</summary><p><code class=\"key\">{}</code></p></details>",
                text(key.expose_secret())
            );
        }
        body.push_str("</section>");
    }
    if shown == 0 {
        body.push_str(
            "<p>No login offers authenticator enrolment now. When a provider sends enrolment data — \
             an account whose authenticator second factor is switched on but not yet set up — its QR \
             code shows here while the login waits for the first code.</p>",
        );
    }
    html(StatusCode::OK, layout("Authenticator enrolment", Some((Tab::Enrolment, frame.waiting)), None, &body))
}
