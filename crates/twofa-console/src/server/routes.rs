//! The handlers: pages for the person (cookie), `/api/` for bots (Bearer).

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{
        Extension, Form, Path, Query, State,
        rejection::{FormRejection, JsonRejection},
    },
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;
use twofa_core::{OneTimeCode, Password, store::check_profile, time::OffsetDateTime};

use super::{
    App,
    bots::BotScope,
    pages::{self, FormError, Frame},
    registry::{LocalCodeSource, MAX_PENDING, Origin, Phase, Poll, SubmitError},
};
use crate::wire::{CodeAnswer, MAX_POLL_SECS, Outcome, Register, Registered};

/// How long a code's form waits for the provider's answer before showing "handed over".
const SETTLE: Duration = Duration::from_secs(10);

fn frame<'a>(app: &'a App, events: &'a [super::registry::Event], waiting: usize) -> Frame<'a> {
    Frame { csrf: app.keys.csrf(), waiting, events, now: OffsetDateTime::now_utc() }
}

fn waiting(entries: &[Arc<super::registry::Entry>]) -> usize {
    let now = OffsetDateTime::now_utc();
    entries.iter().filter(|e| e.wants_code(now)).count()
}

/// `GET /`: the Sessions page.
pub async fn sessions(State(app): State<Arc<App>>) -> Response {
    sessions_page(&app, None).await
}

async fn sessions_page(app: &App, problem: Option<&str>) -> Response {
    let (accounts, listing_problem) = match app.accounts.list().await {
        Ok(accounts) => (accounts, None),
        Err(e) => (Vec::new(), Some(format!("cannot list the profiles: {e}"))),
    };
    let entries = app.registry.entries();
    let events = app.registry.events();
    pages::sessions(&frame(app, &events, waiting(&entries)), &accounts, problem.or(listing_problem.as_deref()))
}

/// `GET /pending`: the Pending codes page.
pub async fn pending(State(app): State<Arc<App>>) -> Response {
    pending_page(&app, StatusCode::OK, None)
}

fn pending_page(app: &App, status: StatusCode, form_error: Option<FormError<'_>>) -> Response {
    let entries = app.registry.entries();
    let events = app.registry.events();
    pages::pending(&frame(app, &events, waiting(&entries)), &entries, status, form_error)
}

/// `GET /enrolment`: the Authenticator enrolment page.
pub async fn enrolment(State(app): State<Arc<App>>) -> Response {
    let entries = app.registry.entries();
    let events = app.registry.events();
    pages::enrolment(&frame(&app, &events, waiting(&entries)), &entries)
}

/// `GET /static/console.css`.
pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../static/console.css")).into_response()
}

/// Any other address.
pub async fn not_found() -> Response {
    pages::error(StatusCode::NOT_FOUND, "Not found", "This console has no such page.")
}

/// A known address with the wrong method.
pub async fn wrong_method() -> Response {
    pages::error(StatusCode::METHOD_NOT_ALLOWED, "Not allowed", "This address does not take that kind of request.")
}

/// A form that carries no CSRF field deserializes with an empty one, refused like a wrong one.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// A log-in or log-out form.
#[derive(Deserialize)]
pub struct SessionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: Option<String>,
}

/// The form if it was readable, within the size limit, and carried the CSRF token; else the
/// page to answer with (returned at once, so its size in the `Err` costs nothing).
#[allow(clippy::result_large_err)]
fn checked<T>(app: &App, form: Result<Form<T>, FormRejection>, csrf: impl Fn(&T) -> &str) -> Result<T, Response> {
    let Form(form) = form.map_err(|rejection| {
        let status = rejection.status();
        let (title, text) = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ("Form too large", "The form was larger than this console accepts (16 KiB); nothing was done.")
        } else {
            ("Unreadable form", "The form could not be read; nothing was done.")
        };
        pages::error(status, title, text)
    })?;
    if !app.keys.is_csrf(csrf(&form)) {
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "Form refused",
            "The form did not carry this console's CSRF token (was it sent from another page, or before the console restarted?); nothing was done.",
        ));
    }
    Ok(form)
}

