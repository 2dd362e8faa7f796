//! Tenant administration (CLI and tests): create tenants, issue and revoke API keys.

use ring::rand::SystemRandom;
use zeroize::Zeroizing;

use super::{Scope, Sector, Tenant, TenantError, TenantId, api_key};
use crate::store::{self, Db, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Invalid(#[from] TenantError),
    #[error("tenant `{0}` already exists")]
    TenantExists(String),
    #[error("no tenant `{0}`")]
    NoTenant(String),
    #[error("could not generate a key: {0}")]
    Key(#[from] api_key::ApiKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create_tenant(
    db: &Db,
    id: &str,
    name: &str,
    sector: Sector,
) -> Result<Tenant, AdminError> {
    let id: TenantId = id.parse()?;
    super::validate_name(name)?;
    store::tenants::insert(db, &id, name, sector)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate => AdminError::TenantExists(id.to_string()),
            other => other.into(),
        })
}

/// Issue a key and return its full text, to be shown once.
pub async fn issue_key(
    db: &Db,
    tenant: &TenantId,
    scopes: &[Scope],
    label: &str,
) -> Result<(String, Zeroizing<String>), AdminError> {
    if store::tenants::get(db, tenant).await?.is_none() {
        return Err(AdminError::NoTenant(tenant.to_string()));
    }
    let key = api_key::generate(&SystemRandom::new())?;
    store::api_keys::insert(db, tenant, &key.key_id, &key.secret_hash, scopes, label).await?;
    Ok((key.key_id, key.full_key))
}

pub async fn revoke_key(db: &Db, tenant: &TenantId, key_id: &str) -> Result<bool, AdminError> {
    Ok(store::api_keys::revoke(db, tenant, key_id).await?)
}

/// On a database with no tenants at all, create `demo` (retail) with a key for every scope.
/// Returns the key text when it was created, so `serve` can print it once.
pub async fn ensure_demo_tenant(db: &Db) -> Result<Option<Zeroizing<String>>, AdminError> {
    if !store::tenants::list(db).await?.is_empty() {
        return Ok(None);
    }
    match create_tenant(db, "demo", "Demo tenant", Sector::Retail).await {
        Ok(tenant) => {
            let (_, key) = issue_key(
                db,
                &tenant.tenant_id,
                &Scope::ALL,
                "demo key (printed at first start)",
            )
            .await?;
            Ok(Some(key))
        }
        // Another instance created it first.
        Err(AdminError::TenantExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
