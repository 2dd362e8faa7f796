//! RFC 9457 problem details: the one shape every error leaves the service in.
//!
//! Each problem carries a stable machine-readable `code` (also the last segment of `type`), a
//! human title, and optionally a detail written for the caller. Server errors never carry their
//! cause: the cause is logged with the request id, and the body says only that it happened.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::{
    biometrics::{
        audio::{self, AudioError},
        keystroke::{KeystrokeError, service::KeystrokeServiceError},
        scorer::SampleError,
        voice::VoiceError,
    },
    consent::ConsentError,
    factors::service::FactorError,
    ledger::{LedgerError, merkle::ProofError},
    sessions::SessionError,
    store::StoreError,
    tenants::{TenantError, brand::BrandError, branding::BrandingError},
};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type: `https://trustline.dev/problems/<code>`.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub type_uri: ProblemType,
    pub title: String,
    pub status: u16,
    /// Stable code for programs: `consent_required`, `scope_denied`, ...
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Extension members (e.g. the factors that would satisfy a step-up).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
    /// Seconds for the `Retry-After` header (429s); not a body member.
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after_secs: Option<u32>,
}

/// The `type` member, written from the code when serialised (`https://trustline.dev/problems/<code>`):
/// no string is built for a problem that is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType(pub &'static str);

impl Serialize for ProblemType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("https://trustline.dev/problems/{}", self.0))
    }
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: impl Into<String>) -> Self {
        Self {
            type_uri: ProblemType(code),
            title: title.into(),
            status: status.as_u16(),
            code,
            detail: None,
            extensions: Map::new(),
            retry_after_secs: None,
        }
    }

    /// Answer with `Retry-After: secs`.
    pub fn with_retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_string(), value.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    // The common problems, named once so their codes stay stable.

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is not valid",
        )
        .with_detail(detail)
    }
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "The body is not valid JSON for this operation",
        )
        .with_detail(detail)
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "The body must be application/json",
        )
    }
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The body is too large",
        )
        .with_detail(format!("at most {limit} bytes are accepted"))
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "A valid API key is required (Authorization: Bearer <key>)",
        )
    }
    pub fn scope_denied(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "scope_denied",
            "The API key lacks the scope for this operation",
        )
        .with_extension("required_scope", scope)
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "No such resource")
    }
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed on this resource",
        )
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "The resource is in a conflicting state",
        )
        .with_detail(detail)
    }
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "The request took too long and was abandoned",
        )
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "A dependency is not available",
        )
        .with_detail(detail)
    }
    /// 429: a rate limit of `scope` (`api_key`, `customer_ref`) is spent until the next window;
    /// the response carries `Retry-After`.
    pub fn rate_limited(scope: &'static str, retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests; retry after the time given",
        )
        .with_extension("limit", scope)
        .with_extension("retry_after_secs", retry_after_secs)
        .with_retry_after(u32::try_from(retry_after_secs).unwrap_or(u32::MAX))
    }
    /// A 500. The caller learns nothing of the cause; log it where this is built.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "An internal error occurred",
        )
    }
}

impl Problem {
    /// Keystroke evidence the caller must fix (the same problem on every route taking it).
    pub fn keystroke(e: &KeystrokeError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.code(),
            "The keystroke evidence is not usable",
        )
        .with_detail(e.to_string())
    }
}

/// The one mapping of audio errors (voice API and session evidence).
impl From<AudioError> for Problem {
    fn from(a: AudioError) -> Self {
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
}

/// The one mapping of brand errors (the console form shows the same codes on its page).
impl From<BrandingError> for Problem {
    fn from(e: BrandingError) -> Self {
        match e {
            BrandingError::Invalid(BrandError::LogoTooLarge) => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "logo_too_large",
                "The logo is too large",
            )
            .with_detail(BrandError::LogoTooLarge.to_string()),
            BrandingError::Invalid(b) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                b.code(),
                "The brand is not valid",
            )
            .with_detail(b.to_string()),
            BrandingError::NotTenantAdmin => Problem::new(
                StatusCode::FORBIDDEN,
                "tenant_admin_only",
                "Only a tenant admin may change the brand",
            ),
            BrandingError::Ledger(e) => e.into(),
            BrandingError::Store(e) => e.into(),
        }
    }
}

