//! Liveness, readiness and Prometheus metrics.

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Serialize;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Readiness {
    status: &'static str,
    database: &'static str,
    models: Vec<ModelStatus>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ModelStatus {
    id: String,
    version: String,
}

/// Ready to serve: the database answers and every manifest model is loaded.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database_ok = state.db.ping().await.is_ok();
    let models: Vec<ModelStatus> = state
        .models
        .summary()
        .into_iter()
        .map(|(id, version)| ModelStatus { id, version })
        .collect();
    let models_ok = models.len() == state.models.manifest.models.len();
    let ready = database_ok && models_ok;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        database: if database_ok { "ok" } else { "unreachable" },
        models,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
