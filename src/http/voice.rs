//! Platform API: voiceprint enrolment and voice evidence. Handlers are thin: extract, call
//! `biometrics::voice::service`, map errors to problem+json.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    routing::{post, put},
};
use serde::Deserialize;

use super::{
    extract::{ApiJson, ApiPath, PlatformCaller},
    problem::Problem,
};
use crate::{
    AppState,
    biometrics::{
        audio,
        scorer::VoiceSample,
        voice::service::{self, EnrolmentOutcome, MAX_ENROLMENT_UTTERANCES, VoiceEvidence},
    },
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
    ApiPath(customer): ApiPath<CustomerRef>,
    ApiJson(body): ApiJson<EnrolRequest>,
) -> Result<(StatusCode, Json<EnrolmentOutcome>), Problem> {
    caller.require(Scope::Enrol)?;
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
    let outcome = service::enrol(&state, &caller.tenant, &customer, utterances).await?;
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
    ApiPath(customer): ApiPath<CustomerRef>,
    ApiJson(body): ApiJson<VoiceSample>,
) -> Result<Json<VoiceEvidence>, Problem> {
    caller.require(Scope::Sessions)?;
    let audio = body.parse()?;
    let evidence = service::verify(
        &state,
        &caller.tenant,
        &customer,
        audio.bytes,
        audio.encoding,
    )
    .await?;
    Ok(Json(evidence))
}

/// Delete the customer's voiceprint. Requires scope `enrol`.
#[utoipa::path(delete, path = "/v1/customers/{customer_ref}/voiceprint", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_voiceprint(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::Enrol)?;
    if service::delete(&state, &caller.tenant, &customer).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found())
    }
}
