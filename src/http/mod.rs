//! The HTTP edge: routers per audience, shared layers, problem+json everywhere.

pub mod auth;
pub mod checkpoint;
pub mod consent;
pub mod console;
pub mod console_brand;
pub mod customer_links;
pub mod customer_pages;
pub mod customers;
pub mod docs;
pub mod extract;
pub mod health;
pub mod i18n;
pub mod json_objects;
pub mod keystroke;
pub mod limits;
pub mod openapi_errors;
pub mod passkeys;
pub mod privacy;
pub mod problem;
pub mod rate_limit;
pub mod rejections;
pub mod sessions;
pub mod voice;
pub mod voice_stream;
pub mod web;
pub mod wellknown;

use std::time::{Duration, Instant};

use axum::{
    Router,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use crate::AppState;
use problem::Problem;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole service as one router. Tests drive exactly this.
pub fn app(state: AppState) -> Router {
    let body_limit = state.settings.request_body_limit_bytes;
    let timeout = state.settings.request_timeout;

    let platform = Router::new()
        .merge(customers::router())
        .merge(customer_links::router())
        .merge(auth::platform_router())
        .merge(keystroke::router())
        .merge(sessions::router())
        .merge(consent::router())
        .merge(checkpoint::router())
        .merge(voice::router())
        .merge(voice_stream::router())
        .merge(passkeys::platform_router());

    // People-facing pages: HTML, strict security headers, no scripts (except the one same-origin
    // passkey script on the pages that need WebAuthn: `passkeys::SCRIPT_CSP`).
    let pages = Router::new()
        .merge(auth::router())
        .merge(console::router())
        .merge(console_brand::router())
        .merge(privacy::router())
        .merge(passkeys::router())
        .merge(customer_pages::router())
        .route("/static/app.css", axum::routing::get(stylesheet))
        .route("/static/passkey.js", axum::routing::get(passkeys::script))
        .layer(middleware::from_fn(web::security_headers))
        .layer(middleware::from_fn_with_state(
            state.settings.cookie_secure,
            i18n::remember_choice,
        ));

    Router::new()
        .merge(health::router())
        .merge(docs::router())
        .merge(wellknown::router())
        .merge(sessions::well_known())
        .nest("/v1", platform)
        .merge(pages)
        .fallback(|| async { Problem::not_found() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(rejections::as_problem))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(middleware::from_fn_with_state(timeout, deadline))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuidOrRandom))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
                    let request_id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    // Method and route template only: paths carry customer references.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(MatchedPath::as_str)
                        .unwrap_or("unmatched");
                    tracing::info_span!("request", method = %req.method(), route, request_id)
                }))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(CatchPanicLayer::custom(
                    |_: Box<dyn std::any::Any + Send>| {
                        tracing::error!("handler panicked");
                        Problem::internal().into_response()
                    },
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                )),
        )
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        web::STYLESHEET,
    )
}

/// Request ids: random, so they correlate logs without revealing order or volume.
#[derive(Clone, Copy)]
struct MakeRequestUuidOrRandom;

impl tower_http::request_id::MakeRequestId for MakeRequestUuidOrRandom {
    fn make_request_id<B>(
        &mut self,
        request: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        MakeRequestUuid.make_request_id(request)
    }
}

/// Abandon requests that overrun the configured timeout with a problem+json 503.
async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::timeout().into_response(),
    }
}

/// Count requests and record latency per route template and status (never per path).
async fn observe(State(_state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("trustline_http_requests_total", &labels).increment(1);
    metrics::histogram!("trustline_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}
