//! Public, unauthenticated documents under /.well-known.

use axum::{Json, Router, extract::State, routing::get};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

/// Every published verification key (RFC 7517), including retired keys whose tokens, grants
/// or receipts may still be presented.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations", responses((status = 200, description = "JWK Set")))]
pub async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.signer.jwks())
}
