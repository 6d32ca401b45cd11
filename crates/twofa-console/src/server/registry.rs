//! The pending codes: one entry per profile whose login waits for a code, from the console's own
//! log-in buttons or from bots, and the hand-over of the code the person types to the login.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use tokio::sync::watch;
use twofa_core::{CodeRequest, CodeSource, Error, Method, OneTimeCode, Secret, time::OffsetDateTime, untrusted};

use twofa_ops::{
    metrics::Metrics,
    notify::{Event as Notice, Notifier},
};

use crate::wire::{MAX_MESSAGE_CHARS, Outcome, Register};

/// How long an expired or finished entry stays on the page before it is dropped.
const LINGER: Duration = Duration::from_secs(60);
/// How many recent events the pages show.
const MAX_EVENTS: usize = 20;
/// The most logins that may wait at once: far more than one person types codes for, few enough
/// that a bot registering name after name cannot fill memory or the page.
pub const MAX_PENDING: usize = 64;
/// The longest a challenge waits, counted from its registration, whatever `expires_at` it names:
/// providers' codes live minutes, and an entry must leave the registry at some point.
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// Where a pending login runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A bot process, through a [`ConsoleCodeSource`](crate::ConsoleCodeSource).
    Bot,
    /// A log-in button of this console.
    Console,
}

/// Where an entry stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the person to type the code.
    Waiting,
    /// Typed; the login has not picked it up yet.
    Typed,
    /// Picked up by the login; the provider's answer is awaited.
    HandedOver,
    /// The provider refused the code; `retry` when the login asks for another.
    Refused {
        /// The error, in words (never a secret).
        message: String,
        /// Whether another code will be asked for.
        retry: bool,
    },
    /// The login took the code (`ok`) or ended with an error after it.
    Done {
        /// Whether the code was taken.
        ok: bool,
        /// What happened, in words.
        message: String,
    },
    /// Replaced by a newer challenge for the same profile.
    Gone,
}

/// Authenticator enrolment data: the TOTP seed, shown only on the enrolment page.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The key to type by hand.
    pub manual_key: Option<Secret>,
    /// What the QR code encodes (an `otpauth://` URI).
    pub qr_payload: Option<Secret>,
}

/// One login waiting for a code.
#[derive(Debug)]
pub struct Entry {
    /// Random, unguessable: names the entry in URLs.
    pub id: String,
    /// The profile logging in.
    pub profile: String,
    /// The provider asking.
    pub provider: String,
    /// The delivery method's stable name.
    pub method: String,
    /// The provider's hint (untrusted text).
    pub hint: Option<String>,
    /// When the challenge stops waiting.
    pub expires_at: OffsetDateTime,
    /// 1 for the first code.
    pub attempt: u32,
    /// Codes tried in all.
    pub max_attempts: u32,
    /// Which challenge of the login.
    pub step: u32,
    /// Enrolment data, when the provider offers it.
    pub enrolment: Option<Enrolment>,
    /// Why the previous code of this login was refused.
    pub previous_error: Option<String>,
    /// Who waits.
    pub origin: Origin,
    phase: watch::Sender<Phase>,
    code: Mutex<Option<OneTimeCode>>,
    /// When it was registered: how long the person took is counted from here.
    registered: Instant,
    /// Whether its expiry was announced already.
    expiry_told: AtomicBool,
}

impl Entry {
    /// Where it stands.
    pub fn phase(&self) -> Phase {
        self.phase.borrow().clone()
    }

    /// Whether the challenge no longer takes a code.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }

    /// Whether the page should offer the code field.
    pub fn wants_code(&self, now: OffsetDateTime) -> bool {
        !self.is_expired(now) && matches!(self.phase(), Phase::Waiting)
    }

    /// Whether the answer is a security PIN rather than a one-time code.
    pub fn wants_pin(&self) -> bool {
        self.method == Method::SecurityPin.name()
    }
}

/// A line of the pages' "recent" list.
#[derive(Debug, Clone)]
pub struct Event {
    /// When.
    pub at: OffsetDateTime,
    /// Which profile.
    pub profile: String,
    /// What happened, in words.
    pub text: String,
    /// Whether it went well.
    pub ok: bool,
}

/// Why a typed code was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// No such entry, or it expired, was replaced or finished.
    Gone,
    /// A code was already typed and is being checked.
    Busy,
}

