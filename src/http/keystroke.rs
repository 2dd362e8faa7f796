//! Platform API for typing rhythm: enrolment (scope `enrol`, consent-gated) and evidence from a
//! session (scope `sessions`). Bodies carry press/release times and key position classes only.

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{post, put},
};
use serde::{Deserialize, Serialize};

use super::{
    extract::{ApiJson, ApiPath, PlatformCaller},
    problem::Problem,
};
use crate::{
    AppState,
    biometrics::{
        keystroke::{
            KeyEvent,
            service::{self, EnrolmentReceipt, KeystrokeEvidence, KeystrokeVerdict, VerifyOutcome},
        },
        scorer::{KeystrokeFixedSample, KeystrokeFreeSample},
    },
    tenants::{CustomerRef, Scope},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/customers/{customer_ref}/keystroke/fixed",
            put(enrol_fixed),
        )
        .route("/customers/{customer_ref}/keystroke/free", put(enrol_free))
        .route(
            "/customers/{customer_ref}/keystroke/evidence",
            post(evidence),
        )
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedEnrolmentRequest {
    /// At least 5 repetitions of the same phrase (at least 6 keys), in typing order.
    pub repetitions: Vec<Vec<KeyEvent>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreeEnrolmentRequest {
    /// Segments typed without a break (chat messages); at least 250 keystrokes in all.
    pub segments: Vec<Vec<KeyEvent>>,
}

/// Exactly one of `fixed` (one repetition of the enrolled phrase) or `free` (segments, at
/// least 50 keystrokes in all).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRequest {
    #[serde(default)]
    pub fixed: Option<Vec<KeyEvent>>,
    #[serde(default)]
    pub free: Option<Vec<Vec<KeyEvent>>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvidenceResponse {
    /// `scored` or `not_enrolled`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<KeystrokeVerdict>,
}

/// Enrol (or replace) the customer's fixed-text typing template. Requires scope `enrol` and
/// the customer's `keystroke_enrolment` consent.
#[utoipa::path(put, path = "/v1/customers/{customer_ref}/keystroke/fixed", tag = "platform",
    security(("api_key" = [])), params(("customer_ref" = String, Path)),
    request_body = FixedEnrolmentRequest,
    responses((status = 201, body = EnrolmentReceipt), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn enrol_fixed(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
    ApiJson(body): ApiJson<FixedEnrolmentRequest>,
) -> Result<(StatusCode, Json<EnrolmentReceipt>), Problem> {
    caller.require(Scope::Enrol)?;
    let receipt = service::enrol_fixed(&state, &caller.tenant, &customer, body.repetitions).await?;
    Ok((StatusCode::CREATED, Json(receipt)))
}

/// Enrol (or replace) the customer's free-text typing template. Requires scope `enrol` and the
/// customer's `keystroke_enrolment` consent.
#[utoipa::path(put, path = "/v1/customers/{customer_ref}/keystroke/free", tag = "platform",
    security(("api_key" = [])), params(("customer_ref" = String, Path)),
    request_body = FreeEnrolmentRequest,
    responses((status = 201, body = EnrolmentReceipt), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn enrol_free(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
    ApiJson(body): ApiJson<FreeEnrolmentRequest>,
) -> Result<(StatusCode, Json<EnrolmentReceipt>), Problem> {
    caller.require(Scope::Enrol)?;
    let receipt = service::enrol_free(&state, &caller.tenant, &customer, body.segments).await?;
    Ok((StatusCode::CREATED, Json(receipt)))
}

/// Score keystroke evidence of a session against the customer's template: the model's score
/// and its calibrated false-match rate. Requires scope `sessions`.
#[utoipa::path(post, path = "/v1/customers/{customer_ref}/keystroke/evidence", tag = "platform",
    security(("api_key" = [])), params(("customer_ref" = String, Path)),
    request_body = EvidenceRequest,
    responses((status = 200, body = EvidenceResponse), (status = 422, body = Problem)))]
pub async fn evidence(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
    ApiJson(body): ApiJson<EvidenceRequest>,
) -> Result<Json<EvidenceResponse>, Problem> {
    caller.require(Scope::Sessions)?;
    // Parsed before anything is looked up, as session evidence is: the same refusal for the
    // same bad input, and whether or not the customer is enrolled.
    let evidence = match (body.fixed, body.free) {
        (Some(events), None) => KeystrokeEvidence::Fixed(KeystrokeFixedSample { events }.parse()?),
        (None, Some(segments)) => {
            KeystrokeEvidence::Free(KeystrokeFreeSample { segments }.parse()?)
        }
        _ => {
            return Err(Problem::bad_request(
                "give exactly one of `fixed` or `free`",
            ));
        }
    };
    let outcome = service::verify(&state, &caller.tenant, &customer, evidence).await?;
    Ok(Json(match outcome {
        VerifyOutcome::Scored(v) => EvidenceResponse {
            outcome: "scored",
            verdict: Some(v),
        },
        VerifyOutcome::NotEnrolled => EvidenceResponse {
            outcome: "not_enrolled",
            verdict: None,
        },
    }))
}
