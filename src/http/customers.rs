//! Platform API: the calling tenant and its customers.

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde::{Deserialize, Serialize};

use super::{
    extract::{ApiJson, ApiPath, PlatformCaller},
    problem::Problem,
};
use crate::{
    AppState, store,
    tenants::{CustomerRef, Scope, Sector},
};

pub fn router() -> Router<AppState> {
    Router::new().route("/tenant", get(whoami)).route(
        "/customers/{customer_ref}",
        get(get_customer).put(put_customer).delete(delete_customer),
    )
}

/// How a customer chose to be recognised. `code_only` means no biometric is ever used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecognitionMethod {
    Voiceprint,
    Typing,
    CodeOnly,
}

impl RecognitionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RecognitionMethod::Voiceprint => "voiceprint",
            RecognitionMethod::Typing => "typing",
            RecognitionMethod::CodeOnly => "code_only",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRequest {
    /// The methods the customer chose at registration.
    pub methods: Vec<RecognitionMethod>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerResponse {
    pub customer_ref: String,
    pub methods: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantResponse {
    pub tenant_id: String,
    pub name: String,
    pub sector: Sector,
    pub key_id: String,
    pub scopes: Vec<Scope>,
}

/// The tenant and scopes of the calling key.
#[utoipa::path(get, path = "/v1/tenant", tag = "platform", security(("api_key" = [])),
    responses((status = 200, body = TenantResponse), (status = 401, body = Problem)))]
pub async fn whoami(
    State(state): State<AppState>,
    caller: PlatformCaller,
) -> Result<Json<TenantResponse>, Problem> {
    let tenant = store::tenants::get(&state.db, &caller.tenant)
        .await?
        .ok_or_else(Problem::unauthenticated)?;
    Ok(Json(TenantResponse {
        tenant_id: tenant.tenant_id.to_string(),
        name: tenant.name,
        sector: tenant.sector,
        key_id: caller.key_id,
        scopes: caller.scopes,
    }))
}

/// Register a customer (or change the methods they chose). Requires scope `enrol`.
#[utoipa::path(put, path = "/v1/customers/{customer_ref}", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)), request_body = CustomerRequest,
    responses((status = 201, body = CustomerResponse), (status = 200, body = CustomerResponse),
        (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn put_customer(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
    ApiJson(body): ApiJson<CustomerRequest>,
) -> Result<impl IntoResponse, Problem> {
    caller.require(Scope::Enrol)?;
    let mut methods: Vec<String> = body
        .methods
        .iter()
        .map(|m| m.as_str().to_string())
        .collect();
    methods.sort();
    methods.dedup();
    if methods.is_empty() {
        return Err(Problem::bad_request("choose at least one method"));
    }
    if methods.len() > 1 && methods.iter().any(|m| m == "code_only") {
        return Err(Problem::bad_request(
            "code_only excludes every biometric method",
        ));
    }
    let created = store::customers::upsert(&state.db, &caller.tenant, &customer, &methods).await?;
    let stored = store::customers::get(&state.db, &caller.tenant, &customer)
        .await?
        .ok_or_else(Problem::internal)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(to_response(stored))))
}

/// Read a customer of the calling tenant. Requires scope `enrol`.
#[utoipa::path(get, path = "/v1/customers/{customer_ref}", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)),
    responses((status = 200, body = CustomerResponse), (status = 404, body = Problem)))]
pub async fn get_customer(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
) -> Result<Json<CustomerResponse>, Problem> {
    caller.require(Scope::Enrol)?;
    let stored = store::customers::get(&state.db, &caller.tenant, &customer)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(Json(to_response(stored)))
}

/// Remove a customer registration. Requires scope `enrol`.
#[utoipa::path(delete, path = "/v1/customers/{customer_ref}", tag = "platform", security(("api_key" = [])),
    params(("customer_ref" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_customer(
    State(state): State<AppState>,
    caller: PlatformCaller,
    ApiPath(customer): ApiPath<CustomerRef>,
) -> Result<StatusCode, Problem> {
    caller.require(Scope::Enrol)?;
    if store::customers::delete(&state.db, &caller.tenant, &customer).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found())
    }
}

fn to_response(stored: store::customers::StoredCustomer) -> CustomerResponse {
    CustomerResponse {
        customer_ref: stored.customer_ref.to_string(),
        methods: stored.methods,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    }
}