/// `POST /pending/{id}`: the code the person typed, handed to the waiting login; the answer
/// waits (briefly) for the provider's verdict, so a wrong code is shown at once with a 422.
pub async fn submit_code(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let form = match checked(&app, form, |f| &f.csrf) {
        Ok(form) => form,
        Err(response) => return response,
    };
    // Bytes that are not UTF-8 decode to U+FFFD: that is not what the person typed, and a code
    // sent anyway would burn one of the provider's few attempts.
    let code = if form.code.contains(char::REPLACEMENT_CHARACTER) {
        Err(twofa_core::Error::InvalidInput("the code is not valid UTF-8 text".into()))
    } else {
        OneTimeCode::new(form.code)
    };
    let code = match code {
        Ok(code) => code,
        Err(e) => {
            let message = match e {
                twofa_core::Error::InvalidInput(m) => format!("Not sent: {m}."),
                other => other.to_string(),
            };
            return match app.registry.get(&id) {
                Some(_) => pending_page(&app, StatusCode::UNPROCESSABLE_ENTITY, Some(FormError { id: &id, message })),
                None => gone(),
            };
        }
    };
    let entry = match app.registry.submit(&id, code) {
        Ok(entry) => entry,
        Err(SubmitError::Gone) => return gone(),
        Err(SubmitError::Busy) => {
            return pages::error(
                StatusCode::CONFLICT,
                "Code already sent",
                "A code for this login is being checked; wait for the answer on the Pending codes page.",
            );
        }
    };
    match app.registry.settle(&entry, SETTLE).await {
        // Refused, and perhaps already asked again (a newer challenge replaced this one): the page
        // shows why on the new challenge, or the failure in the recent list.
        Phase::Refused { .. } | Phase::Gone | Phase::Done { ok: false, .. } => {
            pending_page(&app, StatusCode::UNPROCESSABLE_ENTITY, None)
        }
        _ => Redirect::to("/pending").into_response(),
    }
}

fn gone() -> Response {
    pages::error(
        StatusCode::GONE,
        "Challenge no longer waiting",
        "This challenge expired, was replaced by a newer one or finished; nothing was sent. \
         A login that still needs a code shows a new challenge on the Pending codes page.",
    )
}

/// `POST /sessions/{profile}/login`: starts a login whose code is asked for on the Pending page.
pub async fn login(
    State(app): State<Arc<App>>,
    Path(profile): Path<String>,
    form: Result<Form<SessionForm>, FormRejection>,
) -> Response {
    let form = match checked(&app, form, |f| &f.csrf) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let Some(account) = known(&app, &profile).await else { return unknown_profile() };
    if !account.can_log_in {
        return pages::error(
            StatusCode::CONFLICT,
            "Cannot log in here",
            "This console does not know how to log this profile in.",
        );
    }
    let password =
        form.password.filter(|p| !p.is_empty()).map(|p| Password::new(twofa_core::Secret::new(p).expose_secret()));
    if account.asks_password && password.is_none() {
        return with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            sessions_page(&app, Some("Type the password to log in.")).await,
        );
    }
    if !app.start_login(&profile) {
        return pages::error(
            StatusCode::CONFLICT,
            "Already logging in",
            "A login of this profile is already running; see the Pending codes page.",
        );
    }
    let task_app = Arc::clone(&app);
    let task_profile = profile.clone();
    let done = tokio::spawn(async move {
        let codes =
            Arc::new(LocalCodeSource::new(Arc::clone(&task_app.registry), task_profile.clone(), task_app.code_wait));
        let result = task_app.accounts.login(&task_profile, password, codes).await;
        match &result {
            Ok(()) => task_app.registry.event(&task_profile, "logged in", true),
            Err(e) => task_app.registry.event(&task_profile, format!("the login failed: {e}"), false),
        }
        task_app.end_login(&task_profile);
        result.is_ok()
    });
    // Show the Pending page once a code is asked for; the Sessions page if the login ends first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if done.is_finished() {
            return Redirect::to("/").into_response();
        }
        if app.registry.for_profile(&profile).is_some() {
            return Redirect::to("/pending").into_response();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Redirect::to("/pending").into_response()
}

