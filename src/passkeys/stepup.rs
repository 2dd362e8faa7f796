//! Step-up with a passkey, the CIBA pattern (OpenID Connect Client-Initiated Backchannel
//! Authentication): the platform asks for a session (`POST /v1/sessions/{id}/passkey-requests`),
//! trustline reaches the customer through a customer link (the tenant's webhook, event
//! `customer_link`, purpose `passkey`), the customer approves on their phone with a passkey,
//! and the session gets the `passkey` factor (session view, event stream `passkey_approved`).
//!
//! The link is bound to tenant, customer and session like every customer link, single use and
//! short-lived; what confirms it is the passkey assertion, which only the customer's
//! authenticator can make: a forwarded link is useless without it. A short binding code is
//! shown to the platform (for the agent to read out) and on the phone, so the customer can see
//! that the request on their screen is the one of their call (CIBA's binding message).

use serde::Serialize;
use webauthn_rs::prelude::{PublicKeyCredential, RequestChallengeResponse};

use super::{Binding, PasskeyError, REQUEST_TTL_MS, service};
use crate::{
    AppState,
    consent::{
        events::SessionEvent,
        link_service::{self, LinkError},
        links::LinkPurpose,
    },
    sessions::{SessionError, SessionView, service as sessions},
    store::{self, customer_links::StoredLink, now_ms, passkeys::PasskeyRequest},
    tenants::{CustomerRef, TenantId},
};

