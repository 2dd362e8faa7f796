//! Audit events for decisions and factor attempts: the one place sessions write to the log.
//!
//! Bodies hold ids, outcomes, scores, model and policy versions; never codes, PINs, samples or
//! templates. Until the tamper-evident ledger (branch `consent`) is merged, events are emitted
//! as structured log lines only; `append` is then the single call to switch over.

use serde_json::{Value, json};

use super::{SessionError, engine::Decision};
use crate::{
    AppState,
    policy::FactorKind,
    tenants::{CustomerRef, TenantId},
};

async fn append(
    _state: &AppState,
    tenant: &TenantId,
    _customer: &CustomerRef,
    session_id: &str,
    kind: &'static str,
    body: Value,
) -> Result<(), SessionError> {
    tracing::info!(
        target: "trustline::audit",
        tenant = %tenant,
        session_id,
        kind,
        body = %body,
        "audit event"
    );
    Ok(())
}

pub async fn decision(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: &str,
    decision: &Decision,
) -> Result<(), SessionError> {
    let body = json!({
        "outcome": decision.outcome,
        "assurance": decision.assurance,
        "acr": decision.acr,
        "amr": decision.amr,
        "channel": decision.channel,
        "step_up": decision.step_up,
        "biometrics": decision.biometrics,
        "factors": decision.factors,
        "reasons": decision.reasons,
        "policy": decision.policy,
    });
    append(state, tenant, customer, session_id, "decision", body).await
}

pub async fn factor_attempt(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: &str,
    factor: FactorKind,
    result: &str,
) -> Result<(), SessionError> {
    let body = json!({ "factor": factor, "result": result });
    append(state, tenant, customer, session_id, "factor_attempt", body).await
}
