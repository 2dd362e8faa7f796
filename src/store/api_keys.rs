//! API keys table.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::tenants::{Scope, TenantId};

/// A stored key as authentication needs it.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub key_id: String,
    pub tenant_id: TenantId,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<Scope>,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

pub async fn insert(
    db: &Db,
    tenant: &TenantId,
    key_id: &str,
    secret_hash: &[u8],
    scopes: &[Scope],
    label: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (key_id, tenant_id, secret_hash, scopes, label, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key_id)
    .bind(tenant.as_str())
    .bind(secret_hash.to_vec())
    .bind(Scope::join(scopes))
    .bind(label)
    .bind(now_ms())
    .execute(&db.pool)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

/// Look a key up by its public id (any tenant: the key decides the tenant).
pub async fn find(db: &Db, key_id: &str) -> Result<Option<StoredKey>, StoreError> {
    let row = sqlx::query(
        "SELECT key_id, tenant_id, secret_hash, scopes, label, created_at, revoked_at \
         FROM api_keys WHERE key_id = $1",
    )
    .bind(key_id)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| from_row(&r)).transpose()
}

pub async fn list(db: &Db, tenant: &TenantId) -> Result<Vec<StoredKey>, StoreError> {
    let rows = sqlx::query(
        "SELECT key_id, tenant_id, secret_hash, scopes, label, created_at, revoked_at \
         FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, key_id",
    )
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Revoke a key of `tenant`. Returns false when no such live key exists for that tenant.
pub async fn revoke(db: &Db, tenant: &TenantId, key_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND key_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms())
    .bind(tenant.as_str())
    .bind(key_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredKey, StoreError> {
    let decode =
        |e: crate::tenants::TenantError| StoreError::Database(sqlx::Error::Decode(e.into()));
    let tenant: String = row.try_get("tenant_id")?;
    let scopes: String = row.try_get("scopes")?;
    Ok(StoredKey {
        key_id: row.try_get("key_id")?,
        tenant_id: tenant.parse().map_err(decode)?,
        secret_hash: row.try_get("secret_hash")?,
        scopes: Scope::parse_list(&scopes).map_err(decode)?,
        label: row.try_get("label")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
