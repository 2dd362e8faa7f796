//! Platform API: voiceprint enrolment and voice evidence. Handlers are thin: extract, call
//! `biometrics::voice::service`, map errors to problem+json.

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, Path, State},
    http::StatusCode,
    routing::{post, put},
};
use base64::Engine as _;
use serde::Deserialize;

use super::{
    extract::{ApiJson, PlatformCaller},
    problem::Problem,
};
use crate::{
    AppState,
    biometrics::{
        audio::{self, AudioEncoding, AudioError},
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

/// One utterance: base64 audio bytes and how they are encoded.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UtteranceBody {
    /// Base64 (standard alphabet) of the audio bytes.
    pub audio: String,
    /// `wav` (PCM16, 8/16/44.1/48 kHz, mono/stereo), `mulaw`, `alaw` (8 kHz G.711),
    /// `s16le8k`, `s16le16k`.
    #[schema(value_type = String)]
    pub encoding: AudioEncoding,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub utterances: Vec<UtteranceBody>,
}

fn parse_customer(raw: String) -> Result<CustomerRef, Problem> {
    raw.try_into()
        .map_err(|e: crate::tenants::TenantError| Problem::bad_request(e.to_string()))
}

fn decode_b64(u: &UtteranceBody) -> Result<Vec<u8>, Problem> {
    base64::engine::general_purpose::STANDARD
        .decode(u.audio.as_bytes())
        .map_err(|_| Problem::bad_request("`audio` is not valid base64"))
}

/// The one mapping of audio errors to problem details (voice API and session evidence).
pub fn audio_problem(a: AudioError) -> Problem {
    match a {
        AudioError::Oversized { bytes, max_bytes } => Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The audio is too large",
        )
        .with_detail(format!("{bytes} bytes, limit {max_bytes}")),
        a => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_audio",
            "The audio cannot be used",
        )
        .with_detail(a.to_string())
        .with_extension("reason", a.code())
        .with_extension("min_net_speech_ms", audio::MIN_NET_SPEECH_MS),
    }
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
        .map(|u| decode_b64(u).map(|b| (b, u.encoding)))
        .collect::<Result<Vec<_>, _>>()?;
    let outcome = service::enrol(&state, &caller.tenant, &customer, utterances)
        .await
        .map_err(voice_problem)?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

/// Score one utterance against the customer's voiceprint: calibrated FMR, per-model scores,
/// presentation-attack flag and replay detection. Requires scope `sessions`.
#[utoipa::path(post, path = "/v1/customers/{customer_ref}/voiceprint/verify", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)), request_body = UtteranceBody,
    responses((status = 200, body = VoiceEvidence), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: PlatformCaller,
    Path(customer_ref): Path<String>,
    ApiJson(body): ApiJson<UtteranceBody>,
) -> Result<Json<VoiceEvidence>, Problem> {
    caller.require(Scope::Sessions)?;
    let customer = parse_customer(customer_ref)?;
    let bytes = decode_b64(&body)?;
    let evidence = service::verify(&state, &caller.tenant, &customer, bytes, body.encoding)
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
