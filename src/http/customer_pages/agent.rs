//! The agent's view of a session: the code to read out for a customer link, and — live, over
//! server-sent events — what the customer allowed. Read only: there is no control here that
//! could change or override the customer's choice.

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{
        IntoResponse, Redirect, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures_util::Stream;
use maud::{Markup, html};
use serde::Deserialize;

use super::{AgentUser, camera::mode_label, link_page_error};
use crate::{
    AppState,
    consent::{
        camera_choice::CameraMode,
        link_service::{self, ChoiceState},
        links::LinkPurpose,
    },
    http::{
        i18n::Lang,
        web::{self, PageError},
    },
    store,
    tenants::TenantId,
};

const AGENT_SCRIPT: &str = include_str!("../../../static/agent.js");

/// The agent page runs one same-origin script (the live view) and nothing else.
const AGENT_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
    style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn valid_session_id(raw: &str) -> bool {
    (1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic())
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        AGENT_SCRIPT,
    )
}

pub async fn home(lang: Lang, me: AgentUser) -> Markup {
    web::page(
        lang,
        lang.t("agent_title"),
        Some(&me.user),
        html! {
            form method="get" action="/agent/session" {
                label for="sid" { (lang.t("session_id")) }
                input #sid type="text" name="id" required;
                button type="submit" { (lang.t("show")) }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    id: String,
}

pub async fn find(
    lang: Lang,
    _me: AgentUser,
    Query(q): Query<FindQuery>,
) -> Result<Redirect, PageError> {
    if !valid_session_id(&q.id) {
        return Err(PageError::bad_request(lang));
    }
    let encoded: String = url_path_segment(&q.id);
    Ok(Redirect::to(&format!("/agent/sessions/{encoded}")))
}

fn url_path_segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn link_purpose_label(lang: Lang, purpose: &str) -> &'static str {
    match LinkPurpose::parse(purpose) {
        Some(LinkPurpose::Camera) => lang.t("link_purpose_camera"),
        Some(LinkPurpose::Privacy) => lang.t("privacy"),
        Some(LinkPurpose::Passkey) => lang.t("link_purpose_passkey"),
        None => "–",
    }
}

/// `AgentLinkView::status`: pending | opened | redeemed | locked | expired.
fn link_status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "pending" => lang.t("link_status_pending"),
        "opened" => lang.t("link_status_opened"),
        "redeemed" => lang.t("link_status_redeemed"),
        "locked" => lang.t("link_status_locked"),
        _ => lang.t("link_status_expired"),
    }
}

fn choice_view(lang: Lang, s: &ChoiceState) -> Markup {
    let mode = s.choice.as_ref().map(|c| c.mode.as_str()).unwrap_or("none");
    let yes_no = |b: bool| if b { lang.t("yes") } else { lang.t("no") };
    html! {
        section #agent-choice data-testid="agent-choice" data-mode=(mode) aria-live="polite" {
            h2 { (lang.t("agent_allowed")) }
            dl {
                dt { (lang.t("camera_now")) }
                dd #c-mode data-testid="agent-mode" {
                    @match &s.choice { Some(c) => (mode_label(lang, c.mode)), None => (lang.t("camera_not_decided")) }
                }
                dt { (lang.t("opt_blur")) }
                dd #c-blur { @if let Some(c) = &s.choice { (yes_no(c.background_blur)) } @else { "–" } }
                dt { (lang.t("opt_recording")) }
                dd #c-rec {
                    @if let Some(c) = &s.choice {
                        @if let (true, Some(d)) = (c.recording_allowed, c.retention_days) { (lang.t("yes")) ", " (d) " " (lang.t("days")) } @else { (lang.t("no")) }
                    } @else { "–" }
                }
            }
            // Labels for the live script (in the page's language).
            div hidden {
                @for m in CameraMode::ALL { span id={ "l-" (m.as_str()) } { (mode_label(lang, m)) } }
                span #l-none { (lang.t("camera_not_decided")) }
                span #l-yes { (lang.t("yes")) }
                span #l-no { (lang.t("no")) }
                span #l-days { (lang.t("days")) }
            }
        }
    }
}

