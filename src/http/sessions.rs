//! Platform API: sessions (scope `sessions`), factor enrolment (scope `enrol`), the tenant's
//! webhook, and the OpenID-style discovery document.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{
    extract::{ApiJson, ApiPath, PlatformCaller},
    problem::Problem,
};
use crate::{
    AppState,
    factors::service::{self as factors, OneTimeCodeSent, TotpEnrolment},
    policy::{Assurance, FactorKind, Modality},
    sessions::{
        EvidenceInput, SessionView,
        service::{self, parse_channel, parse_factor},
    },
    tenants::{CustomerRef, Scope},
};

pub fn router() -> Router<AppState> {
    // Evidence may carry an utterance: these two routes take bodies as large as voice verify.
    let evidence = Router::new()
        .route("/sessions", post(start_session))
        .route("/sessions/{session_id}/evidence", post(add_evidence))
        .layer(DefaultBodyLimit::max(
            super::voice::SESSION_EVIDENCE_BODY_LIMIT,
        ));
    Router::new()
        .merge(evidence)
        .route("/sessions/{session_id}", get(get_session))
        .route(
            "/sessions/{session_id}/factors/{factor}",
            post(submit_factor),
        )
        .route("/sessions/{session_id}/one_time_code", post(send_code))
        .route("/sessions/{session_id}/handoff", post(handoff))
        .route("/customers/{customer_ref}/factors/totp", post(enrol_totp))
        .route("/customers/{customer_ref}/factors/pin", put(set_pin))
        .route(
            "/customers/{customer_ref}/factors/recovery_codes",
            post(new_recovery_codes),
        )
        .route("/webhook", put(set_webhook))
}

pub fn well_known() -> Router<AppState> {
    Router::new().route("/.well-known/openid-configuration", get(discovery))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSession {
    /// The tenant's reference for the customer the caller claims to be.
    pub customer_ref: String,
    /// voice | chat | web | video
    pub channel: String,
    #[serde(default)]
    pub evidence: Option<EvidenceInput>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactorSubmission {
    pub code: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    pub channel: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    pub pin: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    pub url: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookResponse {
    pub url: String,
    /// HMAC-SHA256 key for `X-Trustline-Signature`; shown once.
    pub secret: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Shown once; only salted hashes are kept.
    pub codes: Vec<String>,
}

/// Start a session for a claimed customer on a channel, with optional passive evidence.
#[utoipa::path(post, path = "/v1/sessions", tag = "platform", security(("api_key" = [])),
    request_body = StartSession,
    responses((status = 201, body = SessionView), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem, description = "`invalid_audio`: the voice sample cannot be used (`reason`); nothing was stored")))]
pub async fn start_session(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiJson(body): ApiJson<StartSession>,
) -> Result<Response, Problem> {
    caller.require(Scope::Sessions)?;
    let customer = CustomerRef::try_from(body.customer_ref)?;
    let channel = parse_channel(&body.channel)?;
    let samples = match &body.evidence {
        Some(evidence) => evidence.parse()?,
        None => Vec::new(),
    };
    let view = service::start(&state, &caller.tenant, &customer, channel, samples).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The session's current decision (and assertion when verified).
#[utoipa::path(get, path = "/v1/sessions/{session_id}", tag = "platform", security(("api_key" = [])),
    params(("session_id" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = Problem)))]
pub async fn get_session(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
) -> Result<Json<SessionView>, Problem> {
    caller.require(Scope::Sessions)?;
    Ok(Json(
        service::get(&state, &caller.tenant, &session_id).await?,
    ))
}

/// Add passive evidence to a running session; the decision is re-evaluated.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/evidence", tag = "platform", security(("api_key" = [])),
    params(("session_id" = String, Path)), request_body = EvidenceInput,
    responses((status = 200, body = SessionView), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 410, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem, description = "`invalid_audio`: the voice sample cannot be used (`reason`); nothing was stored")))]
pub async fn add_evidence(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
    ApiJson(body): ApiJson<EvidenceInput>,
) -> Result<Json<SessionView>, Problem> {
    caller.require(Scope::Sessions)?;
    let samples = body.parse()?;
    Ok(Json(
        service::add_evidence(&state, &caller.tenant, &session_id, samples).await?,
    ))
}

/// Submit a code for a factor (totp, one_time_code, pin, recovery_code).
#[utoipa::path(post, path = "/v1/sessions/{session_id}/factors/{factor}", tag = "platform", security(("api_key" = [])),
    params(("session_id" = String, Path), ("factor" = String, Path)), request_body = FactorSubmission,
    responses((status = 200, body = SessionView), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 423, body = Problem), (status = 429, body = Problem)))]
