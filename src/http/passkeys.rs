//! Passkeys on the customer pages: registering, checking and removing them in the privacy
//! centre (JSON endpoints driven by `static/passkey.js`, which calls the browser's WebAuthn
//! API). Errors of the JSON endpoints are problem+json with stable codes; nothing is written
//! when a response is refused.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use maud::{Markup, html};
use serde::Deserialize;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::{
    extract::ApiJson,
    i18n::Lang,
    problem::Problem,
    web::{CustomerUser, PageError},
};
use crate::{
    AppState,
    passkeys::{Binding, PasskeyError, service},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/privacy/passkeys/registration", post(start_registration))
        .route("/privacy/passkeys", post(finish_registration))
        .route("/privacy/passkeys/authentication", post(start_check))
        .route(
            "/privacy/passkeys/authentication/finish",
            post(finish_check),
        )
        .route("/privacy/passkeys/{passkey_id}/delete", post(remove))
}

/// The page's policy when it runs the passkey script: only this origin's script, fetch to this
/// origin only; everything else as strict as every other page (`web::security_headers`).
pub const SCRIPT_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

pub fn with_script_csp(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SCRIPT_CSP),
    );
    response
}

pub const SCRIPT: &str = include_str!("../../static/passkey.js");

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
}

pub(crate) fn passkey_problem(e: PasskeyError) -> Problem {
    match e {
        PasskeyError::Unavailable(reason) => {
            tracing::warn!(%reason, "passkeys unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "passkeys_unavailable",
                "Passkeys are not available on this service (its public URL is not a domain)",
            )
        }
        PasskeyError::InvalidName => Problem::new(
            StatusCode::BAD_REQUEST,
            "passkey_name_invalid",
            "The passkey name must be 1–64 characters without control characters",
        ),
        PasskeyError::TooMany => Problem::new(
            StatusCode::CONFLICT,
            "passkey_limit_reached",
            "The customer already has the maximum number of passkeys",
        ),
        PasskeyError::NoPasskey => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "passkey_not_registered",
            "The customer has not registered a passkey",
        ),
        PasskeyError::NotFound => Problem::new(
            StatusCode::NOT_FOUND,
            "passkey_not_found",
            "No such passkey",
        ),
        PasskeyError::CeremonyInvalid => Problem::new(
            StatusCode::CONFLICT,
            "passkey_ceremony_invalid",
            "No such passkey ceremony in flight: it was already used, has expired, or was started elsewhere",
        ),
        PasskeyError::AlreadyRegistered => Problem::new(
            StatusCode::CONFLICT,
            "passkey_already_registered",
            "This passkey is already registered",
        ),
        PasskeyError::Refused(r) => Problem::new(
            StatusCode::BAD_REQUEST,
            r.code(),
            "The passkey response was refused",
        ),
        PasskeyError::Store(e) => e.into(),
        PasskeyError::Internal(e) => {
            tracing::error!(error = %e, "passkey failure");
            Problem::internal()
        }
    }
}

/// The signed-in customer, for a JSON endpoint: not signed in is a problem, not a page.
fn customer(me: Result<CustomerUser, PageError>) -> Result<CustomerUser, Problem> {
    me.map_err(|e| {
        Problem::new(
            e.status,
            "not_signed_in",
            "Sign in to the privacy centre first",
        )
    })
}

/// CSRF for the JSON endpoints: the session's token in `x-csrf-token` (the pages' forms carry
/// it as a field; a cross-site page can neither read it nor send this header without CORS).
fn check_csrf(me: &CustomerUser, headers: &HeaderMap) -> Result<(), Problem> {
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    me.user.check_csrf(presented, Lang::En).map_err(|_| {
        Problem::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "The CSRF token is missing or not this session's",
        )
    })
}

fn binding(me: &CustomerUser) -> Binding {
    Binding::WebSession(me.user.session_hash.clone())
}

