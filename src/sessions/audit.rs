//! Audit events for decisions and factor attempts: the one place sessions write to the log.
//!
//! Bodies hold ids, outcomes, scores, model and policy versions; never codes, PINs, samples or
//! templates. Events go to the per-tenant tamper-evident ledger (`AppState.ledger`); the call
//! returns only once the entry is durably committed (the ledger's group commit), so a decision
//! is acknowledged to the platform only after its audit event is on disk. A new session's row
//! and a re-decided session's update ride in the same transaction as their decision event
//! (`Ledger::append_with`).

use serde_json::{Value, json};

use super::{SessionError, engine::Decision};
use crate::{
    AppState,
    ledger::LedgerEvent,
    policy::FactorKind,
    store::{batch::BatchWrite, sessions::SessionWrite},
    tenants::{CustomerRef, TenantId},
};

async fn append(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: &str,
    kind: &'static str,
    body: Value,
    with: Vec<BatchWrite>,
) -> Result<(), SessionError> {
    let event = LedgerEvent {
        kind: kind.to_string(),
        // Kept beside the entry, outside the hashed bytes (erasure keeps verification).
        customer: Some(customer.clone()),
        session_id: Some(session_id.to_string()),
        body,
    };
    let receipt = state.ledger.append_with(tenant, event, with).await?;
    tracing::debug!(
        session_id,
        kind,
        index = receipt.index,
        "audit event committed"
    );
    Ok(())
}

/// Log a decision together with the rows that record it (a new session's row or a session's
/// update, and the counters), committed in the same transaction as the entry.
pub async fn decision(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    session_id: &str,
    decision: &Decision,
    with: Vec<SessionWrite>,
) -> Result<(), SessionError> {
    // The decision as the caller received it, member for member.
    let body = serde_json::to_value(decision)?;
    let with = with.into_iter().map(BatchWrite::from).collect();
    append(state, tenant, customer, session_id, "decision", body, with).await
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
    append(
        state,
        tenant,
        customer,
        session_id,
        "factor_attempt",
        body,
        Vec::new(),
    )
    .await
}
