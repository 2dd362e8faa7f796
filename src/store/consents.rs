//! Consents table: one row per grant; withdrawal and expiry end it.

use sqlx::Row;

use super::{Db, StoreError};
use crate::tenants::{CustomerRef, TenantId};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentRow {
    pub consent_id: String,
    pub customer_ref: String,
    pub purpose: String,
    pub notice_version: String,
    pub notice_hash: String,
    pub language: String,
    pub capture_method: String,
    pub witness: Option<String>,
    pub scope: String,
    pub session_id: Option<String>,
    pub granted_at: i64,
    pub valid_until: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub ledger_index: i64,
    pub end_ledger_index: Option<i64>,
    /// The customer's camera choice (JSON: mode and options), for camera consents given on
    /// the camera page; carried in every camera grant.
    pub terms: Option<String>,
}

const COLUMNS: &str = "consent_id, customer_ref, purpose, notice_version, notice_hash, language, \
    capture_method, witness, scope, session_id, granted_at, valid_until, ended_at, end_reason, \
    ledger_index, end_ledger_index, terms";

fn from_row(r: &sqlx::any::AnyRow) -> Result<ConsentRow, StoreError> {
    Ok(ConsentRow {
        consent_id: r.try_get("consent_id")?,
        customer_ref: r.try_get("customer_ref")?,
        purpose: r.try_get("purpose")?,
        notice_version: r.try_get("notice_version")?,
        notice_hash: r.try_get("notice_hash")?,
        language: r.try_get("language")?,
        capture_method: r.try_get("capture_method")?,
        witness: r.try_get("witness")?,
        scope: r.try_get("scope")?,
        session_id: r.try_get("session_id")?,
        granted_at: r.try_get("granted_at")?,
        valid_until: r.try_get("valid_until")?,
        ended_at: r.try_get("ended_at")?,
        end_reason: r.try_get("end_reason")?,
        ledger_index: r.try_get("ledger_index")?,
        end_ledger_index: r.try_get("end_ledger_index")?,
        terms: r.try_get("terms")?,
    })
}

/// Insert a granted consent inside the caller's transaction (the ledger's batch, so the row
/// and its `consent_granted` entry commit together).
pub async fn insert(
    conn: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    c: &ConsentRow,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO consents (tenant_id, {COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
    ))
    .bind(tenant.as_str())
    .bind(c.consent_id.clone())
    .bind(c.customer_ref.clone())
    .bind(c.purpose.clone())
    .bind(c.notice_version.clone())
    .bind(c.notice_hash.clone())
    .bind(c.language.clone())
    .bind(c.capture_method.clone())
    .bind(c.witness.clone())
    .bind(c.scope.clone())
    .bind(c.session_id.clone())
    .bind(c.granted_at)
    .bind(c.valid_until)
    .bind(c.ended_at)
    .bind(c.end_reason.clone())
    .bind(c.ledger_index)
    .bind(c.end_ledger_index)
    .bind(c.terms.clone())
    .execute(conn)
    .await
    .map_err(StoreError::from_insert)?;
    Ok(())
}

pub async fn get(
    db: &Db,
    tenant: &TenantId,
    consent_id: &str,
) -> Result<Option<ConsentRow>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM consents WHERE tenant_id = $1 AND consent_id = $2"
    ))
    .bind(tenant.as_str())
    .bind(consent_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn for_customer(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
) -> Result<Vec<ConsentRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM consents WHERE tenant_id = $1 AND customer_ref = $2 \
         ORDER BY granted_at, consent_id"
    ))
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Consents in force for a customer and purpose (optionally only those covering `session`:
/// standing ones, or session ones for exactly that session).
pub async fn in_force(
    db: &Db,
    tenant: &TenantId,
    customer: &CustomerRef,
    purpose: &str,
    session: Option<&str>,
    now_ms: i64,
) -> Result<Vec<ConsentRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM consents WHERE tenant_id = $1 AND customer_ref = $2 \
         AND purpose = $3 AND ended_at IS NULL AND valid_until > $4 ORDER BY granted_at"
    ))
    .bind(tenant.as_str())
    .bind(customer.as_str())
    .bind(purpose)
    .bind(now_ms)
    .fetch_all(&db.pool)
    .await?;
    let all: Vec<ConsentRow> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    Ok(match session {
        None => all,
        Some(s) => all
            .into_iter()
            .filter(|c| c.scope == "standing" || c.session_id.as_deref() == Some(s))
            .collect(),
    })
}

/// End one consent if it is still open; returns whether this call ended it.
pub async fn end(
    db: &Db,
    tenant: &TenantId,
    consent_id: &str,
    ended_at: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE consents SET ended_at = $1, end_reason = $2 \
         WHERE tenant_id = $3 AND consent_id = $4 AND ended_at IS NULL",
    )
    .bind(ended_at)
    .bind(reason)
    .bind(tenant.as_str())
    .bind(consent_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_end_ledger_index(
    db: &Db,
    tenant: &TenantId,
    consent_id: &str,
    index: u64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE consents SET end_ledger_index = $1 WHERE tenant_id = $2 AND consent_id = $3",
    )
    .bind(index as i64)
    .bind(tenant.as_str())
    .bind(consent_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Open consents whose validity has passed (any tenant), at most `limit`.
/// Rows of a cross-tenant query (`tenant_id` + the consent columns); rows whose tenant id no
/// longer parses are skipped.
fn with_tenants(rows: &[sqlx::any::AnyRow]) -> Result<Vec<(TenantId, ConsentRow)>, StoreError> {
    rows.iter()
        .filter_map(|r| {
            let tenant: String = r.try_get("tenant_id").ok()?;
            let tenant = tenant.parse::<TenantId>().ok()?;
            Some(from_row(r).map(|c| (tenant, c)))
        })
        .collect()
}

/// Consents ended before `before_ms` whose end never reached the log (a crash between ending
/// the row and appending the entry).
pub async fn ended_unlogged(
    db: &Db,
    before_ms: i64,
    limit: u32,
) -> Result<Vec<(TenantId, ConsentRow)>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT tenant_id, {COLUMNS} FROM consents \
         WHERE ended_at IS NOT NULL AND ended_at < $1 AND end_ledger_index IS NULL \
         ORDER BY ended_at LIMIT $2"
    ))
    .bind(before_ms)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    with_tenants(&rows)
}

pub async fn expired_open(
    db: &Db,
    now_ms: i64,
    limit: u32,
) -> Result<Vec<(TenantId, ConsentRow)>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT tenant_id, {COLUMNS} FROM consents WHERE ended_at IS NULL AND valid_until <= $1 \
         ORDER BY valid_until LIMIT $2"
    ))
    .bind(now_ms)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    with_tenants(&rows)
}

/// Consents of one session that ended after `since` (for listeners on other instances).
pub async fn ended_in_session_since(
    db: &Db,
    tenant: &TenantId,
    session: &str,
    since: i64,
) -> Result<Vec<ConsentRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM consents WHERE tenant_id = $1 AND session_id = $2 \
         AND ended_at IS NOT NULL AND ended_at > $3 ORDER BY ended_at"
    ))
    .bind(tenant.as_str())
    .bind(session)
    .bind(since)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// A page of the tenant's consent rows in id order, after `after` (for `audit verify`).
pub async fn page(
    db: &Db,
    tenant: &str,
    after: &str,
    limit: u32,
) -> Result<Vec<ConsentRow>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM consents WHERE tenant_id = $1 AND consent_id > $2 \
         ORDER BY consent_id LIMIT $3"
    ))
    .bind(tenant)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}