pub async fn submit_factor(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path((session_id, factor)): Path<(String, String)>,
    ApiJson(body): ApiJson<FactorSubmission>,
) -> Result<Json<SessionView>, Problem> {
    caller.require(Scope::Sessions)?;
    let kind = parse_factor(&factor)?;
    let code = Zeroizing::new(body.code);
    Ok(Json(
        service::submit_factor(&state, &caller.tenant, &session_id, kind, code).await?,
    ))
}

/// Send a one-time code to the customer through the tenant's webhook.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/one_time_code", tag = "platform", security(("api_key" = [])),
    params(("session_id" = String, Path)),
    responses((status = 202, body = OneTimeCodeSent), (status = 409, body = Problem)))]
pub async fn send_code(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::Sessions)?;
    let sent = service::send_one_time_code(&state, &caller.tenant, &session_id).await?;
    Ok((StatusCode::ACCEPTED, Json(sent)).into_response())
}

/// Continue the session on another channel.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/handoff", tag = "platform", security(("api_key" = [])),
    params(("session_id" = String, Path)), request_body = HandoffRequest,
    responses((status = 201, body = SessionView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn handoff(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(session_id): Path<String>,
    ApiJson(body): ApiJson<HandoffRequest>,
) -> Result<Response, Problem> {
    caller.require(Scope::Sessions)?;
    let target = parse_channel(&body.channel)?;
    let view = service::handoff(&state, &caller.tenant, &session_id, target).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Start TOTP enrolment: otpauth URI and QR code (PNG, SVG). Confirmed by the first code.
#[utoipa::path(post, path = "/v1/customers/{customer_ref}/factors/totp", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)),
    responses((status = 201, body = TotpEnrolment), (status = 422, body = Problem)))]
pub async fn enrol_totp(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
) -> Result<Response, Problem> {
    caller.require(Scope::Enrol)?;
    let enrolment = factors::enrol_totp(&state, &caller.tenant, &customer).await?;
    Ok((StatusCode::CREATED, Json(enrolment)).into_response())
}

/// Set the customer's PIN (6-12 digits; Argon2id, OWASP parameters).
#[utoipa::path(put, path = "/v1/customers/{customer_ref}/factors/pin", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)), request_body = PinRequest,
    responses((status = 204), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn set_pin(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
    ApiJson(body): ApiJson<PinRequest>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::Enrol)?;
    factors::set_pin(&state, &caller.tenant, &customer, Zeroizing::new(body.pin)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the customer's recovery codes (ten, shown once).
#[utoipa::path(post, path = "/v1/customers/{customer_ref}/factors/recovery_codes", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)),
    responses((status = 201, body = RecoveryCodes), (status = 422, body = Problem)))]
pub async fn new_recovery_codes(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
) -> Result<Response, Problem> {
    caller.require(Scope::Enrol)?;
    let codes = factors::new_recovery_codes(&state, &caller.tenant, &customer).await?;
    let codes = codes.iter().map(|c| c.to_string()).collect();
    Ok((StatusCode::CREATED, Json(RecoveryCodes { codes })).into_response())
}

/// Where one-time codes are POSTed for the platform to deliver.
#[utoipa::path(put, path = "/v1/webhook", tag = "platform", security(("api_key" = [])),
    request_body = WebhookRequest,
    responses((status = 200, body = WebhookResponse), (status = 400, body = Problem)))]
pub async fn set_webhook(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiJson(body): ApiJson<WebhookRequest>,
) -> Result<Json<WebhookResponse>, Problem> {
    caller.require(Scope::Sessions)?;
    let secret = factors::set_webhook(&state, &caller.tenant, &body.url).await?;
    Ok(Json(WebhookResponse {
        url: body.url,
        secret: secret.to_string(),
    }))
}

/// OpenID-style discovery metadata for verifying session assertions.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "operations",
    responses((status = 200, description = "Discovery document")))]
pub async fn discovery(State(state): State<AppState>) -> Json<Value> {
    let base = &state.settings.public_url;
    let mut amr: Vec<&str> = Modality::ALL.iter().map(|m| m.amr()).collect();
    amr.extend(FactorKind::ALL.iter().map(|f| f.amr()));
    amr.push("mfa");
    amr.sort();
    amr.dedup();
    Json(json!({
        "issuer": base,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "response_types_supported": ["none"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_methods_supported": ["none"],
        "acr_values_supported": Assurance::ACR_VALUES,
        // RFC 8176 values, plus `kbd` (keystroke-dynamics biometric), a trustline value.
        "amr_values_supported": amr,
        "claims_supported": ["iss", "sub", "aud", "tenant", "acr", "amr", "auth_time", "iat",
            "exp", "sid", "channel", "policy"],
        "trustline_amr_custom": { "kbd": "keystroke-dynamics (typing rhythm) biometric" },
    }))
}
