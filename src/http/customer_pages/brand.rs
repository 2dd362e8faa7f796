//! The tenant's brand as the customer pages load it (a stylesheet and a logo, same origin, so
//! the pages' CSP stays `style-src 'self'; img-src 'self'`). The language switch is
//! `http::i18n::switch` (`?lang=`, remembered by `i18n::remember_choice`).

use axum::{
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    AppState,
    tenants::{TenantId, branding},
};

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// `:root` colours for the customer pages of one tenant (colours were validated when set, and
/// are re-rendered from their parsed form, so nothing else can reach the stylesheet).
pub async fn stylesheet(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let Ok(tenant) = tenant.parse::<TenantId>() else {
        return not_found();
    };
    let Ok(brand) = branding::current(&state, &tenant).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let colour = |c: &str| {
        crate::tenants::brand::parse_colour(c)
            .map(|c| c.hex())
            .unwrap_or_else(|_| branding::DEFAULT_COLOUR.to_string())
    };
    let css = format!(
        ":root {{ --brand-primary: {}; --accent: {}; }}\n",
        colour(&brand.primary_color),
        colour(&brand.accent_color)
    );
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        css,
    )
        .into_response()
}

/// The logo, served with a CSP of its own: even opened directly, an SVG runs nothing.
pub async fn logo(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let Ok(tenant) = tenant.parse::<TenantId>() else {
        return not_found();
    };
    match branding::logo(&state, &tenant).await {
        Ok(Some((content_type, bytes))) => {
            let mut response = bytes.into_response();
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "logo failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