/// A sample refused at the edge: the same problem whichever route carried it.
impl From<SampleError> for Problem {
    fn from(e: SampleError) -> Self {
        match e {
            SampleError::Base64 => Problem::bad_request(e.to_string()),
            SampleError::Audio(a) => a.into(),
            SampleError::Keystroke(k) if k.is_client_error() => Problem::keystroke(&k),
            SampleError::Keystroke(k) => {
                tracing::error!(error = %k, "keystroke sample could not be parsed");
                Problem::internal()
            }
        }
    }
}

/// Storage: a duplicate is the caller's conflict; anything else is logged and a bare 500.
impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate => Problem::conflict("the resource already exists"),
            StoreError::Stale => Problem::conflict("the resource changed concurrently; retry"),
            other => {
                tracing::error!(error = %other, "storage error");
                Problem::internal()
            }
        }
    }
}

/// A malformed identifier in a path or body (customer reference, tenant id).
impl From<TenantError> for Problem {
    fn from(e: TenantError) -> Self {
        Problem::bad_request(e.to_string())
    }
}

/// The consent gate, on every route it guards.
impl From<ConsentError> for Problem {
    fn from(e: ConsentError) -> Self {
        match e {
            ConsentError::Required(purpose) => Problem::new(
                StatusCode::FORBIDDEN,
                "consent_required",
                "An explicit, unexpired consent of the customer is required",
            )
            .with_extension("purpose", purpose.as_str()),
            ConsentError::Store(e) => e.into(),
        }
    }
}

impl From<FactorError> for Problem {
    fn from(e: FactorError) -> Self {
        match e {
            FactorError::NotRegistered => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_registered",
                "The customer is not registered with this tenant",
            ),
            FactorError::NotEnrolled => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "factor_not_enrolled",
                "The customer has not enrolled this factor",
            ),
            FactorError::Invalid(detail) => Problem::bad_request(detail),
            FactorError::Replayed => Problem::new(
                StatusCode::CONFLICT,
                "code_already_used",
                "This code was already used; codes are single-use",
            ),
            FactorError::OutsideWindow => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "code_outside_window",
                "This code is outside the accepted time window",
            ),
            FactorError::NoWebhook => Problem::new(
                StatusCode::CONFLICT,
                "webhook_not_configured",
                "No webhook is configured to deliver one-time codes (PUT /v1/webhook)",
            ),
            FactorError::WebhookRefused(e) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "webhook_address_refused",
                "The webhook URL does not lead to a public address",
            )
            .with_detail(e.to_string()),
            FactorError::Store(e) => e.into(),
            FactorError::Crypto => {
                tracing::error!("factor secret could not be processed");
                Problem::internal()
            }
        }
    }
}

