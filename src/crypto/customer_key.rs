//! Each customer's data key: one AES-256-GCM key per (tenant, customer), stored only wrapped by
//! the master key. Templates and factor secrets are sealed under it, so destroying the wrapped
//! key (erasure) makes every one of them unreadable at once. Created on first use; two requests
//! racing to create it agree on the one that was stored first.

use crate::{
    crypto::envelope::{DataKey, EnvelopeError, MasterKey, context},
    store::{self, Db, StoreError},
    tenants::{CustomerRef, TenantId},
};

#[derive(Debug, thiserror::Error)]
pub enum CustomerKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("customer data key: {0}")]
    Envelope(#[from] EnvelopeError),
}

/// The binding context the wrapped key is sealed with (tenant and customer, never reusable).
fn owner(tenant: &TenantId, customer: &CustomerRef) -> Vec<u8> {
    context(tenant.as_str(), customer.as_str(), "data-key")
}

/// The customer's data key if one exists (none: nothing was ever sealed for them, or erased).
pub async fn existing(
    db: &Db,
    master: &MasterKey,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Option<DataKey>, CustomerKeyError> {
    match store::templates::wrapped_key(db, tenant, customer).await? {
        Some(wrapped) => Ok(Some(unwrap(master, tenant, customer, &wrapped)?)),
        None => Ok(None),
    }
}

/// Unwrap a wrapped key read by the caller (sessions read it in the same query as the
/// template it opens).
pub fn unwrap(
    master: &MasterKey,
    tenant: &TenantId,
    customer: &CustomerRef,
    wrapped: &[u8],
) -> Result<DataKey, EnvelopeError> {
    master.unwrap_data_key(&owner(tenant, customer), wrapped)
}

/// The customer's data key, created and stored (wrapped) on first use.
pub async fn get_or_create(
    db: &Db,
    master: &MasterKey,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<DataKey, CustomerKeyError> {
    if let Some(key) = existing(db, master, tenant, customer).await? {
        return Ok(key);
    }
    let (key, wrapped) = master.new_data_key(&owner(tenant, customer))?;
    match store::templates::insert_wrapped_key(db, tenant, customer, &wrapped).await {
        Ok(()) => Ok(key),
        // Another request created one first: use that one, so both seal under the same key.
        Err(StoreError::Duplicate) => existing(db, master, tenant, customer)
            .await?
            .ok_or(CustomerKeyError::Store(StoreError::Duplicate)),
        Err(e) => Err(e.into()),
    }
}