/// `POST /sessions/{profile}/logout`.
pub async fn logout(
    State(app): State<Arc<App>>,
    Path(profile): Path<String>,
    form: Result<Form<SessionForm>, FormRejection>,
) -> Response {
    if let Err(response) = checked(&app, form, |f| &f.csrf) {
        return response;
    }
    if known(&app, &profile).await.is_none() {
        return unknown_profile();
    }
    match app.accounts.logout(&profile).await {
        Ok(()) => app.registry.event(&profile, "logged out", true),
        Err(e) => app.registry.event(&profile, format!("logged out here; the provider's logout failed: {e}"), false),
    }
    Redirect::to("/").into_response()
}

async fn known(app: &App, profile: &str) -> Option<super::accounts::Account> {
    check_profile(profile).ok()?;
    app.accounts.list().await.ok()?.into_iter().find(|a| a.profile == profile)
}

fn unknown_profile() -> Response {
    pages::error(
        StatusCode::NOT_FOUND,
        "No such profile",
        "This console has no profile of that name; nothing was done.",
    )
}

fn with_status(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    response
}

fn api_rejection(rejection: JsonRejection) -> Response {
    (rejection.status(), rejection.body_text()).into_response()
}

/// `POST /api/challenges`: a bot's login waits for a code. A bot registers its own profile only.
pub async fn register(
    State(app): State<Arc<App>>,
    Extension(scope): Extension<BotScope>,
    body: Result<Json<Register>, JsonRejection>,
) -> Response {
    let Json(register) = match body {
        Ok(body) => body,
        Err(rejection) => return api_rejection(rejection),
    };
    if let Err(e) = check_profile(&register.profile).and_then(|()| register.check_bounds()) {
        return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response();
    }
    if register.profile != scope.profile {
        return (
            StatusCode::FORBIDDEN,
            format!("this bot's key serves the profile `{}` only, not `{}`", scope.profile, register.profile),
        )
            .into_response();
    }
    match app.registry.register_bounded(register, Origin::Bot) {
        Some(entry) => (StatusCode::CREATED, Json(Registered { id: entry.id.clone() })).into_response(),
        None => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many logins wait for a code already (at most {MAX_PENDING}); try again later"),
        )
            .into_response(),
    }
}

/// Whether `id` is a live bot challenge of the scope's profile: another profile's challenge, or
/// one of the console's own logins, is unknown to the bot (the same `410` as a missing one).
fn in_scope(app: &App, scope: &BotScope, id: &str) -> bool {
    app.registry.get(id).is_some_and(|e| e.profile == scope.profile && e.origin == Origin::Bot)
}

/// The query of a long poll.
#[derive(Deserialize)]
pub struct PollQuery {
    #[serde(default)]
    wait: Option<u64>,
}

/// `POST /api/challenges/{id}/code?wait=SECONDS`: the typed code, once there is one.
pub async fn code(
    State(app): State<Arc<App>>,
    Extension(scope): Extension<BotScope>,
    Path(id): Path<String>,
    Query(q): Query<PollQuery>,
) -> Response {
    if !in_scope(&app, &scope, &id) {
        return StatusCode::GONE.into_response();
    }
    let wait = Duration::from_secs(q.wait.unwrap_or(MAX_POLL_SECS).min(MAX_POLL_SECS));
    match app.registry.wait_code(&id, wait).await {
        Poll::Code(code) => Json(CodeAnswer { code: code.expose_secret().to_owned() }).into_response(),
        Poll::NotYet => StatusCode::NO_CONTENT.into_response(),
        Poll::Gone => StatusCode::GONE.into_response(),
    }
}

/// `POST /api/challenges/{id}/outcome`: what the provider made of the code.
pub async fn outcome(
    State(app): State<Arc<App>>,
    Extension(scope): Extension<BotScope>,
    Path(id): Path<String>,
    body: Result<Json<Outcome>, JsonRejection>,
) -> Response {
    let Json(outcome) = match body {
        Ok(body) => body,
        Err(rejection) => return api_rejection(rejection),
    };
    if in_scope(&app, &scope, &id) && app.registry.outcome(&id, outcome) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::GONE
    }
    .into_response()
}