impl From<SessionError> for Problem {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::UnknownChannel(raw) => Problem::new(
                StatusCode::BAD_REQUEST,
                "unknown_channel",
                "Unknown channel",
            )
            .with_detail(format!(
                "`{}` is not a channel (voice, chat, web, video)",
                raw.chars().take(32).collect::<String>()
            )),
            SessionError::UnknownFactor(_) => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown_factor",
                "Unknown factor (totp, one_time_code, pin, recovery_code)",
            ),
            // Another tenant's session id is indistinguishable from one that never existed.
            SessionError::NotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "session_not_found",
                "No such session",
            ),
            SessionError::Expired => Problem::new(
                StatusCode::GONE,
                "session_expired",
                "The session has expired; start a new one",
            ),
            SessionError::Closed => Problem::new(
                StatusCode::CONFLICT,
                "session_denied",
                "The session was denied; start a new one",
            ),
            SessionError::EvidenceTooLarge { max_items } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "evidence_too_large",
                "The evidence is too large",
            )
            .with_detail(format!(
                "a session holds at most {max_items} pieces of evidence"
            )),
            // Bad samples and audio: the same problems as the voice and keystroke APIs give.
            SessionError::InvalidSample(e) => e.into(),
            SessionError::InvalidAudio(e) => e.into(),
            SessionError::Delayed(kind, at) => {
                let retry_secs = ((at - crate::store::now_ms()).max(0) + 999) / 1000;
                Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "factor_delayed",
                    "Too many failed attempts: wait before trying this factor again",
                )
                .with_extension("factor", kind.as_str())
                .with_extension("retry_after_ms", at)
                .with_retry_after(u32::try_from(retry_secs).unwrap_or(u32::MAX))
            }
            SessionError::FactorLocked(kind) => Problem::new(
                StatusCode::LOCKED,
                "factor_locked",
                "This factor is locked after too many failed attempts",
            )
            .with_extension("factor", kind.as_str()),
            SessionError::Conflict => Problem::conflict("the session changed concurrently; retry"),
            SessionError::Factor(e) => e.into(),
            SessionError::Store(e) => e.into(),
            // Server faults: the cause (kept as the source error) goes to the log only.
            e => {
                tracing::error!(error = %e, "session processing failed");
                Problem::internal()
            }
        }
    }
}

/// The one mapping of voice errors (voice API).
impl From<VoiceError> for Problem {
    fn from(e: VoiceError) -> Self {
        match e {
            VoiceError::Audio(a) => a.into(),
            VoiceError::Consent(e @ ConsentError::Required(_)) => e.into(),
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
}

impl From<KeystrokeServiceError> for Problem {
    fn from(e: KeystrokeServiceError) -> Self {
        match e {
            KeystrokeServiceError::Input(e) if e.is_client_error() => Problem::keystroke(&e),
            KeystrokeServiceError::Consent(e) => e.into(),
            KeystrokeServiceError::Store(e) => e.into(),
            KeystrokeServiceError::UnknownCustomer => Problem::not_found(),
            KeystrokeServiceError::MethodNotChosen => {
                Problem::conflict("the customer did not choose typing as a recognition method")
            }
            other => {
                tracing::error!(error = %other, "keystroke service failure");
                Problem::internal()
            }
        }
    }
}

impl From<LedgerError> for Problem {
    fn from(e: LedgerError) -> Self {
        match e {
            // Well-formed requests the log cannot answer (schemathesis ST202: a schema-valid index
            // or size was 400): an entry or size beyond the log is not found; sizes out of order
            // are well-formed but not applicable.
            LedgerError::Proof(p @ ProofError::IndexOutOfRange { .. }) => {
                Problem::not_found().with_detail(p.to_string())
            }
            LedgerError::Proof(p @ ProofError::SizesOutOfOrder { .. }) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sizes_out_of_order",
                "The first tree size is larger than the second",
            )
            .with_detail(p.to_string()),
            LedgerError::Proof(p) => Problem::bad_request(p.to_string()),
            LedgerError::NoTreeHead => {
                Problem::not_found().with_detail("the log has no signed tree head yet")
            }
            LedgerError::WriterGone => Problem::unavailable("the log is not accepting appends"),
            other => {
                tracing::error!(error = %other, "ledger error");
                Problem::internal()
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = self.retry_after_secs;
        let mut response = (status, Json(self)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_rfc9457_members_and_extensions() {
        let p = Problem::scope_denied("enrol");
        let v = serde_json::to_value(&p).expect("serialises");
        assert_eq!(v["type"], "https://trustline.dev/problems/scope_denied");
        assert_eq!(v["status"], 403);
        assert_eq!(v["code"], "scope_denied");
        assert_eq!(v["required_scope"], "enrol");
        assert!(v.get("detail").is_none());
    }
}