/// What a long poll found.
#[derive(Debug)]
pub enum Poll {
    /// The person typed this.
    Code(OneTimeCode),
    /// Nothing yet.
    NotYet,
    /// The entry expired, was replaced or is unknown.
    Gone,
}

/// The pending entries and the recent events; shared by the pages, the bot API and local logins.
#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<BTreeMap<String, Arc<Entry>>>,
    events: Mutex<VecDeque<Event>>,
    registrations: AtomicU64,
    metrics: Option<Arc<Metrics>>,
    notifier: Option<Arc<Notifier>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `message` cut to [`MAX_MESSAGE_CHARS`]: a bot's words end up in the recent list.
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}

/// Drops the entries expired or finished a while ago.
fn prune(entries: &mut BTreeMap<String, Arc<Entry>>, now: OffsetDateTime) {
    entries.retain(|_, e| now < e.expires_at + LINGER && !matches!(e.phase(), Phase::Gone | Phase::Done { .. }));
}

/// A random alphanumeric string of `len` characters.
pub(crate) fn random_string(len: usize) -> String {
    use rand::{Rng as _, distr::Alphanumeric};
    rand::rng().sample_iter(Alphanumeric).take(len).map(char::from).collect()
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry that counts its waits in `metrics` and tells a person through `notifier`
    /// when a login waits, and what became of it (answered, refused, expired).
    pub fn with_ops(metrics: Option<Arc<Metrics>>, notifier: Option<Arc<Notifier>>) -> Self {
        Self { metrics, notifier, ..Self::default() }
    }

    /// The follow-up `event` of `entry`, to the notifier.
    fn tell(&self, entry: &Entry, event: Notice, retry: bool) {
        if let Some(notifier) = &self.notifier {
            notifier.follow_up(event, &entry.profile, &entry.provider, &entry.method, retry);
        }
    }

    /// Announces, once, that `entry` expired with nobody typing its code.
    fn tell_expired(&self, entry: &Entry) {
        if matches!(entry.phase(), Phase::Waiting) && !entry.expiry_told.swap(true, Ordering::Relaxed) {
            self.tell(entry, Notice::Expired, false);
        }
    }

    /// Adds the challenge a login waits on, replacing the profile's previous entry (whose poller
    /// is told it is gone). It waits at most [`MAX_LIFETIME`].
    pub fn register(&self, r: Register, origin: Origin) -> Arc<Entry> {
        let mut entries = lock(&self.entries);
        self.insert(&mut entries, r, origin)
    }

    /// As [`Registry::register`], unless [`MAX_PENDING`] other profiles already wait: then `None`
    /// (a profile that waits may always replace its own entry). For bots, whose profile names are free.
    pub fn register_bounded(&self, r: Register, origin: Origin) -> Option<Arc<Entry>> {
        let mut entries = lock(&self.entries);
        prune(&mut entries, OffsetDateTime::now_utc());
        if entries.len() >= MAX_PENDING && !entries.contains_key(&r.profile) {
            tracing::warn!(profile = %untrusted::display(&r.profile), "a registration was refused: {MAX_PENDING} logins wait already");
            return None;
        }
        Some(self.insert(&mut entries, r, origin))
    }

    fn insert(&self, entries: &mut BTreeMap<String, Arc<Entry>>, r: Register, origin: Origin) -> Arc<Entry> {
        self.registrations.fetch_add(1, Ordering::Relaxed);
        let now = OffsetDateTime::now_utc();
        // Clamped before any arithmetic: a far-future time would overflow `+ LINGER`.
        let expires_at = OffsetDateTime::from_unix_timestamp(r.expires_at).map_or(now, |at| at.min(now + MAX_LIFETIME));
        let enrolment = r.setup.map(|s| Enrolment {
            manual_key: s.manual_key.filter(|k| !k.is_empty()).map(Secret::new),
            qr_payload: s.qr_payload.filter(|p| !p.is_empty()).map(Secret::new),
        });
        let previous = entries.remove(&r.profile);
        // The replaced entry's refusal in the provider's words, else (a later attempt) a plain one.
        let previous_error = previous
            .and_then(|old| match old.phase.send_replace(Phase::Gone) {
                Phase::Refused { message, .. } => Some(message),
                _ => None,
            })
            .or_else(|| (r.attempt > 1).then(|| "the previous code was refused".to_owned()));
        let entry = Arc::new(Entry {
            id: random_string(24),
            profile: r.profile.clone(),
            provider: r.provider,
            method: r.method,
            hint: r.hint,
            expires_at,
            attempt: r.attempt,
            max_attempts: r.max_attempts,
            step: r.step,
            enrolment: enrolment.filter(|e| e.manual_key.is_some() || e.qr_payload.is_some()),
            previous_error,
            origin,
            phase: watch::Sender::new(Phase::Waiting),
            code: Mutex::new(None),
            registered: Instant::now(),
            expiry_told: AtomicBool::new(false),
        });
        entries.insert(r.profile, Arc::clone(&entry));
        if let Some(metrics) = &self.metrics {
            metrics.code_asked(&entry.provider, &entry.method);
        }
        if let Some(notifier) = &self.notifier {
            notifier.waiting(&entry.profile, &entry.provider, &entry.method, Some(entry.expires_at));
        }
        tracing::info!(profile = %untrusted::display(&entry.profile), provider = %untrusted::display(&entry.provider), attempt = entry.attempt, "a login waits for a code");
        entry
    }

    /// How many registrations were made since the start (replacements included).
    pub fn registrations(&self) -> u64 {
        self.registrations.load(Ordering::Relaxed)
    }

    /// The live entries, by profile, after dropping those expired or finished a while ago (an
    /// expiry not yet announced is announced now).
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        let now = OffsetDateTime::now_utc();
        let mut entries = lock(&self.entries);
        for entry in entries.values().filter(|e| e.is_expired(now)) {
            self.tell_expired(entry);
        }
        prune(&mut entries, now);
        entries.values().cloned().collect()
    }

    /// How many logins wait for a code now.
    pub fn waiting(&self) -> usize {
        let now = OffsetDateTime::now_utc();
        self.entries().iter().filter(|e| e.wants_code(now)).count()
    }

    /// The entry `id`, if live.
    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.entries().into_iter().find(|e| e.id == id)
    }

    /// Hands the typed `code` to the login waiting on `id`.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Gone`] when the entry is unknown, expired or replaced;
    /// [`SubmitError::Busy`] when a code is already being checked.
    pub fn submit(&self, id: &str, code: OneTimeCode) -> Result<Arc<Entry>, SubmitError> {
        let entry = self.get(id).ok_or(SubmitError::Gone)?;
        if entry.is_expired(OffsetDateTime::now_utc()) {
            return Err(SubmitError::Gone);
        }
        let mut taken = false;
        entry.phase.send_if_modified(|phase| {
            taken = matches!(phase, Phase::Waiting);
            if taken {
                *lock(&entry.code) = Some(code);
                *phase = Phase::Typed;
            }
            taken
        });
        if taken { Ok(entry) } else { Err(SubmitError::Busy) }
    }

    /// Waits up to `wait` for the code of `id`.
    pub async fn wait_code(&self, id: &str, wait: Duration) -> Poll {
        let Some(entry) = self.get(id) else { return Poll::Gone };
        let mut phases = entry.phase.subscribe();
        let left = Duration::try_from(entry.expires_at - OffsetDateTime::now_utc()).unwrap_or_default();
        let give_up = tokio::time::Instant::now() + wait.min(left);
        loop {
            let phase = phases.borrow_and_update().clone();
            match phase {
                Phase::Typed => {
                    if let Some(code) = lock(&entry.code).take() {
                        entry.phase.send_replace(Phase::HandedOver);
                        if let Some(metrics) = &self.metrics {
                            metrics.code_typed(&entry.provider, entry.registered.elapsed());
                        }
                        return Poll::Code(code);
                    }
                }
                Phase::Gone | Phase::Done { .. } => return Poll::Gone,
                _ => {}
            }
            if entry.is_expired(OffsetDateTime::now_utc()) {
                self.tell_expired(&entry);
                return Poll::Gone;
            }
            match tokio::time::timeout_at(give_up, phases.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Poll::Gone,
                Err(_) if entry.is_expired(OffsetDateTime::now_utc()) => {
                    self.tell_expired(&entry);
                    return Poll::Gone;
                }
                Err(_) => return Poll::NotYet,
            }
        }
    }

    /// Records what the provider made of the code of `id`. Whether the entry was known.
    pub fn outcome(&self, id: &str, outcome: Outcome) -> bool {
        let Some(entry) = self.get(id) else { return false };
        if outcome.accepted {
            let what = if entry.wants_pin() { "security PIN" } else { "code" };
            self.tell(&entry, Notice::Answered, false);
            self.finish(&entry, true, format!("the {what} was accepted by {}", entry.provider));
            return true;
        }
        self.tell(&entry, Notice::Refused, outcome.retry);
        let message = outcome.message.map_or_else(|| "the code was refused".to_owned(), |m| bounded(&m));
        if outcome.retry {
            entry.phase.send_replace(Phase::Refused { message, retry: true });
        } else {
            self.finish(&entry, false, format!("the login failed: {message}"));
        }
        true
    }

    /// Drops `entry` (if still the profile's) and records the event.
    fn finish(&self, entry: &Arc<Entry>, ok: bool, message: String) {
        let mut entries = lock(&self.entries);
        if entries.get(&entry.profile).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            entries.remove(&entry.profile);
        }
        drop(entries);
        self.event(&entry.profile, message.clone(), ok);
        entry.phase.send_replace(Phase::Done { ok, message });
    }

    /// Waits up to `wait` for the login to say what it made of the code typed for `entry`: the
    /// phase then (still [`Phase::Typed`] or [`Phase::HandedOver`] when nobody answered in time).
    /// After a refusal, waits a little more for the login to ask again, so the page shows the field.
    pub async fn settle(&self, entry: &Arc<Entry>, wait: Duration) -> Phase {
        let mut phases = entry.phase.subscribe();
        let give_up = tokio::time::Instant::now() + wait;
        let settled = |p: &Phase| !matches!(p, Phase::Typed | Phase::HandedOver);
        let phase = match tokio::time::timeout_at(give_up, phases.wait_for(settled)).await {
            Ok(Ok(phase)) => phase.clone(),
            _ => return entry.phase(),
        };
        if matches!(phase, Phase::Refused { .. }) {
            let asked_again =
                tokio::time::timeout(Duration::from_secs(2), phases.wait_for(|p| matches!(p, Phase::Gone)));
            let _ = asked_again.await;
        }
        phase
    }

    /// The live entry of `profile`, if any.
    pub fn for_profile(&self, profile: &str) -> Option<Arc<Entry>> {
        self.entries().into_iter().find(|e| e.profile == profile)
    }

    /// Adds a line to the recent events.
    pub fn event(&self, profile: &str, text: impl Into<String>, ok: bool) {
        let mut events = lock(&self.events);
        if events.len() == MAX_EVENTS {
            events.pop_back();
        }
        events.push_front(Event { at: OffsetDateTime::now_utc(), profile: profile.to_owned(), text: text.into(), ok });
    }

    /// The recent events, newest first.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).iter().cloned().collect()
    }
}

