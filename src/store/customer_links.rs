//! Customer links (camera consent, privacy centre): single-use, short-lived, bound to tenant,
//! customer and session. Every state change is a conditional UPDATE, so single use and the
//! wrong-code limit hold under concurrency on both backends.
//!
//! A link is found by the SHA-256 of its URL token (`by_token`): that lookup comes before any
//! tenant is known, exactly like a session cookie; every other query filters by tenant.

use sqlx::Row;

use super::{Db, StoreError};
use crate::tenants::TenantId;

#[derive(Debug, Clone)]
pub struct StoredLink {
    pub tenant_id: TenantId,
    pub link_id: String,
    pub purpose: String,
    pub customer_ref: String,
    pub session_id: String,
    pub agent_code: Option<String>,
    pub attempts: i64,
    pub minted_by: String,
    pub outbox_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub delivery_logged: Option<i64>,
    pub opened_at: Option<i64>,
    pub code_shown_to: Option<String>,
    pub redeemed_at: Option<i64>,
    pub device_session: Option<String>,
    pub locked_at: Option<i64>,
    pub last_choice: Option<String>,
}

const COLUMNS: &str = "tenant_id, link_id, purpose, customer_ref, session_id, agent_code, \
    attempts, minted_by, outbox_id, created_at, expires_at, delivery_logged, opened_at, \
    code_shown_to, redeemed_at, device_session, locked_at, last_choice";

fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredLink, StoreError> {
    let tenant: String = r.try_get("tenant_id")?;
    Ok(StoredLink {
        tenant_id: tenant.parse().map_err(|e: crate::tenants::TenantError| {
            StoreError::Database(sqlx::Error::Decode(e.into()))
        })?,
        link_id: r.try_get("link_id")?,
        purpose: r.try_get("purpose")?,
        customer_ref: r.try_get("customer_ref")?,
        session_id: r.try_get("session_id")?,
        agent_code: r.try_get("agent_code")?,
        attempts: r.try_get("attempts")?,
        minted_by: r.try_get("minted_by")?,
        outbox_id: r.try_get("outbox_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        delivery_logged: r.try_get("delivery_logged")?,
        opened_at: r.try_get("opened_at")?,
        code_shown_to: r.try_get("code_shown_to")?,
        redeemed_at: r.try_get("redeemed_at")?,
        device_session: r.try_get("device_session")?,
        locked_at: r.try_get("locked_at")?,
        last_choice: r.try_get("last_choice")?,
    })
}

pub struct NewLink<'a> {
    pub tenant: &'a TenantId,
    pub link_id: &'a str,
    pub purpose: &'a str,
    pub customer_ref: &'a str,
    pub session_id: &'a str,
    pub token_hash: &'a str,
    pub agent_code: &'a str,
    pub minted_by: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Store a link and, when the tenant has a webhook, its delivery message, in one transaction.
pub async fn insert(
    db: &Db,
    link: &NewLink<'_>,
    outbox: Option<(&str, &str)>,
) -> Result<(), StoreError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO customer_links (tenant_id, link_id, purpose, customer_ref, session_id, \
         token_hash, agent_code, attempts, minted_by, outbox_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $10, $11)",
    )
    .bind(link.tenant.as_str())
    .bind(link.link_id)
    .bind(link.purpose)
    .bind(link.customer_ref)
    .bind(link.session_id)
    .bind(link.token_hash)
    .bind(link.agent_code)
    .bind(link.minted_by)
    .bind(outbox.map(|(id, _)| id.to_string()))
    .bind(link.created_at)
    .bind(link.expires_at)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from_insert)?;
    if let Some((outbox_id, payload)) = outbox {
        super::factors::enqueue(
            &mut tx,
            outbox_id,
            link.tenant,
            "customer_link",
            payload,
            link.created_at,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The link a URL token names (any tenant: the token is the only handle a browser has).
pub async fn by_token(db: &Db, token_hash: &str) -> Result<Option<StoredLink>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customer_links WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
) -> Result<Option<StoredLink>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customer_links WHERE tenant_id = $1 AND link_id = $2"
    ))
    .bind(tenant.as_str())
    .bind(link_id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every link of a session, newest first.
pub async fn for_session(
    db: &Db,
    tenant: &TenantId,
    session_id: &str,
) -> Result<Vec<StoredLink>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM customer_links WHERE tenant_id = $1 AND session_id = $2 \
         ORDER BY created_at DESC, link_id"
    ))
    .bind(tenant.as_str())
    .bind(session_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn mark_opened(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE customer_links SET opened_at = $1 WHERE tenant_id = $2 AND link_id = $3 \
         AND opened_at IS NULL",
    )
    .bind(now)
    .bind(tenant.as_str())
    .bind(link_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_delivery_logged(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE customer_links SET delivery_logged = $1 WHERE tenant_id = $2 AND link_id = $3 \
         AND delivery_logged IS NULL",
    )
    .bind(now)
    .bind(tenant.as_str())
    .bind(link_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_code_shown(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
    agent: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE customer_links SET code_shown_to = $1 WHERE tenant_id = $2 AND link_id = $3 \
         AND code_shown_to IS NULL",
    )
    .bind(agent)
    .bind(tenant.as_str())
    .bind(link_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Count a wrong code; at `max` attempts the link is locked and its code erased. Returns the
/// attempts now counted.
pub async fn count_wrong_code(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
    max: i64,
    now: i64,
) -> Result<i64, StoreError> {
    sqlx::query(
        "UPDATE customer_links SET attempts = attempts + 1, \
         locked_at = CASE WHEN attempts + 1 >= $1 THEN $2 ELSE locked_at END, \
         agent_code = CASE WHEN attempts + 1 >= $1 THEN NULL ELSE agent_code END \
         WHERE tenant_id = $3 AND link_id = $4 AND redeemed_at IS NULL AND locked_at IS NULL",
    )
    .bind(max)
    .bind(now)
    .bind(tenant.as_str())
    .bind(link_id)
    .execute(&db.pool)
    .await?;
    let row =
        sqlx::query("SELECT attempts FROM customer_links WHERE tenant_id = $1 AND link_id = $2")
            .bind(tenant.as_str())
            .bind(link_id)
            .fetch_one(&db.pool)
            .await?;
    Ok(row.try_get("attempts")?)
}

/// Redeem: only one call wins, only while unused, unlocked and unexpired; the code is erased.
pub async fn redeem(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
    max_attempts: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE customer_links SET redeemed_at = $1, agent_code = NULL \
         WHERE tenant_id = $2 AND link_id = $3 AND redeemed_at IS NULL AND locked_at IS NULL \
         AND attempts < $4 AND expires_at > $1",
    )
    .bind(now)
    .bind(tenant.as_str())
    .bind(link_id)
    .bind(max_attempts)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Bind a redeemed link to the browser session it started (the hash of its cookie).
pub async fn bind_device(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
    device_session: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE customer_links SET device_session = $1 WHERE tenant_id = $2 AND link_id = $3 \
         AND device_session IS NULL",
    )
    .bind(device_session)
    .bind(tenant.as_str())
    .bind(link_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn set_last_choice(
    db: &Db,
    tenant: &TenantId,
    link_id: &str,
    choice: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE customer_links SET last_choice = $1 WHERE tenant_id = $2 AND link_id = $3")
        .bind(choice)
        .bind(tenant.as_str())
        .bind(link_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}
