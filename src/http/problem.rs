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

use crate::biometrics::{
    audio::{self, AudioError},
    keystroke::KeystrokeError,
    scorer::SampleError,
};

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type: `https://trustline.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
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
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: impl Into<String>) -> Self {
        Self {
            type_uri: format!("https://trustline.dev/problems/{code}"),
            title: title.into(),
            status: status.as_u16(),
            code,
            detail: None,
            extensions: Map::new(),
        }
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
impl From<crate::tenants::branding::BrandingError> for Problem {
    fn from(e: crate::tenants::branding::BrandingError) -> Self {
        use crate::tenants::{brand::BrandError, branding::BrandingError};
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
            BrandingError::Ledger(_) | BrandingError::Store(_) => {
                tracing::error!(error = %e, "brand storage failed");
                Problem::internal()
            }
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

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry_after = (status == StatusCode::TOO_MANY_REQUESTS)
            .then(|| {
                self.extensions
                    .get("retry_after_secs")
                    .and_then(Value::as_u64)
            })
            .flatten();
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
