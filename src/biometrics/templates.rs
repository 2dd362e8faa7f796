//! The template service: the one way a stored biometric template is destroyed, so that every
//! destruction, whoever asks for it (the retention sweep, the platform's voiceprint DELETE),
//! has its `template_deleted` log entry, and the row goes in the same transaction as the entry
//! (a crash leaves both or neither; the delete and its entry used to be two commits, and the
//! voiceprint DELETE wrote no entry at all).

use serde_json::json;

use crate::{
    AppState,
    ledger::{LedgerError, LedgerEvent},
    store::{self, StoreError, batch::BatchWrite},
    tenants::{CustomerRef, TenantId},
};

/// Who destroyed a template, and why: the two members of its log entry.
#[derive(Debug, Clone, Copy)]
pub struct Destruction {
    /// `retention`, `platform`, ...
    pub by: &'static str,
    /// `purpose_ended`, `retention_limit`, `platform_request`, ...
    pub reason: &'static str,
}

/// Destroy the customer's template of `modality`, logged; `false` when there was none (or a
/// concurrent destroyer got there first and logged it).
pub async fn destroy(
    state: &AppState,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &str,
    why: Destruction,
) -> Result<bool, LedgerError> {
    let Some(t) = store::templates::template(&state.db, tenant, customer, modality).await? else {
        return Ok(false);
    };
    let event = LedgerEvent {
        kind: "template_deleted".into(),
        customer: Some(customer.clone()),
        session_id: None,
        body: json!({
            "modality": t.modality,
            "model_id": t.model_id,
            "model_version": t.model_version,
            "reason": why.reason,
            "by": why.by,
        }),
    };
    let delete = BatchWrite::TemplateDelete {
        tenant: tenant.clone(),
        customer: customer.clone(),
        modality: modality.to_string(),
    };
    match state.ledger.append_with(tenant, event, vec![delete]).await {
        Ok(_) => {
            tracing::info!(tenant = %tenant, modality, by = why.by, reason = why.reason, "template destroyed");
            Ok(true)
        }
        // Deleted since it was read: its destroyer logged it.
        Err(LedgerError::Store(StoreError::Stale)) => Ok(false),
        Err(e) => Err(e),
    }
}
