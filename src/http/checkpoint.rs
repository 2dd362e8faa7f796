//! The tenant's log checkpoints as they stand outside the database: the latest C2SP
//! tlog-checkpoint signed note (with any witness cosignatures) and the key that verifies it.
//! Served to the tenant's API key only (a public URL would tell anyone that a tenant exists
//! and how much it logs); any C2SP signed-note verifier checks them.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use super::{extract::PlatformCaller, problem::Problem};
use crate::{AppState, tenants::Scope};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ledger/checkpoint", get(checkpoint))
        .route("/ledger/checkpoint/key", get(checkpoint_key))
}

fn require_log_reader(caller: &PlatformCaller) -> Result<(), Problem> {
    if caller.scopes.contains(&Scope::Audit) || caller.scopes.contains(&Scope::Consent) {
        Ok(())
    } else {
        Err(Problem::scope_denied(Scope::Audit.as_str()))
    }
}

fn text(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn no_checkpoints() -> Problem {
    Problem::unavailable("this instance publishes no checkpoints")
}

/// The latest checkpoint on file (C2SP tlog-checkpoint signed note, `text/plain`), with the
/// witness cosignatures gathered for it. Requires scope `audit` or `consent`.
#[utoipa::path(get, path = "/v1/ledger/checkpoint", tag = "consent", security(("api_key" = [])),
    responses((status = 200, description = "Signed note", content_type = "text/plain"), (status = 404, body = Problem)))]
pub async fn checkpoint(
    State(state): State<AppState>,
    caller: PlatformCaller,
) -> Result<Response, Problem> {
    require_log_reader(&caller)?;
    let log = state.ledger.checkpoints().ok_or_else(no_checkpoints)?;
    let latest = log.latest(caller.tenant.as_str()).await.map_err(|e| {
        tracing::error!(error = %e, "checkpoint file unreadable");
        Problem::internal()
    })?;
    match latest {
        Some(note) => Ok(text(note)),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "no_checkpoint",
            "No checkpoint has been signed for this log yet",
        )),
    }
}

/// The verifier key of this tenant's checkpoints (`origin+hash+base64`, the format
/// golang.org/x/mod/sumdb/note reads). Requires scope `audit` or `consent`.
#[utoipa::path(get, path = "/v1/ledger/checkpoint/key", tag = "consent", security(("api_key" = [])),
    responses((status = 200, description = "Verifier key", content_type = "text/plain")))]
pub async fn checkpoint_key(
    State(state): State<AppState>,
    caller: PlatformCaller,
) -> Result<Response, Problem> {
    require_log_reader(&caller)?;
    let log = state.ledger.checkpoints().ok_or_else(no_checkpoints)?;
    let key = log.log_key(caller.tenant.as_str()).map_err(|e| {
        tracing::error!(error = %e, "checkpoint key unavailable");
        Problem::internal()
    })?;
    Ok(text(format!("{}\n", key.encode())))
}
