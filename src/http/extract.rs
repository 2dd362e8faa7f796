//! Extractors shared by the platform API: JSON bodies and API-key callers.

use std::str::FromStr;

use axum::{
    extract::{FromRequest, FromRequestParts, Path, Request, rejection::JsonRejection},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::{
    AppState, store,
    tenants::{Scope, TenantId, api_key},
};

/// `Json<T>` whose rejections are problem+json like every other error.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// The one path parameter of a route, parsed into its domain type (`ApiPath<CustomerRef>`):
/// a malformed value is refused with the type's own problem (`400 invalid_request`).
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: FromStr,
    T::Err: Into<Problem>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| Problem::bad_request(e.body_text()))?;
        raw.parse().map(Self).map_err(Into::into)
    }
}

fn json_rejection(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::unsupported_media_type(),
        JsonRejection::JsonDataError(e) => Problem::malformed_json(e.body_text()),
        JsonRejection::JsonSyntaxError(_) => {
            Problem::malformed_json("the body is not syntactically valid JSON")
        }
        JsonRejection::BytesRejection(e) => {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(e.status(), "payload_too_large", "The body is too large")
            } else {
                Problem::bad_request("the body could not be read")
            }
        }
        _ => Problem::bad_request("the body could not be read"),
    }
}

/// A platform caller, authenticated by API key. The key decides the tenant: nothing in the
/// request can name another one.
#[derive(Debug, Clone)]
pub struct PlatformCaller {
    pub tenant: TenantId,
    pub key_id: String,
    pub scopes: Vec<Scope>,
}

impl PlatformCaller {
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(Problem::scope_denied(scope.as_str()))
        }
    }
}

impl FromRequestParts<AppState> for PlatformCaller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(Problem::unauthenticated)?;
        let presented = api_key::parse(presented.trim()).map_err(|_| Problem::unauthenticated())?;
        let stored = store::api_keys::find(&state.db, presented.key_id)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "api key lookup failed");
                Problem::unavailable("the key store is not reachable")
            })?;
        // Unknown, wrong secret and revoked all answer the same: nothing to learn by probing.
        let stored = stored.ok_or_else(Problem::unauthenticated)?;
        if !presented.matches(&stored.secret_hash) || stored.revoked_at.is_some() {
            return Err(Problem::unauthenticated());
        }
        super::rate_limit::check(state, parts, &stored.tenant_id, &stored.key_id).await?;
        Ok(Self {
            tenant: stored.tenant_id,
            key_id: stored.key_id,
            scopes: stored.scopes,
        })
    }
}
