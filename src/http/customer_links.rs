//! Platform API for customer links: ask trustline to reach the customer of a live session —
//! for camera consent (scope `consent`) or for the privacy centre (scope `sessions`, only for a
//! session verified in the last ten minutes) — and read what the customer chose.
//!
//! The answer and the webhook carry the link; neither carries the confirmation code, which only
//! the signed-in agent's page shows. So the platform's key cannot redeem a link by itself.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
};

use super::{extract::PlatformCaller, problem::Problem};
use crate::{
    AppState,
    consent::{
        link_service::{self, ChoiceState, LinkError, LinkRequested},
        links::{LinkPurpose, MintRefusal},
    },
    tenants::Scope,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/sessions/{session_id}/camera-consent-requests",
            post(camera_consent_request),
        )
        .route(
            "/sessions/{session_id}/privacy-link-requests",
            post(privacy_link_request),
        )
        .route("/sessions/{session_id}/camera-choice", get(camera_choice))
}

fn parse_session(raw: &str) -> Result<&str, Problem> {
    if (1..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(raw)
    } else {
        Err(Problem::bad_request(
            "a session id is 1-128 printable ASCII characters",
        ))
    }
}

fn link_problem(e: LinkError) -> Problem {
    match e {
        LinkError::SessionNotFound => Problem::new(
            StatusCode::NOT_FOUND,
            "session_not_found",
            "No such session for this tenant",
        ),
        LinkError::Mint(MintRefusal::SessionEnded) => Problem::new(
            StatusCode::CONFLICT,
            "session_ended",
            "The session has ended",
        ),
        LinkError::Mint(MintRefusal::NotVerified) => Problem::new(
            StatusCode::FORBIDDEN,
            "session_not_verified",
            "The session's customer is not verified",
        )
        .with_detail("a privacy link is sent only to a customer verified in this session"),
        LinkError::Mint(MintRefusal::VerificationStale) => Problem::new(
            StatusCode::FORBIDDEN,
            "verification_stale",
            "The session's verification is too old",
        )
        .with_detail("verify the customer again in a session, then ask for the link"),
        LinkError::Store(e) => e.into(),
        other => {
            tracing::error!(error = %other, "customer link failed");
            Problem::internal()
        }
    }
}

async fn ask(
    state: AppState,
    caller: PlatformCaller,
    purpose: LinkPurpose,
    session_id: String,
) -> Result<impl IntoResponse, Problem> {
    let session = parse_session(&session_id)?;
    let requested = link_service::request(&state, &caller.tenant, &caller.key_id, purpose, session)
        .await
        .map_err(link_problem)?;
    Ok((StatusCode::CREATED, Json(requested)))
}

/// Ask the customer of a live session how video may be used: trustline sends a single-use
/// link (10 minutes) through the tenant's webhook (event `customer_link`, purpose `camera`) and
/// answers the same link for a customer already in the tenant's app. The customer confirms
/// with the code the agent reads out (agent page), then chooses on their phone. Requires scope
/// `consent`.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/camera-consent-requests", tag = "consent",
    security(("api_key" = [])), params(("session_id" = String, Path)),
    responses((status = 201, body = LinkRequested), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn camera_consent_request(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    caller.require(Scope::Consent)?;
    ask(state, caller, LinkPurpose::Camera, session_id).await
}

/// A single-use link into the privacy centre for the customer of a session verified in the
/// last ten minutes, delivered like a camera link (event `customer_link`, purpose `privacy`)
/// and redeemed only with the code the agent reads out. Requires scope `sessions`.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/privacy-link-requests", tag = "platform",
    security(("api_key" = [])), params(("session_id" = String, Path)),
    responses((status = 201, body = LinkRequested), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn privacy_link_request(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    caller.require(Scope::Sessions)?;
    ask(state, caller, LinkPurpose::Privacy, session_id).await
}

/// What the customer allowed for video in this session (live changes: the session's event
/// stream, event `camera_choice`). Requires scope `consent`.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/camera-choice", tag = "consent",
    security(("api_key" = [])), params(("session_id" = String, Path)),
    responses((status = 200, body = ChoiceState), (status = 404, body = Problem)))]
pub async fn camera_choice(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
) -> Result<Json<ChoiceState>, Problem> {
    caller.require(Scope::Consent)?;
    let session = parse_session(&session_id)?;
    if crate::store::sessions::get(&state.db, &caller.tenant, session)
        .await?
        .is_none()
    {
        return Err(link_problem(LinkError::SessionNotFound));
    }
    link_service::choice_state(&state, &caller.tenant, session)
        .await
        .map(Json)
        .map_err(link_problem)
}
