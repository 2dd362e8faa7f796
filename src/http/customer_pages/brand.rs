//! The tenant's brand as the customer pages load it: a stylesheet and a logo from this origin,
//! so the pages' CSP stays `style-src 'self'; img-src 'self'` and no inline style exists.
//! Both are public (the brand is what anyone holding a customer link sees); the URLs carry the
//! brand's version, so they are cached for a while and a change is visible at once.

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::super::{extract::ApiPath, problem::Problem};
use crate::{
    AppState,
    tenants::{TenantId, branding},
};

const CACHE: &str = "public, max-age=300";

/// `:root` colours of one tenant, rendered from the parsed, validated colours only.
pub async fn stylesheet(
    State(state): State<AppState>,
    ApiPath(tenant): ApiPath<TenantId>,
) -> Result<Response, Problem> {
    let brand = branding::current(&state, &tenant).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        brand.stylesheet(),
    )
        .into_response())
}

/// The logo with the content type it was checked as (`X-Content-Type-Options: nosniff` is set
/// on every response), and a CSP of its own: even opened directly, an SVG runs nothing.
pub async fn logo(
    State(state): State<AppState>,
    ApiPath(tenant): ApiPath<TenantId>,
) -> Result<Response, Problem> {
    let (content_type, bytes) = branding::logo(&state, &tenant)
        .await?
        .ok_or_else(Problem::not_found)?;
    let content_type = match content_type.as_str() {
        "image/png" => "image/png",
        "image/svg+xml" => "image/svg+xml",
        other => {
            tracing::error!(content_type = other, "stored logo of an unknown type");
            return Err(Problem::internal());
        }
    };
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    Ok(response)
}
