//! Service signing keys (see migration 0007 for why this table has no tenant_id).

use sqlx::Row;

use super::{Db, StoreError};

#[derive(Debug, Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub sealed_private: Vec<u8>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub unpublish_at: Option<i64>,
}

const KEY_COLUMNS: &str = "kid, public_key, sealed_private, created_at, retired_at, unpublish_at";

fn key_from_row(r: &sqlx::any::AnyRow) -> Result<StoredSigningKey, StoreError> {
    Ok(StoredSigningKey {
        kid: r.try_get("kid")?,
        public_key: r.try_get("public_key")?,
        sealed_private: r.try_get("sealed_private")?,
        created_at: r.try_get("created_at")?,
        retired_at: r.try_get("retired_at")?,
        unpublish_at: r.try_get("unpublish_at")?,
    })
}

/// Every key row the service ever wrote (rows are never deleted), newest first: verification
/// of old tree heads and receipts needs keys after they left the JWKS, and every row is
/// authenticated (its sealed half must open to its public key) before any of it is trusted.
pub async fn all(db: &Db) -> Result<Vec<StoredSigningKey>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(key_from_row).collect()
}

/// Insert a new active key and retire every other active key, in one transaction.
pub async fn rotate_in(
    db: &Db,
    key: &StoredSigningKey,
    unpublish_retired_at: i64,
) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "UPDATE signing_keys SET retired_at = $1, unpublish_at = $2 WHERE retired_at IS NULL",
    )
    .bind(key.created_at)
    .bind(unpublish_retired_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, public_key, sealed_private, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&key.kid)
    .bind(key.public_key.clone())
    .bind(key.sealed_private.clone())
    .bind(key.created_at)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from_insert)?;
    tx.commit().await?;
    Ok(())
}
