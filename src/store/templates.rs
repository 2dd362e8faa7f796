//! Customer data keys and encrypted biometric templates.

use sqlx::Row;

use super::{Db, StoreError, now_ms};
use crate::tenants::{CustomerRef, TenantId};

#[derive(Debug, Clone)]
pub struct StoredTemplate {
    pub modality: String,
    pub model_id: String,
    pub model_version: String,
    pub ciphertext: Vec<u8>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn wrapped_key(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query(
        "SELECT wrapped_key FROM customer_keys WHERE tenant_id = $1 AND customer_ref = $2",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| r.try_get("wrapped_key")).transpose()?)
}

/// Store a new wrapped key; `Duplicate` if one appeared concurrently (use that one instead).
pub async fn insert_wrapped_key(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    wrapped: &[u8],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO customer_keys (tenant_id, customer_ref, wrapped_key, created_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(wrapped.to_vec())
        .bind(now_ms())
        .execute(&db.pool)
        .await
        .map_err(StoreError::from_insert)?;
    Ok(())
}

pub async fn upsert_template(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &str,
    model_id: &str,
    model_version: &str,
    ciphertext: &[u8],
) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM biometric_templates WHERE tenant_id = $1 AND customer_ref = $2 AND modality = $3")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(modality)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO biometric_templates \
         (tenant_id, customer_ref, modality, model_id, model_version, ciphertext, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(modality)
    .bind(model_id)
    .bind(model_version)
    .bind(ciphertext.to_vec())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn template(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &str,
) -> Result<Option<StoredTemplate>, StoreError> {
    let row = sqlx::query(
        "SELECT modality, model_id, model_version, ciphertext, created_at, last_used_at \
         FROM biometric_templates WHERE tenant_id = $1 AND customer_ref = $2 AND modality = $3",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(modality)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| from_row(&r)).transpose()
}

pub async fn list_templates(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Vec<StoredTemplate>, StoreError> {
    let rows = sqlx::query(
        "SELECT modality, model_id, model_version, ciphertext, created_at, last_used_at \
         FROM biometric_templates WHERE tenant_id = $1 AND customer_ref = $2 ORDER BY modality",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn touch_template(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE biometric_templates SET last_used_at = $1 WHERE tenant_id = $2 AND customer_ref = $3 AND modality = $4")
        .bind(now_ms())
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(modality)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Delete one modality's template inside the caller's transaction (`biometrics::templates`
/// destroys it with its log entry); returns whether one existed.
pub async fn delete_template_in(
    conn: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM biometric_templates WHERE tenant_id = $1 AND customer_ref = $2 AND modality = $3")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .bind(modality)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Crypto-shred: drop every template and the data key that sealed them, in one transaction.
pub async fn destroy_customer_key(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<u64, StoreError> {
    let mut tx = db.pool.begin().await?;
    let templates =
        sqlx::query("DELETE FROM biometric_templates WHERE tenant_id = $1 AND customer_ref = $2")
            .bind(tenant.as_str())
            .bind(customer.as_str())
            .execute(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM customer_keys WHERE tenant_id = $1 AND customer_ref = $2")
        .bind(tenant.as_str())
        .bind(customer.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(templates.rows_affected())
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredTemplate, StoreError> {
    Ok(StoredTemplate {
        modality: row.try_get("modality")?,
        model_id: row.try_get("model_id")?,
        model_version: row.try_get("model_version")?,
        ciphertext: row.try_get("ciphertext")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

/// A template's owner and last interaction, for the retention job (all tenants).
#[derive(Debug, Clone)]
pub struct RetentionCandidate {
    pub tenant_id: String,
    pub customer_ref: String,
    pub modality: String,
    pub model_id: String,
    pub model_version: String,
    /// The later of creation and last use.
    pub last_interaction: i64,
}

/// Templates after (tenant, customer, modality) `after`, in key order, at most `limit`.
pub async fn retention_page(
    db: &Db,
    after: Option<(&str, &str, &str)>,
    limit: u32,
) -> Result<Vec<RetentionCandidate>, StoreError> {
    let (t, c, m) = after.unwrap_or(("", "", ""));
    let rows = sqlx::query(
        "SELECT tenant_id, customer_ref, modality, model_id, model_version, created_at, \
         last_used_at FROM biometric_templates \
         WHERE tenant_id > $1 OR (tenant_id = $1 AND customer_ref > $2) \
            OR (tenant_id = $1 AND customer_ref = $2 AND modality > $3) \
         ORDER BY tenant_id, customer_ref, modality LIMIT $4",
    )
    .bind(t)
    .bind(c)
    .bind(m)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let created: i64 = r.try_get("created_at")?;
            let used: Option<i64> = r.try_get("last_used_at")?;
            Ok(RetentionCandidate {
                tenant_id: r.try_get("tenant_id")?,
                customer_ref: r.try_get("customer_ref")?,
                modality: r.try_get("modality")?,
                model_id: r.try_get("model_id")?,
                model_version: r.try_get("model_version")?,
                last_interaction: used.unwrap_or(created).max(created),
            })
        })
        .collect()
}

/// The customer's sealed template for `modality` with the wrapped data key that opens it, in
/// one read (a scored sample needs both).
pub async fn sealed_template(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    modality: &str,
) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
    let row = sqlx::query(
        "SELECT t.ciphertext, k.wrapped_key FROM biometric_templates t \
         JOIN customer_keys k ON k.tenant_id = t.tenant_id AND k.customer_ref = t.customer_ref \
         WHERE t.tenant_id = $1 AND t.customer_ref = $2 AND t.modality = $3",
    )
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(modality)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok((r.try_get("ciphertext")?, r.try_get("wrapped_key")?)))
        .transpose()
}
