//! Extractors shared by the platform API: JSON bodies and API-key callers.

use std::str::FromStr;

use axum::{
    body::Bytes,
    extract::{
        FromRequest, FromRequestParts, Path, Request,
        rejection::{BytesRejection, JsonRejection},
    },
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;

use super::problem::Problem;
use crate::{
    AppState, store,
    tenants::{Scope, TenantId, api_key},
};

/// `Json<T>` whose rejections are problem+json like every other error, and whose body must be
/// a JSON object: every request body of the API is one, but serde builds a struct from a JSON
/// array too (`[null, null]` was accepted as evidence; schemathesis ST201), so the top level is
/// checked before deserialising.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(Problem::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        if !is_json_object(&bytes) {
            return Err(Problem::malformed_json("the body must be a JSON object"));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
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

/// `application/json` or `application/<anything>+json`, as axum's `Json` accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype
                .rsplit_once('+')
                .is_some_and(|(_, suffix)| suffix.eq_ignore_ascii_case("json")))
}

/// The first byte after JSON whitespace opens an object (the rest is serde's to judge).
fn is_json_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{')
}

fn bytes_rejection(e: BytesRejection) -> Problem {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(e.status(), "payload_too_large", "The body is too large")
    } else {
        Problem::bad_request("the body could not be read")
    }
}

fn json_rejection(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Problem::unsupported_media_type(),
        JsonRejection::JsonDataError(e) => Problem::malformed_json(e.body_text()),
        JsonRejection::JsonSyntaxError(_) => {
            Problem::malformed_json("the body is not syntactically valid JSON")
        }
        JsonRejection::BytesRejection(e) => bytes_rejection(e),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_objects_are_bodies() {
        assert!(is_json_object(b"{}"));
        assert!(is_json_object(b" \r\n\t{\"a\":1}"));
        for body in [
            &b"[null,null]"[..],
            b"null",
            b"\"x\"",
            b"1",
            b"",
            b"  ",
            b"\x0c{}",
        ] {
            assert!(!is_json_object(body), "{body:?}");
        }
    }

    #[test]
    fn json_content_types_as_axum_takes_them() {
        let ok = |ct: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            json_content_type(&h)
        };
        assert!(ok("application/json"));
        assert!(ok("application/json; charset=utf-8"));
        assert!(ok("Application/JSON"));
        assert!(ok("application/merge-patch+json"));
        assert!(!ok("text/json"));
        assert!(!ok("application/jsonx"));
        assert!(!ok("text/plain"));
        assert!(!json_content_type(&axum::http::HeaderMap::new()));
    }
}