async fn session_of(
    state: &AppState,
    lang: Lang,
    tenant: &TenantId,
    session_id: &str,
) -> Result<store::sessions::StoredSession, PageError> {
    if !valid_session_id(session_id) {
        return Err(PageError::not_found(lang));
    }
    store::sessions::get(&state.db, tenant, session_id)
        .await
        .map_err(web::internal(lang))?
        .ok_or_else(|| PageError::not_found(lang))
}

pub async fn show(
    State(state): State<AppState>,
    lang: Lang,
    me: AgentUser,
    Path(session_id): Path<String>,
) -> Result<Response, PageError> {
    let session = session_of(&state, lang, &me.tenant, &session_id).await?;
    let agent = me.user.session.subject.clone();
    let links = link_service::agent_links(&state, &me.tenant, &session_id, &agent)
        .await
        .map_err(|e| link_page_error(e, lang))?;
    let current = link_service::choice_state(&state, &me.tenant, &session_id)
        .await
        .map_err(|e| link_page_error(e, lang))?;
    let body = html! {
        p { (lang.t("session_id")) ": " span.mono data-testid="agent-session" { (session.session_id) } " · "
            (lang.t("customer")) ": " strong { (session.customer_ref) } }
        (choice_view(lang, &current))
        section {
            h2 { (lang.t("agent_links")) }
            @if links.is_empty() {
                p.muted { (lang.t("agent_no_links")) }
            } @else {
                table {
                    tr { th { (lang.t("purpose")) } th { (lang.t("status")) } th { (lang.t("agent_code")) } }
                    @for l in &links {
                        tr data-link=(l.link_id) data-status=(l.status) {
                            td { (link_purpose_label(lang, &l.purpose)) }
                            td { (link_status_label(lang, l.status)) }
                            td { @if let Some(code) = &l.code { strong.mono data-testid={ "agent-code-" (l.purpose) } { (code) } } @else { "–" } }
                        }
                    }
                }
                p.muted { (lang.t("agent_code_explain")) }
            }
        }
        script src="/static/agent.js" defer {}
    };
    let mut response = web::page(lang, lang.t("agent_title"), Some(&me.user), body).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(AGENT_CSP),
    );
    Ok(response)
}

/// `camera_choice` events: the state at once, then every change (this instance's hub pushes at
/// once; a 2 s poll catches changes made through other instances).
pub async fn events(
    State(state): State<AppState>,
    lang: Lang,
    me: AgentUser,
    Path(session_id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    session_of(&state, lang, &me.tenant, &session_id).await?;
    let watcher = Watcher {
        receiver: state.consents.hub.subscribe(),
        state,
        tenant: me.tenant,
        session_id,
        last: None,
        dirty: true,
        poll: tokio::time::interval(Duration::from_secs(2)),
    };
    let stream = futures_util::stream::unfold(watcher, |mut w| async move {
        let event = w.next().await?;
        Some((Ok(event), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

struct Watcher {
    receiver: tokio::sync::broadcast::Receiver<crate::consent::events::SessionEvent>,
    state: AppState,
    tenant: TenantId,
    session_id: String,
    last: Option<ChoiceState>,
    /// Something may have changed since the last look.
    dirty: bool,
    poll: tokio::time::Interval,
}

impl Watcher {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if std::mem::take(&mut self.dirty)
                && let Ok(now) =
                    link_service::choice_state(&self.state, &self.tenant, &self.session_id).await
                && self.last.as_ref() != Some(&now)
            {
                let event = Event::default().event("camera_choice").json_data(&now).ok();
                self.last = Some(now);
                if event.is_some() {
                    return event;
                }
            }
            tokio::select! {
                received = self.receiver.recv() => match received {
                    Ok(ev) => {
                        self.dirty = ev.tenant == self.tenant.as_str() && ev.session_id == self.session_id;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => self.dirty = true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
                _ = self.poll.tick() => self.dirty = true,
            }
        }
    }
}