/// The code source of the console's own log-in buttons: the same registry as bots, without HTTP.
#[derive(Debug)]
pub struct LocalCodeSource {
    registry: Arc<Registry>,
    profile: String,
    wait: Duration,
    last: Mutex<Option<String>>,
}

impl LocalCodeSource {
    /// A source for `profile`, waiting up to `wait` for each code.
    pub fn new(registry: Arc<Registry>, profile: impl Into<String>, wait: Duration) -> Self {
        Self { registry, profile: profile.into(), wait, last: Mutex::new(None) }
    }
}

#[async_trait]
impl CodeSource for LocalCodeSource {
    async fn code(&self, request: &CodeRequest) -> Result<OneTimeCode, Error> {
        let entry = self.registry.register(Register::for_request(&self.profile, request, self.wait), Origin::Console);
        loop {
            match self.registry.wait_code(&entry.id, self.wait).await {
                Poll::Code(code) => {
                    *lock(&self.last) = Some(entry.id.clone());
                    return Ok(code);
                }
                Poll::NotYet if !entry.is_expired(OffsetDateTime::now_utc()) => {}
                Poll::NotYet | Poll::Gone => {
                    return Err(Error::CodeSource(
                        "the challenge left the console (it expired, or was cancelled or replaced)".into(),
                    ));
                }
            }
        }
    }

    async fn answered(&self, request: &CodeRequest, outcome: Result<(), &Error>) {
        let Some(id) = lock(&self.last).take() else { return };
        self.registry.outcome(&id, Outcome::of(request, outcome));
    }
}
