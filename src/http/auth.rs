//! Sign-in and sign-out for people: OpenID Connect (staff and customers), privacy-centre links
//! the platform requests for a customer it has verified, and logout.

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;

use super::{
    extract::PlatformCaller,
    i18n::Lang,
    problem::Problem,
    web::{self, PageError, WebUser},
};
use crate::{
    AppState,
    oidc::{
        OidcError, Realm,
        service::{self, Identity, random_token, token_hash},
    },
    store::{self, now_ms, web::WebSession},
    tenants::{CustomerRef, Scope, TenantId},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console/{tenant}/login", get(staff_login))
        .route("/privacy/{tenant}/login", get(customer_login))
        .route("/auth/callback", get(callback))
        .route("/logout", post(logout))
        .route("/signed-out", get(signed_out))
}

/// Platform API (nested at /v1).
pub fn platform_router() -> Router<AppState> {
    Router::new().route(
        "/customers/{customer_ref}/privacy-link",
        post(create_privacy_link),
    )
}

fn login_error(e: OidcError, lang: Lang) -> PageError {
    let (status, reason) = match &e {
        OidcError::NotConfigured => (StatusCode::NOT_FOUND, "not_configured"),
        OidcError::UnknownFlow => (StatusCode::BAD_REQUEST, "unknown_flow"),
        OidcError::StateMismatch => (StatusCode::BAD_REQUEST, "state_mismatch"),
        OidcError::ProviderError(_) => (StatusCode::BAD_REQUEST, "provider_error"),
        OidcError::InvalidIdToken(_) => (StatusCode::UNAUTHORIZED, "invalid_id_token"),
        OidcError::NoRole(_) => (StatusCode::FORBIDDEN, "no_role"),
        OidcError::NoCustomer(_) => (StatusCode::FORBIDDEN, "no_customer"),
        OidcError::Provider(_) => (StatusCode::BAD_GATEWAY, "provider_unavailable"),
        OidcError::Config(_) | OidcError::Store(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    };
    // The reason is logged (no tokens or claims are in these messages); the page stays generic.
    tracing::warn!(reason, error = %e, "login failed");
    PageError::new(status, "login_failed", lang).with_reason(reason)
}

async fn staff_login(
    State(state): State<AppState>,
    lang: Lang,
    Path(tenant): Path<String>,
) -> Result<Response, PageError> {
    login(state, lang, &tenant, Realm::Staff).await
}

async fn customer_login(
    State(state): State<AppState>,
    lang: Lang,
    Path(tenant): Path<String>,
) -> Result<Response, PageError> {
    login(state, lang, &tenant, Realm::Customer).await
}

async fn login(
    state: AppState,
    lang: Lang,
    tenant: &str,
    realm: Realm,
) -> Result<Response, PageError> {
    let tenant: TenantId = tenant.parse().map_err(|_| PageError::not_found(lang))?;
    let start = service::begin(&state, &tenant, realm)
        .await
        .map_err(|e| login_error(e, lang))?;
    let secure = state.settings.cookie_secure;
    let flow_cookie = web::set_cookie(
        web::flow_cookie(secure),
        &start.flow_secret,
        service::FLOW_TTL_MS / 1000,
        secure,
    );
    Ok(web::redirect_with_cookies(
        &start.authorize_url,
        vec![flow_cookie],
    ))
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    lang: Lang,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let secure = state.settings.cookie_secure;
    let flow_secret = web::cookie(&headers, web::flow_cookie(secure))
        .ok_or_else(|| login_error(OidcError::UnknownFlow, lang))?;
    let (code, returned_state) = match (query.code, query.state, query.error) {
        (_, _, Some(error)) => {
            // Forget the flow too: it must not be replayable after a refusal.
            let _ = store::web::take_login_flow(&state.db, &token_hash(flow_secret)).await;
            let error: String = error
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect();
            return Err(login_error(OidcError::ProviderError(error), lang));
        }
        (Some(code), Some(s), None) => (code, s),
        _ => return Err(PageError::bad_request(lang)),
    };
    let identity = service::finish(&state, flow_secret, &code, &returned_state)
        .await
        .map_err(|e| login_error(e, lang))?;
    let (session, destination) = match identity {
        Identity::Staff {
            tenant,
            subject,
            roles,
        } => {
            tracing::info!(tenant = %tenant, roles = roles.len(), "staff signed in");
            // Signing in to the console is a staff action like any other: in the log first.
            state
                .ledger
                .append(
                    &tenant,
                    crate::ledger::LedgerEvent {
                        kind: "staff_action".into(),
                        customer: None,
                        session_id: None,
                        body: serde_json::json!({
                            "action": "login",
                            "actor": subject,
                            "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                        }),
                    },
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "staff login could not be audited; refused");
                    PageError::internal(lang)
                })?;
            (
                WebSession {
                    tenant_id: tenant,
                    realm: Realm::Staff.as_str().into(),
                    subject,
                    roles: roles.iter().map(|r| r.as_str().to_string()).collect(),
                    csrf_token: String::new(),
                    expires_at: now_ms() + web::STAFF_SESSION_TTL_MS,
                },
                // An agent's page is their session's live view; the console is not theirs.
                if roles.iter().all(|r| *r == crate::oidc::StaffRole::Agent) {
                    "/agent"
                } else {
                    "/console"
                },
            )
        }
        Identity::Customer { tenant, customer } => {
            tracing::info!(tenant = %tenant, "customer signed in");
            (customer_session(tenant, customer), "/privacy")
        }
    };
    start_session(&state, lang, session, destination).await
}

fn customer_session(tenant: TenantId, customer: CustomerRef) -> WebSession {
    WebSession {
        tenant_id: tenant,
        realm: Realm::Customer.as_str().into(),
        subject: customer.to_string(),
        roles: Vec::new(),
        csrf_token: String::new(),
        expires_at: now_ms() + web::CUSTOMER_SESSION_TTL_MS,
    }
}

/// A fresh session id on every sign-in (no fixation), a fresh CSRF token, the flow cookie
/// cleared.
async fn start_session(
    state: &AppState,
    lang: Lang,
    session: WebSession,
    destination: &str,
) -> Result<Response, PageError> {
    Ok(start_session_bound(state, lang, session, destination)
        .await?
        .0)
}

/// A customer signed in by a redeemed customer link; returns the redirect and the stored hash
/// of the new session cookie (the link binds its page to exactly this browser session).
pub(crate) async fn start_customer_session(
    state: &AppState,
    lang: Lang,
    tenant: TenantId,
    customer: CustomerRef,
    destination: &str,
) -> Result<(Response, String), PageError> {
    start_session_bound(state, lang, customer_session(tenant, customer), destination).await
}

async fn start_session_bound(
    state: &AppState,
    lang: Lang,
    mut session: WebSession,
    destination: &str,
) -> Result<(Response, String), PageError> {
    let secret = random_token().map_err(|_| PageError::internal(lang))?;
    session.csrf_token = random_token().map_err(|_| PageError::internal(lang))?;
    let ttl_secs = (session.expires_at - now_ms()) / 1000;
    let hash = token_hash(&secret);
    store::web::insert_session(&state.db, &hash, &session)
        .await
        .map_err(web::internal(lang))?;
    let secure = state.settings.cookie_secure;
    Ok((
        web::redirect_with_cookies(
            destination,
            vec![
                web::set_cookie(web::session_cookie(secure), &secret, ttl_secs, secure),
                web::set_cookie(web::flow_cookie(secure), "", 0, secure),
            ],
        ),
        hash,
    ))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    lang: Lang,
    user: WebUser,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    user.check_csrf(&form.csrf, lang)?;
    store::web::delete_session(&state.db, &user.session_hash)
        .await
        .map_err(web::internal(lang))?;
    let secure = state.settings.cookie_secure;
    Ok(web::redirect_with_cookies(
        "/signed-out",
        vec![web::set_cookie(web::session_cookie(secure), "", 0, secure)],
    ))
}

async fn signed_out(lang: Lang) -> impl IntoResponse {
    web::page(
        lang,
        lang.t("logout"),
        None,
        maud::html! { p.ok data-testid="signed-out" { (lang.t("signed_out")) } },
    )
}

/// The retired privacy-link endpoint: it needed only the `sessions` scope, checked no
/// verification, and its link alone signed anyone in. Links now come from a verified session
/// and need the code the agent reads out (`POST /v1/sessions/{id}/privacy-link-requests`).
#[utoipa::path(
    post,
    path = "/v1/customers/{customer_ref}/privacy-link",
    tag = "platform",
    params(("customer_ref" = String, Path, description = "The tenant's reference")),
    responses((status = 410, body = Problem)),
    security(("api_key" = []))
)]
pub(crate) async fn create_privacy_link(
    caller: PlatformCaller,
    Path(_customer_ref): Path<String>,
) -> Result<Response, Problem> {
    caller.require(Scope::Sessions)?;
    Err(Problem::new(
        StatusCode::GONE,
        "privacy_link_moved",
        "Privacy links are requested for a verified session",
    )
    .with_detail(
        "POST /v1/sessions/{session_id}/privacy-link-requests for a session verified in the last \
         ten minutes; the customer confirms with the code the agent reads out",
    ))
}
