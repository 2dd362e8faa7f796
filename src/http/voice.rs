//! Platform API: voiceprint enrolment and voice evidence. Handlers are thin: extract, call
//! `biometrics::voice::service`, map errors to problem+json.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    routing::{post, put},
};
use serde::Deserialize;

use super::{
    extract::{ApiJson, PlatformCaller},
    problem::Problem,
};
use crate::{
    AppState,
    biometrics::{
        audio::{self, AudioError},
        scorer::VoiceSample,
        voice::{
            VoiceError,
            service::{self, EnrolmentOutcome, MAX_ENROLMENT_UTTERANCES, VoiceEvidence},
        },
    },
    consent::ConsentError,
    tenants::{CustomerRef, Scope},
};

/// Base64 of the largest utterance plus JSON overhead, times the enrolment maximum.
const VOICE_BODY_LIMIT: usize = (audio::MAX_BYTES / 3 + 1) * 4 * 2 + 64 * 1024;
/// Session requests that may carry voice evidence: one utterance (as the voice API's verify)
/// plus the keystroke samples and the rest of the body.
pub const SESSION_EVIDENCE_BODY_LIMIT: usize = crate::sessions::service::MAX_VOICE_SAMPLE_BYTES
    + 2 * crate::sessions::service::MAX_SAMPLE_BYTES
    + 64 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/customers/{customer_ref}/voiceprint",
            put(enrol).delete(delete_voiceprint),
        )
        .route("/customers/{customer_ref}/voiceprint/verify", post(verify))
        .layer(DefaultBodyLimit::max(VOICE_BODY_LIMIT))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub utterances: Vec<VoiceSample>,
}

fn parse_customer(raw: String) -> Result<CustomerRef, Problem> {
    raw.try_into()
        .map_err(|e: crate::tenants::TenantError| Problem::bad_request(e.to_string()))
}

/// The one mapping of audio errors to problem details (voice API and session evidence).
pub fn audio_problem(a: AudioError) -> Problem {
    a.into()
}

/// The one mapping of voice errors to problem details.
pub fn voice_problem(e: VoiceError) -> Problem {
    match e {
        VoiceError::Audio(a) => audio_problem(a),
        VoiceError::Consent(ConsentError::Required(purpose)) => Problem::new(
            StatusCode::FORBIDDEN,
            "consent_required",
            "The customer has not consented to this use",
        )
        .with_extension("purpose", purpose.as_str()),
        VoiceError::NotEnrolled => Problem::new(
            StatusCode::CONFLICT,
            "not_enrolled",
            "No voiceprint is enrolled for this customer",
        ),
        VoiceError::UtteranceCount { .. } => Problem::bad_request(e.to_string()),
        other => {
            tracing::error!(error = %other, "voice operation failed");
            Problem::internal()
        }
    }
}

/// Enrol (or replace) a customer's voiceprint from 1-10 utterances. Requires scope `enrol`
/// and a `voiceprint_enrolment` consent. Audio is never stored: only the encrypted averaged
/// embeddings.
#[utoipa::path(put, path = "/v1/customers/{customer_ref}/voiceprint", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)), request_body = EnrolRequest,
    responses((status = 201, body = EnrolmentOutcome), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn enrol(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(customer_ref): Path<String>,
    ApiJson(body): ApiJson<EnrolRequest>,
) -> Result<(StatusCode, Json<EnrolmentOutcome>), Problem> {
    caller.require(Scope::Enrol)?;
    let customer = parse_customer(customer_ref)?;
    if body.utterances.len() > MAX_ENROLMENT_UTTERANCES {
        return Err(Problem::bad_request(format!(
            "at most {MAX_ENROLMENT_UTTERANCES} utterances"
        )));
    }
    let utterances = body
        .utterances
        .iter()
        .map(|u| u.parse().map(|a| (a.bytes, a.encoding)))
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = service::enrol(&state, &caller.tenant, &customer, utterances)
        .await
        .map_err(voice_problem)?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// Score one utterance against the customer's voiceprint: calibrated FMR, per-model scores,
/// presentation-attack flag and replay detection. Requires scope `sessions`.
#[utoipa::path(post, path = "/v1/customers/{customer_ref}/voiceprint/verify", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)), request_body = VoiceSample,
    responses((status = 200, body = VoiceEvidence), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(customer_ref): Path<String>,
    ApiJson(body): ApiJson<VoiceSample>,
) -> Result<Json<VoiceEvidence>, Problem> {
    caller.require(Scope::Sessions)?;
    let customer = parse_customer(customer_ref)?;
    let audio = body.parse()?;
    let evidence = service::verify(
        &state,
        &caller.tenant,
        &customer,
        audio.bytes,
        audio.encoding,
    )
    .await
    .map_err(voice_problem)?;
    Ok(Json(evidence))
}

/// Delete the customer's voiceprint. Requires scope `enrol`.
#[utoipa::path(delete, path = "/v1/customers/{customer_ref}/voiceprint", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_voiceprint(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(customer_ref): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::Enrol)?;
    let customer = parse_customer(customer_ref)?;
    if service::delete(&state, &caller.tenant, &customer)
        .await
        .map_err(voice_problem)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found())
    }
}