async fn start_registration(
    State(state): State<AppState>,
    me: Result<CustomerUser, PageError>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let me = customer(me)?;
    check_csrf(&me, &headers)?;
    let (ceremony_id, options) =
        service::start_registration(&state, &me.tenant, &me.customer, &binding(&me))
            .await
            .map_err(passkey_problem)?;
    Ok(Json(serde_json::json!({ "ceremony_id": ceremony_id, "options": options })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishRegistration {
    ceremony_id: String,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

async fn finish_registration(
    State(state): State<AppState>,
    me: Result<CustomerUser, PageError>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FinishRegistration>,
) -> Result<Response, Problem> {
    let me = customer(me)?;
    check_csrf(&me, &headers)?;
    let passkey = service::finish_registration(
        &state,
        &me.tenant,
        &me.customer,
        &binding(&me),
        &body.ceremony_id,
        &body.name,
        &body.credential,
    )
    .await
    .map_err(passkey_problem)?;
    Ok((StatusCode::CREATED, Json(passkey)).into_response())
}

async fn start_check(
    State(state): State<AppState>,
    me: Result<CustomerUser, PageError>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let me = customer(me)?;
    check_csrf(&me, &headers)?;
    let (ceremony_id, options) =
        service::start_authentication(&state, &me.tenant, &me.customer, &binding(&me))
            .await
            .map_err(passkey_problem)?;
    Ok(Json(serde_json::json!({ "ceremony_id": ceremony_id, "options": options })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishAssertion {
    ceremony_id: String,
    credential: PublicKeyCredential,
}

/// "Check a passkey": the customer proves the passkey works (and that it is theirs); the
/// passkey's last use is recorded.
async fn finish_check(
    State(state): State<AppState>,
    me: Result<CustomerUser, PageError>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FinishAssertion>,
) -> Result<Response, Problem> {
    let me = customer(me)?;
    check_csrf(&me, &headers)?;
    let passkey = service::finish_authentication(
        &state,
        &me.tenant,
        &me.customer,
        &binding(&me),
        &body.ceremony_id,
        &body.credential,
    )
    .await
    .map_err(passkey_problem)?;
    Ok(Json(serde_json::json!({ "verified": true, "passkey": passkey })).into_response())
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn remove(
    State(state): State<AppState>,
    lang: Lang,
    me: CustomerUser,
    Path(passkey_id): Path<String>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, PageError> {
    me.user.check_csrf(&form.csrf, lang)?;
    service::remove(&state, &me.tenant, &me.customer, &passkey_id)
        .await
        .map_err(|e| match e {
            PasskeyError::NotFound => PageError::not_found(lang),
            e => {
                tracing::error!(error = %e, "passkey removal failed");
                PageError::internal(lang)
            }
        })?;
    Ok(Redirect::to("/privacy").into_response())
}

/// The privacy centre's passkey section. The script reads its texts and the CSRF token from
/// the section's data attributes, so it carries no strings of its own.
pub fn section(lang: Lang, csrf: &str, passkeys: &[service::PasskeySummary]) -> Markup {
    html! {
        section #passkeys data-passkeys="privacy" data-csrf=(csrf)
            data-msg-registered=(lang.t("passkey_registered"))
            data-msg-verified=(lang.t("passkey_verified"))
            data-msg-failed=(lang.t("passkey_failed"))
            data-msg-unsupported=(lang.t("passkey_unsupported")) {
            h2 { (lang.t("passkeys")) }
            p.muted { (lang.t("passkeys_explain")) }
            @if passkeys.is_empty() {
                p data-testid="no-passkeys" { (lang.t("passkeys_none")) }
            } @else {
                ul data-testid="passkey-list" {
                    @for p in passkeys {
                        li data-passkey=(p.passkey_id) {
                            strong { (p.name) } " · " (lang.t("enrolled")) " " (lang.date_time(p.created_at))
                            " · " (lang.t("last_used")) " "
                            @match p.last_used_at { Some(at) => (lang.date_time(at)), None => (lang.t("never")) }
                            form.inline method="post" action={ "/privacy/passkeys/" (p.passkey_id) "/delete" } {
                                input type="hidden" name="csrf" value=(csrf);
                                button.danger type="submit" data-testid="remove-passkey" { (lang.t("passkey_remove")) }
                            }
                        }
                    }
                }
            }
            form #passkey-add data-testid="passkey-add" {
                label for="passkey-name" { (lang.t("passkey_name")) }
                input #passkey-name type="text" name="name" maxlength="64" autocomplete="off";
                button type="submit" data-testid="add-passkey" { (lang.t("passkey_add")) }
            }
            @if !passkeys.is_empty() {
                button #passkey-check type="button" data-testid="check-passkey" { (lang.t("passkey_check")) }
            }
            p #passkey-status role="status" aria-live="polite" data-testid="passkey-status" {}
            noscript { p { (lang.t("passkey_needs_script")) } }
        }
        script src="/static/passkey.js" defer {}
    }
}

/// The platform's side of a passkey step-up (CIBA): ask, then read the outcome.
pub fn platform_router() -> Router<AppState> {
    Router::new()
        .route(
            "/sessions/{session_id}/passkey-requests",
            post(request_step_up),
        )
        .route(
            "/sessions/{session_id}/passkey-requests/{request_id}",
            axum::routing::get(step_up_status),
        )
}

fn parse_session(raw: &str) -> Result<&str, Problem> {
    if (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(raw)
    } else {
        Err(Problem::bad_request(
            "a session id is 1-64 printable ASCII characters",
        ))
    }
}

/// Ask the customer of a live session to approve a step-up with their passkey on their own
/// phone (the CIBA pattern). trustline sends a single-use link (5 minutes, never beyond the
/// session) through the tenant's webhook (event `customer_link`, purpose `passkey`) and answers
/// the same link for a customer already in the tenant's app, with a binding code the agent may
/// read out. When the customer approves, the session gets the `passkey` factor: the session's
/// decision is updated (`GET /v1/sessions/{id}`) and its event stream sends `passkey_approved`.
/// The customer must have registered a passkey in the privacy centre
/// (`422 passkey_not_registered` otherwise). Requires scope `sessions`.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/passkey-requests", tag = "platform",
    security(("api_key" = [])), params(("session_id" = String, Path)),
    responses((status = 202, body = crate::passkeys::stepup::PasskeyRequestView),
        (status = 404, body = Problem), (status = 410, body = Problem),
        (status = 422, body = Problem)))]
pub async fn request_step_up(
    State(state): State<AppState>,
    caller: super::extract::PlatformCaller,
    Path(session_id): Path<String>,
) -> Result<Response, Response> {
    caller
        .require(crate::tenants::Scope::Sessions)
        .map_err(IntoResponse::into_response)?;
    let session = parse_session(&session_id).map_err(IntoResponse::into_response)?;
    let requested =
        crate::passkeys::stepup::request(&state, &caller.tenant, &caller.key_id, session)
            .await
            .map_err(super::customer_pages::step_up_problem)?;
    Ok((StatusCode::ACCEPTED, Json(requested)).into_response())
}

/// A passkey request's status: `pending`, `approved` or `expired`. Requires scope `sessions`.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/passkey-requests/{request_id}",
    tag = "platform", security(("api_key" = [])),
    params(("session_id" = String, Path), ("request_id" = String, Path)),
    responses((status = 200, body = crate::passkeys::stepup::PasskeyRequestView),
        (status = 404, body = Problem)))]
pub async fn step_up_status(
    State(state): State<AppState>,
    caller: super::extract::PlatformCaller,
    Path((session_id, request_id)): Path<(String, String)>,
) -> Result<Response, Response> {
    caller
        .require(crate::tenants::Scope::Sessions)
        .map_err(IntoResponse::into_response)?;
    let session = parse_session(&session_id).map_err(IntoResponse::into_response)?;
    let status = crate::passkeys::stepup::status(&state, &caller.tenant, session, &request_id)
        .await
        .map_err(super::customer_pages::step_up_problem)?;
    Ok(Json(status).into_response())
}