/// Digits of the binding code.
pub const BINDING_DIGITS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum StepUpError {
    #[error(transparent)]
    Passkey(#[from] PasskeyError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("no such passkey request for this session")]
    RequestNotFound,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// A passkey request as the platform sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PasskeyRequestView {
    pub request_id: String,
    pub session_id: String,
    /// `pending` (the customer has not approved yet), `approved`, `expired`.
    pub status: &'static str,
    /// Shown on the customer's phone too: the agent may read it out so the customer knows the
    /// request is the one of their call.
    pub binding_code: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// `webhook` when the tenant's webhook carries the link (event `customer_link`, purpose
    /// `passkey`), else `embed_only`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<&'static str>,
    /// The same link for a customer already in the tenant's app (open it in its web view).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_url: Option<String>,
}

fn view(r: &PasskeyRequest, now: i64) -> PasskeyRequestView {
    let status = match r.status.as_str() {
        "approved" => "approved",
        _ if r.expires_at <= now => "expired",
        _ => "pending",
    };
    PasskeyRequestView {
        request_id: r.request_id.clone(),
        session_id: r.session_id.clone(),
        status,
        binding_code: r.binding_code.clone(),
        expires_at: r.expires_at,
        decided_at: r.decided_at,
        delivery: None,
        embed_url: None,
    }
}

/// The platform asks: the session must be live and its customer must have a passkey. The link
/// goes out through the customer-link mechanism (logged as `customer_link_requested`, with the
/// API key that asked).
pub async fn request(
    state: &AppState,
    tenant: &TenantId,
    requested_by: &str,
    session_id: &str,
) -> Result<PasskeyRequestView, StepUpError> {
    // Live (not expired, not denied) and this tenant's: the session service's own check.
    let session = sessions::get(state, tenant, session_id).await?;
    if now_ms() >= session.expires_at {
        return Err(SessionError::Expired.into());
    }
    if session.decision.outcome == crate::sessions::engine::Outcome::Denied {
        return Err(SessionError::Closed.into());
    }
    let customer: CustomerRef = session
        .customer_ref
        .parse()
        .map_err(|_| PasskeyError::Internal("stored customer ref".into()))?;
    if !store::passkeys::has_any(&state.db, tenant, &customer).await? {
        return Err(PasskeyError::NoPasskey.into());
    }
    let link = link_service::request(
        state,
        tenant,
        requested_by,
        LinkPurpose::Passkey,
        session_id,
    )
    .await?;
    let binding_code = crate::factors::codes::numeric_code(BINDING_DIGITS)
        .map_err(|e| PasskeyError::Internal(e.to_string()))?;
    let now = now_ms();
    let stored = PasskeyRequest {
        request_id: link.link_id.clone(),
        session_id: session_id.to_string(),
        customer_ref: customer.to_string(),
        binding_code: binding_code.to_string(),
        status: "pending".into(),
        requested_by: requested_by.to_string(),
        created_at: now,
        // Never beyond the link (which never outlives its session).
        expires_at: link.expires_at.min(now + REQUEST_TTL_MS),
        decided_at: None,
        passkey_id: None,
    };
    store::passkeys::insert_request(&state.db, tenant, &stored, &link.token_hash).await?;
    let mut answer = view(&stored, now);
    answer.delivery = Some(link.delivery);
    answer.embed_url = Some(link.embed_url);
    Ok(answer)
}

pub async fn status(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    request_id: &str,
) -> Result<PasskeyRequestView, StepUpError> {
    if request_id.len() > 64 {
        return Err(StepUpError::RequestNotFound);
    }
    let r = store::passkeys::request(&state.db, tenant, request_id)
        .await?
        .filter(|r| r.session_id == session_id)
        .ok_or(StepUpError::RequestNotFound)?;
    Ok(view(&r, now_ms()))
}

/// The link and its request, while both can still be approved.
async fn pending(
    state: &AppState,
    token: &str,
) -> Result<(StoredLink, PasskeyRequest, CustomerRef), StepUpError> {
    let link = link_service::usable(state, token).await?;
    if link.purpose != LinkPurpose::Passkey.as_str() {
        return Err(LinkError::Refused(crate::consent::links::LinkRefusal::Invalid).into());
    }
    let request = store::passkeys::request(&state.db, &link.tenant_id, &link.link_id)
        .await?
        .ok_or(StepUpError::RequestNotFound)?;
    if request.expires_at <= now_ms() {
        return Err(LinkError::Refused(crate::consent::links::LinkRefusal::Expired).into());
    }
    let customer: CustomerRef = link
        .customer_ref
        .parse()
        .map_err(|_| PasskeyError::Internal("stored customer ref".into()))?;
    Ok((link, request, customer))
}

/// The request behind a passkey link the landing page opened (still pending).
pub async fn request_of(
    state: &AppState,
    link: &StoredLink,
) -> Result<PasskeyRequest, StepUpError> {
    let request = store::passkeys::request(&state.db, &link.tenant_id, &link.link_id)
        .await?
        .filter(|_| link.purpose == LinkPurpose::Passkey.as_str())
        .ok_or(StepUpError::RequestNotFound)?;
    if request.expires_at <= now_ms() {
        return Err(LinkError::Refused(crate::consent::links::LinkRefusal::Expired).into());
    }
    Ok(request)
}

/// Assertion options for the customer's passkeys, bound to this request.
pub async fn options(
    state: &AppState,
    token: &str,
) -> Result<(String, RequestChallengeResponse), StepUpError> {
    let (link, _, customer) = pending(state, token).await?;
    Ok(service::start_authentication(
        state,
        &link.tenant_id,
        &customer,
        &Binding::Request(link.link_id.clone()),
    )
    .await?)
}

/// The customer approves: webauthn-rs verifies the assertion against this request's ceremony
/// and the customer's own passkeys; then the link is redeemed (once), the request approved, the
/// session given the factor and re-decided, and the platform's listeners told.
pub async fn approve(
    state: &AppState,
    token: &str,
    ceremony_id: &str,
    credential: &PublicKeyCredential,
) -> Result<SessionView, StepUpError> {
    let (link, request, customer) = pending(state, token).await?;
    let tenant = link.tenant_id.clone();
    let passkey = service::finish_authentication(
        state,
        &tenant,
        &customer,
        &Binding::Request(link.link_id.clone()),
        ceremony_id,
        credential,
    )
    .await?;
    link_service::redeem_by_passkey(state, token, &passkey.passkey_id).await?;
    let now = now_ms();
    if !store::passkeys::approve_request(
        &state.db,
        &tenant,
        &request.request_id,
        &passkey.passkey_id,
        now,
    )
    .await?
    {
        return Err(LinkError::Refused(crate::consent::links::LinkRefusal::Used).into());
    }
    let session = sessions::passkey_approved(state, &tenant, &request.session_id).await?;
    state.consents.hub.publish(SessionEvent {
        tenant: tenant.to_string(),
        session_id: request.session_id.clone(),
        event: "passkey_approved",
        consent_id: request.request_id.clone(),
        purpose: "passkey".into(),
        at: now,
    });
    tracing::info!(tenant = %tenant, request_id = %request.request_id, "passkey step-up approved");
    Ok(session)
}
